"""Replication across real processes: several Magpie servers (and, for the field-by-field
comparisons, a redis-server pair), linked as primaries, replicas and chains, with links
cut, processes stopped, killed and restarted, and fake primaries and replicas that speak
garbage. Replies whose exact text matters were checked against redis-server 7.0.15."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import threading
import time

import hiredis
import pytest
import redis
from replication_helpers import (
    RawClient,
    assert_same_dataset,
    dataset,
    repl_info,
    wait_for,
    wait_link_up,
    wait_offsets_equal,
)
from servers import ServerProcess, redis_server_path, start_magpie, start_redis

READONLY = "-READONLY You can't write against a read only replica."
MASTERDOWN = "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
NOREPLICAS = "-NOREPLICAS Not enough good replicas to write."
WAIT_ON_REPLICA = (
    "-ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica "
    "is configured to be writable (which is not the default) writes to replicas are just local and are "
    "not propagated."
)


# -- servers -----------------------------------------------------------------------------------


class Cluster:
    """The servers one test starts; all of them are killed (and resumed first, if stopped)
    at the end, and the tail of each log is printed (pytest shows it when the test fails)."""

    def __init__(self) -> None:
        self.servers: list[ServerProcess] = []

    def start(self, *args: str, replica_of: ServerProcess | None = None, **kwargs) -> ServerProcess:
        argv = ["--repl-diskless-sync-delay", "0", *args]
        if replica_of is not None:
            argv += ["--replicaof", "127.0.0.1", str(replica_of.port)]
        server = start_magpie(*argv, **kwargs)
        self.servers.append(server)
        return server

    def restart(self, server: ServerProcess, *args: str) -> ServerProcess:
        """The same port and data directory (the old process must have ended)."""
        return self.start(*args, port=server.port, workdir=server.workdir)

    def close(self) -> None:
        for server in self.servers:
            if server.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(server.proc.pid, signal.SIGCONT)
            server.kill()
        for server in reversed(self.servers):
            tail = server.log().splitlines()[-40:]
            print(f"--- log of server on port {server.port} ---\n" + "\n".join(tail))
            server.stop()


@pytest.fixture
def cluster():
    c = Cluster()
    yield c
    c.close()


def pause(server: ServerProcess) -> None:
    os.kill(server.proc.pid, signal.SIGSTOP)


def resume(server: ServerProcess) -> None:
    os.kill(server.proc.pid, signal.SIGCONT)


def client(server: ServerProcess, db: int = 0) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=server.port, db=db, protocol=2, socket_timeout=10)


def stats(server: ServerProcess) -> dict:
    return client(server).info("stats")


def log_since(server: ServerProcess, mark: int) -> str:
    return server.log()[mark:]


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def wait_gone(pids: list[int], timeout: float = 15) -> None:
    def gone() -> bool:
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    if fh.read().split(") ", 1)[1].startswith("Z"):
                        continue  # a zombie holds no sockets
            except OSError:
                continue
            return False
        return True

    wait_for(gone, timeout, f"processes {pids} to exit")


# -- data ----------------------------------------------------------------------------------------

DBS = (0, 3, 9)


def populate(server: ServerProcess, tag: str, ttl: int = 1000) -> None:
    """Every data type in several encodings, in several databases, some keys with TTLs."""
    for db in DBS:
        p = client(server, db).pipeline(transaction=False)
        for i in range(20):
            p.set(f"{tag}:s:{i}", f"v{i}" * (i + 1))
        p.set(f"{tag}:int", 12345)
        p.set(f"{tag}:neg", -7)
        p.set(f"{tag}:big", b"x" * 20000 + os.urandom(64))
        p.set(f"{tag}:bin", bytes(range(256)))
        p.set(f"{tag}:empty", b"")
        p.rpush(f"{tag}:list", *[f"e{i}" for i in range(30)])
        p.rpush(f"{tag}:biglist", *[os.urandom(500) for _ in range(100)])
        p.hset(f"{tag}:hash", mapping={f"f{i}": f"v{i}" for i in range(10)})
        p.hset(f"{tag}:bighash", mapping={f"f{i}": "v" * 100 for i in range(200)})
        p.sadd(f"{tag}:intset", *range(-50, 50))
        p.sadd(f"{tag}:set", *[f"m{i}" for i in range(150)])
        p.zadd(f"{tag}:zset", {f"z{i}": i * 1.5 for i in range(10)})
        p.zadd(f"{tag}:bigzset", {**{f"z{i}": i / 7 for i in range(200)}, "inf": float("inf"), "ninf": float("-inf")})
        p.set(f"{tag}:ttl:ex", "v", ex=ttl)
        p.set(f"{tag}:ttl:px", "v", px=ttl * 1000 + 123)
        p.rpush(f"{tag}:ttl:list", "a", "b")
        p.expire(f"{tag}:ttl:list", ttl)
        p.hset(f"{tag}:ttl:hash", "f", "v")
        p.pexpireat(f"{tag}:ttl:hash", int(time.time() * 1000) + ttl * 1000)
        p.zadd(f"{tag}:ttl:zset", {"a": 1})
        p.expire(f"{tag}:ttl:zset", ttl)
        p.execute()


def mutate(server: ServerProcess, tag: str) -> None:
    """Writes of every kind on keys ``populate(tag)`` made, as a stream would carry them
    (several of them are rewritten for the stream: SPOP, INCRBYFLOAT, EXPIRE, SET EX...)."""
    for db in DBS:
        c = client(server, db)
        if not c.exists(f"{tag}:int"):
            continue  # (a database an earlier mutate() flushed)
        c.incr(f"{tag}:counter")
        c.incrbyfloat(f"{tag}:int", 0.5)
        c.append(f"{tag}:s:1", "more")
        c.setrange(f"{tag}:s:2", 1, "XYZ")
        c.delete(f"{tag}:s:3", f"{tag}:s:4")
        c.lpush(f"{tag}:list", "head")
        c.rpop(f"{tag}:list")
        c.ltrim(f"{tag}:list", 1, 20)
        c.lset(f"{tag}:list", 0, "set0")
        c.lmove(f"{tag}:list", f"{tag}:list2", "LEFT", "RIGHT")
        c.hdel(f"{tag}:hash", "f1")
        c.hincrbyfloat(f"{tag}:hash", "float", 1.25)
        c.hincrby(f"{tag}:bighash", "n", 3)
        c.spop(f"{tag}:set", 3)
        c.srem(f"{tag}:intset", 0, 1)
        c.zincrby(f"{tag}:zset", 2.5, "z1")
        c.zpopmin(f"{tag}:bigzset", 2)
        c.zrem(f"{tag}:zset", "z2")
        c.expire(f"{tag}:s:5", 500)
        c.pexpire(f"{tag}:s:6", 400000)
        c.persist(f"{tag}:ttl:ex")
        c.set(f"{tag}:s:7", "new", ex=300)
        c.getex(f"{tag}:s:8", ex=200)
        if c.exists(f"{tag}:s:9"):  # (a second mutate() finds it renamed)
            c.rename(f"{tag}:s:9", f"{tag}:renamed")
        c.move(f"{tag}:s:10", 1)
        tx = c.pipeline(transaction=True)
        tx.set(f"{tag}:tx:a", 1)
        tx.incr(f"{tag}:tx:a")
        tx.rpush(f"{tag}:tx:l", "x")
        tx.execute()
        c.set(f"{tag}:expired", "v", px=1)  # expired on the primary, which sends a DEL
        wait_for(lambda c=c: c.get(f"{tag}:expired") is None, 5, "the key to expire")
    client(server, 9).flushdb()
    client(server, 5).set(f"{tag}:db5", "only")


def bulk_keys(server: ServerProcess, count: int, size: int, prefix: str = "bulk") -> None:
    c = client(server)
    for start in range(0, count, 1000):
        p = c.pipeline(transaction=False)
        for i in range(start, min(count, start + 1000)):
            p.set(f"{prefix}:{i}", os.urandom(size))
        p.execute()


# -- full sync and the stream ---------------------------------------------------------------------


@pytest.mark.parametrize("diskless", ["no", "yes"], ids=["disk", "diskless"])
def test_full_sync_then_stream(cluster, diskless):
    primary = cluster.start("--repl-diskless-sync", diskless)
    populate(primary, "a")
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    wait_offsets_equal(primary, replica)
    assert_same_dataset(primary, replica)
    target = "replicas sockets" if diskless == "yes" else "disk"
    assert f"Starting BGSAVE for SYNC with target: {target}" in primary.log()
    assert stats(primary)["sync_full"] == 1
    # the stream: new keys, and writes of every kind on the synced ones
    populate(primary, "b", ttl=700)
    mutate(primary, "a")
    mutate(primary, "b")
    wait_offsets_equal(primary, replica)
    assert_same_dataset(primary, replica)
    assert stats(primary)["sync_full"] == 1
    assert dataset(replica)  # not two empty datasets
    info = repl_info(replica)
    assert info["master_replid"] == repl_info(primary)["master_replid"]


def test_two_replicas_share_one_snapshot(cluster):
    primary = cluster.start("--repl-diskless-sync", "no")
    populate(primary, "a")
    replicas = [cluster.start(replica_of=primary) for _ in range(2)]
    for replica in replicas:
        wait_link_up(replica)
    populate(primary, "b")
    wait_offsets_equal(primary, *replicas)
    reference = dataset(primary)
    for replica in replicas:
        assert_same_dataset(reference, replica)


# -- partial resync and the backlog ----------------------------------------------------------


def _cut_link_while_writing(primary: ServerProcess, replica: ServerProcess, write) -> None:
    """Cut the link with the replica stopped, so that ``write`` happens while it is down."""
    pause(replica)
    try:
        assert client(primary).client_kill_filter(_type="replica") == 1
        wait_for(lambda: repl_info(primary)["connected_slaves"] == 0, 5, "the primary to drop the replica")
        write()
    finally:
        resume(replica)


def test_partial_resync_after_link_cut(cluster):
    primary = cluster.start()
    replica = cluster.start(replica_of=primary)
    populate(primary, "a")
    wait_link_up(replica)
    wait_offsets_equal(primary, replica)
    before = stats(primary)
    mark = len(replica.log())
    _cut_link_while_writing(primary, replica, lambda: (populate(primary, "b"), mutate(primary, "a")))
    wait_for(lambda: "Master accepted a Partial Resynchronization" in log_since(replica, mark), 15,
             "the replica to partially resync")  # fmt: skip
    wait_link_up(replica)
    wait_offsets_equal(primary, replica)
    after = stats(primary)
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert after["sync_full"] == before["sync_full"]
    assert_same_dataset(primary, replica)


def test_client_kill_type_master_on_replica(cluster):
    primary = cluster.start()
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    client(primary).set("k", "v")
    wait_offsets_equal(primary, replica)
    assert "flags=M" in client(replica).execute_command("CLIENT", "LIST", "TYPE", "master").decode()
    before = stats(primary)["sync_partial_ok"]
    assert client(replica).client_kill_filter(_type="master") == 1
    wait_for(lambda: stats(primary)["sync_partial_ok"] == before + 1, 10, "a partial resync")


def test_backlog_overflow_forces_full_resync(cluster):
    primary = cluster.start("--repl-backlog-size", "16kb")
    replica = cluster.start(replica_of=primary)
    populate(primary, "a")
    wait_link_up(replica)
    wait_offsets_equal(primary, replica)
    before = stats(primary)
    assert repl_info(primary)["repl_backlog_size"] == 16384

    def overflow() -> None:
        bulk_keys(primary, 200, 1000, "over")  # 200 KB of stream through a 16 KB backlog
        mutate(primary, "a")

    _cut_link_while_writing(primary, replica, overflow)
    wait_for(lambda: stats(primary)["sync_full"] == before["sync_full"] + 1, 15, "a second full sync")
    wait_link_up(replica)
    wait_offsets_equal(primary, replica)
    after = stats(primary)
    assert after["sync_partial_err"] == before["sync_partial_err"] + 1
    assert after["sync_partial_ok"] == before["sync_partial_ok"]
    assert "for lack of backlog" in primary.log()
    assert_same_dataset(primary, replica)


def test_backlog_size_config_set_applies(cluster):
    """CONFIG SET repl-backlog-size resizes the live backlog: a link cut after it, with
    more written than the new size, needs a full resync."""
    primary = cluster.start()
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    bulk_keys(primary, 100, 1000, "before")  # 100 KB in the (1 MB) backlog
    wait_offsets_equal(primary, replica)
    client(primary).config_set("repl-backlog-size", "16kb")
    info = repl_info(primary)
    assert info["repl_backlog_size"] == 16384
    assert info["repl_backlog_histlen"] <= 16384
    before = stats(primary)
    _cut_link_while_writing(primary, replica, lambda: bulk_keys(primary, 100, 1000, "over"))
    wait_for(lambda: stats(primary)["sync_full"] == before["sync_full"] + 1, 15, "a full resync")
    wait_link_up(replica)
    wait_offsets_equal(primary, replica)
    assert stats(primary)["sync_partial_ok"] == before["sync_partial_ok"]
    assert_same_dataset(primary, replica)


# -- transfers cut in the middle ---------------------------------------------------------------


def _slow_primary(cluster: Cluster, *args: str) -> ServerProcess:
    """A primary whose snapshot takes seconds once rdb-key-save-delay is 1000 (a second
    per 1024 keys): 3072 keys of 1000 bytes, so that the writer (which buffers about a
    megabyte) sends the first part of the snapshot well before the last."""
    primary = cluster.start(*args)
    bulk_keys(primary, 3072, 1000)
    populate(primary, "new")
    return primary


def _old_dataset(cluster: Cluster) -> tuple[ServerProcess, dict]:
    """A standalone server with its own data, saved to its RDB file."""
    server = cluster.start("--save", "3600 1")
    populate(server, "old")
    client(server).save()
    return server, dataset(server)


def _wait_mid_transfer(replica: ServerProcess) -> None:
    def mid() -> bool:
        info = repl_info(replica)
        return info.get("master_sync_in_progress") == 1 and info.get("master_sync_read_bytes", 0) > 0

    wait_for(mid, 20, "the replica to be in the middle of receiving the snapshot")


def test_replica_killed_mid_transfer(cluster):
    primary = _slow_primary(cluster)
    replica, old = _old_dataset(cluster)
    client(primary).config_set("rdb-key-save-delay", 1000)
    # first the replica gives up mid-transfer by itself (REPLICAOF NO ONE)
    client(replica).replicaof("127.0.0.1", primary.port)
    _wait_mid_transfer(replica)
    assert client(replica).replicaof("NO", "ONE")
    assert_same_dataset(old, replica)
    wait_for(lambda: repl_info(primary)["connected_slaves"] == 0, 10, "the primary to drop the replica")
    # then it is killed mid-transfer
    client(replica).replicaof("127.0.0.1", primary.port)
    _wait_mid_transfer(replica)
    assert_same_dataset(old, replica)  # serving the old data while the new arrives
    # INFO and ROLE mid-transfer, as a Redis 7.0 replica shows a diskless ($EOF:) one
    info = repl_info(replica)
    assert info["master_link_status"] == "down"
    assert info["master_sync_total_bytes"] == 0
    assert info["master_sync_left_bytes"] == -info["master_sync_read_bytes"]
    assert client(replica).execute_command("ROLE") == [b"slave", b"127.0.0.1", primary.port, b"sync", -1]
    replica.kill()
    # the primary drops the replica and stops the snapshot meant for it, and serves on
    wait_for(lambda: repl_info(primary)["connected_slaves"] == 0, 10, "the primary to drop the dead replica")
    wait_for(lambda: client(primary).info("persistence")["rdb_bgsave_in_progress"] == 0, 10,
             "the primary's snapshot child to stop")  # fmt: skip
    assert primary.alive()
    assert client(primary).get("new:int") == b"12345"
    # restarted, the replica has its old data (its RDB file was never half-replaced)
    replica = cluster.restart(replica, "--save", "3600 1")
    replica.wait_loaded()
    assert_same_dataset(old, replica)
    client(primary).config_set("rdb-key-save-delay", 0)
    client(replica).replicaof("127.0.0.1", primary.port)
    wait_link_up(replica, 30)
    wait_offsets_equal(primary, replica)
    assert_same_dataset(primary, replica)


def test_primary_killed_mid_transfer(cluster):
    primary = _slow_primary(cluster, "--save", "3600 1")
    client(primary).save()  # what it will come back with
    client(primary).config_set("rdb-key-save-delay", 1000)
    replica, old = _old_dataset(cluster)
    client(replica).replicaof("127.0.0.1", primary.port)
    _wait_mid_transfer(replica)
    children = children_of(primary.proc.pid)
    primary.kill()
    wait_for(lambda: repl_info(replica)["master_sync_in_progress"] == 0, 10, "the replica to notice")
    assert repl_info(replica)["master_link_status"] == "down"
    assert "I/O error trying to sync with MASTER: connection lost" in replica.log()
    assert replica.alive()
    assert_same_dataset(old, replica)  # nothing of the cut transfer applied
    assert client(replica).get("new:int") is None
    wait_gone(children)  # the orphaned snapshot child (see test_killed_primary_child_keeps_no_port)
    primary = cluster.restart(primary, "--save", "3600 1")
    primary.wait_loaded()
    wait_link_up(replica, 30)
    wait_offsets_equal(primary, replica)
    assert_same_dataset(primary, replica)
    assert client(replica).get("new:int") == b"12345"


def test_killed_primary_child_keeps_no_port(cluster):
    primary = cluster.start()
    bulk_keys(primary, 3072, 10)
    client(primary).config_set("rdb-key-save-delay", 3000)  # about 9 s of snapshot
    client(primary).bgsave()
    wait_for(lambda: children_of(primary.proc.pid), 5, "the snapshot child")
    children = children_of(primary.proc.pid)
    primary.kill()
    try:
        with socket.socket() as sock:  # as a restarted server binds (redis-server: fine here)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", primary.port))
            sock.listen()
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# -- restarts, chains, promotion -----------------------------------------------------------------


def test_primary_restart_resyncs(cluster):
    primary = cluster.start("--save", "3600 1")
    replica = cluster.start(replica_of=primary)
    populate(primary, "a")
    wait_link_up(replica)
    wait_offsets_equal(primary, replica)
    primary.stop(keep_dir=True)  # SIGTERM: saves on the way out
    wait_for(lambda: repl_info(replica)["master_link_status"] == "down", 10, "the link to go down")
    assert client(replica).get("a:int") == b"12345"  # stale data served meanwhile
    primary = cluster.restart(primary, "--save", "3600 1")
    primary.wait_loaded()
    wait_link_up(replica, 30)
    mutate(primary, "a")
    wait_offsets_equal(primary, replica)
    assert_same_dataset(primary, replica)
    assert repl_info(replica)["master_replid"] == repl_info(primary)["master_replid"]


def test_replica_restart_partially_resyncs(cluster):
    """Redis 7.0 keeps the replication ID and offset in the replica's RDB (repl-id,
    repl-offset aux fields), so a replica restarted on it continues with +CONTINUE."""
    primary = cluster.start()
    replica = cluster.start("--save", "3600 1", replica_of=primary)
    populate(primary, "a")
    wait_link_up(replica)
    wait_offsets_equal(primary, replica)
    replica.stop(keep_dir=True)
    mutate(primary, "a")
    before = stats(primary)
    replica = cluster.restart(replica, "--save", "3600 1", "--replicaof", "127.0.0.1", str(primary.port))
    wait_link_up(replica)
    wait_offsets_equal(primary, replica)
    assert_same_dataset(primary, replica)
    after = stats(primary)
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert after["sync_full"] == before["sync_full"]


def test_replica_switching_primary_keeps_stream_db(cluster):
    """A replica that moves to a sibling with the same history continues the stream where
    it was, in the database its last SELECT chose (Redis's cached master keeps its db):
    the stream goes on without a new SELECT."""
    a = cluster.start()
    b = cluster.start(replica_of=a)
    c = cluster.start(replica_of=a)
    wait_link_up(b)
    wait_link_up(c)
    client(a, 3).set("x", "1")
    wait_offsets_equal(a, b, c)
    assert client(c).replicaof("127.0.0.1", b.port)
    wait_link_up(c)
    client(a, 3).set("y", "2")  # no SELECT in the stream: db 3 is already selected
    wait_offsets_equal(a, b)
    wait_offsets_equal(b, c)
    assert stats(b)["sync_partial_ok"] == 1
    assert_same_dataset(a, c)


@pytest.mark.parametrize("diskless", ["no", "yes"], ids=["disk", "diskless"])
def test_full_sync_from_a_replica_keeps_stream_db(cluster, diskless):
    """A replica's snapshot for its own replica is followed by its primary's stream,
    forwarded as it is (no SELECT can be added): the sub-replica must start in the db
    that stream had selected, which the snapshot records (repl-stream-db), as Redis does."""
    a = cluster.start()
    b = cluster.start("--repl-diskless-sync", diskless, replica_of=a)
    wait_link_up(b)
    client(a, 3).set("x", "1")
    wait_offsets_equal(a, b)
    c = cluster.start(replica_of=b)
    wait_link_up(c)
    client(a, 3).set("y", "2")  # no SELECT in the stream: db 3 is already selected
    wait_offsets_equal(a, b)
    wait_offsets_equal(b, c)
    assert_same_dataset(a, c)


def test_replica_restart_keeps_stream_db(cluster):
    primary = cluster.start()
    replica = cluster.start("--save", "3600 1", replica_of=primary)
    wait_link_up(replica)
    client(primary, 3).set("x", "1")
    wait_offsets_equal(primary, replica)
    replica.stop(keep_dir=True)
    replica = cluster.restart(replica, "--save", "3600 1", "--replicaof", "127.0.0.1", str(primary.port))
    wait_link_up(replica)
    client(primary, 3).set("y", "2")  # no SELECT in the stream: db 3 is already selected
    wait_offsets_equal(primary, replica)
    assert stats(primary)["sync_partial_ok"] == 1
    assert_same_dataset(primary, replica)


def test_replica_without_its_primary_refuses_sync(cluster):
    """A replica whose own link is down answers PSYNC with -NOMASTERLINK: its replica
    waits (and says so in its log) and syncs once the chain is whole again."""
    a = cluster.start("--save", "3600 1")
    populate(a, "a")
    client(a).save()
    b = cluster.start(replica_of=a)
    wait_link_up(b)
    a.kill()
    wait_for(lambda: repl_info(b)["master_link_status"] == "down", 10, "B's link to go down")
    c = cluster.start(replica_of=b)
    wait_for(lambda: "Master is currently unable to PSYNC" in c.log(), 10, "C to be refused")
    assert repl_info(c)["master_link_status"] == "down"
    a = cluster.restart(a, "--save", "3600 1")
    wait_link_up(b, 30)
    wait_link_up(c, 30)
    wait_offsets_equal(a, b)
    wait_offsets_equal(b, c)
    assert_same_dataset(a, c)


def test_chained_replicas(cluster):
    a = cluster.start()
    populate(a, "a")
    b = cluster.start(replica_of=a)
    c = cluster.start(replica_of=b)
    wait_link_up(b)
    wait_link_up(c)
    populate(a, "b")
    mutate(a, "a")
    # forwarded byte for byte: the same history, the same offsets, all the way down
    seen: list = []

    def same_offsets() -> bool:
        ia, ib, ic = repl_info(a), repl_info(b), repl_info(c)
        seen[:] = [ia["master_repl_offset"], ib["slave_repl_offset"], ib["master_repl_offset"],
                   ic["slave_repl_offset"], ic["master_repl_offset"]]  # fmt: skip
        return len(set(seen)) == 1

    wait_for(same_offsets, 15, f"the same offset along the chain (last seen {seen})")
    replids = {repl_info(s)["master_replid"] for s in (a, b, c)}
    assert len(replids) == 1
    assert_same_dataset(a, c)
    assert_same_dataset(b, c)
    assert repl_info(b)["connected_slaves"] == 1


def test_promotion_keeps_history(cluster):
    a = cluster.start()
    b = cluster.start(replica_of=a)
    c = cluster.start(replica_of=a)
    populate(a, "a")
    wait_link_up(b)
    wait_link_up(c)
    mutate(a, "a")
    offset = wait_offsets_equal(a, b, c)
    old_replid = repl_info(a)["master_replid"]
    a.kill()
    assert client(b).replicaof("NO", "ONE")
    info = repl_info(b)
    assert info["role"] == "master"
    assert info["master_replid2"] == old_replid
    assert info["second_repl_offset"] == offset + 1
    assert info["master_replid"] != old_replid
    client(b).set("after:promotion", "1")
    assert client(c).replicaof("127.0.0.1", b.port)
    wait_link_up(c)
    wait_offsets_equal(b, c)
    s = stats(b)
    assert s["sync_partial_ok"] == 1
    assert s["sync_full"] == 0
    assert repl_info(c)["master_replid"] == info["master_replid"]
    mutate(b, "a")
    wait_offsets_equal(b, c)
    assert_same_dataset(b, c)
    assert client(c).get("after:promotion") == b"1"


# -- WAIT -----------------------------------------------------------------------------------------


def test_wait_without_replicas(cluster):
    primary = cluster.start()
    with RawClient(primary.port) as c:
        assert c.call("WAIT", 0, 0) == 0
        assert c.call("SET", "k", "v") == b"OK"
        assert c.call("WAIT", 0, 0) == 0
        started = time.monotonic()
        assert c.call("WAIT", 1, 100) == 0  # Redis blocks for the timeout, then 0
        assert time.monotonic() - started >= 0.09
        assert c.call("WAIT", -1, 0) == 0
        assert c.call("WAIT", 1, -1) == "-ERR timeout is negative"
        assert c.call("WAIT", "x", 0) == "-ERR value is not an integer or out of range"


def test_wait_counts_replicas(cluster):
    primary = cluster.start()
    replicas = [cluster.start(replica_of=primary) for _ in range(2)]
    for replica in replicas:
        wait_link_up(replica)
    with RawClient(primary.port) as c:
        assert c.call("SET", "k", "v") == b"OK"
        assert c.call("WAIT", 2, 5000) == 2
        assert c.call("INCR", "n") == 1
        assert c.call("WAIT", 1, 0) >= 1
        assert c.call("WAIT", 5, 200) == 2  # more than there are: the timeout, then the count


def test_wait_times_out_with_stopped_replica(cluster):
    primary = cluster.start()
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    with RawClient(primary.port) as c:
        assert c.call("SET", "k", "v") == b"OK"
        assert c.call("WAIT", 1, 5000) == 1
        pause(replica)
        try:
            assert c.call("SET", "k", "v2") == b"OK"
            started = time.monotonic()
            assert c.call("WAIT", 1, 500) == 0
            assert time.monotonic() - started >= 0.45
        finally:
            resume(replica)
        assert c.call("WAIT", 1, 5000) == 1
    assert client(replica).get("k") == b"v2"


def test_wait_inside_multi_does_not_block(cluster):
    """WAIT in a transaction answers at once (outside one, WAIT 1 0 would block for ever
    on a stopped replica), counting the transaction's own writes as Redis 7.0 does: the
    stopped replica has not got them (0)."""
    primary = cluster.start()
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    client(primary).set("k", "v0")
    wait_offsets_equal(primary, replica)
    pause(replica)
    try:
        with RawClient(primary.port, timeout=5) as c:
            for _ in range(2):
                assert c.call("MULTI") == b"OK"
                assert c.call("SET", "k", "v") == b"QUEUED"
                assert c.call("WAIT", 1, 0) == b"QUEUED"
                assert c.call("EXEC") == [b"OK", 0]
        with RawClient(primary.port, timeout=5) as c:
            assert c.call("SET", "k", "v1") == b"OK"
            assert c.call("MULTI") == b"OK"
            assert c.call("WAIT", 1, 0) == b"QUEUED"
            assert c.call("EXEC") == [0]
    finally:
        resume(replica)


def test_wait_on_replica_is_an_error(cluster):
    primary = cluster.start()
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    with RawClient(replica.port) as c:
        assert c.call("WAIT", 0, 0) == WAIT_ON_REPLICA


# -- expiry -----------------------------------------------------------------------------------------


def test_replica_hides_expired_keys_until_primary_deletes(cluster):
    primary = cluster.start()
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    pc = client(primary)
    pc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    pc.set("keep", "v")
    pc.set("e:str", "v", px=300)
    pc.rpush("e:list", "a", "b")
    pc.pexpire("e:list", 300)
    pc.hset("e:hash", "f", "v")
    pc.pexpire("e:hash", 300)
    pc.zadd("e:zset", {"m": 1})
    pc.pexpire("e:zset", 300)
    wait_offsets_equal(primary, replica)
    rc = client(replica)
    assert rc.dbsize() == 5  # all there (whether or not already past their time)
    wait_for(lambda: rc.get("e:str") is None, 10, "the key to expire on the replica")
    # logically expired: every read on the replica hides it (as Redis 7.0's replica)...
    with RawClient(replica.port) as c:
        assert c.call("GET", "e:str") is None
        assert c.call("TTL", "e:str") == -2
        assert c.call("PTTL", "e:list") == -2
        assert c.call("EXISTS", "e:str", "e:list", "e:hash", "keep") == 1
        assert c.call("TYPE", "e:hash") == b"none"
        assert c.call("LRANGE", "e:list", 0, -1) == []
        assert c.call("HGETALL", "e:hash") == []
        assert c.call("ZRANGE", "e:zset", 0, -1) == []
        assert c.call("STRLEN", "e:str") == 0
        assert c.call("MGET", "e:str", "keep") == [None, b"v"]
        assert c.call("KEYS", "*") == [b"keep"]
        assert c.call("SCAN", 0, "COUNT", 100)[1] == [b"keep"]
        # ... but keeps it: only the primary's DEL removes it
        time.sleep(0.5)  # a few of the replica's cron ticks: nothing may delete it
        assert c.call("DBSIZE") == 5
    assert pc.get("e:str") is None  # the primary expires it lazily and sends DEL
    wait_for(lambda: rc.dbsize() == 4, 10, "the primary's DEL to reach the replica")
    pc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    wait_for(lambda: rc.dbsize() == 1, 10, "the primary's active expiry DELs to reach the replica")
    wait_offsets_equal(primary, replica)
    assert_same_dataset(primary, replica)


def test_replica_applies_writes_to_keys_it_hides(cluster):
    """The stream is obeyed as the primary saw it: a write the primary made on a key before
    it expired there still applies on the replica, even if the replica's clock says it is gone."""
    primary = cluster.start()
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    pc = client(primary)
    pc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    pc.set("e", "v", px=200)
    wait_offsets_equal(primary, replica)
    wait_for(lambda: client(replica).get("e") is None, 10, "the key to expire on the replica")
    pc.set("e", "fresh")  # the primary expires the old one (DEL) and writes a new one
    wait_offsets_equal(primary, replica)
    assert client(replica).get("e") == b"fresh"
    assert client(replica).ttl("e") == -1


def test_full_sync_keeps_expired_keys_for_the_primarys_del(cluster):
    """Keys past their time but not yet deleted on the primary travel in the snapshot; the
    replica keeps them (hidden) until the primary's DEL, as Redis 7.0's replica loads them."""
    primary = cluster.start()
    pc = client(primary)
    pc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    pc.set("keep", "v")
    pc.set("gone", "v", px=50)
    wait_for(lambda: pc.keys("gone") == [], 5, "the key to expire")  # KEYS hides it, does not delete it
    assert pc.dbsize() == 2
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    rc = client(replica)
    assert rc.dbsize() == 2
    assert rc.get("gone") is None
    assert pc.get("gone") is None  # deleted on the primary now: DEL in the stream
    wait_for(lambda: rc.dbsize() == 1, 10, "the DEL to reach the replica")


# -- refusals -------------------------------------------------------------------------------------------


def test_replica_is_read_only(cluster):
    primary = cluster.start()
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    client(primary).set("k", "v")
    wait_offsets_equal(primary, replica)
    with RawClient(replica.port) as c:
        assert c.call("SET", "x", "1") == READONLY
        assert c.call("DEL", "k") == READONLY
        assert c.call("FLUSHALL") == READONLY
        assert c.call("GET", "k") == b"v"
        assert c.call("PUBLISH", "ch", "m") == 0
        assert c.call("MULTI") == b"OK"
        assert c.call("SET", "x", "1") == READONLY
        assert c.call("GET", "k") == b"QUEUED"
        assert c.call("EXEC") == "-EXECABORT Transaction discarded because of previous errors."
        assert c.call("MULTI") == b"OK"
        assert c.call("GET", "k") == b"QUEUED"
        assert c.call("EXEC") == [b"v"]
    assert repl_info(replica)["slave_read_only"] == 1


def test_writable_replica(cluster):
    primary = cluster.start()
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    sub = cluster.start(replica_of=replica)
    wait_link_up(sub)
    rc = client(replica)
    rc.config_set("replica-read-only", "no")
    assert repl_info(replica)["slave_read_only"] == 0
    offset = repl_info(replica)["master_repl_offset"]
    assert rc.set("local", "1")
    assert rc.get("local") == b"1"
    # local writes are the replica's alone: not in its stream, so its offset (and its
    # replicas') stays the primary's, and a later partial resync stays exact (Redis 4+)
    assert repl_info(replica)["master_repl_offset"] == offset
    client(primary).set("k", "v")
    wait_offsets_equal(primary, replica)
    wait_offsets_equal(replica, sub)
    assert client(primary).get("local") is None
    assert client(sub).get("local") is None
    assert rc.get("k") == b"v"
    _cut_link_while_writing(primary, replica, lambda: client(primary).set("k2", "v2"))
    wait_offsets_equal(primary, replica)
    assert rc.get("k2") == b"v2"


def test_serve_stale_data_no(cluster):
    primary = cluster.start()
    replica = cluster.start("--replica-serve-stale-data", "no", replica_of=primary)
    wait_link_up(replica)
    client(primary).set("k", "v")
    wait_offsets_equal(primary, replica)
    assert client(replica).get("k") == b"v"
    primary.kill()
    wait_for(lambda: repl_info(replica)["master_link_status"] == "down", 10, "the link to go down")
    with RawClient(replica.port) as c:
        assert c.call("GET", "k") == MASTERDOWN
        assert c.call("DBSIZE") == MASTERDOWN
        assert c.call("PING") == MASTERDOWN  # PING is no "stale" command in Redis 7.0 either
        assert c.call("SET", "k", "v") == READONLY  # checked before MASTERDOWN
        assert b"role:slave" in c.call("INFO", "replication")
        assert c.call("ROLE")[0] == b"slave"
        assert c.call("CONFIG", "GET", "replica-serve-stale-data") == [b"replica-serve-stale-data", b"no"]
        assert c.call("MULTI") == b"OK"
        assert c.call("GET", "k") == MASTERDOWN
        assert c.call("EXEC") == "-EXECABORT Transaction discarded because of previous errors."
        assert c.call("CONFIG", "SET", "replica-serve-stale-data", "yes") == b"OK"
        assert c.call("GET", "k") == b"v"


def test_min_replicas_to_write(cluster):
    primary = cluster.start("--min-replicas-to-write", "1")
    with RawClient(primary.port) as c:
        assert c.call("SET", "k", "v") == NOREPLICAS
        assert c.call("GET", "k") is None
        assert c.call("MULTI") == b"OK"
        assert c.call("SET", "k", "v") == NOREPLICAS
        assert c.call("EXEC") == "-EXECABORT Transaction discarded because of previous errors."
        assert b"min_slaves_good_slaves:0" in c.call("INFO", "replication")
        replica = cluster.start(replica_of=primary)
        wait_link_up(replica)
        wait_for(lambda: c.call("SET", "k", "v") == b"OK", 10, "writes to be accepted with a replica")
        assert b"min_slaves_good_slaves:1" in c.call("INFO", "replication")
        replica.kill()
        wait_for(lambda: c.call("SET", "k", "v") == NOREPLICAS, 10, "writes to be refused again")
        # a CONFIG SET applies at once, either way (as in Redis)
        assert c.call("CONFIG", "SET", "min-replicas-to-write", "0") == b"OK"
        assert c.call("SET", "k", "v") == b"OK"
        assert c.call("CONFIG", "SET", "min-replicas-to-write", "1") == b"OK"
        assert c.call("SET", "k", "v") == NOREPLICAS


# -- REPLICAOF, ROLE, INFO ----------------------------------------------------------------------


def test_replicaof_inside_multi(cluster):
    primary = cluster.start()
    client(primary).set("k", "v")
    other = cluster.start()
    with RawClient(other.port) as c:
        assert c.call("MULTI") == b"OK"
        assert c.call("REPLICAOF", "127.0.0.1", primary.port) == b"QUEUED"
        assert c.call("EXEC") == [b"OK"]
        wait_link_up(other)
        wait_offsets_equal(primary, other)
        assert c.call("GET", "k") == b"v"
        # what Sentinel sends to promote a replica
        assert c.call("MULTI") == b"OK"
        assert c.call("SLAVEOF", "NO", "ONE") == b"QUEUED"
        assert c.call("CLIENT", "KILL", "TYPE", "normal") == b"QUEUED"
        assert c.call("EXEC") == [b"OK", 0]
        assert c.call("ROLE")[0] == b"master"
        assert c.call("SET", "x", "1") == b"OK"
        assert c.call("SLAVEOF", "127.0.0.1", primary.port) == b"OK"
        assert c.call("SLAVEOF", "127.0.0.1", primary.port) == b"OK Already connected to specified master"
    wait_link_up(other)
    wait_offsets_equal(primary, other)
    assert_same_dataset(primary, other)  # the local write is gone with the resync


def test_role_replies(cluster):
    primary = cluster.start()
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    with RawClient(primary.port) as c:
        assert c.call("SET", "k", "v") == b"OK"
        assert c.call("WAIT", 1, 5000) == 1
        offset = wait_offsets_equal(primary, replica)
        # the ACK a GETACK brings leaves the GETACK itself out (as Redis's): the next
        # once-a-second ACK has the whole offset
        expected = [b"master", offset, [[b"127.0.0.1", str(replica.port).encode(), str(offset).encode()]]]
        wait_for(lambda: c.call("ROLE") == expected, 5, f"ROLE to be {expected}")
    with RawClient(replica.port) as c:
        assert c.call("ROLE") == [b"slave", b"127.0.0.1", primary.port, b"connected", offset]
        primary.kill()
        wait_for(lambda: repl_info(replica)["master_link_status"] == "down", 10, "the link to go down")
        role = c.call("ROLE")
        assert role[:3] == [b"slave", b"127.0.0.1", primary.port]
        assert role[3] in (b"connect", b"connecting")
        assert role[4] == -1


def _shape(value: object) -> object:
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def _fields(info: dict) -> set:
    names = set()
    for key, value in info.items():
        names.add(key)
        if isinstance(value, dict):
            names |= {f"{key}.{sub}" for sub in value}
    return names


@pytest.mark.skipif(not redis_server_path(), reason="redis-server is not installed")
def test_role_and_info_fields_match_redis(cluster):
    pairs = {}
    redis_primary = start_redis("--repl-diskless-sync-delay", "0")
    redis_replica = start_redis("--replicaof", "127.0.0.1", str(redis_primary.port))
    try:
        magpie_primary = cluster.start()
        magpie_replica = cluster.start(replica_of=magpie_primary)
        pairs = {"redis": (redis_primary, redis_replica), "magpie": (magpie_primary, magpie_replica)}
        seen: dict = {}
        for kind, (p, r) in pairs.items():
            wait_link_up(r)
            with RawClient(p.port) as c:
                c.call("SET", "k", "v")
                assert c.call("WAIT", 1, 5000) == 1
                seen[kind, "primary role"] = _shape(c.call("ROLE"))
            seen[kind, "primary info"] = _fields(repl_info(p))
            seen[kind, "replica info"] = _fields(repl_info(r))
            with RawClient(r.port) as c:
                seen[kind, "replica role"] = _shape(c.call("ROLE"))
            p.kill()
            wait_for(lambda r=r: repl_info(r)["master_link_status"] == "down", 10, "the link to go down")
            seen[kind, "replica info, link down"] = _fields(repl_info(r))
            with RawClient(r.port) as c:
                seen[kind, "replica role, link down"] = _shape(c.call("ROLE"))
        for what in ("primary role", "primary info", "replica info", "replica role",
                     "replica info, link down", "replica role, link down"):  # fmt: skip
            assert seen["magpie", what] == seen["redis", what], what
    finally:
        redis_replica.kill()
        redis_primary.kill()
        redis_replica.stop()
        redis_primary.stop()


# -- a replica that stops reading -----------------------------------------------------------------


def test_stalled_replica_dropped_at_output_limit(cluster):
    primary = cluster.start("--repl-backlog-size", "64kb")
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    pc = client(primary)
    pc.config_set("client-output-buffer-limit", "replica 1mb 512kb 1")
    populate(primary, "a")
    wait_offsets_equal(primary, replica)
    mark = len(primary.log())
    pause(replica)
    try:
        value = os.urandom(100_000)
        dropped = False
        for i in range(400):  # up to 40 MB of stream (the kernel's socket buffers take a few)
            pc.set(f"big:{i % 10}", value)
            if i % 10 == 0 and repl_info(primary)["connected_slaves"] == 0:
                dropped = True
                break
        if not dropped:
            wait_for(lambda: repl_info(primary)["connected_slaves"] == 0, 5, "the stalled replica to be dropped")
        assert "for overcoming of output buffer limits" in log_since(primary, mark)
        omem = [line for line in pc.execute_command("CLIENT", "LIST").decode().splitlines() if "flags=S" in line]
        assert omem == []
    finally:
        resume(replica)
    # it comes back with a full resync (the backlog is far behind) and catches up
    wait_link_up(replica, 30)
    wait_offsets_equal(primary, replica)
    assert_same_dataset(primary, replica)


# -- garbage on the link ----------------------------------------------------------------------------------


FAKE_REPLID = "f" * 40


class FakePrimary:
    """A listening socket that answers a replica's handshake (PING, AUTH, REPLCONF) and
    then, for its PSYNC, plays the armed scenario. A connection that finds no scenario
    armed is closed at once. Each scenario's outcome goes to ``outcomes``: "replica
    closed" (the replica dropped the link) or "fake closed" (the scenario ended it)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.scenario = None
        self.outcomes: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def arm(self, scenario) -> None:
        with self.lock:
            self.scenario = scenario

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                scenario, self.scenario = self.scenario, None
            if scenario is None:
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn, scenario), daemon=True).start()

    def _serve(self, conn: socket.socket, scenario) -> None:
        conn.settimeout(10)
        reader = hiredis.Reader()
        try:
            while True:
                command = reader.gets()
                if command is False:
                    chunk = conn.recv(65536)
                    if not chunk:
                        self.outcomes.put(("replica closed during the handshake", None))
                        return
                    reader.feed(chunk)
                    continue
                name = command[0].upper()
                if name == b"PSYNC":
                    break
                conn.sendall(b"+PONG\r\n" if name == b"PING" else b"+OK\r\n")
            if scenario(conn, command) == "close":
                conn.close()
                self.outcomes.put(("fake closed", command))
                return
            while conn.recv(65536):  # ACKs and the like, until the replica drops the link
                pass
            self.outcomes.put(("replica closed", command))
        except (OSError, TimeoutError) as exc:
            self.outcomes.put((f"error {exc!r}", None))
        finally:
            conn.close()


def _send(*chunks: bytes, close: bool = False):
    def scenario(conn: socket.socket, _psync) -> str | None:
        for chunk in chunks:
            conn.sendall(chunk)
        return "close" if close else None

    return scenario


def _fullresync(rest: bytes, close: bool = False):
    return _send(b"+FULLRESYNC " + FAKE_REPLID.encode() + b" 0\r\n", rest, close=close)


def test_fake_primary_sending_garbage(cluster):
    """Whatever a primary sends, at whatever byte it stops, the replica drops the link
    (logging why), stays up and keeps serving its dataset as it was."""
    replica = cluster.start("--save", "")
    # a real snapshot to cut: this server's own, of a dataset it then replaces
    populate(replica, "new")
    client(replica).save()
    with open(os.path.join(replica.workdir, "dump.rdb"), "rb") as fh:
        rdb = fh.read()
    new = dataset(replica)
    client(replica).flushall()
    populate(replica, "old")
    old = dataset(replica)
    fake = FakePrimary()
    rc = client(replica)
    mark = 0

    def run(scenario, expect_log: str, expect: dict, outcome: str = "replica closed") -> None:
        nonlocal mark
        mark = len(replica.log())
        fake.arm(scenario)
        rc.replicaof("127.0.0.1", fake.port)
        got, _ = fake.outcomes.get(timeout=15)
        assert got == outcome, expect_log
        wait_for(lambda: expect_log in log_since(replica, mark), 5, f"the log line {expect_log!r}")
        rc.replicaof("NO", "ONE")
        assert replica.alive(), expect_log
        assert_same_dataset(expect, replica)

    try:
        run(_send(b"\x00\x01garbage\xff\r\n"), "Unexpected reply to PSYNC from master", old)
        run(_send(b"-ERR go away\r\n"), "Unexpected reply to PSYNC from master", old)
        run(_send(b"+FULLRESYNC bogus\r\n"), "wrong +FULLRESYNC syntax", old)
        run(_send(b"+FULLRESYNC " + b"f" * 40 + b" notanumber\r\n"), "wrong +FULLRESYNC syntax", old)
        run(_send(b"+CONTINUE short\r\n"), "wrong +CONTINUE syntax", old)
        run(_fullresync(b"$notanumber\r\n"), "bad bulk length", old)
        run(_fullresync(b"$-5\r\n"), "bad bulk length", old)
        run(_fullresync(b"hello\r\n"), "the first byte is not '$'", old)
        run(_fullresync(b"$EOF:short\r\n"), "bad EOF mark", old)
        run(_fullresync(b"x" * 100_000), "reply line too long", old)
        # snapshots cut at every kind of place: nothing of them is applied
        for cut in (0, 1, 9, 30, len(rdb) // 3, len(rdb) // 2, len(rdb) - 9, len(rdb) - 1):
            run(_fullresync(b"$%d\r\n" % len(rdb) + rdb[:cut], close=True),
                "I/O error trying to sync with MASTER: connection lost", old, outcome="fake closed")  # fmt: skip
        mark_eof = b"m" * 40
        run(_fullresync(b"$EOF:" + mark_eof + b"\r\n" + rdb[: len(rdb) // 2], close=True),
            "I/O error trying to sync with MASTER: connection lost", old, outcome="fake closed")  # fmt: skip
        # whole but not a snapshot, or with a wrong checksum: refused as a whole
        run(_fullresync(b"$100\r\n" + os.urandom(100)), "Failed trying to load the MASTER synchronization DB", old)
        bad_crc = rdb[:-1] + bytes([rdb[-1] ^ 0xFF])
        run(_fullresync(b"$%d\r\n" % len(bad_crc) + bad_crc), "Failed trying to load the MASTER synchronization DB", old)
        run(_fullresync(b"$EOF:" + mark_eof + b"\r\n" + rdb[:-20] + mark_eof),
            "Failed trying to load the MASTER synchronization DB", old)  # fmt: skip
        # a good snapshot, then a good command, then a stream that is not RESP
        good = encode(b"SET", b"streamed", b"1")
        run(_fullresync(b"$%d\r\n" % len(rdb) + rdb + good + b"*2\r\n$abc\r\n"), "Protocol error from MASTER",
            {**new, (0, b"streamed"): ("string", b"1", new[(0, b"new:int")][2])})  # fmt: skip
        after_sync = dataset(replica)
        # a partial resync whose stream has an unknown command (logged, skipped), then garbage
        run(_send(b"+CONTINUE " + b"e" * 40 + b"\r\n", encode(b"PING"),
                  encode(b"NOTACOMMAND", b"x"), encode(b"SET", b"cont", b"2"), b"*1\r\n$99999999999\r\n"),
            "Protocol error from MASTER", {**after_sync, (0, b"cont"): ("string", b"2", new[(0, b"new:int")][2])})  # fmt: skip
        assert "This replica is sending an error to its master" in replica.log()
    finally:
        fake.close()
    assert replica.alive()
    assert client(replica).ping()


def test_refused_snapshot_leaves_the_rdb_file(cluster):
    """A snapshot from the primary that does not load is refused as a whole: the dataset
    in memory stays, and so must the RDB file on disk (else a restart finds garbage, or
    data the server never served)."""
    replica, old = _old_dataset(cluster)
    with open(os.path.join(replica.workdir, "dump.rdb"), "rb") as fh:
        saved = fh.read()
    fake = FakePrimary()
    try:
        fake.arm(_fullresync(b"$100\r\n" + os.urandom(100)))
        client(replica).replicaof("127.0.0.1", fake.port)
        assert fake.outcomes.get(timeout=15)[0] == "replica closed"
        client(replica).replicaof("NO", "ONE")
    finally:
        fake.close()
    assert_same_dataset(old, replica)
    with open(os.path.join(replica.workdir, "dump.rdb"), "rb") as fh:
        assert fh.read() == saved
    replica.kill()
    replica = cluster.restart(replica, "--save", "3600 1")
    replica.wait_loaded()
    assert_same_dataset(old, replica)


def encode(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def _read_until(sock: socket.socket, wanted: bytes) -> bytes:
    data = b""
    while wanted not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_garbage_from_a_fake_replica(cluster):
    """A client that starts a sync and then sends garbage, or vanishes, costs the primary
    that connection and nothing else; a real replica syncs afterwards."""
    primary = cluster.start()
    populate(primary, "a")
    garbage = [b"\x00\xff\xfe garbage \r\n", b"*99999999999\r\n", b"*1\r\n$-3\r\n", b"*2\r\n$3\r\nfoo\r\n$-999\r\n"]
    for i, junk in enumerate(garbage):
        # PSYNC and garbage at once (the server reads on after the PSYNC, as Redis does)
        with socket.create_connection(("127.0.0.1", primary.port), timeout=10) as sock:
            sock.sendall(encode(b"PSYNC", b"?", b"-1") + junk)
            _read_until(sock, b"+FULLRESYNC")
        # garbage once a snapshot is on its way (diskless, or from disk)
        with socket.create_connection(("127.0.0.1", primary.port), timeout=10) as sock:
            diskless = i % 2 == 0
            if diskless:
                sock.sendall(encode(b"REPLCONF", b"capa", b"eof"))
                assert _read_until(sock, b"+OK\r\n") == b"+OK\r\n"
            sock.sendall(encode(b"PSYNC", b"?", b"-1"))
            assert b"+FULLRESYNC" in _read_until(sock, b"$EOF:" if diskless else b"REDIS")
            sock.sendall(junk)
    # as in Redis, a PSYNC right behind another command's unsent reply is refused
    with socket.create_connection(("127.0.0.1", primary.port), timeout=10) as sock:
        sock.sendall(encode(b"REPLCONF", b"capa", b"eof") + encode(b"PSYNC", b"?", b"-1"))
        assert _read_until(sock, b"output\r\n") == b"+OK\r\n-ERR SYNC and PSYNC are invalid with pending output\r\n"
    # odd but well-formed: acks that are not numbers, from a client that is no replica
    with RawClient(primary.port) as c:
        c.send("REPLCONF", "ACK", "notanumber")
        c.send("REPLCONF", "ACK", "-5")
        assert c.call("PING") == b"PONG"
        assert c.call("REPLCONF", "listening-port", "x") == "-ERR value is not an integer or out of range"
        assert c.call("REPLCONF", "nonsense", "1") == "-ERR Unrecognized REPLCONF option: nonsense"
    # a sync that is started and abandoned at once, and one that asks for an unknown history
    with socket.create_connection(("127.0.0.1", primary.port), timeout=10) as sock:
        sock.sendall(encode(b"SYNC"))
    with socket.create_connection(("127.0.0.1", primary.port), timeout=10) as sock:
        sock.sendall(encode(b"PSYNC", b"9" * 40, b"123456789"))
        assert sock.recv(12).startswith(b"+FULLRESYNC")
    assert primary.alive()
    wait_for(lambda: repl_info(primary)["connected_slaves"] == 0, 10, "the fake replicas to be gone")
    wait_for(lambda: client(primary).info("persistence")["rdb_bgsave_in_progress"] == 0, 10, "no snapshot left")
    replica = cluster.start(replica_of=primary)
    wait_link_up(replica)
    wait_offsets_equal(primary, replica)
    assert_same_dataset(primary, replica)
