"""Real Redis Sentinels (``redis-server <conf> --sentinel``) watching test nodes, and the
waits that make a failover test deterministic: poll what the sentinels and nodes report
instead of sleeping for a guessed time."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import redis
from servers import ServerProcess, free_port, redis_server_path, start_process

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    message: str | Callable[[], str],
    interval: float = 0.1,
) -> T:
    """Call ``predicate`` until it returns something truthy (returned) or ``timeout`` s pass.
    Redis errors (a node not up yet, a connection refused) count as not yet. On timeout an
    AssertionError carries ``message`` (called if callable, so it can show the state then)
    and the last exception seen."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
            last_exc = None
        except (redis.RedisError, OSError) as exc:
            last_exc = exc
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            if last_exc is not None:
                text += f" (last error: {last_exc!r})"
            raise AssertionError(f"after {timeout} s: {text}")
        time.sleep(interval)


def sentinel_conf(
    port: int,
    workdir: str,
    master_port: int,
    quorum: int,
    down_after_ms: int,
    failover_timeout_ms: int,
    master_name: str,
) -> str:
    # Each sentinel rewrites its own file (known replicas, sentinels, epochs): one file each.
    return "\n".join(
        [
            f"port {port}",
            "bind 127.0.0.1",
            "daemonize no",
            f'dir "{workdir}"',
            'logfile ""',
            "sentinel resolve-hostnames no",
            f"sentinel monitor {master_name} 127.0.0.1 {master_port} {quorum}",
            f"sentinel down-after-milliseconds {master_name} {down_after_ms}",
            f"sentinel failover-timeout {master_name} {failover_timeout_ms}",
            f"sentinel parallel-syncs {master_name} 1",
            "",
        ]
    )


def start_sentinels(
    master_port: int,
    count: int = 3,
    quorum: int = 2,
    down_after_ms: int = 2000,
    failover_timeout_ms: int = 10000,
    master_name: str = "mymaster",
    debug: dict[str, int] | None = None,
) -> list[ServerProcess]:
    """``count`` sentinels monitoring the primary on ``master_port``, each with its own
    port, directory and config file, once each answers PING. Stop them with ``stop()``.

    ``debug`` goes to ``SENTINEL DEBUG`` on each (as Redis's own Sentinel tests do), e.g.
    ``{"info-period": 1000, "publish-period": 1000}``: INFO every second instead of every
    10 s and hellos every second instead of every 2 s, so sentinels discover each other and
    act on a node's new role (a returning old primary waits 4 publish periods, then the next
    INFO) sooner. The commands sent are the same, only more often."""
    path = redis_server_path()
    assert path, "redis-server is not installed"
    sentinels: list[ServerProcess] = []
    try:
        for _ in range(count):
            port = free_port()
            workdir = tempfile.mkdtemp(prefix="sentinel-test-")
            conf = os.path.join(workdir, "sentinel.conf")
            with open(conf, "w") as fh:
                fh.write(
                    sentinel_conf(
                        port,
                        workdir,
                        master_port,
                        quorum,
                        down_after_ms,
                        failover_timeout_ms,
                        master_name,
                    )
                )
            server = start_process("sentinel", [path, conf, "--sentinel"], port, workdir)
            server.extra["master_name"] = master_name
            sentinels.append(server)
            if debug:
                with _client(server) as client:
                    pairs = [str(x) for item in debug.items() for x in item]
                    client.execute_command("SENTINEL", "DEBUG", *pairs)
    except BaseException:
        stop_all(sentinels)
        raise
    return sentinels


def stop_all(servers: Iterable[ServerProcess | None]) -> None:
    for server in servers:
        if server is not None:
            server.stop()


def _client(server: ServerProcess) -> redis.Redis:
    return server.client(protocol=2, decode_responses=True, socket_timeout=5)


def sentinel_master_addr(
    sentinels: Iterable[ServerProcess], name: str = "mymaster"
) -> set[tuple[str, int] | None]:
    """Each sentinel's answer to SENTINEL get-master-addr-by-name, as a set: one element
    when they agree."""
    addrs: set[tuple[str, int] | None] = set()
    for sentinel in sentinels:
        with _client(sentinel) as client:
            reply = client.execute_command("SENTINEL", "get-master-addr-by-name", name)
        addrs.add((reply[0], int(reply[1])) if reply else None)
    return addrs


def _flags(entry: dict) -> set[str]:
    return set(str(entry.get("flags", "")).split(","))


def _raw_entries(client: redis.Redis, *args: str) -> list[dict]:
    """SENTINEL replicas/sentinels/master replies as plain dicts of strings (redis-py's own
    parsers turn some fields into booleans and drop others)."""
    reply = client.execute_command("SENTINEL", *args)
    if reply and not isinstance(reply[0], list):  # SENTINEL master: one flat list
        reply = [reply]
    return [dict(zip(item[::2], item[1::2], strict=True)) for item in reply]


def sentinel_view(sentinel: ServerProcess, name: str = "mymaster") -> dict:
    """What one sentinel believes: the primary (address, flags), each replica (address,
    flags, link status, its primary) and the other sentinels it knows."""
    with _client(sentinel) as client:
        master = _raw_entries(client, "master", name)[0]
        replicas = _raw_entries(client, "replicas", name)
        others = _raw_entries(client, "sentinels", name)
    return {
        "master": (master["ip"], int(master["port"])),
        "master_flags": _flags(master),
        "replicas": {
            int(r["port"]): {
                "flags": _flags(r),
                "link": r.get("master-link-status"),
                "master_port": int(r.get("master-port") or 0),
            }
            for r in replicas
        },
        "sentinels": {int(s["port"]): _flags(s) for s in others},
    }


def view_is(
    view: dict, master_port: int, replica_ports: Iterable[int], sentinel_ports: Iterable[int]
) -> bool:
    """The view has that primary, healthy, with those replicas online (linked up, following
    it, not down) and those other sentinels (not down)."""
    bad = {"s_down", "o_down", "disconnected"}
    if view["master"][1] != master_port or view["master_flags"] & (bad | {"failover_in_progress"}):
        return False
    for port in replica_ports:
        replica = view["replicas"].get(port)
        if replica is None or replica["flags"] & bad or "slave" not in replica["flags"]:
            return False
        if replica["link"] != "ok" or replica["master_port"] != master_port:
            return False
    sentinels = view["sentinels"]
    return all(port in sentinels and not sentinels[port] & bad for port in sentinel_ports)


def wait_for_quorum_view(
    sentinels: list[ServerProcess],
    master_port: int,
    replica_ports: Iterable[int],
    name: str = "mymaster",
    timeout: float = 30,
) -> None:
    """Until every sentinel sees the same healthy primary on ``master_port``, each replica
    in ``replica_ports`` online behind it, and every other sentinel: only then can they
    agree a primary is down, elect a leader and fail over promptly."""
    replica_ports = list(replica_ports)
    ports = [s.port for s in sentinels]

    def ready() -> bool:
        return all(
            view_is(
                sentinel_view(s, name),
                master_port,
                replica_ports,
                [p for p in ports if p != s.port],
            )
            for s in sentinels
        )

    def describe() -> str:
        lines = [f"sentinels never agreed on primary {master_port} with replicas {replica_ports}:"]
        for s in sentinels:
            try:
                lines.append(f"  sentinel {s.port}: {sentinel_view(s, name)}")
            except redis.RedisError as exc:
                lines.append(f"  sentinel {s.port}: {exc!r}")
        return "\n".join(lines)

    wait_for(ready, timeout, describe, interval=0.2)
