"""Reply values to RESP2/RESP3 bytes (see ``replies`` for the value types)."""

from __future__ import annotations

import math
from collections.abc import Callable

from magpie.errors import CommandError
from magpie.protocol.replies import (
    NULL_ARRAY,
    BigNumber,
    NoReply,
    Pairs,
    Push,
    RespSet,
    Sequence,
    Verbatim,
    VerbatimText,
    _NullArray,
)

Encoder = Callable[[object, list], None]


def format_double(value: float) -> bytes:
    """Redis 7.0 formats doubles with ``%.17g`` and spells infinities ``inf``/``-inf``."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"-nan" if math.copysign(1.0, value) < 0 else b"nan"  # (printf shows the sign: 0/0 is -nan)
    return b"%.17g" % value


#: ``$<n>\r\n`` for short lengths: three appends beat one ``%`` format on the hot path.
BULK_HEADERS = [b"$%d\r\n" % n for n in range(4096)]


def _bulk(value: bytes, out: list) -> None:
    if len(value) < 4096:
        out.append(BULK_HEADERS[len(value)])
        out.append(value)
        out.append(b"\r\n")
    else:
        out.append(b"$%d\r\n%b\r\n" % (len(value), value))


_STATUS_CACHE: dict[str, bytes] = {}


def _text(text: str) -> bytes:
    """Client bytes decoded with surrogateescape (names, messages) go back as they were sent."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no bytes decoded to
        return text.encode("utf-8", "replace")


def _simple(value: str, out: list) -> None:
    encoded = _STATUS_CACHE.get(value)
    if encoded is None:
        encoded = b"+" + _text(value.replace("\r", " ").replace("\n", " ")) + b"\r\n"
        if len(_STATUS_CACHE) < 256:
            _STATUS_CACHE[value] = encoded
    out.append(encoded)


#: ``:<n>\r\n`` for the integers most replies are (counts, 0/1 flags).
INT_REPLIES = [b":%d\r\n" % n for n in range(1024)]


def _int(value: int, out: list) -> None:
    out.append(INT_REPLIES[value] if 0 <= value < 1024 else b":%d\r\n" % value)


def _error(value: CommandError, out: list) -> None:
    out.append(b"-" + _text(value.message.replace("\r", " ").replace("\n", " ")) + b"\r\n")


def _nothing(value: NoReply, out: list) -> None:
    """NO_REPLY and friends: the reply goes out some other way, or not at all."""


def _make(resp3: bool) -> dict[type, Encoder]:
    table: dict[type, Encoder] = {}

    def encode(value: object, out: list) -> None:
        table[value.__class__](value, out)

    def array(value: list, out: list, prefix: bytes = b"*") -> None:
        out.append(b"%b%d\r\n" % (prefix, len(value)))
        for item in value:
            table[item.__class__](item, out)

    def mapping(value: dict, out: list) -> None:
        if resp3:
            out.append(b"%%%d\r\n" % len(value))
        else:
            out.append(b"*%d\r\n" % (2 * len(value)))
        for key, item in value.items():
            encode(key, out)
            encode(item, out)

    def pairs(value: Pairs, out: list) -> None:
        out.append(b"%%%d\r\n" % (len(value) // 2) if resp3 else b"*%d\r\n" % len(value))
        for item in value:
            table[item.__class__](item, out)

    if resp3:

        def null(value: None, out: list) -> None:
            out.append(b"_\r\n")

        def null_array(value: _NullArray, out: list) -> None:
            out.append(b"_\r\n")

        def double(value: float, out: list) -> None:
            out.append(b"," + format_double(value) + b"\r\n")

        def boolean(value: bool, out: list) -> None:
            out.append(b"#t\r\n" if value else b"#f\r\n")

        def verbatim(value: Verbatim, out: list) -> None:
            body = b"txt:" + value.encode()
            out.append(b"=%d\r\n%b\r\n" % (len(body), body))

        def verbatim_text(value: VerbatimText, out: list) -> None:
            body = value.format + b":" + value.text
            out.append(b"=%d\r\n%b\r\n" % (len(body), body))

        def big_number(value: BigNumber, out: list) -> None:
            out.append(b"(" + value + b"\r\n")

        def push(value: Push, out: list) -> None:
            array(value, out, b">")

        def resp_set(value: RespSet, out: list) -> None:
            array(value, out, b"~")

    else:

        def null(value: None, out: list) -> None:
            out.append(b"$-1\r\n")

        def null_array(value: _NullArray, out: list) -> None:
            out.append(b"*-1\r\n")

        def double(value: float, out: list) -> None:
            _bulk(format_double(value), out)

        def boolean(value: bool, out: list) -> None:
            out.append(b":1\r\n" if value else b":0\r\n")

        def verbatim(value: Verbatim, out: list) -> None:
            _bulk(value.encode(), out)

        def verbatim_text(value: VerbatimText, out: list) -> None:
            _bulk(value.text, out)

        def big_number(value: BigNumber, out: list) -> None:
            _bulk(bytes(value), out)

        push = resp_set = array  # type: ignore[assignment]

    def sequence(value: Sequence, out: list) -> None:
        for item in value:
            table[item.__class__](item, out)

    table.update(
        {
            Sequence: sequence,
            bytes: _bulk,
            str: _simple,
            int: _int,
            bool: boolean,
            float: double,
            type(None): null,
            list: array,
            tuple: array,
            dict: mapping,
            RespSet: resp_set,
            Push: push,
            Verbatim: verbatim,
            VerbatimText: verbatim_text,
            BigNumber: big_number,
            Pairs: pairs,
            _NullArray: null_array,
            CommandError: _error,
            NoReply: _nothing,
        }
    )
    return table


ENCODERS: dict[int, dict[type, Encoder]] = {2: _make(False), 3: _make(True)}


def encode_reply(value: object, resp: int = 2) -> bytes:
    """Encode one reply value (tests and rarely used paths; the server appends to a list)."""
    out: list[bytes] = []
    ENCODERS[resp][value.__class__](value, out)
    return b"".join(out)


__all__ = ["ENCODERS", "NULL_ARRAY", "encode_reply", "format_double"]
