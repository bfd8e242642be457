"""Starting real server processes for tests: Magpie itself and, for differential tests, redis-server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    kind: str
    port: int
    proc: subprocess.Popen
    workdir: str
    log_path: str
    extra: dict = field(default_factory=dict)

    def client(self, **kwargs) -> redis.Redis:
        kwargs.setdefault("socket_timeout", 10)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, keep_dir: bool = False, timeout: float = 5) -> None:
        """SIGTERM (the server saves first if it has save points), SIGKILL after ``timeout``;
        the data directory goes too unless ``keep_dir`` (to start again on it)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not keep_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing is saved or flushed; the data directory stays."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def wait_loaded(self, timeout: float = 60) -> redis.Redis:
        """A client once the dataset has loaded (INFO persistence ``loading:0``)."""
        client = self.client(protocol=2)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if client.info("persistence")["loading"] == 0:
                    return client
            except redis.BusyLoadingError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.kind} still loading after {timeout} s")
            time.sleep(0.05)


def _wait_ready(server: ServerProcess, password: str | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.kind} exited early:\n{server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                if sock.recv(64):
                    return
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{server.kind} did not start:\n{server.log()}")


def start_magpie(
    *args: str,
    port: int | None = None,
    config_text: str | None = None,
    env: dict | None = None,
    wrapper: tuple[str, ...] = (),
    workdir: str | None = None,
) -> ServerProcess:
    """``magpie-server`` as a user would run it, in its own temporary data directory, with
    save points off unless ``args`` or ``config_text`` set them. ``wrapper`` goes in front of the command line (``("prlimit", "--nofile=128")``);
    ``workdir`` starts it on an existing data directory (a restart)."""
    port = port or free_port()
    fresh = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="magpie-test-")
    log_path = os.path.join(workdir, "server.log")
    argv = [*wrapper, sys.executable, "-m", "magpie"]
    if config_text is not None:
        conf = os.path.join(workdir, "magpie.conf")
        with open(conf, "w") as fh:
            fh.write(config_text)
        argv.append(conf)
    argv += ["--port", str(port), "--bind", "127.0.0.1", "--dir", workdir]
    if config_text is None and "--save" not in args:
        argv += ["--save", ""]  # like start_redis: no snapshot on every stop unless asked
    argv += args
    with open(log_path, "w" if fresh else "a") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    server = ServerProcess("magpie", port, proc, workdir, log_path)
    _wait_ready(server)
    return server


def redis_server_path() -> str | None:
    return shutil.which("redis-server")


def start_redis(
    *args: str, wrapper: tuple[str, ...] = (), workdir: str | None = None, port: int | None = None
) -> ServerProcess:
    """A real redis-server on loopback with persistence off (unless ``args`` turn it on:
    they come last), for differential and interop tests. ``port`` and ``workdir`` restart
    one where it was."""
    path = redis_server_path()
    assert path, "redis-server is not installed"
    port = port or free_port()
    fresh = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="redis-ref-")
    log_path = os.path.join(workdir, "server.log")
    argv = [*wrapper, path, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--enable-debug-command", "yes", "--dir", workdir, *args]  # fmt: skip
    with open(log_path, "w" if fresh else "a") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = ServerProcess("redis", port, proc, workdir, log_path)
    _wait_ready(server)
    return server


def start_process(kind: str, argv: list[str], port: int, workdir: str) -> ServerProcess:
    """Any RESP server (a Sentinel, say) from its full command line, logging to
    ``workdir/server.log`` (appended to, so a restart keeps the earlier log), once it answers PING."""
    log_path = os.path.join(workdir, "server.log")
    with open(log_path, "a") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = ServerProcess(kind, port, proc, workdir, log_path)
    _wait_ready(server)
    return server
