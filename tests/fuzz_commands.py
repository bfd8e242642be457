"""The command fuzzer: every command and subcommand, with hostile arguments (issue #9).

It starts a Magpie server, reads its command table over the wire (``COMMAND`` for names,
arities and flags, ``COMMAND DOCS`` for argument trees, falling back to a real
redis-server's ``COMMAND DOCS`` where Magpie's carry no arguments, and to
``fuzz_grammar.EXTRA_ARGUMENTS`` for FT.*), and then runs batches of random calls. Before each
batch it seeds keys of every type and encoding, two FT indexes and keys with TTLs; each
batch mixes calls outside and inside MULTI/EXEC, over RESP2 or RESP3.

A hard failure is: a reply that is an internal error or holds a Python traceback, a RESP3
type in a RESP2 reply, a reply that does not come (a hang), a connection the server
dropped, a dead server, ``PING`` or ``DEBUG CHECK-INVARIANTS`` failing after a batch, or a
traceback in the server log at the end. Every generated command comes from
``random.Random`` seeded with the seed and the batch number, never from a reply, so a
failure is reported with the seed and batch that replay it, the exact command, and the
batch before it.

Commands that would legitimately stop the server, hang, or take the connection away are
tamed (``Tamer``) or handled: SHUTDOWN only with ABORT, DEBUG only with harmless
subcommands, CONFIG SET only on an allowlist, CLIENT PAUSE only briefly, blocking commands
with short timeouts (and CLIENT UNBLOCK when they block anyway), SUBSCRIBE, MONITOR, HELLO,
CLIENT REPLY and RESET followed by a RESET that brings the connection back, CLIENT KILL
and QUIT by reconnecting.

With a redis-server at hand, every fourth batch runs only deterministic data commands on
both servers from the same seed data and records where one replied with an error and the
other did not. Those are findings to look at, not failures.

Run: ``python tests/fuzz_commands.py --seconds 60 [--seed S] [--batch N]``.
"""

from __future__ import annotations

import argparse
import random
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import hiredis
from fuzz_grammar import EXTRA_ARGUMENTS, ArgumentMaker, Target, Values, Vocabulary, vector_blob
from servers import ServerProcess, redis_server_path, start_magpie, start_redis

#: How long a reply may take before the command counts as a hang (generous: shared CPUs).
REPLY_TIMEOUT = 15.0
#: How long a blocking command may block before the fuzzer unblocks it.
BLOCK_GRACE = 0.3
BATCH_CALLS = 120
CHUNK = 16  # plain commands pipelined together
BIG_ARG = 65536  # a command with an argument this long is sent on its own
DIFFERENTIAL_EVERY = 4

Argv = list[bytes]


# -- the wire ---------------------------------------------------------------------------------


class Closed(Exception):
    """The server closed the connection."""


class Hang(Exception):
    """No reply within the timeout."""


def encode(argv: Sequence[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        parts.append(b"$%d\r\n" % len(arg))
        parts.append(arg)
        parts.append(b"\r\n")
    return b"".join(parts)


class Connection:
    """A blocking RESP connection that returns replies as hiredis parses them (errors as
    ``hiredis.ReplyError`` values, not raised)."""

    def __init__(self, port: int, resp: int = 2) -> None:
        self.port = port
        self.resp = resp
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader()
        self._syncs = 0
        if resp == 3:
            self.call([b"HELLO", b"3"])
        self.id = self.call([b"CLIENT", b"ID"])

    def send(self, commands: Sequence[Argv]) -> None:
        try:
            self.sock.settimeout(REPLY_TIMEOUT)
            self.sock.sendall(b"".join(encode(c) for c in commands))
        except TimeoutError:
            raise Hang from None
        except OSError:
            raise Closed from None

    def read(self, timeout: float = REPLY_TIMEOUT) -> object:
        deadline = time.monotonic() + timeout
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Hang
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                raise Hang from None
            except OSError:
                raise Closed from None
            if not data:
                raise Closed
            self.reader.feed(data)

    def call(self, argv: Argv, timeout: float = REPLY_TIMEOUT) -> object:
        self.send([argv])
        return self.read(timeout)

    def resync(self, first: Argv | None = None) -> list[object]:
        """Send ``first`` (if any), RESET and a PING with a fresh marker; return every reply
        before the marker's. The marker, not RESET's reply, ends the wait, since a CLIENT
        REPLY SKIP or OFF may swallow replies up to and including RESET's."""
        self._syncs += 1
        marker = b"fuzz-sync-%d" % self._syncs
        self.send([*([first] if first else []), [b"RESET"], [b"PING", marker]])
        before = []
        while (reply := self.read()) != marker:
            before.append(reply)
        if self.resp == 3:
            self.call([b"HELLO", b"3"])
        return before

    def close(self) -> None:
        self.sock.close()


class SideChannel:
    """A second connection, for seeding, checks and CLIENT UNBLOCK; it reconnects when a
    fuzzed CLIENT KILL has taken it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = Connection(port)

    def pipeline(self, commands: Sequence[Argv]) -> list[object]:
        try:
            self.conn.send(commands)
            return [self.conn.read() for _ in commands]
        except Closed:
            self.conn.close()
            self.conn = Connection(self.port)
            self.conn.send(commands)
            return [self.conn.read() for _ in commands]

    def call(self, argv: Argv) -> object:
        return self.pipeline([argv])[0]

    def close(self) -> None:
        self.conn.close()


# -- what counts as a failure ---------------------------------------------------------------------


def reply_problem(reply: object, resp: int, depth: int = 0) -> str | None:
    """Why this reply is a hard failure, or None."""
    if depth > 50:
        return None
    if isinstance(reply, hiredis.ReplyError):
        text = str(reply)
        if "internal error" in text:
            return f"internal error: {text}"
        return "traceback in an error reply" if "Traceback" in text else None
    if isinstance(reply, bytes):
        return "traceback in a reply" if b"Traceback (most recent call last)" in reply else None
    if resp == 2 and isinstance(reply, dict | set | float | bool):
        return f"RESP3 {type(reply).__name__} in a RESP2 reply"
    if isinstance(reply, dict):
        items: Iterator[object] = (x for pair in reply.items() for x in pair)
    elif isinstance(reply, list | set | tuple):
        items = iter(reply)
    else:
        return None
    for item in items:
        problem = reply_problem(item, resp, depth + 1)
        if problem:
            return problem
    return None


def is_error(reply: object) -> bool:
    return isinstance(reply, hiredis.ReplyError)


@dataclass
class Failure:
    kind: str
    detail: str
    command: Argv | None
    history: list[Argv]
    seed: int
    batch: int

    def report(self) -> str:
        lines = [f"FUZZ FAILURE ({self.kind}): {self.detail}", f"  seed {self.seed}, batch {self.batch}"]
        if self.command is not None:
            lines.append(f"  command: {show(self.command)}")
        tail = self.history[-40:]
        if tail:
            lines.append(f"  the batch before it ({len(self.history)} commands, last {len(tail)}):")
            lines += [f"    {show(argv)}" for argv in tail]
        lines.append(f"  replay: python tests/fuzz_commands.py --seed {self.seed} --batch {self.batch}")
        return "\n".join(lines)


def show(argv: Sequence[bytes], limit: int = 120) -> str:
    """A command as a redis-cli line, long arguments shortened."""
    words = []
    for arg in argv:
        text = repr(arg[:limit])[2:-1]
        words.append(f'"{text}"' + (f"...({len(arg)} bytes)" if len(arg) > limit else ""))
    return " ".join(words)


# -- the command table, over the wire -------------------------------------------------------


def _text(value: object) -> object:
    """A COMMAND DOCS reply with every bytes turned into str (maps stay dicts)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_text(k): _text(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_text(v) for v in value]
    return value


def _docs_by_name(conn: Connection) -> dict[str, dict]:
    """Every command's and subcommand's docs by ``name`` / ``container|sub`` (RESP3 maps)."""
    docs: dict[str, dict] = {}
    for name, doc in _text(conn.call([b"COMMAND", b"DOCS"])).items():  # type: ignore[union-attr]
        docs[name.lower()] = doc
        for sub_name, sub_doc in doc.get("subcommands", {}).items():
            docs[sub_name.lower()] = sub_doc
    return docs


def load_targets(conn: Connection, reference: dict[str, dict]) -> list[Target]:
    """Every command and subcommand Magpie lists, with an argument tree from Magpie's docs,
    else the reference's, else the FT grammar, else none (chaos only)."""
    ours = _docs_by_name(conn)
    targets = []

    def add(entry: list, parent: bytes | None) -> None:
        name = entry[0].lower()
        key = name.decode()
        words = (parent, name.split(b"|", 1)[1]) if parent else (name,)
        doc = ours.get(key, {})
        arguments = doc.get("arguments") or reference.get(key, {}).get("arguments") or EXTRA_ARGUMENTS.get(key, [])
        flags = frozenset(f.decode() for f in entry[2])
        group = doc.get("group", "")
        targets.append(Target(tuple(w.upper() for w in words), entry[1], flags, group, arguments))
        for sub in entry[9] if len(entry) > 9 else ():
            add(sub, name)

    for entry in conn.call([b"COMMAND"]):  # type: ignore[union-attr]
        add(entry, None)
    return targets


# -- keeping dangerous commands safe ---------------------------------------------------------------

#: CONFIG SET may change these (anything else that exists could stop the server, lock the
#: fuzzer out or cut its connection); the batch start puts them back.
CONFIG_ALLOWED = {
    "hash-max-listpack-entries": "128", "hash-max-listpack-value": "64",
    "zset-max-listpack-entries": "128", "zset-max-listpack-value": "64",
    "set-max-intset-entries": "512", "list-max-listpack-size": "-2", "list-compress-depth": "0",
    "maxmemory": "0", "maxmemory-policy": "noeviction", "maxmemory-samples": "5",
    "lfu-log-factor": "10", "lfu-decay-time": "1", "notify-keyspace-events": "",
    "slowlog-log-slower-than": "10000", "slowlog-max-len": "128", "latency-monitor-threshold": "0",
    "lazyfree-lazy-eviction": "no", "lazyfree-lazy-expire": "no", "lazyfree-lazy-user-del": "no",
    "hz": "10", "active-expire-effort": "1", "activerehashing": "yes",
}  # fmt: skip
#: Values for allowlisted parameters: sizes, extremes of their ranges, policies, event classes.
CONFIG_VALUES = [b"0", b"1", b"2", b"3", b"-1", b"-5", b"-6", b"16", b"128", b"1000", b"2147483647",
                 b"9223372036854775807", b"100kb", b"1mb", b"1gb", b"allkeys-lfu", b"volatile-lru",
                 b"allkeys-random", b"volatile-ttl", b"KEA", b"Kx$", b"yes", b"no"]  # fmt: skip
#: DEBUG subcommands that stop, crash, reload or stall a server (Redis's and any Magpie adds).
DEBUG_DENIED = {
    b"segfault", b"panic", b"restart", b"crash-and-recover", b"assert", b"oom", b"reload",
    b"loadaof", b"jmap", b"pause-cron", b"replybuffer", b"stringmatch-len", b"quicklist-packed-threshold",
    b"set-disable-deny-scripts", b"client-eviction", b"dict-resizing", b"mallctl", b"mallctl-str",
}  # fmt: skip
#: After these the connection's state is unknown (subscribed, monitoring, another protocol,
#: replies off): a RESET follows and everything read until its reply is checked.
RESYNC = {b"SUBSCRIBE", b"PSUBSCRIBE", b"SSUBSCRIBE", b"UNSUBSCRIBE", b"PUNSUBSCRIBE",
          b"SUNSUBSCRIBE", b"MONITOR", b"HELLO", b"RESET", b"CLIENT REPLY"}  # fmt: skip
#: These may close the connection on purpose; the fuzzer then reconnects.
CLOSERS = {b"QUIT", b"CLIENT KILL"}
#: Commands that wipe the seeded data or switch it away: called less often.
RARE = {b"FLUSHALL": 0.1, b"FLUSHDB": 0.1, b"SWAPDB": 0.2, b"FT.DROPINDEX": 0.3, b"SELECT": 0.3,
        b"MULTI": 0.3, b"RESET": 0.3, b"CLIENT KILL": 0.2, b"QUIT": 0.1, b"SHUTDOWN": 0.3,
        b"DEBUG": 0.5, b"MONITOR": 0.3}  # fmt: skip


#: Commands whose second word names a subcommand (Redis's containers, and DEBUG).
CONTAINERS = {b"CLIENT", b"CONFIG", b"DEBUG", b"FT.CURSOR", b"COMMAND", b"OBJECT", b"PUBSUB", b"MEMORY",
              b"MODULE", b"FUNCTION", b"SCRIPT", b"ACL", b"CLUSTER", b"SLOWLOG", b"LATENCY", b"XINFO",
              b"XGROUP"}  # fmt: skip


def command_name(argv: Argv) -> bytes:
    """``CLIENT KILL`` for a subcommand call, ``GET`` for a plain one (upper case)."""
    first = argv[0].upper()
    if len(argv) > 1 and first in CONTAINERS:
        return first + b" " + argv[1].upper()
    return first


def _endless_count(argv: Argv) -> bool:
    """A negative count that Redis too accepts and answers with that many replies (billions):
    a legitimate hang. Counts Redis refuses (beyond int64, or beyond LONG_MAX/2 with
    WITHSCORES/WITHVALUES) are kept, to test the refusal."""
    try:
        count = int(argv[2])
    except ValueError:
        return False
    refused = count <= -(2**63) or (len(argv) > 3 and count <= -(2**62))
    return count < -100_000 and not refused


class Tamer:
    """Rewrites or refuses the commands that would stop the server or stall the fuzzer."""

    def __init__(self, rng: random.Random, known_configs: set[str], long_ttls: bool = False) -> None:
        self.rng = rng
        self.known_configs = known_configs
        self.long_ttls = long_ttls

    def tame(self, argv: Argv) -> Argv | None:
        name = command_name(argv)
        first = argv[0].upper()
        if first == b"SHUTDOWN" and not any(a.lower() == b"abort" for a in argv[1:]):
            return [*argv[:1], b"ABORT", *argv[1:]]  # every SHUTDOWN ... ABORT is refused
        if first == b"DEBUG" and len(argv) > 1:
            return self._debug(argv)
        if name == b"CONFIG SET":
            return self._config_set(argv)
        if name == b"CLIENT PAUSE" and len(argv) > 2 and not is_write_pause(argv):
            # a pause of everything cannot be lifted (CLIENT UNPAUSE waits too): keep it short
            return [*argv[:2], self.rng.choice([b"0", b"1", b"5", b"20"]), *argv[3:]]
        if first in (b"SRANDMEMBER", b"HRANDFIELD", b"ZRANDMEMBER") and len(argv) > 2 and _endless_count(argv):
            return [*argv[:2], b"-%d" % self.rng.randrange(1, 50), *argv[3:]]
        if first in (b"REPLICAOF", b"SLAVEOF", b"SYNC", b"PSYNC", b"FAILOVER", b"BGSAVE", b"SAVE"):
            return None  # none exist yet; when they do, they need taming of their own
        return self._lengthen_ttls(argv) if self.long_ttls else argv

    @staticmethod
    def _lengthen_ttls(argv: Argv) -> Argv:
        """Differential batches: a TTL of a few milliseconds would expire on one server and not
        yet on the other; make it long (a TTL that is not a positive number stays)."""
        first = argv[0].upper()
        if first in (b"PEXPIRE", b"PSETEX"):
            positions = [2]
        elif first in (b"SET", b"GETEX"):
            positions = [i + 1 for i, a in enumerate(argv[:-1]) if a.upper() == b"PX"]
        else:
            return argv
        out = list(argv)
        for i in positions:
            if i < len(out) and out[i].isdigit() and 0 < int(out[i]) < 10_000:
                out[i] = b"100000"
        return out

    def _debug(self, argv: Argv) -> Argv | None:
        sub = argv[1].lower()
        if sub in DEBUG_DENIED:
            return None
        if sub == b"sleep":
            return [argv[0], argv[1], b"0", *argv[3:]]
        return argv

    def _config_set(self, argv: Argv) -> Argv:
        """Names outside the allowlist are swapped for allowed ones; values are often made
        plausible for the parameter, including its extremes."""
        out = list(argv)
        for i in range(2, len(out), 2):
            name = out[i].decode("utf-8", "replace").lower()
            if name in self.known_configs and name not in CONFIG_ALLOWED:
                out[i] = self.rng.choice(sorted(CONFIG_ALLOWED)).encode()
            if i + 1 < len(out) and self.rng.random() < 0.6:
                out[i + 1] = self.rng.choice(CONFIG_VALUES)
        return out


def is_write_pause(argv: Argv) -> bool:
    """CLIENT PAUSE <any timeout> WRITE, which the CLIENT UNPAUSE the fuzzer sends after it lifts."""
    return command_name(argv) == b"CLIENT PAUSE" and len(argv) == 4 and argv[3].lower() == b"write"


UNPAUSE = [b"CLIENT", b"UNPAUSE"]


def step_kind(argv: Argv, flags: frozenset[str]) -> str:
    name = command_name(argv)
    if name in RESYNC or argv[0].upper() in RESYNC:
        return "resync"
    if name in CLOSERS or argv[0].upper() in CLOSERS:
        return "closer"
    if "blocking" in flags:
        return "blocking"
    return "plain"


# -- seed data ---------------------------------------------------------------------------------

VECTOR_DIM = 4
INDEX_SCHEMAS = [
    [b"FT.CREATE", b"fuzzidx", b"PREFIX", b"1", b"doc:", b"SCHEMA", b"t", b"TAG", b"SORTABLE",
     b"n", b"NUMERIC", b"SORTABLE", b"body", b"TEXT", b"v", b"VECTOR", b"HNSW", b"6", b"TYPE",
     b"FLOAT32", b"DIM", b"4", b"DISTANCE_METRIC", b"L2"],
    [b"FT.CREATE", b"flatidx", b"PREFIX", b"2", b"doc:", b"vec:", b"SCHEMA", b"t", b"TAG",
     b"SEPARATOR", b";", b"CASESENSITIVE", b"n", b"NUMERIC", b"body", b"TEXT", b"NOSTEM",
     b"v", b"VECTOR", b"FLAT", b"6", b"TYPE", b"FLOAT32", b"DIM", b"4", b"DISTANCE_METRIC", b"COSINE"],
]  # fmt: skip
QUERIES = [
    b"*", b"@t:{a}", b"@t:{a|b}", b"@t:{a*}", b"@t:{*b}", b"@n:[1 5]", b"@n:[(1 +inf]",
    b"@n:[-inf (3]", b"hello", b"hel*", b"%helo%", b'"hello world"', b"-@t:{a}", b"@body:hello",
    b"@body:(hello|world)", b"*=>[KNN 3 @v $B]", b"*=>[KNN $K @v $B AS dist]",
    b"@t:{a}=>[KNN 2 @v $B]", b"@v:[VECTOR_RANGE 0.5 $B]", b"(@n:[0 10] @t:{b})", b"~hello",
    b"@missing:{x}", b"@t:{$tag}", b"*=>[KNN 9223372036854775807 @v $B]", b"@n:[nan 1]",
    b"@n:[1e400 2]", b"((((", b"@", b"@t:{", b"hello | -world ~w*", b"@body:%%hel%%",
    b"*=>[KNN 3 @v $B EF_RUNTIME 0]", b"@v:[VECTOR_RANGE -1 $B]=>{$YIELD_DISTANCE_AS: d}",
    b"w'hel*'", b"@n:[1 2] => { $weight: 2.0; }", b"@__key:{doc*}", b"$K",
]  # fmt: skip
EXPRESSIONS = [
    b"@n*2", b"@n + 1", b"upper(@t)", b"lower(@body)", b"@n > 3", b"sqrt(@n)", b"floor(@n)",
    b"log(-1)", b"1/0", b"@n % 0", b"substr(@body, 0, 3)", b'format("%s-%d", @t, @n)',
    b"split(@t)", b"exists(@n)", b"@missing", b"((", b'"str"', b"@n == 3 || @t == 'a'", b"!@n",
    b"to_number(@t)", b"strlen(@body)", b"timefmt(@n)", b'parsetime(@t, "%Y")', b"dayofweek(@n)",
    b"@n - -1e308 * 1e308", b"substr(@body, -1, 9223372036854775807)", b"2 ^ 1024",
]  # fmt: skip
FIELDS = [b"t", b"n", b"body", b"v", b"@t", b"@n", b"@body", b"__key", b"missing", b"dist", b"__score"]
MEMBERS = [b"a", b"b", b"c", b"m1", b"m2", b"e0", b"e1", b"f1", b"f2", b"1", b"2", b"-5", b"3.14",
           b"v1", b"hello", b"t", b"n", b"body", b"v", b"B", b"K", b"tag", b"0"]  # fmt: skip


def _vector(i: int) -> bytes:
    return vector_blob(VECTOR_DIM) if i == 0 else bytes(random.Random(i).randbytes(4 * VECTOR_DIM))


def seed_commands(differential: bool) -> tuple[list[Argv], dict[str, list[bytes]]]:
    """The commands that build a batch's data, and the keys they make by type. A differential
    batch gets no FT index (redis-server has none) and no TTL short enough to run out on one
    server a moment before the other."""
    keys: dict[str, list[bytes]] = {"string": [], "list": [], "hash": [], "set": [], "zset": []}
    cmds: list[Argv] = []

    def put(kind: str, key: bytes, *argv: bytes) -> None:
        keys[kind].append(key)
        cmds.append(list(argv))

    for key, value in [(b"str:plain", b"hello world"), (b"str:int", b"12345"), (b"str:neg", b"-7"),
                       (b"str:float", b"3.14"), (b"str:big", b"x" * 100), (b"str:bits", bytes(range(256))),
                       (b"str:empty", b""), (b"str:maxint", b"9223372036854775807")]:  # fmt: skip
        put("string", key, b"SET", key, value)
    put("list", b"list:small", b"RPUSH", b"list:small", b"a", b"b", b"c", b"1", b"2")
    put("list", b"list:big", b"RPUSH", b"list:big", *(b"e%d" % i for i in range(200)))
    put("hash", b"hash:small", b"HSET", b"hash:small", b"f1", b"v1", b"f2", b"2", b"f3", b"3.5")
    put("hash", b"hash:big", b"HSET", b"hash:big", *(x for i in range(200) for x in (b"f%d" % i, b"%d" % i)))
    put("set", b"set:int", b"SADD", b"set:int", b"1", b"2", b"3", b"-5")
    put("set", b"set:str", b"SADD", b"set:str", b"a", b"b", b"c")
    put("set", b"set:big", b"SADD", b"set:big", *(b"%d" % i for i in range(600)))
    put("zset", b"zset:small", b"ZADD", b"zset:small", b"1", b"a", b"2", b"b", b"2", b"c", b"-0", b"m1")
    put("zset", b"zset:large", b"ZADD", b"zset:large", *(x for i in range(300) for x in (b"%d" % (i % 50), b"m%d" % i)))
    put("zset", b"zset:lex", b"ZADD", b"zset:lex", *(x for c in b"abcdefghij" for x in (b"0", bytes([c]))))
    put("string", b"ttl:str", b"SET", b"ttl:str", b"v", b"EX", b"100")
    put("list", b"ttl:list", b"RPUSH", b"ttl:list", b"a", b"b")
    cmds.append([b"PEXPIRE", b"ttl:list", b"100000" if differential else b"150"])
    put("zset", b"ttl:zset", b"ZADD", b"ttl:zset", b"1", b"a")
    cmds.append([b"EXPIRE", b"ttl:zset", b"100"])
    if not differential:
        cmds += INDEX_SCHEMAS
        for i in range(12):
            put("hash", b"doc:%d" % i, b"HSET", b"doc:%d" % i, b"t", [b"a", b"b", b"a,b;c", b"A"][i % 4],
                b"n", b"%d" % (i - 3), b"body", [b"hello world", b"hello", b"worlds apart"][i % 3], b"v", _vector(i))
        put("hash", b"doc:bad", b"HSET", b"doc:bad", b"n", b"not a number", b"t", b"x")
        put("hash", b"doc:novec", b"HSET", b"doc:novec", b"t", b"b", b"body", b"hello")
        put("hash", b"vec:1", b"HSET", b"vec:1", b"v", _vector(1), b"t", b"Z")
        put("hash", b"doc:ttl", b"HSET", b"doc:ttl", b"t", b"a", b"n", b"1")
        cmds.append([b"PEXPIRE", b"doc:ttl", b"200"])
    cmds += [[b"SELECT", b"1"], [b"SET", b"db1:str", b"one"], [b"RPUSH", b"db1:list", b"x"], [b"SELECT", b"0"]]
    return cmds, keys


def vocabulary(keys: dict[str, list[bytes]]) -> Vocabulary:
    keys = {kind: [*names, b"missing:%s" % kind.encode()] for kind, names in keys.items()}
    return Vocabulary(
        keys_by_type=keys, members=MEMBERS, indexes=[b"fuzzidx", b"flatidx", b"noidx"],
        index_fields=FIELDS, queries=QUERIES, expressions=EXPRESSIONS, vector_blob=vector_blob(VECTOR_DIM),
    )  # fmt: skip


# -- batches -----------------------------------------------------------------------------------


@dataclass
class Step:
    kind: str  # plain | resync | blocking | closer
    commands: list[Argv]


#: Families whose error replies do not depend on timing or randomness (differential batches).
DETERMINISTIC_GROUPS = {"string", "list", "hash", "set", "sorted-set", "bitmap"}
#: ... but for random replies, and deviations docs/compatibility.md lists (ZRANK WITHSCORE).
NOT_DIFFERENTIAL = {b"SPOP", b"SRANDMEMBER", b"HRANDFIELD", b"ZRANDMEMBER", b"RANDOMKEY", b"OBJECT",
                    b"DEBUG", b"MEMORY", b"LCS", b"ZRANK", b"ZREVRANK"}  # fmt: skip


class BatchMaker:
    """The steps of one batch, all from the batch's own ``random.Random``."""

    def __init__(self, rng: random.Random, targets: list[Target], tamer: Tamer, vocab: Vocabulary) -> None:
        self.rng = rng
        self.targets = targets
        self.weights = [RARE.get(b" ".join(t.words), RARE.get(t.words[0], 1.0)) for t in targets]
        self.tamer = tamer
        self.maker = ArgumentMaker(rng, Values(rng, vocab))
        self.flags = {t.words: t.flags for t in targets}

    def _call(self) -> tuple[Argv, frozenset[str]] | None:
        target = self.rng.choices(self.targets, self.weights)[0]
        argv = self.tamer.tame(self.maker.make(target))
        return (argv, target.flags) if argv is not None else None

    def steps(self, calls: int) -> list[Step]:
        out: list[Step] = []
        pending: list[Argv] = []

        def flush() -> None:
            if pending:
                out.append(Step("plain", list(pending)))
                pending.clear()

        made = 0
        while made < calls:
            if self.rng.random() < 0.06:
                block, blocking = self._transaction()
                made += len(block)
                flush()
                # an error can end the transaction early (EXEC with arguments discards it), and
                # a blocking command after that blocks: read such a block as a blocking step
                out.append(Step("blocking" if blocking else "plain", block))
                continue
            call = self._call()
            made += 1
            if call is None:
                continue
            argv, flags = call
            kind = step_kind(argv, flags)
            big = any(len(a) >= BIG_ARG for a in argv)
            if kind == "plain" and not big:
                pending.append(argv)
                if is_write_pause(argv):
                    pending.append(UNPAUSE)
                if len(pending) >= CHUNK:
                    flush()
            else:
                flush()
                out.append(Step(kind, [argv]))
        flush()
        return out

    def _transaction(self) -> tuple[list[Argv], bool]:
        """WATCH maybe, MULTI, a few calls, EXEC or DISCARD or neither; and whether a call blocks."""
        rng = self.rng
        block: list[Argv] = []
        blocking = False
        if rng.random() < 0.3:
            block.append([b"WATCH", rng.choice([b"str:plain", b"list:small", b"zset:small", b"new:1"])])
        block.append([b"MULTI"])
        while len(block) < rng.randrange(2, 9):
            call = self._call()
            if call and step_kind(*call) in ("plain", "blocking") and not any(len(a) >= BIG_ARG for a in call[0]):
                block.append(call[0])
                blocking = blocking or "blocking" in call[1]
        roll = rng.random()
        if roll < 0.75:
            block.append([b"EXEC"])
        elif roll < 0.95:
            block.append([b"DISCARD"])
        if any(is_write_pause(argv) for argv in block):
            block.append(UNPAUSE)
        return block, blocking


# -- running --------------------------------------------------------------------------------------


@dataclass
class Finding:
    """A difference from redis-server: the command (or step) and what differed."""

    command: Argv
    detail: str
    batch: int

    def line(self) -> str:
        return f"(batch {self.batch}) {show(self.command, 40)}\n      {self.detail}"


def brief(reply: object) -> str:
    return f"error {str(reply)[:80]!r}" if is_error(reply) else f"ok {repr(reply)[:60]}"


_SIZE_OF_TYPE = {b"string": b"STRLEN", b"list": b"LLEN", b"hash": b"HLEN", b"set": b"SCARD", b"zset": b"ZCARD"}


def keyspace_shape(conn: Connection, databases: int = 16) -> dict[tuple[int, bytes], tuple[object, object]]:
    """(db, key) -> (type, size) of every persistent key (the ones with a TTL may expire on one
    server before the other), over every database, to compare two servers' datasets."""
    shape: dict[tuple[int, bytes], tuple[object, object]] = {}
    for db in range(databases):
        conn.call([b"SELECT", b"%d" % db])
        keys = sorted(conn.call([b"KEYS", b"*"]))  # type: ignore[call-overload]
        conn.send([c for key in keys for c in ([b"TYPE", key], [b"PTTL", key])])
        types, ttls = [], []
        for _ in keys:
            types.append(conn.read())
            ttls.append(conn.read())
        conn.send([[_SIZE_OF_TYPE.get(t, b"EXISTS"), key] for t, key in zip(types, keys, strict=True)])  # type: ignore[arg-type]
        for key, kind, ttl in zip(keys, types, ttls, strict=True):
            size = conn.read()
            if ttl == -1:
                shape[(db, key)] = (kind, size)
    conn.call([b"SELECT", b"0"])
    return shape


def shape_difference(ours: dict, theirs: dict) -> str | None:
    for where in sorted(ours.keys() | theirs.keys()):
        if ours.get(where) != theirs.get(where):
            db, key = where
            return f"key {key!r} in db {db}: magpie {ours.get(where)}, redis {theirs.get(where)}"
    return None


@dataclass
class FuzzReport:
    seed: int
    seconds: float = 0.0
    batches: int = 0
    calls: int = 0
    target_names: list[bytes] = field(default_factory=list)
    called: Counter = field(default_factory=Counter)
    succeeded: Counter = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        rate = self.calls / self.seconds if self.seconds else 0.0
        called = sum(1 for name in self.target_names if self.called[name])
        succeeded = sum(1 for name in self.target_names if self.succeeded[name])
        lines = [
            f"seed {self.seed}: {self.calls} calls in {self.batches} batches, {self.seconds:.1f} s "
            f"({rate:.0f} calls/s); {called} of {len(self.target_names)} commands and subcommands "
            f"called, {succeeded} of them with a non-error reply",
            f"{len(self.failures)} hard failures, {len(self.findings)} differences from redis-server",
        ]
        return "\n".join(lines)


class Fuzzer:
    def __init__(self, seed: int, seconds: float, batch: int | None = None, differential: bool = True,
                 log: bool = True, check_each_step: bool = False) -> None:  # fmt: skip
        self.seed = seed
        self.seconds = seconds
        self.only_batch = batch
        self.check_each_step = check_each_step
        self.want_reference = differential and redis_server_path() is not None
        self.log = log
        self.report = FuzzReport(seed)
        self.magpie: ServerProcess | None = None
        self.redis: ServerProcess | None = None
        self._seen_findings: set[tuple] = set()
        self._internal_errors_seen: set[tuple[bytes, str]] = set()

    # -- lifecycle ------------------------------------------------------------------------

    def run(self) -> FuzzReport:
        if self.log:
            print(f"fuzz_commands: seed {self.seed}", flush=True)
        self.magpie = start_magpie()
        try:
            if self.want_reference:
                self.redis = start_redis()
            self._run_batches()
            self._check_log()
        finally:
            self.magpie.stop()
            if self.redis is not None:
                self.redis.stop()
        if self.log:
            self._print_report()
        return self.report

    def _run_batches(self) -> None:
        assert self.magpie is not None
        self.side = SideChannel(self.magpie.port)
        reference_docs = {}
        ref = None
        if self.redis is not None:
            ref = Connection(self.redis.port, 3)
            reference_docs = _docs_by_name(ref)
            ref.close()
        setup = Connection(self.magpie.port, 3)
        self.targets = load_targets(setup, reference_docs)
        setup.close()
        self.report.target_names = [b" ".join(t.words) for t in self.targets]
        known_configs = {k.decode() for k in self.side.call([b"CONFIG", b"GET", b"*"])[::2]}  # type: ignore[index]
        self.differential_targets = [
            t for t in self.targets
            if t.group in DETERMINISTIC_GROUPS and "blocking" not in t.flags and t.words[0] not in NOT_DIFFERENTIAL
        ]  # fmt: skip
        started = time.monotonic()
        numbers = [self.only_batch] if self.only_batch is not None else range(1 << 30)
        for number in numbers:
            if self.only_batch is None and time.monotonic() - started >= self.seconds:
                break
            rng = random.Random(f"{self.seed}/{number}")
            differential = self.redis is not None and number % DIFFERENTIAL_EVERY == DIFFERENTIAL_EVERY - 1
            self._batch(number, rng, known_configs, differential)
            self.report.batches += 1
            if any(f.kind != "internal error" for f in self.report.failures):
                break
        self.report.seconds = time.monotonic() - started
        self.side.close()

    def _batch(self, number: int, rng: random.Random, known_configs: set[str], differential: bool) -> None:
        assert self.magpie is not None
        resp = rng.choice((2, 3))
        seeds, keys = seed_commands(differential)
        self._prepare(seeds, rng, differential)
        ref = self._prepare_reference(seeds) if differential else None
        targets = self.differential_targets if differential else self.targets
        tamer = Tamer(rng, known_configs, long_ttls=differential)
        steps = BatchMaker(rng, targets, tamer, vocabulary(keys)).steps(BATCH_CALLS)
        history: list[Argv] = []
        self.comparing = differential
        self.batch_number = number
        main = Connection(self.magpie.port, resp)
        try:
            for step in steps:
                failure = self._run_step(step, main, ref, history, number)
                if failure is not None:
                    self.report.failures.append(failure)
                    if failure.kind != "internal error":
                        return
                if step.kind == "closer":
                    main = self._reconnect_if_closed(main, resp)
                if self.check_each_step and (failure := self._invariants_after(step, history, number)):
                    self.report.failures.append(failure)
                    return
            self._after_batch(main, history, number)
            if self.comparing and history:
                self._compare_keyspaces(history[-1])
        finally:
            main.close()
            if ref is not None:
                ref.close()

    def _prepare(self, seeds: list[Argv], rng: random.Random, differential: bool) -> None:
        """Fresh data and settings on Magpie: FLUSHALL, the allowlisted configs back, the seeds."""
        setup = [[b"FLUSHALL"], [b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1"], [b"DEBUG", b"RECORD-PROPAGATION", b"off"]]
        config = dict(CONFIG_ALLOWED)
        if not differential:  # sometimes under memory accounting, sometimes evicting
            roll = rng.random()
            if roll < 0.6:
                policies = ["allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-ttl", "noeviction", "allkeys-random"]
                config["maxmemory"] = "2gb" if roll < 0.45 else "300kb"
                config["maxmemory-policy"] = rng.choice(policies)
        for name, value in config.items():
            setup.append([b"CONFIG", b"SET", name.encode(), value.encode()])
        commands = [*setup, *seeds]
        for argv, reply in zip(commands, self.side.pipeline(commands), strict=True):
            if is_error(reply):
                raise RuntimeError(f"seeding failed: {show(argv)} -> {reply}")

    def _prepare_reference(self, seeds: list[Argv]) -> Connection:
        assert self.redis is not None
        ref = Connection(self.redis.port)
        for argv in [[b"FLUSHALL"], *seeds]:
            ref.call(argv)
        return ref

    # -- steps --------------------------------------------------------------------------------

    def _run_step(self, step: Step, main: Connection, ref: Connection | None,
                  history: list[Argv], number: int) -> Failure | None:  # fmt: skip
        def fail(kind: str, detail: str, argv: Argv | None) -> Failure:
            return Failure(kind, detail, argv, list(history), self.seed, number)

        commands = step.commands
        if step.kind == "resync":
            return self._resync(main, commands[0], history, fail)
        try:
            main.send(commands)
        except (Closed, Hang) as exc:
            return fail("connection", f"sending failed ({type(exc).__name__})", commands[0])
        replies: list[object] = []
        found: Failure | None = None  # a bad reply: the step's other replies are still read
        for position, argv in enumerate(commands):
            self.report.calls += 1
            self.report.called[command_name(argv)] += 1
            try:
                reply = self._read_reply(step.kind, main)
            except Hang:
                unanswered = commands[position:]
                history.extend(unanswered)
                detail = f"no reply in {REPLY_TIMEOUT:.0f} s"
                if len(unanswered) > 1:  # replies are flushed per pipeline: any of these hung
                    detail += f" to the last {len(unanswered)} commands of a pipeline (one of them hangs)"
                return fail("hang", detail, argv)
            except Closed:
                history.append(argv)
                if step.kind == "closer":
                    return None
                return fail("connection", "the server closed the connection", argv)
            except hiredis.ProtocolError as exc:
                history.append(argv)
                return fail("bad reply", f"unparseable reply: {exc}", argv)
            history.append(argv)
            replies.append(reply)
            problem = reply_problem(reply, main.resp)
            if problem is not None and found is None:
                kind = "internal error" if problem.startswith("internal error") else "bad reply"
                failure = fail(kind, problem, argv)
                if kind != "internal error" or self._first_of_its_kind(failure):
                    found = failure
            if not is_error(reply):
                self.report.succeeded[command_name(argv)] += 1
        if self.comparing and ref is not None:
            self.comparing = self._compare(commands, replies, ref)
        return found

    def _read_reply(self, kind: str, main: Connection) -> object:
        """The next reply; in a blocking step, CLIENT UNBLOCK whenever it keeps us waiting."""
        if kind != "blocking":
            return main.read()
        deadline = time.monotonic() + REPLY_TIMEOUT
        while True:
            try:
                return main.read(BLOCK_GRACE)
            except Hang:
                if time.monotonic() > deadline:
                    raise
                self.side.call([b"CLIENT", b"UNBLOCK", str(main.id).encode()])

    def _resync(self, main: Connection, argv: Argv, history: list[Argv], fail) -> Failure | None:  # noqa: ANN001
        """A connection-state command, then RESET: every reply up to the marker is checked."""
        self.report.calls += 1
        self.report.called[command_name(argv)] += 1
        history.append(argv)
        try:
            replies = main.resync(argv)
        except Hang:
            return fail("hang", "no reply after a connection-state command and RESET", argv)
        except Closed:
            return fail("connection", "closed after a connection-state command and RESET", argv)
        for reply in replies:
            problem = reply_problem(reply, 3)  # the protocol switches under HELLO: be lenient
            if problem is not None and "RESP3" not in problem:
                return fail("internal error" if problem.startswith("internal") else "bad reply", problem, argv)
        if replies and not is_error(replies[0]):
            self.report.succeeded[command_name(argv)] += 1
        return None

    def _invariants_after(self, step: Step, history: list[Argv], number: int) -> Failure | None:
        """``--check-each-step``: pin an invariant violation on the step that caused it."""
        checked = self.side.call([b"DEBUG", b"CHECK-INVARIANTS"])
        if checked == b"OK":
            return None
        return Failure("invariant", str(checked), step.commands[-1], list(history), self.seed, number)

    def _reconnect_if_closed(self, main: Connection, resp: int) -> Connection:
        try:
            main.call([b"PING"], timeout=REPLY_TIMEOUT)
            return main
        except (Closed, Hang):
            main.close()
            return Connection(main.port, resp)

    def _first_of_its_kind(self, failure: Failure) -> bool:
        """Internal errors are kept going after; each (command, error) is reported once."""
        key = (command_name(failure.command or [b"?"]), failure.detail)
        if key in self._internal_errors_seen:
            return False
        self._internal_errors_seen.add(key)
        return True

    # -- after a batch -----------------------------------------------------------------------------

    def _after_batch(self, main: Connection, history: list[Argv], number: int) -> None:
        def fail(kind: str, detail: str) -> None:
            self.report.failures.append(Failure(kind, detail, None, list(history), self.seed, number))

        try:
            extra = main.resync()[1:]  # RESET's own reply first
            if extra:
                fail("bad reply", f"{len(extra)} replies nobody asked for, first {extra[0]!r:.200}")
        except (Closed, Hang) as exc:
            fail("connection", f"RESET at the end of the batch failed ({type(exc).__name__})")
        assert self.magpie is not None
        if not self.magpie.alive():
            fail("crash", f"the server exited:\n{self.magpie.log()[-3000:]}")
            return
        try:
            pong, checked = self.side.pipeline([[b"PING"], [b"DEBUG", b"CHECK-INVARIANTS"]])
        except (Closed, Hang) as exc:
            fail("hang", f"the server does not answer after the batch ({type(exc).__name__})")
            return
        if pong != b"PONG":
            fail("bad reply", f"PING answered {pong!r}")
        if checked != b"OK":
            fail("invariant", str(checked))

    def _check_log(self) -> None:
        assert self.magpie is not None
        text = self.magpie.log()
        for marker in ("Traceback", "error running"):
            at = text.find(marker)
            if at >= 0:
                self.report.failures.append(
                    Failure("server log", f"{marker!r} in the server log:\n{text[max(0, at - 200):at + 3000]}",
                            None, [], self.seed, -1)  # fmt: skip
                )
                return

    # -- differential ---------------------------------------------------------------------------

    def _compare(self, commands: list[Argv], replies: list[object], ref: Connection) -> bool:
        """Send the step to redis-server too; False (stop comparing: the datasets may differ
        from here on) at the first command where one server errs and the other does not."""
        ref.send(commands)
        for argv, ours in zip(commands, replies, strict=True):
            try:
                theirs = ref.read()
            except (Closed, Hang):
                return False
            if is_error(ours) != is_error(theirs):
                key = (command_name(argv), is_error(ours), str(theirs)[:30] if is_error(theirs) else str(ours)[:30])
                self._finding(key, argv, f"magpie: {brief(ours)}\n      redis:  {brief(theirs)}")
                return False
        if self.check_each_step:
            return self._compare_keyspaces(commands[-1])
        return True

    def _compare_keyspaces(self, argv: Argv) -> bool:
        """Both datasets have the same keys, types and sizes (else a finding, and False)."""
        assert self.magpie is not None and self.redis is not None
        ours, theirs = Connection(self.magpie.port), Connection(self.redis.port)
        try:
            difference = shape_difference(keyspace_shape(ours), keyspace_shape(theirs))
        finally:
            ours.close()
            theirs.close()
        if difference is None:
            return True
        self._finding((command_name(argv), "keyspace"), argv, f"after this step the datasets differ: {difference}")
        return False

    def _finding(self, key: tuple, argv: Argv, detail: str) -> None:
        if key not in self._seen_findings:
            self._seen_findings.add(key)
            self.report.findings.append(Finding(argv, detail, self.batch_number))

    def _print_report(self) -> None:
        report = self.report
        print(report.summary())
        never = sorted(name.decode() for name in report.target_names if not report.succeeded[name])
        if never:
            print(f"never a non-error reply ({len(never)}): {', '.join(never)}")
        for finding in report.findings[:40]:
            print("  difference:", finding.line())
        for failure in report.failures:
            print(failure.report())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=None, help="default: a random seed (printed)")
    parser.add_argument("--batch", type=int, default=None, help="replay only this batch of the seed")
    parser.add_argument("--no-differential", action="store_true", help="do not run redis-server alongside")
    parser.add_argument("--check-each-step", action="store_true", help="DEBUG CHECK-INVARIANTS after every step")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    fuzzer = Fuzzer(seed, args.seconds, batch=args.batch, differential=not args.no_differential,
                    check_each_step=args.check_each_step)  # fmt: skip
    report = fuzzer.run()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
