"""NUMERIC field indexes (magpie.search.numeric): what a hash value must look like, ranges
with every combination of bounds, sorted iteration, and a model check."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magpie.search.numeric import NumericIndex, parse_numeric

INF = math.inf

# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"0", 0.0),
        (b"42", 42.0),
        (b"-1.5", -1.5),
        (b"+5", 5.0),
        (b".5", 0.5),
        (b"5.", 5.0),
        (b"1e3", 1000.0),
        (b"1E-3", 0.001),
        (b"0x10", 16.0),
        (b"inf", INF),
        (b"-inf", -INF),
        (b"+Infinity", INF),
        (b"4.9e-324", 5e-324),  # a denormal: ERANGE, but not zero, so accepted
    ],
)
def test_accepted_values(raw: bytes, value: float) -> None:
    assert parse_numeric(raw) == value


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b" 1",
        b"1 ",
        b"\t1",
        b"abc",
        b"1abc",
        b"1,5",
        b"1_000",
        b"nan",
        b"-nan",
        b"1e400",
        b"-1e400",
        b"1e-400",
        b"1\x002",
        b"--1",
        b"0x",
    ],
)
def test_refused_values(raw: bytes) -> None:
    assert parse_numeric(raw) is None


# ------------------------------------------------------------------------------ ranges


@pytest.fixture
def years() -> NumericIndex:
    index = NumericIndex()
    for doc_id, value in enumerate([1990, 1995, 1995, 2000, 2005, -INF, INF], start=1):
        index.add(doc_id, value)
    return index


@pytest.mark.parametrize(
    ("low_inc", "high_inc", "expected"),
    [
        (True, True, {2, 3, 4, 5}),
        (True, False, {2, 3, 4}),
        (False, True, {4, 5}),
        (False, False, {4}),
    ],
)
def test_every_bound_combination(
    years: NumericIndex, low_inc: bool, high_inc: bool, expected: set[int]
) -> None:
    assert years.range(1995, 2005, low_inc, high_inc) == expected
    assert years.count_range(1995, 2005, low_inc, high_inc) == len(expected)


def test_infinite_bounds_include_infinite_values(years: NumericIndex) -> None:
    assert years.range(-INF, INF) == set(range(1, 8))
    assert years.range(2000, INF) == {4, 5, 7}
    assert years.range(2000, INF, True, False) == {4, 5}
    assert years.range(-INF, 1990, False, True) == {1}
    assert years.range(INF, INF) == {7}
    assert years.range() == set(range(1, 8))


def test_single_point_and_empty_ranges(years: NumericIndex) -> None:
    assert years.range(1995, 1995) == {2, 3}
    assert years.range(1995, 1995, False, True) == set()
    assert years.range(2001, 2004) == set()
    assert years.range(2005, 1990) == set()
    assert years.count_range(2005, 1990) == 0
    assert years.range(math.nan, INF) == set()
    assert years.count_range(0, math.nan) == 0


def test_equal_values_are_ordered_by_doc_id(years: NumericIndex) -> None:
    assert list(years.iter_range(1995, 1995)) == [(1995, 2), (1995, 3)]
    assert list(years.iter_range(1995, 1995, reverse=True)) == [(1995, 3), (1995, 2)]


def test_sorted_iteration_both_ways(years: NumericIndex) -> None:
    ascending = [doc_id for _, doc_id in years.iter_sorted()]
    assert ascending == [6, 1, 2, 3, 4, 5, 7]
    assert [doc_id for _, doc_id in years.iter_sorted(reverse=True)] == ascending[::-1]
    assert [d for _, d in years.iter_range(1990, 2005, offset=2)] == [3, 4, 5]
    assert years.min() == -INF and years.max() == INF


def test_remove_and_replace(years: NumericIndex) -> None:
    years.remove(2)
    assert years.range(1995, 1995) == {3}
    years.add(3, 2005)  # a new value replaces the old one
    assert years.range(1995, 1995) == set()
    assert years.range(2005, 2005) == {3, 5}
    assert years.value(3) == 2005
    years.remove(2)  # unknown: ignored
    assert len(years) == years.num_docs == 6
    assert 2 not in years and 3 in years


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError):
        NumericIndex().add(1, math.nan)


def test_empty_index() -> None:
    index = NumericIndex()
    assert index.range() == set()
    assert index.min() is None and index.max() is None
    assert list(index.iter_sorted()) == []


# ------------------------------------------------------------------------- model check

_VALUES = st.sampled_from([-INF, -2.5, -1.0, 0.0, 1.0, 1.0, 2.5, 3.0, INF])
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 10), _VALUES),
        st.tuples(st.just("remove"), st.integers(0, 10), st.just(0.0)),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(_OPS, _VALUES, _VALUES)
def test_numeric_index_agrees_with_a_dict_model(
    ops: list[tuple[str, int, float]], low: float, high: float
) -> None:
    index = NumericIndex()
    model: dict[int, float] = {}
    for op, doc_id, value in ops:
        if op == "add":
            index.add(doc_id, value)
            model[doc_id] = value
        else:
            index.remove(doc_id)
            model.pop(doc_id, None)
    assert list(index.iter_sorted()) == sorted((v, d) for d, v in model.items())
    for low_inc, high_inc in itertools.product((True, False), repeat=2):
        expected = {
            d
            for d, v in model.items()
            if (v >= low if low_inc else v > low) and (v <= high if high_inc else v < high)
        }
        assert index.range(low, high, low_inc, high_inc) == expected
        assert index.count_range(low, high, low_inc, high_inc) == len(expected)
