"""The tokens of a RediSearch query and the values they carry.

* The lexer (src/query_parser/v2/lexer.rl). Ragel's scanner takes the longest match and,
  on a tie, the pattern listed first; `lex` does the same with one regular expression (or
  a small scan, for quoted strings) per pattern. Each token also records what RediSearch's
  syntax errors print for it: the lexer reuses one token struct, so a punctuation token
  shows the text of the token before it.
* RediSearch's conversions of token and parameter text (src/util/strconv.h, fast_float,
  numeric_filter.c's parseDoubleRange), its unescaping, and the checks on attribute values
  (query.c's QueryNode_ApplyAttribute) and on vector search parameters (VecSim).

`magpie.search.query` builds the tree from these; the split keeps the grammar apart from
the character-level rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, NoReturn, TypeVar

from magpie.search.query_ast import Attributes

T = TypeVar("T")

__all__ = [
    "FLOAT_RE", "QT_NUMERIC", "QT_OTHER", "QT_TERM", "SPACE", "VECTOR_ATTRIBUTES", "ParamRef",
    "Params", "QuerySyntaxError", "Token", "apply_attribute", "check_vector_params", "decode",
    "first_param", "lex", "normalize", "parse_double", "parse_integer", "parse_range_bound",
    "positive_double", "positive_int", "split_phrase", "strtod_prefix", "unescape", "unescape_tag",
]  # fmt: skip


class QuerySyntaxError(Exception):
    """A query RediSearch refuses; ``message`` is RediSearch's error text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------
# Lexer

_PUNCT = r"!-/:-@\[-`{-~"
SPACE = "\t\n\v\f\r "
_PUNCT_OR_SPACE = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" + SPACE)
_TERM = rf"(?:[^\x00-\x20\x7f{_PUNCT}]|_|\\[{_PUNCT}{SPACE}])+"
_NUMBER = r"[+-]?(?:[0-9]+\.[0-9]+|[0-9]+\.|[0-9]+|\.[0-9]+)(?:[eE]['+-]?[0-9]+)?"
_INF = r"[+-]?[iI][nN][fF]"
_ATTR = rf"\${_TERM}"
_VALUE = rf"(?:{_NUMBER}|{_INF}|[+-]?{_ATTR})"

_RE_SIZE = re.compile(r"[0-9]+")
_RE_NUMBER = re.compile(_NUMBER)
_RE_INF = re.compile(_INF)
_RE_TERM = re.compile(_TERM)
_RE_MOD = re.compile("@" + _TERM)
_RE_ATTR = re.compile(_ATTR)
_RE_OPS = [
    (kind, re.compile(rf"@{_TERM}[{SPACE}]*{re.escape(op)}[{SPACE}]*{_VALUE}"), op)
    for kind, op in (("NE", "!="), ("EQ", "=="), ("GT", ">"), ("GE", ">="), ("LT", "<"), ("LE", "<="))
]  # fmt: skip
_RE_PREFIX = [re.compile(p + r"\*") for p in (_TERM, _NUMBER, _ATTR)]
_RE_SUFFIX = [re.compile(r"\*" + p) for p in (_TERM, _NUMBER, _ATTR)]
_RE_CONTAINS = [re.compile(r"\*" + p + r"\*") for p in (_TERM, _NUMBER, _ATTR)]
_SINGLE = {
    '"': "QUOTE", "|": "OR", "(": "LP", ")": "RP", "{": "LB", "}": "RB", ":": "COLON",
    ";": "SEMICOLON", "-": "MINUS", "~": "TILDE", "*": "STAR", "%": "PERCENT", "[": "LSQB",
    "]": "RSQB",
}  # fmt: skip
QT_TERM, QT_NUMERIC, QT_OTHER = 0, 2, 6  # RediSearch's QueryToken types, as far as errors care


@dataclass(slots=True)
class Token:
    """One token as RediSearch's lexer pushes it to the grammar."""

    kind: str
    pos: int  # character offset; reported as a byte offset
    text: str = ""  # the value: a name without @ or $, the inside of quotes, ...
    near: str = ""  # what "Syntax error ... near" prints for this token
    num: float = 0.0
    param: bool = False  # an affix or wildcard whose value is a $param
    sign: int = 1
    qtype: int = QT_TERM  # the lexer's token type, which field errors print by


def _longest(regexes: Sequence[re.Pattern[str]], text: str, i: int) -> int:
    best = 0
    for regex in regexes:
        m = regex.match(text, i)
        if m and m.end() - i > best:
            best = m.end() - i
    return best


def _exact_ends(text: str, i: int) -> list[int]:
    """Where a quoted string opened at ``i`` may end: ``\\"`` inside may be content or not."""
    quote, ends, j = text[i], [], i + 1
    while j < len(text):
        if text[j] == quote:
            if j > i + 1:
                ends.append(j + 1)
            if j - 1 > i and text[j - 1] == "\\":
                j += 1
                continue
            break
        j += 1
    return ends


def _wildcard_length(text: str, i: int) -> int:
    if i + 1 >= len(text) or text[i + 1] not in "\"'":
        return 0
    quote, j, count = text[i + 1], i + 2, 0
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == quote:
            return j + 1 - i if count and j < len(text) else 0
        else:
            j += 1
        count += 1
    return 0


def lex(text: str) -> list[Token]:
    tokens: list[Token] = []
    n, i = len(text), 0
    cur_pos, cur_near, qtype = 0, "", QT_TERM  # RediSearch's reused token: what errors show
    while i < n:
        c = text[i]
        best, kind = 0, ""

        def consider(candidate: str, length: int) -> None:
            nonlocal best, kind
            if length > best:
                best, kind = length, candidate

        if "0" <= c <= "9":
            consider("SIZE", _longest([_RE_SIZE], text, i))
        if c in "0123456789+-.":
            consider("NUMBER", _longest([_RE_NUMBER], text, i))
        if c == "@":
            consider("MODIFIER", _longest([_RE_MOD], text, i))
        if c == "$":
            consider("ATTRIBUTE", _longest([_RE_ATTR], text, i))
        if c == "@":
            for op_kind, regex, _op in _RE_OPS:
                consider(op_kind, _longest([regex], text, i))
        if text.startswith("=>", i):
            consider("ARROW", 2)
        if c in "aA" and text[i : i + 2].lower() == "as":
            consider("AS", 2)
        if c in "+-iI":
            consider("INF", _longest([_RE_INF], text, i))
        if c in "\"'" and text[i + 1 : i + 2] == c:
            consider("EMPTY", 2)
        if c in _SINGLE:
            consider(_SINGLE[c], 1)
        if c in _PUNCT_OR_SPACE or c < " " or c == "\x7f":
            consider("SKIP", 1)
        if c in "iI" and text[i : i + 9].lower() == "ismissing":
            consider("ISMISSING", 9)
        consider("TERM", _longest([_RE_TERM], text, i))
        ends = _exact_ends(text, i) if c in "\"'" else []
        if ends:
            consider("EXACT", ends[-1] - i)
        consider("PREFIX", _longest(_RE_PREFIX, text, i))
        starred = [e + 1 for e in ends if text[e : e + 1] == "*"]
        if starred:
            consider("PREFIX_EXACT", starred[-1] - i)
        if c == "*":
            consider("SUFFIX", _longest(_RE_SUFFIX, text, i))
            inner = _exact_ends(text, i + 1) if text[i + 1 : i + 2] in ("'", '"') else []
            if inner:
                consider("SUFFIX_EXACT", inner[-1] - i)
            consider("CONTAINS", _longest(_RE_CONTAINS, text, i))
            starred = [e + 1 for e in inner if text[e : e + 1] == "*"]
            if starred:
                consider("CONTAINS_EXACT", starred[-1] - i)
        if c == "w":
            consider("WILDCARD", _wildcard_length(text, i))
        if best == 0:  # cannot happen: every character is a term, space, punct or cntrl one
            best, kind = 1, "SKIP"
        end, lexeme = i + best, text[i : i + best]
        tok: Token | None = None
        if kind in ("SIZE", "NUMBER", "INF"):
            if kind == "INF":
                num = -math.inf if c == "-" else math.inf
            else:
                num = strtod_prefix(lexeme)
            tok = Token("SIZE" if kind == "SIZE" else "NUMBER", i, lexeme, lexeme, num)
        elif kind in ("MODIFIER", "ATTRIBUTE"):
            tok = Token(kind, i, lexeme[1:], lexeme[1:])
        elif kind in ("NE", "EQ", "GT", "GE", "LT", "LE"):
            # Three tokens from a copy of the lexer's token: its own state does not change.
            op = next(op for k, _r, op in _RE_OPS if k == kind)
            name, _, value = lexeme[1:].partition(op)
            name, value = name.rstrip(SPACE), value.lstrip(SPACE)
            tokens.append(Token("MODIFIER", i, name, name, qtype=qtype))
            tokens.append(Token(kind, i, op, op))
            sign = -1 if value[:2] == "-$" else 1
            value = value[1:] if value[:2] in ("-$", "+$") else value
            if value.startswith("$"):
                tokens.append(Token("ATTRIBUTE", i, value[1:], value[1:], sign=sign))
            else:
                tokens.append(Token("NUMBER", i, value, value, strtod_prefix(value)))
            i = end
            continue
        elif kind == "ARROW":
            tok = Token(kind, i, "=>", text[i + 1 : i + 3])
        elif kind in ("AS", "ISMISSING", "TERM"):
            tok = Token(kind, i, lexeme, lexeme)
        elif kind == "EMPTY":
            tok = Token("TERM", i, "", "")
        elif kind == "EXACT":
            tok = Token(kind, i, lexeme[1:-1], lexeme[1:-1])
        elif kind in ("PREFIX", "SUFFIX", "CONTAINS"):
            lead = 0 if kind == "PREFIX" else 1
            param = text[i + lead] == "$"
            value = lexeme[lead + param : best - (kind != "SUFFIX")]
            qtype = QT_OTHER if param else QT_TERM
            tok = Token(kind, i, value, value, param=param)
        elif kind in ("PREFIX_EXACT", "SUFFIX_EXACT", "CONTAINS_EXACT"):
            value = {"PREFIX_EXACT": lexeme[1:-2], "SUFFIX_EXACT": lexeme[2:-1]}.get(kind, lexeme[2:-2])
            qtype = QT_TERM
            tok = Token(kind.split("_")[0], i, value, value)
        elif kind == "WILDCARD":
            param = text[i + 2] == "$"
            value = lexeme[2 + param : -1]
            qtype = QT_OTHER
            tok = Token(kind, i + 2, value, value, param=param)
        elif kind != "SKIP":
            tokens.append(Token(kind, i, lexeme, cur_near))
            cur_pos = i
        if tok is not None:
            tok.qtype = qtype
            tokens.append(tok)
            cur_pos, cur_near = tok.pos, tok.near
        i = end
    tokens.append(Token("EOF", cur_pos, "", cur_near))
    return tokens


# ---------------------------------------------------------------------------------------
# Number and string conversions as RediSearch makes them (util/strconv.h, fast_float).

_FLOAT = r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)"
FLOAT_RE = re.compile(_FLOAT, re.IGNORECASE)
_RE_INT10 = re.compile(r"[\t\n\v\f\r ]*[+-]?[0-9]+")
_RE_INT0 = re.compile(r"[\t\n\v\f\r ]*[+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_LLONG_MAX = 2**63 - 1


def strtod_prefix(text: str) -> float:
    m = FLOAT_RE.match(text)
    return float(m.group()) if m else 0.0


def parse_double(text: str) -> float | None:
    """ParseDouble: the whole string a number; overflow and underflow are errors."""
    if text == "":
        return 0.0
    if not FLOAT_RE.fullmatch(text):
        return None
    value = float(text)
    mantissa = re.split("[eE]", text)[0]
    if math.isinf(value) and "n" not in mantissa.lower():
        return None
    if value == 0.0 and re.search("[1-9]", mantissa):
        return None
    return value


def parse_integer(text: str) -> int | None:
    """ParseInteger: strtoll in base 10 over the whole string."""
    if not _RE_INT10.fullmatch(text):
        return None
    body = text.lstrip(SPACE)
    significant = body.lstrip("+-").lstrip("0")
    if len(significant) > 19:  # beyond any long long (and more digits than int() reads)
        return None
    value = -int(significant or "0") if body.startswith("-") else int(significant or "0")
    return value if -_LLONG_MAX - 1 < value < _LLONG_MAX else None


def parse_range_bound(text: str, is_min: bool, sign: int) -> float | None:
    """parseDoubleRange for a ``$param`` bound: ``(`` is skipped but not obeyed (RediSearch
    reads it into a flag it never uses), ``-inf``/``+inf`` where they make sense, and any
    other infinity refused."""
    text = text[1:] if text.startswith("(") else text
    folded = text.lower()
    unsigned = folded[1:] if folded.startswith("+") else folded
    if is_min and ((sign == 1 and folded == "-inf") or (sign == -1 and unsigned == "inf")):
        return -math.inf
    if not is_min and ((sign == 1 and unsigned == "inf") or (sign == -1 and folded == "-inf")):
        return math.inf
    if text == "":
        return 0.0
    if not FLOAT_RE.fullmatch(text) or math.isinf(float(text)):
        return None
    return float(text) * sign


def positive_int(text: str) -> int | None:
    """VecSim's validate_positive_integer_param: strtoll base 0, > 0."""
    if not _RE_INT0.fullmatch(text):
        return None
    body = text.lstrip(SPACE)
    sign = -1 if body.startswith("-") else 1
    digits = body.lstrip("+-")
    if digits[:2].lower() == "0x":
        value = sign * int(digits, 16)
    elif len(digits) > 1 and digits[0] == "0":
        value = sign * int(digits, 8)
    elif len(digits) > 19:  # beyond any long long (and more digits than int() reads)
        return None
    else:
        value = sign * int(digits)
    return value if 0 < value < _LLONG_MAX else None


def positive_double(text: str) -> float | None:
    """VecSim's validate_positive_double_param: strtod over the whole string, > 0."""
    body = text.lstrip(SPACE)
    if not FLOAT_RE.fullmatch(body):
        return None
    value = float(body)
    return value if value > 0 and not math.isinf(value) else None


def unescape(text: str) -> str:
    """RediSearch's unescape (rm_normalize, unescapen): drop a backslash before punctuation
    or space; the character after it is looked at again."""
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _PUNCT_OR_SPACE:
            i += 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def unescape_tag(text: str) -> str:
    """tag_strtolower's unescape: a dropped backslash's next character is kept as is."""
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _PUNCT_OR_SPACE:
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out)


def normalize(text: str) -> str:
    return unescape(text).lower()


_PHRASE_SEPARATORS = frozenset(" \t,./(){}[]:;~!@#%^&*-=+|'`\"<>?")


def split_phrase(text: str) -> tuple[str, ...]:
    """The words of a quoted phrase (toksep2: a backslash protects the next character)."""
    words, start, escaped = [], 0, False
    for j, ch in enumerate(text):
        if ch in _PHRASE_SEPARATORS and not escaped:
            words.append(text[start:j])
            start = j + 1
        escaped = not escaped and ch == "\\"
    words.append(text[start:])
    return tuple(normalize(w) for w in words if w)


def decode(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------
# Parameters (query_param.c, param.c)


@dataclass(slots=True)
class ParamRef:
    """A ``$name`` (``-$name``: ``sign`` -1) standing for a number until it is resolved."""

    name: str
    sign: int = 1


class Params:
    """FT.SEARCH's PARAMS, resolved as RediSearch resolves them.

    RediSearch looks parameters up only once the whole query has parsed, so a missing or
    malformed one is recorded in ``errors`` (RediSearch's text) and a placeholder returned;
    the parser raises the first recorded error after its own syntax checks.
    """

    __slots__ = ("values", "errors")

    def __init__(self, values: Mapping[str, bytes]) -> None:
        self.values = values
        self.errors: list[str] = []

    def raw(self, name: str) -> bytes | None:
        value = self.values.get(name)
        if value is None:
            self.errors.append(f"No such parameter `{name}`")
        return value

    def text(self, name: str) -> str:
        value = self.raw(name)
        return "" if value is None else decode(value)

    def _c_string(self, name: str) -> str | None:
        value = self.raw(name)
        return None if value is None else decode(value).split("\0")[0]

    def number(self, value: float | ParamRef) -> float:
        """A PARAM_NUMERIC value: ParseDouble, an empty value refused."""
        if not isinstance(value, ParamRef):
            return value
        text = self._c_string(value.name)
        if text is None:
            return 0.0
        parsed = parse_double(text) if text else None
        if parsed is None:
            self.errors.append(f"Invalid numeric value ({text}) for parameter `{value.name}`")
            return 0.0
        return parsed * value.sign

    def bound(self, value: float | ParamRef, is_min: bool) -> float:
        """A range bound: parseDoubleRange, an empty value read as 0 (RediSearch's quirk)."""
        if not isinstance(value, ParamRef):
            return value
        text = self._c_string(value.name) or ""
        parsed = parse_range_bound(text, is_min, value.sign) if text else 0.0
        if parsed is None:
            text = text[1:] if text.startswith("(") else text
            self.errors.append(f"{'Bad lower range' if is_min else 'Bad upper range'}: {text}")
            return 0.0
        return parsed

    def size(self, name: str) -> int:
        """A PARAM_SIZE value (KNN's k): a whole number, not negative."""
        text = self._c_string(name)
        if text is None:
            return 0
        parsed = parse_integer(text) if text else None
        if parsed is None or parsed < 0:
            self.errors.append(f"Invalid numeric value ({text}) for parameter `{name}`")
            return 0
        return parsed


# ---------------------------------------------------------------------------------------
# Attribute values and vector search parameters (query.c, VecSim's vec_sim.cpp).

VECTOR_ATTRIBUTES = frozenset({"ef_runtime", "epsilon", "hybrid_policy", "batch_size"})


def apply_attribute(
    attrs: Attributes, name: str, value: str, vector: bool
) -> tuple[Attributes, tuple[str, str] | None]:
    """QueryNode_ApplyAttribute: the new attributes, or a vector attribute to store."""
    if value == "":
        raise QuerySyntaxError(f"Invalid value () for `{name}`")
    key = name.lower()
    invalid = QuerySyntaxError(f"Invalid value ({value}) for `{name}`")
    if key == "slop":
        slop = parse_integer(value)
        if slop is None or slop < -1:
            raise invalid
        return replace(attrs, slop=slop), None
    if key in ("inorder", "phonetic"):
        if value.lower() not in ("true", "1", "false", "0"):
            raise invalid
        return replace(attrs, **{key: value.lower() in ("true", "1")}), None
    if key == "weight":
        weight = parse_double(value)
        if weight is None or weight < 0:
            raise invalid
        return replace(attrs, weight=weight), None
    if vector and key == "shard_k_ratio":
        raise QuerySyntaxError("Shard k ratio is unavailable when `ENABLE_UNSTABLE_FEATURES` is off.")
    if vector and (key == "yield_distance_as" or key in VECTOR_ATTRIBUTES):
        return attrs, (key, value)
    raise QuerySyntaxError(f"Invalid attribute {name}")


def first_param(params: Sequence[tuple[str, str]], key: str, convert: Callable[[str], T]) -> T | None:
    """The first parameter named ``key`` (any case), converted; None if there is none."""
    for name, value in params:
        if name.lower() == key:
            return convert(value)
    return None


_VECSIM_ERRORS = {
    "dup": "Parameter was specified twice",
    "unknown": "Invalid option",
    "bad": "Invalid value was given",
    "not_hybrid": "hybrid query attributes were sent for a non-hybrid query",
    "no_policy": "invalid hybrid policy was given",
    "adhoc_batch": "'batch size' is irrelevant for 'ADHOC_BF' policy",
    "adhoc_ef": "'EF_RUNTIME' is irrelevant for 'ADHOC_BF' policy",
    "not_range": "range query attributes were sent for a non-range query",
}


def check_vector_params(
    params: Sequence[tuple[str, str]],
    algorithm: str,
    query_type: Literal["knn", "hybrid", "range"],
) -> None:
    """Check vector search parameters as VecSim's VecSimIndex_ResolveParams does.

    ``algorithm`` is the field's (FLAT or HNSW); ``query_type`` "hybrid" is a KNN query
    with a filter. Raises `QuerySyntaxError` with RediSearch's text, e.g. ``Error parsing
    vector similarity parameters: Invalid option`` for EF_RUNTIME on a FLAT field.
    """
    hnsw = algorithm.upper() == "HNSW"
    seen: dict[str, object] = {}

    def fail(reason: str) -> NoReturn:
        raise QuerySyntaxError(f"Error parsing vector similarity parameters: {_VECSIM_ERRORS[reason]}")

    for name, value in params:
        key = name.upper()
        if key == "EF_RUNTIME":
            if not hnsw or query_type == "range":
                fail("unknown")
            parsed: object = positive_int(value)
        elif key == "EPSILON":
            if not hnsw:
                fail("unknown")
            if query_type != "range":
                fail("not_range")
            parsed = positive_double(value)
        elif key in ("BATCH_SIZE", "HYBRID_POLICY"):
            if query_type != "hybrid":
                fail("not_hybrid")
            if key == "BATCH_SIZE":
                parsed = positive_int(value)
            else:
                parsed = value.upper() if value.upper() in ("BATCHES", "ADHOC_BF") else None
        else:
            fail("unknown")
        if key in seen:
            fail("dup")
        if parsed is None:
            fail("no_policy" if key == "HYBRID_POLICY" else "bad")
        seen[key] = parsed
    if seen.get("HYBRID_POLICY") == "ADHOC_BF":
        if "BATCH_SIZE" in seen:
            fail("adhoc_batch")
        if hnsw and "EF_RUNTIME" in seen:
            fail("adhoc_ef")
