"""Magpie against a real redis-server: random string, key and expiry command sequences.

Every example starts from FLUSHALL on both servers, runs a short random sequence of
commands over a four-key alphabet (so commands act on each other's keys), compares every
reply (errors included) and finally the whole keyspace of databases 0-2.

Clock-dependent parts are kept deterministic: relative expiry times in an example are all
different by at least 10 s (so GT/LT never compare two times set a millisecond apart),
absolute times are far in the future or in the past, and TTL/PTTL/EXPIRETIME replies are
compared within 1 s / 1000 ms. RANDOMKEY only runs on a database holding at most one key.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

import pytest
from differential import DEFAULT_RULES, Differential, first_reply_line, raw_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

RULES = replace(
    DEFAULT_RULES,
    tolerance={**DEFAULT_RULES.tolerance, "EXPIRETIME": 1, "PEXPIRETIME": 1000},
)

KEYS = [b"a", b"ab", b"b*", b"x[y"]
VALUES = [b"", b"v", b"hello", b"0", b"1", b"-1", b"10", b"0.1", b"1e3", b" 1", b"01", b"-0",
          b"9223372036854775807", b"-9223372036854775808", b"inf", b"abc", b"1.5", b"3.0", b"\x00\xff"]  # fmt: skip
NUMBERS = [b"1", b"0", b"-1", b"5", b"0.1", b"1e3", b" 1", b"01", b"-0", b"9223372036854775807",
           b"-9223372036854775808", b"9223372036854775808", b"-9223372036854775807", b"inf", b"-inf",
           b"abc", b"", b"+1", b"1 ", b"nan", b"1e400", b"0x", b"2.5e-3", b"3.0", b"-5"]  # fmt: skip
BAD_EXPIRES = [b"0", b"-1", b"-100", b"abc", b"", b"1.5", b" 5", b"9223372036854775807", b"9223372036854775",
               b"9223372036854776", b"-9223372036854775808", b"-9223372036854775", b"-9223372036854776",
               b"9223372036854775806", b"9223372036854775808"]  # fmt: skip
SELECT_DBS = [b"0", b"1", b"2", b"16", b"-1", b"abc", b"01", b""]
DBS = SELECT_DBS + [b"2147483648", b"-2147483649", b"4294967296", b"9223372036854775808"]
PATTERNS = [b"*", b"a*", b"a?", b"?", b"??", b"[a-c]*", b"[^a]*", b"[c-a]*", b"b\\*", b"b\\", b"[", b"[a",
            b"x[y", b"x\\[y", b"x[[]y", b"[]", b"[^]*", b"*[", b"\\", b"[a-]*", b"*\\", b"[\\]]*", b"*b*",
            b"[!a]*", b"a[b-]", b"?*", b"x[^]y", b"x[", b"[x-][[]y", b"[a-b-c]*"]  # fmt: skip


@dataclass(frozen=True)
class Rel:
    """A relative expiry, resolved per command so that no two in an example are equal."""

    ms: bool


@dataclass(frozen=True)
class At:
    """An absolute expiry ``offset`` seconds from now (far enough to never be reached)."""

    offset: int
    ms: bool


def resolve(commands: list[list], now: float) -> list[list[bytes]]:
    out = []
    for index, cmd in enumerate(commands):
        args = []
        for arg in cmd:
            if isinstance(arg, Rel):
                seconds = 1000 + 10 * index
                arg = str(seconds * 1000 + 7 if arg.ms else seconds).encode()
            elif isinstance(arg, At):
                seconds = int(now) + arg.offset + (10 * index if arg.offset > 0 else 0)
                arg = str(seconds * 1000 + 123 if arg.ms else seconds).encode()
            args.append(arg)
        out.append(args)
    return out


def cased(word: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from([word.upper().encode(), word.lower().encode(), word.capitalize().encode()])


key = st.sampled_from(KEYS)
value = st.sampled_from(VALUES)
number = st.sampled_from(NUMBERS)
db = st.sampled_from(DBS)
bad_expire = st.sampled_from(BAD_EXPIRES)
future = st.builds(At, st.sampled_from([1000, 100_000]), st.booleans())
past = st.builds(At, st.sampled_from([-100_000, -5]), st.booleans())
rel_s, rel_ms = st.just(Rel(False)), st.just(Rel(True))
keys_1_4 = st.lists(key, min_size=1, max_size=4)


def piece(*parts) -> st.SearchStrategy[list]:
    """One option of a command as a list of tokens (a flag, or a name and its value)."""
    return st.tuples(*parts).map(list)


def options(*pieces: st.SearchStrategy[list], max_pieces: int = 4) -> st.SearchStrategy[list]:
    return st.lists(st.one_of(*pieces), max_size=max_pieces).map(lambda ps: [t for p in ps for t in p])


def cmd(name: str, *parts) -> st.SearchStrategy[list]:
    return st.tuples(st.just(name.encode()), *parts).map(list)


def with_options(name: str, fixed: list, opts: st.SearchStrategy[list]) -> st.SearchStrategy[list]:
    return st.tuples(st.just([name.encode()]), st.tuples(*fixed).map(list), opts).map(lambda t: t[0] + t[1] + t[2])


junk = piece(st.sampled_from([b"FOO", b"", b"EX1", b"nxx"]))
set_options = options(
    piece(cased("nx")), piece(cased("xx")), piece(cased("get")), piece(cased("keepttl")),
    piece(cased("ex"), rel_s), piece(cased("px"), rel_ms), piece(cased("exat"), future | past),
    piece(cased("pxat"), future | past), piece(st.sampled_from([b"EX", b"PX", b"EXAT", b"PXAT"]), bad_expire),
    piece(st.sampled_from([b"EX", b"PX"])), junk,
)  # fmt: skip
getex_options = options(
    piece(cased("persist")), piece(cased("ex"), rel_s), piece(cased("px"), rel_ms),
    piece(cased("exat"), future | past), piece(cased("pxat"), future | past),
    piece(st.sampled_from([b"EX", b"PX", b"EXAT", b"PXAT"]), bad_expire), piece(st.sampled_from([b"EX", b"PXAT"])), junk,
    max_pieces=3,
)  # fmt: skip
pairs = st.lists(st.tuples(key, value), min_size=1, max_size=3).map(lambda ps: [x for p in ps for x in p])
range_index = st.sampled_from([b"0", b"1", b"2", b"-1", b"-2", b"-100", b"100", b"3", b"abc", b"9223372036854775807",
                               b"-9223372036854775808", b"9223372036854775808"])  # fmt: skip
# 536870912 + 1 byte is just over proto-max-bulk-len; anything accepted would allocate 512 MB.
setrange_offset = st.sampled_from([b"0", b"1", b"3", b"10", b"-1", b"abc", b"536870912", b""])

string_commands = st.one_of(
    cmd("GET", key),
    with_options("SET", [key, value], set_options),
    cmd("SETNX", key, value),
    cmd("SETEX", key, rel_s | bad_expire, value),
    cmd("PSETEX", key, rel_ms | bad_expire, value),
    cmd("GETSET", key, value),
    cmd("GETDEL", key),
    with_options("GETEX", [key], getex_options),
    st.tuples(st.just([b"MGET"]), keys_1_4).map(lambda t: t[0] + t[1]),
    st.tuples(st.sampled_from([[b"MSET"], [b"MSETNX"]]), pairs, st.lists(key, max_size=1)).map(lambda t: t[0] + t[1] + t[2]),
    cmd("APPEND", key, value),
    cmd("STRLEN", key),
    cmd("GETRANGE", key, range_index, range_index),
    cmd("SUBSTR", key, range_index, range_index),
    cmd("SETRANGE", key, setrange_offset, st.sampled_from([b"", b"x", b"hello", b"\x00"])),
    cmd("INCR", key),
    cmd("DECR", key),
    cmd("INCRBY", key, number),
    cmd("DECRBY", key, number),
    cmd("INCRBYFLOAT", key, number),
)

copy_options = options(piece(cased("db"), db), piece(cased("replace")), piece(st.just(b"DB")), junk, max_pieces=3)
flush_options = st.lists(st.sampled_from([b"ASYNC", b"sync", b"FOO"]), max_size=2)
# A key set with EXAT/PXAT in the past is counted until it is looked up or found by the
# active-expiry timer, whose timing differs; look every key up first so the count is exact.
dbsize = st.just([[b"EXISTS", *KEYS], [b"DBSIZE"]])
# RANDOMKEY's choice is random: run it only where there is nothing to choose between.
randomkey = st.tuples(st.lists(st.tuples(key, value), max_size=1)).map(
    lambda t: [[b"FLUSHDB"]] + [[b"SET", k, v] for k, v in t[0]] + [[b"RANDOMKEY"]]
)

key_commands = st.one_of(
    st.tuples(st.sampled_from([[b"DEL"], [b"UNLINK"], [b"EXISTS"], [b"TOUCH"]]), keys_1_4).map(lambda t: t[0] + t[1]),
    cmd("TYPE", key),
    cmd("RENAME", key, key),
    cmd("RENAMENX", key, key),
    with_options("COPY", [key, key], copy_options),
    cmd("MOVE", key, db),
    cmd("SWAPDB", db, db),
    cmd("KEYS", st.sampled_from(PATTERNS)),
    cmd("SELECT", st.sampled_from(DBS)),
    st.tuples(st.just([b"FLUSHDB"]), flush_options).map(lambda t: t[0] + t[1]),
)

expire_options = st.lists(st.sampled_from([b"NX", b"XX", b"GT", b"LT", b"nx", b"gt", b"lt", b"FOO"]), max_size=3)
expiry_commands = st.one_of(
    st.tuples(st.just([b"EXPIRE"]), key, rel_s | bad_expire, expire_options).map(lambda t: t[0] + [t[1], t[2]] + t[3]),
    st.tuples(st.just([b"PEXPIRE"]), key, rel_ms | bad_expire, expire_options).map(lambda t: t[0] + [t[1], t[2]] + t[3]),
    st.tuples(st.just([b"EXPIREAT"]), key, st.builds(At, st.sampled_from([1000, 100_000, -100_000, -5]), st.just(False))
              | bad_expire, expire_options).map(lambda t: t[0] + [t[1], t[2]] + t[3]),
    st.tuples(st.just([b"PEXPIREAT"]), key, st.builds(At, st.sampled_from([1000, 100_000, -100_000, -5]), st.just(True))
              | bad_expire, expire_options).map(lambda t: t[0] + [t[1], t[2]] + t[3]),
    st.tuples(st.sampled_from([[b"TTL"], [b"PTTL"], [b"EXPIRETIME"], [b"PEXPIRETIME"], [b"PERSIST"]]), key).map(
        lambda t: t[0] + [t[1]]
    ),
)  # fmt: skip

ALL_NAMES = [b"GET", b"SET", b"SETNX", b"SETEX", b"PSETEX", b"GETSET", b"GETDEL", b"GETEX", b"MGET", b"MSET",
             b"MSETNX", b"APPEND", b"STRLEN", b"GETRANGE", b"SETRANGE", b"INCR", b"DECR", b"INCRBY", b"DECRBY",
             b"INCRBYFLOAT", b"DEL", b"UNLINK", b"EXISTS", b"TYPE", b"RENAME", b"RENAMENX", b"COPY", b"MOVE",
             b"SWAPDB", b"KEYS", b"SELECT", b"FLUSHDB", b"EXPIRE", b"PEXPIRE",
             b"EXPIREAT", b"PEXPIREAT", b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME", b"PERSIST", b"get",
             b"sEt", b"mset"]  # fmt: skip
UNKNOWN_NAMES = [b"FOO", b"GETT", b"", b"x" * 200, b"\xff\xfe", b"a\r\nb"]
# No digits among the arguments: a random "1" could become a 1 ms TTL and race the clock.
arity_args = st.lists(st.sampled_from(KEYS + [b"x", b"NX", b"y" * 150, b"z\xff"]), max_size=5)
arity_commands = st.one_of(
    # without arguments these two are valid and clock- or chance-dependent
    st.tuples(st.sampled_from([b"DBSIZE", b"RANDOMKEY"]), arity_args.filter(bool)).map(lambda t: [t[0]] + t[1]),
    st.tuples(st.sampled_from(ALL_NAMES), arity_args).map(lambda t: [t[0]] + t[1]),
    st.tuples(st.sampled_from(UNKNOWN_NAMES), arity_args).map(lambda t: [t[0]] + t[1]),
)


def single(strategy: st.SearchStrategy[list]) -> st.SearchStrategy[list[list]]:
    return strategy.map(lambda c: [c])


def program(*groups: st.SearchStrategy[list[list]], min_size: int = 4, max_size: int = 30) -> st.SearchStrategy[list[list]]:
    return st.lists(st.one_of(*groups), min_size=min_size, max_size=max_size).map(lambda gs: [c for g in gs for c in g])


@pytest.fixture(scope="module")
def diff(magpie, reference_redis):
    ours = raw_client(magpie.client, protocol=2)
    ref = raw_client(reference_redis.client, protocol=2)
    yield Differential(ours, ref, RULES)
    ours.close()
    ref.close()


def check(diff: Differential, commands: list[list]) -> None:
    diff.reset()
    resolved = resolve(commands, time.time())
    steps = diff.run(resolved)
    diff.compare_keyspace(range(3), steps)


# DIFFERENTIAL_EXAMPLES=5000 runs a deeper search (add --timeout=0: a test then runs for
# minutes); the default keeps the whole file around 20 s.
EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "200"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(commands=program(single(string_commands), single(cmd("TTL", key)), single(cmd("DEL", key))))
def test_string_commands_match_redis(diff, commands):
    check(diff, commands)


@SETTINGS
@given(commands=program(single(key_commands), single(string_commands), randomkey, dbsize))
def test_key_commands_match_redis(diff, commands):
    check(diff, commands)


@SETTINGS
@given(commands=program(single(expiry_commands), single(string_commands), single(key_commands), dbsize))
def test_expiry_commands_match_redis(diff, commands):
    check(diff, commands)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=program(single(arity_commands), single(string_commands), min_size=1, max_size=10))
def test_wrong_arity_and_unknown_commands_match_redis(diff, commands):
    check(diff, commands)


GLOB_KEYS = [b"", b"a", b"b", b"ab", b"abc", b"a*", b"a?", b"[a]", b"a\\b", b"^", b"-", b"]", b"x-y", b"\\", b"aXb"]
glob_pattern = st.text(alphabet="ab*?[]^-\\x", max_size=7).map(str.encode)


@SETTINGS
@given(patterns=st.lists(glob_pattern, min_size=1, max_size=10))
def test_keys_glob_patterns_match_redis(diff, patterns):
    commands = [[b"MSET", *(x for k in GLOB_KEYS for x in (k, b"1"))]]
    for pattern in patterns:
        commands += [[b"KEYS", pattern], [b"SCAN", b"0", b"MATCH", pattern, b"COUNT", b"1000"]]
    check(diff, commands)


numeric_text = st.one_of(
    st.text(alphabet="0123456789.-+eE xinf", max_size=8).map(str.encode),
    st.floats(allow_nan=False).map(lambda f: repr(f).encode()),
    st.integers(min_value=-(2**64), max_value=2**64).map(lambda i: str(i).encode()),
    number,
)


@SETTINGS
@given(numbers=st.lists(numeric_text, min_size=1, max_size=4))
def test_number_parsing_matches_redis(diff, numbers):
    commands: list[list] = []
    for n in numbers:
        commands += [[b"SET", b"a", b"1.5"], [b"INCRBYFLOAT", b"a", n], [b"INCRBY", b"b", n], [b"DECRBY", b"b", n],
                     [b"SET", b"c", n], [b"INCR", b"c"], [b"INCRBYFLOAT", b"c", b"1.25"], [b"GETRANGE", b"c", n, b"-1"]]  # fmt: skip
    check(diff, commands)


# -- hand-picked bad inputs: the exact error line, checked against redis-server too --------

BAD_INPUTS = [
    (["GET"], b"-ERR wrong number of arguments for 'get' command"),
    (["get", "a", "b"], b"-ERR wrong number of arguments for 'get' command"),
    (["SET", "k"], b"-ERR wrong number of arguments for 'set' command"),
    (["SET", "k", "v", "NX", "XX"], b"-ERR syntax error"),
    (["SET", "k", "v", "EX", "10", "PX", "100"], b"-ERR syntax error"),
    (["SET", "k", "v", "EX", "10", "KEEPTTL"], b"-ERR syntax error"),
    (["SET", "k", "v", "EX"], b"-ERR syntax error"),
    (["SET", "k", "v", "EX", "0"], b"-ERR invalid expire time in 'set' command"),
    (["SET", "k", "v", "PX", "-5"], b"-ERR invalid expire time in 'set' command"),
    (["SET", "k", "v", "EX", "abc"], b"-ERR value is not an integer or out of range"),
    (["SET", "k", "v", "EX", "9223372036854775807"], b"-ERR invalid expire time in 'set' command"),
    (["SET", "k", "v", "FOO"], b"-ERR syntax error"),
    (["SETEX", "k", "0", "v"], b"-ERR invalid expire time in 'setex' command"),
    (["PSETEX", "k", "-1", "v"], b"-ERR invalid expire time in 'psetex' command"),
    (["SETEX", "k", "x", "v"], b"-ERR value is not an integer or out of range"),
    (["GETEX", "k", "PERSIST", "EX", "10"], b"-ERR syntax error"),
    (["GETEX", "k", "EX", "0"], b"-ERR invalid expire time in 'getex' command"),
    (["MSET", "a", "1", "b"], b"-ERR wrong number of arguments for 'mset' command"),
    (["MSETNX", "a"], b"-ERR wrong number of arguments for 'msetnx' command"),
    (["INCRBY", "k", "1.5"], b"-ERR value is not an integer or out of range"),
    (["INCRBY", "k", " 1"], b"-ERR value is not an integer or out of range"),
    (["INCRBY", "k", "9223372036854775808"], b"-ERR value is not an integer or out of range"),
    (["DECRBY", "k", "-9223372036854775808"], b"-ERR decrement would overflow"),
    (["INCRBYFLOAT", "k", "abc"], b"-ERR value is not a valid float"),
    (["INCRBYFLOAT", "k", "nan"], b"-ERR value is not a valid float"),
    (["INCRBYFLOAT", "nokey", "inf"], b"-ERR increment would produce NaN or Infinity"),
    (["GETRANGE", "k", "a", "1"], b"-ERR value is not an integer or out of range"),
    (["SETRANGE", "k", "-1", "x"], b"-ERR offset is out of range"),
    (["SETRANGE", "k", "536870912", "x"], b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
    (["RENAME", "nokey", "x"], b"-ERR no such key"),
    (["COPY", "k", "k"], b"-ERR source and destination objects are the same"),
    (["COPY", "k", "j", "DB", "99"], b"-ERR DB index is out of range"),
    (["COPY", "k", "j", "REPLACE", "FOO"], b"-ERR syntax error"),
    (["MOVE", "k", "0"], b"-ERR source and destination objects are the same"),
    (["MOVE", "k", "abc"], b"-ERR value is not an integer or out of range"),
    (["SWAPDB", "x", "1"], b"-ERR invalid first DB index"),
    (["SWAPDB", "0", "x"], b"-ERR invalid second DB index"),
    (["SWAPDB", "0", "16"], b"-ERR DB index is out of range"),
    (["SWAPDB", "4294967296", "0"], b"-ERR invalid first DB index"),
    (["SWAPDB", "0", "-2147483649"], b"-ERR invalid second DB index"),
    (["MOVE", "k", "2147483648"], b"-ERR value is out of range, value must between -2147483648 and 2147483647"),
    (["COPY", "k", "j", "DB", "-2147483649"], b"-ERR value is out of range, value must between -2147483648 and 2147483647"),
    (["SELECT", "16"], b"-ERR DB index is out of range"),
    (["SELECT", "x"], b"-ERR value is not an integer or out of range"),
    (["FLUSHDB", "FOO"], b"-ERR syntax error"),
    (["DBSIZE", "x"], b"-ERR wrong number of arguments for 'dbsize' command"),
    (["EXPIRE", "k", "10", "FOO"], b"-ERR Unsupported option FOO"),
    (["EXPIRE", "k", "10", "NX", "XX"], b"-ERR NX and XX, GT or LT options at the same time are not compatible"),
    (["EXPIRE", "k", "10", "GT", "LT"], b"-ERR GT and LT options at the same time are not compatible"),
    (["EXPIRE", "k", "9223372036854775807"], b"-ERR invalid expire time in 'expire' command"),
    (["PEXPIRE", "k", "9223372036854775807"], b"-ERR invalid expire time in 'pexpire' command"),
    (["EXPIREAT", "k", "abc"], b"-ERR value is not an integer or out of range"),
    (["FOO", "a", "b"], b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' "),
    (["foo"], b"-ERR unknown command 'foo', with args beginning with: "),
]


@pytest.mark.parametrize(("args", "expected"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_error_text_for_bad_input(magpie, reference_redis, args, expected):
    for server in (reference_redis, magpie):
        with server.client() as client:
            client.flushall()
            client.set("k", "v")
    assert first_reply_line(reference_redis.port, args) == expected, "the expected text is not Redis's"
    assert first_reply_line(magpie.port, args) == expected


# -- fixed sequences: each difference found by the random tests above, pinned down -------

REGRESSIONS = {
    "only the empty pattern matches the empty key": [["MSET", "", "1", "a", "1"], ["KEYS", "*"], ["KEYS", "**"],
                                                     ["KEYS", ""], ["KEYS", "[^a]"], ["SCAN", "0", "MATCH", "**"]],
    "getex of a missing key ignores a bad expire time": [["GETEX", "a", "EX", "0"], ["GETEX", "a", "PX", "x"]],
    "expire checks its options before its time argument": [["EXPIRE", "a", "abc", "NX", "XX"]],
    "expire in seconds rejects a time below LLONG_MIN / 1000": [["SET", "a", "v"], ["EXPIRE", "a", "-9223372036854776"]],
    "getex accepts a repeated persist": [["SET", "a", "v", "EX", "100"], ["GETEX", "a", "PERSIST", "persist"], ["TTL", "a"]],
    "incrbyfloat accepts hexadecimal floats as strtold does": [["INCRBYFLOAT", "a", "0x1A"], ["INCRBYFLOAT", "a", "-0x1.8p1"]],
    "incrbyfloat rejects a number that underflows to zero": [["INCRBYFLOAT", "a", "1e-5000"], ["INCRBYFLOAT", "a", "1e-4940"]],
    "incrbyfloat refuses input of 5120 characters": [["INCRBYFLOAT", "a", "1" + "0" * 5119], ["INCRBYFLOAT", "b", "1" + "0" * 5118]],
    "select takes a C int: a larger index is out of the int range": [["SELECT", "4294967296"]],
    # Not "set\x00x": Redis looks commands up by a hash of the whole name (seeded per process)
    # but compares with strcasecmp, so when that name happens to hash into SET's bucket Redis
    # finds SET (once in a few hundred runs; it failed CI so).
    "unknown command names are cut at a NUL byte in the error": [["foo\x00x", "q\x00z"]],
    "the unknown-command error shows 128 bytes of arguments, not characters": [["FOO", "\xe9", "y" * 150]],
}


@pytest.mark.parametrize("commands", list(REGRESSIONS.values()), ids=list(REGRESSIONS))
def test_fixed_sequence_matches_redis(diff, commands):
    check(diff, commands)
