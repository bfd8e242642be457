"""The order-statistic AVL tree (magpie.structures.avl) against a sorted-list model.

Every test runs against the pure-Python source, and also against the mypyc-compiled module
when that is what ``import magpie.structures.avl`` loads. After each operation of the model
tests, ``check_invariants`` verifies |balance| <= 1, the stored heights and left-subtree
sizes, the key count, key order, that every node hangs in exactly one place, and the
untouched sentinel; the tests at the end show that it notices each kind of damage. (The tree
has no parent pointers: see avl.py.)
"""

from __future__ import annotations

import bisect
import gc
import importlib.util
import math
import random
import weakref
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import magpie.structures.avl as imported_avl

COMPILED = not imported_avl.__file__.endswith(".py")


def _load_pure_source() -> Any:
    path = Path(imported_avl.__file__).with_name("avl.py")
    spec = importlib.util.spec_from_file_location("magpie_avl_pure_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PURE = _load_pure_source() if COMPILED else imported_avl
MODULES = {"pure": PURE, **({"mypyc": imported_avl} if COMPILED else {})}


@pytest.fixture(params=list(MODULES), ids=list(MODULES))
def avl(request: pytest.FixtureRequest) -> Any:
    return MODULES[request.param]


# --------------------------------------------------------------------------- helpers


def shape(tree: Any) -> Any:
    """The tree as nested ``(key, left, right)`` tuples (None for empty), built iteratively."""
    head = tree._head
    nil = head.right  # the header never has a right child: this is the sentinel
    root = head.left
    if root is nil:
        return None
    built: dict[int, Any] = {}
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            left = built.pop(id(node.left), None) if node.left is not nil else None
            right = built.pop(id(node.right), None) if node.right is not nil else None
            built[id(node)] = (node.key, left, right)
            continue
        stack.append((node, True))
        for child in (node.left, node.right):
            if child is not nil:
                stack.append((child, False))
    return built[id(root)]


def build(avl: Any, nested: Any) -> Any:
    """An AvlTree with exactly the given ``(key, left, right)`` shape, heights and sizes set
    from the shape (so a test can start from a shape insertion order cannot produce)."""
    tree = avl.AvlTree()
    nil = avl._NIL
    head = tree._head
    order: list[tuple[Any, Any]] = []  # (node, nested) in pre-order
    root = avl._Node(nested[0], nil)
    head.left = root
    stack = [(root, nested)]
    while stack:
        node, spec = stack.pop()
        order.append((node, spec))
        _, left, right = spec
        if left is not None:
            node.left = avl._Node(left[0], nil)
            stack.append((node.left, left))
        if right is not None:
            node.right = avl._Node(right[0], nil)
            stack.append((node.right, right))
    sizes = {id(nil): 0}
    for node, _ in reversed(order):  # children before parents
        node.height = max(node.left.height, node.right.height) + 1
        node.left_size = sizes[id(node.left)]
        sizes[id(node)] = node.left_size + sizes[id(node.right)] + 1
    tree._size = sizes[id(root)]
    return tree


def leaf(key: Any) -> Any:
    return (key, None, None)


def height(tree: Any) -> int:
    return tree._head.left.height


def assert_matches(tree: Any, model: list[Any]) -> None:
    tree.check_invariants()
    assert len(tree) == len(model)
    assert list(tree) == model


# -------------------------------------------------------------- rotations on insert


def test_insert_left_left_rotates_right(avl: Any) -> None:
    tree = avl.AvlTree([3, 2, 1])
    assert shape(tree) == (2, leaf(1), leaf(3))
    tree.check_invariants()


def test_insert_right_right_rotates_left(avl: Any) -> None:
    tree = avl.AvlTree([1, 2, 3])
    assert shape(tree) == (2, leaf(1), leaf(3))
    tree.check_invariants()


def test_insert_left_right_rotates_twice(avl: Any) -> None:
    tree = avl.AvlTree([3, 1, 2])
    assert shape(tree) == (2, leaf(1), leaf(3))
    tree.check_invariants()


def test_insert_right_left_rotates_twice(avl: Any) -> None:
    tree = avl.AvlTree([1, 3, 2])
    assert shape(tree) == (2, leaf(1), leaf(3))
    tree.check_invariants()


def test_insert_rotation_below_the_root_keeps_the_root(avl: Any) -> None:
    tree = avl.AvlTree([5, 3, 8, 2, 1])  # LL at node 3
    assert shape(tree) == (5, (2, leaf(1), leaf(3)), leaf(8))
    tree.check_invariants()


def test_insert_stops_rebalancing_after_one_rotation(avl: Any) -> None:
    tree = avl.AvlTree([8, 4, 12, 2, 6, 10, 14, 1, 3, 5, 7, 9, 11, 13, 15, 16, 17])
    # 17 unbalances 15 (RR); after one left rotation the subtree height is what it was
    assert shape(tree)[2] == (12, (10, leaf(9), leaf(11)), (14, leaf(13), (16, leaf(15), leaf(17))))
    tree.check_invariants()


# -------------------------------------------------------------- rotations on delete


def test_delete_left_left_rotates_right(avl: Any) -> None:
    tree = avl.AvlTree([3, 2, 4, 1])
    assert shape(tree) == (3, (2, leaf(1), None), leaf(4))
    assert tree.delete(4)
    assert shape(tree) == (2, leaf(1), leaf(3))
    tree.check_invariants()


def test_delete_right_right_rotates_left(avl: Any) -> None:
    tree = avl.AvlTree([2, 1, 3, 4])
    assert shape(tree) == (2, leaf(1), (3, None, leaf(4)))
    assert tree.delete(1)
    assert shape(tree) == (3, leaf(2), leaf(4))
    tree.check_invariants()


def test_delete_left_right_rotates_twice(avl: Any) -> None:
    tree = avl.AvlTree([3, 1, 4, 2])
    assert shape(tree) == (3, (1, None, leaf(2)), leaf(4))
    assert tree.delete(4)
    assert shape(tree) == (2, leaf(1), leaf(3))
    tree.check_invariants()


def test_delete_right_left_rotates_twice(avl: Any) -> None:
    tree = avl.AvlTree([2, 1, 4, 3])
    assert shape(tree) == (2, leaf(1), (4, leaf(3), None))
    assert tree.delete(1)
    assert shape(tree) == (3, leaf(2), leaf(4))
    tree.check_invariants()


def test_delete_with_balanced_left_sibling_rotates_once(avl: Any) -> None:
    # Only a delete can leave the heavy child balanced; a single rotation is then correct
    # and the subtree keeps its height.
    tree = avl.AvlTree([4, 2, 6, 1, 3])
    assert tree.delete(6)
    assert shape(tree) == (2, leaf(1), (4, leaf(3), None))
    tree.check_invariants()


def test_delete_with_balanced_right_sibling_rotates_once(avl: Any) -> None:
    tree = avl.AvlTree([2, 1, 4, 3, 5])
    assert tree.delete(1)
    assert shape(tree) == (4, (2, None, leaf(3)), leaf(5))
    tree.check_invariants()


def test_delete_of_a_node_with_two_children_takes_its_successor(avl: Any) -> None:
    tree = avl.AvlTree([4, 2, 6, 1, 3, 5, 7])
    assert tree.delete(4)
    assert shape(tree) == (5, (2, leaf(1), leaf(3)), (6, None, leaf(7)))
    tree.check_invariants()


def test_delete_rotates_at_every_level_of_a_fibonacci_tree(avl: Any) -> None:
    # A minimal AVL tree of height 5 (every inner node leans left). Deleting the right-most
    # leaf unbalances its grandparent (one rotation, subtree one shorter), which then
    # unbalances the root (a second rotation).
    f2 = lambda k: (k + 1, leaf(k), None)  # noqa: E731 - keys k..k+1
    f3 = lambda k: (k + 2, f2(k), leaf(k + 3))  # noqa: E731 - keys k..k+3
    f4 = lambda k: (k + 4, f3(k), f2(k + 5))  # noqa: E731 - keys k..k+6
    f5 = (7, f4(0), f3(8))  # keys 0..11
    tree = build(avl, f5)
    tree.check_invariants()
    assert height(tree) == 5
    assert tree.delete(11)
    tree.check_invariants()
    assert shape(tree) == (
        4,
        f3(0),
        (7, f2(5), (9, leaf(8), leaf(10))),
    )
    assert height(tree) == 4


def test_pop_min_and_pop_max_rebalance(avl: Any) -> None:
    tree = avl.AvlTree([2, 1, 3, 4])
    assert tree.pop_min() == 1
    assert shape(tree) == (3, leaf(2), leaf(4))
    tree = avl.AvlTree([3, 2, 4, 1])
    assert tree.pop_max() == 4
    assert shape(tree) == (2, leaf(1), leaf(3))
    tree.check_invariants()


# ------------------------------------------------------------------ explicit behaviour


def test_insert_and_delete_report_whether_anything_changed(avl: Any) -> None:
    tree = avl.AvlTree()
    assert tree.insert(5) is True
    assert tree.insert(5) is False
    assert len(tree) == 1
    assert tree.delete(7) is False
    assert tree.delete(5) is True
    assert tree.delete(5) is False
    assert len(tree) == 0 and not tree
    tree.check_invariants()


def test_failed_insert_and_delete_leave_sizes_untouched(avl: Any) -> None:
    tree = avl.AvlTree(range(0, 200, 2))
    for key in range(0, 200, 2):
        assert not tree.insert(key)
    for key in range(1, 200, 2):
        assert not tree.delete(key)
    assert_matches(tree, list(range(0, 200, 2)))


def test_sorted_input_stays_logarithmic(avl: Any) -> None:
    n = 5000
    tree = avl.AvlTree(range(n))
    tree.check_invariants()
    assert height(tree) <= 1.4405 * math.log2(n + 2)
    for key in range(0, n, 2):
        tree.delete(key)
    assert_matches(tree, list(range(1, n, 2)))


def test_rank_select_and_bisect_agree_with_positions(avl: Any) -> None:
    keys = list(range(0, 100, 10))
    tree = avl.AvlTree(reversed(keys))
    for index, key in enumerate(keys):
        assert tree.rank(key) == index
        assert tree.rank_after(key) == index + 1
        assert tree.select(index) == key == tree[index]
        assert tree.select(index - len(keys)) == key
        assert tree.rank(key + 1) == index + 1
    with pytest.raises(IndexError):
        tree.select(len(keys))
    with pytest.raises(IndexError):
        tree.select(-len(keys) - 1)


def test_empty_tree_answers_and_raises(avl: Any) -> None:
    tree = avl.AvlTree()
    assert list(tree) == [] and list(reversed(tree)) == []
    assert tree.rank(1) == 0 and tree.count_range(0, 10) == 0
    assert list(tree.iter_range(0, 10)) == [] and list(tree.iter_from(0)) == []
    assert 1 not in tree
    for empty_op in (tree.min, tree.max, tree.pop_min, tree.pop_max):
        with pytest.raises(IndexError):
            empty_op()


def test_clear_empties_the_tree(avl: Any) -> None:
    tree = avl.AvlTree(range(100))
    tree.clear()
    assert_matches(tree, [])
    tree.insert(3)
    assert_matches(tree, [3])


def test_score_member_tuples_order_by_score_then_member(avl: Any) -> None:
    keys = [(1.5, b"b"), (1.5, b"a"), (-math.inf, b"z"), (math.inf, b""), (0.0, b"m")]
    tree = avl.AvlTree(keys)
    assert list(tree) == sorted(keys)
    # every member with score in [1.5, 1.5]: bound tuples shorter than the keys
    assert list(tree.iter_range((1.5,), (math.nextafter(1.5, math.inf),), hi_inclusive=False)) == [
        (1.5, b"a"),
        (1.5, b"b"),
    ]
    assert tree.rank((1.5, b"b")) == 3


class LessOnly:
    """A key that supports only ``<``: the tree must never need ``==`` or ``>``."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def __lt__(self, other: LessOnly) -> bool:
        return self.value < other.value

    def __eq__(self, other: object) -> bool:
        raise AssertionError("the tree compared keys with ==")

    def __gt__(self, other: object) -> bool:
        raise AssertionError("the tree compared keys with >")

    __hash__ = None  # type: ignore[assignment]


def test_keys_are_compared_with_less_than_only(avl: Any) -> None:
    rng = random.Random(7)
    values = [rng.randrange(50) for _ in range(300)]
    tree = avl.AvlTree()
    model: set[int] = set()
    for value in values:
        assert tree.insert(LessOnly(value)) == (value not in model)
        model.add(value)
    for value in values[::3]:
        assert tree.delete(LessOnly(value)) == (value in model)
        model.discard(value)
        assert (LessOnly(value) in tree) is False
    tree.check_invariants()
    assert [key.value for key in tree] == sorted(model)
    assert tree.rank(LessOnly(25)) == sum(v < 25 for v in model)


class Member:
    """A key that can be weakly referenced, to see when the tree lets go of it."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __lt__(self, other: Member) -> bool:
        return self.value < other.value


def test_removed_nodes_are_freed_without_the_cyclic_collector(avl: Any) -> None:
    # The tree must hold no reference cycles: a deleted sorted set's memory comes back at
    # once, and stays collectable after gc.freeze().
    keys = [Member(i) for i in range(200)]
    refs = [weakref.ref(key) for key in keys]
    tree = avl.AvlTree(keys)
    del keys
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for value in range(0, 200, 2):
            tree.delete(Member(value))
        tree.pop_min()
        tree.pop_max()
        alive = [ref() is not None for ref in refs]
        assert alive == [value % 2 == 1 and value not in (1, 199) for value in range(200)]
        tree.clear()
        assert all(ref() is None for ref in refs)
    finally:
        if was_enabled:
            gc.enable()


@pytest.mark.skipif(not COMPILED, reason="only the mypyc build can untrack nodes")
def test_compiled_nodes_are_not_tracked_by_the_cyclic_collector() -> None:
    tree = imported_avl.AvlTree(range(10))
    assert not gc.is_tracked(tree._head)
    assert not gc.is_tracked(tree._head.left)
    assert not gc.is_tracked(imported_avl._NIL)


def test_changing_the_tree_breaks_running_iterators(avl: Any) -> None:
    tree = avl.AvlTree(range(10))
    walk = iter(tree)
    assert next(walk) == 0
    tree.insert(20)
    with pytest.raises(RuntimeError):
        next(walk)
    walk = tree.iter_range(2, 8, reverse=True)
    assert next(walk) == 8
    tree.delete(100)  # no change: the iterator survives
    tree.insert(5)  # no change either
    assert next(walk) == 7


def test_iter_range_offset_skips_from_the_starting_end(avl: Any) -> None:
    tree = avl.AvlTree(range(10))
    assert list(tree.iter_range(2, 8, offset=3)) == [5, 6, 7, 8]
    assert list(tree.iter_range(2, 8, reverse=True, offset=3)) == [5, 4, 3, 2]
    assert list(tree.iter_range(2, 8, offset=7)) == []


# ------------------------------------------------------------------- model-based tests

KEYS = st.integers(min_value=0, max_value=40)
BOUND = st.one_of(st.none(), st.integers(min_value=-2, max_value=42))


def model_range(
    model: list[int], lo: int | None, hi: int | None, lo_inclusive: bool, hi_inclusive: bool
) -> list[int]:
    def inside(key: int) -> bool:
        if lo is not None and (key < lo if lo_inclusive else key <= lo):
            return False
        return not (hi is not None and (key > hi if hi_inclusive else key >= hi))

    return [key for key in model if inside(key)]


class AvlAgainstSortedList(RuleBasedStateMachine):
    """Random operation sequences on the tree and on a sorted list, compared after each."""

    module: Any = PURE

    def __init__(self) -> None:
        super().__init__()
        self.tree = self.module.AvlTree()
        self.model: list[int] = []

    @rule(key=KEYS)
    def insert(self, key: int) -> None:
        expected = key not in self.model
        if expected:
            bisect.insort(self.model, key)
        assert self.tree.insert(key) is expected

    @rule(key=KEYS)
    def delete(self, key: int) -> None:
        expected = key in self.model
        if expected:
            self.model.remove(key)
        assert self.tree.delete(key) is expected

    @rule(keys=st.lists(KEYS, max_size=30))
    def insert_many(self, keys: list[int]) -> None:
        for key in keys:
            self.insert(key)

    @rule()
    def pop_min(self) -> None:
        if not self.model:
            with pytest.raises(IndexError):
                self.tree.pop_min()
        else:
            assert self.tree.pop_min() == self.model.pop(0)

    @rule()
    def pop_max(self) -> None:
        if not self.model:
            with pytest.raises(IndexError):
                self.tree.pop_max()
        else:
            assert self.tree.pop_max() == self.model.pop()

    @precondition(lambda self: len(self.model) > 20)
    @rule()
    def clear(self) -> None:
        self.tree.clear()
        self.model.clear()

    @rule(key=st.integers(min_value=-2, max_value=42))
    def rank_and_membership(self, key: int) -> None:
        assert self.tree.rank(key) == bisect.bisect_left(self.model, key)
        assert self.tree.rank_after(key) == bisect.bisect_right(self.model, key)
        assert (key in self.tree) == (key in self.model)

    @rule(data=st.data())
    def select(self, data: st.DataObject) -> None:
        n = len(self.model)
        index = data.draw(st.integers(min_value=-n - 2, max_value=n + 2))
        if -n <= index < n:
            assert self.tree.select(index) == self.model[index]
        else:
            with pytest.raises(IndexError):
                self.tree.select(index)

    @rule()
    def min_and_max(self) -> None:
        if self.model:
            assert self.tree.min() == self.model[0]
            assert self.tree.max() == self.model[-1]

    @rule(
        lo=BOUND,
        hi=BOUND,
        lo_inclusive=st.booleans(),
        hi_inclusive=st.booleans(),
        reverse=st.booleans(),
        offset=st.integers(min_value=0, max_value=5),
    )
    def key_range(
        self,
        lo: int | None,
        hi: int | None,
        lo_inclusive: bool,
        hi_inclusive: bool,
        reverse: bool,
        offset: int,
    ) -> None:
        expected = model_range(self.model, lo, hi, lo_inclusive, hi_inclusive)
        assert self.tree.count_range(lo, hi, lo_inclusive, hi_inclusive) == len(expected)
        if reverse:
            expected.reverse()
        got = self.tree.iter_range(
            lo, hi, lo_inclusive, hi_inclusive, reverse=reverse, offset=offset
        )
        assert list(got) == expected[offset:]

    @rule(data=st.data(), reverse=st.booleans())
    def iterate_from_position(self, data: st.DataObject, reverse: bool) -> None:
        n = len(self.model)
        index = data.draw(st.integers(min_value=-n - 2, max_value=n + 2))
        if reverse:
            if index < -n:
                expected: list[int] = []
            else:
                expected = self.model[: min(index if index >= 0 else n + index, n - 1) + 1][::-1]
        else:
            expected = self.model[max(index, -n) :] if index < n else []
        assert list(self.tree.iter_from(index, reverse=reverse)) == expected

    @invariant()
    def structure_and_contents(self) -> None:
        self.tree.check_invariants()
        assert len(self.tree) == len(self.model)
        assert list(self.tree) == self.model
        assert list(reversed(self.tree)) == self.model[::-1]


AvlAgainstSortedList.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None
)
TestPureAvlAgainstSortedList = AvlAgainstSortedList.TestCase


class CompiledAvlAgainstSortedList(AvlAgainstSortedList):
    module = imported_avl


CompiledAvlAgainstSortedList.TestCase.settings = AvlAgainstSortedList.TestCase.settings
TestCompiledAvlAgainstSortedList = pytest.mark.skipif(
    not COMPILED, reason="magpie.structures.avl is not compiled (pure source only)"
)(CompiledAvlAgainstSortedList.TestCase)


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.booleans(),
            st.one_of(  # many ties; -0.0 == 0.0 and the infinities, which unboxed scores meet
                st.floats(allow_nan=False, min_value=-3, max_value=3).map(lambda f: round(f, 1)),
                st.sampled_from([-0.0, 0.0, math.inf, -math.inf]),
            ),
            st.binary(max_size=2),
        ),
        max_size=300,
    )
)
def test_score_member_keys_against_a_model(ops: list[tuple[bool, float, bytes]]) -> None:
    for module in MODULES.values():
        tree = module.AvlTree()
        model: set[tuple[float, bytes]] = set()
        for is_insert, score, member in ops:
            key = (score, member)
            if is_insert:
                assert tree.insert(key) == (key not in model)
                model.add(key)
            else:
                assert tree.delete(key) == (key in model)
                model.discard(key)
        assert_matches(tree, sorted(model))
        ordered = sorted(model)
        for key in ordered[:20]:
            assert tree.rank(key) == ordered.index(key)
            assert tree.rank_after(key) == ordered.index(key) + 1
        for lo_score, hi_score in [(-1.0, 1.0), (0.0, 0.0), (2.5, -2.5)]:
            # scores in [lo, hi]: (lo,) sorts before every (lo, member), (nextafter(hi),) after
            expected = [k for k in ordered if lo_score <= k[0] <= hi_score]
            lo, hi = (lo_score,), (math.nextafter(hi_score, math.inf),)
            assert list(tree.iter_range(lo, hi, hi_inclusive=False)) == expected
            assert tree.count_range(lo, hi, hi_inclusive=False) == len(expected)


# -------------------------------------------------------- the checker catches damage


def _balanced_seven(avl: Any) -> Any:
    return build(avl, (4, (2, leaf(1), leaf(3)), (6, leaf(5), leaf(7))))


def test_checker_accepts_a_correct_tree(avl: Any) -> None:
    _balanced_seven(avl).check_invariants()


def test_checker_notices_a_wrong_height(avl: Any) -> None:
    tree = _balanced_seven(avl)
    tree._head.left.left.height = 3
    with pytest.raises(AssertionError, match="height"):
        tree.check_invariants()


def test_checker_notices_a_wrong_left_size(avl: Any) -> None:
    tree = _balanced_seven(avl)
    tree._head.left.right.left_size = 2
    with pytest.raises(AssertionError, match="left size"):
        tree.check_invariants()


def test_checker_notices_a_wrong_count(avl: Any) -> None:
    tree = _balanced_seven(avl)
    tree._size = 8
    with pytest.raises(AssertionError, match="counts"):
        tree.check_invariants()


def test_checker_notices_a_subtree_hung_in_two_places(avl: Any) -> None:
    tree = _balanced_seven(avl)
    root = tree._head.left
    root.right.left = root.left.right  # heights still add up
    with pytest.raises(AssertionError, match="twice"):
        tree.check_invariants()


def test_checker_notices_a_cycle(avl: Any) -> None:
    tree = _balanced_seven(avl)
    root = tree._head.left
    root.left.left.left = root.left  # a child pointing back up: must not loop forever
    with pytest.raises(AssertionError):
        tree.check_invariants()


def test_checker_notices_keys_out_of_order(avl: Any) -> None:
    tree = _balanced_seven(avl)
    tree._head.left.left.right.key = 9
    with pytest.raises(AssertionError, match="order"):
        tree.check_invariants()


def test_checker_notices_an_unbalanced_node(avl: Any) -> None:
    tree = build(avl, (3, (2, leaf(1), None), None))  # heights and sizes consistent
    with pytest.raises(AssertionError, match="balance"):
        tree.check_invariants()


def test_checker_notices_a_touched_sentinel(avl: Any) -> None:
    tree = _balanced_seven(avl)
    nil = avl._NIL
    nil.key = 1
    try:
        with pytest.raises(AssertionError, match="sentinel"):
            tree.check_invariants()
    finally:
        nil.key = None
