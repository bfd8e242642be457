"""FT.SEARCH: its arguments, the evaluation of a parsed query over one index, the results.

The filter is evaluated bottom-up into sets of document ids (set algebra in C does the
heavy lifting); a KNN clause then ranks the matching documents by distance in the vector
index, which plans exact or HNSW search by the filter's selectivity
(``search/vectors_hnsw.py``). Text queries are ranked by RediSearch's TFIDF; other queries
come in document-id (indexing) order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from magpie.search import query_ast as q
from magpie.search.index import Document, SearchIndex
from magpie.search.query import QuerySyntaxError, check_vector_params, parse_query
from magpie.store.hashes import Hash

#: RediSearch's MAXSEARCHRESULTS default: a LIMIT above it is refused, not attempted.
MAX_SEARCH_RESULTS = 1_000_000
#: An HNSW field left at RediSearch's default EF_RUNTIME (10) searches with at least this
#: many candidates per requested neighbour, so default queries keep recall@10 >= 0.95 on
#: clustered data (ef 10 gives ~0.7-0.9 there); an EF_RUNTIME in the query is honoured as is.
AUTO_EF_PER_NEIGHBOUR = 4
DEFAULT_EF_RUNTIME = 10


class SearchError(Exception):
    """An FT.* error; ``message`` is the text the client sees."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class SearchRequest:
    query: str = "*"
    nocontent: bool = False
    verbatim: bool = False
    withscores: bool = False
    withsortkeys: bool = False
    return_fields: list[tuple[str, str]] | None = None  # (field, as-name)
    sortby: str | None = None
    ascending: bool = True
    offset: int = 0
    limit: int | None = None  # None: 10, or k for a KNN query
    params: dict[str, bytes] = field(default_factory=dict)
    dialect: int = 2
    inkeys: set[bytes] | None = None
    numeric_filters: list[tuple[str, float, float, bool, bool]] = field(default_factory=list)


def _int(raw: bytes, error: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SearchError(error) from None
    if value < 0:
        raise SearchError(error)
    return value


def count_then_items(args: list[bytes], i: int, name: str) -> tuple[list[bytes], int]:
    if i >= len(args):
        raise SearchError(f"Bad arguments for {name}: Expected an argument, but none provided")
    try:
        count = int(args[i])
    except ValueError:
        raise SearchError(f"Bad arguments for {name}: Value is not an integer") from None
    if count < 0 or i + 1 + count > len(args):
        raise SearchError(f"Bad arguments for {name}: Not enough arguments were provided based on argument count")
    return args[i + 1 : i + 1 + count], i + 1 + count


def parse_search_args(args: list[bytes]) -> SearchRequest:
    """The options after ``FT.SEARCH idx query``."""
    req = SearchRequest()
    i, n = 0, len(args)
    while i < n:
        word = args[i].upper()
        i += 1
        if word == b"NOCONTENT":
            req.nocontent = True
        elif word == b"VERBATIM":
            req.verbatim = True
        elif word == b"WITHSCORES":
            req.withscores = True
        elif word == b"WITHSORTKEYS":
            req.withsortkeys = True
        elif word in (b"NOSTOPWORDS", b"WITHPAYLOADS", b"EXPLAINSCORE", b"INORDER"):
            pass
        elif word in (b"SLOP", b"LANGUAGE", b"EXPANDER", b"SCORER", b"PAYLOAD"):
            if i >= n:
                raise SearchError(f"Bad arguments for {word.decode()}: Expected an argument, but none provided")
            i += 1
        elif word == b"TIMEOUT":
            if i >= n:
                raise SearchError("Need argument for TIMEOUT")
            _int(args[i], "TIMEOUT requires a non negative integer")
            i += 1
        elif word == b"RETURN":
            items, i = count_then_items(args, i, "RETURN")
            req.return_fields = []
            j = 0
            while j < len(items):
                name = items[j].decode("utf-8", "surrogateescape").removeprefix("@")
                alias = name
                if j + 1 < len(items) and items[j + 1].upper() == b"AS":
                    if j + 2 >= len(items):
                        raise SearchError("Bad arguments for RETURN: AS needs a name")
                    alias = items[j + 2].decode("utf-8", "surrogateescape")
                    j += 2
                req.return_fields.append((name, alias))
                j += 1
        elif word == b"SORTBY":
            if i >= n:
                raise SearchError("Bad arguments for SORTBY: Expected an argument, but none provided")
            req.sortby = args[i].decode("utf-8", "surrogateescape").removeprefix("@")
            i += 1
            if i < n and args[i].upper() in (b"ASC", b"DESC"):
                req.ascending = args[i].upper() == b"ASC"
                i += 1
            if i < n and args[i].upper() == b"WITHCOUNT":
                i += 1
        elif word == b"LIMIT":
            if i + 2 > n:
                raise SearchError("LIMIT requires two arguments")
            try:
                offset, limit = int(args[i]), int(args[i + 1])
            except ValueError:
                raise SearchError("LIMIT needs two numeric arguments") from None
            if offset < 0 or limit < 0:
                raise SearchError("LIMIT needs two numeric arguments")
            if limit > MAX_SEARCH_RESULTS:
                raise SearchError(f"LIMIT exceeds maximum of {MAX_SEARCH_RESULTS}")
            if offset > MAX_SEARCH_RESULTS:
                raise SearchError(f"OFFSET exceeds maximum of {MAX_SEARCH_RESULTS}")
            req.offset, req.limit = offset, limit
            i += 2
        elif word == b"PARAMS":
            items, i = count_then_items(args, i, "PARAMS")
            if len(items) % 2:
                raise SearchError("Parameters must be specified in PARAM VALUE pairs")
            for j in range(0, len(items), 2):
                req.params[items[j].decode("utf-8", "surrogateescape")] = items[j + 1]
        elif word == b"DIALECT":
            if i >= n:
                raise SearchError("Need an argument for DIALECT")
            try:
                req.dialect = int(args[i])
            except ValueError:
                req.dialect = 0
            if not 1 <= req.dialect <= 4:
                raise SearchError("DIALECT requires a non negative integer >=1 and <= 4")
            i += 1
        elif word == b"INKEYS":
            items, i = count_then_items(args, i, "INKEYS")
            req.inkeys = set(items)
        elif word == b"INFIELDS":
            _, i = count_then_items(args, i, "INFIELDS")
        elif word == b"FILTER":
            if i + 3 > n:
                raise SearchError("Bad arguments for FILTER: Expected an argument, but none provided")
            req.numeric_filters.append(_legacy_filter(args[i], args[i + 1], args[i + 2]))
            i += 3
        elif word in (b"SUMMARIZE", b"HIGHLIGHT"):
            i = _skip_highlight(args, i)
        else:
            raise SearchError(f"Unknown argument `{args[i - 1].decode('utf-8', 'replace')}`")
    return req


def _legacy_filter(name: bytes, low: bytes, high: bytes) -> tuple[str, float, float, bool, bool]:
    bounds = []
    for raw in (low, high):
        exclusive = raw.startswith(b"(")
        text = raw[1:] if exclusive else raw
        try:
            value = float(text.lower().replace(b"+inf", b"inf"))
        except ValueError:
            raise SearchError("Bad upper range") if raw is high else SearchError("Bad lower range") from None
        bounds.append((value, not exclusive))
    return name.decode("utf-8", "surrogateescape").removeprefix("@"), bounds[0][0], bounds[1][0], bounds[0][1], bounds[1][1]


def _skip_highlight(args: list[bytes], i: int) -> int:
    keywords = {b"FIELDS", b"FRAGS", b"LEN", b"SEPARATOR", b"TAGS"}
    while i < len(args) and args[i].upper() in keywords:
        word = args[i].upper()
        if word == b"FIELDS":
            _, i = count_then_items(args, i + 1, "FIELDS")
        elif word == b"TAGS":
            i += 3
        else:
            i += 2
    return i


# -- evaluation ---------------------------------------------------------------------------


@dataclass(slots=True)
class SearchResult:
    total: int
    docs: list[Document]
    scores: dict[int, float]
    #: Per document id, values computed by the query (KNN or VECTOR_RANGE distances).
    computed: dict[int, dict[str, float]]
    #: The KNN clause's k: without LIMIT, a KNN query returns k results.
    knn_k: int | None = None
    #: The names the query computes values under (distances).
    computed_names: set[str] = field(default_factory=set)


class _Evaluator:
    def __init__(self, index: SearchIndex, verbatim: bool) -> None:
        self.index = index
        self.verbatim = verbatim
        self.computed: dict[int, dict[str, float]] = {}
        #: Names the query yields values under (distances), even when nothing matched.
        self.computed_names: set[str] = set()
        self.words: list[str] = []  # text words of the query, for scoring

    def run(self, node: q.Node) -> set[int]:
        index = self.index
        if isinstance(node, q.MatchAll):
            return index.all_ids()
        if isinstance(node, q.MatchNone):
            return set()
        if isinstance(node, q.And):
            result: set[int] | None = None
            negated = []
            for child in node.children:
                if isinstance(child, q.Not):
                    negated.append(child.child)
                    continue
                if isinstance(child, q.Optional):
                    self.run(child.child)
                    continue
                ids = self.run(child)
                result = ids if result is None else result & ids
            if result is None:
                result = index.all_ids()
            for child in negated:
                if result:
                    result -= self.run(child)
            return result
        if isinstance(node, q.Or):
            union: set[int] = set()
            for child in node.children:
                union |= self.run(child)
            return union
        if isinstance(node, q.Not):
            return index.all_ids() - self.run(node.child)
        if isinstance(node, q.Optional):
            self.run(node.child)
            return index.all_ids()
        if isinstance(node, q.TextMatch):
            return self._text(node)
        if isinstance(node, q.Phrase):
            fields = self._text_fields(node.fields)
            self.words.extend(node.terms)
            return index.text.phrase(node.terms, fields, verbatim=True)
        if isinstance(node, q.TagMatch):
            tags = index.tags.get(node.field)
            if tags is None:
                raise SearchError(self._unknown_field(node.field, "TAG"))
            found: set[int] = set()
            for term in node.terms:
                if term.kind == "wildcard":
                    continue
                found |= tags.match(term.value, term.kind)  # type: ignore[arg-type]
            return found
        if isinstance(node, q.NumericRange):
            numbers = index.numerics.get(node.field)
            if numbers is None:
                raise SearchError(self._unknown_field(node.field, "NUMERIC"))
            return numbers.range(node.low, node.high, node.low_inclusive, node.high_inclusive)
        if isinstance(node, q.VectorRange):
            return self._vector_range(node)
        raise SearchError(f"{type(node).__name__} queries are not supported by Magpie")

    def _unknown_field(self, name: str, kind: str) -> str:
        if name in self.index.fields:
            return f"Field `{name}` is not a {kind} field"  # shape of RediSearch's type mismatch
        return f"Unknown field `{name}`"

    def _text_fields(self, fields: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if fields is None:
            return None
        for name in fields:
            f = self.index.fields.get(name)
            if f is None:
                raise SearchError(f"Unknown field `{name}`")
        return fields

    def _text(self, node: q.TextMatch) -> set[int]:
        text = self.index.text
        fields = self._text_fields(node.fields)
        if node.kind == "term" or node.kind == "fuzzy":
            self.words.append(node.value)
            return text.term(node.value, fields, verbatim=self.verbatim)
        if node.kind == "prefix":
            return text.prefix(node.value, fields)
        if node.kind == "suffix":
            return text.suffix(node.value, fields)
        if node.kind == "infix":
            return text.infix(node.value, fields)
        raise SearchError("Wildcard queries are not supported by Magpie")

    def vector_index(self, name: str, blob: bytes):  # noqa: ANN201 - (VectorIndex, ndarray)
        vectors = self.index.vectors.get(name)
        if vectors is None:
            raise SearchError(self._unknown_field(name, "VECTOR"))
        vector = vectors.decode(blob)
        if vector is None:
            raise SearchError(
                "Error parsing vector similarity query: query vector blob size "
                f"({len(blob)}) does not match index's expected size ({vectors.blob_size})."
            )
        return vectors, vector

    def _vector_range(self, node: q.VectorRange) -> set[int]:
        vectors, vector = self.vector_index(node.field, node.blob)
        try:
            check_vector_params(node.params, str(self.index.fields[node.field].algorithm), "range")
        except QuerySyntaxError as exc:
            raise SearchError(exc.message) from None
        if node.radius < 0:
            raise SearchError("Error parsing vector similarity query: negative radius given in a range query")
        name = node.yield_distance_as or f"__{node.field}_score"
        self.computed_names.add(name)
        found: set[int] = set()
        for distance, doc_id in vectors.range(vector, node.radius, epsilon=node.epsilon):
            found.add(doc_id)
            self.computed.setdefault(doc_id, {})[name] = distance
        return found


#: Parsed queries kept per index; a pipeline of KNN queries differs only in its vectors.
QUERY_CACHE_SIZE = 1024


def parse_for(index: SearchIndex, text: str, params: dict[str, bytes]) -> q.Query:
    """Parse a query against an index's fields and stop-words; RediSearch's error texts.

    Parses are cached per index by the query text and its non-vector parameters, so a
    stream of KNN queries parses once; the KNN vector itself comes from ``knn_vector``.
    """
    blobs = index.blob_params.get(text)
    if blobs is not None:
        key = (text, tuple(sorted((k, v) for k, v in params.items() if k not in blobs)))
        cached = index.query_cache.get(key)
        if cached is not None:
            return cached  # its KNN vector is read from ``params`` (knn_vector)
    try:
        query = parse_query(
            text, params, stopwords=index.text.stopwords,
            fields={alias: f.type for alias, f in index.fields.items()},
        )  # fmt: skip
        knn = query.knn
        if knn is not None and knn.field in index.fields:
            kind = "knn" if isinstance(query.filter, q.MatchAll) else "hybrid"
            check_vector_params(knn.params, str(index.fields[knn.field].algorithm), kind)
    except QuerySyntaxError as exc:
        raise SearchError(exc.message) from None
    if _cacheable(query.filter):
        names = frozenset({query.knn.blob_param} if query.knn is not None and query.knn.blob_param else ())
        if len(index.query_cache) >= QUERY_CACHE_SIZE:
            index.query_cache.clear()
            index.blob_params.clear()
        index.blob_params[text] = names
        key = (text, tuple(sorted((k, v) for k, v in params.items() if k not in names)))
        index.query_cache[key] = query
    return query


def _cacheable(node: q.Node) -> bool:
    """A filter without VECTOR_RANGE (whose vector would need swapping too)."""
    if isinstance(node, q.VectorRange):
        return False
    if isinstance(node, (q.And, q.Or)):
        return all(_cacheable(child) for child in node.children)
    if isinstance(node, (q.Not, q.Optional)):
        return _cacheable(node.child)
    return True


def execute(index: SearchIndex, req: SearchRequest, db: object = None) -> SearchResult:
    """Run a query; ``db`` (database 0) lets SORTBY read fields that are not SORTABLE."""
    query = parse_for(index, req.query, req.params)
    ev = _Evaluator(index, req.verbatim)
    knn = query.knn
    unfiltered = isinstance(query.filter, q.MatchAll) and req.inkeys is None and not req.numeric_filters
    # A plain KNN query never needs the set of every document id.
    ids = set() if knn is not None and unfiltered else ev.run(query.filter)
    for name, low, high, low_inc, high_inc in req.numeric_filters:
        numbers = index.numerics.get(name)
        if numbers is None:
            raise SearchError(f"Unknown field `{name}`")
        ids &= numbers.range(low, high, low_inc, high_inc)
    if req.inkeys is not None:
        ids &= {index.docs[k].doc_id for k in req.inkeys if k in index.docs}
    scores: dict[int, float] = {}
    if knn is not None:
        ordered = _knn(ev, index, knn, knn_vector(knn, req.params), ids, unfiltered)
    elif ev.words:
        total_docs = len(index.by_id)
        for doc_id in ids:
            doc = index.by_id[doc_id]
            scores[doc_id] = index.text.score(doc_id, ev.words, req.verbatim, doc_score=doc.score, total_docs=total_docs)
        ordered = sorted(ids, key=lambda d: (-scores[d], d))
    else:
        ordered = sorted(ids)
    if req.sortby is not None:
        if knn is not None:
            ev.computed_names.add(knn.score_field)
        ordered = _sort(index, ordered, req.sortby, req.ascending, ev.computed, ev.computed_names, db)
    docs = [index.by_id[d] for d in ordered]
    if knn is not None:
        ev.computed_names.add(knn.score_field)
    return SearchResult(len(docs), docs, scores, ev.computed, None if knn is None else knn.k, ev.computed_names)


def knn_vector(knn: q.Knn, params: dict[str, bytes]) -> bytes:
    """The KNN clause's vector: this request's parameter (a cached parse holds an old one)."""
    if knn.blob_param:
        blob = params.get(knn.blob_param)
        if blob is not None:
            return blob
    return knn.blob


def _knn(
    ev: _Evaluator, index: SearchIndex, knn: q.Knn, blob: bytes, ids: set[int], unfiltered: bool
) -> list[int]:
    vectors, vector = ev.vector_index(knn.field, blob)
    if knn.k <= 0:
        return []
    allowed = None if unfiltered else ids
    ef = knn.ef_runtime
    f = index.fields[knn.field]
    if ef is None and f.algorithm == "HNSW" and f.vector_params.get("EF_RUNTIME") == DEFAULT_EF_RUNTIME:
        ef = max(DEFAULT_EF_RUNTIME, AUTO_EF_PER_NEIGHBOUR * knn.k)
    hits = vectors.knn(vector, knn.k, allowed=allowed, ef_runtime=ef)
    name = knn.score_field
    ordered = []
    for distance, doc_id in hits:
        if doc_id in index.by_id:
            ev.computed.setdefault(doc_id, {})[name] = distance
            ordered.append(doc_id)
    return ordered


def _sort(
    index: SearchIndex, ordered: list[int], name: str, ascending: bool,
    computed: dict[int, dict[str, float]], computed_names: set[str], db: object,
) -> list[int]:  # fmt: skip
    """SORTBY: documents without a value come last, in their previous order."""
    f = index.fields.get(name)
    if name in computed_names:
        values = {d: computed.get(d, {}).get(name) for d in ordered}
    elif f is not None:
        values = {d: _sort_value(index.by_id[d], f, db) for d in ordered}
    else:
        raise SearchError(f"Property `{name}` not loaded nor in schema")
    present = [d for d in ordered if values[d] is not None]
    absent = [d for d in ordered if values[d] is None]
    present.sort(key=values.__getitem__, reverse=not ascending)  # type: ignore[arg-type]
    return present + absent


def _sort_value(doc: Document, f, db) -> object:  # noqa: ANN001 - FieldSpec, Database
    """A SORTABLE field's kept value, else (TEXT and TAG, as RediSearch allows) the hash's."""
    value = doc.sortables.get(f.alias)
    if value is None and db is not None and f.type in ("TEXT", "TAG"):
        stored = db.data.get(doc.key)
        raw = stored.get(f.name.encode("utf-8", "surrogateescape")) if stored.__class__ is Hash else None
        value = None if raw is None else raw.decode("utf-8", "surrogateescape")
    if isinstance(value, str):
        return value.lower()
    return value


def page(result: SearchResult, req: SearchRequest) -> list[Document]:
    limit = req.limit
    if limit is None:
        limit = result.knn_k if result.knn_k is not None else 10
    return result.docs[req.offset : req.offset + limit]


def document_fields(
    doc: Document, stored: dict[bytes, bytes] | None, req: SearchRequest,
    computed: dict[str, float] | None, index: SearchIndex,
) -> list[tuple[bytes, object]]:  # fmt: skip
    """The (name, value) pairs a result shows: RETURN's, or every hash field plus the
    query's computed values (distances first, as RediSearch puts them)."""
    out: list[tuple[bytes, object]] = []
    if req.return_fields is not None:
        for name, alias in req.return_fields:
            if computed is not None and name in computed:
                out.append((alias.encode(), number_text(computed[name])))
                continue
            f = index.fields.get(name)
            attr = (f.name if f is not None else name).encode("utf-8", "surrogateescape")
            if stored is not None and attr in stored:
                out.append((alias.encode("utf-8", "surrogateescape"), stored[attr]))
        return out
    if computed:
        out.extend((name.encode(), number_text(value)) for name, value in computed.items())
    if stored is not None:
        out.extend(stored.items())
    return out


def number_text(value: float) -> bytes:
    """A computed number as RediSearch prints it (RSValue_NumToString): integers as
    integers, anything else with %.12g."""
    if math.isfinite(value) and value == int(value):
        return b"%d" % int(value)
    return b"%.12g" % value
