"""Bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO) and LCS.

Everything goes through redis-py against a real Magpie process, over RESP2 and RESP3 (the
``r`` fixture). Expected values are Redis 7.0's, checked against redis-server 7.0.15;
``test_bits_differential.py`` compares random command sequences with it directly.
"""

from __future__ import annotations

import pytest
import redis

BIT_OFFSET = "bit offset is not an integer or out of range"
BIT_VALUE = "bit is not an integer or out of range"
NOT_INTEGER = "value is not an integer or out of range"
BAD_TYPE = "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
MAX_BULK = 512 * 1024 * 1024


def error_of(call, *args):
    with pytest.raises(redis.ResponseError) as info:
        call(*args)
    return str(info.value)


def make_non_string(client, key: str) -> None:
    """Store a value of another type at ``key``, with whichever data type the server has."""
    for args in (("RPUSH", key, "x"), ("SADD", key, "x"), ("HSET", key, "f", "v"), ("ZADD", key, "1", "x")):
        try:
            client.execute_command(*args)
            return
        except redis.ResponseError as exc:
            if "unknown command" not in str(exc):
                raise
    pytest.skip("the server has no data type other than strings yet")


@pytest.fixture
def small_bulk_limit(magpie):
    """proto-max-bulk-len at its 1 MB minimum for one test, restored afterwards."""
    admin = magpie.client()
    admin.config_set("proto-max-bulk-len", 1024 * 1024)
    yield 1024 * 1024
    admin.config_set("proto-max-bulk-len", MAX_BULK)
    admin.close()


# -- SETBIT / GETBIT ----------------------------------------------------------------------


def test_setbit_returns_previous_bit_and_grows_string(r):
    assert r.setbit("k", 7, 1) == 0
    assert r.get("k") == b"\x01"
    assert r.setbit("k", 7, 1) == 1
    assert r.setbit("k", 7, 0) == 1
    assert r.setbit("k", 17, 1) == 0
    assert r.get("k") == b"\x00\x00\x40"


def test_setbit_zero_on_missing_key_creates_zero_padded_string(r):
    assert r.setbit("k", 20, 0) == 0
    assert r.get("k") == b"\x00\x00\x00"


def test_setbit_bit_zero_is_most_significant_bit_of_first_byte(r):
    r.set("k", "a")  # 0b01100001
    assert [r.getbit("k", i) for i in range(8)] == [0, 1, 1, 0, 0, 0, 0, 1]
    r.setbit("k", 0, 1)
    assert r.get("k") == b"\xe1"


def test_getbit_past_end_and_missing_key_is_zero(r):
    r.set("k", "\xff")
    assert r.getbit("k", 100) == 0
    assert r.getbit("missing", 0) == 0
    assert r.getbit("missing", 4294967295) == 0
    assert not r.exists("missing")


@pytest.mark.parametrize("offset", ["-1", "abc", "1.5", "", "+1", "01", "4294967296", "9223372036854775808"])
def test_setbit_and_getbit_reject_bad_offsets(r, offset):
    assert error_of(r.execute_command, "SETBIT", "k", offset, "1") == BIT_OFFSET
    assert error_of(r.getbit, "k", offset) == BIT_OFFSET
    assert not r.exists("k")


@pytest.mark.parametrize("value", ["2", "-1", "a", "", "1.0", "01"])
def test_setbit_rejects_values_other_than_0_and_1(r, value):
    assert error_of(r.execute_command, "SETBIT", "k", "0", value) == BIT_VALUE  # redis-py would coerce it


def test_setbit_offset_limit_follows_proto_max_bulk_len(r, small_bulk_limit):
    assert error_of(r.setbit, "k", small_bulk_limit * 8, 1) == BIT_OFFSET
    assert r.setbit("k", small_bulk_limit * 8 - 1, 1) == 0
    assert r.strlen("k") == small_bulk_limit


def test_setbit_keeps_ttl(r):
    r.set("k", "a", ex=100)
    r.setbit("k", 100, 1)
    assert 0 < r.ttl("k") <= 100


def test_bit_commands_on_wrong_type(r):
    make_non_string(r, "w")
    for call, args in [
        (r.setbit, ("w", 0, 1)), (r.getbit, ("w", 0)), (r.bitcount, ("w",)), (r.bitpos, ("w", 1)),
        (r.bitop, ("AND", "d", "w")),
    ]:  # fmt: skip
        assert error_of(call, *args) == WRONGTYPE
    assert error_of(r.execute_command, "BITFIELD", "w", "GET", "u8", "0") == WRONGTYPE
    assert error_of(r.execute_command, "BITFIELD", "w", "SET", "u8", "0", "1") == WRONGTYPE
    assert error_of(r.execute_command, "BITFIELD_RO", "w", "GET", "u8", "0") == WRONGTYPE
    assert error_of(r.lcs, "w", "x") == "The specified keys must contain string values"


def test_argument_errors_come_before_wrongtype(r):
    make_non_string(r, "w")
    assert error_of(r.getbit, "w", "x") == BIT_OFFSET
    assert error_of(r.execute_command, "BITFIELD", "w", "GET", "x8", "0") == BAD_TYPE
    assert error_of(r.execute_command, "BITFIELD_RO", "w", "SET", "u8", "0", "1") == (
        "BITFIELD_RO only supports the GET subcommand"
    )


# -- BITCOUNT -----------------------------------------------------------------------------


def test_bitcount_whole_string_and_byte_ranges(r):
    r.set("k", "foobar")
    assert r.bitcount("k") == 26
    assert r.bitcount("k", 0, 0) == 4
    assert r.bitcount("k", 1, 1) == 6
    assert r.bitcount("k", -2, -1) == 7
    assert r.bitcount("k", 0, 100) == 26
    assert r.bitcount("k", 4, 2) == 0
    assert r.bitcount("k", -100, -50) == 4  # both clamp to byte 0
    assert r.bitcount("k", -3, -100) == 0
    assert r.bitcount("k", 100, 200) == 0


def test_bitcount_bit_ranges(r):
    r.set("k", "foobar")
    assert r.bitcount("k", 5, 30, "BIT") == 17
    assert r.bitcount("k", 0, -1, "bit") == 26
    assert r.bitcount("k", 1, 1, "BIT") == 1
    assert r.bitcount("k", 0, 0, "BYTE") == 4


def test_bitcount_missing_key_is_zero_even_with_bad_arguments(r):
    # Redis 7.0 answers for a missing key before it reads the range.
    assert r.bitcount("missing") == 0
    assert r.execute_command("BITCOUNT", "missing", "a", "b") == 0
    assert r.execute_command("BITCOUNT", "missing", "1") == 0


def test_bitcount_argument_errors(r):
    r.set("k", "foobar")
    assert error_of(r.execute_command, "BITCOUNT", "k", "1") == "syntax error"
    assert error_of(r.execute_command, "BITCOUNT", "k", "a", "1") == NOT_INTEGER
    assert error_of(r.execute_command, "BITCOUNT", "k", "0", "1", "bits") == "syntax error"
    assert error_of(r.execute_command, "BITCOUNT", "k", "0", "1", "BIT", "x") == "syntax error"
    # Both negative with start > end is answered before the unit is looked at.
    assert r.execute_command("BITCOUNT", "k", "-1", "-5", "nonsense") == 0


def test_bitcount_on_a_megabyte(r):
    r.set("k", b"\xf0\x01" * (512 * 1024))
    assert r.bitcount("k") == 5 * 512 * 1024
    assert r.bitcount("k", 3, -1, "BIT") == 5 * 512 * 1024 - 3


# -- BITPOS -------------------------------------------------------------------------------


def test_bitpos_finds_first_set_and_clear_bits(r):
    r.set("k", b"\xff\xf0\x00")
    assert r.bitpos("k", 0) == 12
    assert r.bitpos("k", 1) == 0
    assert r.bitpos("k", 1, 2) == -1
    assert r.bitpos("k", 0, 0, 0) == -1


def test_bitpos_clear_bit_without_end_assumes_zero_padding(r):
    r.set("k", b"\xff\xff")
    assert r.bitpos("k", 0) == 16
    assert r.bitpos("k", 0, 1) == 16
    assert r.bitpos("k", 0, 0, -1) == -1  # an explicit end: no padding


def test_bitpos_bit_ranges(r):
    r.set("k", b"\x00\xff\x00")
    assert r.bitpos("k", 1, 7, 15, "BIT") == 8
    assert r.bitpos("k", 0, 8, 15, "BIT") == -1
    assert r.bitpos("k", 0, 8, -1, "bit") == 16
    assert r.bitpos("k", 1, 2, 5, "BIT") == -1
    assert r.bitpos("k", 1, 0, -1, "BYTE") == 8


def test_bitpos_missing_and_empty_keys(r):
    assert r.bitpos("missing", 1) == -1
    assert r.bitpos("missing", 0) == 0
    assert r.execute_command("BITPOS", "missing", "1", "junk") == -1
    r.set("empty", "")
    assert r.bitpos("empty", 0) == -1
    assert r.bitpos("empty", 1) == -1


def test_bitpos_argument_errors(r):
    r.set("k", "a")
    assert error_of(r.execute_command, "BITPOS", "k", "2") == "The bit argument must be 1 or 0."
    assert error_of(r.execute_command, "BITPOS", "missing", "x") == NOT_INTEGER
    assert error_of(r.execute_command, "BITPOS", "k", "1", "x") == NOT_INTEGER
    # The unit is checked before the end index is parsed.
    assert error_of(r.execute_command, "BITPOS", "k", "1", "0", "x", "bad") == "syntax error"
    assert error_of(r.execute_command, "BITPOS", "k", "1", "0", "1", "BIT", "x") == "syntax error"


# -- BITOP --------------------------------------------------------------------------------


def test_bitop_and_or_xor_pad_shorter_strings_with_zeros(r):
    r.set("a", b"\xff\x0f")
    r.set("b", b"\x0f")
    assert r.bitop("AND", "d", "a", "b") == 2
    assert r.get("d") == b"\x0f\x00"
    assert r.bitop("or", "d", "a", "b", "missing") == 2
    assert r.get("d") == b"\xff\x0f"
    assert r.bitop("XOR", "d", "a", "b") == 2
    assert r.get("d") == b"\xf0\x0f"


def test_bitop_not(r):
    r.set("a", b"\x0f\xff")
    assert r.bitop("NOT", "d", "a") == 2
    assert r.get("d") == b"\xf0\x00"
    assert error_of(r.bitop, "NOT", "d", "a", "b") == "BITOP NOT must be called with a single source key."


def test_bitop_empty_result_deletes_destination(r):
    r.set("d", "old")
    assert r.bitop("AND", "d", "missing", "missing2") == 0
    assert not r.exists("d")
    r.set("empty", "")
    r.set("d", "old")
    assert r.bitop("OR", "d", "empty") == 0
    assert not r.exists("d")


def test_bitop_replaces_destination_and_clears_its_ttl(r):
    r.set("a", "x")
    r.set("d", "something", ex=100)
    assert r.bitop("OR", "d", "a") == 1
    assert r.get("d") == b"x"
    assert r.ttl("d") == -1


def test_bitop_unknown_operation(r):
    assert error_of(r.bitop, "NAND", "d", "a") == "syntax error"
    assert error_of(r.execute_command, "BITOP", "AND", "d") == "wrong number of arguments for 'bitop' command"


def test_bitop_large_strings(r):
    r.set("a", b"\xaa" * 300_000)
    r.set("b", b"\x55" * 200_000)
    assert r.bitop("OR", "d", "a", "b") == 300_000
    assert r.get("d") == b"\xff" * 200_000 + b"\xaa" * 100_000


# -- BITFIELD -----------------------------------------------------------------------------


def test_bitfield_get_set_incrby(r):
    result = r.bitfield("k").set("i8", 0, 100).get("i8", 0).incrby("u4", 8, 3).get("u16", 0).execute()
    assert result == [0, 100, 3, 0x6430]
    assert r.get("k") == b"\x64\x30"


def test_bitfield_hash_offsets_are_multiplied_by_width(r):
    assert r.execute_command("BITFIELD", "k", "SET", "u8", "#1", "255", "GET", "u8", "#1", "GET", "u4", "#2") == [0, 255, 15]
    assert r.get("k") == b"\x00\xff"


def test_bitfield_signed_values_and_widths(r):
    r.set("k", b"\xff" * 8)
    assert r.execute_command("BITFIELD", "k", "GET", "i64", "0", "GET", "u63", "0", "GET", "i1", "5", "GET", "u1", "5") == [
        -1, 2**63 - 1, -1, 1,
    ]  # fmt: skip


def test_bitfield_get_reads_zeros_past_the_end(r):
    r.set("k", b"\x80")
    assert r.execute_command("BITFIELD", "k", "GET", "u8", "4", "GET", "i64", "1000") == [0, 0]
    assert r.execute_command("BITFIELD", "missing", "GET", "u8", "0") == [0]
    assert not r.exists("missing")


def test_bitfield_overflow_wrap_sat_fail(r):
    reply = r.execute_command(
        "BITFIELD", "k",
        "SET", "u8", "0", "250", "INCRBY", "u8", "0", "10",
        "OVERFLOW", "SAT", "INCRBY", "u8", "0", "1000", "INCRBY", "i8", "8", "-1000",
        "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1", "GET", "u8", "0",
    )  # fmt: skip
    assert reply == [0, 4, 255, -128, None, 255]


def test_bitfield_set_overflow_follows_c_conversions(r):
    # An unsigned SET sees a negative value as a huge uint64: SAT clamps it to the maximum.
    reply = r.execute_command(
        "BITFIELD", "k", "SET", "u8", "0", "-1", "OVERFLOW", "SAT", "SET", "u8", "8", "-1",
        "SET", "i8", "16", "200", "OVERFLOW", "WRAP", "SET", "i8", "24", "200", "GET", "i8", "24",
    )  # fmt: skip
    assert reply == [0, 0, 0, 0, -56]
    assert r.get("k") == b"\xff\xff\x7f\xc8"


def test_bitfield_sat_set_of_a_very_negative_value_saturates_upwards(r):
    # Redis's overflow check computes max - value in int64, which wraps for values this low.
    reply = r.execute_command(
        "BITFIELD", "k", "OVERFLOW", "SAT",
        "SET", "i8", "0", "-9223372036854775808", "SET", "i8", "8", "-9223372036854775681",
        "SET", "i8", "16", "-9223372036854775680", "GET", "i8", "0", "GET", "i8", "8", "GET", "i8", "16",
    )  # fmt: skip
    assert reply == [0, 0, 0, 127, 127, -128]


def test_bitfield_i64_incrby_overflow(r):
    max64 = 2**63 - 1
    assert r.execute_command("BITFIELD", "k", "SET", "i64", "0", str(max64), "INCRBY", "i64", "0", "1") == [0, -(2**63)]
    reply = r.execute_command("BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "-1")
    assert reply == [-(2**63)]
    assert r.execute_command("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "i64", "0", "-1") == [None]


def test_bitfield_fail_on_missing_key_still_creates_it(r):
    # Redis sizes the string for the writes before running them.
    assert r.execute_command("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "10") == [None]
    assert r.get("k") == b"\x00" * 13


def test_bitfield_keeps_ttl(r):
    r.set("k", "abc", ex=100)
    r.execute_command("BITFIELD", "k", "SET", "u8", "0", "1")
    assert 0 < r.ttl("k") <= 100


@pytest.mark.parametrize("kind", ["u64", "i65", "u0", "i0", "I8", "x8", "u", "i-1", "u08", ""])
def test_bitfield_rejects_bad_types(r, kind):
    assert error_of(r.execute_command, "BITFIELD", "k", "GET", kind, "0") == BAD_TYPE


@pytest.mark.parametrize(
    "args, message",
    [
        (["GET", "u8"], "syntax error"),
        (["FOO", "u8", "0"], "syntax error"),
        (["SET", "u8", "0"], "syntax error"),
        (["OVERFLOW"], "syntax error"),
        (["OVERFLOW", "bad"], "Invalid OVERFLOW type specified"),
        (["GET", "u8", "-1"], BIT_OFFSET),
        (["GET", "u8", "#-1"], BIT_OFFSET),
        (["GET", "u8", "##1"], BIT_OFFSET),
        (["GET", "u8", "4294967296"], BIT_OFFSET),
        (["GET", "i64", "#67108864"], BIT_OFFSET),
        (["SET", "u8", "0", "x"], NOT_INTEGER),
        (["INCRBY", "u8", "0", "9223372036854775808"], NOT_INTEGER),
    ],
)
def test_bitfield_argument_errors_leave_key_alone(r, args, message):
    # Every operation is parsed before any runs: the valid SET before the bad one does nothing.
    assert error_of(r.execute_command, "BITFIELD", "k", "SET", "u8", "0", "1", *args) == message
    assert not r.exists("k")


def test_bitfield_without_operations_returns_empty_array(r):
    assert r.execute_command("BITFIELD", "k") == []
    assert not r.exists("k")


def test_bitfield_ro(r):
    r.set("k", b"\x12\x34")
    assert r.bitfield_ro("k", "u8", 0, items=[("u4", 12), ("i16", 0)]) == [0x12, 4, 0x1234]
    assert error_of(r.execute_command, "BITFIELD_RO", "k", "GET", "u8", "0", "SET", "u8", "0", "1") == (
        "BITFIELD_RO only supports the GET subcommand"
    )
    assert error_of(r.execute_command, "BITFIELD_RO", "k", "OVERFLOW", "bad") == "Invalid OVERFLOW type specified"
    assert r.get("k") == b"\x12\x34"


# -- LCS ----------------------------------------------------------------------------------


def test_lcs_string_and_len(r):
    r.mset({"a": "ohmytext", "b": "mynewtext"})
    assert r.lcs("a", "b") == b"mytext"
    assert r.lcs("a", "b", len=True) == 6
    assert r.lcs("a", "missing") == b""
    assert r.lcs("missing", "missing2", len=True) == 0


def _flat(reply):
    """redis-py hands back LCS IDX as a flat list or a dict depending on the protocol."""
    return [item for pair in reply.items() for item in pair] if isinstance(reply, dict) else reply


def test_lcs_idx_ranges(r):
    r.mset({"a": "ohmytext", "b": "mynewtext"})
    assert _flat(r.lcs("a", "b", idx=True)) == [b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    reply = r.lcs("a", "b", idx=True, minmatchlen=4, withmatchlen=True)
    assert _flat(reply) == [b"matches", [[[4, 7], [5, 8], 4]], b"len", 6]


def test_lcs_idx_wire_shapes(magpie, r2, r3):
    for client in (r2, r3):
        client.response_callbacks.clear()
    r2.mset({"a": "ohmytext", "b": "mynewtext"})
    expected_matches = [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]]
    assert r2.execute_command("LCS", "a", "b", "IDX", "WITHMATCHLEN") == [b"matches", expected_matches, b"len", 6]
    assert r3.execute_command("LCS", "a", "b", "IDX", "WITHMATCHLEN") == {b"matches": expected_matches, b"len": 6}


def test_lcs_options(r):
    r.mset({"a": "abcdef", "b": "xbcxef"})
    assert r.execute_command("LCS", "a", "b", "MINMATCHLEN", "-5", "WITHMATCHLEN") == b"bcef"
    assert error_of(r.execute_command, "LCS", "a", "b", "LEN", "IDX") == (
        "If you want both the length and indexes, please just use IDX."
    )
    assert error_of(r.execute_command, "LCS", "a", "b", "MINMATCHLEN") == "syntax error"
    assert error_of(r.execute_command, "LCS", "a", "b", "MINMATCHLEN", "x") == NOT_INTEGER
    assert error_of(r.execute_command, "LCS", "a", "b", "FOO") == "syntax error"


def test_lcs_refuses_tables_larger_than_proto_max_bulk_len(r, small_bulk_limit):
    r.mset({"a": "a" * 600, "b": "b" * 600})
    assert error_of(r.lcs, "a", "b") == "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
    r.set("b", "a" * 400)
    assert r.lcs("a", "b", len=True) == 400


def test_lcs_of_long_strings(r):
    a = ("the quick brown fox jumps over the lazy dog " * 100).encode()
    b = ("a quick brown cat leaps over lazy dogs " * 100).encode()
    r.mset({"a": a, "b": b})
    common = r.lcs("a", "b")
    assert len(common) == r.lcs("a", "b", len=True)
    assert _is_subsequence(common, a) and _is_subsequence(common, b)


def _is_subsequence(small: bytes, big: bytes) -> bool:
    it = iter(big)
    return all(ch in it for ch in small)


# -- the command table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, arity, flags, keys",
    [
        ("setbit", 4, {"write", "denyoom"}, (1, 1, 1)),
        ("getbit", 3, {"readonly", "fast"}, (1, 1, 1)),
        ("bitcount", -2, {"readonly"}, (1, 1, 1)),
        ("bitpos", -3, {"readonly"}, (1, 1, 1)),
        ("bitop", -4, {"write", "denyoom"}, (2, -1, 1)),
        ("bitfield", -2, {"write", "denyoom"}, (1, 1, 1)),
        ("bitfield_ro", -2, {"readonly", "fast"}, (1, 1, 1)),
        ("lcs", -3, {"readonly"}, (1, 2, 1)),
    ],
)
def test_command_info(r2, name, arity, flags, keys):
    r2.response_callbacks.clear()
    info = r2.execute_command("COMMAND", "INFO", name)[0]
    assert info[0] == name.encode()
    assert info[1] == arity
    assert {f.decode() for f in info[2]} == flags
    assert tuple(info[3:6]) == keys


def test_command_getkeys(r2):
    assert r2.command_getkeys("BITOP", "AND", "dest", "a", "b") == ["dest", "a", "b"]
    assert r2.command_getkeys("LCS", "a", "b", "IDX") == ["a", "b"]


# -- WRONGTYPE, checked in process until the server has another data type ----------------


class _StubClient:
    """Just what the bitmap handlers touch: a database and the server's configuration."""

    def __init__(self) -> None:
        from magpie.store.database import Database
        from magpie.store.signals import Signals

        self.db = Database(0, Signals())
        self.server = type("Server", (), {"config": {"proto-max-bulk-len": str(MAX_BULK)}})()


@pytest.mark.parametrize(
    "argv",
    [
        [b"SETBIT", b"w", b"0", b"1"], [b"GETBIT", b"w", b"0"], [b"BITCOUNT", b"w"], [b"BITCOUNT", b"w", b"x"],
        [b"BITPOS", b"w", b"1", b"x"], [b"BITOP", b"AND", b"d", b"a", b"w"],
        [b"BITFIELD", b"w", b"GET", b"u8", b"0"], [b"BITFIELD", b"w", b"INCRBY", b"u8", b"0", b"1"],
        [b"BITFIELD_RO", b"w", b"GET", b"u8", b"0"],
    ],
)  # fmt: skip
def test_bit_handlers_reject_non_string_values(argv):
    from magpie.commands import bits
    from magpie.errors import CommandError

    client = _StubClient()
    client.db.data[b"w"] = ["a list"]
    client.db.data[b"a"] = b"\xff"
    with pytest.raises(CommandError) as info:
        getattr(bits, argv[0].decode().lower())(client, argv)
    assert info.value.message == WRONGTYPE
    assert b"d" not in client.db.data


def test_lcs_handler_rejects_non_string_values():
    from magpie.commands.lcs import lcs
    from magpie.errors import CommandError

    client = _StubClient()
    client.db.data[b"w"] = ["a list"]
    with pytest.raises(CommandError) as info:
        lcs(client, [b"LCS", b"missing", b"w", b"BAD"])
    assert info.value.message == "ERR The specified keys must contain string values"
