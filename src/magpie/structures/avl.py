"""An order-statistic AVL tree: a sorted set of keys with O(log n) rank and select.

Why this exists: a sorted set needs, besides ordered insert and delete, "what is the rank of
this member" (ZRANK) and "which member has rank i" (ZRANGE) in O(log n) while members are
being added and removed. ``sortedcontainers.SortedList`` answers rank by rebuilding a
positional index after every change; an AVL tree whose nodes store subtree sizes answers
both from the stored sizes. Sorted sets key the tree by ``(score, member)``; NUMERIC search
fields by ``(number, doc_id)``. The tree only needs keys comparable with ``<``.

Shape of the implementation, and why:

* Iterative throughout (no recursion limit, no per-level call overhead). A change records the
  nodes on its way down in a list, and rebalancing walks that list back up.
* No parent pointers, on purpose: they would make every tree one big reference cycle, so a
  deleted sorted set's memory would wait for the cyclic garbage collector (and would never be
  freed if ``gc.freeze()`` had moved it out of the collector's sight). Without them, nodes
  are freed by reference counting the moment they are unlinked. Being acyclic also lets the
  compiled build mark nodes ``acyclic`` for mypyc: they are then not tracked by the cyclic
  collector at all, whose full collections otherwise re-trace every node of every tree and,
  measured, cost about as much as the inserts themselves at a million keys. The price is a
  contract: a key must not refer back to the tree that holds it (a cycle through a node
  would never be collected). ``(score, member)`` and ``(number, doc_id)`` tuples cannot.
* Every node stores its height and the size of its *left* subtree (the tree keeps its total).
  That is all rank and select read, so a descent never touches the sibling it does not take,
  and an insert or delete only writes sizes where it turns left (measured: level with
  whole-subtree sizes at 1M keys, so no slower, and one field fewer to keep right). Sizes are adjusted on the way down (and put back if the
  key turns out to be present / absent), rotations fix the sizes and heights of the two nodes
  they move, and the upward walk stops as soon as a subtree's height is unchanged.
  ``|height(left) - height(right)| <= 1`` holds after every insert and delete.
* A node keeps a ``(float, ...)`` key's float unboxed (``score``; NaN for other keys) and
  a descent compares that first, reading the key tuple only when the scores tie (or are
  NaN). In a big tree each level is then one cache miss instead of three (node, tuple,
  float object): measured, inserts and deletes got 4-5x faster at 100k keys.
* Searches compare with ``<`` only, once per level: the descent remembers the last node whose
  key was not greater than the search key and tests that one node for equality at the end.
  Tuple keys make comparisons the dominant cost, so this matters.
* One shared sentinel node (``_NIL``: height 0, left size 0) stands for every empty child, so the
  code reads ``node.left.height`` without ``None`` tests. A per-tree header node holds the root
  as its left child, so a rotation at the root needs no special case. The sentinel's fields
  are never written.
* Written as typed Python so that mypyc can compile this module (setup.py does, when it can);
  the source stays a working pure-Python fallback, about 2-3x slower and with its nodes
  tracked by the cyclic collector (only mypyc can untrack them).

Iterators do not see a snapshot: like a dict's, an iterator advanced after the tree changed
raises ``RuntimeError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, TypeVar

_T = TypeVar("_T")

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # only mypyc reads the decorator; without mypy_extensions it does nothing

    def mypyc_attr(*attrs: str, **kwattrs: object) -> Callable[[_T], _T]:
        return lambda cls: cls


_NAN: Final = float("nan")


def _score_of(key: Any) -> float:
    """A ``(float, ...)`` key's float, which nodes keep unboxed so that most comparisons
    read only the node (not the key tuple and its float: two more cache misses a level in
    a big tree); NaN for other keys, which makes every score test inconclusive."""
    if isinstance(key, tuple) and key:
        first = key[0]
        if isinstance(first, float):
            return first
    return _NAN


@mypyc_attr(acyclic=True)
class _Node:
    """One key, its links, the height of the subtree rooted here, and its left subtree's size."""

    __slots__ = ("key", "score", "left", "right", "height", "left_size")

    key: Any
    score: float
    left: _Node
    right: _Node
    height: int
    left_size: int

    def __init__(self, key: Any, nil: _Node) -> None:
        self.key = key
        self.score = _score_of(key)
        self.left = nil
        self.right = nil
        self.height = 1
        self.left_size = 0


@mypyc_attr(acyclic=True)
class _Sentinel(_Node):
    """The empty subtree: height 0, linked to itself."""

    __slots__ = ()

    def __init__(self) -> None:
        self.key = None
        self.score = _NAN
        self.left = self
        self.right = self
        self.height = 0
        self.left_size = 0


_NIL: Final[_Node] = _Sentinel()


def _rotate_left(x: _Node) -> _Node:
    """Lift x's right child y into x's place and return y (the caller relinks x's parent).
    Fixes the left sizes and heights of x and y; nothing else changes."""
    y = x.right
    b = y.left
    x.right = b
    y.left = x
    y.left_size += x.left_size + 1  # y's new left subtree: x, x's left, and b
    xh = x.left.height
    bh = b.height
    if bh > xh:
        xh = bh
    xh += 1
    x.height = xh
    yh = y.right.height
    y.height = (xh if xh > yh else yh) + 1
    return y


def _rotate_right(x: _Node) -> _Node:
    """Mirror of ``_rotate_left``: lift x's left child into x's place and return it."""
    y = x.left
    b = y.right
    x.left = b
    y.right = x
    x.left_size -= y.left_size + 1  # x's new left subtree is b alone
    xh = x.right.height
    bh = b.height
    if bh > xh:
        xh = bh
    xh += 1
    x.height = xh
    yh = y.left.height
    y.height = (xh if xh > yh else yh) + 1
    return y


def _rebalance(path: list[_Node]) -> None:
    """Restore heights and balance along ``path`` (header first), from its end upward.

    Left sizes are already right (callers fix them on the way down). Stops at the first subtree
    whose height did not change: above it nothing can have changed. After an insert that is
    at most one (single or double) rotation; a delete may rotate at several levels.
    """
    i = len(path) - 1
    while i > 0:
        node = path[i]
        left = node.left
        right = node.right
        lh = left.height
        rh = right.height
        old = node.height
        if lh > rh + 1:
            if left.left.height < left.right.height:  # left-right: straighten first
                node.left = _rotate_left(left)
            top = _rotate_right(node)
        elif rh > lh + 1:
            if right.right.height < right.left.height:  # right-left: straighten first
                node.right = _rotate_right(right)
            top = _rotate_left(node)
        else:
            h = (lh if lh > rh else rh) + 1
            if h == old:
                return
            node.height = h
            i -= 1
            continue
        i -= 1
        parent = path[i]
        if parent.left is node:
            parent.left = top
        else:
            parent.right = top
        if top.height == old:
            return


def _undo_left_sizes(path: list[_Node], went_left_at_end: bool, delta: int) -> None:
    """Take back ``delta`` from the left sizes of the path nodes where the descent turned
    left (an insert that met a duplicate, a delete that found nothing)."""
    last = len(path) - 1
    for i in range(1, last):
        node = path[i]
        if node.left is path[i + 1]:
            node.left_size -= delta
    if went_left_at_end:
        path[last].left_size -= delta


class AvlTree:
    """A sorted collection of distinct keys with O(log n) insert, delete, rank and select.

    Keys are compared with ``<`` only and must be totally ordered among themselves (tuples of
    ``(float, bytes)`` in practice; NaN scores must be kept out by the caller). Positions are
    0-based ranks in ascending order.
    """

    __slots__ = ("_head", "_size", "_version")

    _head: _Node
    _size: int
    _version: int

    def __init__(self, keys: Iterable[Any] = ()) -> None:
        self._head = _Node(None, _NIL)
        self._size = 0
        self._version = 0
        for key in keys:
            self.insert(key)

    # ----------------------------------------------------------------- size and membership

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._head.left is not _NIL

    def __contains__(self, key: Any) -> bool:
        nil = _NIL
        node = self._head.left
        candidate = nil
        while node is not nil:
            if key < node.key:
                node = node.left
            else:
                candidate = node
                node = node.right
        return candidate is not nil and not (candidate.key < key)

    def __repr__(self) -> str:
        if len(self) > 10:
            return f"AvlTree(<{len(self)} keys: {self.min()!r} .. {self.max()!r}>)"
        return f"AvlTree({list(self)!r})"

    # -------------------------------------------------------------------------- changes

    def insert(self, key: Any) -> bool:
        """Add ``key``; False (and no change) if an equal key is already present."""
        nil = _NIL
        head = self._head
        node = head.left
        if node is nil:
            head.left = _Node(key, nil)
            self._size = 1
            self._version += 1
            return True
        path = [head]
        candidate = nil  # the last node on the path whose key is <= key
        ks = _score_of(key)
        while True:
            path.append(node)
            ns = node.score
            if ks < ns or (not ks > ns and key < node.key):
                node.left_size += 1  # optimistic: undone below if the key is a duplicate
                child = node.left
                if child is nil:
                    if candidate is not nil and not (candidate.key < key):
                        _undo_left_sizes(path, True, 1)
                        return False
                    node.left = _Node(key, nil)
                    break
            else:
                child = node.right
                if child is nil:
                    if not (node.key < key):
                        _undo_left_sizes(path, False, 1)
                        return False
                    node.right = _Node(key, nil)
                    break
                candidate = node
            node = child
        self._size += 1
        self._version += 1
        if node.left is nil or node.right is nil:  # else node's height, and all above, is unchanged
            _rebalance(path)
        return True

    def delete(self, key: Any) -> bool:
        """Remove ``key``; False (and no change) if it is not present."""
        nil = _NIL
        head = self._head
        node = head.left
        if node is nil:
            return False
        # Descend with `<` only. If the key is present, the descent passes it (going right),
        # then goes left to the bottom of its right subtree: it ends on the node that must be
        # unlinked (the key's own node, or its in-order successor), having decremented the
        # left sizes exactly where that node's path turns left.
        path = [head]
        candidate = nil
        ks = _score_of(key)
        while True:
            path.append(node)
            ns = node.score
            if ks < ns or (not ks > ns and key < node.key):
                node.left_size -= 1
                child = node.left
                if child is nil:
                    went_left = True
                    break
            else:
                candidate = node
                child = node.right
                if child is nil:
                    went_left = False
                    break
            node = child
        if candidate is nil or candidate.key < key:
            _undo_left_sizes(path, went_left, -1)  # absent: give the sizes back
            return False
        if node is not candidate:
            candidate.key = node.key
            candidate.score = node.score
        self._unlink(path)
        return True

    def pop_min(self) -> Any:
        """Remove and return the smallest key; IndexError if empty."""
        return self._pop_end(True)

    def pop_max(self) -> Any:
        """Remove and return the largest key; IndexError if empty."""
        return self._pop_end(False)

    def _pop_end(self, smallest: bool) -> Any:
        nil = _NIL
        head = self._head
        node = head.left
        if node is nil:
            raise IndexError("pop from an empty AvlTree")
        path = [head]
        while True:
            path.append(node)
            child = node.left if smallest else node.right
            if child is nil:
                break
            if smallest:
                node.left_size -= 1  # the popped key leaves every left subtree on the way
            node = child
        self._unlink(path)
        return node.key

    def clear(self) -> None:
        """Remove every key (the nodes are freed at once: the tree holds no cycles)."""
        self._head.left = _NIL
        self._size = 0
        self._version += 1

    def _unlink(self, path: list[_Node]) -> None:
        """Splice out ``path[-1]`` (it has at most one child) and rebalance above it.

        The left sizes on the path are already decremented.
        """
        node = path.pop()
        child = node.left
        if child is _NIL:
            child = node.right
        parent = path[-1]
        if parent.left is node:
            parent.left = child
        else:
            parent.right = child
        self._size -= 1
        self._version += 1
        _rebalance(path)

    # --------------------------------------------------------------- positions (ranks)

    def rank(self, key: Any) -> int:
        """The number of keys strictly less than ``key``: a present key's 0-based position,
        an absent key's insertion position (``bisect_left``)."""
        nil = _NIL
        node = self._head.left
        rank = 0
        ks = _score_of(key)
        while node is not nil:
            ns = node.score
            if ns < ks or (not ns > ks and node.key < key):
                rank += node.left_size + 1
                node = node.right
            else:
                node = node.left
        return rank

    def rank_after(self, key: Any) -> int:
        """The number of keys less than or equal to ``key`` (``bisect_right``)."""
        nil = _NIL
        node = self._head.left
        rank = 0
        ks = _score_of(key)
        while node is not nil:
            ns = node.score
            if ks < ns or (not ks > ns and key < node.key):
                node = node.left
            else:
                rank += node.left_size + 1
                node = node.right
        return rank

    def select(self, index: int) -> Any:
        """The key at 0-based position ``index``; negative indexes count from the end."""
        return self._node_at(index).key

    def __getitem__(self, index: int) -> Any:
        return self._node_at(index).key

    def min(self) -> Any:
        """The smallest key; IndexError if empty."""
        return self._node_at(0).key

    def max(self) -> Any:
        """The largest key; IndexError if empty."""
        return self._node_at(-1).key

    def _node_at(self, index: int) -> _Node:
        size = self._size
        if index < 0:
            index += size
        if index < 0 or index >= size:
            raise IndexError("AvlTree index out of range")
        node = self._head.left
        while True:
            left_size = node.left_size
            if index < left_size:
                node = node.left
            elif index == left_size:
                return node
            else:
                index -= left_size + 1
                node = node.right

    # ------------------------------------------------------------------ ranges by key

    def _bounds(self, lo: Any, hi: Any, lo_inclusive: bool, hi_inclusive: bool) -> tuple[int, int]:
        """Positions [start, stop) of the keys between the bounds (None = unbounded)."""
        if lo is None:
            start = 0
        elif lo_inclusive:
            start = self.rank(lo)
        else:
            start = self.rank_after(lo)
        if hi is None:
            stop = self._size
        elif hi_inclusive:
            stop = self.rank_after(hi)
        else:
            stop = self.rank(hi)
        return start, stop

    def count_range(
        self,
        lo: Any = None,
        hi: Any = None,
        lo_inclusive: bool = True,
        hi_inclusive: bool = True,
    ) -> int:
        """How many keys lie between ``lo`` and ``hi`` (None = unbounded), in O(log n)."""
        start, stop = self._bounds(lo, hi, lo_inclusive, hi_inclusive)
        return stop - start if stop > start else 0

    def iter_range(
        self,
        lo: Any = None,
        hi: Any = None,
        lo_inclusive: bool = True,
        hi_inclusive: bool = True,
        reverse: bool = False,
        offset: int = 0,
    ) -> Iterator[Any]:
        """Iterate over the keys between ``lo`` and ``hi`` (None = unbounded).

        Ascending, or descending from ``hi`` with ``reverse``. ``offset`` skips that many keys
        from the starting end in O(log n) (ZRANGEBYSCORE ... LIMIT offset count). The bounds
        are resolved to positions when this is called, so the walk itself compares no keys.
        """
        start, stop = self._bounds(lo, hi, lo_inclusive, hi_inclusive)
        if offset > 0:
            if reverse:
                stop -= offset
            else:
                start += offset
        count = stop - start
        if count <= 0:
            return iter(())
        if reverse:
            return self._walk(stop - 1, count, True, self._version)
        return self._walk(start, count, False, self._version)

    def iter_from(self, index: int, reverse: bool = False) -> Iterator[Any]:
        """Iterate from position ``index`` (negative counts from the end) to the last key, or
        with ``reverse`` down to the first. An index past either end yields nothing."""
        size = self._size
        if index < 0:
            index += size
        if reverse:
            if index >= size:
                index = size - 1
            count = index + 1
        else:
            if index < 0:
                index = 0
            count = size - index
        if count <= 0 or index < 0 or index >= size:
            return iter(())
        return self._walk(index, count, reverse, self._version)

    def __iter__(self) -> Iterator[Any]:
        return self.iter_from(0)

    def __reversed__(self) -> Iterator[Any]:
        return self.iter_from(-1, reverse=True)

    def _walk(self, index: int, count: int, reverse: bool, version: int) -> Iterator[Any]:
        """Yield ``count`` keys from position ``index`` on, ascending (or descending).

        Keeps the pending ancestors on a stack (no parent pointers), so each step is O(1)
        amortised. Raises RuntimeError if the tree changed since the iterator was made.
        """
        nil = _NIL
        if self._version != version:
            raise RuntimeError("AvlTree changed during iteration")
        # Descend to the start, stacking the ancestors still to come: those where the
        # descent turned left (ascending) or right (descending).
        stack: list[_Node] = []
        node = self._head.left
        while True:
            left_size = node.left_size
            if index < left_size:
                if not reverse:
                    stack.append(node)
                node = node.left
            elif index == left_size:
                break
            else:
                if reverse:
                    stack.append(node)
                index -= left_size + 1
                node = node.right
        while True:
            yield node.key
            count -= 1
            if count <= 0:
                return
            if self._version != version:
                raise RuntimeError("AvlTree changed during iteration")
            if reverse:
                node = node.left
                if node is nil:
                    node = stack.pop()
                else:
                    while node.right is not nil:
                        stack.append(node)
                        node = node.right
            else:
                node = node.right
                if node is nil:
                    node = stack.pop()
                else:
                    while node.left is not nil:
                        stack.append(node)
                        node = node.left

    # --------------------------------------------------------------------- checking

    def check_invariants(self) -> None:
        """Raise AssertionError unless every structural invariant holds.

        For tests (and for callers' own model tests): every node's stored height and left
        subtree size and unboxed score are right, the tree's count is right, ``|balance| <= 1``,
        keys are strictly ascending in order, every
        node is reached once (no shared subtrees or cycles), and the shared sentinel is
        untouched. O(n), iterative.
        """
        nil = _NIL
        head = self._head
        if nil.left_size != 0 or nil.height != 0 or nil.left is not nil or nil.right is not nil:
            raise AssertionError("the sentinel node was modified")
        if nil.key is not None:
            raise AssertionError("the sentinel node was given a key")
        if head.right is not nil:
            raise AssertionError("the header node has a right child")
        root = head.left
        visited: set[int] = set()
        stack: list[_Node] = []
        order: list[_Node] = []  # in-order
        node = root
        while stack or node is not nil:
            while node is not nil:
                if id(node) in visited:
                    raise AssertionError(f"node {node.key!r} is reachable twice")
                visited.add(id(node))
                stack.append(node)
                node = node.left
            node = stack.pop()
            order.append(node)
            node = node.right
        for i in range(1, len(order)):
            if not (order[i - 1].key < order[i].key):
                raise AssertionError(f"keys out of order: {order[i - 1].key!r}, {order[i].key!r}")
        if len(order) != self._size:
            raise AssertionError(f"the tree counts {self._size} keys but holds {len(order)}")
        # Subtree sizes from the in-order positions: a subtree is a contiguous run of them.
        position = {id(node): i for i, node in enumerate(order)}
        first: dict[int, int] = {}  # id(node) -> in-order position of its subtree's first key
        for node in reversed(_preorder(root)):  # children before parents
            left = node.left
            right = node.right
            start = first[id(left)] if left is not nil else position[id(node)]
            first[id(node)] = start
            if node.left_size != position[id(node)] - start:
                raise AssertionError(f"stored left size of {node.key!r} is wrong")
            if node.height != max(left.height, right.height) + 1:
                raise AssertionError(f"stored height of {node.key!r} is wrong")
            if abs(left.height - right.height) > 1:
                raise AssertionError(f"node {node.key!r} is out of balance")
            expected = _score_of(node.key)
            if node.score != expected and not (node.score != node.score and expected != expected):
                raise AssertionError(f"stored score of {node.key!r} is not its key's")


def _preorder(root: _Node) -> list[_Node]:
    """The nodes of an acyclic subtree in pre-order (parents before children), iteratively."""
    nil = _NIL
    out: list[_Node] = []
    stack = [root] if root is not nil else []
    while stack:
        node = stack.pop()
        out.append(node)
        if node.right is not nil:
            stack.append(node.right)
        if node.left is not nil:
            stack.append(node.left)
    return out
