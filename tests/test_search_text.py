"""TEXT fields (magpie.search.text): RediSearch's tokenizer, stems, term/prefix/phrase
queries, removal, and the TFIDF scorer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magpie.search.stemmer import stem
from magpie.search.stopwords import StopWords
from magpie.search.text import SEPARATORS, TextIndex, expand_word, tokenize

# ---------------------------------------------------------------------------- tokenizer


def test_tokens_are_lowercased_and_split_on_punctuation() -> None:
    assert tokenize("Hello, World! foo_bar 42") == ["hello", "world", "foo_bar", "42"]


def test_every_redisearch_separator_splits() -> None:
    assert len(SEPARATORS) == 32
    for sep in SEPARATORS:
        assert tokenize(f"left{sep}right") == ["left", "right"], repr(sep)


def test_backslash_escapes_a_separator() -> None:
    assert tokenize(r"hello\-world hello-world") == ["hello-world", "hello", "world"]
    assert tokenize(r"new\ york") == ["new york"]
    assert tokenize("a\\\\,b") == ["a\\", "b"]  # an escaped backslash, then a separator
    assert tokenize("abc\\") == ["abc"]


def test_newlines_and_control_characters_join_words_as_in_redisearch() -> None:
    assert tokenize("foo\nbar baz") == ["foobar", "baz"]
    assert tokenize("foo\r\nbar\x01") == ["foobar"]
    assert tokenize("a\\-b\nc") == ["a-bc"]
    assert tokenize("tab\tseparates") == ["tab", "separates"]


def test_default_stopwords_are_dropped_unless_disabled() -> None:
    assert tokenize("The cat and the hat") == ["cat", "hat"]
    assert tokenize("The cat and the hat", StopWords([])) == ["the", "cat", "and", "the", "hat"]
    assert tokenize("cat hat", StopWords(["Hat"])) == ["cat"]


def test_unicode_is_lowercased() -> None:
    assert tokenize("ÉCOLE Straße") == ["école", "straße"]


def test_awkward_values_do_not_fail() -> None:
    assert tokenize(b"") == []
    assert tokenize(b"   ,,, \t") == []
    assert tokenize(b"caf\xe9 ok") == ["caf\udce9", "ok"]
    assert tokenize(b"foo\x00bar") == ["foo"]


# ------------------------------------------------------------------------ index basics


@pytest.fixture
def articles() -> TextIndex:
    index = TextIndex()
    index.add(1, "title", "The quick brown fox")
    index.add(1, "body", "jumps over the lazy dog")
    index.add(2, "title", "Running dogs")
    index.add(2, "body", "Dogs run; a dog runs")
    index.add(3, "title", "A runner's guide")
    return index


def test_term_matches_the_word_and_its_stem(articles: TextIndex) -> None:
    assert articles.term("dog") == {1, 2}
    assert articles.term("DOGS") == {1, 2}
    assert articles.term("run") == {2}
    assert articles.term("running") == {2}
    assert articles.term("runner") == {3}
    assert articles.term("cat") == set()


def test_verbatim_matches_the_word_only(articles: TextIndex) -> None:
    assert articles.term("dogs", verbatim=True) == {2}
    assert articles.term("run", verbatim=True) == {2}
    assert articles.term("runs", verbatim=True) == {2}
    assert articles.term("running", verbatim=True) == {2}
    assert articles.term("dog", verbatim=True) == {1, 2}


def test_fields_restrict_matches(articles: TextIndex) -> None:
    assert articles.term("dog", ["title"]) == {2}
    assert articles.term("dog", ["body"]) == {1, 2}
    assert articles.term("fox", ["body"]) == set()
    assert articles.term("fox", ["title", "body"]) == {1}
    assert articles.term("fox", ["nosuchfield"]) == set()


def test_query_expansion_is_redisearchs() -> None:
    assert expand_word("running") == ["running", "+run", "run"]
    assert expand_word("run") == ["run", "+run"]
    assert expand_word("running", verbatim=True) == ["running"]


def test_stems_are_indexed_with_a_plus_prefix() -> None:
    index = TextIndex()
    index.add(1, "t", "cats abs")
    assert index.docs_with("cats") == 1 and index.docs_with("+cat") == 1
    # "abs" has fewer than 4 bytes: not stemmed (its stem would be "ab")
    assert stem("abs") == "ab" and index.docs_with("+ab") == 0
    assert list(index.terms()) == ["abs", "cats"]


def test_nostem_field_has_no_stem_records() -> None:
    index = TextIndex()
    index.add(1, "code", "running", nostem=True)
    index.add(2, "code", "run", nostem=True)
    assert index.docs_with("+run") == 0
    assert index.term("running") == {1, 2}  # "run" matches the query's plain stem
    assert index.term("runs") == {2}
    assert index.term("run") == {2}


def test_stopwords_zero_indexes_every_word() -> None:
    index = TextIndex(stopwords=[])
    index.add(1, "t", "to be or not to be")
    assert index.term("be") == {1}
    assert TextIndex().term("be") == set()


def test_prefix_suffix_infix(articles: TextIndex) -> None:
    assert articles.expand_prefix("run") == ["run", "runner", "running", "runs"]  # no "+run"
    assert articles.prefix("run") == {2, 3}
    assert articles.prefix("RUNNE") == {3}
    assert articles.prefix("run", ["body"]) == {2}
    assert articles.prefix("run", max_expansions=1) == {2}
    assert articles.suffix("ogs") == {2}
    assert articles.suffix("og") == {1, 2}
    assert articles.infix("unne") == {3}
    assert articles.infix("o", ["title"]) == {1, 2}


# ------------------------------------------------------------------------------ phrases


def test_phrase_needs_adjacent_words_in_order(articles: TextIndex) -> None:
    assert articles.phrase(["quick", "brown"]) == {1}
    assert articles.phrase(["brown", "quick"]) == set()
    assert articles.phrase(["quick", "fox"]) == set()
    assert articles.phrase(["lazy", "dog"], ["body"]) == {1}
    assert articles.phrase(["lazy", "dog"], ["title"]) == set()


def test_phrase_skips_stopwords(articles: TextIndex) -> None:
    # "over the lazy": "the" took no position in the document either
    assert articles.phrase(["over", "the", "lazy"]) == {1}
    assert articles.phrase(["the", "quick", "brown"]) == {1}


def test_phrase_does_not_span_two_fields(articles: TextIndex) -> None:
    # "fox" ends the title at position 3 and "jumps" starts the body at 4.
    assert articles.phrase(["fox", "jumps"]) == set()


def test_phrase_slop_and_order(articles: TextIndex) -> None:
    assert articles.phrase(["quick", "fox"], slop=1) == {1}
    assert articles.phrase(["fox", "quick"], slop=1) == set()
    assert articles.phrase(["fox", "quick"], slop=1, in_order=False) == {1}
    assert articles.phrase(["fox", "quick"], slop=0, in_order=False) == set()


def test_phrase_accepts_one_token_for_two_words() -> None:
    # RediSearch's __indexResult_withinRangeInOrder lets a word sit at the previous word's
    # position (the gap counts -1), so "run run" matches a single "run".
    index = TextIndex()
    index.add(1, "t", "run fast")
    assert index.phrase(["run", "run"]) == {1}
    assert index.phrase(["fast", "fast", "fast"]) == {1}


def test_phrase_expands_words_unless_verbatim() -> None:
    index = TextIndex()
    index.add(1, "t", "quick brown dogs")
    assert index.phrase(["brown", "dog"]) == {1}
    assert index.phrase(["brown", "dog"], verbatim=True) == set()
    assert index.phrase(["brown", "dogs"], verbatim=True) == {1}


def test_positions_continue_across_fields() -> None:
    index = TextIndex()
    index.add(1, "a", "one two")
    index.add(1, "b", "three")
    record = index.posting(1, "three")
    assert record is not None and record.positions == (3,) and record.mask == 2


# ------------------------------------------------------------------------------ removal


def test_remove_cleans_every_record(articles: TextIndex) -> None:
    for doc_id in (1, 2, 3):
        articles.remove(doc_id)
    assert articles.num_terms == articles.num_records == articles.num_offsets == 0
    assert list(articles.terms()) == [] and articles.num_docs == 0
    assert articles.term("dog") == set() and articles.prefix("") == set()
    articles.remove(1)  # unknown: ignored


def test_add_remove_cycles_do_not_grow_the_index() -> None:
    index = TextIndex()
    texts = ["alpha beta gamma", "beta delta", "gamma running runners", "epsilon"]
    sizes = []
    doc_id = 0
    for _ in range(50):
        ids = []
        for text in texts:
            doc_id += 1  # re-indexed documents get new, larger ids
            index.add(doc_id, "t", text)
            ids.append(doc_id)
        sizes.append((index.num_terms, index.num_records, index.num_offsets))
        for old in ids:
            index.remove(old)
        assert (index.num_terms, index.num_records, index.num_offsets) == (0, 0, 0)
    assert len(set(sizes)) == 1
    assert not index._postings and not index._docs and len(index._words) == 0


def test_statistics(articles: TextIndex) -> None:
    assert articles.num_docs == len(articles) == 3
    assert 2 in articles and 9 not in articles
    # doc 3 "A runner's guide": the apostrophe separates, so "s" is a token of its own
    assert articles.docs_with("s") == 1 and articles.docs_with("+guid") == 1
    assert articles.num_records == sum(len(d.terms) for d in articles._docs.values())


# ------------------------------------------------------------------------------ scoring


def test_tfidf_values_match_redisearchs_formula() -> None:
    index = TextIndex()
    index.add(1, "t", "running")
    index.add(2, "t", "runs fast")
    index.add(3, "t", "walk")
    # N = 3 documents + 1. "+run" is in 2 docs: idf = logb(1 + 4/2) = 1.
    assert index.score(1, ["run"]) == 1.0
    # "running" (1 doc, idf logb(5) = 2) plus "+run" (idf 1), each once; maxFreq 1;
    # the two variants share their position, so the slop is 1.
    assert index.score(1, ["running"]) == 3.0
    assert index.score(1, ["running"], verbatim=True) == 2.0
    assert index.idf("running") == 2.0 and index.idf("+run") == 1.0
    assert index.score(3, ["run"]) == 0.0
    assert index.score(99, ["run"]) == 0.0
    assert index.score(1, ["run"], doc_score=0.5) == 0.5
    assert index.score(1, ["run"], doc_score=0) == 0.0


def test_more_occurrences_score_higher() -> None:
    index = TextIndex()
    index.add(1, "t", "hello foo foo")
    index.add(2, "t", "hello hello foo foo")
    index.add(3, "t", "other words")
    assert index.score(2, ["hello"]) > index.score(1, ["hello"]) > 0


def test_rarer_terms_score_higher() -> None:
    index = TextIndex()
    for doc_id in range(1, 9):
        index.add(doc_id, "t", "common")
    index.add(1, "t", "rare")
    index.add(2, "t", "zzz")
    assert index.score(1, ["rare"]) > index.score(1, ["common"])


def test_near_words_score_higher_than_far_ones() -> None:
    index = TextIndex()
    index.add(1, "t", "hello world")
    index.add(2, "t", "hello big wide open world")
    assert index.score(1, ["hello", "world"]) == 4 * index.score(2, ["hello", "world"])


def test_field_weight_scales_frequency() -> None:
    index = TextIndex()
    index.add(1, "t", "cats", weight=10)
    index.add(1, "u", "dogs")
    assert index.posting(1, "cats") == (10, 1, (1,))
    assert index.posting(1, "+cat") == (2, 1, (1,))  # stems count max(1, int(weight * 0.2))
    assert index.posting(1, "cat") is None and index.posting(7, "cats") is None
    assert index.max_freq(1) == 10
    assert index.doc_length(1) == 11


def test_score_respects_fields() -> None:
    index = TextIndex()
    index.add(1, "title", "apple")
    index.add(2, "body", "apple")
    assert index.score(1, ["apple"], fields=["body"]) == 0.0
    assert index.score(2, ["apple"], fields=["body"]) > 0.0


# ------------------------------------------------------------------------- model check

_WORDS = ["run", "runs", "running", "dog", "dogs", "the", "cat", "cats", "walk"]
_TEXTS = st.lists(st.sampled_from(_WORDS), max_size=6).map(" ".join)
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 6), _TEXTS),
        st.tuples(st.just("remove"), st.integers(0, 6), st.just("")),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(_OPS, st.sampled_from(_WORDS), st.sampled_from(_WORDS))
def test_text_index_agrees_with_a_naive_model(
    ops: list[tuple[str, int, str]], first: str, second: str
) -> None:
    index = TextIndex()
    model: dict[int, list[str]] = {}
    for op, doc_id, text in ops:
        index.remove(doc_id)
        model.pop(doc_id, None)
        if op == "add":
            index.add(doc_id, "t", text)
            tokens = [w for w in text.split() if w != "the"]
            if tokens:
                model[doc_id] = tokens

    def forms(token: str) -> set[str]:
        stemmed = stem(token)
        return {token, "+" + stemmed} if stemmed != token and len(token) >= 4 else {token}

    def matches(token: str, word: str) -> bool:
        return bool(forms(token) & set(expand_word(word)))

    # RediSearch's in-order check accepts two words at one position (see
    # test_phrase_accepts_one_token_for_two_words), so "adjacent" is j in (i, i + 1).
    for word in (first, second):
        expected = {d for d, toks in model.items() if any(matches(t, word) for t in toks)}
        assert index.term(word) == expected
    if "the" not in (first, second):
        expected = {
            d
            for d, toks in model.items()
            if any(
                matches(a, first) and matches(b, second)
                for i, a in enumerate(toks)
                for b in toks[i : i + 2]
            )
        }
        assert index.phrase([first, second]) == expected
    assert index.num_records == sum(
        len(set().union(*(forms(t) for t in toks))) for toks in model.values()
    )
