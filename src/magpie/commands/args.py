"""Typed argument readers: raw bytes in, Python values out, Redis's error text on failure."""

from __future__ import annotations

import math

from magpie.errors import NOT_FLOAT, NOT_INTEGER, SYNTAX, CommandError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def parse_int(raw: bytes, error: str = NOT_INTEGER) -> int:
    """A signed 64-bit integer written the way Redis's string2ll accepts it."""
    try:
        value = int(raw)
    except ValueError:
        raise CommandError(error) from None
    if value < INT64_MIN or value > INT64_MAX or str(value).encode() != raw:
        raise CommandError(error)
    return value


INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def parse_int32(raw: bytes, error: str | None = None) -> int:
    """Redis's getIntFromObjectOrReply: a 64-bit integer that must also fit a C ``int``.

    ``error`` replaces both messages, as the ``msg`` argument does in Redis (SWAPDB's
    "invalid first DB index"); without it an out-of-range number gets its own text.
    """
    value = parse_int(raw, error or NOT_INTEGER)
    if value < INT32_MIN or value > INT32_MAX:
        raise CommandError(error or f"ERR value is out of range, value must between {INT32_MIN} and {INT32_MAX}")
    return value


def parse_nonneg_int(raw: bytes, error: str = NOT_INTEGER) -> int:
    value = parse_int(raw, error)
    if value < 0:
        raise CommandError(error)
    return value


def parse_float(raw: bytes, error: str = NOT_FLOAT) -> float:
    """A double as Redis's strtod-based parsing accepts it (``inf`` yes, ``nan`` no)."""
    if not raw or raw[:1].isspace() or raw[-1:].isspace() or b"_" in raw:
        raise CommandError(error)
    try:
        value = float(raw)
    except ValueError:
        raise CommandError(error) from None
    if math.isnan(value):
        raise CommandError(error)
    return value


def upper(raw: bytes) -> bytes:
    return raw.upper()


def expect_end(args: list[bytes], index: int) -> None:
    if index < len(args):
        raise CommandError(SYNTAX)


def c_atoi(raw: bytes) -> int:
    """C's atoi: leading blanks, an optional sign, then as many digits as there are.

    Redis's key-finding helpers (COMMAND GETKEYS, ACL, cluster routing) read numkeys this way.
    """
    text = raw.lstrip(b" \t\n\v\f\r")
    sign = 1
    if text[:1] in (b"+", b"-"):
        sign = -1 if text[:1] == b"-" else 1
        text = text[1:]
    number = 0
    for byte in text:
        if not 48 <= byte <= 57:
            break
        number = number * 10 + byte - 48
    return sign * number


def numkeys_positions(argv: list[bytes], numkeys_index: int) -> list[int]:
    """Key positions of a ``numkeys key [key ...]`` command, or [] when numkeys is unusable."""
    num = c_atoi(argv[numkeys_index]) if len(argv) > numkeys_index else 0
    first = numkeys_index + 1
    if num < 1 or num > len(argv) - first:
        return []
    return list(range(first, first + num))


def parse_timeout(raw: bytes) -> float:
    """Seconds as a float, as Redis 7 reads blocking timeouts (0 waits forever)."""
    try:
        value = float(raw)
    except ValueError:
        raise CommandError("ERR timeout is not a float or out of range") from None
    if math.isnan(value) or math.isinf(value) or raw[:1].isspace() or raw[-1:].isspace():
        raise CommandError("ERR timeout is not a float or out of range")
    if value < 0:
        raise CommandError("ERR timeout is negative")
    return value
