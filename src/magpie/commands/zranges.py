"""Score and lex range syntax for sorted sets.

Parses score bounds as Redis does, with C's strtod from ``magpie.numbers`` (hex floats,
``inf``, ``(`` for exclusive bounds, NaN refused), and lex items (``[a``, ``(a``, ``-``, ``+``); ranges answer
membership and give the AVL tree its bounds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from magpie.errors import CommandError
from magpie.numbers import strtod

if TYPE_CHECKING:
    from magpie.store.zsets import ZSet

MIN_MAX_NOT_FLOAT = "ERR min or max is not a float"
MIN_MAX_NOT_LEX = "ERR min or max not valid string range item"


def _parse_score_bound(raw: bytes) -> tuple[float, bool]:
    """One end of a score range (zslParseRange): ``(`` makes it exclusive; strtod, no NaN.
    Redis reads the argument as a C string, so it ends at its first NUL byte."""
    raw = raw.split(b"\0", 1)[0]
    exclusive = raw[:1] == b"("
    parsed = strtod(raw[1:] if exclusive else raw)
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
