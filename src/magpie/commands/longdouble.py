"""INCRBYFLOAT's arithmetic: Redis adds ``long double``s and prints them with ``%.17Lf``.

numpy's ``longdouble`` is the same C type (80-bit extended on x86-64), so sums and their
text match Redis's digit for digit where a Python float would not (0.1 + 0.2).
"""

from __future__ import annotations

import numpy as np

from magpie import errors
from magpie.errors import CommandError

_ALLOWED = frozenset(b"0123456789+-.eEinfatyINFATYxXpPbcdBCD")
MAX_CHARS = 5 * 1024  # Redis's MAX_LONG_DOUBLE_CHARS: longer input is refused


def parse_long_double(raw: bytes) -> np.longdouble:
    """Redis's string2ld (strtold): no surrounding spaces, no NaN, no overflow or underflow.

    strtold also reads hexadecimal floats (``0x1p3``); those go through ``float.fromhex``,
    exact for every value a double holds.
    """
    if not raw or len(raw) >= MAX_CHARS or raw[:1].isspace() or raw[-1:].isspace() or not set(raw) <= _ALLOWED:
        raise CommandError(errors.NOT_FLOAT)
    text = raw.decode()
    mantissa = text.lower().lstrip("+-")
    try:
        if mantissa.startswith("0x"):
            value = np.longdouble(float.fromhex(text))
            mantissa = mantissa[2:].split("p")[0]
        else:
            with np.errstate(all="ignore"):
                value = np.longdouble(text)
            mantissa = mantissa.split("e")[0]
    except (ValueError, OverflowError):
        raise CommandError(errors.NOT_FLOAT) from None
    if np.isnan(value):
        raise CommandError(errors.NOT_FLOAT)
    if np.isinf(value) and mantissa not in ("inf", "infinity"):
        raise CommandError(errors.NOT_FLOAT)  # out of range, as strtold's ERANGE
    if value == 0 and mantissa.strip("0.") != "":
        raise CommandError(errors.NOT_FLOAT)  # underflowed to zero: ERANGE as well
    return value


def format_long_double(value: np.longdouble) -> bytes:
    """``%.17Lf`` with trailing zeros (and a bare point) removed; ``-0`` prints as ``0``."""
    text = np.format_float_positional(value, precision=17, unique=False, fractional=True, trim="-")
    if text in ("-0", "-0."):
        text = "0"
    return text.encode()


def add_long_doubles(current: bytes, increment: bytes) -> bytes:
    base = parse_long_double(current)
    delta = parse_long_double(increment)
    with np.errstate(all="ignore"):
        total = base + delta
    if np.isnan(total) or np.isinf(total):
        raise CommandError(errors.INCR_FLOAT_NAN)
    return format_long_double(total)
