"""One FT index: which hashes it covers, their document ids, and the field indexes.

A document is a hash in database 0 whose key starts with one of the index's prefixes (as
in RediSearch, indexes only follow database 0). Whenever such a key changes, the whole
document is indexed again under a new, larger document id, as RediSearch does; results are
ordered by document id where no other order applies, so they come in indexing order.

A document whose NUMERIC value does not parse, or whose vector blob has the wrong size, is
an indexing failure (``hash_indexing_failures``): it leaves the index entirely, including
the vector it had before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from magpie.search.numeric import NumericIndex, parse_numeric
from magpie.search.schema import FieldSpec, IndexSpec
from magpie.search.tags import TagIndex
from magpie.search.text import TextIndex
from magpie.search.vectors import VectorIndex, make_vector_index
from magpie.store.hashes import Hash

if TYPE_CHECKING:
    from magpie.store.database import Database

_VECTOR_PARAM_NAMES = {
    "M": "m", "EF_CONSTRUCTION": "ef_construction", "EF_RUNTIME": "ef_runtime",
    "EPSILON": "epsilon", "INITIAL_CAP": "initial_cap", "BLOCK_SIZE": "block_size",
}  # fmt: skip


@dataclass(slots=True)
class Document:
    key: bytes
    doc_id: int
    score: float = 1.0
    #: SORTABLE fields' values (by alias), for SORTBY without reading the hash.
    sortables: dict[str, object] = field(default_factory=dict)


def new_vector_index(f: FieldSpec) -> VectorIndex:
    """An empty vector index for the VECTOR field ``f``; ValueError for impossible parameters."""
    p = f.vector_params
    extra = {_VECTOR_PARAM_NAMES[k]: v for k, v in p.items() if k in _VECTOR_PARAM_NAMES}
    if f.algorithm == "FLAT":
        extra = {k: v for k, v in extra.items() if k in ("initial_cap", "block_size")}
    return make_vector_index(
        str(f.algorithm), str(p["TYPE"]), int(p["DIM"]), str(p["DISTANCE_METRIC"]), **extra  # type: ignore[call-overload]
    )


class SearchIndex:
    def __init__(self, spec: IndexSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.docs: dict[bytes, Document] = {}
        self.by_id: dict[int, Document] = {}
        self.next_id = 1
        self.failures = 0
        self.text: TextIndex = TextIndex(spec.stopwords)
        self.tags: dict[str, TagIndex] = {}
        self.numerics: dict[str, NumericIndex] = {}
        self.vectors: dict[str, VectorIndex] = {}
        self.fields: dict[str, FieldSpec] = {}  # by alias (the name queries use)
        self.attributes: dict[str, bytes] = {}  # alias -> the hash field it reads
        #: alias -> the first document id indexed with the field (FT.ALTER adds fields that
        #: only documents indexed from then on carry).
        self.indexed_from: dict[str, int] = {}
        #: alias -> how the VECTOR field's index came to be: "built" (document by document, as
        #: the index was written), "loaded" (restored whole from a snapshot, search/persist.py)
        #: or "rebuilt" (from the hashes, because the saved one was missing or did not match).
        self.vector_origin: dict[str, str] = {}
        for f in spec.fields:
            self._add_field(f)
        #: Parsed queries (executor.parse_for): key -> Query, and each text's vector params.
        self.query_cache: dict[tuple, object] = {}
        self.blob_params: dict[str, frozenset[str]] = {}
        #: Back-fill progress: keys still to scan (None when done), and how many there were.
        self.pending: list[bytes] | None = None
        self.pending_total = 0

    def _add_field(self, f: FieldSpec) -> None:
        self.fields[f.alias] = f
        self.attributes[f.alias] = f.name.encode("utf-8", "surrogateescape")
        self.indexed_from[f.alias] = self.next_id
        if f.type == "TAG":
            self.tags[f.alias] = TagIndex(f.separator, f.case_sensitive)
        elif f.type == "NUMERIC":
            self.numerics[f.alias] = NumericIndex()
        elif f.type == "VECTOR":
            self.vectors[f.alias] = new_vector_index(f)
            self.vector_origin[f.alias] = "built"

    def add_fields(self, fields: list[FieldSpec]) -> None:
        """FT.ALTER ... SCHEMA ADD: new fields apply to documents indexed from now on."""
        for f in fields:
            self.spec.fields.append(f)
            self._add_field(f)
        self.query_cache.clear()  # queries are parsed against the fields
        self.blob_params.clear()

    # -- which keys ---------------------------------------------------------------------

    def covers(self, key: bytes) -> bool:
        return any(key.startswith(p) for p in self.spec.prefixes)

    # -- indexing -----------------------------------------------------------------------

    def index(
        self, key: bytes, value: object, doc_id: int | None = None, skip_vectors: bool = False
    ) -> bool:
        """(Re)index ``key`` holding ``value``; anything but a hash is not a document. True
        when it became a document, False when it is not one (or failed to index).

        A live write leaves ``doc_id`` None: the document takes the next id. Restoring a saved
        index (search/persist.py) passes the id the document had, so a loaded vector index
        keeps naming the right documents; fields that FT.ALTER added after that id are then
        left out, as they were, and ``skip_vectors`` leaves the vector indexes alone (they are
        restored whole, vectors still checked for size).
        """
        self.remove(key)
        if value.__class__ is not Hash:
            return False
        fields = self.spec.fields
        if doc_id is None:
            doc_id = self.next_id
        else:
            if doc_id in self.by_id or doc_id < 1:
                raise ValueError(f"document id {doc_id} is taken or invalid")
            fields = [f for f in fields if self.indexed_from[f.alias] <= doc_id]
        prepared = self._prepare(value, fields, decode=not skip_vectors)  # type: ignore[arg-type]
        if prepared is None:
            self.failures += 1
            return False
        numbers, vectors = prepared
        doc = Document(key, doc_id)
        if doc_id >= self.next_id:
            self.next_id = doc_id + 1
        spec = self.spec
        if spec.score_field is not None:
            raw = value.get(spec.score_field.encode())  # type: ignore[attr-defined]
            parsed = parse_numeric(raw) if raw is not None else None
            doc.score = parsed if parsed is not None else spec.score
        else:
            doc.score = spec.score
        for f in fields:
            if f.noindex and not f.sortable:
                continue
            raw = value.get(self.attributes[f.alias])  # type: ignore[attr-defined]
            if raw is None:
                continue
            alias = f.alias
            if f.type == "TEXT":
                if not f.noindex:
                    self.text.add(doc_id, alias, raw, f.weight, f.nostem)
                if f.sortable:
                    doc.sortables[alias] = raw.decode("utf-8", "surrogateescape")
            elif f.type == "TAG":
                if not f.noindex:
                    self.tags[alias].add(doc_id, raw)
                if f.sortable:
                    doc.sortables[alias] = raw.decode("utf-8", "surrogateescape")
            elif f.type == "NUMERIC":
                number = numbers[alias]
                if not f.noindex:
                    self.numerics[alias].add(doc_id, number)
                doc.sortables[alias] = number
            elif f.type == "VECTOR" and not skip_vectors:
                self.vectors[alias].add(doc_id, vectors[alias])
        self.docs[key] = doc
        self.by_id[doc_id] = doc
        return True

    def _prepare(
        self, value: Hash, fields: list[FieldSpec] | None = None, decode: bool = True
    ) -> tuple[dict[str, float], dict[str, np.ndarray]] | None:
        """Parsed NUMERIC values and decoded vectors of ``fields`` (default: all), or None if
        any of them is invalid (``decode`` False: vectors are only checked for size)."""
        numbers: dict[str, float] = {}
        vectors: dict[str, np.ndarray] = {}
        for f in self.spec.fields if fields is None else fields:
            if f.type not in ("NUMERIC", "VECTOR"):
                continue
            raw = value.get(self.attributes[f.alias])
            if raw is None:
                continue
            if f.type == "NUMERIC":
                number = parse_numeric(raw)
                if number is None:
                    return None
                numbers[f.alias] = number
            elif decode:
                vector = self.vectors[f.alias].decode(raw)
                if vector is None:
                    return None
                vectors[f.alias] = vector
            elif len(raw) != self.vectors[f.alias].blob_size:
                return None
        return numbers, vectors

    def remove(self, key: bytes) -> bool:
        doc = self.docs.pop(key, None)
        if doc is None:
            return False
        doc_id = doc.doc_id
        del self.by_id[doc_id]
        self.text.remove(doc_id)
        for tags in self.tags.values():
            tags.remove(doc_id)
        for numbers in self.numerics.values():
            numbers.remove(doc_id)
        for vectors in self.vectors.values():
            vectors.remove(doc_id)
        return True

    def clear(self) -> None:
        for key in list(self.docs):
            self.remove(key)

    # -- consistency --------------------------------------------------------------------

    def check_invariants(self, db: Database) -> None:
        """Raise AssertionError unless the index describes ``db`` (database 0) exactly: every
        document is an existing covered hash whose field index entries are those of its
        current values, no field index keeps an id that is not a document, and (after the
        back-fill, unless SKIPINITIALSCAN) every covered hash that can be indexed is."""
        if len(self.by_id) != len(self.docs):
            raise AssertionError(f"{len(self.docs)} documents by key, {len(self.by_id)} by id")
        for key, doc in self.docs.items():
            if doc.key != key or self.by_id.get(doc.doc_id) is not doc or doc.doc_id >= self.next_id:
                raise AssertionError(f"document {key!r} is misfiled")
            value = db.data.get(key)
            if value.__class__ is not Hash or not self.covers(key):
                raise AssertionError(f"document {key!r} is not a covered hash of the database")
            self._check_document(doc, value)  # type: ignore[arg-type]
        for name, structure in self._field_indexes():
            structure.check_invariants()
            if sum(1 for doc_id in self.by_id if doc_id in structure) != len(structure):
                raise AssertionError(f"the index of {name!r} keeps ids that are not documents")
        if self.pending is None and not self.spec.skip_initial_scan:
            for key, value in db.data.items():
                if value.__class__ is Hash and key not in self.docs and self.covers(key):
                    if self._prepare(value) is not None:  # type: ignore[arg-type]
                        raise AssertionError(f"hash {key!r} is not indexed")

    def _check_document(self, doc: Document, value: Hash) -> None:
        """The TAG, NUMERIC and VECTOR entries of one document are those of its hash."""
        doc_id = doc.doc_id
        for f in self.spec.fields:
            alias = f.alias
            if self.indexed_from[alias] > doc_id:
                continue
            raw = value.get(self.attributes[alias])
            indexed = raw is not None and not f.noindex
            if f.type == "TAG":
                tags = self.tags[alias]
                expected = tuple(tags.split(raw)) if indexed else ()  # type: ignore[arg-type]
                if tags.tags_of(doc_id) != expected:
                    raise AssertionError(f"document {doc.key!r} has stale tags in {alias!r}")
            elif f.type == "NUMERIC":
                number = parse_numeric(raw) if indexed else None  # type: ignore[arg-type]
                if self.numerics[alias].value(doc_id) != number:
                    raise AssertionError(f"document {doc.key!r} has a stale number in {alias!r}")
            elif f.type == "VECTOR" and (doc_id in self.vectors[alias]) != (raw is not None):
                raise AssertionError(f"document {doc.key!r} has a stale vector in {alias!r}")

    def _field_indexes(self) -> Iterator[tuple[str, TextIndex | TagIndex | NumericIndex | VectorIndex]]:
        yield "TEXT fields", self.text
        for group in (self.tags, self.numerics, self.vectors):
            yield from group.items()

    # -- reading ------------------------------------------------------------------------

    def all_ids(self) -> set[int]:
        return set(self.by_id)

    def keys(self) -> Iterator[bytes]:
        return iter(self.docs)

    @property
    def indexing(self) -> bool:
        return self.pending is not None

    @property
    def percent_indexed(self) -> float:
        if self.pending is None or not self.pending_total:
            return 1.0
        return 1.0 - len(self.pending) / self.pending_total
