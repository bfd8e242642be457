"""Full-text indexing for the TEXT fields of one index: tokenizer, inverted index, TFIDF.

Tokenizing follows RediSearch's default tokenizer (src/toksep.h, src/tokenize.c):

* Separators are ``ToksepMap_g``: space, tab and ``,./(){}[]:;~!@#$%^&*-=+|'`"<>?``. A
  backslash makes the next character part of the token (``hello\\-world`` is one token,
  ``hello-world``). Newline and carriage return are *not* separators: like every control
  character they are dropped from inside a token, so ``"foo\\nbar"`` indexes ``foobar``
  (RediSearch issue #1749, still so in RediSearch 8). Underscores are letters.
* Tokens are lowercased, unescaped (an unescaped backslash is dropped), and skipped when
  they come out empty or are stop-words (magpie.search.stopwords); a skipped token takes no
  position. Positions count from 1 over the whole document: a field's first token follows
  the previous field's last (fields are added in schema order), as in RediSearch.
* A token of at least 4 bytes is also indexed as ``+stem``, its Porter2 stem with the
  ``+`` prefix, when the stem differs from it and the field is not NOSTEM
  (src/forward_index.c ``forwardIndexTokenFunc``, src/stemmer.c, ``search-min-stem-len``).

Each (term, document) record keeps a frequency, the fields it occurs in and its positions.
An occurrence adds ``max(1, int(field weight))`` to the frequency, a stem occurrence
``max(1, int(field weight * 0.2))`` (``STEM_TOKEN_FACTOR``); the document's largest
frequency is its ``maxFreq``.

A query word is expanded as RediSearch's stemming expander does (src/ext/default.c
``StemmerExpander``): the word itself, ``+stem`` and, when different, the plain stem. VERBATIM
does not expand. Expansion does not look at NOSTEM: such a field has no ``+stem`` records, but
its plain words still match the plain stem of a query word, as in RediSearch.

Scoring is RediSearch's default ``TFIDF`` (src/ext/default.c ``TFIDFScorer``, src/
index_result.c ``IndexResult_MinOffsetDelta``, src/inverted_index.h ``CalculateIDF``)::

    idf(term)   = logb(1 + total_docs / docs_with(term))  # logb: floor(log2), an integer
    score       = doc_score * sum(freq(variant) * idf(variant)) / maxFreq / slop

where ``total_docs`` is RediSearch's doc-table size (live documents + 1), the sum runs over
every matched variant of every query word, and ``slop`` is RediSearch's "minimal offset
delta" between the matched terms' positions (1 for a single unexpanded word). ``score``
covers a word or an intersection of words; a record's frequency counts all of its fields,
whatever fields the query names, as RediSearch's does.

Values arrive as bytes: they end at a NUL byte (RediSearch reads a C string) and are decoded as
UTF-8 with ``surrogateescape``, so no value fails and any bytes round-trip; query text must be
decoded the same way to match non-UTF-8 terms.

Deviations from RediSearch:

* Lowercasing is Python's Unicode ``str.lower`` (RediSearch 2.10: ASCII only; 8.x: Unicode).
* Tokens are not cut to 128 bytes (RediSearch 2.10 cuts; 8.x does not).
* An exact phrase must lie inside one of the queried fields; RediSearch compares positions
  over the whole document and can match a phrase across a field boundary.
* Records are removed with their document at once; RediSearch leaves them to its garbage
  collector, so its ``docs_with`` (and so idf) can lag behind deletions.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Final, NamedTuple

from magpie.search.proximity import (
    merge,
    min_offset_delta,
    within_slop_in_order,
    within_slop_unordered,
)
from magpie.search.stemmer import stem
from magpie.search.stopwords import DEFAULT, StopWords
from magpie.structures.avl import AvlTree

__all__ = ["MIN_STEM_LENGTH", "SEPARATORS", "STEM_PREFIX", "Posting", "TextIndex"]
__all__ += ["decode_text", "expand_word", "tokenize"]

SEPARATORS = " \t,./(){}[]:;~!@#$%^&*-=+|'`\"<>?"
STEM_PREFIX = "+"
MIN_STEM_LENGTH = 4  # bytes (RediSearch's DEFAULT_MIN_STEM_LENGTH)
STEM_TOKEN_FACTOR = 0.2

_SEP_CLASS = re.escape(SEPARATORS)
_PLAIN_TOKEN = re.compile(f"[^{_SEP_CLASS}]+")
# With backslashes: a backslash takes the next character (whatever it is) into the token.
_ESCAPED_TOKEN = re.compile(f"(?:\\\\.|\\\\\\Z|[^{_SEP_CLASS}\\\\])+", re.DOTALL)
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")  # C iscntrl, less the tab (a separator)


def decode_text(raw: bytes | str) -> str:
    """A field value as the tokenizer reads it: up to the first NUL, UTF-8 with
    ``surrogateescape``."""
    if isinstance(raw, str):
        nul = raw.find("\0")
        return raw if nul < 0 else raw[:nul]
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    return raw.decode("utf-8", "surrogateescape")


def _unescape(token: str) -> str:
    """RediSearch's ``DefaultNormalize`` less the lowercasing: drop unescaped backslashes and
    every control character (escaped or not); an escaped space stays."""
    out: list[str] = []
    escaped = False
    for ch in token:
        code = ord(ch)
        if code < 32 or code == 127:
            escaped = False
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        out.append(ch)
        escaped = False
    return "".join(out)


def tokenize(text: bytes | str, stopwords: StopWords | Collection[str] = DEFAULT) -> list[str]:
    """The normalized tokens of a value, stop-words left out: token ``i`` has position
    ``i + 1`` within the value."""
    text = decode_text(text)
    if "\\" in text:
        tokens = [_unescape(t).lower() for t in _ESCAPED_TOKEN.findall(text)]
    else:
        if _CONTROL.search(text):
            text = _CONTROL.sub("", text)
        tokens = [t.lower() for t in _PLAIN_TOKEN.findall(text)]
    return [t for t in tokens if t and t not in stopwords]


def _stem_length_ok(token: str) -> bool:
    if len(token) >= MIN_STEM_LENGTH:
        return True
    return not token.isascii() and len(token.encode("utf-8", "surrogateescape")) >= MIN_STEM_LENGTH


def expand_word(word: str, verbatim: bool = False) -> list[str]:
    """The terms a query word matches: itself, ``+stem`` and the plain stem (RediSearch's
    order), or only itself with VERBATIM. ``word`` must already be lowercase."""
    if verbatim or not word:
        return [word]
    stemmed = stem(word)
    if stemmed == word:
        return [word, STEM_PREFIX + stemmed]
    return [word, STEM_PREFIX + stemmed, stemmed]


def _logb(x: float) -> int:
    """C's ``logb`` for x >= 1: the binary exponent, floor(log2(x))."""
    return math.frexp(x)[1] - 1


class Posting(NamedTuple):
    """One term in one document, as ``TextIndex.posting`` shows it."""

    freq: int  # weighted occurrences
    mask: int  # bits of the fields it occurs in
    positions: tuple[int, ...]  # sorted, counted over the whole document


# Inside the index a record is a plain ``(freq, mask, positions)`` tuple: once the cyclic
# garbage collector has seen that a plain tuple holds only ints it stops tracking it (and then
# the dicts holding such tuples), so millions of records do not slow every full collection
# down. A class instance, or a NamedTuple, would stay tracked for ever.
_Record = tuple[int, int, tuple[int, ...]]
_FREQ: Final = 0
_MASK: Final = 1
_POSITIONS: Final = 2


class _Doc:
    """What the index keeps per document to score it and to remove it."""

    __slots__ = ("terms", "max_freq", "length", "last_pos", "spans")

    def __init__(self) -> None:
        self.terms: dict[str, _Record] = {}
        self.max_freq = 0
        self.length = 0  # weighted count of the document's own tokens (RediSearch's len)
        self.last_pos = 0
        self.spans: list[tuple[int, int, int]] = []  # (field bit, first position, last)


class TextIndex:
    """The inverted index of every TEXT field of one index.

    Documents are int ids chosen by the caller; a document gets all of its fields through
    ``add`` (one call per field, in schema order) and leaves with ``remove``. Queries take the
    fields to look in (None = all TEXT fields) and return new sets of ids.
    """

    __slots__ = ("stopwords", "_postings", "_docs", "_fields", "_words", "_num_records",
                 "_num_offsets")  # fmt: skip

    stopwords: StopWords

    def __init__(self, stopwords: StopWords | Iterable[str | bytes] | None = None) -> None:
        """``stopwords``: None for the default English list, or the index's own (empty =
        none, as ``STOPWORDS 0``)."""
        if stopwords is None:
            self.stopwords = DEFAULT
        elif isinstance(stopwords, StopWords):
            self.stopwords = stopwords
        else:
            self.stopwords = StopWords(stopwords)
        self._postings: dict[str, dict[int, _Record]] = {}
        self._docs: dict[int, _Doc] = {}
        self._fields: dict[str, int] = {}  # field name -> bit
        self._words = AvlTree()  # distinct terms other than "+stem", for prefix queries
        self._num_records = 0
        self._num_offsets = 0

    # ------------------------------------------------------------------------ changes

    def field_bit(self, field: str) -> int:
        bit = self._fields.get(field)
        if bit is None:
            bit = self._fields[field] = 1 << len(self._fields)
        return bit

    def add(
        self,
        doc_id: int,
        field: str,
        text: bytes | str,
        weight: float = 1.0,
        nostem: bool = False,
    ) -> None:
        """Index one field value of a document (call once per field, in schema order)."""
        tokens = tokenize(text, self.stopwords)
        if not tokens:
            return
        doc = self._docs.get(doc_id)
        if doc is None:
            doc = self._docs[doc_id] = _Doc()
        bit = self.field_bit(field)
        increment = max(1, int(weight))
        stem_increment = max(1, int(weight * STEM_TOKEN_FACTOR))
        first = doc.last_pos + 1
        # Gather this value's positions per distinct term first: one record update per term.
        words: dict[str, list[int]] = {}
        for position, token in enumerate(tokens, first):
            found = words.get(token)
            if found is None:
                words[token] = [position]
            else:
                found.append(position)
        self._record(doc_id, doc, words, bit, increment)
        if not nostem:
            stems: dict[str, list[int]] = {}
            for token, positions in words.items():
                if _stem_length_ok(token):
                    stemmed = stem(token)
                    if stemmed != token:
                        stems.setdefault(STEM_PREFIX + stemmed, []).extend(positions)
            for positions in stems.values():
                positions.sort()
            self._record(doc_id, doc, stems, bit, stem_increment)
        doc.length += increment * len(tokens)
        doc.last_pos = first + len(tokens) - 1
        doc.spans.append((bit, first, doc.last_pos))

    def _record(
        self, doc_id: int, doc: _Doc, entries: dict[str, list[int]], bit: int, increment: int
    ) -> None:
        """Add each term's ``positions`` (sorted, after any it has) to the document."""
        postings = self._postings
        terms = doc.terms
        max_freq = doc.max_freq
        offsets = 0
        for term, positions in entries.items():
            count = len(positions)
            offsets += count
            old = terms.get(term)
            if old is None:
                record = terms[term] = (increment * count, bit, tuple(positions))
                docs = postings.get(term)
                if docs is None:
                    postings[term] = {doc_id: record}
                    if not term.startswith(STEM_PREFIX):
                        self._words.insert(term)
                else:
                    docs[doc_id] = record
                self._num_records += 1
            else:
                merged = old[_POSITIONS] + tuple(positions)
                if merged[-count - 1] > positions[0]:
                    merged = tuple(sorted(merged))  # an escaped "+word" shares a stem's record
                record = (old[_FREQ] + increment * count, old[_MASK] | bit, merged)
                terms[term] = postings[term][doc_id] = record
            if record[_FREQ] > max_freq:
                max_freq = record[_FREQ]
        doc.max_freq = max_freq
        self._num_offsets += offsets

    def remove(self, doc_id: int) -> None:
        """Forget a document and its records; unknown ids are ignored. Terms left with no
        document are dropped, so add/remove cycles do not grow the index."""
        doc = self._docs.pop(doc_id, None)
        if doc is None:
            return
        postings = self._postings
        for term, record in doc.terms.items():
            docs = postings[term]
            del docs[doc_id]
            self._num_offsets -= len(record[_POSITIONS])
            if not docs:
                del postings[term]
                if not term.startswith(STEM_PREFIX):
                    self._words.delete(term)
        self._num_records -= len(doc.terms)

    def clear(self) -> None:
        self._postings.clear()
        self._docs.clear()
        self._words.clear()
        self._num_records = 0
        self._num_offsets = 0

    def check_invariants(self) -> None:
        """Raise AssertionError unless each document's records are the ones posted under its
        terms (and the postings hold no others), the record and offset counts are their
        sums, and the tree of words holds exactly the posted terms that are not stems."""
        records = offsets = 0
        for doc_id, doc in self._docs.items():
            for term, record in doc.terms.items():
                if self._postings.get(term, {}).get(doc_id) is not record:
                    raise AssertionError(f"doc {doc_id}'s record of {term!r} is not in the postings")
                offsets += len(record[_POSITIONS])
            records += len(doc.terms)
        if sum(len(docs) for docs in self._postings.values()) != records:
            raise AssertionError("the postings hold records no document has")
        if records != self._num_records or offsets != self._num_offsets:
            raise AssertionError("the record or offset count is not the documents' sum")
        self._words.check_invariants()
        words = sorted(term for term in self._postings if not term.startswith(STEM_PREFIX))
        if list(self._words) != words:
            raise AssertionError("the tree of words is not the posted terms")

    # ------------------------------------------------------------------------ queries

    def _mask(self, fields: Iterable[str] | None) -> int:
        """The field bits to look in; -1 (every bit) for None. Unknown fields match nothing."""
        if fields is None:
            return -1
        mask = 0
        for field in fields:
            mask |= self._fields.get(field, 0)
        return mask

    def _docs_of(self, terms: Iterable[str], mask: int) -> set[int]:
        result: set[int] = set()
        postings = self._postings
        for term in terms:
            docs = postings.get(term)
            if not docs:
                continue
            if mask == -1:
                result.update(docs)
            else:
                result.update(d for d, r in docs.items() if r[_MASK] & mask)
        return result

    def term(
        self, word: str, fields: Iterable[str] | None = None, verbatim: bool = False
    ) -> set[int]:
        """Documents containing ``word`` (or, unless ``verbatim``, a word of the same stem)
        in one of ``fields``."""
        return self._docs_of(expand_word(word.lower(), verbatim), self._mask(fields))

    def prefix(
        self, prefix: str, fields: Iterable[str] | None = None, max_expansions: int | None = None
    ) -> set[int]:
        """Documents containing a term that starts with ``prefix`` (``foo*``)."""
        return self._docs_of(self.expand_prefix(prefix, max_expansions), self._mask(fields))

    def suffix(
        self, suffix: str, fields: Iterable[str] | None = None, max_expansions: int | None = None
    ) -> set[int]:
        """Documents containing a term that ends with ``suffix`` (``*foo``); scans the terms."""
        suffix = suffix.lower()
        terms = self._scan_words(lambda t: t.endswith(suffix), max_expansions)
        return self._docs_of(terms, self._mask(fields))

    def infix(
        self, infix: str, fields: Iterable[str] | None = None, max_expansions: int | None = None
    ) -> set[int]:
        """Documents containing a term that contains ``infix`` (``*foo*``); scans the terms."""
        infix = infix.lower()
        terms = self._scan_words(lambda t: infix in t, max_expansions)
        return self._docs_of(terms, self._mask(fields))

    def expand_prefix(self, prefix: str, max_expansions: int | None = None) -> list[str]:
        """The indexed terms (not stems) starting with ``prefix``, sorted; at most
        ``max_expansions`` of them (RediSearch's MAXPREFIXEXPANSIONS) unless None."""
        prefix = prefix.lower()
        found: list[str] = []
        for term in self._words.iter_range(prefix, None):
            if not term.startswith(prefix) or len(found) == max_expansions:
                break
            found.append(term)
        return found

    def _scan_words(self, accept: Callable[[str], bool], max_expansions: int | None) -> list[str]:
        found: list[str] = []
        for term in self._words:
            if accept(term):
                if len(found) == max_expansions:
                    break
                found.append(term)
        return found

    def phrase(
        self,
        words: Sequence[str],
        fields: Iterable[str] | None = None,
        verbatim: bool = False,
        slop: int = 0,
        in_order: bool = True,
    ) -> set[int]:
        """Documents where the words occur next to each other, in order, in one field.

        Stop-words in ``words`` are left out (they take no position in documents either).
        ``slop``/``in_order`` are the ``$slop``/``$inorder`` query attributes, checked as
        RediSearch checks them. RediSearch never expands the words of an exact
        ("quoted") phrase: pass ``verbatim=True`` for those.
        """
        kept = [w.lower() for w in words]
        kept = [w for w in kept if w and w not in self.stopwords]
        if not kept:
            return set()
        mask = self._mask(fields)
        variants = [expand_word(w, verbatim) for w in kept]
        candidates: set[int] | None = None
        for terms in sorted(variants, key=self._doc_count):
            docs = self._docs_of(terms, mask)
            candidates = docs if candidates is None else candidates & docs
            if not candidates:
                return set()
        assert candidates is not None
        if len(kept) == 1:
            return candidates
        matched: set[int] = set()
        for doc_id in candidates:
            if self._phrase_in_doc(doc_id, variants, mask, slop, in_order):
                matched.add(doc_id)
        return matched

    def _doc_count(self, terms: list[str]) -> int:
        return sum(len(self._postings.get(t, ())) for t in terms)

    def _positions(self, doc: _Doc, terms: list[str]) -> list[int]:
        merged: list[int] = []
        for term in terms:
            record = doc.terms.get(term)
            if record is not None:
                merged.extend(record[_POSITIONS])
        merged.sort()
        return merged

    def _phrase_in_doc(
        self, doc_id: int, variants: list[list[str]], mask: int, slop: int, in_order: bool
    ) -> bool:
        doc = self._docs[doc_id]
        all_positions = [self._positions(doc, terms) for terms in variants]
        for bit, first, last in doc.spans:
            if not bit & mask:
                continue
            lists = []
            for positions in all_positions:
                inside = positions[bisect_left(positions, first) : bisect_right(positions, last)]
                if not inside:
                    break
                lists.append(inside)
            else:
                check = within_slop_in_order if in_order else within_slop_unordered
                if check(lists, slop):
                    return True
        return False

    # ------------------------------------------------------------------------ scoring

    def idf(self, term: str, total_docs: int | None = None) -> float:
        """RediSearch's idf of an indexed term (``+stem`` terms included)."""
        n = (len(self._docs) if total_docs is None else total_docs) + 1
        df = len(self._postings.get(term, ()))
        return float(_logb(1.0 + n / (df or 1)))

    def score(
        self,
        doc_id: int,
        terms: Sequence[str],
        verbatim: bool = False,
        fields: Iterable[str] | None = None,
        doc_score: float = 1.0,
        total_docs: int | None = None,
    ) -> float:
        """RediSearch's TFIDF score of a document for a query that is the intersection of
        ``terms`` (query words, as given to ``term``), looked for in ``fields``.

        ``total_docs`` is the number of documents in the whole index (default: those with
        text); ``doc_score`` the document's score (``SCORE``/``SCORE_FIELD``, default 1).
        """
        doc = self._docs.get(doc_id)
        if doc is None or doc_score == 0 or doc.max_freq == 0:
            return 0.0
        mask = self._mask(fields)
        n = (len(self._docs) if total_docs is None else total_docs) + 1
        postings = self._postings
        raw = 0.0
        # The result tree RediSearch scores: an intersection of one node per word, a node
        # being the union of the word's matched variants (or the one term when verbatim).
        nodes: list[list[Sequence[int]]] = []
        for word in terms:
            word = word.lower()
            if not word or word in self.stopwords:
                continue
            children: list[Sequence[int]] = []
            for term in expand_word(word, verbatim):
                record = doc.terms.get(term)
                if record is None or not record[_MASK] & mask:
                    continue
                idf = _logb(1.0 + n / len(postings[term]))
                raw += record[_FREQ] * idf
                children.append(record[_POSITIONS])
            if children:
                nodes.append(children)
        if not nodes:
            return 0.0
        if len(nodes) == 1:
            slop = min_offset_delta(nodes[0])
        else:
            slop = min_offset_delta([merge(children) for children in nodes])
        return doc_score * raw / doc.max_freq / slop

    # --------------------------------------------------------------------- statistics

    def doc_length(self, doc_id: int) -> int:
        """The weighted number of tokens a document has in its TEXT fields."""
        doc = self._docs.get(doc_id)
        return doc.length if doc is not None else 0

    def max_freq(self, doc_id: int) -> int:
        doc = self._docs.get(doc_id)
        return doc.max_freq if doc is not None else 0

    def posting(self, doc_id: int, term: str) -> Posting | None:
        """A document's record of an exact term (``+stem`` terms included), if any."""
        doc = self._docs.get(doc_id)
        record = doc.terms.get(term) if doc is not None else None
        return Posting(*record) if record is not None else None

    def docs_with(self, term: str) -> int:
        """How many documents have a record for this exact term."""
        return len(self._postings.get(term, ()))

    def terms(self) -> Iterator[str]:
        """The distinct indexed words (not ``+stem`` terms), sorted."""
        return iter(self._words)

    @property
    def num_docs(self) -> int:
        """Documents with at least one token."""
        return len(self._docs)

    @property
    def num_terms(self) -> int:
        """Distinct terms, ``+stem`` terms included (FT.INFO ``num_terms``)."""
        return len(self._postings)

    @property
    def num_records(self) -> int:
        """(term, document) records (FT.INFO ``num_records``)."""
        return self._num_records

    @property
    def num_offsets(self) -> int:
        """Stored positions, one per token occurrence and per stem occurrence."""
        return self._num_offsets

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def __repr__(self) -> str:
        return f"TextIndex(<{self.num_docs} docs, {self.num_terms} terms>)"


# ----------------------------------------------------------------- position arithmetic
