"""Helpers for multi-process replication tests: polling with deadlines, the state of a
replication link, and a whole-dataset comparison (every database, key, type, value and TTL)."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from servers import ServerProcess

#: Two reads of the same TTL on two servers, a moment apart, may differ by this much.
TTL_TOLERANCE_MS = 2000


def wait_for(predicate: Callable[[], object], timeout: float = 10, what: str = "condition") -> object:
    """Poll ``predicate`` until it returns something truthy (returned); connection errors
    count as "not yet". AssertionError naming ``what`` when the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            extra = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{extra}")
        time.sleep(0.02)



def wait_until(predicate: Callable[[], object], what: str, timeout: float = 30) -> object:
    """``wait_for`` with the description first (the interop tests' order)."""
    return wait_for(predicate, timeout, what)

def _client(server: ServerProcess | redis.Redis) -> redis.Redis:
    if isinstance(server, ServerProcess):
        return server.client(protocol=2)
    return server


def repl_info(server: ServerProcess | redis.Redis) -> dict:
    return _client(server).info("replication")


def wait_link_up(replica: ServerProcess | redis.Redis, timeout: float = 15) -> None:
    """The replica's link to its primary is up (INFO ``master_link_status:up``)."""
    client = _client(replica)
    wait_for(lambda: client.info("replication").get("master_link_status") == "up", timeout,
             f"replication link up on {client.connection_pool.connection_kwargs.get('port')}")  # fmt: skip


def wait_offsets_equal(primary: ServerProcess | redis.Redis, *replicas: ServerProcess | redis.Redis,
                       timeout: float = 15) -> int:  # fmt: skip
    """Every replica's ``slave_repl_offset`` equals the primary's ``master_repl_offset``
    (read in that order, so a replica can never look ahead of a stale primary value)."""
    pclient = _client(primary)
    rclients = [_client(r) for r in replicas]
    seen: dict = {}

    def equal() -> bool:
        seen["primary"] = pclient.info("replication")["master_repl_offset"]
        seen["replicas"] = [c.info("replication").get("slave_repl_offset") for c in rclients]
        return all(o == seen["primary"] for o in seen["replicas"])

    try:
        wait_for(equal, timeout, "replica offsets to reach the primary's")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: last seen {seen}") from None
    return seen["primary"]


class ApproxTtl:
    """A PTTL, kept as the wall-clock moment it points to (so datasets read seconds apart
    still compare), equal to another within ``TTL_TOLERANCE_MS``; -1: no TTL."""

    __slots__ = ("deadline",)

    def __init__(self, pttl: int) -> None:
        self.deadline = -1 if pttl < 0 else time.time() * 1000 + pttl

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ApproxTtl):
            return NotImplemented
        if self.deadline < 0 or other.deadline < 0:
            return self.deadline == other.deadline
        return abs(self.deadline - other.deadline) <= TTL_TOLERANCE_MS

    def __repr__(self) -> str:
        if self.deadline < 0:
            return "no-ttl"
        return f"ttl~{self.deadline - time.time() * 1000:.0f}ms-from-now"


def _value(client: redis.Redis, key: bytes, kind: str) -> object:
    if kind == "string":
        return client.get(key)
    if kind == "list":
        return tuple(client.lrange(key, 0, -1))
    if kind == "hash":
        return tuple(sorted(client.hgetall(key).items()))
    if kind == "set":
        return frozenset(client.smembers(key))
    if kind == "zset":
        return tuple(client.zrange(key, 0, -1, withscores=True))
    raise AssertionError(f"dataset(): unexpected type {kind!r} of key {key!r}")


def dataset(server: ServerProcess | redis.Redis) -> dict:
    """``{(db, key): (type, value, ApproxTtl)}`` over every database of the server. A key
    that vanishes (expires) while it is read is left out."""
    base = _client(server)
    kwargs = dict(base.connection_pool.connection_kwargs)
    databases = int(base.config_get("databases")["databases"])
    result: dict = {}
    for db in range(databases):
        kwargs["db"] = db
        client = redis.Redis(**{k: v for k, v in kwargs.items() if k in _KWARGS})
        try:
            if not client.dbsize():
                continue
            for key in client.scan_iter(count=1000):
                kind = client.type(key).decode()
                if kind == "none":
                    continue
                value = _value(client, key, kind)
                pttl = client.pttl(key)
                if pttl == -2 or value is None:
                    continue
                result[(db, key)] = (kind, value, ApproxTtl(pttl))
        finally:
            client.close()
    return result


_KWARGS = {"host", "port", "db", "password", "username", "socket_timeout", "protocol"}


def diff_datasets(a: dict, b: dict, limit: int = 20) -> list[str]:
    lines = []
    for key in sorted(set(a) | set(b), key=repr):
        if key not in b:
            lines.append(f"only in first:  db{key[0]} {key[1]!r} = {a[key]!r}")
        elif key not in a:
            lines.append(f"only in second: db{key[0]} {key[1]!r} = {b[key]!r}")
        elif a[key] != b[key]:
            lines.append(f"differs: db{key[0]} {key[1]!r}: {a[key]!r} != {b[key]!r}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
    return lines


def assert_same_dataset(a: ServerProcess | redis.Redis | dict, b: ServerProcess | redis.Redis | dict) -> None:
    """Both servers (or ``dataset()`` dicts) hold the same keys, types, values and TTLs."""
    da = a if isinstance(a, dict) else dataset(a)
    db = b if isinstance(b, dict) else dataset(b)
    lines = diff_datasets(da, db)
    assert not lines, f"datasets differ ({len(da)} vs {len(db)} keys):\n" + "\n".join(lines)


class RawClient:
    """A bare RESP2 connection: ``call`` sends one command and returns its reply as hiredis
    reads it, with an error as the string ``"-<its whole line>"`` (exact text, prefix included)."""

    def __init__(self, port: int, timeout: float = 10) -> None:
        import socket

        import hiredis

        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = hiredis.Reader()

    def send(self, *args: object) -> None:
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.sock.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))

    def read(self) -> object:
        import hiredis

        while True:
            reply = self.reader.gets()
            if reply is not False:
                return "-" + str(reply) if isinstance(reply, hiredis.ReplyError) else reply
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.reader.feed(chunk)

    def call(self, *args: object) -> object:
        self.send(*args)
        return self.read()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
