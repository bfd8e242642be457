"""Score and lex range syntax for sorted sets (and later NUMERIC search bounds).

Parses scores as Redis does, with C's strtod (hex floats, ``inf``, ``(`` for exclusive
bounds, NaN refused), and lex items (``[a``, ``(a``, ``-``, ``+``); ranges answer
membership and give the AVL tree its bounds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from magpie import errors
from magpie.errors import CommandError

if TYPE_CHECKING:
    from magpie.store.zsets import ZSet

MIN_MAX_NOT_FLOAT = "ERR min or max is not a float"
MIN_MAX_NOT_LEX = "ERR min or max not valid string range item"
_C_SPACE = b" \t\n\v\f\r"
_C_SPACE_CODES = frozenset(_C_SPACE)


# -- numbers ------------------------------------------------------------------------------


def _strtod(raw: bytes) -> tuple[float, bool] | None:
    """C's strtod over the whole of ``raw``: (value, out of range) or None if it does not
    consume everything. Leading blanks, ``inf``/``infinity``/``nan`` and hex floats are read
    as glibc reads them; "out of range" is strtod's ERANGE for an overflow to infinity or an
    underflow to zero."""
    if not raw:
        return 0.0, False  # strtod reads nothing and stops at the terminating NUL
    text = raw.lstrip(_C_SPACE)
    if not text or not text.isascii() or text[-1:] in _C_SPACE or b"_" in text:
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
    parsed = _strtod(raw)
    if parsed is None or parsed[1] or math.isnan(parsed[0]):
        raise CommandError(error)
    return parsed[0]


def _parse_score_bound(raw: bytes) -> tuple[float, bool]:
    """One end of a score range (zslParseRange): ``(`` makes it exclusive; strtod, no NaN.
    Redis reads the argument as a C string, so it ends at its first NUL byte."""
    raw = raw.split(b"\0", 1)[0]
    exclusive = raw[:1] == b"("
    parsed = _strtod(raw[1:] if exclusive else raw)
    if parsed is None or math.isnan(parsed[0]):
        raise CommandError(MIN_MAX_NOT_FLOAT)
    return parsed[0], not exclusive


class ScoreRange:
    """``min``/``max`` of ZRANGEBYSCORE and friends, with their inclusiveness."""

    __slots__ = ("lo", "lo_inc", "hi", "hi_inc")

    def __init__(self, raw_min: bytes, raw_max: bytes) -> None:
        self.lo, self.lo_inc = _parse_score_bound(raw_min)
        self.hi, self.hi_inc = _parse_score_bound(raw_max)

    def positions(self, z: ZSet) -> tuple[int, int]:
        """Positions ``[start, stop)`` of the members whose scores lie in the range."""
        tree = z.tree
        if self.lo > self.hi or (self.lo == self.hi and not (self.lo_inc and self.hi_inc)):
            return 0, 0
        # (s,) sorts before every (s, member); (next(s),) after all of them.
        if self.lo_inc:
            start = tree.rank((self.lo,))
        else:
            start = tree.rank((math.nextafter(self.lo, math.inf),)) if self.lo != math.inf else len(tree)
        if self.hi_inc:
            stop = tree.rank((math.nextafter(self.hi, math.inf),)) if self.hi != math.inf else len(tree)
        else:
            stop = tree.rank((self.hi,))
        return start, max(start, stop)


# -- lex ranges ---------------------------------------------------------------------------

_MINUS, _PLUS = object(), object()  # "-" and "+": below and above every member


def _parse_lex_item(raw: bytes) -> tuple[object, bool]:
    first = raw[:1]
    if first == b"+" and len(raw) == 1:
        return _PLUS, True
    if first == b"-" and len(raw) == 1:
        return _MINUS, True
    if first == b"(":
        return raw[1:], False
    if first == b"[":
        return raw[1:], True
    raise CommandError(MIN_MAX_NOT_LEX)


class LexRange:
    """``min``/``max`` of ZRANGEBYLEX and friends (``-``, ``+``, ``[m``, ``(m``)."""

    __slots__ = ("lo", "lo_inc", "hi", "hi_inc")

    def __init__(self, raw_min: bytes, raw_max: bytes) -> None:
        self.lo, self.lo_inc = _parse_lex_item(raw_min)
        self.hi, self.hi_inc = _parse_lex_item(raw_max)

    def gte_min(self, member: bytes) -> bool:
        lo = self.lo
        if lo is _MINUS:
            return True
        if lo is _PLUS:
            return False
        return member >= lo if self.lo_inc else member > lo  # type: ignore[operator]

    def lte_max(self, member: bytes) -> bool:
        hi = self.hi
        if hi is _PLUS:
            return True
        if hi is _MINUS:
            return False
        return member <= hi if self.hi_inc else member < hi  # type: ignore[operator]

    def positions(self, z: ZSet) -> tuple[int, int]:
        """Positions ``[start, stop)`` of the members in the range.

        Lex ranges assume every member has the same score (Redis's contract). Then the
        bounds are found in the tree in O(log n). With mixed scores Redis's answer depends
        on its encoding; this follows a listpack's forward scan (first member in range,
        then on while the members stay below the maximum).
        """
        tree = z.tree
        size = len(tree)
        if not size:
            return 0, 0
        score = tree.min()[0]
        if tree.max()[0] == score:
            lo, hi = self.lo, self.hi
            if lo is _MINUS:
                start = 0
            elif lo is _PLUS:
                return 0, 0
            else:
                start = tree.rank((score, lo)) if self.lo_inc else tree.rank_after((score, lo))
            if hi is _PLUS:
                stop = size
            elif hi is _MINUS:
                return 0, 0
            else:
                stop = tree.rank_after((score, hi)) if self.hi_inc else tree.rank((score, hi))
            return start, max(start, stop)
        start = None
        stop = size
        for i, (_, member) in enumerate(tree):
            if start is None:
                if self.gte_min(member):
                    if not self.lte_max(member):
                        return 0, 0
                    start = i
            elif not self.lte_max(member):
                stop = i
                break
        return (0, 0) if start is None else (start, stop)
