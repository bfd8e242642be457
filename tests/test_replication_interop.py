"""Replication between Magpie and a real redis-server 7.0, both ways, over real sockets.

Each direction, with the snapshot through a file and diskless: a dataset of every type
(rdb_helpers.build_dataset: every encoding size class, TTLs, several databases) written
before the replica attaches, then a stream of writes of every family (strings, expiries,
lists, hashes, sets with SPOP, zsets, bitmaps, keys: RENAME, COPY, MOVE, RESTORE; MULTI/EXEC;
blocking pops served later; SELECT changes, FLUSHDB, SWAPDB; lazily expired keys). The
oracle is the other server: every key, type, value and PEXPIRETIME compare equal, and the
replica's slave_repl_offset is the primary's master_repl_offset byte for byte. Then a
replica link is killed and comes back with a partial resync (the stream still in db 5); WAIT,
ROLE and INFO replication; chains of both kinds; a promoted replica of either kind that the
other kind follows with a partial resync. Then the protocol's corners: PUBLISH to replicas'
subscribers, replicas logging in as an ACL user, a backlog outrun (a full resync), restarted
replicas continuing from their RDB, a writable replica's own writes, a PEXPIREAT that is past
when the replica applies it.

Every wait polls with a deadline; nothing asserts how long something took.
"""

from __future__ import annotations

import reprlib
import threading
import time

import pytest
import redis
from rdb_helpers import _score, build_dataset
from replication_helpers import wait_until
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
        for server in reversed(self.started):  # replicas first: a primary's SIGTERM waits for them
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



def admin(server: ServerProcess) -> redis.Redis:
    """A client, logged in if the test gave the server a password."""
    return server.client(protocol=2, password=server.extra.get("password"))


def repl_info(server: ServerProcess) -> dict:
    return admin(server).info("replication")


def stats(server: ServerProcess) -> dict:
    return admin(server).info("stats")


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
    # write_dataset's short TTLs: gone from the primary (its DEL sent) before anything is read
    soon = [f"exp:soon:{i}" for i in range(10)]
    wait_until(lambda: not admin(primary).exists(*soon), "the short TTLs to expire")
    wait_in_sync(primary, *replicas)
    expected = contents(primary)
    assert expected
    for replica in replicas:
        got = contents(replica)
        if got != expected:
            missing = sorted(set(expected) - set(got))[:10]
            extra = sorted(set(got) - set(expected))[:10]
            differ = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])[:5]
            shortener = reprlib.Repr()
            shortener.maxstring = shortener.maxother = 60
            shortener.maxlist = 6
            short = shortener.repr
            pytest.fail(
                f"{replica.kind} replica differs from {primary.kind} primary: missing {missing}, extra {extra}, "
                f"different {[(k, short(expected[k]), short(got[k])) for k in differ]}"
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
        persistence = primary.client(protocol=2).info
        wait_until(lambda: persistence("persistence")["rdb_bgsave_in_progress"], "the snapshot to start")
        at = writer.batches
        wait_until(lambda: writer.batches >= at + 3, "writes while the snapshot is made")
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
    x("SELECT", 11)  # never read: the active expiry cycle deletes them (a DEL each on the wire)
    for i in range(30):
        x("SET", f"{p}active:{i}", i, "PX", 20 + i)
    x("SELECT", 0)
    wait_until(lambda: "db11" not in admin(server).info("keyspace"), "the active expiry cycle")
    soon = [p + "soon", p + "hsoon", *(f"exp:soon:{i}" for i in range(10))]
    wait_until(lambda: not x("EXISTS", *soon), "the short TTLs to expire")


# -- Magpie primary, redis-server replica, and the reverse ------------------------------------


def sync_stream_and_resume(primary: ServerProcess, replica: ServerProcess) -> None:
    """The body of both directions: dataset, sync under writes, the stream, a killed link
    and a partial resync that goes on in the stream's database."""
    write_dataset(primary)
    sync_under_writes(primary, replica)
    assert stats(primary)["sync_full"] == 1
    assert_same_data(primary, replica)
    write_stream(primary)
    assert_same_offsets(primary, replica)
    assert_same_data(primary, replica)
    # WAIT counts the replica once it has ACKed the write
    pc = primary.client(protocol=2)
    pc.set("waited", "v")
    assert pc.execute_command("WAIT", 1, 10_000) == 1
    # the link goes while the stream is in db 5; the backlog has the rest, with no SELECT
    c5 = primary.client(protocol=2, db=5)
    c5.set("before-kill", 1)
    before = stats(primary)
    assert pc.client_kill_filter(_type="replica") == 1
    c5.set("after-kill", 2)
    c5.incr("before-kill")
    wait_in_sync(primary, replica)
    c5.rpush("after-resync", 3)
    write_stream(primary, 1)
    assert_same_offsets(primary, replica)
    after = stats(primary)
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert after["sync_full"] == before["sync_full"] == 1
    assert "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization" in replica.log()
    assert replica.client(db=5).mget("before-kill", "after-kill") == [b"2", b"2"]
    assert_same_data(primary, replica)
    assert pc.execute_command("WAIT", 1, 10_000) == 1
    # ROLE and INFO on the primary show the replica and its ACKed offset
    offset = repl_info(primary)["master_repl_offset"]
    role = wait_until(lambda: (r := pc.execute_command("ROLE"))[2] and int(r[2][0][2]) == offset and r,
                      "the replica's ACK")  # fmt: skip
    assert role[0] == b"master" and role[1] == offset
    assert [entry[:2] for entry in role[2]] == [[b"127.0.0.1", str(replica.port).encode()]]
    slave0 = repl_info(primary)["slave0"]
    assert (slave0["ip"], slave0["port"], slave0["state"]) == ("127.0.0.1", replica.port, "online")


@pytest.mark.parametrize("mode", [*MODES, "diskless-load"])
def test_redis_replica_of_magpie(servers, mode):
    """diskless-load: the redis replica parses the diskless transfer straight from the socket
    (repl-diskless-load swapdb) instead of saving it first."""
    primary = servers("magpie", "disk" if mode == "disk" else "diskless")
    replica = servers("redis", "disk" if mode == "disk" else "diskless")
    if mode == "diskless-load":
        replica.client().config_set("repl-diskless-load", "swapdb")
    # an FT index with a vector field: its magpie-ft-* aux fields ride in the snapshot, and
    # redis-server skips them as unknown aux fields
    pc = primary.client(protocol=2)
    for i in range(50):
        pc.hset(f"doc:{i}", mapping={"v": bytes([i]) * 16, "tag": f"t{i % 3}"})
    pc.execute_command("FT.CREATE", "idx", "PREFIX", 1, "doc:", "SCHEMA", "tag", "TAG",
                       "v", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32", "DIM", 4, "DISTANCE_METRIC", "L2")  # fmt: skip
    sync_stream_and_resume(primary, replica)
    assert replica.client().hget("doc:7", "v") == bytes([7]) * 16  # (the stream's FLUSHDB dropped idx)
    target = "disk" if mode == "disk" else "replicas sockets"
    assert f"Starting BGSAVE for SYNC with target: {target}" in primary.log()
    if mode == "diskless-load":
        assert "receiving streamed RDB from master with EOF to parser" in replica.log()
    assert set(repl_info(primary)) == PRIMARY_INFO_FIELDS


#: INFO replication of a redis-server 7.0 primary with one replica.
PRIMARY_INFO_FIELDS = {
    "role", "connected_slaves", "slave0", "master_failover_state", "master_replid", "master_replid2",
    "master_repl_offset", "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
    "repl_backlog_first_byte_offset", "repl_backlog_histlen",
}  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
def test_magpie_replica_of_redis(servers, mode):
    primary = servers("redis", mode)
    replica = servers("magpie", mode)
    sync_stream_and_resume(primary, replica)
    assert set(repl_info(primary)) == PRIMARY_INFO_FIELDS
    # what Magpie says of itself
    pinfo, rinfo = repl_info(primary), repl_info(replica)
    assert rinfo["role"] == "slave"
    assert rinfo["master_host"] == "127.0.0.1" and rinfo["master_port"] == primary.port
    assert rinfo["master_link_status"] == "up" and rinfo["master_sync_in_progress"] == 0
    assert rinfo["master_replid"] == pinfo["master_replid"]
    assert rinfo["slave_read_only"] == 1 and rinfo["connected_slaves"] == 0
    assert rinfo["slave_read_repl_offset"] == rinfo["slave_repl_offset"] == pinfo["master_repl_offset"]
    assert rinfo["master_repl_offset"] == pinfo["master_repl_offset"]
    role = replica.client().execute_command("ROLE")
    assert role[:4] == [b"slave", b"127.0.0.1", primary.port, b"connected"]
    assert role[4] == pinfo["master_repl_offset"]
    # a replica refuses writes, and WAIT
    with pytest.raises(redis.ReadOnlyError):
        replica.client().set("x", 1)
    with pytest.raises(redis.ResponseError, match="WAIT cannot be used with replica instances"):
        replica.client().execute_command("WAIT", 1, 0)


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
    # FLUSHALL, then the whole dataset again, this time through the stream
    admin(head).flushall()
    write_dataset(head)
    write_stream(head, 1)
    assert_same_offsets(head, middle, tail)
    assert_same_data(head, middle, tail)


# -- promotion across kinds ---------------------------------------------------------------------


def test_redis_follows_a_promoted_magpie_replica(servers):
    """Magpie primary with a redis replica and a Magpie replica (both in one diskless
    transfer); the primary dies, the Magpie replica is promoted, the redis replica follows
    it with a partial resync."""
    primary = servers("magpie", "diskless")
    redis_replica = servers("redis", "diskless")
    magpie_replica = servers("magpie", "diskless")
    write_dataset(primary)
    # one transfer for both: it starts when the second replica asks
    primary.client().config_set("repl-diskless-sync-delay", 30)
    primary.client().config_set("repl-diskless-sync-max-replicas", 2)
    replicate(redis_replica, primary)
    replicate(magpie_replica, primary)
    wait_in_sync(primary, redis_replica)
    wait_in_sync(primary, magpie_replica)
    assert primary.log().count("Starting BGSAVE for SYNC with target: replicas sockets") == 1
    assert stats(primary)["sync_full"] == 2
    write_stream(primary)
    wait_in_sync(primary, redis_replica)
    wait_in_sync(primary, magpie_replica)
    assert_same_data(primary, redis_replica)
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


# -- more of the protocol -----------------------------------------------------------------------

DIRECTIONS = [("magpie", "redis"), ("redis", "magpie")]
DIRECTION_IDS = ["magpie-to-redis", "redis-to-magpie"]





@pytest.mark.parametrize("kinds", DIRECTIONS,
                         ids=DIRECTION_IDS)  # fmt: skip
def test_publish_reaches_subscribers_on_the_replica(servers, kinds):
    """PUBLISH and SPUBLISH go down the stream (Redis forces their propagation outside a
    cluster), so a replica's subscribers get them too."""
    primary, replica = servers(kinds[0]), servers(kinds[1])
    replicate(replica, primary)
    wait_in_sync(primary, replica)
    sub = replica.client(protocol=2).pubsub(ignore_subscribe_messages=True)
    sub.subscribe("news")
    sub.psubscribe("n*")
    sub.ssubscribe("shard")
    wait_until(lambda: replica.client().execute_command("PUBSUB", "NUMSUB", "news")[1] == 1, "the subscription")
    pc = primary.client(protocol=2)
    pc.publish("news", "hello")
    pc.execute_command("SPUBLISH", "shard", "sharded")
    got = []
    deadline = time.monotonic() + 3
    while len(got) < 3 and time.monotonic() < deadline:
        message = sub.get_message(timeout=0.1) or sub.get_sharded_message(timeout=0.1)
        if message:
            got.append((message["type"], message["channel"], message["data"]))
    assert sorted(got) == [("message", b"news", b"hello"), ("pmessage", b"news", b"hello"),
                           ("smessage", b"shard", b"sharded")]  # fmt: skip
    assert_same_offsets(primary, replica)
    sub.close()


@pytest.mark.parametrize("kinds", DIRECTIONS, ids=DIRECTION_IDS)
def test_replica_authenticates_as_an_acl_user(servers, kinds):
    """The primary's default user has a password; the replica logs in as an ACL user with
    just the replication commands (masteruser/masterauth)."""
    primary, replica = servers(kinds[0]), servers(kinds[1])
    pc = primary.client(protocol=2)
    pc.execute_command("ACL", "SETUSER", "repl", "on", ">s3cret", "+psync", "+replconf", "+ping")
    pc.config_set("requirepass", "topsecret")
    primary.extra["password"] = "topsecret"
    pc = admin(primary)
    pc.set("k", "v")
    rc = replica.client()
    rc.config_set("masteruser", "repl")
    rc.config_set("masterauth", "s3cret")
    replicate(replica, primary)
    wait_in_sync(primary, replica)
    pc.set("after", "auth")
    wait_in_sync(primary, replica)
    assert replica.client().mget("k", "after") == [b"v", b"auth"]
    # the link's user shows on the primary
    assert any(b"user=repl" in line and b"flags=S" in line
               for line in pc.execute_command("CLIENT", "LIST").splitlines())  # fmt: skip


@pytest.mark.parametrize("kinds", DIRECTIONS, ids=DIRECTION_IDS)
def test_backlog_outrun_means_a_full_resync(servers, kinds):
    """More written while the link is down than the backlog holds: PSYNC is refused, a full
    sync follows, and the data still match."""
    primary, replica = servers(kinds[0]), servers(kinds[1])
    pc = primary.client(protocol=2)
    pc.config_set("repl-backlog-size", 16384)
    write_dataset(primary)
    replicate(replica, primary)
    wait_in_sync(primary, replica)
    before = stats(primary)
    pipe = pc.pipeline(transaction=False)
    pipe.client_kill_filter(_type="replica")
    pipe.set("outrun", "x" * 100_000)  # in the same read: before the replica can come back
    pipe.execute()
    wait_in_sync(primary, replica)
    after = stats(primary)
    assert after["sync_full"] == before["sync_full"] + 1 == 2
    assert after["sync_partial_ok"] == 0
    # (the first sync's count differs: a fresh redis-server replica offers its own replid, so
    # its primary counts a refused PSYNC; Magpie asks PSYNC ? -1)
    assert after["sync_partial_err"] == before["sync_partial_err"] + 1
    assert_same_data(primary, replica)




def test_a_writable_magpie_replicas_own_writes_stay_local(servers):
    """redis -> Magpie (writable) -> redis: a write made on the middle stays there, and the
    offsets along the chain stay the head's."""
    head, middle, tail = servers("redis"), servers("magpie"), servers("redis")
    try:
        replicate(middle, head)
        replicate(tail, middle)
        head.client().set("from-head", 1)
        wait_in_sync(head, middle, tail)
        middle.client().config_set("replica-read-only", "no")
        middle.client().set("local-only", "here")
        head.client().set("from-head-2", 2)
        wait_until(lambda: tail.client().get("from-head-2") == b"2", "the head's write at the tail")
        assert middle.client().get("local-only") == b"here"
        assert tail.client().get("local-only") is None
        assert repl_info(middle)["master_repl_offset"] == repl_info(head)["master_repl_offset"]
        assert_same_offsets(head, middle, tail)
    finally:
        head.kill()  # (redis-server's SIGTERM would wait for a replica whose ACK is not its offset)




@pytest.mark.parametrize("kinds", DIRECTIONS,
                         ids=DIRECTION_IDS)  # fmt: skip
def test_a_restarted_replica_continues_with_a_partial_resync(servers, kinds):
    """A replica stopped (SIGTERM saves its RDB, with its primary's repl-id, offset and stream
    database) and started again on its directory, with replicaof, continues from the
    primary's backlog, in the database the stream was in."""
    primary = servers(kinds[0])
    start_replica = start_magpie if kinds[1] == "magpie" else start_redis
    replica = start_replica("--save", "3600 1")
    servers.started.append(replica)
    write_dataset(primary)
    replicate(replica, primary)
    wait_in_sync(primary, replica)
    write_stream(primary)  # (so the replica's offset is past its sync's: see test_..._at_offset_0)
    p3 = primary.client(protocol=2, db=3)
    p3.set("in-db3", "before")
    wait_in_sync(primary, replica)
    replica.stop(keep_dir=True)
    p3.set("while-down", "in db 3")  # the stream is still in db 3: no SELECT before it
    p3.incr("counter")
    before = stats(primary)
    replica = start_replica("--save", "3600 1", "--replicaof", "127.0.0.1", str(primary.port), workdir=replica.workdir)
    servers.started.append(replica)
    wait_in_sync(primary, replica)
    after = stats(primary)
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert after["sync_full"] == before["sync_full"]
    assert replica.client(db=3).mget("in-db3", "while-down", "counter") == [b"before", b"in db 3", b"1"]
    assert_same_data(primary, replica)


@pytest.mark.parametrize("kind", ["redis", "magpie"])
def test_a_restarted_replica_at_offset_0_continues(servers, kind):
    """The same restart right after a first sync, before any byte of stream."""
    primary = servers("redis")
    start_replica = start_magpie if kind == "magpie" else start_redis
    replica = start_replica("--save", "3600 1")
    servers.started.append(replica)
    primary.client().set("k", "v")
    replicate(replica, primary)
    wait_in_sync(primary, replica)
    if repl_info(replica)["slave_repl_offset"] != 0:
        pytest.skip("the primary's PING went out already")
    replica.stop(keep_dir=True)
    primary.client().set("while-down", 1)
    replica = start_replica("--save", "3600 1", "--replicaof", "127.0.0.1", str(primary.port), workdir=replica.workdir)
    servers.started.append(replica)
    wait_in_sync(primary, replica)
    s = stats(primary)
    assert (s["sync_full"], s["sync_partial_ok"]) == (1, 1)
    assert replica.client().mget("k", "while-down") == [b"v", b"1"]




@pytest.mark.parametrize("kind", ["redis", "magpie"])
def test_a_replica_keeps_a_key_whose_expire_time_passed_in_transit(servers, kind):
    """The primary sets a 1 ms TTL and removes it again; the replica gets that while its link
    is down (it comes back at least 100 ms later), so the PEXPIREAT it applies is in the past."""
    primary, replica = servers("redis"), servers(kind)
    pc = primary.client(protocol=2)
    pc.set("k", "v")
    pc.rpush("l", 1, 2)
    replicate(replica, primary)
    wait_in_sync(primary, replica)
    pipe = pc.pipeline(transaction=False)
    pipe.client_kill_filter(_type="replica")
    pipe.execute_command("MULTI")
    pipe.pexpire("k", 1)
    pipe.persist("k")
    pipe.set("s", "v", px=1)
    pipe.persist("s")
    pipe.pexpire("l", 1)
    pipe.rpush("l", 3)  # on a key that exists on the primary
    pipe.persist("l")
    pipe.execute_command("EXEC")
    pipe.execute()
    wait_in_sync(primary, replica)
    assert pc.mget("k", "s") == [b"v", b"v"] and pc.lrange("l", 0, -1) == [b"1", b"2", b"3"]
    assert_same_data(primary, replica)
