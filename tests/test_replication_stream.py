"""Parsing the replication stream with exact byte ends (replication/stream.py)."""

from __future__ import annotations

import pytest

from magpie.persistence.aof_format import AofFormatError, encode_commands
from magpie.replication.stream import stream_commands

BIG = 1 << 29


def _ends(data: bytes) -> list[tuple[list[bytes], int]]:
    return list(stream_commands(data, BIG))


def test_canonical_commands_end_where_their_bytes_end():
    one, two = encode_commands([[b"SET", b"k", b"v"]]), encode_commands([[b"PING"]])
    assert _ends(one + two) == [([b"SET", b"k", b"v"], len(one)), ([b"PING"], len(one) + len(two))]


def test_an_incomplete_tail_is_left_for_later():
    whole = encode_commands([[b"SET", b"k", b"value"]])
    for cut in range(len(whole)):
        assert _ends(whole + whole[:cut]) == [([b"SET", b"k", b"value"], len(whole))]


def test_non_canonical_forms_are_counted_by_their_real_length():
    odd = b"*2\r\n$03\r\nDEL\r\n$1\r\nk\r\n"  # a zero-padded length: valid, not canonical
    plain = encode_commands([[b"PING"]])
    assert _ends(plain + odd + plain) == [
        ([b"PING"], len(plain)),
        ([b"DEL", b"k"], len(plain) + len(odd)),
        ([b"PING"], 2 * len(plain) + len(odd)),
    ]


@pytest.mark.parametrize("garbage", [b"+OK\r\n", b"hello\r\n", b"*1\r\n:1\r\n", b"*-5\r\n", b"*1\r\n$x\r\n"])
def test_garbage_is_an_error_after_the_commands_before_it(garbage: bytes):
    good = encode_commands([[b"PING"]])
    commands = stream_commands(good + garbage, BIG)
    assert next(commands) == ([b"PING"], len(good))
    with pytest.raises(AofFormatError):
        list(commands)


def test_an_absurd_length_in_the_tail_is_garbage_not_a_wait():
    good = encode_commands([[b"PING"]])
    commands = stream_commands(good + b"*1\r\n$99999999999\r\n", 1 << 20)
    assert next(commands) == ([b"PING"], len(good))
    with pytest.raises(AofFormatError):
        list(commands)
