"""Magpie against a real redis-server: random hash and set command sequences.

Every example starts from FLUSHALL on both servers and runs a short random sequence over a
four-key alphabet shared by hashes, sets and strings (so WRONGTYPE comes up), with small
field/member alphabets that include integers in and out of Redis's canonical form. Every
reply is compared (errors by their exact text), then the whole keyspace and the OBJECT
ENCODING of every key.

The encoding thresholds are lowered on both servers for this module (4 entries, 6-byte
values, 4 intset members) so conversions happen within a few commands.

Replies whose order Redis leaves unspecified are compared as multisets. Random commands
(SRANDMEMBER, HRANDFIELD) are read-only, so they are compared by shape, size, distinctness
and membership in the key's current contents. SPOP changes the state at random, so the
sequences only use its deterministic forms (a count of 0, a count that empties the set,
one pop of a one-member set, invalid counts); ``test_spop_with_count`` checks the random
forms on each server separately.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from differential import (
    DEFAULT_RULES,
    Differential,
    Error,
    first_reply_line,
    raw_client,
    same_pairs,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEYS = [b"h", b"s", b"t", b"x"]
FIELDS = [b"a", b"b", b"c", b"1", b"-1", b"field-7", b""]
VALUES = [b"", b"v", b"1", b"-5", b"1.5", b"abc", b"9223372036854775807", b"0x10", b"1e3", b" 1", b"longer-v"]
MEMBERS = [b"1", b"2", b"3", b"-1", b"0", b"01", b"-0", b"a", b"b", b"9223372036854775807",
           b"-9223372036854775808", b"9223372036854775808", b"+1", b"", b" 2", b"1.0"]  # fmt: skip
INCREMENTS = [b"1", b"0", b"-1", b"5", b"0.1", b"1e3", b" 1", b"01", b"-0", b"9223372036854775807",
              b"-9223372036854775808", b"9223372036854775808", b"inf", b"-inf", b"abc", b"", b"+1", b"nan",
              b"1e400", b"2.5e-3", b"3.0", b"-5", b"0x1p3"]  # fmt: skip
# Negative counts ask for that many picks: keep them small (Redis would really send them).
COUNTS = [b"0", b"1", b"2", b"3", b"5", b"100", b"-1", b"-3", b"-7", b"abc", b"", b"1.5", b"9223372036854775807",
          b"-9223372036854775808", b"4611686018427387904", b"9223372036854775808"]  # fmt: skip
SPOP_COUNTS = [b"0", b"100", b"9223372036854775807", b"-1", b"abc", b"", b"9223372036854775808"]
CURSORS = [b"0", b"5", b"abc", b"-1", b"+0", b"-", b"0005", b" 1", b"18446744073709551616", b"18446744073709551615", b""]
SCAN_COUNTS = [b"1000", b"1", b"2", b"0", b"-1", b"abc"]
PATTERNS = [b"*", b"a*", b"[ab]", b"1*", b"?", b"*-*", b""]
NUMKEYS = [b"1", b"2", b"3", b"0", b"-1", b"abc", b"5"]

THRESHOLDS = {"hash-max-listpack-entries": "4", "hash-max-listpack-value": "6", "set-max-intset-entries": "4"}


def cased(word: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from([word.upper().encode(), word.lower().encode(), word.capitalize().encode()])


key = st.sampled_from(KEYS)
field = st.sampled_from(FIELDS)
value = st.sampled_from(VALUES)
member = st.sampled_from(MEMBERS)
increment = st.sampled_from(INCREMENTS)
count = st.sampled_from(COUNTS)


def cmd(name: str, *parts) -> st.SearchStrategy[list]:
    """A command: fixed words, single tokens and lists of tokens, flattened."""

    def flatten(values: tuple) -> list:
        out = [name.encode()]
        for v in values:
            out.extend(v if isinstance(v, list) else [v])
        return out

    return st.tuples(*parts).map(flatten)


def some(strategy, lo: int = 1, hi: int = 3) -> st.SearchStrategy[list]:
    return st.lists(strategy, min_size=lo, max_size=hi)


pairs = some(st.tuples(field, value), 0, 3).map(lambda ps: [x for p in ps for x in p])
odd_tail = st.lists(field, max_size=1)  # an unpaired field makes HSET's arity wrong
scan_options = st.lists(
    st.one_of(
        st.tuples(cased("match"), st.sampled_from(PATTERNS)).map(list),
        st.tuples(cased("count"), st.sampled_from(SCAN_COUNTS)).map(list),
        st.sampled_from([[b"TYPE", b"hash"], [b"COUNT"], [b"FOO", b"1"]]),
    ),
    max_size=2,
).map(lambda ps: [t for p in ps for t in p])

hash_commands = st.one_of(
    cmd("HSET", key, field, value, pairs, odd_tail),
    cmd("HMSET", key, field, value, pairs),
    cmd("HSETNX", key, field, value),
    cmd("HGET", key, field),
    cmd("HMGET", key, some(field)),
    cmd("HGETALL", key),
    cmd("HDEL", key, some(field)),
    cmd("HEXISTS", key, field),
    cmd("HLEN", key),
    cmd("HSTRLEN", key, field),
    cmd("HKEYS", key),
    cmd("HVALS", key),
    cmd("HINCRBY", key, field, increment),
    cmd("HINCRBYFLOAT", key, field, increment),
    cmd("HRANDFIELD", key),
    cmd("HRANDFIELD", key, count, st.sampled_from([[], [b"WITHVALUES"], [b"withvalues"], [b"FOO"], [b"WITHVALUES", b"x"]])),
    cmd("HSCAN", key, st.sampled_from(CURSORS), scan_options),
)

set_commands = st.one_of(
    cmd("SADD", key, some(member)),
    cmd("SREM", key, some(member)),
    cmd("SMEMBERS", key),
    cmd("SISMEMBER", key, member),
    cmd("SMISMEMBER", key, some(member)),
    cmd("SCARD", key),
    cmd("SPOP", key, st.sampled_from(SPOP_COUNTS)),
    cmd("SPOP", key, st.sampled_from(SPOP_COUNTS), st.sampled_from(SPOP_COUNTS)),
    cmd("SRANDMEMBER", key),
    cmd("SRANDMEMBER", key, count, st.lists(st.just(b"1"), max_size=1)),
    cmd("SMOVE", key, key, member),
    cmd("SINTER", some(key)),
    cmd("SUNION", some(key)),
    cmd("SDIFF", some(key)),
    cmd("SINTERSTORE", key, some(key)),
    cmd("SUNIONSTORE", key, some(key)),
    cmd("SDIFFSTORE", key, some(key)),
    cmd("SINTERCARD", st.sampled_from(NUMKEYS), some(key),
        st.sampled_from([[], [b"LIMIT", b"1"], [b"limit", b"0"], [b"LIMIT", b"2"], [b"LIMIT", b"-1"], [b"LIMIT", b"x"],
                         [b"LIMIT"], [b"FOO"]])),  # fmt: skip
    cmd("SSCAN", key, st.sampled_from(CURSORS), scan_options),
)

other_commands = st.one_of(
    cmd("SET", key, value),
    cmd("GET", key),
    cmd("DEL", key),
    cmd("TYPE", key),
    cmd("OBJECT", st.just(b"ENCODING"), key),
    cmd("COPY", key, key, st.sampled_from([[], [b"REPLACE"]])),
    cmd("RENAME", key, key),
)

# SPOP without a count is deterministic only on a one-member set.
single_pop = st.tuples(key, member).map(lambda t: [[b"DEL", t[0]], [b"SADD", t[0], t[1]], [b"SPOP", t[0]], [b"SPOP", t[0]]])

NAMES = [b"HSET", b"HMSET", b"HSETNX", b"HGET", b"HMGET", b"HGETALL", b"HDEL", b"HEXISTS", b"HLEN", b"HSTRLEN",
         b"HKEYS", b"HVALS", b"HINCRBY", b"HINCRBYFLOAT", b"HRANDFIELD", b"HSCAN", b"SADD", b"SREM", b"SMEMBERS",
         b"SISMEMBER", b"SMISMEMBER", b"SCARD", b"SPOP", b"SRANDMEMBER", b"SMOVE", b"SINTER", b"SUNION", b"SDIFF",
         b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE", b"SINTERCARD", b"SSCAN", b"hset", b"sAdd"]  # fmt: skip
arity_commands = st.tuples(st.sampled_from(NAMES), st.lists(st.sampled_from(KEYS + [b"a", b"WITHVALUES"]), max_size=3)).map(
    lambda t: [t[0]] + t[1]
)


def single(strategy: st.SearchStrategy[list]) -> st.SearchStrategy[list[list]]:
    return strategy.map(lambda c: [c])


def program(*groups: st.SearchStrategy[list[list]], max_size: int = 30) -> st.SearchStrategy[list[list]]:
    return st.lists(st.one_of(*groups), min_size=4, max_size=max_size).map(lambda gs: [c for g in gs for c in g])


# -- comparing replies ----------------------------------------------------------------------


def _universe(client, key: bytes) -> object:
    """The key's current contents on one server: set members, or the hash as a dict."""
    kind = client.execute_command("TYPE", key)
    if kind == b"set":
        return set(client.execute_command("SMEMBERS", key))
    if kind == b"hash":
        flat = client.execute_command("HGETALL", key)
        return dict(zip(flat[::2], flat[1::2], strict=True))
    return None


def _encoding(client, key: bytes) -> object:
    try:
        return client.execute_command("OBJECT", "ENCODING", key)
    except Exception:
        return None


class Oracle:
    """Comparisons that need to read the key on each server (random and SCAN replies)."""

    def __init__(self, ours, ref) -> None:
        self.ours, self.ref = ours, ref

    def random_reply(self, cmd: list[bytes], ours: object, ref: object) -> bool:
        if isinstance(ours, Error) or isinstance(ref, Error) or ours is None or ref is None:
            return ours == ref
        if isinstance(ours, bytes) or isinstance(ref, bytes):  # no count: one random element
            return isinstance(ours, bytes) and isinstance(ref, bytes) and self._members_ok(cmd[1], [ours], [ref])
        if not (isinstance(ours, list) and isinstance(ref, list) and len(ours) == len(ref)):
            return False
        with_values = len(cmd) == 4
        picks = (ours[::2], ref[::2]) if with_values else (ours, ref)
        if int(cmd[2]) > 0 and any(len(set(p)) != len(p) for p in picks):
            return False  # a positive count never repeats an element
        if not self._members_ok(cmd[1], *picks):
            return False
        if with_values:  # each value must be its field's value
            table = _universe(self.ref, cmd[1])
            return all(table[f] == v for reply in (ours, ref) for f, v in zip(reply[::2], reply[1::2], strict=True))  # type: ignore[index]
        return True

    def _members_ok(self, key: bytes, ours: list, ref: list) -> bool:
        mine, theirs = _universe(self.ours, key), _universe(self.ref, key)
        return mine == theirs and all(x in theirs for x in ours + ref)  # type: ignore[operator]

    def scan_page(self, cmd: list[bytes], ours: object, ref: object) -> bool:
        """Exact (as a multiset) for a listpack or intset, which Redis returns whole, and for a
        whole iteration from cursor 0 in one page; otherwise the items must be current elements
        (a hash table's cursor positions are Redis's own)."""
        if isinstance(ours, Error) or isinstance(ref, Error):
            return ours == ref
        if not (isinstance(ours, list) and isinstance(ref, list) and len(ours) == len(ref) == 2):
            return False
        is_hash = cmd[0].upper() == b"HSCAN"

        def items(reply: list) -> list:
            flat = reply[1]
            return sorted(zip(flat[::2], flat[1::2], strict=True)) if is_hash else sorted(flat)

        compact = _encoding(self.ref, cmd[1]) in (b"listpack", b"intset")
        fresh = cmd[2] in (b"0", b"+0", b"")  # a cursor from elsewhere means nothing here
        if (fresh and ours[0] == ref[0] == b"0") or compact:
            return ours[0] == ref[0] and items(ours) == items(ref)
        universe = _universe(self.ref, cmd[1])
        if universe is None:  # no key: an empty, finished page
            return ours == ref
        for page in (items(ours), items(ref)):
            for item in page:
                if is_hash and universe.get(item[0]) != item[1]:  # type: ignore[union-attr]
                    return False
                if not is_hash and item not in universe:
                    return False
        return True


def same_unordered(cmd: list[bytes], ours: object, ref: object) -> bool:
    if isinstance(ours, list) and isinstance(ref, list):
        return sorted(ours, key=repr) == sorted(ref, key=repr)
    return ours == ref


@pytest.fixture(scope="module")
def diff(magpie, reference_redis):
    ours = raw_client(magpie.client, protocol=2)
    ref = raw_client(reference_redis.client, protocol=2)
    saved = {}
    for client in (ours, ref):
        for name, setting in THRESHOLDS.items():
            saved[(id(client), name)] = client.execute_command("CONFIG", "GET", name)[1]
            client.execute_command("CONFIG", "SET", name, setting)
    oracle = Oracle(ours, ref)
    rules = replace(
        DEFAULT_RULES,
        unordered=DEFAULT_RULES.unordered | {"SPOP"},
        equivalent={
            **DEFAULT_RULES.equivalent,
            "HGETALL": same_pairs,
            "SPOP": same_unordered,
            "SRANDMEMBER": oracle.random_reply,
            "HRANDFIELD": oracle.random_reply,
            "HSCAN": oracle.scan_page,
            "SSCAN": oracle.scan_page,
        },
    )
    yield Differential(ours, ref, rules)
    for client in (ours, ref):
        for name in THRESHOLDS:
            client.execute_command("CONFIG", "SET", name, saved[(id(client), name)])
        client.close()


def check(diff: Differential, commands: list[list]) -> None:
    diff.reset()
    steps = diff.run(commands)
    steps += diff.run([[b"OBJECT", b"ENCODING", k] for k in KEYS])
    diff.compare_keyspace([0], steps)


# DIFFERENTIAL_EXAMPLES=5000 runs a deeper search (add --timeout=0).
EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(commands=program(single(hash_commands), single(hash_commands), single(other_commands)))
def test_hash_commands_match_redis(diff, commands):
    check(diff, commands)


@SETTINGS
@given(commands=program(single(set_commands), single(set_commands), single(other_commands), single_pop))
def test_set_commands_match_redis(diff, commands):
    check(diff, commands)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=program(single(hash_commands), single(set_commands), single(other_commands), single(arity_commands),
                        max_size=15))  # fmt: skip
def test_mixed_types_and_arity_match_redis(diff, commands):
    check(diff, commands)


# -- SPOP's random forms: each server checked against the rules, then against the other --


def _natural_set_encoding(members: set[bytes]) -> bytes:
    def canonical(m: bytes) -> bool:
        try:
            return str(int(m)).encode() == m and -(2**63) <= int(m) < 2**63
        except ValueError:
            return False

    return b"intset" if len(members) <= int(THRESHOLDS["set-max-intset-entries"]) and all(map(canonical, members)) else b"hashtable"


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(members=st.lists(member, min_size=1, max_size=12, unique=True), pop=st.integers(min_value=1, max_value=14))
def test_spop_with_count(diff, members, pop):
    diff.reset()
    outcomes = []
    for client in (diff.ours, diff.ref):
        client.execute_command("SADD", "s", *members)
        before = client.execute_command("OBJECT", "ENCODING", "s")
        popped = client.execute_command("SPOP", "s", pop)
        rest = set(client.execute_command("SMEMBERS", "s"))
        assert len(popped) == len(set(popped)) == min(pop, len(members))
        assert set(popped) | rest == set(members) and not set(popped) & rest
        encoding = _encoding(client, "s")
        remaining = len(members) - len(popped)
        if remaining == 0:
            assert encoding is None
        elif remaining * 5 <= pop:  # Redis rebuilt the set from what remains
            assert encoding == _natural_set_encoding(rest)
        else:
            assert encoding == before
        outcomes.append((len(popped), before, remaining))
    assert outcomes[0] == outcomes[1]


# -- hand-picked bad inputs: the exact error line, checked against redis-server too --------

BAD_INPUTS = [
    (["HSET", "h", "f"], b"-ERR wrong number of arguments for 'hset' command"),
    (["HSET", "h", "f", "v", "g"], b"-ERR wrong number of arguments for 'hset' command"),
    (["HMSET", "h", "f", "v", "g"], b"-ERR wrong number of arguments for 'hmset' command"),
    (["HGET", "k", "f"], b"-WRONGTYPE Operation against a key holding the wrong kind of value"),
    (["HINCRBY", "h", "f", "1.5"], b"-ERR value is not an integer or out of range"),
    (["HINCRBY", "h", "s", "1"], b"-ERR hash value is not an integer"),
    (["HINCRBY", "h", "max", "1"], b"-ERR increment or decrement would overflow"),
    (["HINCRBYFLOAT", "h", "s", "1"], b"-ERR hash value is not a float"),
    (["HINCRBYFLOAT", "h", "f", "abc"], b"-ERR value is not a valid float"),
    (["HINCRBYFLOAT", "h", "f", "inf"], b"-ERR value is NaN or Infinity"),
    (["HINCRBYFLOAT", "h", "big", "1e4932"], b"-ERR increment would produce NaN or Infinity"),
    (["HRANDFIELD", "h", "x"], b"-ERR value is not an integer or out of range"),
    (["HRANDFIELD", "h", "-9223372036854775808"],
     b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
    (["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"], b"-ERR value is out of range"),
    (["HRANDFIELD", "h", "1", "WITHVALUES", "x"], b"-ERR syntax error"),
    (["HSCAN", "h", "x"], b"-ERR invalid cursor"),
    (["HSCAN", "h", "0", "COUNT", "0"], b"-ERR syntax error"),
    (["HSCAN", "h", "0", "TYPE", "hash"], b"-ERR syntax error"),
    (["HSCAN", "nokey", "0", "COUNT", "0"], b"*2"),
    (["SADD", "k", "m"], b"-WRONGTYPE Operation against a key holding the wrong kind of value"),
    (["SPOP", "s", "-1"], b"-ERR value is out of range, must be positive"),
    (["SPOP", "s", "x"], b"-ERR value is out of range, must be positive"),
    (["SPOP", "s", "1", "2"], b"-ERR syntax error"),
    (["SRANDMEMBER", "s", "1", "2"], b"-ERR syntax error"),
    (["SRANDMEMBER", "s", "-9223372036854775808"],
     b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
    (["SINTERCARD", "0", "s"], b"-ERR numkeys should be greater than 0"),
    (["SINTERCARD", "x", "s"], b"-ERR numkeys should be greater than 0"),
    (["SINTERCARD", "2", "s"], b"-ERR Number of keys can't be greater than number of args"),
    (["SINTERCARD", "1", "s", "LIMIT", "-1"], b"-ERR LIMIT can't be negative"),
    (["SINTERCARD", "1", "s", "LIMIT", "x"], b"-ERR LIMIT can't be negative"),
    (["SINTERCARD", "1", "s", "LIMIT"], b"-ERR syntax error"),
    (["SINTER", "nokey", "k"], b"-WRONGTYPE Operation against a key holding the wrong kind of value"),
    (["SUNIONSTORE", "d", "nokey", "k"], b"-WRONGTYPE Operation against a key holding the wrong kind of value"),
    (["SMOVE", "nokey", "k", "m"], b":0"),
    (["SMOVE", "s", "k", "m"], b"-WRONGTYPE Operation against a key holding the wrong kind of value"),
    (["SSCAN", "s", "0", "MATCH"], b"-ERR syntax error"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "expected"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_error_text_for_bad_input(magpie, reference_redis, args, expected):
    for server in (reference_redis, magpie):
        with server.client() as client:
            client.flushall()
            client.set("k", "v")
            client.hset("h", mapping={"f": "1", "s": "abc", "max": "9223372036854775807", "big": "1e4932"})
            client.sadd("s", "1", "2")
    assert first_reply_line(reference_redis.port, args) == expected, "the expected text is not Redis's"
    assert first_reply_line(magpie.port, args) == expected


# -- fixed sequences: each difference found by the random tests above, pinned down -------

REGRESSIONS: dict[str, list[list]] = {
    "a long hincrbyfloat result converts the hash": [["HSET", "h", "f", "1"], ["HINCRBYFLOAT", "h", "f", "0.1"],
                                                       ["OBJECT", "ENCODING", "h"]],
    "hincrbyfloat reads a stored hex float": [["HSET", "h", "f", "0x10"], ["HINCRBYFLOAT", "h", "f", "1"]],
    "spop of the whole set deletes it": [["SADD", "s", "1", "a"], ["SPOP", "s", "2"], ["EXISTS", "s"]],
    "sinterstore onto a string replaces it": [["SET", "t", "v"], ["SADD", "s", "1"], ["SINTERSTORE", "t", "s"],
                                              ["TYPE", "t"], ["OBJECT", "ENCODING", "t"]],
    "an empty result deletes the destination": [["SET", "t", "v"], ["SDIFFSTORE", "t", "nokey"], ["EXISTS", "t"]],
    "smove to a new key builds an intset": [["SADD", "s", "a", "5"], ["SMOVE", "s", "t", "5"], ["OBJECT", "ENCODING", "t"]],
}  # fmt: skip


@pytest.mark.parametrize("commands", list(REGRESSIONS.values()), ids=list(REGRESSIONS))
def test_fixed_sequence_matches_redis(diff, commands):
    check(diff, commands)
