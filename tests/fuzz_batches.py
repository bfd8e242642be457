"""What the command fuzzer sends: the data each batch starts from, the taming of commands
that would stop the server or stall the fuzzer, and the steps of one batch.

Every choice comes from the batch's ``random.Random``, never from a reply.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from fuzz_grammar import ArgumentMaker, Target, Values, Vocabulary, vector_blob
from fuzz_payloads import (
    FUNCTION_NAMES,
    LIBRARY_NAMES,
    function_code_for,
    function_payload_for,
    restore_payload_for,
)
from fuzz_wire import Argv

BATCH_CALLS = 120
CHUNK = 16  # plain commands pipelined together
BIG_ARG = 65536  # a command with an argument this long is sent on its own


# -- keeping dangerous commands safe ---------------------------------------------------------------

#: CONFIG SET may change these (anything else that exists could stop the server, lock the
#: fuzzer out or cut its connection); the batch start puts them back.
CONFIG_ALLOWED = {
    "hash-max-listpack-entries": "512", "hash-max-listpack-value": "64",
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
#: DEBUG subcommands that stop, crash or stall a server (Redis's and any Magpie adds). RELOAD
#: is fuzzed: it saves and loads the seed data back (NOSAVE: whatever a SAVE left, or nothing).
DEBUG_DENIED = {
    b"segfault", b"panic", b"restart", b"crash-and-recover", b"assert", b"oom",
    b"loadaof", b"jmap", b"pause-cron", b"replybuffer", b"stringmatch-len", b"quicklist-packed-threshold",
    b"set-disable-deny-scripts", b"client-eviction", b"dict-resizing", b"mallctl", b"mallctl-str",
}  # fmt: skip
#: After these the connection's state is unknown (subscribed, monitoring, another protocol,
#: replies off): a RESET follows and everything read until its reply is checked.
RESYNC = {b"SUBSCRIBE", b"PSUBSCRIBE", b"SSUBSCRIBE", b"UNSUBSCRIBE", b"PUNSUBSCRIBE",
          b"SUNSUBSCRIBE", b"MONITOR", b"HELLO", b"RESET", b"CLIENT REPLY", b"AUTH"}  # fmt: skip
#: These may close the connection on purpose; the fuzzer then reconnects.
CLOSERS = {b"QUIT", b"CLIENT KILL"}
#: Commands that wipe the seeded data or switch it away: called less often.
RARE = {b"FLUSHALL": 0.1, b"FLUSHDB": 0.1, b"SWAPDB": 0.2, b"FT.DROPINDEX": 0.3, b"SELECT": 0.3,
        b"MULTI": 0.3, b"RESET": 0.3, b"CLIENT KILL": 0.2, b"QUIT": 0.1, b"SHUTDOWN": 0.3,
        b"DEBUG": 0.5, b"MONITOR": 0.3, b"BGSAVE": 0.2, b"SAVE": 0.3}  # fmt: skip


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


def _lex_range_redis_leaves_undefined(argv: Argv) -> bool:
    """A lex range over a sorted set whose scores differ: Redis leaves the result undefined
    (docs/compatibility.md), so the servers may part ways; only zset:lex has equal scores."""
    first = argv[0].upper()
    lex = first.endswith(b"LEX") or (first in (b"ZRANGE", b"ZRANGESTORE") and any(a.upper() == b"BYLEX" for a in argv))
    return lex and b"zset:lex" not in argv


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

    def __init__(self, rng: random.Random, known_configs: set[str], differential: bool = False) -> None:
        self.rng = rng
        self.known_configs = known_configs
        self.differential = differential

    def tame(self, argv: Argv) -> Argv | None:
        name = command_name(argv)
        first = argv[0].upper()
        if first == b"SHUTDOWN" and not any(a.lower() == b"abort" for a in argv[1:]):
            return [*argv[:1], b"ABORT", *argv[1:]]  # every SHUTDOWN ... ABORT is refused
        if first == b"DEBUG" and len(argv) > 1:
            return self._debug(argv)
        if name == b"CONFIG SET":
            return self._config_set(argv)
        if name == b"ACL SETUSER" and len(argv) > 2 and argv[2] == b"default":
            # rules for the default user could lock the fuzzer out (off, a password): another user
            return [*argv[:2], b"fuzz-user", *argv[3:]]
        if name == b"CLIENT PAUSE" and len(argv) > 2 and not is_write_pause(argv):
            # a pause of everything cannot be lifted (CLIENT UNPAUSE waits too): keep it short
            return [*argv[:2], self.rng.choice([b"0", b"1", b"5", b"20"]), *argv[3:]]
        if first in (b"SRANDMEMBER", b"HRANDFIELD", b"ZRANDMEMBER") and len(argv) > 2 and _endless_count(argv):
            return [*argv[:2], b"-%d" % self.rng.randrange(1, 50), *argv[3:]]
        if first in (b"SYNC", b"PSYNC", b"BGREWRITEAOF"):
            # SYNC/PSYNC turn the fuzzer's connection into a replica that gets no replies
            # (tests/test_replication.py feeds a primary garbage instead); BGREWRITEAOF forks
            return None
        if first == b"WAIT" and len(argv) == 3:
            # with no replica, WAIT n>0 waits its whole timeout (0: for ever), in Redis too
            return [argv[0], argv[1], self.rng.choice([b"1", b"5", b"20", b"-1", b"x"])]
        if first in (b"REPLICAOF", b"SLAVEOF") and len(argv) == 3:
            # never a real primary to connect to: NO ONE, or a port REPLICAOF refuses
            if self.rng.random() < 0.5:
                return [argv[0], b"no", b"one"]
            return [argv[0], b"127.0.0.1", self.rng.choice([b"-1", b"65536", b"x", b"", b"1e3"])]
        if name == b"FUNCTION LOAD" and len(argv) > 2:
            return [*argv[:-1], function_code_for(self.rng, argv[-1])]
        if name == b"FUNCTION RESTORE" and len(argv) > 2:
            return [*argv[:2], function_payload_for(self.rng), *argv[3:]]
        if name == b"FUNCTION DELETE" and len(argv) > 2 and self.rng.random() < 0.8:
            return [*argv[:2], self.rng.choice(LIBRARY_NAMES), *argv[3:]]
        if first in (b"FCALL", b"FCALL_RO") and len(argv) > 1 and self.rng.random() < 0.9:
            # mostly a function the fuzz libraries have (none of them runs long)
            return [argv[0], self.rng.choice(FUNCTION_NAMES), *argv[2:]]
        if first == b"RESTORE" and len(argv) > 3:
            # a random string almost never passes the checksum: mostly real payloads, damaged
            # behind a good one, so the value loader is what gets fuzzed
            return [*argv[:3], restore_payload_for(self.rng), *argv[4:]]
        # SAVE and LASTSAVE need nothing; BGSAVE forks, which RARE keeps infrequent (a running
        # child makes the next BGSAVE an error and SHUTDOWN ... ABORT stops nothing)
        if self.differential:
            return None if _lex_range_redis_leaves_undefined(argv) else self._lengthen_ttls(argv)
        return argv

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
            if i < len(out) and out[i].isdigit() and len(out[i]) < 5 and int(out[i]) > 0:
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


#: Commands that run a Lua script named by their first argument.
SCRIPT_CALLERS = {b"EVAL", b"EVALSHA", b"EVAL_RO", b"EVALSHA_RO"}
FUNCTION_CALLERS = {b"FCALL", b"FCALL_RO"}
#: What fuzzed scripts do: mostly run ARGV as a command (another fuzzed call), in both
#: RESP versions and both error modes; never a loop (nothing here can run for long).
SCRIPT_BODIES = [
    b"return redis.pcall(unpack(ARGV))",
    b"return redis.call(unpack(ARGV))",
    b"redis.setresp(3) return redis.pcall(unpack(ARGV))",
    b"#!lua flags=no-writes\nreturn redis.pcall(unpack(ARGV))",
    b"#!lua flags=allow-oom,allow-stale\nreturn redis.pcall(unpack(ARGV))",
    b"local r = redis.pcall(unpack(ARGV)) return {type(r), r}",
    b"redis.setresp(3) local r = redis.pcall(unpack(ARGV)) return {type(r), r}",
    b"redis.pcall(unpack(ARGV)) return redis.pcall(unpack(ARGV))",
    b"redis.set_repl(redis.REPL_NONE) return redis.pcall(unpack(ARGV))",
    b"return {#KEYS, #ARGV, KEYS[1], ARGV[1]}",
    b"return redis.error_reply(ARGV[1] or 'x')",
    b"return redis.status_reply(ARGV[1] or 'x')",
    b"return {tonumber(ARGV[2]), 2.5, true, false, nil, 'x'}",
    b"return {double = tonumber(ARGV[2]) or 0.5}",
    b"return {map = {a = 1, b = {1, 2}}, set = {x = true}}",
    b"error(ARGV[1])",
    b"return redis.sha1hex(ARGV[1] or '')",
    b"return math.random(100)",
    b"return pcall(redis.call, unpack(ARGV))",
    b"return redis.call(",
    b"local t = {} for i = 1, #ARGV do t[i] = ARGV[#ARGV - i + 1] end return t",
]  # fmt: skip


class BatchMaker:
    """The steps of one batch, all from the batch's own ``random.Random``."""

    def __init__(self, rng: random.Random, targets: list[Target], tamer: Tamer, vocab: Vocabulary) -> None:
        self.rng = rng
        self.targets = targets
        self.weights = [RARE.get(b" ".join(t.words), RARE.get(t.words[0], 1.0)) for t in targets]
        self.tamer = tamer
        self.maker = ArgumentMaker(rng, Values(rng, vocab))
        self.flags = {t.words: t.flags for t in targets}

    def _call(self, depth: int = 0) -> tuple[Argv, frozenset[str]] | None:
        target = self.rng.choices(self.targets, self.weights)[0]
        argv = self.tamer.tame(self.maker.make(target))
        if argv is None:
            return None
        if argv[0].upper() in SCRIPT_CALLERS and depth == 0 and self.rng.random() < 0.8:
            argv = self._script_call(argv)
        elif argv[0].upper() in FUNCTION_CALLERS and depth == 0 and self.rng.random() < 0.5:
            # fz_run (the batch starts with its library loaded) runs another fuzzed call
            inner = self._call(depth=1)
            argv = [argv[0], b"fz_run", b"0", *(inner[0] if inner is not None else [])]
        return argv, target.flags

    def _script_call(self, argv: Argv) -> Argv:
        """EVAL and friends run another fuzzed command from inside a script (so every command
        meets the script path: its checks, its reply conversion, noscript refusals), or a
        body that exercises the redis.* API; the numkeys argument stays fuzzed at times."""
        rng = self.rng
        body = rng.choice(SCRIPT_BODIES)
        inner = self._call(depth=1)
        args = list(inner[0]) if inner is not None else []
        numkeys = b"0" if rng.random() < 0.8 else argv[2] if len(argv) > 2 else b"0"
        first = argv[0].upper()
        if first.startswith(b"EVALSHA"):
            return [argv[0], hashlib.sha1(body).hexdigest().encode(), numkeys, *args]
        return [argv[0], body, numkeys, *args]

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


