"""Shared pieces of the scripting tests: raw RESP connections and the choice of servers.

``WireClient`` answers ``execute_command`` with the exact bytes of the server's reply, errors
included (never raised), so ``differential.Differential`` can compare two servers byte for byte:
``-ERR x`` and ``-x`` differ on the wire, while redis-py would turn both into
``ResponseError('x')``. Redis itself sends error lines a strict checker refuses (a script's
``{err='x'}`` reaches the client as ``-x``), so the reader here accepts any error text.

``selected_servers`` reads ``SCRIPT_TEST_SERVERS`` (``magpie``, ``redis`` or
``magpie,redis``, the default) so each scripting test file can run against one server only.
"""

from __future__ import annotations

import os
import socket
import time

from resp_reader import StrictRespReader
from servers import ServerProcess, start_magpie, start_redis

SERVERS_ENV = "SCRIPT_TEST_SERVERS"
ALL_SERVERS = ("magpie", "redis")


def selected_servers() -> list[str]:
    """The servers the scripting tests run against, from ``$SCRIPT_TEST_SERVERS``."""
    raw = os.environ.get(SERVERS_ENV, ",".join(ALL_SERVERS))
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ALL_SERVERS))
    if unknown or not names:
        raise ValueError(f"{SERVERS_ENV}={raw!r}: expected a comma-separated subset of {ALL_SERVERS}")
    return names


def start_server(kind: str, *args: str) -> ServerProcess:
    """A fresh server process of ``kind`` (``magpie`` or ``redis``) with ``args``."""
    if kind == "magpie":
        return start_magpie(*args)
    return start_redis(*args)


def encode(args: tuple | list) -> bytes:
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in parts)


class _AnyErrorReader(StrictRespReader):
    """Strict about framing, lenient about error text (Redis sends ``-x`` for ``{err='x'}``)."""

    def _check_line(self, kind: int, line: bytes, pos: int) -> None:
        if kind == ord("-"):
            return
        super()._check_line(kind, line, pos)


class ConnectionClosed(ConnectionError):
    """The server closed the connection (it shut down, or dropped us)."""


class WireClient:
    """One raw connection; ``execute_command`` returns the reply's exact bytes.

    ``resp=3`` sends ``HELLO 3`` first. ``send`` and ``read`` split a command from its reply,
    for a client that must start a script and look at its reply later.
    """

    def __init__(self, port: int, resp: int = 2, timeout: float = 10) -> None:
        self.port = port
        self.resp = resp
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = _AnyErrorReader(resp3=True)
        self.pending: list[bytes] = []
        if resp == 3:
            hello = self.execute_command("HELLO", 3)
            if not hello.startswith(b"%"):
                raise ConnectionError(f"HELLO 3 answered {hello[:200]!r}")

    def send(self, *args: bytes | str | int) -> None:
        self.sock.sendall(encode(args))

    def read(self, timeout: float | None = None) -> bytes:
        """The next whole reply; ``TimeoutError`` if none comes in time."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no reply from port {self.port} in time")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(1 << 16)
            except ConnectionResetError:
                data = b""
            if not data:
                raise ConnectionClosed(f"port {self.port} closed the connection")
            self.pending += self.reader.feed(data)
        return self.pending.pop(0)

    def execute_command(self, *args: bytes | str | int) -> bytes:
        self.send(*args)
        return self.read()

    def close(self) -> None:
        self.sock.close()


def wait_until(predicate, timeout: float = 10, interval: float = 0.01, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(interval)
