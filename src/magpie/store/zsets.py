"""The sorted set value type: a member -> score dict plus an order-statistic AVL tree.

The dict answers ZSCORE and membership in O(1); the tree holds ``(score, member)`` keys in
Redis's order (score, then member bytes) and answers rank, select and ranges in O(log n).
The two always hold the same members.

Redis 7.0 keeps a small sorted set as a listpack and converts it, once and for good, to a
skiplist when it gets more than ``zset-max-listpack-entries`` members or a new member longer
than ``zset-max-listpack-value`` bytes. OBJECT ENCODING reports that choice, so the value
carries it. A set built afresh (the STORE commands) starts from whichever encoding its final
size and longest member call for.

One observable difference between the encodings is kept: a listpack stores a score as
text and reads ``-0`` back as ``0``, while a skiplist keeps the double ``-0.0``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from magpie.store.types import register_type
from magpie.structures.avl import AvlTree

ENTRIES_LIMIT = "zset-max-listpack-entries"
VALUE_LIMIT = "zset-max-listpack-value"


class ZSet:
    """A sorted set: ``scores`` (member -> float) and ``tree`` of ``(score, member)``.

    Scores are never NaN. ``listpack`` is False once converted to a skiplist.
    """

    __slots__ = ("scores", "tree", "listpack")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.tree = AvlTree()
        self.listpack = True

    def __len__(self) -> int:
        return len(self.scores)

    def __bool__(self) -> bool:
        return bool(self.scores)

    def __contains__(self, member: object) -> bool:
        return member in self.scores

    def __repr__(self) -> str:
        return f"ZSet({list(self.tree)!r})"

    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    def set_score(self, member: bytes, score: float) -> bool:
        """Insert ``member`` or move it to ``score``; True when it is new.

        The caller applies the encoding thresholds (``after_insert``) for new members.
        """
        if score == 0.0 and self.listpack:
            score = 0.0  # a listpack stores "-0" as the integer 0
        scores = self.scores
        old = scores.get(member)
        if old is None:
            scores[member] = score
            self.tree.insert((score, member))
            return True
        if old != score:  # as Redis: -0 and 0 are the same score, nothing moves
            self.tree.delete((old, member))
            self.tree.insert((score, member))
            scores[member] = score
        return False

    def remove(self, member: bytes) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        self.tree.delete((old, member))
        return True

    def pop_min(self) -> tuple[float, bytes]:
        score, member = self.tree.pop_min()
        del self.scores[member]
        return score, member

    def pop_max(self) -> tuple[float, bytes]:
        score, member = self.tree.pop_max()
        del self.scores[member]
        return score, member

    def after_insert(self, config: dict, longest: int) -> None:
        """Apply the listpack thresholds after new members (the longest ``longest`` bytes) went in."""
        if self.listpack and (len(self.scores) > config[ENTRIES_LIMIT] or longest > config[VALUE_LIMIT]):
            self.listpack = False

    def items(self) -> Iterator[tuple[float, bytes]]:
        """``(score, member)`` in ascending order."""
        return iter(self.tree)

    def check_invariants(self) -> None:
        """Raise AssertionError unless the dict and the tree hold the same members with the
        same scores (sign of zero included), no score is NaN, a listpack holds no ``-0``, and
        the tree's own invariants hold. For DEBUG CHECK-INVARIANTS and tests; O(n)."""
        if not self.scores:
            raise AssertionError("an empty sorted set is stored")
        self.tree.check_invariants()
        if len(self.tree) != len(self.scores):
            raise AssertionError(f"the tree holds {len(self.tree)} members, the dict {len(self.scores)}")
        for score, member in self.tree:
            if member.__class__ is not bytes:
                raise AssertionError(f"member {member!r} is not bytes")
            if score != score:
                raise AssertionError(f"member {member!r} has a NaN score")
            known = self.scores.get(member)
            if known is None or known != score or math.copysign(1.0, known) != math.copysign(1.0, score):
                raise AssertionError(f"member {member!r} scores {known!r} in the dict, {score!r} in the tree")
            if self.listpack and score == 0.0 and math.copysign(1.0, score) < 0:
                raise AssertionError(f"listpack member {member!r} keeps a -0 score")


def build_zset(pairs: Iterable[tuple[bytes, float]], config: dict) -> ZSet:
    """A new sorted set from ``(member, score)`` pairs (distinct members), with the encoding
    Redis gives a freshly built set (STORE commands)."""
    z = ZSet()
    z.listpack = False
    longest = 0
    scores = z.scores
    for member, score in pairs:
        scores[member] = score
        if len(member) > longest:
            longest = len(member)
    if len(scores) <= config[ENTRIES_LIMIT] and longest <= config[VALUE_LIMIT]:
        z.listpack = True
        for member, score in scores.items():
            if score == 0.0:
                scores[member] = 0.0
    z.tree = AvlTree(sorted((score, member) for member, score in scores.items()))
    return z


def zset_encoding(value: ZSet) -> str:
    return "listpack" if value.listpack else "skiplist"


def copy_zset(value: ZSet) -> ZSet:
    copy = ZSet()
    copy.scores = dict(value.scores)
    copy.tree = AvlTree(value.tree)
    copy.listpack = value.listpack
    return copy


register_type(ZSet, "zset", zset_encoding, copy_zset)  # type: ignore[arg-type]
