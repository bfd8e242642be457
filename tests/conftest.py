"""Fixtures: every test talks to a real ``magpie-server`` process over a socket."""

from __future__ import annotations

import os
import socket

import pytest
import redis
from servers import ServerProcess, redis_server_path, start_magpie, start_redis


@pytest.fixture(scope="session")
def magpie() -> ServerProcess:
    server = start_magpie()
    yield server
    server.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, magpie) -> redis.Redis:
    """A redis-py client on a clean server, once over RESP2 and once over RESP3."""
    client = magpie.client(protocol=request.param)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def r3(magpie) -> redis.Redis:
    client = magpie.client(protocol=3)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def r2(magpie) -> redis.Redis:
    client = magpie.client(protocol=2)
    client.flushall()
    yield client
    client.close()


class RawConnection:
    """A bare socket for protocol-level tests: send bytes, read what comes back."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_until(self, expected: bytes, limit: int = 1 << 22) -> bytes:
        data = b""
        while expected not in data and len(data) < limit:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def read_exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def read_all(self) -> bytes:
        """Everything until the server closes the connection."""
        data = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:  # closed while we were still sending
                return data
            if not chunk:
                return data
            data += chunk

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(magpie):
    conn = RawConnection(magpie.port)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def reference_redis() -> ServerProcess:
    """A real redis-server for differential tests (skipped only outside CI when missing)."""
    if not redis_server_path():
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI for differential tests")
        pytest.skip("redis-server is not installed")
    server = start_redis()
    yield server
    server.stop()
