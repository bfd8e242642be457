"""The index of one TAG field: which documents carry each tag.

How a hash value becomes tags follows RediSearch (src/tag_index.c ``tokenizeTagString`` and
``TagIndex_SepString``):

* the value is a C string there, so it ends at its first NUL byte;
* it is split on the field's one-character separator (``,`` unless ``SEPARATOR`` says
  otherwise); there is no escaping: a backslash is an ordinary character in a document (the
  query syntax has escapes, and the query parser removes them before calling ``match``);
* C whitespace (space, ``\\t \\n \\v \\f \\r``) is trimmed around each tag, and empty tags are
  dropped (``INDEXEMPTY`` is not supported);
* each tag is lowercased unless the field is ``CASESENSITIVE``, and cut to 4096 bytes.

Values are decoded as UTF-8 with ``surrogateescape``, so any bytes round-trip exactly through
``values()`` (FT.TAGVALS); the query parser must decode query text the same way.

Deviation: RediSearch 2.10 lowercases ASCII letters only; RediSearch 8 lowercases Unicode
(``unicode_tolower``), and so does this module (``str.lower``).

Prefix queries walk an order-statistic tree of the distinct tags from the prefix on, so they
cost O(log n + matches). Suffix and infix queries scan the distinct tags, as RediSearch does
for a field without ``WITHSUFFIXTRIE``; suffix queries keep a sorted list of the reversed
tags, rebuilt lazily after the set of distinct tags changes.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Literal

from magpie.structures.avl import AvlTree

__all__ = ["MAX_TAG_LEN", "MatchKind", "TagIndex", "split_tags"]

MatchKind = Literal["exact", "prefix", "suffix", "infix"]

MAX_TAG_LEN = 4096  # bytes; longer tags are cut (RediSearch's MAX_TAG_LEN)
_C_SPACE = " \t\n\v\f\r"


def _decode(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    return raw.decode("utf-8", "surrogateescape")


def _cut(tag: str) -> str:
    # At most 4 bytes per character (a surrogate escape encodes to one byte).
    if len(tag) * 4 <= MAX_TAG_LEN:
        return tag
    encoded = tag.encode("utf-8", "surrogateescape")
    if len(encoded) <= MAX_TAG_LEN:
        return tag
    return encoded[:MAX_TAG_LEN].decode("utf-8", "surrogateescape")


def split_tags(raw: bytes | str, separator: str = ",", case_sensitive: bool = False) -> list[str]:
    """The distinct tags of one field value, in order of first appearance."""
    text = _decode(raw)
    seen: dict[str, None] = {}
    for piece in text.split(separator):
        tag = piece.strip(_C_SPACE)
        if tag:
            if not case_sensitive:
                tag = tag.lower()
            seen[_cut(tag)] = None
    return list(seen)


class TagIndex:
    """Tag -> documents, and document -> tags (so ``remove`` needs only the id).

    Document ids are ints chosen by the caller. ``add`` on an id already present replaces its
    tags. Queries return new sets the caller may change.
    """

    __slots__ = ("separator", "case_sensitive", "_postings", "_doc_tags", "_sorted", "_reversed")

    separator: str
    case_sensitive: bool
    # tag -> {doc_id: None}: a dict of ints, not a set, because the cyclic garbage collector
    # never tracks a dict that holds only atomic values, while it tracks every set.
    _postings: dict[str, dict[int, None]]
    _doc_tags: dict[int, tuple[str, ...]]
    _sorted: AvlTree
    _reversed: list[str] | None

    def __init__(self, separator: str = ",", case_sensitive: bool = False) -> None:
        if len(separator) != 1:
            raise ValueError("a tag separator is one character")
        self.separator = separator
        self.case_sensitive = case_sensitive
        self._postings = {}
        self._doc_tags = {}
        self._sorted = AvlTree()  # the distinct tags, for prefix queries and values()
        self._reversed = None  # sorted reversed tags for suffix queries; None = stale

    # ------------------------------------------------------------------------ changes

    def split(self, raw: bytes | str) -> list[str]:
        """The tags this field makes of a value (see the module docstring)."""
        return split_tags(raw, self.separator, self.case_sensitive)

    def add(self, doc_id: int, raw: bytes | str) -> None:
        """Index a document's field value; an empty result indexes nothing."""
        self.add_tags(doc_id, self.split(raw))

    def add_tags(self, doc_id: int, tags: Iterable[str]) -> None:
        """Index already split and case-folded tags (replacing the document's old ones)."""
        if doc_id in self._doc_tags:
            self.remove(doc_id)
        kept = tuple(dict.fromkeys(tags))
        if not kept:
            return
        postings = self._postings
        for tag in kept:
            docs = postings.get(tag)
            if docs is None:
                postings[tag] = {doc_id: None}
                self._sorted.insert(tag)
                self._reversed = None
            else:
                docs[doc_id] = None
        self._doc_tags[doc_id] = kept

    def remove(self, doc_id: int) -> None:
        """Forget a document; unknown ids are ignored. Tags left with no document go."""
        tags = self._doc_tags.pop(doc_id, None)
        if tags is None:
            return
        postings = self._postings
        for tag in tags:
            docs = postings[tag]
            del docs[doc_id]
            if not docs:
                del postings[tag]
                self._sorted.delete(tag)
                self._reversed = None

    def clear(self) -> None:
        self._postings.clear()
        self._doc_tags.clear()
        self._sorted.clear()
        self._reversed = None

    def check_invariants(self) -> None:
        """Raise AssertionError unless the posting lists and the per-document tags describe
        the same (tag, document) pairs, no posting list is empty, and the tree of distinct
        tags holds exactly the posted tags."""
        pairs = 0
        for doc_id, tags in self._doc_tags.items():
            if not tags:
                raise AssertionError(f"doc {doc_id} is kept with no tags")
            for tag in tags:
                if doc_id not in self._postings.get(tag, ()):
                    raise AssertionError(f"doc {doc_id} has tag {tag!r} but is not in its postings")
            pairs += len(tags)
        if sum(len(docs) for docs in self._postings.values()) != pairs:
            raise AssertionError("the posting lists hold pairs no document has")
        if any(not docs for docs in self._postings.values()):
            raise AssertionError("an empty posting list is kept")
        self._sorted.check_invariants()
        if list(self._sorted) != sorted(self._postings):
            raise AssertionError("the tree of distinct tags is not the posted tags")

    # ------------------------------------------------------------------------ queries

    def fold(self, value: str) -> str:
        """A query value as the index stores tags: lowercased unless case-sensitive."""
        return value if self.case_sensitive else value.lower()

    def match(
        self, value: str, kind: MatchKind = "exact", max_expansions: int | None = None
    ) -> set[int]:
        """Documents with a tag equal to / starting with / ending with / containing ``value``.

        ``max_expansions`` caps how many distinct tags a prefix, suffix or infix query
        expands to (RediSearch's MAXPREFIXEXPANSIONS); None = no cap.
        """
        value = self.fold(value)
        if kind == "exact":
            docs = self._postings.get(value)
            return set(docs) if docs is not None else set()
        return self._union(self.expand(value, kind, max_expansions, folded=True))

    def expand(
        self,
        value: str,
        kind: MatchKind,
        max_expansions: int | None = None,
        folded: bool = False,
    ) -> list[str]:
        """The distinct tags a query value matches, sorted (prefix/infix) or by reversed
        text (suffix)."""
        if not folded:
            value = self.fold(value)
        if kind == "exact":
            return [value] if value in self._postings else []
        limit = max_expansions if max_expansions is not None else -1
        found: list[str] = []
        if kind == "prefix":
            for tag in self._sorted.iter_range(value, None):
                if not tag.startswith(value) or len(found) == limit:
                    break
                found.append(tag)
        elif kind == "suffix":
            reversed_tags = self._reversed_tags()
            rvalue = value[::-1]
            start = bisect.bisect_left(reversed_tags, rvalue)
            for rtag in reversed_tags[start:]:
                if not rtag.startswith(rvalue) or len(found) == limit:
                    break
                found.append(rtag[::-1])
        elif kind == "infix":
            for tag in self._sorted:
                if value in tag:
                    if len(found) == limit:
                        break
                    found.append(tag)
        else:
            raise ValueError(f"unknown tag match kind {kind!r}")
        return found

    def _reversed_tags(self) -> list[str]:
        if self._reversed is None:
            self._reversed = sorted(tag[::-1] for tag in self._postings)
        return self._reversed

    def _union(self, tags: list[str]) -> set[int]:
        result: set[int] = set()
        postings = self._postings
        for tag in tags:
            result.update(postings[tag])
        return result

    def docs_with(self, tag: str) -> int:
        """How many documents carry exactly this (already folded) tag."""
        docs = self._postings.get(tag)
        return len(docs) if docs is not None else 0

    def tags_of(self, doc_id: int) -> tuple[str, ...]:
        """A document's tags as indexed (empty if it has none)."""
        return self._doc_tags.get(doc_id, ())

    def values(self) -> list[str]:
        """The distinct tags, sorted (FT.TAGVALS)."""
        return list(self._sorted)

    # --------------------------------------------------------------------- statistics

    @property
    def num_docs(self) -> int:
        """Documents with at least one tag in this field."""
        return len(self._doc_tags)

    @property
    def num_values(self) -> int:
        """Distinct tags."""
        return len(self._postings)

    @property
    def num_records(self) -> int:
        """(tag, document) pairs: the total length of the posting lists."""
        return sum(len(tags) for tags in self._doc_tags.values())

    def __len__(self) -> int:
        return len(self._doc_tags)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._doc_tags

    def __repr__(self) -> str:
        return f"TagIndex(<{self.num_docs} docs, {self.num_values} tags>)"
