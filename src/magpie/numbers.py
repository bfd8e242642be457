"""Numbers read as Redis reads them: C's strtod and getDoubleFromObject.

Sorted-set scores (commands/) and NUMERIC search bounds (search/) both parse with these,
so they live below both.
"""

from __future__ import annotations

import math

from magpie import errors
from magpie.errors import CommandError

C_SPACE = b" \t\n\v\f\r"
_C_SPACE_CODES = frozenset(C_SPACE)


def strtod(raw: bytes) -> tuple[float, bool] | None:
    """C's strtod over the whole of ``raw``: (value, out of range) or None if it does not
    consume everything. Leading blanks, ``inf``/``infinity``/``nan`` and hex floats are read
    as glibc reads them; "out of range" is strtod's ERANGE for an overflow to infinity or an
    underflow to zero."""
    if not raw:
        return 0.0, False  # strtod reads nothing and stops at the terminating NUL
    text = raw.lstrip(C_SPACE)
    if not text or not text.isascii() or text[-1:] in C_SPACE or b"_" in text:
        return None
    s = text.decode()
    try:
        value = float(s)
    except ValueError:
        lowered = s.lower()
        if "x" not in lowered or "n" in lowered:  # fromhex would also take "inf" spellings
            return None
        try:
            value = float.fromhex(s)
        except (ValueError, OverflowError):
            if "p" in lowered:
                try:  # an exponent too large: strtod gives HUGE_VAL (or 0) with ERANGE
                    exponent = int(lowered.rsplit("p", 1)[1])
                except ValueError:
                    return None
                negative = lowered.startswith("-")
                if exponent > 0:
                    return (-math.inf if negative else math.inf), True
                return (-0.0 if negative else 0.0), True
            return None
    if math.isinf(value):
        return value, "n" not in s.lower()  # a finite literal too large for a double
    if value == 0.0:
        mantissa = s.lower()
        if "x" in mantissa:
            mantissa = mantissa.split("x", 1)[1].split("p", 1)[0]
            digits = "123456789abcdef"
        else:
            mantissa = mantissa.split("e", 1)[0]
            digits = "123456789"
        return value, any(d in mantissa for d in digits)
    return value, False


def parse_score(raw: bytes, error: str = errors.NOT_FLOAT) -> float:
    """Redis's getDoubleFromObject: no leading blank, the whole string, no NaN, no ERANGE."""
    if raw == b"0":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        # Fast path: a finite, non-zero number Python and strtod read alike (no blanks,
        # which Python strips, no underscores, which only Python allows).
        if value != 0.0 and value - value == 0.0 and raw[0] > 32 and raw[-1] > 32 and b"_" not in raw:
            return value
        if raw == b"0":
            return 0.0
    if not raw or raw[0] in _C_SPACE_CODES:
        raise CommandError(error)
    parsed = strtod(raw)
    if parsed is None or parsed[1] or math.isnan(parsed[0]):
        raise CommandError(error)
    return parsed[0]
