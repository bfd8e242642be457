"""End to end under real Redis Sentinels: a primary and two replicas, three sentinels, a
client writing through ``redis.sentinel.Sentinel``; the primary is SIGKILLed, a replica is
promoted, the other follows it, the old primary comes back and is turned into a replica of
the new one; no write a replica acknowledged (WAIT) is lost.

The "magpie" case runs on Magpie nodes (the sentinels are always redis-server) and skips
itself while Magpie answers ROLE or REPLICAOF with an unknown-command error. The "redis"
case runs the same scenario on redis-server nodes, a check of the harness itself; it runs
only with ``MAGPIE_TEST_REDIS_TOPOLOGY=1``.

What Sentinel sends to the nodes (seen through a logging proxy, Redis 7.0.15): see
docs/sentinel.md."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest
import redis
import redis.sentinel
from sentinels import (
    sentinel_master_addr,
    start_sentinels,
    stop_all,
    wait_for,
    wait_for_quorum_view,
)
from servers import ServerProcess, redis_server_path, start_magpie, start_redis

MASTER = "mymaster"
# INFO and hellos every second (not every 10 s / 2 s): the sentinels agree on the topology
# and turn the returning old primary into a replica sooner; the commands are the same.
SENTINEL_DEBUG = {"info-period": 1000, "publish-period": 1000}
# Magpie's CONFIG REWRITE (which Sentinel sends in its failover transaction) needs a config
# file; Sentinel ignores the reply, but give the nodes one so it succeeds, as in production.
MAGPIE_CONF = 'save ""\nappendonly no\n'
# A fresh full sync from a real Redis primary waits repl-diskless-sync-delay (5 s) first.
REDIS_NODE_ARGS = ("--repl-diskless-sync-delay", "0")

pytestmark = pytest.mark.skipif(
    not redis_server_path(), reason="redis-server (for Sentinel) is not installed"
)


def start_node(kind: str, port: int | None = None, workdir: str | None = None) -> ServerProcess:
    """A data node; with ``port`` and ``workdir``, the same node started again (a restart
    keeps its config file as CONFIG REWRITE left it)."""
    if kind == "redis":
        return start_redis(*REDIS_NODE_ARGS, port=port, workdir=workdir)
    config_text = MAGPIE_CONF
    if workdir is not None:
        with open(os.path.join(workdir, "magpie.conf")) as fh:
            config_text = fh.read()
    return start_magpie(port=port, config_text=config_text, workdir=workdir)


def replication_missing(server: ServerProcess) -> str | None:
    """Why the node cannot take part (ROLE or REPLICAOF unknown), or None."""
    with server.client(protocol=2) as client:
        for command in (("ROLE",), ("REPLICAOF", "NO", "ONE")):
            try:
                client.execute_command(*command)
            except redis.ResponseError as exc:
                if "unknown command" in str(exc).lower():
                    return f"{command[0]}: {exc}"
    return None


def repl_info(server: ServerProcess) -> dict:
    with server.client(protocol=2, socket_timeout=5) as client:
        return client.info("replication")


def replica_of(server: ServerProcess, primary: ServerProcess) -> bool:
    """The node is a replica of ``primary`` with its link up."""
    info = repl_info(server)
    return (
        info.get("role") == "slave"
        and int(info.get("master_port", 0)) == primary.port
        and info.get("master_link_status") == "up"
    )


def replicas_online(primary: ServerProcess, replicas: list[ServerProcess]) -> bool:
    """The primary lists each replica (by port) as online."""
    info = repl_info(primary)
    if info.get("role") != "master" or info.get("connected_slaves") != len(replicas):
        return False
    listed = [info[k] for k in info if k.startswith("slave") and k[5:].isdigit()]
    online = {int(s["port"]) for s in listed if s.get("state") == "online"}
    return online == {r.port for r in replicas}


class Writer(threading.Thread):
    """Writes unique keys through a Sentinel-discovered primary, each followed by
    ``WAIT 1`` on the same connection; a key counts as acknowledged only if WAIT said a
    replica had it. Connection trouble (the primary dead, demoted, not yet known): wait a
    little and go on, the pool asking the sentinels again."""

    PAUSE = 0.002  # between writes: a steady stream, not a loop hogging a core the sentinels need

    def __init__(self, sentinels: list[ServerProcess]) -> None:
        super().__init__(daemon=True)
        self.sentinel = redis.sentinel.Sentinel(
            [("127.0.0.1", s.port) for s in sentinels], socket_timeout=2, protocol=2
        )
        self.master = self.sentinel.master_for(
            MASTER, socket_timeout=5, protocol=2, decode_responses=True
        )
        self.stop_event = threading.Event()
        self.acked: dict[str, str] = {}
        self.acked_by_port: Counter[int] = Counter()
        self.unacked = 0
        self.errors: Counter[str] = Counter()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the test
            self.failure = exc

    def _run(self) -> None:
        pool = self.master.connection_pool
        n = 0
        while not self.stop_event.is_set():
            key, value = f"w:{n}", f"v{n}"
            n += 1
            try:
                conn = pool.get_connection()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self._trouble(exc)
                continue
            try:
                conn.send_packed_command(
                    conn.pack_commands([("SET", key, value), ("WAIT", 1, 500)])
                )
                set_reply = conn.read_response()
                replicas = conn.read_response()
                port = int(conn.port)
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
                conn.disconnect()
                self._trouble(exc)
                continue
            finally:
                pool.release(conn)
            if set_reply in ("OK", b"OK") and int(replicas) >= 1:
                self.acked[key] = value
                self.acked_by_port[port] += 1
            else:
                self.unacked += 1
            time.sleep(self.PAUSE)

    def _trouble(self, exc: Exception) -> None:
        self.errors[type(exc).__name__] += 1
        time.sleep(0.05)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(30)
        assert not self.is_alive(), "writer did not stop"
        if self.failure is not None:
            raise AssertionError(f"writer failed: {self.failure!r}") from self.failure


def missing_keys(server: ServerProcess, expected: dict[str, str]) -> list[str]:
    keys = list(expected)
    missing = []
    with server.client(protocol=2, decode_responses=True) as client:
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            for key, value in zip(chunk, client.mget(chunk), strict=True):
                if value != expected[key]:
                    missing.append(key)
    return missing


def dump_logs(servers: list[ServerProcess | None]) -> None:
    """The nodes' and sentinels' logs, printed (pytest shows them) when the test fails."""
    for server in servers:
        if server is not None:
            print(f"===== {server.kind} :{server.port} {server.log_path}\n{server.log()[-6000:]}")


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(
            "redis",
            marks=pytest.mark.skipif(
                os.environ.get("MAGPIE_TEST_REDIS_TOPOLOGY") != "1",
                reason="harness check on redis-server nodes: set MAGPIE_TEST_REDIS_TOPOLOGY=1",
            ),
        ),
        "magpie",
    ],
)
@pytest.mark.timeout(240)  # the waits below add up to more than the default 120 s at worst
def test_sentinel_failover(kind: str) -> None:
    started = time.monotonic()
    timings: dict[str, float] = {}

    def mark(step: str) -> None:
        timings[step] = round(time.monotonic() - started, 2)

    primary = start_node(kind)
    replicas: list[ServerProcess] = []
    sentinels: list[ServerProcess] = []
    restarted: ServerProcess | None = None
    writer: Writer | None = None
    passed = False
    try:
        if kind == "magpie":
            reason = replication_missing(primary)
            if reason:
                pytest.skip(f"magpie replication not landed ({reason})")
        for _ in range(2):
            replica = start_node(kind)
            replicas.append(replica)
            with replica.client(protocol=2) as client:
                client.execute_command("REPLICAOF", "127.0.0.1", primary.port)
        wait_for(
            lambda: replicas_online(primary, replicas),
            30,
            lambda: f"replicas not online: {repl_info(primary)}",
        )
        for replica in replicas:
            wait_for(
                lambda r=replica: replica_of(r, primary),
                30,
                lambda r=replica: f"link down: {repl_info(r)}",
            )
        mark("replicas online")

        sentinels = start_sentinels(primary.port, debug=SENTINEL_DEBUG, master_name=MASTER)
        wait_for_quorum_view(
            sentinels, primary.port, [r.port for r in replicas], MASTER, timeout=30
        )
        mark("sentinels agree")

        writer = Writer(sentinels)
        writer.start()
        wait_for(
            lambda: writer.acked_by_port[primary.port] >= 50,
            30,
            lambda: f"no acknowledged writes on the primary: {writer.errors}",
        )

        primary.kill()
        mark("primary killed")
        old_port = primary.port

        def promoted() -> ServerProcess | None:
            addrs = sentinel_master_addr(sentinels, MASTER)
            if len(addrs) != 1:
                return None
            (addr,) = addrs
            return next((r for r in replicas if addr is not None and addr[1] == r.port), None)

        new_primary = wait_for(
            promoted, 60, lambda: f"no promotion: {sentinel_master_addr(sentinels, MASTER)}"
        )
        (other,) = [r for r in replicas if r is not new_primary]
        mark("replica promoted")
        assert repl_info(new_primary)["role"] == "master"
        wait_for(
            lambda: replica_of(other, new_primary),
            60,
            lambda: f"other replica does not follow the new primary: {repl_info(other)}",
        )
        mark("other replica follows")
        wait_for(
            lambda: writer.acked_by_port[new_primary.port] >= 50,
            30,
            lambda: f"no acknowledged writes on the new primary: {writer.errors}",
        )

        restarted = start_node(kind, port=old_port, workdir=primary.workdir)
        mark("old primary restarted")
        wait_for(
            lambda: replica_of(restarted, new_primary),
            60,
            lambda: f"old primary not turned into a replica: {repl_info(restarted)}",
        )
        mark("old primary replicates")
        wait_for_quorum_view(
            sentinels, new_primary.port, [other.port, old_port], MASTER, timeout=30
        )
        mark("sentinels agree again")

        writer.stop()
        assert writer.acked, "no write was acknowledged"
        missing = missing_keys(new_primary, writer.acked)
        assert not missing, (
            f"{len(missing)} of {len(writer.acked)} acknowledged writes lost, e.g. {missing[:10]}"
        )
        # Both replicas end up with everything too, the returned old primary included.
        with new_primary.client(protocol=2) as client:
            assert client.execute_command("WAIT", 2, 10000) == 2
        for replica in (other, restarted):
            lost = missing_keys(replica, writer.acked)
            assert not lost, (
                f"replica :{replica.port} lacks {len(lost)} acknowledged writes, e.g. {lost[:10]}"
            )
        mark("checked")
        print(
            f"{kind}: {len(writer.acked)} acknowledged writes {dict(writer.acked_by_port)}, "
            f"{writer.unacked} unacknowledged, errors {dict(writer.errors)}; timings {timings}"
        )
        passed = True
    finally:
        if writer is not None and writer.is_alive():
            writer.stop_event.set()
            writer.join(10)
        if not passed:
            dump_logs([primary, restarted, *replicas, *sentinels])
        stop_all([*sentinels, restarted, *replicas])
        primary.stop()
