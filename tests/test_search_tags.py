"""TAG field indexes (magpie.search.tags): RediSearch's splitting rules, matching, removal,
and a model check under random add/remove sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magpie.search.tags import MAX_TAG_LEN, TagIndex, split_tags

# ------------------------------------------------------------------------------- splitting


def test_split_trims_blanks_and_lowercases() -> None:
    assert split_tags(b" Sci-Fi ,Drama,  COMEDY ") == ["sci-fi", "drama", "comedy"]


def test_split_trims_every_c_space_but_not_other_unicode_spaces() -> None:
    assert split_tags(b"\t\n\v\f\r a \r\n,b") == ["a", "b"]
    assert split_tags("\u00a0x\u00a0".encode()) == ["\u00a0x\u00a0"]


def test_inner_blanks_are_part_of_the_tag() -> None:
    assert split_tags(b"new york , los  angeles") == ["new york", "los  angeles"]


def test_empty_tags_are_dropped() -> None:
    assert split_tags(b",,a,, ,b,") == ["a", "b"]
    assert split_tags(b"") == []
    assert split_tags(b"  , \t ,") == []


def test_custom_separator_makes_commas_ordinary() -> None:
    assert split_tags(b"a,b;c", separator=";") == ["a,b", "c"]


def test_case_sensitive_keeps_case() -> None:
    assert split_tags(b"Foo,foo", case_sensitive=True) == ["Foo", "foo"]
    assert split_tags(b"Foo,foo") == ["foo"]


def test_backslash_is_an_ordinary_character_in_documents() -> None:
    assert split_tags(b"a\\,b") == ["a\\", "b"]


def test_value_ends_at_nul_byte_like_a_c_string() -> None:
    assert split_tags(b"a,b\x00,c") == ["a", "b"]


def test_duplicate_tags_in_one_value_count_once() -> None:
    assert split_tags(b"x,X,x") == ["x"]


def test_unicode_tags_are_lowercased() -> None:
    assert split_tags("ÉCOLE,Straße".encode()) == ["école", "straße"]


def test_long_tags_are_cut_to_4096_bytes() -> None:
    (tag,) = split_tags(b"a" * (MAX_TAG_LEN + 100))
    assert tag == "a" * MAX_TAG_LEN
    (wide,) = split_tags(("é" * 3000).encode())
    assert len(wide.encode("utf-8", "surrogateescape")) == MAX_TAG_LEN


def test_separator_must_be_one_character() -> None:
    with pytest.raises(ValueError):
        TagIndex(separator=",;")


# -------------------------------------------------------------------------------- matching


@pytest.fixture
def genres() -> TagIndex:
    index = TagIndex()
    index.add(1, b"scifi,drama")
    index.add(2, b"Drama")
    index.add(3, b"comedy, romantic comedy")
    index.add(4, b"documentary")
    return index


def test_exact_match_folds_the_query_case(genres: TagIndex) -> None:
    assert genres.match("drama") == {1, 2}
    assert genres.match("DRAMA") == {1, 2}
    assert genres.match("romantic comedy") == {3}
    assert genres.match("horror") == set()


def test_case_sensitive_index_matches_case_exactly() -> None:
    index = TagIndex(case_sensitive=True)
    index.add(1, b"Foo")
    index.add(2, b"foo")
    assert index.match("Foo") == {1}
    assert index.match("FOO") == set()


def test_prefix_suffix_and_infix(genres: TagIndex) -> None:
    assert genres.match("d", "prefix") == {1, 2, 4}
    assert genres.match("Com", "prefix") == {3}
    assert genres.match("dy", "suffix") == {3}
    assert genres.match("ama", "suffix") == {1, 2}
    assert genres.match("me", "infix") == {3, 4}
    assert genres.match("zz", "prefix") == set()
    assert genres.match("", "prefix") == {1, 2, 3, 4}


def test_expand_lists_matching_tags_and_honours_the_cap(genres: TagIndex) -> None:
    assert genres.expand("d", "prefix") == ["documentary", "drama"]
    assert genres.expand("d", "prefix", max_expansions=1) == ["documentary"]
    assert genres.expand("y", "suffix") == ["comedy", "romantic comedy", "documentary"]
    assert genres.match("o", "infix", max_expansions=0) == set()


def test_unknown_match_kind_is_an_error(genres: TagIndex) -> None:
    with pytest.raises(ValueError):
        genres.match("x", "fuzzy")  # type: ignore[arg-type]


def test_match_returns_a_copy(genres: TagIndex) -> None:
    genres.match("drama").clear()
    assert genres.match("drama") == {1, 2}


def test_values_are_sorted_distinct_tags(genres: TagIndex) -> None:
    assert genres.values() == ["comedy", "documentary", "drama", "romantic comedy", "scifi"]
    assert genres.num_values == 5
    assert genres.num_docs == len(genres) == 4
    assert genres.num_records == 6


def test_non_utf8_tags_round_trip_through_values() -> None:
    index = TagIndex()
    index.add(1, b"\xff\xfe,ok")
    raw = sorted(v.encode("utf-8", "surrogateescape") for v in index.values())
    assert raw == [b"ok", b"\xff\xfe"]
    assert index.match(b"\xff\xfe".decode("utf-8", "surrogateescape")) == {1}


# ---------------------------------------------------------------------------- changes


def test_remove_forgets_document_and_unused_tags(genres: TagIndex) -> None:
    genres.remove(1)
    assert genres.match("drama") == {2}
    assert "scifi" not in genres.values()
    assert genres.match("sc", "prefix") == set()
    assert 1 not in genres
    genres.remove(1)  # unknown: ignored
    genres.remove(99)


def test_add_again_replaces_the_documents_tags(genres: TagIndex) -> None:
    genres.add(2, b"horror")
    assert genres.match("drama") == {1}
    assert genres.tags_of(2) == ("horror",)


def test_value_without_tags_indexes_nothing(genres: TagIndex) -> None:
    genres.add(9, b" , ")
    assert 9 not in genres
    assert genres.tags_of(9) == ()


def test_suffix_cache_follows_changes() -> None:
    index = TagIndex()
    index.add(1, b"red")
    assert index.match("ed", "suffix") == {1}
    index.add(2, b"bed")
    assert index.match("ed", "suffix") == {1, 2}
    index.remove(1)
    assert index.match("ed", "suffix") == {2}


def test_clear_empties_everything(genres: TagIndex) -> None:
    genres.clear()
    assert len(genres) == 0 and genres.values() == [] and genres.match("d", "prefix") == set()


# ------------------------------------------------------------------------- model check

_TAG_WORDS = st.sampled_from(["a", "ab", "abc", "B", "ba", "bcd", "x y", "Éa", "é"])
_VALUES = st.lists(_TAG_WORDS, max_size=4).map(lambda tags: ",".join(tags).encode())
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 8), _VALUES),
        st.tuples(st.just("remove"), st.integers(0, 8), st.just(b"")),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(_OPS, st.sampled_from(["", "a", "b", "é", "bc", "x", "y"]))
def test_tag_index_agrees_with_a_dict_model(ops: list[tuple[str, int, bytes]], probe: str) -> None:
    index = TagIndex()
    model: dict[int, set[str]] = {}
    for op, doc_id, raw in ops:
        if op == "add":
            tags = {t.strip().lower() for t in raw.decode().split(",") if t.strip()}
            index.add(doc_id, raw)
            if tags:
                model[doc_id] = tags
            else:
                model.pop(doc_id, None)
        else:
            index.remove(doc_id)
            model.pop(doc_id, None)
    distinct = set().union(*model.values()) if model else set()
    assert index.values() == sorted(distinct)
    assert len(index) == len(model)
    checks = {
        "exact": lambda t: t == probe,
        "prefix": lambda t: t.startswith(probe),
        "suffix": lambda t: t.endswith(probe),
        "infix": lambda t: probe in t,
    }
    for kind, accept in checks.items():
        expected = {d for d, tags in model.items() if any(accept(t) for t in tags)}
        assert index.match(probe, kind) == expected, kind  # type: ignore[arg-type]
