"""Magpie against a real redis-server: random list command sequences.

Each example starts from FLUSHALL on both servers and runs a short random program over a
three-key alphabet (one key is sometimes a string, so WRONGTYPE paths are exercised both
ways) and a small element alphabet (so LPOS, LREM and LINSERT find matches). Indexes sit
around the list edges, include negatives, the 64-bit limits and invalid integers. Every
reply, error included, is compared, then the whole keyspace of database 0.
"""

from __future__ import annotations

import os
import random

import pytest
from differential import DEFAULT_RULES, Differential, first_reply_line, raw_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEYS = [b"a", b"b", b"c"]
ELEMENTS = [b"x", b"y", b"z", b"", b"1", b"-1", b"x" * 70]
INT64_EDGES = [b"9223372036854775807", b"-9223372036854775808", b"-9223372036854775807", b"9223372036854775806"]
BAD_INTEGERS = [b"abc", b"", b"1.5", b" 1", b"+1", b"01", b"-0", b"9223372036854775808", b"-9223372036854775809"]

key = st.sampled_from(KEYS)
common = st.sampled_from(ELEMENTS[:3])
element = st.one_of(common, common, common, st.sampled_from(ELEMENTS))  # mostly x, y, z: many matches
elements = st.lists(element, min_size=1, max_size=8)
small = st.integers(min_value=-7, max_value=7).map(lambda i: str(i).encode())
index = st.one_of(small, small, small, small, st.sampled_from(INT64_EDGES + BAD_INTEGERS))
tiny = st.integers(min_value=-2, max_value=2).map(lambda i: str(i).encode())  # LREM counts that remove only some
count = st.one_of(st.integers(min_value=0, max_value=8).map(lambda i: str(i).encode()), st.sampled_from(
    [b"-1", b"-5"] + INT64_EDGES + BAD_INTEGERS))  # fmt: skip


def cased(*words: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from([v for w in words for v in (w.upper().encode(), w.lower().encode(), w.capitalize().encode())])


side = st.one_of(cased("left", "right"), cased("left", "right"), st.sampled_from([b"UP", b"", b"LEFTX"]))


def cmd(name: str, *parts) -> st.SearchStrategy[list]:
    return st.tuples(st.just(name.encode()), *parts).map(list)


def joined(*parts) -> st.SearchStrategy[list]:
    """Concatenate parts that are single tokens or lists of tokens."""

    def flatten(items) -> list:
        out: list = []
        for item in items:
            out.extend(item if isinstance(item, list) else [item])
        return out

    return st.tuples(*parts).map(flatten)


nonzero = st.integers(min_value=-4, max_value=4).filter(bool).map(lambda i: str(i).encode())
few = st.integers(min_value=0, max_value=6).map(lambda i: str(i).encode())
valid_lpos_option = st.one_of(
    st.tuples(cased("rank"), nonzero), st.tuples(cased("count"), few), st.tuples(cased("maxlen"), few)
).map(list)
invalid_lpos_option = st.one_of(
    st.tuples(cased("rank"), st.sampled_from([b"0", b"-9223372036854775808"] + INT64_EDGES + BAD_INTEGERS[:2])),
    st.tuples(cased("count", "maxlen"), count),
    st.tuples(st.sampled_from([b"FOO", b"RANK", b"COUNT", b"MAXLEN"])),
).map(list)
lpos_options = st.one_of(
    st.lists(valid_lpos_option, max_size=3),
    st.lists(valid_lpos_option, max_size=3),
    st.lists(valid_lpos_option | invalid_lpos_option, max_size=3),
).map(lambda ps: [t for p in ps for t in p])

valid_numkeys_and_keys = st.lists(key, min_size=1, max_size=3).map(lambda ks: [str(len(ks)).encode(), *ks])
valid_mpop_tail = st.one_of(st.just([]), st.tuples(cased("count"), st.integers(1, 6).map(lambda i: str(i).encode())).map(list))
numkeys_and_keys = st.one_of(
    valid_numkeys_and_keys,
    st.tuples(st.sampled_from([b"0", b"-1", b"x", b"4", b"2147483648", b"9223372036854775807"]),
              st.lists(key, min_size=1, max_size=2)).map(lambda t: [t[0], *t[1]]),
)  # fmt: skip
mpop_tail = st.one_of(
    st.just([]),
    st.tuples(cased("count"), count).map(list),
    st.sampled_from([[b"COUNT"], [b"FOO"], [b"COUNT", b"1", b"COUNT", b"2"]]),
)

push = joined(st.sampled_from([b"LPUSH", b"RPUSH", b"lpush", b"rpush"]), key, elements)
list_commands = st.one_of(
    push, push, push,
    joined(st.sampled_from([b"LPUSHX", b"RPUSHX"]), key, elements),
    cmd("LPOP", key), cmd("RPOP", key),
    cmd("LPOP", key, count), cmd("RPOP", key, count),
    cmd("LLEN", key),
    cmd("LRANGE", key, index, index),
    cmd("LINDEX", key, index),
    cmd("LSET", key, index, element),
    cmd("LINSERT", key, st.one_of(cased("before", "after"), st.just(b"MIDDLE")), element, element),
    cmd("LREM", key, st.one_of(tiny, tiny, index), element),
    cmd("LTRIM", key, index, index),
    joined(st.just(b"LPOS"), key, element, lpos_options),
    cmd("LMOVE", key, key, side, side),
    cmd("LMOVE", key, key, cased("left", "right"), cased("left", "right")),
    cmd("RPOPLPUSH", key, key),
    joined(st.just(b"LMPOP"), numkeys_and_keys, side, mpop_tail),
    joined(st.just(b"LMPOP"), valid_numkeys_and_keys, cased("left", "right"), valid_mpop_tail),
    joined(st.just(b"LMPOP"), valid_numkeys_and_keys, cased("left", "right"), valid_mpop_tail),
)  # fmt: skip

other_commands = st.one_of(
    cmd("SET", key, element),
    cmd("DEL", key),
    cmd("TYPE", key),
    cmd("OBJECT", st.just(b"ENCODING"), key),
    cmd("EXISTS", key),
    cmd("COPY", key, key),
    cmd("RENAME", key, key),
)

LIST_NAMES = [b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX", b"LPOP", b"RPOP", b"LLEN", b"LRANGE", b"LINDEX", b"LSET",
              b"LINSERT", b"LREM", b"LTRIM", b"LPOS", b"LMOVE", b"RPOPLPUSH", b"LMPOP", b"lpop", b"lMpOp"]  # fmt: skip
arity_commands = st.tuples(
    st.sampled_from(LIST_NAMES), st.lists(st.sampled_from(KEYS + [b"LEFT", b"1", b"x", b"COUNT"]), max_size=6)
).map(lambda t: [t[0], *t[1]])


def program(*strategies, min_size: int = 10, max_size: int = 40) -> st.SearchStrategy[list[list]]:
    return st.lists(st.one_of(*strategies), min_size=min_size, max_size=max_size)


@pytest.fixture(scope="module")
def diff(magpie, reference_redis):
    ours = raw_client(magpie.client, protocol=2)
    ref = raw_client(reference_redis.client, protocol=2)
    yield Differential(ours, ref, DEFAULT_RULES)
    ours.close()
    ref.close()


@pytest.fixture(scope="module")
def diff3(magpie, reference_redis):
    ours = raw_client(magpie.client, protocol=3)
    ref = raw_client(reference_redis.client, protocol=3)
    yield Differential(ours, ref, DEFAULT_RULES)
    ours.close()
    ref.close()


def check(diff: Differential, commands: list[list]) -> None:
    diff.reset()
    steps = diff.run(commands)
    diff.compare_keyspace([0], steps)


# DIFFERENTIAL_EXAMPLES=5000 runs a deeper search (add --timeout=0).
EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "200"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_elements(size: int, seed: int) -> list[bytes]:
    """A list of ``size`` elements among x, y, z."""
    rng = random.Random(seed)
    return [rng.choice((b"x", b"y", b"z")) for _ in range(size)]


#: Lists to start from, so that an example's commands meet long lists with repeated elements.
#: (Drawn from a seed: hypothesis's own lists stay short and shrink towards one element.)
initial_lists = st.tuples(*(st.builds(random_elements, st.integers(0, 16), st.integers(0, 2**32)) for _ in KEYS)).map(
    lambda contents: [[b"RPUSH", k, *items] for k, items in zip(KEYS, contents, strict=True) if items]
)


@SETTINGS
@given(setup=initial_lists, commands=program(list_commands, list_commands, list_commands, other_commands))
def test_list_commands_match_redis(diff, setup, commands):
    check(diff, setup + commands)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setup=initial_lists, commands=program(list_commands, other_commands, max_size=20))
def test_list_commands_match_redis_over_resp3(diff3, setup, commands):
    check(diff3, setup + commands)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=program(arity_commands, list_commands, min_size=1, max_size=10))
def test_list_arity_and_argument_errors_match_redis(diff, commands):
    check(diff, commands)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    contents=st.builds(random_elements, st.integers(0, 300), st.integers(0, 2**32)),
    probes=st.lists(st.one_of(
        joined(st.just(b"LPOS"), st.just(b"a"), st.sampled_from([b"x", b"y", b"z"]), lpos_options),
        joined(st.just(b"LPOS"), st.just(b"a"), st.sampled_from([b"x", b"y", b"z"]), lpos_options),
        cmd("LRANGE", st.just(b"a"), st.integers(-320, 320).map(lambda i: str(i).encode()),
            st.integers(-320, 320).map(lambda i: str(i).encode())),
        cmd("LINDEX", st.just(b"a"), st.integers(-320, 320).map(lambda i: str(i).encode())),
        cmd("LREM", st.just(b"a"), st.integers(-80, 80).map(lambda i: str(i).encode()), element),
        cmd("LTRIM", st.just(b"a"), st.integers(-320, 320).map(lambda i: str(i).encode()),
            st.integers(-320, 320).map(lambda i: str(i).encode())),
        cmd("LINSERT", st.just(b"a"), cased("before", "after"), element, element),
        cmd("LPOP", st.just(b"a"), st.integers(0, 120).map(lambda i: str(i).encode())),
    ), min_size=1, max_size=8),
)  # fmt: skip
def test_long_lists_match_redis(diff, contents, probes):
    commands: list[list] = [[b"RPUSH", b"a", *contents]] if contents else []
    check(diff, commands + probes)


# -- hand-picked bad inputs: the exact error line, checked against redis-server too --------

RANK_ZERO = (b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
             b"or use negative to start from the end of the list")  # fmt: skip
BAD_INPUTS = [
    (["LPUSH", "l"], b"-ERR wrong number of arguments for 'lpush' command"),
    (["LPOP", "l", "1", "2"], b"-ERR wrong number of arguments for 'lpop' command"),
    (["RPOP", "l", "-1"], b"-ERR value is out of range, must be positive"),
    (["LPOP", "l", "x"], b"-ERR value is out of range, must be positive"),
    (["LPOP", "s"], b"-WRONGTYPE Operation against a key holding the wrong kind of value"),
    (["LSET", "nokey", "0", "x"], b"-ERR no such key"),
    (["LSET", "l", "9", "x"], b"-ERR index out of range"),
    (["LSET", "l", "x", "x"], b"-ERR value is not an integer or out of range"),
    (["LINSERT", "l", "MIDDLE", "a", "b"], b"-ERR syntax error"),
    (["LRANGE", "l", "0", "9223372036854775808"], b"-ERR value is not an integer or out of range"),
    (["LPOS", "l", "a", "RANK", "0"], RANK_ZERO),
    (["LPOS", "l", "a", "COUNT", "-1"], b"-ERR COUNT can't be negative"),
    (["LPOS", "l", "a", "COUNT", "x"], b"-ERR COUNT can't be negative"),
    (["LPOS", "l", "a", "MAXLEN", "-1"], b"-ERR MAXLEN can't be negative"),
    (["LPOS", "l", "a", "RANK", "x"], b"-ERR value is not an integer or out of range"),
    (["LPOS", "l", "a", "FOO", "1"], b"-ERR syntax error"),
    (["LMOVE", "l", "m", "LEFT", "UP"], b"-ERR syntax error"),
    (["LMPOP", "0", "l", "LEFT"], b"-ERR numkeys should be greater than 0"),
    (["LMPOP", "x", "l", "LEFT"], b"-ERR numkeys should be greater than 0"),
    (["LMPOP", "2", "l", "LEFT"], b"-ERR syntax error"),
    (["LMPOP", "1", "l", "LEFT", "COUNT", "0"], b"-ERR count should be greater than 0"),
    (["LMPOP", "1", "l", "LEFT", "COUNT"], b"-ERR syntax error"),
    (["LMPOP", "1", "s", "LEFT"], b"-WRONGTYPE Operation against a key holding the wrong kind of value"),
]


@pytest.mark.parametrize(("args", "expected"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_error_text_for_bad_input(magpie, reference_redis, args, expected):
    for server in (reference_redis, magpie):
        with server.client() as client:
            client.flushall()
            client.set("s", "v")
            client.rpush("l", "a", "b")
    assert first_reply_line(reference_redis.port, args) == expected, "the expected text is not Redis's"
    assert first_reply_line(magpie.port, args) == expected


# -- fixed sequences: behaviours worth pinning down by name --------------------------------

REGRESSIONS = {
    "lpos rank LLONG_MIN wraps in C and matches from the tail without a count limit": [
        ["RPUSH", "a", "x", "y", "x", "x"], ["LPOS", "a", "x", "RANK", "-9223372036854775808"],
        ["LPOS", "a", "x", "RANK", "-9223372036854775808", "COUNT", "1"],
        ["LPOS", "a", "x", "RANK", "-9223372036854775807", "COUNT", "0"]],
    "lmpop checks types only up to the first non-empty list": [
        ["SET", "s", "v"], ["RPUSH", "a", "1"], ["LMPOP", "2", "a", "s", "LEFT"], ["LMPOP", "2", "a", "s", "LEFT"]],
    "lmove onto a string does not pop": [["SET", "s", "v"], ["RPUSH", "a", "1"], ["LMOVE", "a", "s", "LEFT", "LEFT"]],
    "lindex and lset look the key up before parsing the index": [
        ["SET", "s", "v"], ["LINDEX", "nokey", "x"], ["LINDEX", "s", "x"], ["LSET", "s", "x", "v"],
        ["LSET", "nokey", "x", "v"]],
    "lrange and ltrim parse indexes before looking the key up": [
        ["SET", "s", "v"], ["LRANGE", "s", "x", "1"], ["LTRIM", "s", "1", "x"], ["LREM", "s", "x", "v"]],
    "count zero pops nothing but still checks the type": [
        ["SET", "s", "v"], ["LPOP", "s", "0"], ["LPOP", "nokey", "0"], ["RPUSH", "a", "1"], ["RPOP", "a", "0"]],
}


@pytest.mark.parametrize("commands", list(REGRESSIONS.values()), ids=list(REGRESSIONS))
def test_fixed_sequence_matches_redis(diff, commands):
    check(diff, commands)
