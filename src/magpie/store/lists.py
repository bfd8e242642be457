"""The list value: a ``collections.deque`` of bytes elements.

A deque gives O(1) pushes and pops at both ends, which is what queues (LPUSH/RPOP,
blocking pops, LMOVE rotations) spend their time on. Indexing reaches the middle in
O(n/64) (CPython walks 64-element blocks from the nearer end), so LINDEX, LSET and
LRANGE near either end are cheap and in the middle still far from Python-loop speed.

Redis 7.0 stores every list as a quicklist (listpack-encoded small lists arrived in 7.2),
so OBJECT ENCODING always reports ``quicklist``.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

from magpie.store.types import register_type


class ListValue(deque):
    """A Redis list. Elements are ``bytes``; an empty ListValue is never stored."""

    __slots__ = ()

    def range(self, start: int, stop: int) -> list[bytes]:
        """Elements ``start`` to ``stop - 1`` (0 <= start < stop <= len), walked from the nearer end."""
        size = len(self)
        if start == 0 and stop == size:
            return list(self)
        if start <= size - stop:
            return list(islice(self, start, stop))
        out = list(islice(reversed(self), size - stop, size - start))
        out.reverse()
        return out

    def trim(self, start: int, stop: int) -> None:
        """Keep only elements ``start`` to ``stop - 1`` (0 <= start <= stop <= len)."""
        drop_right = len(self) - stop
        kept = stop - start
        if kept < start + drop_right:  # cheaper to rebuild than to pop
            survivors = self.range(start, stop) if kept else []
            self.clear()
            self.extend(survivors)
            return
        popleft, pop = self.popleft, self.pop
        for _ in range(start):
            popleft()
        for _ in range(drop_right):
            pop()

    def check_invariants(self) -> None:
        """Raise AssertionError unless the list is non-empty and holds only bytes."""
        if not self:
            raise AssertionError("an empty list is stored")
        for element in self:
            if element.__class__ is not bytes:
                raise AssertionError(f"element {element!r} is not bytes")


def list_encoding(value: object) -> str:
    return "quicklist"


register_type(ListValue, "list", list_encoding, ListValue)
