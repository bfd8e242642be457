"""The index of one NUMERIC field: documents ordered by value, for ranges and SORTBY.

A hash field's value is parsed as RediSearch parses it: ``RedisModule_StringToDouble`` (src/
document.c ``numericPreprocessor``), which is Redis's ``string2d`` (Redis 7.0 src/util.c):
C ``strtod`` over the whole string, nothing before or after the number (no blanks either),
no NaN, and no out-of-range literal (``1e400`` overflows, ``1e-400`` underflows to zero: both
refused). ``inf``, ``-inf``, ``infinity`` and hex floats are accepted. A value that does not
parse is an indexing failure for the whole document; that decision is the caller's.

The values live in the order-statistic AVL tree (magpie.structures.avl) keyed by
``(value, doc_id)``, so equal values are ordered by document id, and a range is resolved
to tree positions in O(log n): counting is O(log n) and listing O(log n + matches).
RediSearch keeps a tree of ranges instead; what a query returns is the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from magpie.errors import CommandError
from magpie.numbers import parse_score
from magpie.structures.avl import AvlTree

__all__ = ["NumericIndex", "parse_numeric"]

_INF = math.inf


def parse_numeric(raw: bytes) -> float | None:
    """A NUMERIC field value as RediSearch reads it from a hash, or None if it is not one."""
    try:
        return parse_score(raw)
    except CommandError:
        return None


def _low_key(low: float, inclusive: bool) -> tuple[float, float]:
    # (v, -inf) sorts before every (v, doc_id); (v, +inf) after all of them.
    return (low, -_INF) if inclusive else (low, _INF)


def _high_key(high: float, inclusive: bool) -> tuple[float, float]:
    return (high, _INF) if inclusive else (high, -_INF)


class NumericIndex:
    """Document -> value, and the ``(value, doc_id)`` pairs in order.

    One value per document (a hash field has one); ``add`` on an id already present replaces
    its value. NaN is refused with ValueError (``parse_numeric`` never produces it).
    """

    __slots__ = ("_values", "_tree")

    _values: dict[int, float]
    _tree: AvlTree

    def __init__(self) -> None:
        self._values = {}
        self._tree = AvlTree()

    # ------------------------------------------------------------------------ changes

    def add(self, doc_id: int, value: float) -> None:
        value = float(value)
        if value != value:
            raise ValueError("a NUMERIC value cannot be NaN")
        old = self._values.get(doc_id)
        if old is not None:
            if old == value:
                return
            self._tree.delete((old, doc_id))
        self._values[doc_id] = value
        self._tree.insert((value, doc_id))

    def remove(self, doc_id: int) -> None:
        """Forget a document; unknown ids are ignored."""
        old = self._values.pop(doc_id, None)
        if old is not None:
            self._tree.delete((old, doc_id))

    def clear(self) -> None:
        self._values.clear()
        self._tree.clear()

    def check_invariants(self) -> None:
        """Raise AssertionError unless the tree holds exactly the ``(value, doc_id)`` pairs of
        the value dict, none NaN, and passes its own checks."""
        self._tree.check_invariants()
        if len(self._tree) != len(self._values):
            raise AssertionError(f"the tree holds {len(self._tree)} docs, the dict {len(self._values)}")
        for value, doc_id in self._tree:
            if value != value or self._values.get(doc_id) != value:
                raise AssertionError(f"doc {doc_id} is {value!r} in the tree, {self._values.get(doc_id)!r} in the dict")

    # ------------------------------------------------------------------------ queries

    def value(self, doc_id: int) -> float | None:
        return self._values.get(doc_id)

    def range(
        self,
        low: float = -_INF,
        high: float = _INF,
        low_inclusive: bool = True,
        high_inclusive: bool = True,
    ) -> set[int]:
        """Documents whose value lies between ``low`` and ``high`` (``@f:[low high]``;
        ``(`` in the query makes a bound exclusive)."""
        return {doc_id for _, doc_id in self.iter_range(low, high, low_inclusive, high_inclusive)}

    def count_range(
        self,
        low: float = -_INF,
        high: float = _INF,
        low_inclusive: bool = True,
        high_inclusive: bool = True,
    ) -> int:
        """How many documents ``range`` would return, in O(log n)."""
        if low != low or high != high:
            return 0
        return self._tree.count_range(_low_key(low, low_inclusive), _high_key(high, high_inclusive))

    def iter_range(
        self,
        low: float = -_INF,
        high: float = _INF,
        low_inclusive: bool = True,
        high_inclusive: bool = True,
        reverse: bool = False,
        offset: int = 0,
    ) -> Iterator[tuple[float, int]]:
        """``(value, doc_id)`` pairs in the range, ascending by value then id (descending
        with ``reverse``), skipping ``offset`` pairs in O(log n). Changing the index while
        iterating raises RuntimeError."""
        if low != low or high != high:
            return iter(())
        return self._tree.iter_range(
            _low_key(low, low_inclusive),
            _high_key(high, high_inclusive),
            True,
            True,
            reverse,
            offset,
        )

    def iter_sorted(self, reverse: bool = False) -> Iterator[tuple[float, int]]:
        """Every ``(value, doc_id)`` pair, ascending (or descending): SORTBY on this field."""
        return reversed(self._tree) if reverse else iter(self._tree)

    def min(self) -> float | None:
        return self._tree.min()[0] if self._tree else None

    def max(self) -> float | None:
        return self._tree.max()[0] if self._tree else None

    # --------------------------------------------------------------------- statistics

    @property
    def num_docs(self) -> int:
        return len(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._values

    def __repr__(self) -> str:
        return f"NumericIndex(<{len(self)} docs>)"
