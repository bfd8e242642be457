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

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.workdir, ignore_errors=True)


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
) -> ServerProcess:
    """``magpie-server`` as a user would run it, in its own temporary data directory.
    ``wrapper`` goes in front of the command line (``("prlimit", "--nofile=128")``)."""
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="magpie-test-")
    log_path = os.path.join(workdir, "server.log")
    argv = [*wrapper, sys.executable, "-m", "magpie"]
    if config_text is not None:
        conf = os.path.join(workdir, "magpie.conf")
        with open(conf, "w") as fh:
            fh.write(config_text)
        argv.append(conf)
    argv += ["--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, *args]
    with open(log_path, "w") as log:
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


def start_redis(*args: str, wrapper: tuple[str, ...] = ()) -> ServerProcess:
    """A real redis-server on loopback with persistence off, for differential tests."""
    path = redis_server_path()
    assert path, "redis-server is not installed"
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-ref-")
    log_path = os.path.join(workdir, "server.log")
    argv = [*wrapper, path, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--enable-debug-command", "yes", "--dir", workdir, *args]  # fmt: skip
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = ServerProcess("redis", port, proc, workdir, log_path)
    _wait_ready(server)
    return server
