"""The syntax tree of an FT.SEARCH / FT.AGGREGATE query (DIALECT 2), and FT.EXPLAIN's text.

`magpie.search.query.parse_query` builds these nodes; the query planner walks them. Every
node is a frozen dataclass. Parameters (``$name``) are already replaced by their values, and
stop-words are already dropped (a group that loses every child disappears, as in RediSearch,
whose parser returns NULL for them).

Field names are given without ``@`` and with backslash escapes removed. A text node's
``fields`` is ``None`` when it searches every TEXT field. RediSearch applies a field
restriction (``@title:(a b|c)``) to every node under it, groups included, so `And`, `Or`,
`Not` and `Optional` carry ``fields`` too; for matching only the leaves' ``fields`` matter,
the groups' copy is what FT.EXPLAIN prints and what stops two groups being merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Attributes", "DEFAULT_ATTRIBUTES", "MatchAll", "MatchNone", "TextMatch", "Phrase",
    "TagTerm", "TagMatch", "NumericRange", "GeoRadius", "GeoShape", "Missing", "VectorRange",
    "And", "Or", "Not", "Optional", "Node", "Knn", "Query", "explain",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Attributes:
    """Query attributes given as ``=>{$weight: 2; $slop: 1; $inorder: true; $phonetic: false}``.

    ``slop`` -1 means "not set" (RediSearch's default); ``phonetic`` None means the field's
    own setting.
    """

    weight: float = 1.0
    slop: int = -1
    inorder: bool = False
    phonetic: bool | None = None


DEFAULT_ATTRIBUTES = Attributes()

TextKind = Literal["term", "prefix", "suffix", "infix", "fuzzy", "wildcard"]
TagKind = Literal["exact", "prefix", "suffix", "infix", "wildcard"]


@dataclass(frozen=True, slots=True)
class MatchAll:
    """``*``: every document (only ever the whole query, or the filter of a KNN query)."""


@dataclass(frozen=True, slots=True)
class MatchNone:
    """An empty query, or one made only of stop-words: no document."""


@dataclass(frozen=True, slots=True)
class TextMatch:
    """One word against TEXT fields.

    ``value`` is lowercased and unescaped (numbers are kept as written). ``kind`` "term" is
    a plain word (which the index may expand by stemming), "prefix" ``hel*``, "suffix"
    ``*llo``, "infix" ``*ell*``, "fuzzy" ``%hello%`` (``distance`` 1 to 3, the number of
    ``%`` on each side), "wildcard" ``w'h?l*'`` (``value`` is the raw pattern).
    """

    fields: tuple[str, ...] | None
    value: str
    kind: TextKind = "term"
    distance: int = 0
    attrs: Attributes = DEFAULT_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class Phrase:
    """``"exact phrase"``: the words in order and adjacent, lowercased; stop-words are kept."""

    fields: tuple[str, ...] | None
    terms: tuple[str, ...]
    attrs: Attributes = DEFAULT_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class TagTerm:
    """One alternative of ``@f:{...}``: the value unescaped, with its case as written.

    Words separated by spaces inside one alternative (``{hello world}``) are one value,
    joined by a single space (and lowercased, as RediSearch's parser does to them).
    """

    value: str
    kind: TagKind = "exact"


@dataclass(frozen=True, slots=True)
class TagMatch:
    """``@field:{a | b c | pre* | *suf | *in* | w'pat*'}``: any of ``terms``."""

    field: str
    terms: tuple[TagTerm, ...]
    attrs: Attributes = DEFAULT_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class NumericRange:
    """``@f:[low high]`` with ``(`` for an exclusive bound; also ``@f>5``, ``@f==5`` and so on."""

    field: str
    low: float
    high: float
    low_inclusive: bool = True
    high_inclusive: bool = True
    attrs: Attributes = DEFAULT_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class GeoRadius:
    """``@f:[lon lat radius unit]``; ``unit`` is one of m, km, mi, ft (lowercase)."""

    field: str
    lon: float
    lat: float
    radius: float
    unit: str
    attrs: Attributes = DEFAULT_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class GeoShape:
    """``@f:[WITHIN $shape]`` (or CONTAINS, DISJOINT, INTERSECTS): ``wkt`` is the shape's text."""

    field: str
    predicate: Literal["WITHIN", "CONTAINS", "DISJOINT", "INTERSECTS"]
    wkt: str
    attrs: Attributes = DEFAULT_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class Missing:
    """``ismissing(@f)``: documents without the field (it must be INDEXMISSING)."""

    field: str
    attrs: Attributes = DEFAULT_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class VectorRange:
    """``@v:[VECTOR_RANGE radius $blob]=>{$EPSILON: e; $YIELD_DISTANCE_AS: name}``.

    ``blob`` is the parameter's raw bytes. ``params`` holds the vector search parameters
    (name as written, value as text) in the order given, for `check_vector_params` in
    magpie.search.query and for FT.EXPLAIN; ``epsilon`` is its EPSILON when that is a
    number. A negative radius is an evaluation-time error in RediSearch, left to the caller.
    """

    field: str
    radius: float
    blob: bytes
    epsilon: float | None = None
    yield_distance_as: str | None = None
    blob_param: str = ""
    params: tuple[tuple[str, str], ...] = ()
    attrs: Attributes = DEFAULT_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class And:
    """Juxtaposition: every child matches."""

    children: tuple[Node, ...]
    fields: tuple[str, ...] | None = None
    attrs: Attributes = DEFAULT_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class Or:
    """``a | b``: any child matches."""

    children: tuple[Node, ...]
    fields: tuple[str, ...] | None = None
    attrs: Attributes = DEFAULT_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class Not:
    """``-x``: documents that ``child`` does not match."""

    child: Node
    fields: tuple[str, ...] | None = None
    attrs: Attributes = DEFAULT_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class Optional:
    """``~x``: matches every document; documents ``child`` matches score higher."""

    child: Node
    fields: tuple[str, ...] | None = None
    attrs: Attributes = DEFAULT_ATTRIBUTES


Node = (
    MatchAll | MatchNone | TextMatch | Phrase | TagMatch | NumericRange | GeoRadius | GeoShape
    | Missing | VectorRange | And | Or | Not | Optional
)


@dataclass(frozen=True, slots=True)
class Knn:
    """``=>[KNN k @field $blob EF_RUNTIME n ... AS name]``, the top of a query.

    ``yield_distance_as`` is the name given by AS or ``$YIELD_DISTANCE_AS``; None means
    RediSearch's default ``__<field>_score``. ``params`` are the vector search parameters as
    given (also those from ``=>{$EF_RUNTIME: n}``); the typed fields hold their values when
    they are well formed. Whether they suit the index (EF_RUNTIME needs HNSW, EPSILON a
    range query, ...) is `check_vector_params`'s business, as it is VecSim's in RediSearch.
    """

    k: int
    field: str
    blob: bytes
    ef_runtime: int | None = None
    epsilon: float | None = None
    hybrid_policy: str | None = None
    batch_size: int | None = None
    yield_distance_as: str | None = None
    blob_param: str = ""
    params: tuple[tuple[str, str], ...] = ()
    attrs: Attributes = DEFAULT_ATTRIBUTES

    @property
    def score_field(self) -> str:
        """The name the distance is returned under."""
        return self.yield_distance_as or f"__{self.field}_score"


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: ``filter`` selects documents; with ``knn`` they are the KNN candidates
    (``filter`` is `MatchAll` when there is none)."""

    filter: Node
    knn: Knn | None = None


# ---------------------------------------------------------------------------------------
# FT.EXPLAIN (RediSearch's QueryNode_DumpSds). Shown before query expansion, so words appear
# as typed (lowercased) without the stemmer's "+word(expanded)" alternatives.

_GEOSHAPE_CODES = {"CONTAINS": 1, "WITHIN": 2, "DISJOINT": 3, "INTERSECTS": 4}
_AFFIX_NAMES = {"prefix": "PREFIX", "suffix": "SUFFIX", "infix": "INFIX"}


def explain(query: Query) -> str:
    """FT.EXPLAIN's text for a parsed query (every line ends with a newline)."""
    out: list[str] = []
    knn = query.knn
    if knn is None:
        _dump(query.filter, 0, out)
        return "".join(out)
    out.append("VECTOR {")
    if not isinstance(query.filter, MatchAll):
        out.append("\n")
        _dump(query.filter, 1, out)
        out.append("} => {")
    out.append(f"K={knn.k} nearest vectors to `${knn.blob_param}` ")
    out.append(_vector_tail(knn.field, knn.params, knn.yield_distance_as or knn.score_field))
    out.append(_attrs_text(knn.attrs) + "\n")
    return "".join(out)


def _vector_tail(field_name: str, params: tuple[tuple[str, str], ...], score: str | None) -> str:
    text = f"in vector index associated with field @{field_name}"
    text += "".join(f", {name} = {value}" for name, value in params)
    if score:
        text += f", yields distance as `{score}`"
    return text + "}"


def _attrs_text(attrs: Attributes) -> str:
    if attrs.weight == 1 and attrs.slop == -1 and not attrs.inorder:
        return ""
    text = " => {"
    if attrs.weight != 1:
        text += f" $weight: {attrs.weight:g};"
    if attrs.slop != -1:
        text += f" $slop: {attrs.slop};"
    if attrs.inorder or attrs.slop != -1:
        text += f" $inorder: {'true' if attrs.inorder else 'false'};"
    return text + " }"


def _dump(node: Node, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    fields = getattr(node, "fields", None)
    out.append(pad + (f"@{'|'.join(fields)}:" if fields else ""))
    match node:
        case TextMatch(value=value, kind="term", attrs=attrs):
            out.append(value if value else '""')
            if attrs.weight != 1:
                out.append(f" => {{$weight: {attrs.weight:g};}}")
            out.append("\n")
            return
        case TextMatch(value=value, kind=kind) if kind in _AFFIX_NAMES:
            star_before = "*" if kind != "prefix" else ""
            star_after = "*" if kind != "suffix" else ""
            out.append(f"{_AFFIX_NAMES[kind]}{{{star_before}{value}{star_after}}}")
        case TextMatch(value=value, kind="fuzzy"):
            out.append(f"FUZZY{{{value}}}")
        case TextMatch(value=value):
            out.append(f"WILDCARD{{{value}}}")
        case Phrase(terms=terms):
            out.append("EXACT {\n")
            prefix = f"@{'|'.join(fields)}:" if fields else ""
            out.extend(f"{pad}  {prefix}{term}\n" for term in terms)
            out.append(pad + "}")
        case And(children=children) | Or(children=children):
            out.append("INTERSECT {\n" if isinstance(node, And) else "UNION {\n")
            for child in children:
                _dump(child, depth + 1, out)
            out.append(pad + "}")
        case Not(child=child) | Optional(child=child):
            out.append("NOT{\n" if isinstance(node, Not) else "OPTIONAL{\n")
            _dump(child, depth + 1, out)
            out.append(pad + "}")
        case TagMatch(field=name, terms=terms):
            out.append(f"TAG:@{name} {{\n")
            for term in terms:
                out.append(pad + "  " + _tag_term_text(term) + "\n")
            out.append(pad + "}")
        case NumericRange():
            low_op = "<=" if node.low_inclusive else "<"
            high_op = "<=" if node.high_inclusive else "<"
            out.append(f"NUMERIC {{{node.low:f} {low_op} @{node.field} {high_op} {node.high:f}}}")
        case GeoRadius():
            out.append(f"GEO {node.field}:{{{node.lon:f},{node.lat:f} --> {node.radius:f} {node.unit}}}")
        case GeoShape():
            out.append(f"GEOSHAPE{{{_GEOSHAPE_CODES[node.predicate]} {node.wkt}}}")
        case Missing():
            out.append(f"ISMISSING{{{node.field}}}")
        case VectorRange():
            out.append(f"VECTOR {{Vectors that are within {node.radius:g} distance radius from")
            out.append(f" `${node.blob_param}` ")
            out.append(_vector_tail(node.field, node.params, node.yield_distance_as))
        case MatchAll():
            out.append("<WILDCARD>")
        case MatchNone():
            out.append("<empty>")
    attrs = getattr(node, "attrs", DEFAULT_ATTRIBUTES)
    out.append(_attrs_text(attrs) + "\n")


def _tag_term_text(term: TagTerm) -> str:
    if term.kind == "exact":
        return term.value
    if term.kind == "wildcard":
        return f"WILDCARD{{{term.value}}}"
    star_before = "*" if term.kind != "prefix" else ""
    star_after = "*" if term.kind != "suffix" else ""
    return f"{_AFFIX_NAMES[term.kind]}{{{star_before}{term.value}{star_after}}}"
