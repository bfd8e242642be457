"""Replication between Magpie and a real redis-server 7.0, both ways, over real sockets.

Each direction, with the snapshot through a file and diskless: a dataset of every type
(rdb_helpers.build_dataset: every encoding size class, TTLs, several databases) written
before the replica attaches, then a stream of writes of every family (strings, expiries,
lists, hashes, sets with SPOP, zsets, bitmaps, keys: RENAME, COPY, MOVE, RESTORE; MULTI/EXEC;
blocking pops served later; SELECT changes, FLUSHDB, SWAPDB; lazily expired keys). The
oracle is the other server: every key, type, value and PEXPIRETIME compare equal, and the
replica's slave_repl_offset is the primary's master_repl_offset byte for byte. Then a
replica link is killed and comes back with a partial resync; chains of both kinds; and a
promoted replica of either kind that the other kind follows with a partial resync.

Every wait polls with a deadline; nothing asserts how long something took.
"""

from __future__ import annotations

import threading
import time

import pytest
import redis
from rdb_helpers import _score, build_dataset
from servers import ServerProcess, redis_server_path, start_magpie, start_redis

pytestmark = pytest.mark.skipif(redis_server_path() is None, reason="redis-server is not installed")

DBS = range(16)
MODES = ["disk", "diskless"]


# -- servers ------------------------------------------------------------------------------------


def repl_args(mode: str) -> tuple[str, ...]:
    """The same flags for either kind of server."""
    return ("--repl-diskless-sync", "yes" if mode == "diskless" else "no", "--repl-diskless-sync-delay", "0")


def start(kind: str, mode: str = "disk") -> ServerProcess:
    return (start_magpie if kind == "magpie" else start_redis)(*repl_args(mode))


class Servers:
    """Every server a test starts, stopped at its end whatever happens."""

    def __init__(self) -> None:
        self.started: list[ServerProcess] = []

    def __call__(self, kind: str, mode: str = "disk") -> ServerProcess:
        server = start(kind, mode)
        self.started.append(server)
        return server

    def close(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture
def servers():
    group = Servers()
    yield group
    group.close()


def conn(server: ServerProcess) -> redis.Redis:
    """One connection (SELECT stays put), RESP2."""
    return server.client(protocol=2, single_connection_client=True)


def raw(server: ServerProcess) -> redis.Redis:
    """``conn`` with the replies as the server sent them (no redis-py callbacks)."""
    client = conn(server)
    client.response_callbacks.clear()
    return client


# -- waiting ------------------------------------------------------------------------------------


def wait_until(predicate, what: str, timeout: float = 30):  # noqa: ANN001 - callable
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def repl_info(server: ServerProcess) -> dict:
    return server.client(protocol=2).info("replication")


def stats(server: ServerProcess) -> dict:
    return server.client(protocol=2).info("stats")


def replicate(replica: ServerProcess, primary: ServerProcess) -> None:
    assert replica.client().execute_command("REPLICAOF", "127.0.0.1", primary.port) in (b"OK", "OK")


def in_sync(primary: ServerProcess, replica: ServerProcess) -> bool:
    info = repl_info(replica)
    if info.get("master_link_status") != "up" or info.get("master_port") != primary.port:
        return False
    return info["slave_repl_offset"] == repl_info(primary)["master_repl_offset"]


def wait_in_sync(primary: ServerProcess, *replicas: ServerProcess, timeout: float = 30) -> None:
    """Each replica linked and at the primary's offset (a chain: pass it in order)."""
    upstream = primary
    for replica in replicas:
        wait_until(lambda up=upstream, r=replica: in_sync(up, r),
                   f"{replica.kind}:{replica.port} to catch up with {upstream.kind}:{upstream.port}\n"
                   f"primary: {repl_info(upstream)}\nreplica: {repl_info(replica)}\n"
                   f"replica log tail:\n{replica.log()[-3000:]}", timeout)  # fmt: skip
        upstream = replica


def assert_same_offsets(primary: ServerProcess, *replicas: ServerProcess) -> None:
    """Byte-exact offsets along the chain: slave_repl_offset == the upstream's master_repl_offset
    (re-read after a wait, since a PING may have just gone out)."""
    wait_in_sync(primary, *replicas)
    for replica in replicas:
        info = repl_info(replica)
        assert info["master_repl_offset"] == info["slave_repl_offset"]


def contents(server: ServerProcess) -> dict:
    """rdb_helpers.server_contents' shape, {(db, key): (type, value, PEXPIRETIME or None)},
    read with pipelines (thousands of keys)."""
    out = {}
    for db in DBS:
        client = server.client(protocol=2, db=db)
        keys = sorted(client.scan_iter(count=1000))
        if not keys:
            continue
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.type(key)
            pipe.execute_command("PEXPIRETIME", key)
        meta = pipe.execute()
        kinds = [k.decode() for k in meta[::2]]
        for key, kind in zip(keys, kinds, strict=True):
            if kind == "string":
                pipe.get(key)
            elif kind == "list":
                pipe.lrange(key, 0, -1)
            elif kind == "set":
                pipe.smembers(key)
            elif kind == "hash":
                pipe.hgetall(key)
            elif kind == "zset":
                pipe.zrange(key, 0, -1, withscores=True)
            else:
                pipe.type(key)
        values = pipe.execute()
        for key, kind, when, value in zip(keys, kinds, meta[1::2], values, strict=True):
            if kind == "set":
                value = frozenset(value)
            elif kind == "hash":
                value = sorted(value.items())
            elif kind == "zset":
                value = [(m, _score(s)) for m, s in value]
            out[db, key] = (kind, value, None if when < 0 else when)
    return out


def assert_same_data(primary: ServerProcess, *replicas: ServerProcess) -> dict:
    expected = contents(primary)
    assert expected
    for replica in replicas:
        got = contents(replica)
        missing = sorted(set(expected) - set(got))[:10]
        extra = sorted(set(got) - set(expected))[:10]
        differ = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])[:10]
        assert got == expected, (
            f"{replica.kind} replica differs from {primary.kind} primary: missing {missing}, extra {extra}, "
            f"different {[(k, expected[k], got[k]) for k in differ]}"
        )
    return expected


# -- what is written ----------------------------------------------------------------------------


def write_dataset(server: ServerProcess) -> None:
    """Before the replica attaches: every type and encoding, TTLs absolute and relative, and
    more databases than rdb_helpers' (1, 9 with TTLs)."""
    c = conn(server)
    build_dataset(c, is_redis=server.kind == "redis")
    c.set("ttl:rel", "v", ex=5000)
    c.rpush("ttl:list", 1, 2, 3)
    c.pexpire("ttl:list", 7_000_000)
    c.sadd("ttl:intset", 1, 2, 3)
    c.expire("ttl:intset", 9000)
    c.zadd("ttl:zset", {"a": 1})
    c.expire("ttl:zset", 9000)
    c.execute_command("SELECT", 1)
    for i in range(50):
        c.set(f"db1:{i}", i * 3, ex=10_000 + i if i % 5 == 0 else None)
    c.rpush("db1:list", *range(100))
    c.execute_command("SELECT", 9)
    c.sadd("db9:set", *(f"m{i}" for i in range(40)))
    c.hset("db9:hash", mapping={"a": 1, "b": "two"})
    c.expire("db9:hash", 6000)
    c.set("db9:long", "z" * 20000, px=8_000_000)
    c.execute_command("SELECT", 5)
    c.set("db5:only", "five")
    c.execute_command("SELECT", 0)
    for i in range(10):  # they expire about when the snapshot is made: the primary's DEL decides
        c.set(f"exp:soon:{i}", i, px=100 + 30 * i)
    # enough keys for rdb-key-save-delay to slow a snapshot down (Magpie sleeps per 1024 keys)
    pipe = server.client(protocol=2, db=4).pipeline(transaction=False)
    for i in range(FILLER):
        pipe.set(f"fill:{i}", i)
        if i % 10 == 0:
            pipe.expire(f"fill:{i}", 100_000 + i)
    pipe.execute()


FILLER = 3000


class BackgroundWriter(threading.Thread):
    """Writes in batches on one connection, switching databases, until stopped: what a
    primary is sent while a replica's snapshot is made, sent and loaded."""

    def __init__(self, server: ServerProcess) -> None:
        super().__init__(daemon=True)
        self.client = raw(server)
        self.halt = threading.Event()
        self.batches = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            n = 0
            while not self.halt.is_set():
                for _ in range(20):
                    n += 1
                    pipe.execute_command("SELECT", n % 3 * 2)  # 0, 2, 4
                    pipe.execute_command("INCR", "during:count")
                    pipe.execute_command("RPUSH", "during:list", n)
                    pipe.execute_command("SET", f"during:{n}", n, "EX", 10_000 + n)
                    pipe.execute_command("HINCRBY", "during:hash", n % 7, 1)
                    if n % 5 == 0:
                        pipe.execute_command("DEL", f"fill:{n}")
                pipe.execute()
                self.batches += 1
                time.sleep(0.005)  # a load a Python replica keeps up with
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def stop(self) -> None:
        self.halt.set()
        self.join(30)
        assert self.error is None, self.error


def sync_under_writes(primary: ServerProcess, replica: ServerProcess) -> None:
    """REPLICAOF while the primary takes writes; a slow snapshot (rdb-key-save-delay) so
    many land while it is made; writing goes on a little after the link is up."""
    primary.client().config_set("rdb-key-save-delay", 100)  # µs a key (Magpie: a step of 1024)
    writer = BackgroundWriter(primary)
    writer.start()
    try:
        wait_until(lambda: writer.batches >= 2, "the writer to start")
        replicate(replica, primary)
        wait_until(lambda: repl_info(replica).get("master_link_status") == "up", "the link to come up")
        at = writer.batches
        wait_until(lambda: writer.batches >= at + 5, "writes after the sync")
    finally:
        writer.stop()
        primary.client().config_set("rdb-key-save-delay", 0)
    wait_in_sync(primary, replica)


class BlockedPop(threading.Thread):
    """A client blocked on a pop, served by a later push."""

    def __init__(self, server: ServerProcess, db: int, *argv: object) -> None:
        super().__init__(daemon=True)
        self.client = server.client(protocol=2, db=db, socket_timeout=30)
        self.argv = argv
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.client.execute_command(*self.argv)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def blocked_count(server: ServerProcess) -> int:
    return server.client(protocol=2).info("clients")["blocked_clients"]


def write_stream(server: ServerProcess, round_: int = 0) -> None:
    """After the sync: writes of every family, on one connection that changes databases."""
    c = raw(server)
    x = c.execute_command
    p = f"w{round_}:"
    now = int(time.time())
    x("SELECT", 0)
    # strings
    x("SET", p + "s", "v1")
    x("APPEND", p + "s", "-more")
    x("SETRANGE", p + "s", 2, "ZZ")
    x("INCR", p + "n")
    x("INCRBY", p + "n", 41)
    x("DECR", p + "n")
    x("DECRBY", p + "n", 5)
    x("INCRBYFLOAT", p + "f", "1.5")
    x("INCRBYFLOAT", p + "f", "0.1")
    x("INCRBYFLOAT", p + "f", "-3.0e2")
    x("SET", p + "fttl", "10", "EX", 100)
    x("INCRBYFLOAT", p + "fttl", "0.25")  # SET ... KEEPTTL on the wire
    x("MSET", p + "m1", "1", p + "m2", "2")
    x("MSETNX", p + "m3", "3", p + "m4", "4")
    x("SETNX", p + "m1", "not-set")
    x("GETSET", p + "m2", "22")
    x("GETDEL", p + "m4")
    x("SET", p + "big", "q" * 5000)
    x("SETBIT", p + "bits", 100, 1)
    x("BITOP", "OR", p + "bitor", p + "bits", "s")
    x("BITFIELD", p + "bf", "SET", "u8", 0, 200, "INCRBY", "u8", 0, 100, "OVERFLOW", "SAT", "INCRBY", "i4", 8, 50)
    # expiries
    x("SET", p + "ex", "v", "EX", 500)
    x("SET", p + "px", "v", "PX", 600_000)
    x("SETEX", p + "setex", 700, "v")
    x("PSETEX", p + "psetex", 800_000, "v")
    x("SET", p + "exat", "v", "EXAT", now + 900)
    x("SET", p + "pxat", "v", "PXAT", (now + 950) * 1000 + 123)
    x("SET", p + "keep", "v", "EX", 100)
    x("SET", p + "keep", "v2", "KEEPTTL")
    x("SET", p + "drop", "v", "EX", 100)
    x("SET", p + "drop", "v2")  # the TTL goes
    x("EXPIRE", p + "s", 1000)
    x("PEXPIRE", p + "n", 2_000_000)
    x("EXPIREAT", p + "m1", now + 3000)
    x("PEXPIREAT", p + "m2", (now + 3000) * 1000 + 7)
    x("EXPIRE", p + "m1", 10, "GT")  # refused by GT: no change
    x("EXPIRE", p + "m3", 4000, "NX")
    x("SET", p + "per", "v", "EX", 100)
    x("PERSIST", p + "per")
    x("GETEX", p + "ex", "PERSIST")
    x("GETEX", p + "setex", "EX", 300)
    x("EXPIRE", p + "big", -1)  # deletes: a DEL on the wire
    x("SET", p + "soon", "v", "PX", 1)
    x("HSET", p + "hsoon", "f", "v")
    x("PEXPIRE", p + "hsoon", 1)
    # lists
    x("RPUSH", p + "l", *range(10))
    x("LPUSH", p + "l", "a", "b")
    x("LPUSHX", p + "l", "c")
    x("RPUSHX", p + "nolist", "c")
    x("LPOP", p + "l")
    x("RPOP", p + "l", 2)
    x("LINSERT", p + "l", "BEFORE", 5, "ins")
    x("LSET", p + "l", 0, "first")
    x("LREM", p + "l", 0, 3)
    x("LTRIM", p + "l", 0, 7)
    x("LMOVE", p + "l", p + "l2", "LEFT", "RIGHT")
    x("RPOPLPUSH", p + "l", p + "l2")
    x("LMPOP", 2, p + "none", p + "l", "RIGHT", "COUNT", 2)
    x("RPUSH", p + "lbig", *(f"e{i}" * 20 for i in range(300)))
    # hashes
    x("HSET", p + "h", "a", 1, "b", 2, "c", "three")
    x("HMSET", p + "h", "d", 4)
    x("HSETNX", p + "h", "a", "no")
    x("HDEL", p + "h", "b", "missing")
    x("HINCRBY", p + "h", "a", 10)
    x("HINCRBYFLOAT", p + "h", "fl", "2.5")
    x("HINCRBYFLOAT", p + "h", "fl", "0.1")
    x("HSET", "hash:large", "f1", "changed")
    x("HDEL", "hash:small", "n")
    # sets
    x("SADD", p + "si", *range(20))
    x("SADD", p + "ss", "a", "b", "c", 1, 2)
    x("SREM", p + "si", 3, 4)
    x("SPOP", p + "si")
    x("SPOP", p + "si", 3)
    x("SPOP", "set:hashtable-ints", 10)
    x("SPOP", "set:strings", 10)  # more than it holds: the key goes
    x("SMOVE", p + "ss", p + "si", "a")
    x("SINTERSTORE", p + "sinter", p + "si", p + "ss")
    x("SUNIONSTORE", p + "sunion", p + "si", p + "ss")
    x("SDIFFSTORE", p + "sdiff", p + "si", p + "ss")
    # zsets
    x("ZADD", p + "z", 1, "a", 2, "b", 3, "c", 4.5, "d", "-inf", "lo", "+inf", "hi")
    x("ZADD", p + "z", "NX", 10, "a", 5, "e")
    x("ZADD", p + "z", "XX", "GT", 20, "a")
    x("ZADD", p + "z", "INCR", 0.1, "b")
    x("ZINCRBY", p + "z", -1.5, "c")
    x("ZREM", p + "z", "d")
    x("ZPOPMIN", p + "z")
    x("ZPOPMAX", p + "z", 1)
    x("ZRANGESTORE", p + "zr", p + "z", 0, 1)
    x("ZUNIONSTORE", p + "zu", 2, p + "z", "zset:small", "WEIGHTS", 2, 3, "AGGREGATE", "MAX")
    x("ZINTERSTORE", p + "zi", 2, p + "z", p + "zr")
    x("ZDIFFSTORE", p + "zd", 2, p + "z", p + "zr")
    x("ZREMRANGEBYSCORE", "zset:large", 0, 5)
    x("ZREMRANGEBYRANK", "zset:large", 0, 3)
    x("ZADD", p + "zlex", 0, "a", 0, "b", 0, "c", 0, "d")
    x("ZREMRANGEBYLEX", p + "zlex", "[b", "(d")
    x("ZMPOP", 1, p + "zlex", "MIN")
    # keys
    x("SET", p + "ren", "r")
    x("RENAME", p + "ren", p + "renamed")
    x("RENAMENX", p + "renamed", p + "m3")  # exists: no change
    x("COPY", "list:small", p + "copy")
    x("COPY", "hash:small", p + "copy1", "DB", 1)
    x("COPY", "ttl:str", p + "copyttl")
    x("COPY", "s", p + "copy", "REPLACE")
    x("SET", p + "mv", "moving")
    x("MOVE", p + "mv", 3)
    x("DEL", p + "m3", "nonexistent")
    x("UNLINK", p + "psetex")
    payload = x("DUMP", "zset:small")
    x("RESTORE", p + "rz", 0, payload)
    x("RESTORE", p + "rzttl", 123_456_789, x("DUMP", "list:large"))
    x("RESTORE", p + "rz", (now + 5000) * 1000, x("DUMP", "hash:large"), "REPLACE", "ABSTTL")
    x("TOUCH", "s")
    # a transaction across databases
    x("MULTI")
    x("SET", p + "tx", "t")
    x("INCR", p + "txn")
    x("LPUSH", p + "txl", 1, 2)
    x("SELECT", 1)
    x("SET", p + "tx-db1", "one", "EX", 2000)
    x("SPOP", "db1:list")  # not a set: an error inside EXEC
    x("SELECT", 0)
    x("EXEC")
    x("MULTI")  # empty: nothing to propagate
    x("EXEC")
    watcher = raw(server)
    watcher.execute_command("WATCH", p + "tx")
    x("SET", p + "tx", "changed")
    watcher.execute_command("MULTI")
    watcher.execute_command("SET", p + "tx", "lost")
    assert watcher.execute_command("EXEC") is None  # aborted: nothing propagated
    # a transaction and values bigger than one read of the stream
    x("SET", p + "huge", bytes(range(256)) * 2000)  # 512 KB
    x("MULTI")
    for i in range(1500):
        x("RPUSH", p + "bigtx", f"{i:05d}" + "b" * 200)
    x("HSET", p + "bigtx-h", "f", "v" * 100_000)
    x("EXEC")
    # blocking pops served later
    pops = [
        BlockedPop(server, 0, "BLPOP", p + "bl1", p + "bl2", 20),
        BlockedPop(server, 0, "BRPOP", p + "bl3", 20),
        BlockedPop(server, 1, "BLMOVE", p + "bsrc", p + "bdst", "LEFT", "RIGHT", 20),
        BlockedPop(server, 0, "BZPOPMIN", p + "bz", 20),
        BlockedPop(server, 0, "BLMPOP", 20, 1, p + "bl4", "LEFT", "COUNT", 2),
        BlockedPop(server, 3, "BZMPOP", 20, 1, p + "bz3", "MAX"),
    ]
    for pop in pops:
        pop.start()
    wait_until(lambda: blocked_count(server) == len(pops), "the pops to block")
    x("RPUSH", p + "bl2", "x", "y")
    x("LPUSH", p + "bl3", "z")
    x("SELECT", 1)
    x("RPUSH", p + "bsrc", "m", "n")
    x("SELECT", 0)
    x("ZADD", p + "bz", 2, "two", 1, "one")
    x("MULTI")  # pushed in a transaction: served at its end
    x("RPUSH", p + "bl4", "1", "2", "3")
    x("EXEC")
    x("SELECT", 3)
    x("ZADD", p + "bz3", 1, "a", 9, "z")
    for pop in pops:
        pop.join(30)
        assert pop.error is None, pop.error
    assert list(pops[0].result) == [(p + "bl2").encode(), b"x"]
    assert pops[2].result == b"m"
    # database-wide commands
    x("SELECT", 7)
    x("SET", p + "doomed", "d")
    x("RPUSH", p + "doomed-list", 1)
    x("FLUSHDB")
    x("SET", p + "db7", "after flush")
    x("SELECT", 2)
    x("SET", p + "db2", "two")
    x("SWAPDB", 2, 6)  # db 6 now has it, db 2 is empty
    x("SWAPDB", 1, 8)
    x("SWAPDB", 8, 1)  # and back
    x("SELECT", 9)
    x("SADD", "db9:set", "new")
    x("SELECT", 0)
    # the short TTLs have run out: their deletion (lazy here, or active) is a DEL on the wire
    time.sleep(0.01)
    soon = [p + "soon", p + "hsoon", *(f"exp:soon:{i}" for i in range(10))]
    wait_until(lambda: not x("EXISTS", *soon), "the short TTLs to expire")


# -- Magpie primary, redis-server replica -------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_redis_replica_of_magpie(servers, mode):
    primary = servers("magpie", mode)
    replica = servers("redis", mode)
    write_dataset(primary)
    sync_under_writes(primary, replica)
    assert_same_data(primary, replica)
    assert stats(primary)["sync_full"] == 1
    kind = "diskless" if mode == "diskless" else "disk"
    assert ("Starting BGSAVE for SYNC with target: " + ("replicas sockets" if kind == "diskless" else "disk")) in primary.log()
    write_stream(primary)
    assert_same_offsets(primary, replica)
    assert_same_data(primary, replica)
    # the link goes; what is written meanwhile comes from the backlog
    before = stats(primary)
    assert primary.client().client_kill_filter(_type="replica") == 1
    write_stream(primary, 1)
    assert_same_offsets(primary, replica)
    after = stats(primary)
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert after["sync_full"] == before["sync_full"]
    assert "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization" in replica.log()
    assert_same_data(primary, replica)
    # the replica's ACKs reach Magpie: ROLE and INFO show its offset
    offset = repl_info(primary)["master_repl_offset"]
    role = wait_until(lambda: (r := primary.client().execute_command("ROLE"))[2] and int(r[2][0][2]) == offset and r,
                      "the replica's ACK")  # fmt: skip
    assert role[0] == b"master" and role[2][0][1] == str(replica.port).encode()
    assert repl_info(primary)["slave0"]["state"] == "online"


# -- redis-server primary, Magpie replica -------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_magpie_replica_of_redis(servers, mode):
    primary = servers("redis", mode)
    replica = servers("magpie", mode)
    write_dataset(primary)
    sync_under_writes(primary, replica)
    assert_same_data(primary, replica)
    write_stream(primary)
    assert_same_offsets(primary, replica)
    assert_same_data(primary, replica)
    # WAIT on redis counts Magpie once it has ACKed the write
    pc = primary.client(protocol=2)
    pc.set("waited", "v")
    assert pc.execute_command("WAIT", 1, 5000) == 1
    assert_same_offsets(primary, replica)
    # the link goes; redis serves the rest from its backlog
    before = stats(primary)
    assert pc.client_kill_filter(_type="replica") == 1
    write_stream(primary, 1)
    assert_same_offsets(primary, replica)
    after = stats(primary)
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert after["sync_full"] == before["sync_full"] == 1
    assert_same_data(primary, replica)
    # what Magpie says of itself
    pinfo, rinfo = repl_info(primary), repl_info(replica)
    assert rinfo["role"] == "slave"
    assert rinfo["master_host"] == "127.0.0.1" and rinfo["master_port"] == primary.port
    assert rinfo["master_link_status"] == "up" and rinfo["master_sync_in_progress"] == 0
    assert rinfo["master_replid"] == pinfo["master_replid"]
    assert rinfo["slave_read_only"] == 1 and rinfo["connected_slaves"] == 0
    assert rinfo["slave_read_repl_offset"] == rinfo["slave_repl_offset"] == pinfo["master_repl_offset"]
    role = replica.client().execute_command("ROLE")
    assert role[:4] == [b"slave", b"127.0.0.1", primary.port, b"connected"]
    assert role[4] == pinfo["master_repl_offset"]
    # and what redis says of it
    prole = pc.execute_command("ROLE")
    assert prole[0] == b"master" and [e[:2] for e in prole[2]] == [[b"127.0.0.1", str(replica.port).encode()]]
    assert pinfo["slave0"]["port"] == replica.port and pinfo["slave0"]["state"] == "online"
    # a replica refuses writes
    with pytest.raises(redis.ReadOnlyError):
        replica.client().set("x", 1)


# -- chains -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kinds", [("redis", "magpie", "redis"), ("magpie", "redis", "magpie")],
                         ids=["redis-magpie-redis", "magpie-redis-magpie"])  # fmt: skip
def test_chain(servers, kinds):
    head, middle, tail = (servers(kind, "diskless") for kind in kinds)
    write_dataset(head)
    replicate(middle, head)
    wait_in_sync(head, middle)
    replicate(tail, middle)
    wait_in_sync(head, middle, tail)
    write_stream(head)
    assert_same_offsets(head, middle, tail)
    assert_same_data(head, middle, tail)
    assert repl_info(tail)["master_replid"] == repl_info(head)["master_replid"]


# -- promotion across kinds ---------------------------------------------------------------------


def test_redis_follows_a_promoted_magpie_replica(servers):
    """Magpie primary with a redis replica and a Magpie replica; the primary dies, the
    Magpie replica is promoted, the redis replica follows it with a partial resync."""
    primary = servers("magpie")
    redis_replica = servers("redis")
    magpie_replica = servers("magpie")
    write_dataset(primary)
    replicate(redis_replica, primary)
    replicate(magpie_replica, primary)
    write_stream(primary)
    wait_in_sync(primary, redis_replica)
    wait_in_sync(primary, magpie_replica)
    old_replid = repl_info(primary)["master_replid"]
    primary.kill()
    magpie_replica.client().execute_command("REPLICAOF", "NO", "ONE")
    info = repl_info(magpie_replica)
    assert info["role"] == "master" and info["master_replid2"] == old_replid
    assert info["second_repl_offset"] == info["master_repl_offset"] + 1
    replicate(redis_replica, magpie_replica)
    write_stream(magpie_replica, 1)
    assert_same_offsets(magpie_replica, redis_replica)
    s = stats(magpie_replica)
    assert s["sync_partial_ok"] == 1 and s["sync_full"] == 0
    assert "Successful partial resynchronization with master" in redis_replica.log()
    assert repl_info(redis_replica)["master_replid"] == repl_info(magpie_replica)["master_replid"]
    assert_same_data(magpie_replica, redis_replica)


def test_magpie_follows_a_promoted_redis_replica(servers):
    """The reverse: redis primary, Magpie and redis replicas; the redis replica is promoted
    and Magpie follows it with +CONTINUE. On the way, Magpie's INFO replication and ROLE
    have the fields a redis replica of the same primary has."""
    primary = servers("redis")
    redis_replica = servers("redis")
    magpie_replica = servers("magpie")
    write_dataset(primary)
    replicate(redis_replica, primary)
    replicate(magpie_replica, primary)
    write_stream(primary)
    wait_in_sync(primary, redis_replica)
    wait_in_sync(primary, magpie_replica)
    rinfo, minfo = repl_info(redis_replica), repl_info(magpie_replica)
    assert set(minfo) == set(rinfo), (set(minfo) ^ set(rinfo))
    for name in ("role", "master_host", "master_port", "master_link_status", "master_sync_in_progress",
                 "slave_repl_offset", "slave_read_repl_offset", "slave_priority", "slave_read_only",
                 "replica_announced", "connected_slaves", "master_failover_state", "master_replid",
                 "master_repl_offset", "repl_backlog_active", "repl_backlog_size"):  # fmt: skip
        assert minfo[name] == rinfo[name], name
    rrole, mrole = (s.client().execute_command("ROLE") for s in (redis_replica, magpie_replica))
    assert mrole == rrole
    primary.kill()
    redis_replica.client().execute_command("REPLICAOF", "NO", "ONE")
    replicate(magpie_replica, redis_replica)
    write_stream(redis_replica, 1)
    assert_same_offsets(redis_replica, magpie_replica)
    s = stats(redis_replica)
    assert s["sync_partial_ok"] == 1 and s["sync_full"] == 0
    log = magpie_replica.log()
    assert "Successful partial resynchronization with master" in log
    assert "Master replication ID changed to " + repl_info(redis_replica)["master_replid"] in log
    assert repl_info(magpie_replica)["master_replid"] == repl_info(redis_replica)["master_replid"]
    assert_same_data(redis_replica, magpie_replica)
