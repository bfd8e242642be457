"""Argument lists for the command fuzzer, from the argument trees of ``COMMAND DOCS``.

An argument tree is what Redis 7's ``COMMAND DOCS`` reports under ``arguments`` (decoded to
``str``): each node has a ``name`` and a ``type`` (``key``, ``string``, ``integer``,
``double``, ``pattern``, ``unix-time``, ``pure-token``, ``oneof``, ``block``), maybe a
``token`` to write before it, ``flags`` (``optional``, ``multiple``, ``multiple_token``)
and, for ``oneof`` and ``block``, child ``arguments``. The RediSearch commands are described
here in the same shape (``FT_ARGUMENTS``), with a few extra types of their own (an index
name, a query, an expression, a ``counted`` list written after its length).

``ArgumentMaker`` turns a tree into one argument list that mostly follows the grammar (so
commands get past their parsers into the code behind them), and damages it often: values
swapped for hostile ones, tokens duplicated or moved, arguments dropped or added past the
declared arity. Everything is drawn from the ``random.Random`` it is given, and nothing
depends on the server's replies, so a seed always produces the same commands.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

Arg = dict[str, object]

# -- values ------------------------------------------------------------------------------

#: Numbers at and just past every boundary a parser has: int64, uint64, doubles, zeros.
BOUNDARY_NUMBERS = [
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
    b"-9223372036854775809", b"18446744073709551615", b"18446744073709551616",
    b"1e308", b"-1e308", b"1e309", b"5e-324", b"nan", b"NaN", b"-nan", b"inf", b"-inf", b"+inf",
    b"infinity", b"-0", b"-0.0", b"+0", b"0x10", b"1e3", b"01", b"+1", b" 1", b"1 ", b"1.",
    b".5", b"1e", b"--1", b"0b1", b"1_000", b"2147483648", b"-2147483649",
]  # fmt: skip
#: Strings that mean something to some parser (ranges, globs, query syntax) or to none.
HOSTILE_STRINGS = [
    b"", b"\x00", b"\x00\xff\xfe\x80\r\n", b"\r\n", b"\xc3\xbc\xe2\x82\xac", b"\xff" * 8,
    b"(", b"[", b"(1", b"[a", b"(a", b"-", b"+", b"*", b"?", b"\\", b"[^", b"[a-", b"{", b"}",
    b"$", b"%", b"@", b"|", b"a b", b"-" * 40, b"*" * 40, b"\\" * 9, b"%%%", b"@@", b"{}",
]  # fmt: skip
SMALL_INTEGERS = [b"-3", b"-2", b"-1", b"0", b"1", b"2", b"3", b"4", b"5", b"7", b"10", b"20", b"100"]
DOUBLES = [b"0", b"1", b"-1", b"2.5", b"-2.5", b"0.5", b"3", b"1e-3", b"(1", b"(2.5", b"(-1"]
LEX_BOUNDS = [b"-", b"+", b"[a", b"(a", b"[m1", b"(m5", b"[", b"(", b"a", b"[\xff", b"[z"]
GLOBS = [b"*", b"*a*", b"k?y", b"[a-z]*", b"str:*", b"doc:*", b"\\*", b"[", b"[^a]", b"**", b"*\\"]
BITFIELD_TYPES = [b"u8", b"i8", b"u1", b"i1", b"u63", b"i64", b"u64", b"i65", b"u0", b"x8", b"#1", b"8"]
#: Absolute times, fixed so that a seed always gives the same commands: past, far future.
UNIX_TIMES = [b"1", b"1000000000", b"4102444800", b"4102444800000", b"0", b"-1"]
BLOB_SIZES = (4096, 5000, 65536, 1 << 20)  # 5000 digits: more than int() reads


@dataclass
class Vocabulary:
    """The names a generated command can refer to: keys by type, members, fields, indexes."""

    keys_by_type: dict[str, list[bytes]]
    members: list[bytes]
    channels: list[bytes] = field(default_factory=lambda: [b"ch", b"news.*", b"ch2"])
    indexes: list[bytes] = field(default_factory=lambda: [b"fuzzidx"])
    index_fields: list[bytes] = field(default_factory=list)
    queries: list[bytes] = field(default_factory=list)
    expressions: list[bytes] = field(default_factory=list)
    vector_blob: bytes = b""

    def all_keys(self) -> list[bytes]:
        return [key for keys in self.keys_by_type.values() for key in keys]


#: Which keys a command family wants most (a WRONGTYPE is a short trip through the code).
_GROUP_TYPES = {
    "string": ("string",), "bitmap": ("string",), "list": ("list",), "hash": ("hash",),
    "set": ("set",), "sorted-set": ("zset",), "search": ("hash",),
}  # fmt: skip


class Values:
    """Argument values of each kind, from one ``random.Random``."""

    def __init__(self, rng: random.Random, vocabulary: Vocabulary) -> None:
        self.rng = rng
        self.vocab = vocabulary
        self._all_keys = vocabulary.all_keys()

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, options: Sequence[bytes]) -> bytes:
        return self.rng.choice(options)

    def hostile(self) -> bytes:
        """A value no parser expects: a boundary number, an odd string, random or huge bytes."""
        roll = self.rng.random()
        if roll < 0.45:
            return self.pick(BOUNDARY_NUMBERS)
        if roll < 0.85:
            return self.pick(HOSTILE_STRINGS)
        if roll < 0.995:
            return self.rng.randbytes(self.rng.randrange(1, 40))
        return self.huge()

    def huge(self) -> bytes:
        size = self.rng.choice(BLOB_SIZES)
        return self.rng.choice([b"x", b"7", b"\x00", b"a,"]) * size

    def key(self, group: str) -> bytes:
        rng = self.rng
        roll = rng.random()
        wanted = _GROUP_TYPES.get(group)
        if wanted and roll < 0.6:
            return rng.choice(self.vocab.keys_by_type[rng.choice(wanted)])
        if roll < 0.85:
            return rng.choice(self._all_keys)
        if roll < 0.95:
            return b"new:%d" % rng.randrange(6)
        return self.hostile()

    def integer(self, name: str) -> bytes:
        roll = self.rng.random()
        if roll < 0.8:
            return self.pick(SMALL_INTEGERS)
        if roll < 0.9:
            return self.pick([b"1000", b"4096", b"65536", b"-1000"])
        return self.hostile()

    def double(self, name: str) -> bytes:
        roll = self.rng.random()
        if roll < 0.5:
            return self.pick(DOUBLES)
        if roll < 0.75:
            return self.pick(SMALL_INTEGERS)
        return self.pick(BOUNDARY_NUMBERS) if roll < 0.95 else self.hostile()

    def timeout(self) -> bytes:
        """Blocking commands: mostly a short wait, sometimes forever or nonsense."""
        roll = self.rng.random()
        if roll < 0.85:
            return self.pick([b"0.01", b"0.02", b"0.001", b"0.05"])
        if roll < 0.9:
            return b"0"
        return self.hostile()

    def string(self, name: str, command: str) -> bytes:
        """A string argument, shaped by what its name says it is."""
        rng = self.rng
        if rng.random() < 0.15:
            return self.hostile()
        lowered = name.lower()
        if command.endswith("LEX") and lowered in ("min", "max", "start", "stop"):
            return self.pick(LEX_BOUNDS)
        if lowered in ("min", "max", "start", "stop"):
            return self.pick(DOUBLES + LEX_BOUNDS + SMALL_INTEGERS)
        if lowered == "encoding":
            return self.pick(BITFIELD_TYPES)
        if "channel" in lowered or "pattern" in lowered:
            return rng.choice(self.vocab.channels)
        if lowered in ("cursor",):
            return self.pick([b"0", b"1", b"17", b"-1"])
        if rng.random() < 0.1:
            return rng.choice(self._all_keys)
        return rng.choice(self.vocab.members)

    def pattern(self) -> bytes:
        return self.pick(GLOBS) if self.rng.random() < 0.85 else self.hostile()

    def unix_time(self) -> bytes:
        return self.pick(UNIX_TIMES) if self.rng.random() < 0.8 else self.hostile()

    def of_type(self, kind: str, name: str, command: str, group: str) -> bytes:
        rng = self.rng
        if kind == "key":
            return self.key(group)
        if name == "timeout" and command.startswith("B"):
            return self.timeout()
        if kind == "integer":
            return self.integer(name)
        if kind == "double":
            return self.double(name)
        if kind == "pattern":
            return self.pattern()
        if kind == "unix-time":
            return self.unix_time()
        if kind == "ft-index":
            return rng.choice(self.vocab.indexes) if rng.random() < 0.9 else self.hostile()
        if kind == "ft-field":
            return rng.choice(self.vocab.index_fields) if rng.random() < 0.85 else self.hostile()
        if kind == "ft-query":
            return rng.choice(self.vocab.queries) if rng.random() < 0.85 else self.hostile()
        if kind == "ft-expression":
            return rng.choice(self.vocab.expressions) if rng.random() < 0.85 else self.hostile()
        if kind == "ft-param":
            return self.pick([b"B", b"K", b"tag", b"q"]) if rng.random() < 0.9 else self.hostile()
        if kind == "ft-blob":
            roll = rng.random()
            if roll < 0.6:
                return self.vocab.vector_blob
            return self.pick([b"3", b"a", b"hello", b"0"]) if roll < 0.9 else self.hostile()
        return self.string(name, command)


# -- argument trees --------------------------------------------------------------------------


def flags_of(arg: Arg) -> frozenset[str]:
    return frozenset(arg.get("flags", ()))  # type: ignore[arg-type]


def tokens_of(arguments: Sequence[Arg]) -> list[bytes]:
    """Every token a tree mentions, in order (for the chaotic argument lists)."""
    out: list[bytes] = []
    stack = list(reversed(arguments))
    while stack:
        arg = stack.pop()
        token = arg.get("token")
        if isinstance(token, str) and token:
            out.append(token.encode())
        stack.extend(reversed(arg.get("arguments", ())))  # type: ignore[arg-type]
    return out


@dataclass
class Target:
    """One command or subcommand to call: its words, arity as COMMAND reports it, flags."""

    words: tuple[bytes, ...]
    arity: int
    flags: frozenset[str]
    group: str
    arguments: list[Arg]
    tokens: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tokens = tokens_of(self.arguments)

    @property
    def name(self) -> str:
        return b" ".join(self.words).decode().upper()


#: Integer arguments that count the repetitions of the (multiple) argument after them.
_COUNT_NAMES = ("numkeys", "numfields", "numsamples", "count", "nargs", "num")


class ArgumentMaker:
    """Argument lists for targets: grammatical, chaotic, and grammatical then damaged."""

    def __init__(self, rng: random.Random, values: Values) -> None:
        self.rng = rng
        self.values = values

    def make(self, target: Target) -> list[bytes]:
        """The full argv (command words first) for one call of ``target``."""
        roll = self.rng.random()
        if not target.arguments or roll < 0.15:
            args = self.chaotic(target)
        else:
            args = self.grammatical(target)
            if roll < 0.55:
                args = self.damaged(args, target)
        return [*target.words, *args]

    # -- following the grammar ---------------------------------------------------------

    def grammatical(self, target: Target) -> list[bytes]:
        out: list[bytes] = []
        self._sequence(target.arguments, target, out)
        return out

    def _sequence(self, arguments: Sequence[Arg], target: Target, out: list[bytes]) -> None:
        i = 0
        while i < len(arguments):
            arg = arguments[i]
            following = arguments[i + 1] if i + 1 < len(arguments) else None
            if self._is_count(arg, following):
                assert following is not None
                items: list[bytes] = []
                repeats = self._emit(following, target, items)
                count = repeats if self.rng.random() < 0.9 else repeats + self.rng.choice((-1, 1, 5))
                if arg.get("token"):
                    out.append(str(arg["token"]).encode())
                out.append(str(count).encode())
                out.extend(items)
                i += 2
                continue
            self._emit(arg, target, out)
            i += 1

    @staticmethod
    def _is_count(arg: Arg, following: Arg | None) -> bool:
        return (
            following is not None
            and arg.get("type") == "integer"
            and str(arg.get("name", "")).lower() in _COUNT_NAMES
            and "multiple" in flags_of(following)
            and "optional" not in flags_of(arg)
        )

    def _emit(self, arg: Arg, target: Target, out: list[bytes]) -> int:
        """Write ``arg`` (maybe skipped if optional, maybe repeated if multiple); how many times."""
        flags = flags_of(arg)
        rng = self.rng
        if "optional" in flags and rng.random() < 0.5:
            return 0
        repeats = 1
        if "multiple" in flags:
            repeats = rng.choice((1, 1, 2, 3, 5)) if rng.random() < 0.97 else rng.randrange(20, 200)
        token = arg.get("token")
        each_token = "multiple_token" in flags
        if token and arg.get("type") != "pure-token" and not each_token:
            out.append(str(token).encode())
        for _ in range(repeats):
            if token and (arg.get("type") == "pure-token" or each_token):
                out.append(str(token).encode())
            self._one(arg, target, out)
        return repeats

    def _one(self, arg: Arg, target: Target, out: list[bytes]) -> None:
        kind = str(arg.get("type", "string"))
        children: list[Arg] = arg.get("arguments", [])  # type: ignore[assignment]
        if kind == "pure-token":
            return
        if kind == "block":
            self._sequence(children, target, out)
        elif kind == "oneof":
            if children:
                self._emit({**self.rng.choice(children), "flags": ()}, target, out)
        elif kind == "counted":  # FT: a count, then that many repetitions of the children
            n = self.rng.choice((0, 1, 1, 2, 3))
            items: list[bytes] = []
            for _ in range(n):
                self._sequence(children, target, items)
            written = len(items) if arg.get("counts") == "words" else n
            if self.rng.random() < 0.08:
                written += self.rng.choice((-1, 1, 3))
            out.append(str(written).encode())
            out.extend(items)
        else:
            out.append(self.values.of_type(kind, str(arg.get("name", "")), target.name, target.group))

    # -- chaos and damage ----------------------------------------------------------------

    def chaotic(self, target: Target) -> list[bytes]:
        """Random values, as many as the arity asks for, fewer, or many more."""
        rng = self.rng
        declared = abs(target.arity) - len(target.words)
        count = max(0, declared + rng.choice((-1, 0, 0, 1, 2, 3, 5)))
        if rng.random() < 0.02:
            count += rng.randrange(50, 300)
        return [self._any(target) for _ in range(count)]

    def _any(self, target: Target) -> bytes:
        rng = self.rng
        roll = rng.random()
        if target.tokens and roll < 0.3:
            return rng.choice(target.tokens)
        if roll < 0.55:
            return self.values.key(target.group)
        if roll < 0.7:
            return self.values.integer("")
        if roll < 0.8:
            return self.values.string("", target.name)
        return self.values.hostile()

    def damaged(self, args: list[bytes], target: Target) -> list[bytes]:
        """One to three edits: replace, drop, duplicate, swap, insert a token, append junk."""
        rng = self.rng
        args = list(args)
        for _ in range(rng.choice((1, 1, 2, 3))):
            edit = rng.random()
            if args and edit < 0.3:
                args[rng.randrange(len(args))] = self.values.hostile()
            elif args and edit < 0.45:
                del args[rng.randrange(len(args))]
            elif args and edit < 0.6:
                i = rng.randrange(len(args))
                args[i:i] = args[i : i + rng.choice((1, 2))]
            elif len(args) > 1 and edit < 0.7:
                i, j = rng.randrange(len(args)), rng.randrange(len(args))
                args[i], args[j] = args[j], args[i]
            elif target.tokens and edit < 0.85:
                args.insert(rng.randrange(len(args) + 1), rng.choice(target.tokens))
            else:
                args.extend(self._any(target) for _ in range(rng.choice((1, 2, 4))))
        return args


# -- the RediSearch commands (and DEBUG), in COMMAND DOCS's shape ----------------------------------------


def _a(name: str, kind: str = "string", token: str | None = None, *flags: str) -> Arg:
    arg: Arg = {"name": name, "type": kind, "flags": list(flags)}
    if token:
        arg["token"] = token
    return arg


def _tok(token: str, *flags: str) -> Arg:
    return _a(token.lower(), "pure-token", token, *flags)


def _opt(arg: Arg) -> Arg:
    return {**arg, "flags": [*flags_of(arg), "optional"]}


def _block(name: str, *children: Arg, token: str | None = None, flags: Sequence[str] = ()) -> Arg:
    arg = _a(name, "block", token, *flags)
    arg["arguments"] = list(children)
    return arg


def _oneof(name: str, *children: Arg, token: str | None = None, flags: Sequence[str] = ()) -> Arg:
    arg = _a(name, "oneof", token, *flags)
    arg["arguments"] = list(children)
    return arg


def _counted(name: str, *children: Arg, token: str | None = None, words: bool = False) -> Arg:
    """``token n item...``: n counts the items, or (``words``) the words they take."""
    arg = _a(name, "counted", token, "optional")
    arg["arguments"] = list(children)
    if words:
        arg["counts"] = "words"
    return arg


_INDEX = _a("index", "ft-index")
_QUERY = _a("query", "ft-query")
_FIELD = _a("field", "ft-field")
_DIALECT = _opt(_a("dialect", "integer", "DIALECT"))
_PARAMS = _counted("params", _a("name", "ft-param"), _a("value", "ft-blob"), token="PARAMS", words=True)
_VECTOR_PARAMS = _oneof(
    "vector_param",
    _block("type", _tok("TYPE"), _oneof("t", _tok("FLOAT32"), _tok("FLOAT64"), _tok("FLOAT16"))),
    _block("dim", _tok("DIM"), _a("dim", "integer")),
    _block("metric", _tok("DISTANCE_METRIC"), _oneof("m", _tok("L2"), _tok("IP"), _tok("COSINE"))),
    *(_a(p.lower(), "integer", p) for p in ("M", "EF_CONSTRUCTION", "EF_RUNTIME", "INITIAL_CAP", "BLOCK_SIZE")),
    _a("epsilon", "double", "EPSILON"),
)
_FIELD_TYPE = _oneof(
    "type",
    _block("text", _tok("TEXT"), _opt(_tok("NOSTEM")), _opt(_a("weight", "double", "WEIGHT")),
           _opt(_a("phonetic", "string", "PHONETIC")), _opt(_tok("WITHSUFFIXTRIE"))),  # fmt: skip
    _block("tag", _tok("TAG"), _opt(_a("separator", "string", "SEPARATOR")), _opt(_tok("CASESENSITIVE"))),
    _tok("NUMERIC"),
    _tok("GEO"),
    _block("vector", _tok("VECTOR"), _oneof("algorithm", _tok("FLAT"), _tok("HNSW")),
           _counted("attributes", _VECTOR_PARAMS, words=True)),  # fmt: skip
)
_SCHEMA_FIELD = _block(
    "field", _FIELD, _opt(_a("alias", "ft-field", "AS")), _FIELD_TYPE,
    _opt(_tok("SORTABLE")), _opt(_tok("UNF")), _opt(_tok("NOINDEX")), _opt(_tok("INDEXMISSING")),
    _opt(_tok("INDEXEMPTY")),
    flags=("multiple",),
)  # fmt: skip
_LIMIT = _opt(_block("limit", _a("offset", "integer"), _a("num", "integer"), token="LIMIT"))
_REDUCERS = ("COUNT", "COUNT_DISTINCT", "COUNT_DISTINCTISH", "SUM", "MIN", "MAX", "AVG", "STDDEV",
             "QUANTILE", "TOLIST", "FIRST_VALUE", "RANDOM_SAMPLE", "NOSUCH")  # fmt: skip

#: Argument trees for what COMMAND DOCS describes nowhere (no RediSearch at hand, DEBUG).
EXTRA_ARGUMENTS: dict[str, list[Arg]] = {
    "ft.create": [
        _a("index", "string"),
        _opt(_oneof("on", _tok("HASH"), _tok("JSON"), token="ON")),
        _counted("prefix", _a("prefix", "string"), token="PREFIX"),
        _opt(_a("filter", "ft-expression", "FILTER")),
        _opt(_a("language", "string", "LANGUAGE")),
        _opt(_a("score", "double", "SCORE")),
        _opt(_a("score_field", "ft-field", "SCORE_FIELD")),
        _opt(_tok("NOOFFSETS")), _opt(_tok("NOHL")), _opt(_tok("NOFIELDS")), _opt(_tok("NOFREQS")),
        _counted("stopwords", _a("word", "string"), token="STOPWORDS"),
        _opt(_tok("SKIPINITIALSCAN")),
        _tok("SCHEMA"),
        _SCHEMA_FIELD,
    ],  # fmt: skip
    "ft.alter": [_INDEX, _opt(_tok("SKIPINITIALSCAN")), _tok("SCHEMA"), _tok("ADD"), _SCHEMA_FIELD],
    "ft.dropindex": [_INDEX, _opt(_tok("DD"))],
    "ft.info": [_INDEX],
    "ft.tagvals": [_INDEX, _FIELD],
    "ft.explain": [_INDEX, _QUERY, _DIALECT],
    "ft.search": [
        _INDEX, _QUERY,
        *(_opt(_tok(t)) for t in ("NOCONTENT", "VERBATIM", "NOSTOPWORDS", "WITHSCORES", "WITHSORTKEYS")),
        _opt(_block("filter", _FIELD, _a("min", "double"), _a("max", "double"), token="FILTER",
                    flags=("multiple_token",))),  # fmt: skip
        _counted("inkeys", _a("key", "key"), token="INKEYS"),
        _counted("infields", _FIELD, token="INFIELDS"),
        _counted("return", _FIELD, _opt(_a("as", "ft-field", "AS")), token="RETURN", words=True),
        _opt(_a("slop", "integer", "SLOP")), _opt(_a("timeout", "integer", "TIMEOUT")),
        _opt(_tok("INORDER")), _opt(_a("language", "string", "LANGUAGE")),
        _opt(_a("scorer", "string", "SCORER")),
        _opt(_block("sortby", _FIELD, _opt(_oneof("order", _tok("ASC"), _tok("DESC"))), token="SORTBY")),
        _LIMIT, _PARAMS, _DIALECT,
    ],  # fmt: skip
    "ft.aggregate": [
        _INDEX, _QUERY, _opt(_tok("VERBATIM")),
        _counted("load", _FIELD, token="LOAD"),
        _opt(_a("timeout", "integer", "TIMEOUT")),
        _opt(_block("groupby",
                    _counted("groupby", _FIELD, token="GROUPBY"),
                    _opt(_block("reduce", _tok("REDUCE"), _oneof("f", *map(_tok, _REDUCERS)),
                                _counted("args", _FIELD), _opt(_a("as", "ft-field", "AS")),
                                flags=("multiple",))))),  # fmt: skip
        _counted("sortby", _FIELD, _opt(_oneof("order", _tok("ASC"), _tok("DESC"))), token="SORTBY", words=True),
        _opt(_block("apply", _a("expression", "ft-expression"), _a("as", "ft-field", "AS"), token="APPLY",
                    flags=("multiple_token",))),  # fmt: skip
        _LIMIT,
        _opt(_a("filter", "ft-expression", "FILTER")),
        _opt(_block("cursor", _tok("WITHCURSOR"), _opt(_a("count", "integer", "COUNT")),
                    _opt(_a("maxidle", "integer", "MAXIDLE")))),  # fmt: skip
        _PARAMS, _DIALECT, _opt(_tok("ADDSCORES")),
    ],  # fmt: skip
    "ft.cursor|read": [_INDEX, _a("cursor_id", "integer"), _opt(_a("count", "integer", "COUNT"))],
    "ft.cursor|del": [_INDEX, _a("cursor_id", "integer")],
    "ft.config": [_oneof("op", _block("get", _tok("GET"), _a("option", "string")),
                         _block("set", _tok("SET"), _a("option", "string"), _a("value", "string")))],  # fmt: skip
    "ft.debug": [_tok("VECSIM_INFO"), _INDEX, _FIELD],
    "ft._list": [],
    # Magpie's DEBUG (Redis documents no arguments for it)
    "debug": [_oneof(
        "subcommand", _tok("HELP"), _block("log", _tok("LOG"), _a("message")),
        _block("object", _tok("OBJECT"), _a("key", "key")),
        _block("expire", _tok("SET-ACTIVE-EXPIRE"), _oneof("on", _tok("0"), _tok("1"))),
        _tok("CHANGE-REPL-ID"), _tok("CHECK-INVARIANTS"), _tok("PROPAGATED"),
        _block("record", _tok("RECORD-PROPAGATION"), _oneof("on", _tok("on"), _tok("off"))),
        _block("sleep", _tok("SLEEP"), _a("seconds", "double")),
        _block("reload", _tok("RELOAD"), _opt(_oneof("option", _tok("NOSAVE"), _tok("NOFLUSH"), _tok("MERGE")))),
    )],
}


def vector_blob(dim: int) -> bytes:
    return struct.pack(f"<{dim}f", *(0.5 * i for i in range(dim)))
