"""Magpie against a real redis-server: random bitmap and LCS command sequences.

Each example flushes both servers, runs a short random sequence of SET/SETBIT/GETBIT/
BITCOUNT/BITPOS/BITOP/BITFIELD/BITFIELD_RO/LCS commands over a few shared keys (valid and
invalid arguments, out-of-range offsets and values mixed in), and compares every reply
exactly, errors included, followed by the final value of every key.

Offsets are kept small or invalid: a valid offset near the 512 MB limit would make both
servers allocate half a gigabyte. Replies are compared raw (redis-py's response callbacks
are removed) over RESP2. WRONGTYPE paths are exercised once Magpie has a data type other
than strings (the first of RPUSH/SADD/HSET/ZADD it accepts); until then that step is a no-op
and ``test_bits.py`` checks them in process.
"""

from __future__ import annotations

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEYS = [b"a", b"b", b"c"]
NON_STRING_KEY = b"w"
ALL_KEYS = [*KEYS, NON_STRING_KEY, b"missing"]

# Ways to store a non-string value; the first one Magpie knows is used (none: the step is skipped).
NON_STRING_WRITERS = [[b"RPUSH", NON_STRING_KEY, b"x"], [b"SADD", NON_STRING_KEY, b"x"],
                      [b"HSET", NON_STRING_KEY, b"f", b"v"], [b"ZADD", NON_STRING_KEY, b"1", b"x"]]  # fmt: skip

INT64_EDGES = [b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808", b"-9223372036854775809"]
JUNK = [b"", b"a", b"1.5", b"+1", b"01", b"-0", b" 1", b"0x10"]


def _ints(low: int, high: int) -> st.SearchStrategy[bytes]:
    return st.integers(low, high).map(lambda n: str(n).encode())


def mostly(valid: st.SearchStrategy[bytes], invalid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """``valid`` three times in four: commands with several arguments still often get through."""
    return st.integers(0, 3).flatmap(lambda n: invalid if n == 0 else valid)


# Runs of ones and of zeros, where BITPOS's "not found" answers and the range edges matter.
bitmaps = st.lists(st.sampled_from([b"\xff", b"\x00", b"\x7f", b"\xfe", b"\x80", b"\x01"]), max_size=6).map(b"".join)
values = st.one_of(
    st.binary(max_size=6),
    st.sampled_from([b"foobar", b"\xff\xf0\x00", b"\x00\x00\x01", b"123", b"", b"ohmytext", b"mynewtext"]),
    bitmaps,
)
# Bit offsets: small ones, and ones that must be refused. Never a valid huge one (see the top of the file).
bit_offsets = mostly(
    _ints(0, 70),
    st.sampled_from([b"-1", b"4294967296", b"4294967297", *INT64_EDGES, *JUNK]),
)
bits = mostly(st.sampled_from([b"0", b"1"]), st.sampled_from([b"2", b"-1", b"", b"a", b"01", b"1 "]))
indexes = mostly(_ints(-20, 20), st.sampled_from([*INT64_EDGES, b"a", b""]))
units = st.sampled_from([b"BIT", b"BYTE", b"bit", b"Byte", b"bits", b""])
keys = st.sampled_from(ALL_KEYS)
string_keys = st.sampled_from(KEYS + [b"missing"])


@st.composite
def ranged(draw, name: bytes, fixed: list[st.SearchStrategy[bytes]], key: st.SearchStrategy[bytes] = keys):
    """``name key <fixed...> [start [end [unit]]]``, sometimes with one argument too many."""
    argv = [name, draw(key), *(draw(s) for s in fixed)]
    extra = draw(st.integers(0, 4))
    for position in range(extra):
        argv.append(draw(units if position == 2 else indexes if position < 2 else st.sampled_from([b"x", b"1"])))
    return argv


VALID_TYPES = [b"u1", b"u4", b"u8", b"i8", b"i5", b"u16", b"i16", b"i32", b"u63", b"i64", b"u13", b"i1"]
BAD_TYPES = [b"u64", b"i65", b"u0", b"I8", b"x8", b"i", b"", b"u-1", b"u08"]
BAD_FIELD_OFFSETS = [b"#-1", b"#", b"##1", b"-1", b"4294967296", b"#4294967296", b"#9223372036854775807", *JUNK]
BAD_FIELD_VALUES = [*INT64_EDGES[2:], b"x", b""]
valid_field_offsets = st.one_of(
    _ints(0, 100),
    _ints(0, 20).map(lambda n: b"#" + n),
    # valid only because Redis multiplies in int64: 2**62 * 4 and 2**61 * 8 wrap to offset 0
    st.sampled_from([b"#4611686018427387904", b"#2305843009213693952"]),
)
valid_field_values = st.one_of(
    _ints(-300, 300),
    st.sampled_from([b"127", b"-128", b"255", b"256", b"65535", b"-32768", b"4611686018427387904", *INT64_EDGES[:2]]),
)


@st.composite
def bitfield_subcommand(draw, valid: bool) -> list[bytes]:
    """One BITFIELD operation; with ``valid`` false, any part of it may be malformed."""

    def pick(good: st.SearchStrategy[bytes], bad: list[bytes]) -> bytes:
        return draw(good if valid else mostly(good, st.sampled_from(bad)))

    if not valid and draw(st.integers(0, 9)) == 0:
        return [draw(st.sampled_from([b"BAD", b"GETX", b""]))]
    kind = draw(st.sampled_from([b"GET", b"SET", b"INCRBY", b"OVERFLOW", b"get", b"set", b"incrby"]))
    if kind.upper() == b"OVERFLOW":
        return [kind, pick(st.sampled_from([b"WRAP", b"SAT", b"FAIL", b"sat", b"fail", b"wrap"]), [b"nope"])]
    sub = [kind, pick(st.sampled_from(VALID_TYPES), BAD_TYPES), pick(valid_field_offsets, BAD_FIELD_OFFSETS)]
    if kind.upper() != b"GET":
        sub.append(pick(valid_field_values, BAD_FIELD_VALUES))
    return sub


@st.composite
def bitfield_command(draw) -> list[bytes]:
    """BITFIELD or BITFIELD_RO; three in four are well formed, so they reach the overflow logic."""
    name = draw(st.sampled_from([b"BITFIELD", b"BITFIELD", b"BITFIELD_RO"]))
    valid = draw(st.integers(0, 3)) > 0
    argv = [name, draw(mostly(st.just(b"a"), keys))]
    if draw(st.booleans()):
        argv += [b"OVERFLOW", draw(st.sampled_from([b"WRAP", b"SAT", b"FAIL"]))]
    for sub in draw(st.lists(bitfield_subcommand(valid), max_size=5)):
        argv += sub
    if not valid and draw(st.integers(0, 3)) == 0:  # a truncated operation at the end
        argv += draw(st.sampled_from([[b"GET", b"u8"], [b"SET", b"u8", b"0"], [b"OVERFLOW"], [b"INCRBY"]]))
    return argv


@st.composite
def bitop_command(draw) -> list[bytes]:
    op = draw(st.sampled_from([b"AND", b"OR", b"XOR", b"NOT", b"and", b"Not", b"NAND", b""]))
    sources = draw(st.lists(keys, min_size=1, max_size=3))
    return [b"BITOP", op, draw(st.sampled_from([*KEYS, NON_STRING_KEY])), *sources]


@st.composite
def lcs_command(draw) -> list[bytes]:
    options = []
    for _ in range(draw(st.integers(0, 3))):
        option = draw(st.sampled_from([b"IDX", b"LEN", b"WITHMATCHLEN", b"MINMATCHLEN", b"idx", b"withmatchlen"]))
        options.append(option)
        if option == b"MINMATCHLEN":
            options.append(draw(mostly(_ints(-2, 5), st.sampled_from([b"x", b"", *INT64_EDGES]))))
    if draw(st.integers(0, 9)) == 0:
        options.append(draw(st.sampled_from([b"FOO", b"MINMATCHLEN", b"3"])))
    return [b"LCS", draw(keys), draw(keys), *options]


commands = st.one_of(
    st.tuples(string_keys, values).map(lambda kv: [b"SET", *kv]),
    st.tuples(keys, bit_offsets, bits).map(lambda t: [b"SETBIT", *t]),
    st.tuples(keys, bit_offsets).map(lambda t: [b"GETBIT", *t]),
    st.tuples(keys, st.sampled_from([b"4294967295", b"4294967294"])).map(lambda t: [b"GETBIT", *t]),
    ranged(b"BITCOUNT", []),
    ranged(b"BITPOS", [bits]),
    bitop_command(),
    bitfield_command(),
    lcs_command(),
    st.tuples(string_keys).map(lambda t: [b"EXPIRE", t[0], b"100"]),
    st.tuples(string_keys).map(lambda t: [b"TTL", t[0]]),
    st.tuples(keys).map(lambda t: [b"GET", t[0]]),
    st.just([b"MAKE-NON-STRING"]),
)


def _reply(client: redis.Redis, argv: list[bytes]) -> object:
    try:
        reply = client.execute_command(*argv)
    except redis.ResponseError as exc:
        return ("error", type(exc).__name__, str(exc))
    if argv[0] == b"TTL" and isinstance(reply, int) and reply > 0:
        return "positive ttl"  # the two servers may sit on either side of a second boundary
    return reply


def _raw_client(server) -> redis.Redis:
    client = server.client(protocol=2, single_connection_client=True)
    client.response_callbacks.clear()
    return client


class Pair(tuple):
    """(magpie client, redis client, command writing a non-string value or None)."""

    def __repr__(self) -> str:
        return "Pair(magpie, redis)"


@pytest.fixture(scope="module")
def pair(magpie, reference_redis):
    ours, ref = _raw_client(magpie), _raw_client(reference_redis)
    writer = None
    for candidate in NON_STRING_WRITERS:
        try:
            ours.execute_command(*candidate)
        except redis.ResponseError:
            continue
        writer = candidate
        break
    yield Pair((ours, ref, writer))
    for client in (ours, ref):
        client.flushall()
        client.close()


def check_sequence(pair, sequence: list[list[bytes]]) -> None:
    ours, ref, non_string_writer = pair
    ours.flushall()
    ref.flushall()
    transcript = []
    for argv in sequence:
        if argv == [b"MAKE-NON-STRING"]:
            if non_string_writer is None:
                continue
            argv = non_string_writer
        mine, theirs = _reply(ours, argv), _reply(ref, argv)
        transcript.append(f"{argv!r}\n    magpie: {mine!r}\n    redis:  {theirs!r}")
        assert mine == theirs, "replies differ:\n" + "\n".join(transcript)
    for key in ALL_KEYS:
        final = [b"GET", key]
        assert _reply(ours, final) == _reply(ref, final), f"final value of {key!r} differs:\n" + "\n".join(transcript)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(commands, min_size=1, max_size=20))
def test_bitmap_and_lcs_sequences_match_redis(pair, sequence):
    check_sequence(pair, sequence)


@SETTINGS
@given(
    st.lists(st.tuples(string_keys, values).map(lambda kv: [b"SET", *kv]), max_size=3),
    st.lists(bitfield_command(), min_size=1, max_size=8),
)
def test_bitfield_sequences_match_redis(pair, setup, sequence):
    check_sequence(pair, setup + sequence)


@SETTINGS
@given(
    st.one_of(bitmaps, values),
    st.lists(
        st.one_of(
            ranged(b"BITCOUNT", [], mostly(st.just(b"a"), keys)),
            ranged(b"BITPOS", [bits], mostly(st.just(b"a"), keys)),
        ),
        min_size=1,
        max_size=10,
    ),
)
def test_bitcount_and_bitpos_match_redis(pair, value, sequence):
    check_sequence(pair, [[b"SET", b"a", value], *sequence])


@SETTINGS
@given(
    st.binary(max_size=40) | st.text("abc", max_size=40).map(str.encode),
    st.binary(max_size=40) | st.text("abc", max_size=40).map(str.encode),
    st.lists(lcs_command().map(lambda argv: [argv[0], b"a", b"b", *argv[3:]]), min_size=1, max_size=4),
)
def test_lcs_matches_redis(pair, a, b, sequence):
    check_sequence(pair, [[b"SET", b"a", a], [b"SET", b"b", b], *sequence])
