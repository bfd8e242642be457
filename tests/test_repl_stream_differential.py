"""The replication stream, Magpie against a real redis-server 7.0.

Each scenario starts a fresh server, attaches a ``FakeReplica`` (a full sync), runs a few
write commands with redis-py and reads what the primary streamed, up to a closing marker
write. Absolute times (``PXAT``, ``PEXPIREAT``, ``RESTORE ... ABSTTL``) are checked to lie
where the scenario's relative TTL puts them and become ``<now+Ns>``; ``PING`` and
``REPLCONF GETACK`` are dropped (their timing is the server's own).

``test_redis_stream`` checks real Redis streams exactly what ``EXPECTED`` records: those
are Redis 7.0's propagation rules as observed, the oracle. ``test_magpie_stream`` compares
Magpie's stream with Redis's live; it skips ("magpie primary not landed") while Magpie
answers the handshake with an unknown-command error, so it starts running by itself once
the primary side exists. Scenarios whose commands Magpie lacks skip the same way.

The tool self-tests (full sync in both transfer forms, byte-exact offsets, partial resync,
the diskless transfer's wait for an ACK, AUTH) run against both servers under the same
runtime check, and the parser is checked against a scripted primary (keepalives, split
packets, the snapshot's exact end).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import redis
from repl_peer import (
    FakeReplica,
    ReplicationError,
    Snapshot,
    StreamCommand,
    encode_command,
    parse_multibulk,
    rdb_keys,
)
from servers import ServerProcess, redis_server_path, start_magpie, start_redis

pytestmark = pytest.mark.skipif(not redis_server_path(), reason="redis-server is not installed")

NOT_LANDED = "magpie primary not landed"
KINDS = ["redis", "magpie"]
#: The port the fake replica announces (REPLCONF listening-port); nothing listens there.
REPLICA_PORT = 6390
#: The closing write every scenario's stream is read up to (included in the comparison).
END = [b"SET", b"repl:end", b"end"]
#: DUMP of the string "hello" by Redis 7.0 (RDB 10), so both servers RESTORE the same bytes.
HELLO_DUMP = b"\x00\x05hello\n\x00cr\xdfve4 \n"

_magpie_landed: bool | None = None  # None: not probed yet


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def start(kind: str, diskless: bool = False, *args: str) -> ServerProcess:
    sync = "yes" if diskless else "no"
    if kind == "redis":
        return start_redis("--repl-diskless-sync", sync, "--repl-diskless-sync-delay", "0", *args)
    if _magpie_landed is False:
        pytest.skip(NOT_LANDED)
    return start_magpie("--repl-diskless-sync", sync, *args)


@contextlib.contextmanager
def primary_side(server: ServerProcess) -> Iterator[None]:
    """Around a handshake or PSYNC: on Magpie an unknown-command answer skips the test (no
    primary side yet), and is remembered so later tests skip without starting Magpie."""
    global _magpie_landed
    try:
        yield
    except ReplicationError as exc:
        if server.kind == "magpie" and exc.unknown_command:
            _magpie_landed = False
            pytest.skip(NOT_LANDED)
        raise
    if server.kind == "magpie":
        _magpie_landed = True


def attach(server: ServerProcess, replica: FakeReplica) -> tuple[str, int, Snapshot]:
    """Handshake, PSYNC ? -1, the snapshot and a first ACK."""
    with primary_side(server):
        return replica.full_sync(listening_port=REPLICA_PORT)


# -- scenarios -------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a scenario runs against: ``c`` (db 0, bytes replies) and helpers."""

    server: ServerProcess
    c: redis.Redis
    _clients: list[redis.Redis] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _errors: list[BaseException] = field(default_factory=list)

    def client(self, db: int = 0) -> redis.Redis:
        client = self.server.client(db=db, protocol=2)
        self._clients.append(client)
        return client

    def background(self, fn: Callable[[redis.Redis], object]) -> None:
        """Run ``fn`` on its own connection in a thread (a blocking command)."""
        client = self.client()

        def body() -> None:
            try:
                fn(client)
            except BaseException as exc:  # reported by finish()
                self._errors.append(exc)

        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait_info(self, section: str, field_name: str, at_least: int, timeout: float = 5) -> None:
        """Poll INFO (which touches no key) until ``field_name`` reaches ``at_least``."""
        deadline = time.monotonic() + timeout
        while int(self.c.info(section).get(field_name, 0)) < at_least:
            if time.monotonic() > deadline:
                raise TimeoutError(f"INFO {section} {field_name} never reached {at_least}")
            time.sleep(0.01)

    def wait_blocked(self, n: int = 1) -> None:
        self.wait_info("clients", "blocked_clients", n)

    def finish(self) -> None:
        for thread in self._threads:
            thread.join(5)
            assert not thread.is_alive(), "a background command never returned"
        for client in self._clients:
            client.close()
        if self._errors:
            raise self._errors[0]


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Ctx], object]
    #: Rewrites a normalized stream before the comparison (random members, say).
    normalize: Callable[[list[list[bytes]]], list[list[bytes]]] | None = None
    diskless: bool = False


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str | None = None, **options: object) -> Callable:
    def register(fn: Callable[[Ctx], object]) -> Callable[[Ctx], object]:
        key = name or fn.__name__
        SCENARIOS[key] = Scenario(key, fn, **options)  # type: ignore[arg-type]
        return fn

    return register


@scenario()
def set_options(x: Ctx) -> None:
    c = x.c
    c.set("plain", "v")
    c.set("ex", "v", ex=100)
    c.set("px", "v", px=200_000)
    c.set("exat", "v", exat=int(time.time()) + 300)
    c.set("pxat", "v", pxat=now_ms() + 400_000)
    c.set("ex", "w", keepttl=True)
    c.set("nx-ex", "v", nx=True, ex=100)
    c.set("nx-ex", "v", nx=True, ex=100)  # not set: nothing propagated
    c.set("missing", "v", xx=True)  # not set: nothing propagated
    c.set("plain", "w", get=True)
    c.set("plain", "x", ex=100, get=True)
    c.set("pxat", "w", keepttl=True, get=True)
    c.set("nx", "v", nx=True)
    c.set("nx", "w", xx=True, get=True)
    c.set("nx", "x", xx=True, px=100_000, get=True)


@scenario()
def setex_psetex(x: Ctx) -> None:
    x.c.execute_command("SETEX", "a", 100, "v")
    x.c.execute_command("PSETEX", "b", 200_000, "v")


@scenario()
def expire_family(x: Ctx) -> None:
    c = x.c
    c.set("k", "v")
    c.expire("k", 100)
    c.pexpire("k", 200_000)
    c.expireat("k", int(time.time()) + 300)
    c.pexpireat("k", now_ms() + 400_000)
    c.expire("k", 500, gt=True)
    c.expire("k", 10, gt=True)  # not changed: nothing propagated
    c.persist("k")
    c.persist("k")  # no TTL any more: nothing propagated
    c.expire("missing", 100)  # no key: nothing propagated
    c.set("gone", "v")
    c.expire("gone", -1)  # a TTL in the past deletes
    c.set("gone2", "v")
    c.pexpireat("gone2", 1000)


@scenario()
def getex(x: Ctx) -> None:
    c = x.c
    c.set("k", "v")
    c.getex("k")  # no option: nothing propagated
    c.getex("k", ex=100)
    c.getex("k", pxat=now_ms() + 200_000)
    c.getex("k", persist=True)
    c.getex("missing", ex=100)


@scenario()
def incrbyfloat(x: Ctx) -> None:
    x.c.incrbyfloat("f", 1.5)
    x.c.set("g", "10", ex=100)
    x.c.incrbyfloat("g", "0.1")
    x.c.incrbyfloat("f", "3.0e3")


@scenario()
def hincrbyfloat(x: Ctx) -> None:
    x.c.hincrbyfloat("h", "f", 1.5)
    x.c.hincrbyfloat("h", "f", "2.0e2")


@scenario()
def spop_single(x: Ctx) -> None:
    x.c.sadd("s", "only")
    x.c.spop("s")  # the last member: the set goes
    x.c.spop("s")  # no key: nothing propagated


def _members_placeholder(stream: list[list[bytes]]) -> list[list[bytes]]:
    """SPOP's members are random: keep how many, not which."""
    return [argv[:2] + [b"<member>"] * (len(argv) - 2) if argv[0] == b"SREM" else argv for argv in stream]


@scenario(normalize=_members_placeholder)
def spop_count(x: Ctx) -> None:
    c = x.c
    c.sadd("s", *range(10))
    c.spop("s", 1)
    c.spop("s", 2)
    c.spop("s", 5)  # more than a third of what is left
    c.spop("s", 0)  # nothing propagated
    c.sadd("t", "a", "b", "c")
    c.spop("t", 3)  # the whole set
    c.sadd("u", "a", "b")
    c.spop("u", 10)  # more than the whole set


@scenario()
def srandmember(x: Ctx) -> None:
    x.c.sadd("s", "a", "b", "c")
    x.c.srandmember("s")
    x.c.srandmember("s", 2)
    x.c.srandmember("s", -5)


@scenario()
def lazy_expiry(x: Ctx) -> None:
    x.c.set("k", "v", px=50)
    time.sleep(0.12)
    assert x.c.get("k") is None


@scenario()
def active_expiry(x: Ctx) -> None:
    x.c.set("k", "v", px=30)
    x.wait_info("stats", "expired_keys", 1)


@scenario()
def select_db_changes(x: Ctx) -> None:
    db3 = x.client(db=3)
    x.c.set("a", "0")
    x.c.set("b", "0")
    db3.set("a", "3")
    db3.set("b", "3")
    x.c.set("c", "0")


@scenario()
def multi_exec(x: Ctx) -> None:
    pipe = x.c.pipeline(transaction=True)
    pipe.set("a", "1").incr("n").rpush("l", "x", "y").get("a").delete("missing")
    pipe.execute()


@scenario()
def exec_one_write(x: Ctx) -> None:
    pipe = x.c.pipeline(transaction=True)
    pipe.get("a").set("a", "1").get("a")
    pipe.execute()


@scenario()
def exec_no_write(x: Ctx) -> None:
    x.c.set("a", "1")
    pipe = x.c.pipeline(transaction=True)
    pipe.get("a").delete("missing").exists("a")
    pipe.execute()


@scenario()
def multi_exec_other_db(x: Ctx) -> None:
    db5 = x.client(db=5)
    pipe = db5.pipeline(transaction=True)
    pipe.set("a", "5").set("b", "5")
    pipe.execute()
    x.c.set("a", "0")


@scenario()
def noop_writes(x: Ctx) -> None:
    c = x.c
    c.delete("missing")
    c.unlink("missing")
    c.hdel("missing", "f")
    c.srem("missing", "m")
    c.lpop("missing")
    c.set("k", "v")
    c.delete("k", "missing")


@scenario()
def blpop_served_by_push(x: Ctx) -> None:
    x.background(lambda c: c.blpop(["l"], timeout=5))
    x.wait_blocked()
    x.c.rpush("l", "a", "b", "c")


@scenario()
def brpop_served_by_push(x: Ctx) -> None:
    x.background(lambda c: c.brpop(["l", "m"], timeout=5))
    x.wait_blocked()
    x.c.lpush("m", "a", "b")


@scenario()
def blpop_immediate(x: Ctx) -> None:
    x.c.rpush("l", "a", "b")
    x.c.blpop(["l"], timeout=1)


@scenario()
def blpop_timeout(x: Ctx) -> None:
    assert x.c.blpop(["l"], timeout=0.05) is None


@scenario()
def blpop_two_waiters(x: Ctx) -> None:
    x.background(lambda c: c.blpop(["l"], timeout=5))
    x.wait_blocked(1)
    x.background(lambda c: c.blpop(["l"], timeout=5))
    x.wait_blocked(2)
    x.c.rpush("l", "a", "b", "c")


@scenario()
def lmove_blmove(x: Ctx) -> None:
    c = x.c
    c.rpush("src", "a", "b", "c")
    c.lmove("src", "dst", "LEFT", "RIGHT")
    c.blmove("src", "dst", 1, "RIGHT", "LEFT")
    c.rpoplpush("src", "dst")
    c.lmove("missing", "dst", "LEFT", "LEFT")  # nothing propagated


@scenario()
def blmove_served_by_push(x: Ctx) -> None:
    x.background(lambda c: c.blmove("src", "dst", 5, "RIGHT", "LEFT"))
    x.wait_blocked()
    x.c.rpush("src", "a", "b")


@scenario()
def zpopmin_bzpopmin(x: Ctx) -> None:
    c = x.c
    c.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    c.zpopmin("z")
    c.zpopmin("z", 2)
    c.zpopmax("z")
    c.zadd("z", {"e": 5})
    c.bzpopmin(["z"], timeout=1)
    c.zpopmin("missing")


@scenario()
def bzpopmin_served_by_zadd(x: Ctx) -> None:
    x.background(lambda c: c.bzpopmin(["z"], timeout=5))
    x.wait_blocked()
    x.c.zadd("z", {"a": 1, "b": 2})


@scenario()
def lmpop_family(x: Ctx) -> None:
    c = x.c
    c.rpush("l", "a", "b", "c", "d")
    c.lmpop(2, "missing", "l", direction="LEFT")
    c.lmpop(1, "l", direction="RIGHT", count=2)
    c.blmpop(1, 1, "l", direction="LEFT", count=5)
    c.zadd("z", {"a": 1, "b": 2, "c": 3})
    c.zmpop(1, ["z"], min=True)
    c.zmpop(1, ["z"], max=True, count=5)


@scenario()
def blmpop_served_by_push(x: Ctx) -> None:
    x.background(lambda c: c.blmpop(5, 1, "l", direction="RIGHT", count=2))
    x.wait_blocked()
    x.c.rpush("l", "a", "b", "c")


@scenario()
def lpop_count(x: Ctx) -> None:
    x.c.rpush("l", "a", "b", "c")
    x.c.lpop("l", 2)
    x.c.rpop("l", 5)


@scenario()
def restore_ttl(x: Ctx) -> None:
    x.c.restore("a", 0, HELLO_DUMP)
    x.c.restore("b", 100_000, HELLO_DUMP)
    x.c.restore("b", 200_000, HELLO_DUMP, replace=True)
    x.c.restore("c", now_ms() + 300_000, HELLO_DUMP, absttl=True)


@scenario()
def flushall_flushdb(x: Ctx) -> None:
    db2 = x.client(db=2)
    x.c.set("a", "1")
    db2.set("b", "2")
    db2.flushdb()
    x.c.flushall()
    x.c.flushall()  # already empty: propagated all the same
    db2.set("c", "3")
    db2.flushdb(asynchronous=True)
    x.c.flushall(asynchronous=True)


@scenario()
def swapdb_move_copy(x: Ctx) -> None:
    c = x.c
    c.set("a", "1")
    c.swapdb(0, 1)
    c.swapdb(1, 0)
    c.move("a", 3)
    c.set("b", "2")
    c.copy("b", "b2")
    c.copy("b", "b3", destination_db=4)
    c.copy("b", "b2")  # exists: nothing copied, nothing propagated


@scenario()
def rename_getdel(x: Ctx) -> None:
    c = x.c
    c.set("a", "1")
    c.rename("a", "b")
    c.set("c", "3")
    c.renamenx("b", "c")  # target exists: nothing propagated
    c.renamenx("b", "d")
    c.getdel("d")
    c.getdel("missing")


@scenario()
def string_edits(x: Ctx) -> None:
    c = x.c
    c.append("s", "abc")
    c.append("s", "def")
    c.setrange("s", 1, "XY")
    c.setrange("t", 3, "pad")
    c.mset({"m1": "1", "m2": "2"})
    c.msetnx({"m1": "x", "m3": "3"})  # one exists: nothing propagated
    c.msetnx({"n1": "1", "n2": "2"})
    c.execute_command("INCR", "n")
    c.execute_command("DECR", "n")
    c.incr("n")  # redis-py sends INCRBY n 1
    c.decrby("n", 5)
    c.getset("n", "0")
    c.setnx("n", "x")  # exists: nothing propagated


@scenario()
def pfadd(x: Ctx) -> None:
    x.c.pfadd("hll", "a", "b", "c")
    x.c.pfadd("hll", "a")  # no register changed: nothing propagated
    x.c.pfcount("hll")  # refreshes the cached cardinality: propagated


@scenario()
def hash_set_zset_basics(x: Ctx) -> None:
    c = x.c
    c.hset("h", mapping={"f": "1", "g": "2"})
    c.hsetnx("h", "f", "x")  # exists: nothing propagated
    c.hdel("h", "f", "missing")
    c.sadd("s", "a", "b")
    c.sadd("s", "a")  # no change: nothing propagated
    c.zadd("z", {"a": 1})
    c.zincrby("z", 2.5, "a")
    c.zadd("z", {"a": 1}, nx=True)  # no change


@scenario()
def eval_script(x: Ctx) -> None:
    x.c.eval("redis.call('set', KEYS[1], 'v'); redis.call('incr', 'n'); return 1", 1, "k")
    x.c.eval("return redis.call('get', KEYS[1])", 1, "k")


@scenario()
def ft_create_hset(x: Ctx) -> None:
    x.c.execute_command("FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA", "t", "TEXT")
    x.c.hset("doc:1", "t", "hello")


@scenario(diskless=True)
def diskless_attach(x: Ctx) -> None:
    x.c.set("a", "1")
    x.c.rpush("l", "x")


# -- running a scenario ----------------------------------------------------------------

#: Commands whose absolute time argument is normalized: name -> index of the time.
_TIME_AT = {b"PEXPIREAT": 2, b"EXPIREAT": 2}


def _placeholder(value: bytes, t0: int, t1: int, unit: int = 1) -> bytes:
    """``<now+Ns>`` for a time N seconds (a multiple of 10, or 0) after the scenario began."""
    when = int(value) * unit
    delta_s = round((when - t0) / 10_000) * 10
    low, high = t0 + delta_s * 1000 - 3000, t1 + delta_s * 1000 + 3000
    assert low <= when <= high, f"time {value!r} is not within 3 s of now+{delta_s}s"
    return b"<now+%ds>" % delta_s


def normalize(commands: list[StreamCommand], t0: int, t1: int) -> list[list[bytes]]:
    out: list[list[bytes]] = []
    for command in commands:
        argv = list(command.argv)
        name = argv[0].upper() if argv else b""
        if name == b"PING" or (name == b"REPLCONF" and argv[1:2] and argv[1].upper() == b"GETACK"):
            continue
        if name == b"SET":
            for i in range(3, len(argv) - 1):
                if argv[i].upper() == b"PXAT":
                    argv[i + 1] = _placeholder(argv[i + 1], t0, t1)
                elif argv[i].upper() == b"EXAT":
                    argv[i + 1] = _placeholder(argv[i + 1], t0, t1, 1000)
        elif name in _TIME_AT and len(argv) > 2:
            unit = 1000 if name == b"EXPIREAT" else 1
            argv[2] = _placeholder(argv[2], t0, t1, unit)
        elif name == b"RESTORE":
            if any(a.upper() == b"ABSTTL" for a in argv[4:]) and argv[2] != b"0":
                argv[2] = _placeholder(argv[2], t0, t1)
            argv = [b"<HELLO_DUMP>" if a == HELLO_DUMP else a for a in argv]
        out.append(argv)
    return out


@dataclass
class StreamRun:
    #: The normalized stream as text lines, the closing marker write left off.
    lines: list[str]
    commands: list[StreamCommand]


def _unknown_command(exc: BaseException) -> bool:
    return isinstance(exc, redis.ResponseError) and str(exc).startswith("unknown command")


def run_scenario(kind: str, sc: Scenario) -> StreamRun:
    server = start(kind, sc.diskless)
    try:
        client = server.client(protocol=2)
        with FakeReplica(server.port) as replica:
            attach(server, replica)
            t0 = now_ms()
            ctx = Ctx(server, client)
            try:
                sc.run(ctx)
            except redis.ResponseError as exc:
                if _unknown_command(exc):
                    pytest.skip(f"{kind} lacks a command of {sc.name}: {exc}")
                raise
            finally:
                ctx.finish()
            server.client(protocol=2).execute_command(*END)
            commands = replica.read_commands_until(lambda argv: argv == END, timeout=10)
            t1 = now_ms()
        stream = normalize(commands, t0, t1)
        if sc.normalize:
            stream = sc.normalize(stream)
        assert stream[-1] == END
        return StreamRun([_line(argv) for argv in stream[:-1]], commands)
    finally:
        server.stop()


_redis_runs: dict[str, StreamRun] = {}


def redis_run(name: str) -> StreamRun:
    if name not in _redis_runs:
        _redis_runs[name] = run_scenario("redis", SCENARIOS[name])
    return _redis_runs[name]


def _line(argv: list[bytes]) -> str:
    """One command as text: the arguments joined by spaces (repr'd if one holds a space)."""
    words = [a.decode("latin-1") for a in argv]
    return " ".join(w if w and " " not in w else repr(w) for w in words)


def side_by_side(left: list[str], right: list[str], names: tuple[str, str] = ("redis", "magpie")) -> str:
    width = max([len(names[0]), *map(len, left)]) + 2
    rows = [f"  {names[0]:<{width}}{names[1]}"]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        rows.append(f"{'  ' if a == b else '! '}{a:<{width}}{b}")
    return "\n".join(rows)


# -- the tests ---------------------------------------------------------------------------

#: What redis-server 7.0 streamed for each scenario (normalized, the closing write left off).
EXPECTED: dict[str, list[str]] = {
    "set_options": [
        "SELECT 0",
        "SET plain v",
        "SET ex v PXAT <now+100s>",
        "SET px v PXAT <now+200s>",
        "SET exat v PXAT <now+300s>",
        "SET pxat v PXAT <now+400s>",
        "SET ex w KEEPTTL",
        "SET nx-ex v PXAT <now+100s>",
        "SET plain w",
        "SET plain x PXAT <now+100s>",
        "SET pxat w KEEPTTL",
        "SET nx v NX",
        "SET nx w XX",
        "SET nx x PXAT <now+100s>",
    ],
    "setex_psetex": [
        "SELECT 0",
        "SET a v PXAT <now+100s>",
        "SET b v PXAT <now+200s>",
    ],
    "expire_family": [
        "SELECT 0",
        "SET k v",
        "PEXPIREAT k <now+100s>",
        "PEXPIREAT k <now+200s>",
        "PEXPIREAT k <now+300s>",
        "PEXPIREAT k <now+400s>",
        "PEXPIREAT k <now+500s> GT",
        "PERSIST k",
        "SET gone v",
        "DEL gone",
        "SET gone2 v",
        "DEL gone2",
    ],
    "getex": [
        "SELECT 0",
        "SET k v",
        "PEXPIREAT k <now+100s>",
        "PEXPIREAT k <now+200s>",
        "PERSIST k",
    ],
    "incrbyfloat": [
        "SELECT 0",
        "SET f 1.5 KEEPTTL",
        "SET g 10 PXAT <now+100s>",
        "SET g 10.1 KEEPTTL",
        "SET f 3001.5 KEEPTTL",
    ],
    "hincrbyfloat": [
        "SELECT 0",
        "HSET h f 1.5",
        "HSET h f 201.5",
    ],
    "spop_single": [
        "SELECT 0",
        "SADD s only",
        "SREM s only",
    ],
    "spop_count": [
        "SELECT 0",
        "SADD s 0 1 2 3 4 5 6 7 8 9",
        "SREM s <member>",
        "MULTI",
        "SREM s <member>",
        "SREM s <member>",
        "EXEC",
        "MULTI",
        "SREM s <member>",
        "SREM s <member>",
        "SREM s <member>",
        "SREM s <member>",
        "SREM s <member>",
        "EXEC",
        "SADD t a b c",
        "DEL t",
        "SADD u a b",
        "DEL u",
    ],
    "srandmember": [
        "SELECT 0",
        "SADD s a b c",
    ],
    "lazy_expiry": [
        "SELECT 0",
        "SET k v PXAT <now+0s>",
        "DEL k",
    ],
    "active_expiry": [
        "SELECT 0",
        "SET k v PXAT <now+0s>",
        "DEL k",
    ],
    "select_db_changes": [
        "SELECT 0",
        "SET a 0",
        "SET b 0",
        "SELECT 3",
        "SET a 3",
        "SET b 3",
        "SELECT 0",
        "SET c 0",
    ],
    "multi_exec": [
        "SELECT 0",
        "MULTI",
        "SET a 1",
        "INCRBY n 1",
        "RPUSH l x y",
        "EXEC",
    ],
    "exec_one_write": [
        "SELECT 0",
        "SET a 1",
    ],
    "exec_no_write": [
        "SELECT 0",
        "SET a 1",
    ],
    "multi_exec_other_db": [
        "SELECT 5",
        "MULTI",
        "SET a 5",
        "SET b 5",
        "EXEC",
        "SELECT 0",
        "SET a 0",
    ],
    "noop_writes": [
        "SELECT 0",
        "SET k v",
        "DEL k missing",
    ],
    "blpop_served_by_push": [
        "SELECT 0",
        "RPUSH l a b c",
        "LPOP l",
    ],
    "brpop_served_by_push": [
        "SELECT 0",
        "LPUSH m a b",
        "RPOP m",
    ],
    "blpop_immediate": [
        "SELECT 0",
        "RPUSH l a b",
        "LPOP l",
    ],
    "blpop_timeout": [
        "SELECT 0",
    ],
    "blpop_two_waiters": [
        "SELECT 0",
        "RPUSH l a b c",
        "LPOP l",
        "LPOP l",
    ],
    "lmove_blmove": [
        "SELECT 0",
        "RPUSH src a b c",
        "LMOVE src dst LEFT RIGHT",
        "LMOVE src dst RIGHT LEFT",
        "RPOPLPUSH src dst",
    ],
    "blmove_served_by_push": [
        "SELECT 0",
        "RPUSH src a b",
        "LMOVE src dst right left",
    ],
    "zpopmin_bzpopmin": [
        "SELECT 0",
        "ZADD z 1 a 2 b 3 c 4 d",
        "ZPOPMIN z",
        "ZPOPMIN z 2",
        "ZPOPMAX z",
        "ZADD z 5 e",
        "ZPOPMIN z",
    ],
    "bzpopmin_served_by_zadd": [
        "SELECT 0",
        "ZADD z 1 a 2 b",
        "ZPOPMIN z",
    ],
    "lmpop_family": [
        "SELECT 0",
        "RPUSH l a b c d",
        "LPOP l 1",
        "RPOP l 2",
        "LPOP l 1",
        "ZADD z 1 a 2 b 3 c",
        "ZPOPMIN z 1",
        "ZPOPMAX z 2",
    ],
    "blmpop_served_by_push": [
        "SELECT 0",
        "RPUSH l a b c",
        "RPOP l 2",
    ],
    "lpop_count": [
        "SELECT 0",
        "RPUSH l a b c",
        "LPOP l 2",
        "RPOP l 5",
    ],
    "restore_ttl": [
        "SELECT 0",
        "RESTORE a 0 <HELLO_DUMP>",
        "RESTORE b <now+100s> <HELLO_DUMP> ABSTTL",
        "RESTORE b <now+200s> <HELLO_DUMP> REPLACE ABSTTL",
        "RESTORE c <now+300s> <HELLO_DUMP> ABSTTL",
    ],
    "flushall_flushdb": [
        "SELECT 0",
        "SET a 1",
        "SELECT 2",
        "SET b 2",
        "FLUSHDB",
        "SELECT 0",
        "FLUSHALL",
        "FLUSHALL",
        "SELECT 2",
        "SET c 3",
        "FLUSHDB ASYNC",
        "SELECT 0",
        "FLUSHALL ASYNC",
    ],
    "swapdb_move_copy": [
        "SELECT 0",
        "SET a 1",
        "SWAPDB 0 1",
        "SWAPDB 1 0",
        "MOVE a 3",
        "SET b 2",
        "COPY b b2",
        "COPY b b3 DB 4",
    ],
    "rename_getdel": [
        "SELECT 0",
        "SET a 1",
        "RENAME a b",
        "SET c 3",
        "RENAMENX b d",
        "DEL d",
    ],
    "string_edits": [
        "SELECT 0",
        "APPEND s abc",
        "APPEND s def",
        "SETRANGE s 1 XY",
        "SETRANGE t 3 pad",
        "MSET m1 1 m2 2",
        "MSETNX n1 1 n2 2",
        "INCR n",
        "DECR n",
        "INCRBY n 1",
        "DECRBY n 5",
        "SET n 0",
    ],
    "pfadd": [
        "SELECT 0",
        "PFADD hll a b c",
        "PFCOUNT hll",
    ],
    "hash_set_zset_basics": [
        "SELECT 0",
        "HSET h f 1 g 2",
        "HDEL h f missing",
        "SADD s a b",
        "ZADD z 1 a",
        "ZINCRBY z 2.5 a",
    ],
    "eval_script": [
        "SELECT 0",
        "MULTI",
        "set k v",
        "incr n",
        "EXEC",
    ],
    "diskless_attach": [
        "SELECT 0",
        "SET a 1",
        "RPUSH l x",
    ],
}


_MAGPIE_ONLY = {"ft_create_hset"}  # no oracle: redis-server has no FT.*


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n not in _MAGPIE_ONLY])
def test_redis_stream(name: str) -> None:
    """Real Redis streams what EXPECTED records (the oracle still says what it said)."""
    lines = redis_run(name).lines
    assert lines == EXPECTED[name], "redis-server streamed:\n" + "\n".join(lines)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_magpie_stream(name: str) -> None:
    """Magpie streams what Redis streams for the same commands."""
    if name in _MAGPIE_ONLY:
        pytest.skip("Magpie only (FT.*): redis-server has no oracle")
    magpie = run_scenario("magpie", SCENARIOS[name]).lines
    expected = redis_run(name).lines
    assert magpie == expected, f"the streams differ ({name}):\n" + side_by_side(expected, magpie)


# -- the tool against both servers ---------------------------------------------------------

FUTURE_MS = 4_000_000_000_000  # 2096


def _wait_replica(client: redis.Redis, **expected: object) -> dict:
    """INFO replication's ``slave0`` once it shows ``expected`` (state=online, offset=...)."""
    deadline = time.monotonic() + 5
    while True:
        slave = client.info("replication").get("slave0") or {}
        if all(slave.get(k) == v for k, v in expected.items()):
            return slave
        if time.monotonic() > deadline:
            raise AssertionError(f"slave0 is {slave}, not {expected}")
        time.sleep(0.02)


def _read_to_offset(replica: FakeReplica, client: redis.Redis) -> int:
    """Read commands until the replica's offset reaches INFO's master_repl_offset (stopping
    at the first command that reaches it, so a PING fed later is not read): the offset."""
    target = client.info("replication")["master_repl_offset"]
    assert replica.offset is not None
    while replica.offset < target:
        replica.read_command(timeout=5)
    return target


@pytest.mark.parametrize("form", ["disk", "eof"])
@pytest.mark.parametrize("kind", KINDS)
def test_full_sync_snapshot(kind: str, form: str) -> None:
    """FULLRESYNC names the primary's replid and offset, the snapshot arrives in the form
    repl-diskless-sync asks for and holds every database, and the replica goes online."""
    server = start(kind, diskless=form == "eof")
    try:
        c = server.client(protocol=2)
        c.set("s", "v")
        c.pexpireat("s", FUTURE_MS)
        c.rpush("l", "a", "b")
        c.hset("h", "f", "1")
        c.sadd("set", "m")
        c.zadd("z", {"a": 1.5})
        server.client(db=3).set("k3", "x")
        with FakeReplica(server.port) as replica:
            replid, offset, snapshot = attach(server, replica)
            info = c.info("replication")
            assert re.fullmatch("[0-9a-f]{40}", replid)
            assert (replid, offset) == (info["master_replid"], info["master_repl_offset"])
            assert snapshot.form == form
            assert snapshot.data.startswith(b"REDIS00")
            assert rdb_keys(snapshot.data) == {
                0: {b"s": (b"v", FUTURE_MS), b"l": ([b"a", b"b"], None), b"h": ({b"f": b"1"}, None),
                    b"set": (frozenset({b"m"}), None), b"z": ({b"a": 1.5}, None)},
                3: {b"k3": (b"x", None)},
            }  # fmt: skip
            slave = _wait_replica(c, state="online")
            assert slave["port"] == REPLICA_PORT
            assert info["connected_slaves"] == 1
    finally:
        server.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_offsets_are_byte_exact(kind: str) -> None:
    """The bytes of every command read (SELECT, MULTI/EXEC, DEL of an expired key and the
    primary's PINGs included) add up to master_repl_offset minus the FULLRESYNC offset, every
    command is canonical multibulk, and an ACK of that offset shows in INFO."""
    server = start(kind, False, "--repl-ping-replica-period", "1")
    try:
        c = server.client(protocol=2)
        c.set("before", "x")  # in the snapshot, not the stream
        with FakeReplica(server.port) as replica:
            _, start_offset, _ = attach(server, replica)
            c.set("a", "1")
            server.client(db=7).rpush("l", "x" * 300, "")
            c.pipeline(transaction=True).set("b", "2").incr("n").execute()
            c.set("short", "v", px=20)
            time.sleep(0.05)
            c.get("short")
            c.execute_command(*END)
            commands = replica.read_commands_until(lambda argv: argv == END, timeout=10)
            if not any(cmd.name == "ping" for cmd in commands):  # Redis sends it as "ping"
                commands += replica.read_commands_until(lambda argv: argv[0].lower() == b"ping", timeout=3)
            for cmd in commands:
                assert cmd.raw == encode_command(*cmd.argv), cmd.raw
            assert start_offset + sum(cmd.nbytes for cmd in commands) == replica.offset
            offset = _read_to_offset(replica, c)
            assert replica.offset == offset
            replica.ack()
            _wait_replica(c, offset=offset)
    finally:
        server.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_partial_resync(kind: str) -> None:
    """A replica that reconnects with PSYNC <replid> <offset+1> gets +CONTINUE and the writes
    it missed from the backlog (no SELECT: the db has not changed); an unknown replid or an
    offset the primary never reached gets a full resync."""
    server = start(kind)
    try:
        c = server.client(protocol=2)
        with FakeReplica(server.port) as first:
            replid, _, _ = attach(server, first)
            c.set("a", "1")
            c.execute_command(*END)
            first.read_commands_until(lambda argv: argv == END, timeout=10)
            resume = first.offset
            assert resume is not None
        c.set("b", "2")
        c.rpush("l", "x")
        c.execute_command(*END)
        with FakeReplica(server.port) as again:
            with primary_side(server):
                again.handshake(listening_port=REPLICA_PORT)
            assert again.psync(replid, resume + 1) == ("CONTINUE", replid)
            assert again.offset == resume
            missed = again.read_commands_until(lambda argv: argv == END, timeout=10)
            lines = [_line(argv) for argv in normalize(missed, now_ms(), now_ms())]
            assert lines == ["SET b 2", "RPUSH l x", "SET repl:end end"]
            assert _read_to_offset(again, c) == again.offset
        for bad_replid, offset in [("0" * 40, resume + 1), (replid, resume + 1_000_000)]:
            with FakeReplica(server.port) as other:
                other.handshake(listening_port=REPLICA_PORT)
                reply = other.psync(bad_replid, offset)
                assert reply[0] == "FULLRESYNC" and reply[1] == replid, reply
                assert other.read_rdb().form == "disk"
    finally:
        server.stop()


@pytest.mark.parametrize("form", ["disk", "eof"])
@pytest.mark.parametrize("kind", KINDS)
def test_stream_start_after_transfer(kind: str, form: str) -> None:
    """After a disk-form snapshot the stream flows at once; after a diskless one the primary
    holds it until the replica's first REPLCONF ACK (writes made meanwhile are not lost)."""
    server = start(kind, diskless=form == "eof")
    try:
        c = server.client(protocol=2)
        with FakeReplica(server.port, ack_interval=None) as replica:
            with primary_side(server):
                replica.handshake(listening_port=REPLICA_PORT)
                assert replica.psync()[0] == "FULLRESYNC"
            assert replica.read_rdb().form == form
            c.set("a", "1")
            c.execute_command(*END)
            if form == "disk":
                commands = replica.read_commands_until(lambda argv: argv == END, timeout=5)
            else:
                assert replica.read_available(quiet=0.4) == []
                replica.ack_interval = 0.1  # ACK while waiting, as a replica does every second
                commands = replica.read_commands_until(lambda argv: argv == END, timeout=5)
            assert [cmd.argv for cmd in commands] == [[b"SELECT", b"0"], [b"SET", b"a", b"1"], END]
    finally:
        server.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_handshake_auth(kind: str) -> None:
    """With requirepass, the handshake's AUTH step lets the replica in; without it PING's
    NOAUTH is let pass (as a replica does) and REPLCONF fails with NOAUTH."""
    server = start(kind, False, "--requirepass", "s3cret")
    try:
        with FakeReplica(server.port) as replica:
            with primary_side(server):
                replica.full_sync(listening_port=REPLICA_PORT, auth="s3cret")
            client = server.client(protocol=2, password="s3cret")
            client.set("a", "1")
            assert replica.read_command(timeout=5)[0] == [b"SELECT", b"0"]
            assert replica.read_command(timeout=5)[0] == [b"SET", b"a", b"1"]
        with FakeReplica(server.port) as replica:
            with pytest.raises(ReplicationError) as failed:
                replica.handshake(listening_port=REPLICA_PORT)
            assert failed.value.step == "REPLCONF listening-port", failed.value
            assert "NOAUTH" in str(failed.value.reply)
    finally:
        server.stop()


# -- the tool against a scripted primary ---------------------------------------------------


class ScriptedPrimary:
    """A one-connection primary that answers the handshake, then sends ``script`` (a list of
    byte strings, a float meaning a pause) and records what the replica sent."""

    def __init__(self, script: list[bytes | float]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            answers = [b"+PONG\r\n", b"+OK\r\n", b"+OK\r\n"]
            while answers:  # one reply per complete command
                while _parse_count(self.received) < 4 - len(answers):
                    self.received += conn.recv(4096)
                conn.sendall(answers.pop(0))
            while _parse_count(self.received) < 4:  # PSYNC
                self.received += conn.recv(4096)
            for item in self.script:
                if isinstance(item, float):
                    time.sleep(item)
                else:
                    conn.sendall(item)
            conn.settimeout(1)
            with contextlib.suppress(OSError):
                while chunk := conn.recv(4096):
                    self.received += chunk

    def close(self) -> None:
        self.thread.join(5)
        self.listener.close()


def _parse_count(data: bytearray) -> int:
    """How many complete multibulk commands ``data`` holds."""
    n, pos = 0, 0
    while (parsed := parse_multibulk(data[pos:])) is not None:
        pos += parsed[1]
        n += 1
    return n


RDB_BODY = b"REDIS0010\xfa\x00\r\n$5\r\n*1\r\nREDIS\xff" + bytes(range(256))  # fake: bytes that look like RESP


@pytest.mark.parametrize("form", ["disk", "eof"])
def test_tool_parses_a_scripted_primary(form: str) -> None:
    """Keepalives before and after +FULLRESYNC are skipped; the snapshot ends exactly where
    its length or EOF mark says (no CRLF follows it); a command split across packets is read
    whole, a timeout in its middle losing nothing; byte counts and ACKs are exact."""
    replid = "a" * 40
    mark = b"0123456789" * 4
    snapshot = b"$%d\r\n%s" % (len(RDB_BODY), RDB_BODY) if form == "disk" else b"$EOF:" + mark + b"\r\n" + RDB_BODY + mark
    select, setcmd = encode_command("SELECT", "9"), encode_command("SET", "k", b"v\r\nv")
    primary = ScriptedPrimary([b"\n", 0.05, b"\n+FULLRESYNC " + replid.encode() + b" 1000\r\n", b"\n\n",
                               snapshot[:7], 0.05, snapshot[7:] + select + setcmd[:9], 0.3, setcmd[9:]])  # fmt: skip
    try:
        with FakeReplica(primary.port, ack_interval=None) as replica:
            replica.handshake(listening_port=7777)
            assert replica.psync() == ("FULLRESYNC", replid, 1000)
            got = replica.read_rdb()
            assert (got.data, got.form) == (RDB_BODY, form)
            assert replica.read_command(timeout=2) == ([b"SELECT", b"9"], len(select))
            with pytest.raises(TimeoutError):
                replica.read_command(timeout=0.05)  # half of SET has arrived
            assert replica.read_command(timeout=2) == ([b"SET", b"k", b"v\r\nv"], len(setcmd))
            assert replica.offset == 1000 + len(select) + len(setcmd)
            replica.ack()
    finally:
        primary.close()
    sent = bytes(primary.received)
    assert sent == (encode_command("PING") + encode_command("REPLCONF", "listening-port", 7777)
                    + encode_command("REPLCONF", "capa", "eof", "capa", "psync2") + encode_command("PSYNC", "?", -1)
                    + encode_command("REPLCONF", "ACK", replica.offset))  # fmt: skip
