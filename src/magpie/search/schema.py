"""FT.CREATE and FT.ALTER ... SCHEMA ADD arguments to an index specification.

The parser follows RediSearch 2.10 (src/spec.c ``IndexSpec_ParseFromArgCursor``,
``IndexSpec_AddFieldsInternal``, ``parseFieldSpec``, ``parseVectorField_{flat,hnsw}``;
src/rules.c ``SchemaRule_Create``) step for step, because clients see its quirks:

* Index options come in any order, a repeated one overrides the earlier; the first word that
  is not an option ends them, and must be ``SCHEMA``.
* A field's options are read while they match; the first word that does not is the next
  field's name. ``title TEXT SORTABLE WEIGHT 2`` therefore fails on a field named ``WEIGHT``,
  and nothing after a VECTOR field's parameters (but INDEXMISSING) belongs to it.
* A vector field's ``nargs`` counts names and values; parsing stops after nargs/2 pairs.

Errors carry RediSearch's text as sent (``SchemaError.message``, no ``ERR`` prefix: the
module replies with ``RedisModule_ReplyWithError``). What this module does not check:
FILTER expressions, and the vector memory limits that depend on the server's memory.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from magpie.errors import wrong_arity

__all__ = [
    "FieldSpec",
    "IndexSpec",
    "SchemaError",
    "describe_field",
    "describe_field_map",
    "field_by_name",
    "parse_alter_fields",
    "parse_create",
]


class SchemaError(Exception):
    """FT.CREATE / FT.ALTER refused its arguments; ``message`` is RediSearch's reply text."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class FieldSpec:
    name: str  # the hash field (RediSearch's "identifier", the attribute path)
    alias: str  # the AS name queries use (RediSearch's "attribute"), or == name
    type: str  # TEXT | TAG | NUMERIC | VECTOR | GEO | GEOSHAPE
    sortable: bool = False
    unf: bool = False
    noindex: bool = False
    index_empty: bool = False  # INDEXEMPTY (TEXT, TAG)
    index_missing: bool = False  # INDEXMISSING (every type)
    # TEXT
    weight: float = 1.0
    nostem: bool = False
    phonetic: str | None = None
    withsuffixtrie: bool = False
    # TAG
    separator: str = ","
    case_sensitive: bool = False
    # VECTOR
    algorithm: str | None = None  # FLAT | HNSW
    #: TYPE, DIM, DISTANCE_METRIC, then the algorithm's parameters with defaults filled in.
    vector_params: dict[str, object] = field(default_factory=dict)
    # GEOSHAPE
    coord_system: str | None = None  # SPHERICAL | FLAT


@dataclass(slots=True)
class IndexSpec:
    name: str
    on: str = "HASH"  # HASH | JSON
    prefixes: list[bytes] = field(default_factory=lambda: [b""])
    filter: str | None = None
    language: str = "english"
    language_field: str | None = None
    score: float = 1.0
    score_field: str | None = None
    payload_field: str | None = None
    #: MAXTEXTFIELDS, or set by RediSearch itself when FT.CREATE declares over 32 TEXT fields.
    max_text_fields: bool = False
    temporary: float | None = None  # seconds
    # The storage flags as RediSearch ends up with them: NOOFFSETS implies NOHL.
    no_offsets: bool = False
    no_hl: bool = False
    no_fields: bool = False
    no_freqs: bool = False
    stopwords: list[str] | None = None  # None: the default list; [] after STOPWORDS 0
    skip_initial_scan: bool = False
    fields: list[FieldSpec] = field(default_factory=list)


# -- RediSearch's limits and words -------------------------------------------------------

MAX_FIELDS = 1024  # SPEC_MAX_FIELDS
MAX_TEXT_FIELDS = 128  # SPEC_MAX_FIELD_ID with 128-bit field masks (64-bit builds)
WIDE_SCHEMA_THRESHOLD = 32  # SPEC_WIDEFIELD_THRESHOLD
MAX_PREFIXES = 1_000_000  # MAX_SCHEMA_PREFIXES
DEFAULT_BLOCK_SIZE = 1024
HNSW_DEFAULTS: dict[str, object] = {"M": 16, "EF_CONSTRUCTION": 200, "EF_RUNTIME": 10, "EPSILON": 0.01}  # fmt: skip

LANGUAGES = frozenset((
    "arabic", "armenian", "basque", "catalan", "danish", "dutch", "english", "finnish",
    "french", "german", "greek", "hindi", "hungarian", "indonesian", "irish", "italian",
    "lithuanian", "nepali", "norwegian", "portuguese", "romanian", "russian", "serbian",
    "spanish", "swedish", "tamil", "turkish", "yiddish", "chinese",
))  # fmt: skip
VECTOR_TYPES = ("FLOAT32", "FLOAT64", "FLOAT16", "BFLOAT16")
VECTOR_METRICS = ("IP", "L2", "COSINE")
PHONETIC_MATCHERS = ("dm:en", "dm:pt", "dm:fr", "dm:es")

# ArgsCursor's error texts (deps/rmutil/args.h AC_Strerror).
AC_PARSE = "Could not convert argument to expected type"
AC_NOARG = "Expected an argument, but none provided"
AC_ELIMIT = "Value is outside acceptable bounds"
AC_ENOENT = "Unknown argument"

PHONETIC_FORMAT = (
    "Matcher Format: <2 chars algorithm>:<2 chars language>. Support algorithms: double "
    "metaphone (dm). Supported languages: English (en), French (fr), Portuguese (pt) and "
    "Spanish (es)"
)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


# -- an ArgsCursor ----------------------------------------------------------------------


class _ArgError(Exception):
    """A value did not read; ``str(self)`` is the AC_Strerror text."""


_INT64_MAX = 2**63 - 1
_DOUBLE = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?)", re.I)
_STRTOD_PREFIX = re.compile(
    rb"[ \t\n\v\f\r]*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.I
)


def _redis_double(raw: bytes) -> float | None:
    """RedisModule_StringToDouble: the whole string is a strtod number, not NaN, no overflow."""
    if _DOUBLE.fullmatch(raw) is None:
        return None
    value = float(raw)
    if math.isinf(value) and b"inf" not in raw.lower():
        return None  # ERANGE overflow
    if value == 0.0 and re.search(rb"[1-9]", raw.split(b"e")[0].split(b"E")[0]):
        return None  # ERANGE underflow
    return value


class _Cursor:
    __slots__ = ("args", "pos")

    def __init__(self, args: list[bytes]) -> None:
        self.args = args
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.args)

    def peek(self) -> bytes:
        return self.args[self.pos]

    def take(self) -> bytes:
        """The next word (AC_GetString): missing is AC_ERR_NOARG."""
        if self.at_end():
            raise _ArgError(AC_NOARG)
        self.pos += 1
        return self.args[self.pos - 1]

    def advance_if(self, keyword: bytes) -> bool:
        """AC_AdvanceIfMatch: an ASCII case-insensitive match of the next word."""
        if not self.at_end() and self.args[self.pos].upper() == keyword:
            self.pos += 1
            return True
        return False

    def long_long(self, ge0: bool = False, ge1: bool = False) -> int:
        """AC_GetLongLong: a strict integer, or a double with no fractional part."""
        raw = self.take()
        try:
            value = int(raw)
            strict = str(value).encode() == raw and abs(value) <= _INT64_MAX
        except ValueError:
            strict = False
        if not strict:
            as_double = _redis_double(raw)
            if as_double is None or not math.isfinite(as_double) or not as_double.is_integer():
                raise _ArgError(AC_PARSE)
            value = int(as_double)
            if abs(value) > _INT64_MAX:
                raise _ArgError(AC_PARSE)
        if (ge0 and value < 0) or (ge1 and value < 1):
            raise _ArgError(AC_ELIMIT)
        return value

    def size(self, ge1: bool = False) -> int:
        """AC_GetSize: an unsigned integer."""
        return self.long_long(ge0=True, ge1=ge1)

    def double(self, ge0: bool = False) -> float:
        raw = self.take()
        value = _redis_double(raw)
        if value is None:
            raise _ArgError(AC_PARSE)
        if ge0 and value < 0:
            raise _ArgError(AC_ELIMIT)
        return value

    def var_args(self) -> list[bytes]:
        """AC_GetVarArgs: a count (a C unsigned) and that many words."""
        count = self.size()
        if count > 0xFFFFFFFF:
            raise _ArgError(AC_ELIMIT)
        if count > len(self.args) - self.pos:
            raise _ArgError(AC_NOARG)
        self.pos += count
        return self.args[self.pos - count : self.pos]


# -- FT.CREATE ----------------------------------------------------------------------------

_FLAGS = {
    b"NOOFFSETS": ("no_offsets", "no_hl"),
    b"NOHL": ("no_hl",),
    b"NOFIELDS": ("no_fields",),
    b"NOFREQS": ("no_freqs",),
    b"MAXTEXTFIELDS": ("max_text_fields",),
    b"SKIPINITIALSCAN": ("skip_initial_scan",),
    b"ASYNC": (),  # accepted, no effect (as in RediSearch 2.x)
    b"NOSCOREIDX": (),  # "for compatibility"
}
_STRING_OPTIONS = (
    b"ON", b"FILTER", b"SCORE", b"SCORE_FIELD", b"LANGUAGE", b"LANGUAGE_FIELD", b"PAYLOAD_FIELD",
)  # fmt: skip


def parse_create(args: list[bytes]) -> IndexSpec:
    """``args``: everything after FT.CREATE, the index name first. SchemaError on refusal.

    Whether the index already exists, and whether Magpie supports what was asked for (JSON,
    FILTER, GEOSHAPE, FLOAT16 vectors), is the caller's to decide.
    """
    if len(args) < 4:
        raise SchemaError(wrong_arity("FT.CREATE"))
    spec = IndexSpec(_text(args[0]))
    cur = _Cursor(args)
    cur.pos = 1
    strings: dict[bytes, bytes] = {}
    prefixes: list[bytes] | None = None
    stopwords: list[bytes] | None = None
    while not cur.at_end():
        option = cur.peek().upper()
        if option in _FLAGS:
            cur.pos += 1
            for attribute in _FLAGS[option]:
                setattr(spec, attribute, True)
            continue
        if option not in _STRING_OPTIONS and option not in (b"PREFIX", b"TEMPORARY", b"STOPWORDS"):
            break
        cur.pos += 1
        try:
            if option == b"PREFIX":
                prefixes = cur.var_args()
            elif option == b"STOPWORDS":
                stopwords = cur.var_args()
            elif option == b"TEMPORARY":
                spec.temporary = float(cur.long_long())
            else:
                strings[option] = cur.take()
        except _ArgError as exc:
            raise SchemaError(f"Bad arguments for {option.decode()}: {exc}") from None
    if spec.max_text_fields and spec.no_fields:
        raise SchemaError("MAXTEXTFIELDS cannot be used with NOFIELDS")
    _apply_rule(spec, strings, prefixes)
    if stopwords is not None:
        spec.stopwords = [_text(word) for word in stopwords]
    if not cur.advance_if(b"SCHEMA"):
        if cur.at_end():
            raise SchemaError("No schema found")
        raise SchemaError(f"Unknown argument `{_text(cur.peek())}`")
    if cur.at_end():
        raise SchemaError("Fields arguments are missing")
    spec.fields = _parse_fields(cur, spec, is_new=True)
    return spec


def _apply_rule(spec: IndexSpec, strings: dict[bytes, bytes], prefixes: list[bytes] | None) -> None:
    """SchemaRule_Create's checks, in its order: document type, score, language, prefixes."""
    on = strings.get(b"ON")
    if on is not None:
        if on.upper() not in (b"HASH", b"JSON"):
            raise SchemaError(f"Invalid rule type: {_text(on)}")
        spec.on = on.upper().decode()
    score = strings.get(b"SCORE")
    if score is not None:
        match = _STRTOD_PREFIX.match(score)
        value = float(match.group().strip()) if match else math.nan
        if match is None or value < 0 or value > 1:
            raise SchemaError("Invalid score")
        spec.score = value
    language = strings.get(b"LANGUAGE")
    if language is not None:
        if language.lower().decode("latin-1") not in LANGUAGES:
            raise SchemaError("Invalid language")
        spec.language = language.lower().decode()
    if prefixes:  # PREFIX 0 keeps the default: every key
        if len(prefixes) > MAX_PREFIXES:
            raise SchemaError(
                f"Number of prefixes ({len(prefixes)}) exceeds maximum allowed ({MAX_PREFIXES})"
            )
        spec.prefixes = list(prefixes)
    for option, attribute in (
        (b"FILTER", "filter"), (b"LANGUAGE_FIELD", "language_field"),
        (b"SCORE_FIELD", "score_field"), (b"PAYLOAD_FIELD", "payload_field"),
    ):  # fmt: skip
        if option in strings:
            setattr(spec, attribute, _text(strings[option]))


# -- FT.ALTER -----------------------------------------------------------------------------


def parse_alter_fields(spec: IndexSpec, args: list[bytes]) -> list[FieldSpec]:
    """``args``: what follows ``FT.ALTER <index>`` (``[SKIPINITIALSCAN] SCHEMA ADD field ...``).

    Returns the new fields, checked against the spec's (duplicates, TEXT field limits);
    ``spec`` itself is not changed, so a refused batch leaves the index as it was.
    """
    cur = _Cursor(args)
    cur.advance_if(b"SKIPINITIALSCAN")
    if not cur.advance_if(b"SCHEMA"):
        raise SchemaError("ALTER must be followed by SCHEMA")
    if not cur.advance_if(b"ADD"):
        raise SchemaError("Unknown action passed to ALTER SCHEMA")
    if cur.at_end():
        raise SchemaError("No fields provided")
    return _parse_fields(cur, spec, is_new=False)


def field_by_name(spec: IndexSpec, name: str) -> FieldSpec | None:
    """The field queries call ``name``: by alias first, then by attribute (hash field) name."""
    for f in spec.fields:
        if f.alias == name:
            return f
    for f in spec.fields:
        if f.name == name:
            return f
    return None


# -- fields -------------------------------------------------------------------------------


def _parse_fields(cur: _Cursor, spec: IndexSpec, is_new: bool) -> list[FieldSpec]:
    existing = list(spec.fields)
    added: list[FieldSpec] = []
    text_fields = sum(1 for f in existing if f.type == "TEXT" and not f.noindex)
    wide = spec.max_text_fields
    while not cur.at_end():
        if len(existing) + len(added) == MAX_FIELDS:
            raise SchemaError(f"Schema is limited to {MAX_FIELDS} fields")
        path = name = cur.take()
        has_alias = cur.advance_if(b"AS")
        if has_alias:
            if cur.at_end():
                raise SchemaError("AS requires an argument")
            name = cur.take()
        if not name:
            raise SchemaError("Field name cannot be empty")
        if b"\0" in name:
            raise SchemaError("Field name cannot contain null bytes")
        if has_alias and b"\0" in path:
            raise SchemaError("Field path cannot contain null bytes")
        alias = _text(name)
        if any(f.alias == alias for f in existing) or any(f.alias == alias for f in added):
            raise SchemaError(f"Duplicate field in schema - {alias}")
        fs = FieldSpec(_text(path), alias, "")
        _parse_field(cur, fs)
        if fs.type == "TEXT" and not fs.noindex:
            if text_fields >= MAX_TEXT_FIELDS:
                raise SchemaError(f"Schema is limited to {MAX_TEXT_FIELDS} TEXT fields")
            if text_fields >= WIDE_SCHEMA_THRESHOLD and not spec.no_fields:
                if is_new:
                    wide = True
                elif not wide:
                    raise SchemaError(
                        "Cannot add more fields. Declare index with wide fields to allow "
                        "adding unlimited fields"
                    )
            text_fields += 1
        if fs.sortable and spec.on == "JSON":
            fs.unf = True  # SORTABLE JSON fields are never normalized
        added.append(fs)
    if is_new:
        spec.max_text_fields = wide
    return added


def _parse_field(cur: _Cursor, fs: FieldSpec) -> None:
    """parseFieldSpec: the type, its options, then SORTABLE [UNF] / NOINDEX."""
    if cur.at_end():
        raise SchemaError(f"Field `{fs.alias}` does not have a type")
    kind = cur.take().upper()
    if kind in (b"TEXT", b"TAG"):
        fs.type = kind.decode()
        _parse_type_options(cur, fs)
    elif kind == b"GEOSHAPE":
        fs.type = "GEOSHAPE"
        if cur.advance_if(b"FLAT"):
            fs.coord_system = "FLAT"
        else:
            cur.advance_if(b"SPHERICAL")
            fs.coord_system = "SPHERICAL"
        fs.index_missing = cur.advance_if(b"INDEXMISSING")
    elif kind == b"VECTOR":
        fs.type = "VECTOR"
        _parse_vector(cur, fs)
        fs.index_missing = cur.advance_if(b"INDEXMISSING")
        return  # no SORTABLE / NOINDEX for vectors: the next word is the next field
    elif kind in (b"NUMERIC", b"GEO"):
        fs.type = kind.decode()
        fs.index_missing = cur.advance_if(b"INDEXMISSING")
    else:
        raise SchemaError(f"Invalid field type for field `{fs.alias}`")
    while True:
        if cur.advance_if(b"SORTABLE"):
            fs.sortable = True
            # numbers and case-sensitive tags are never normalized: implicit UNF
            if cur.advance_if(b"UNF") or fs.type == "NUMERIC" or fs.case_sensitive:
                fs.unf = True
        elif cur.advance_if(b"NOINDEX"):
            fs.noindex = True
        else:
            break
    if fs.noindex and fs.index_missing:
        raise SchemaError(
            f"'Field cannot be defined with both `NOINDEX` and `INDEXMISSING` `{fs.alias}` '"
        )


# Options that only set a flag, per type (parseTextField, parseTagField).
_TYPE_FLAGS: dict[str, dict[bytes, str]] = {
    "TEXT": {b"NOSTEM": "nostem", b"WITHSUFFIXTRIE": "withsuffixtrie"},
    "TAG": {b"CASESENSITIVE": "case_sensitive", b"WITHSUFFIXTRIE": "withsuffixtrie"},
}
for _flags in _TYPE_FLAGS.values():
    _flags.update({b"INDEXEMPTY": "index_empty", b"INDEXMISSING": "index_missing"})


def _parse_type_options(cur: _Cursor, fs: FieldSpec) -> None:
    """TEXT's and TAG's own options, read while the next word is one of them."""
    flags = _TYPE_FLAGS[fs.type]
    while not cur.at_end():
        word = cur.peek().upper()
        if word in flags:
            cur.pos += 1
            setattr(fs, flags[word], True)
        elif fs.type == "TEXT" and cur.advance_if(b"WEIGHT"):
            try:
                fs.weight = cur.double()
            except _ArgError as exc:
                raise SchemaError(f"Bad arguments for weight: {exc}") from None
        elif fs.type == "TEXT" and cur.advance_if(b"PHONETIC"):
            if cur.at_end():
                raise SchemaError("PHONETIC requires an argument")
            fs.phonetic = _text(cur.take())
            if fs.phonetic not in PHONETIC_MATCHERS:
                raise SchemaError(PHONETIC_FORMAT)
        elif fs.type == "TAG" and cur.advance_if(b"SEPARATOR"):
            if cur.at_end():
                raise SchemaError("SEPARATOR requires an argument")
            separator = cur.take().split(b"\0", 1)[0]  # C reads up to the first NUL
            if len(separator) != 1:
                raise SchemaError(
                    f"Tag separator must be a single character. Got `{_text(separator)}`"
                )
            fs.separator = _text(separator)
        else:
            break


# name -> (how the value reads, the C reader's flags); per algorithm, as RediSearch 2.10.
_VECTOR_PARAMS: dict[str, dict[bytes, str]] = {
    "FLAT": {b"INITIAL_CAP": "size", b"BLOCK_SIZE": "size>=1"},
    "HNSW": {
        b"INITIAL_CAP": "size", b"M": "size>=1", b"EF_CONSTRUCTION": "size>=1",
        b"EF_RUNTIME": "size>=1", b"EPSILON": "double>=0",
    },
}  # fmt: skip
_ODD_NARGS = {
    "HNSW": "Bad number of arguments for vector similarity index: got {} but expected even "
    "number (as algorithm parameters should be submitted as named arguments)",
    "FLAT": "Bad number of arguments for vector similarity index: got {} but expected even "
    "number as algorithm parameters (should be submitted as named arguments)",
}


def _parse_vector(cur: _Cursor, fs: FieldSpec) -> None:
    """``FLAT|HNSW nargs name value ...``; fills the algorithm's defaults into vector_params."""
    try:
        algorithm = cur.take().upper().decode("latin-1")
    except _ArgError as exc:
        raise SchemaError(f"Bad arguments for vector similarity algorithm: {exc}") from None
    if algorithm not in _VECTOR_PARAMS:
        raise SchemaError(f"Bad arguments for vector similarity algorithm: {AC_ENOENT}")
    fs.algorithm = algorithm
    try:
        nargs = cur.size()
    except _ArgError as exc:
        raise SchemaError(
            f"Bad arguments for vector similarity number of parameters: {exc}"
        ) from None
    if nargs % 2:
        raise SchemaError(_ODD_NARGS[algorithm].format(nargs))
    expected, parsed = nargs // 2, 0
    given: dict[str, object] = {}
    optional = _VECTOR_PARAMS[algorithm]
    while expected > parsed and not cur.at_end():
        raw_name = cur.take()
        name = raw_name.upper()
        try:
            if name == b"TYPE":
                value: object = cur.take().upper().decode("latin-1")
                if value not in VECTOR_TYPES:
                    raise _ArgError(AC_ENOENT)
            elif name == b"DIM":
                value = cur.size(ge1=True)
            elif name == b"DISTANCE_METRIC":
                value = cur.take().upper().decode("latin-1")
                if value not in VECTOR_METRICS:
                    raise _ArgError(AC_ENOENT)
            elif name in optional:
                kind = optional[name]
                value = (
                    cur.double(ge0=True) if kind == "double>=0" else cur.size(ge1=kind == "size>=1")
                )
            else:
                raise SchemaError(f"Bad arguments for algorithm {algorithm}: {_text(raw_name)}")
        except _ArgError as exc:
            raise SchemaError(
                f"Bad arguments for vector similarity {algorithm} index `{name.decode()}`: {exc}"
            ) from None
        given[name.decode()] = value
        parsed += 1
    if expected > parsed:
        raise SchemaError(f"Expected {expected * 2} parameters but got {parsed * 2}")
    for mandatory in ("TYPE", "DIM", "DISTANCE_METRIC"):
        if mandatory not in given:
            raise SchemaError(
                f"Missing mandatory parameter: cannot create {algorithm} index without "
                f"specifying {mandatory} argument"
            )
    params: dict[str, object] = {k: given[k] for k in ("TYPE", "DIM", "DISTANCE_METRIC")}
    if "INITIAL_CAP" in given:
        params["INITIAL_CAP"] = given["INITIAL_CAP"]
    if algorithm == "HNSW":
        for key, default in HNSW_DEFAULTS.items():
            params[key] = given.get(key, default)
        params["EPSILON"] = float(params["EPSILON"])  # type: ignore[arg-type]
    else:
        params["BLOCK_SIZE"] = given.get("BLOCK_SIZE", DEFAULT_BLOCK_SIZE)
    fs.vector_params = params


# -- FT.INFO ------------------------------------------------------------------------------


def _field_flags(f: FieldSpec) -> list[str]:
    """The flags FT.INFO lists after a field's values, in RediSearch's order."""
    flags = []
    for present, flag in (
        (f.type == "TAG" and f.case_sensitive, "CASESENSITIVE"), (f.sortable, "SORTABLE"),
        (f.unf, "UNF"), (f.nostem, "NOSTEM"), (f.noindex, "NOINDEX"),
        (f.withsuffixtrie, "WITHSUFFIXTRIE"), (f.index_empty, "INDEXEMPTY"),
        (f.index_missing, "INDEXMISSING"),
    ):  # fmt: skip
        if present:
            flags.append(flag)
    return flags


def _field_values(f: FieldSpec) -> list[tuple[str, object]]:
    values: list[tuple[str, object]] = [("identifier", f.name), ("attribute", f.alias), ("type", f.type)]  # fmt: skip
    if f.type == "TEXT":
        values.append(("WEIGHT", float(f.weight)))
    elif f.type == "TAG":
        values.append(("SEPARATOR", f.separator))
    elif f.type == "GEOSHAPE":
        values.append(("coord_system", f.coord_system or "SPHERICAL"))
    elif f.type == "VECTOR":
        p = f.vector_params
        values += [
            ("algorithm", str(f.algorithm)), ("data_type", str(p.get("TYPE"))),
            ("dim", int(p.get("DIM", 0))),  # type: ignore[call-overload]
            ("distance_metric", str(p.get("DISTANCE_METRIC"))),
        ]  # fmt: skip
        if f.algorithm == "HNSW":
            values.append(("M", int(p.get("M", HNSW_DEFAULTS["M"]))))  # type: ignore[call-overload]
            values.append(
                ("ef_construction", int(p.get("EF_CONSTRUCTION", HNSW_DEFAULTS["EF_CONSTRUCTION"])))  # type: ignore[call-overload]
            )
    return values


def describe_field(f: FieldSpec) -> list[object]:
    """One entry of FT.INFO's ``attributes`` in RESP2: names and values, then bare flags.

    ``str`` items are simple strings, ``float`` the WEIGHT (a double: ``"1"`` in RESP2),
    ``int`` dim/M/ef_construction, as RediSearch replies them. For example
    ``["identifier", "title", "attribute", "title", "type", "TEXT", "WEIGHT", 1.0, "SORTABLE"]``.
    """
    out: list[object] = []
    for key, value in _field_values(f):
        out += [key, value]
    out += _field_flags(f)
    return out


def describe_field_map(f: FieldSpec) -> dict[str, object]:
    """The same entry in RESP3, where RediSearch sends a map whose ``flags`` is an array."""
    out: dict[str, object] = dict(_field_values(f))
    out["flags"] = _field_flags(f)
    return out
