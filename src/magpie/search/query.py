"""The RediSearch query language (DIALECT 2): FT.SEARCH's query string to a `Query` tree.

RediSearch parses with a Ragel lexer (src/query_parser/v2/lexer.rl, mirrored in
`magpie.search.query_tokens`) and a Lemon LALR grammar (parser.y) whose conflicts are
settled by token precedences. This module is a precedence-climbing parser that takes the
same decisions, so the same strings parse to the same trees and fail with the same texts:

* juxtaposition (AND) binds tighter than ``|``: ``a b | c d`` is ``(a b) | (c d)``;
* a construct such as ``-x`` or ``@f:x`` ends before a word, ``(``, ``@`` or ``"``, but
  goes on through a number, ``$param``, ``pre*``, ``%fuzzy%`` or ``w'..'``, whose
  precedence is higher: ``-a b`` is ``(-a) b`` but ``-a 5`` is ``-(a 5)``, and
  ``@t:a b*`` is ``@t:(a b*)``;
* ``=>{...}`` attributes bind tighter than AND, ``-`` and ``|`` but not than ``@f:``:
  ``a b=>{$weight:2}`` weighs ``b``, ``@t:a=>{..}`` weighs the whole ``@t:a``;
* ``=>[KNN ...]`` may only follow the whole query when that is one unit (``*``, ``(...)``,
  ``@f:...``, a single word), so ``a b=>[KNN ...]`` is a syntax error, as in RediSearch;
* after ``text | text`` a further ``|`` takes only text (Lemon's text_union), so
  ``a | b | @t:{x}`` is a syntax error while ``a | @t:{x} | b`` is not.

Errors carry RediSearch's texts (for ``Syntax error at offset N near X`` the offset counts
UTF-8 bytes, and "near" shows what RediSearch's lexer shows: for a punctuation token, the
text of the token before it). Parameter errors come after all syntax errors, as RediSearch
resolves parameters after parsing; range and distance-name checks that RediSearch makes
later still come last. With ``fields`` (the index's field name -> type) the parser also
reports ``Unknown field`` and ``Expected a TAG field``-style errors where RediSearch's
parser does. Vector search parameters (EF_RUNTIME, ...) depend on the field's algorithm:
`check_vector_params` checks them once the caller knows it.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from dataclasses import replace
from typing import Literal, NoReturn

from magpie.search import query_tokens as qt
from magpie.search.query_ast import (
    And,
    GeoRadius,
    GeoShape,
    Knn,
    MatchAll,
    MatchNone,
    Missing,
    Node,
    Not,
    NumericRange,
    Optional,
    Or,
    Phrase,
    Query,
    TagMatch,
    TagTerm,
    TextMatch,
    VectorRange,
)
from magpie.search.query_tokens import QuerySyntaxError, check_vector_params
from magpie.search.stopwords import DEFAULT_STOPWORDS

__all__ = ["QuerySyntaxError", "parse_query", "check_vector_params", "STACK_OVERFLOW"]

STACK_OVERFLOW = "Parser stack overflow. Try moving nested parentheses more to the left"


def parse_query(
    text: str,
    params: Mapping[str, bytes],
    *,
    stopwords: Container[str] = frozenset(DEFAULT_STOPWORDS),
    fields: Mapping[str, str] | None = None,
) -> Query:
    """Parse an FT.SEARCH query string; ``params`` are FT.SEARCH's PARAMS.

    ``stopwords`` are dropped from the query as RediSearch drops them (a lowercased word is
    looked up). ``fields`` maps each field name to its type (TEXT, TAG, NUMERIC, GEO,
    VECTOR, GEOSHAPE) to check field references as RediSearch's parser does; without it
    any name is accepted. Raises `QuerySyntaxError`.
    """
    return _Parser(text, params, stopwords, fields).parse()


# ---------------------------------------------------------------------------------------
# Parser (parser.y). Precedences from its %left lines, lowest first; a construct whose
# rule has precedence p goes on with a following unit only if that unit's first token is
# above p (all are %left), else it ends there.

_OR, _MINUS, _AND, _ARROW, _COLON = 4, 12, 13, 14, 15
_START_PREC = {
    "ISMISSING": 5, "MODIFIER": 6, "EXACT": 8, "TERM": 9, "AS": 9, "QUOTE": 10, "LP": 11,
    "MINUS": 12, "TILDE": 12, "NUMBER": 18, "SIZE": 19, "PREFIX": 23, "SUFFIX": 23,
    "CONTAINS": 23, "PERCENT": 24, "ATTRIBUTE": 25, "WILDCARD": 26,
}  # fmt: skip
# Tokens a `term` accepts where EXACT, AS and ISMISSING are not valid (Lemon's %fallback).
_TERMISH = frozenset({"TERM", "EXACT", "AS", "ISMISSING"})
_PARAM_TERM = _TERMISH | {"NUMBER", "SIZE", "ATTRIBUTE"}
_NUM_START = frozenset({"SIZE", "NUMBER", "MINUS", "ATTRIBUTE"})
_MAX_DEPTH = 256
_GEO_UNITS = frozenset({"m", "km", "mi", "ft"})
_GEOSHAPE_PREDICATES = frozenset({"WITHIN", "CONTAINS", "DISJOINT", "INTERSECTS"})
_SIZE_MAX = 2**64 - 1
_AFFIX_KIND: dict[str, Literal["prefix", "suffix", "infix"]] = {
    "PREFIX": "prefix", "SUFFIX": "suffix", "CONTAINS": "infix",
}  # fmt: skip


def _size_literal(digits: str) -> int:
    """A KNN k written in the query: a size_t, so no more than SIZE_MAX (a longer literal
    would also be more than int() reads)."""
    significant = digits.lstrip("0")
    return _SIZE_MAX if len(significant) > 20 else min(int(significant or "0"), _SIZE_MAX)


_Number = float | qt.ParamRef


def _intersect(left: Node | None, right: Node | None) -> Node | None:
    """parser.y's intersection_step: an unrestricted AND absorbs the other side."""
    return _merge(And, left, right)


def _union(left: Node | None, right: Node | None) -> Node | None:
    """parser.y's union_step: an unrestricted OR absorbs the other side."""
    return _merge(Or, left, right)


def _merge(group: type[And] | type[Or], left: Node | None, right: Node | None) -> Node | None:
    if left is None or right is None:  # a side made only of stop-words
        return left if right is None else right
    if isinstance(left, group) and left.fields is None:
        return replace(left, children=(*left.children, right))
    if isinstance(right, group) and right.fields is None:
        return replace(right, children=(*right.children, left))
    return group((left, right))


def _with_fields(node: Node | None, fields: tuple[str, ...]) -> Node | None:
    """Restrict a text subtree to ``fields`` (QueryNode_SetFieldMask: every node under it)."""
    match node:
        case And() | Or():
            return replace(node, children=tuple(_with_fields(c, fields) for c in node.children), fields=fields)  # type: ignore[misc]
        case Not() | Optional():
            return replace(node, child=_with_fields(node.child, fields) or node.child, fields=fields)
        case TextMatch() | Phrase():
            return replace(node, fields=fields)
    return node


class _Parser:
    def __init__(
        self,
        text: str,
        params: Mapping[str, bytes],
        stopwords: Container[str],
        fields: Mapping[str, str] | None,
    ) -> None:
        self.text, self.stopwords, self.fields = text, stopwords, fields
        self.tokens = qt.lex(text)
        self.i = 0
        self.depth = 0
        self.is_text = True  # whether the last operand parsed was text only
        # RediSearch resolves parameters after parsing (the KNN node's first: it is the
        # root), then checks ranges, then evaluates: errors are raised in that order.
        self.params = qt.Params(params)
        self.knn_params = qt.Params(params)  # the KNN node's, resolved first
        self.late_errors: list[str] = []

    # -- tokens and errors

    def peek(self, ahead: int = 0) -> qt.Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> qt.Token:
        tok = self.tokens[self.i]
        if tok.kind != "EOF":
            self.i += 1
        return tok

    def expect(self, kind: str) -> qt.Token:
        tok = self.take()
        if tok.kind != kind:
            self.syntax_error(tok)
        return tok

    def offset(self, pos: int) -> int:
        prefix = self.text[:pos]
        try:
            return len(prefix.encode("utf-8", "surrogateescape"))
        except UnicodeEncodeError:
            return len(prefix.encode("utf-8", "surrogatepass"))

    def syntax_error(self, tok: qt.Token) -> NoReturn:
        raise QuerySyntaxError(f"Syntax error at offset {self.offset(tok.pos)} near {tok.near}")

    def report(self, message: str, tok: qt.Token, qtype: int) -> NoReturn:
        """parser.y's reportSyntaxError: what follows the offset depends on the token type."""
        where = f" at offset {self.offset(tok.pos)}"
        if qtype == qt.QT_TERM:
            where += f" near {tok.text}"
        elif qtype == qt.QT_NUMERIC:
            where += f" near {tok.num:f}"
        raise QuerySyntaxError(message + where)

    def check_field(self, name: str, tok: qt.Token, qtype: int, wanted: str | None = None) -> None:
        if self.fields is None:
            return
        kind = self.fields.get(name)
        if kind is None:
            self.report("Unknown field", tok, qtype)
        if wanted is not None and kind.upper() != wanted:
            self.report(f"Expected a {wanted} field", tok, qtype)

    # -- query ::= expr | star | (expr|star) => [KNN ...] [=> {attributes}]

    def parse(self) -> Query:
        if self.peek().kind == "EOF":
            return Query(MatchNone())
        parens = 0
        while self.peek(parens).kind == "LP":
            parens += 1
        star = self.peek(parens).kind == "STAR"
        node: Node | None
        if star:
            for _ in range(parens + 1):
                self.take()
            for _ in range(parens):
                self.expect("RP")
            node = MatchAll()
        else:
            node = self.expr(0, text_only=False, top=True)
        knn = None
        if self.peek().kind == "ARROW":
            self.take()
            self.expect("LSQB")
            knn = self.knn()
            if self.peek().kind == "ARROW":
                self.take()
                self.expect("LB")
                knn = self.apply_knn_attributes(knn, self.attributes())
        if self.peek().kind != "EOF":
            self.syntax_error(self.peek())
        errors = self.knn_params.errors + self.params.errors + self.late_errors
        if errors:
            raise QuerySyntaxError(errors[0])
        if knn is not None:
            return Query(node or MatchAll(), knn)
        return Query(node or MatchNone())

    def expr(self, rbp: int, text_only: bool, top: bool = False) -> Node | None:
        """A unit, then the units, ``| x`` and ``=>{..}`` that bind tighter than ``rbp``."""
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise QuerySyntaxError(STACK_OVERFLOW)
        union_of_text = False
        left = self.unit(text_only)
        left_text = self.is_text
        while True:
            tok = self.peek()
            if tok.kind == "ARROW":
                if _ARROW <= rbp or (top and self.peek(1).kind != "LB"):
                    break
                self.take()
                self.expect("LB")
                left = self.apply_attributes(left, self.attributes())
            elif tok.kind == "OR":
                if _OR <= rbp:
                    break
                self.take()
                # After `text | text` (Lemon's text_union) a further `|` only takes text.
                left = _union(left, self.expr(_OR, text_only or left_text and union_of_text))
                left_text = union_of_text = left_text and self.is_text
            else:
                prec = _START_PREC.get(tok.kind)
                if text_only and tok.kind == "MODIFIER":
                    prec = None
                elif text_only and tok.kind == "ISMISSING":
                    prec = _START_PREC["TERM"]
                if prec is None or prec <= rbp:
                    break
                left = _intersect(left, self.expr(_AND, text_only))
                left_text = left_text and self.is_text
        self.depth -= 1
        self.is_text = left_text
        return left

    def unit(self, text_only: bool) -> Node | None:
        """One operand; sets ``is_text`` (Lemon's text_expr rather than expr), which
        matters after ``|``."""
        tok = self.take()
        kind = tok.kind
        self.is_text = True  # LP, MINUS and TILDE take their operand's
        if kind in ("TERM", "AS") or (kind == "ISMISSING" and text_only):
            if tok.text.lower() in self.stopwords:
                return None
            return TextMatch(None, qt.normalize(tok.text))
        if kind in ("NUMBER", "SIZE"):
            return TextMatch(None, tok.text)
        if kind == "ATTRIBUTE":
            return TextMatch(None, qt.normalize(self.params.text(tok.text)))
        if kind == "EXACT":
            return Phrase(None, qt.split_phrase(tok.text))
        if kind == "QUOTE":
            name = self.expect("ATTRIBUTE").text
            self.expect("QUOTE")
            return TextMatch(None, "$" + name.lower())
        if kind in _AFFIX_KIND:
            value = self.params.text(tok.text) if tok.param else qt.unescape(tok.text)
            return TextMatch(None, value.lower(), _AFFIX_KIND[kind])
        if kind == "WILDCARD":
            return TextMatch(None, self.params.text(tok.text) if tok.param else tok.text, "wildcard")
        if kind == "PERCENT":
            return self.fuzzy()
        if kind == "LP":
            node = self.expr(0, text_only)
            self.expect("RP")
            return node
        if kind in ("MINUS", "TILDE"):
            child = self.expr(_MINUS, text_only)
            if child is None:
                return None
            return Not(child) if kind == "MINUS" else Optional(child)
        if kind == "MODIFIER" and not text_only:
            node = self.field_expr(tok)
            self.is_text = False
            return node
        if kind == "ISMISSING" and not text_only:
            self.expect("LP")
            mod = self.expect("MODIFIER")
            name = qt.unescape(mod.text)
            self.check_field(name, mod, mod.qtype)
            self.expect("RP")
            self.is_text = False
            return Missing(name)
        self.syntax_error(tok)

    def fuzzy(self) -> TextMatch:
        distance = 1
        while distance < 3 and self.peek().kind == "PERCENT":
            self.take()
            distance += 1
        tok = self.take()
        if tok.kind == "ATTRIBUTE":
            value = qt.normalize(self.params.text(tok.text))
        elif tok.kind in _PARAM_TERM:
            value = qt.normalize(tok.text)
        else:
            self.syntax_error(tok)
        for _ in range(distance):
            self.expect("PERCENT")
        return TextMatch(None, value, "fuzzy", distance)

    # -- @field...

    def field_expr(self, mod: qt.Token) -> Node | None:
        name = qt.unescape(mod.text)
        self.check_field(name, mod, mod.qtype)
        tok = self.take()
        if tok.kind == "COLON":
            if self.peek().kind == "LB":
                self.take()
                return self.tags(name, mod)
            if self.peek().kind == "LSQB":
                self.take()
                return self.bracket(name, mod)
            node = self.expr(_COLON, text_only=True)
            self.check_field(name, mod, mod.qtype, "TEXT")
            return _with_fields(node, (name,))
        if tok.kind == "OR":
            return self.field_list(name, mod)
        if tok.kind in ("NE", "EQ", "GT", "GE", "LT", "LE"):
            value_tok = self.take()
            value: _Number = value_tok.num
            if value_tok.kind == "ATTRIBUTE":
                value = qt.ParamRef(value_tok.text, value_tok.sign)
            self.check_field(name, mod, mod.qtype, "NUMERIC")
            number = self.params.number(value)
            low, high = {"GT": (number, math.inf), "GE": (number, math.inf)}.get(
                tok.kind, (-math.inf, number) if tok.kind in ("LT", "LE") else (number, number)
            )
            node = self.numeric(name, low, high, tok.kind != "GT", tok.kind != "LT")
            return Not(node) if tok.kind == "NE" else node
        self.syntax_error(tok)

    def field_list(self, first: str, mod: qt.Token) -> Node | None:
        """``@a|b|c:text``; the names after the first are plain terms, as written."""
        names = [first]
        while True:
            tok = self.take()
            if tok.kind not in _PARAM_TERM - {"ATTRIBUTE"}:
                self.syntax_error(tok)
            qtype = {"NUMBER": qt.QT_NUMERIC, "SIZE": qt.QT_OTHER}.get(tok.kind, qt.QT_TERM)
            if len(names) == 1:
                self.check_field(first, mod, mod.qtype, "TEXT")
            self.check_field(tok.text, tok, qtype, "TEXT")
            names.append(tok.text)
            tok = self.take()
            if tok.kind == "COLON":
                break
            if tok.kind != "OR":
                self.syntax_error(tok)
        return _with_fields(self.expr(_COLON, text_only=True), tuple(names))

    def tags(self, name: str, mod: qt.Token) -> TagMatch:
        terms: list[TagTerm] = []
        while True:
            tok = self.take()
            if tok.kind in _AFFIX_KIND:
                raw = self.params.text(tok.text) if tok.param else qt.unescape(tok.text)
                terms.append(TagTerm(qt.unescape_tag(raw), _AFFIX_KIND[tok.kind]))
            elif tok.kind == "WILDCARD":
                raw = self.params.text(tok.text) if tok.param else tok.text
                terms.append(TagTerm(qt.unescape_tag(raw), "wildcard"))
            elif tok.kind in _PARAM_TERM:
                words = [tok]
                while self.peek().kind in _PARAM_TERM:
                    words.append(self.take())
                if len(words) == 1:
                    value = self.params.text(tok.text) if tok.kind == "ATTRIBUTE" else tok.text
                else:  # a term list: each word normalized, then joined by one space
                    value = " ".join(
                        qt.normalize(self.params.text(w.text)) if w.kind == "ATTRIBUTE"
                        else w.text if w.kind in ("NUMBER", "SIZE") else qt.normalize(w.text)
                        for w in words
                    )  # fmt: skip
                terms.append(TagTerm(qt.unescape_tag(value)))
            else:
                self.syntax_error(tok)
            tok = self.take()
            if tok.kind == "RB":
                break
            if tok.kind != "OR":
                self.syntax_error(tok)
        self.check_field(name, mod, mod.qtype, "TAG")
        return TagMatch(name, tuple(terms))

    def param_num(self) -> _Number:
        """param_num: a number (``- - 5`` allowed), ``$p`` or ``-$p``."""
        tok = self.take()
        if tok.kind == "ATTRIBUTE":
            return qt.ParamRef(tok.text, tok.sign)
        if tok.kind == "MINUS" and self.peek().kind == "ATTRIBUTE":
            return qt.ParamRef(self.take().text, -1)
        sign = 1.0
        while tok.kind == "MINUS":
            sign, tok = -sign, self.take()
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise QuerySyntaxError(STACK_OVERFLOW)
        if tok.kind not in ("SIZE", "NUMBER"):
            self.syntax_error(tok)
        return sign * tok.num

    def exclusive(self) -> _Number:
        """After ``(``: a number or a parameter (``((`` is refused)."""
        if self.peek().kind in _NUM_START:
            return self.param_num()
        self.syntax_error(self.take())

    def numeric(self, name: str, low: float, high: float, low_inc: bool, high_inc: bool) -> NumericRange:
        if low > high:
            self.late_errors.append(f"Invalid numeric range (min > max): @{name}:[{low:f} {high:f}]")
        return NumericRange(name, low, high, low_inc, high_inc)

    def bracket(self, name: str, mod: qt.Token) -> Node:
        """``@f:[`` then a numeric range, a geo radius, a geoshape or a vector range."""
        if self.peek().kind in _TERMISH:
            keyword = self.take()
            after = self.peek()
            if after.kind == "ATTRIBUTE" and self.peek(1).kind == "RSQB":
                self.take()
                self.take()
                predicate = keyword.text.upper()
                if predicate not in _GEOSHAPE_PREDICATES:
                    self.report("Syntax error: Expecting a geoshape predicate", after, qt.QT_OTHER)
                self.check_field(name, mod, mod.qtype, "GEOSHAPE")
                return GeoShape(name, predicate, self.params.text(after.text))  # type: ignore[arg-type]
            radius = self.param_num()
            blob = self.expect("ATTRIBUTE")
            if keyword.text.upper() != "VECTOR_RANGE":
                self.report("Syntax error: expecting vector similarity range command", keyword, keyword.qtype)
            self.expect("RSQB")
            self.check_field(name, mod, mod.qtype, "VECTOR")
            blob_value = self.params.raw(blob.text) or b""
            return VectorRange(name, self.params.number(radius), blob_value, blob_param=blob.text)
        exclusive_low = self.peek().kind == "LP"
        if exclusive_low:
            self.take()
        low = self.exclusive() if exclusive_low else self.param_num()
        tok = self.peek()
        if tok.kind == "RSQB" and not exclusive_low:
            self.take()
            self.check_field(name, mod, mod.qtype, "NUMERIC")
            value = self.params.number(low)
            return self.numeric(name, value, value, True, True)
        exclusive_high = tok.kind == "LP"
        if exclusive_high:
            self.take()
            high = self.exclusive()
        elif tok.kind in _NUM_START:
            high = self.param_num()
        else:
            self.syntax_error(self.take())
        if not (exclusive_low or exclusive_high) and self.peek().kind in _NUM_START:
            return self.geo(name, mod, low, high)
        self.expect("RSQB")
        self.check_field(name, mod, mod.qtype, "NUMERIC")
        low_value, high_value = self.params.bound(low, True), self.params.bound(high, False)
        return self.numeric(name, low_value, high_value, not exclusive_low, not exclusive_high)

    def geo(self, name: str, mod: qt.Token, lon: _Number, lat: _Number) -> GeoRadius:
        radius = self.param_num()
        unit_tok = self.take()
        if unit_tok.kind not in _PARAM_TERM:
            self.syntax_error(unit_tok)
        self.expect("RSQB")
        if unit_tok.kind in ("NUMBER", "SIZE"):
            raise QuerySyntaxError("Invalid GeoFilter unit")
        self.check_field(name, mod, mod.qtype, "GEO")
        node = GeoRadius(name, self.params.number(lon), self.params.number(lat), self.params.number(radius), "")
        unit = self.params.text(unit_tok.text) if unit_tok.kind == "ATTRIBUTE" else unit_tok.text
        if unit.lower() not in _GEO_UNITS:
            self.late_errors.append("Invalid GeoFilter unit")
        return replace(node, unit=unit.lower())

    # -- KNN

    def knn(self) -> Knn:
        keyword = self.take()
        if keyword.kind not in _TERMISH:
            self.syntax_error(keyword)
        k_tok = self.take()
        if k_tok.kind not in ("SIZE", "ATTRIBUTE"):
            self.syntax_error(k_tok)
        mod = self.expect("MODIFIER")
        name = qt.unescape(mod.text)
        self.check_field(name, mod, mod.qtype)
        blob_tok = self.expect("ATTRIBUTE")
        self.check_field(name, mod, mod.qtype, "VECTOR")
        if keyword.text.upper() != "KNN":
            self.report("Syntax error: Expecting Vector Similarity command", keyword, keyword.qtype)
        params = self.knn_params
        blob = params.raw(blob_tok.text) or b""
        k = _size_literal(k_tok.text) if k_tok.kind == "SIZE" else params.size(k_tok.text)
        attributes: list[tuple[str, qt.Token]] = []
        score = None
        while self.peek().kind in _TERMISH:
            name_tok = self.take()
            value_tok = self.take()
            if value_tok.kind not in _PARAM_TERM:
                self.syntax_error(value_tok)
            if name_tok.kind == "AS":
                score = params.text(value_tok.text) if value_tok.kind == "ATTRIBUTE" else value_tok.text
                break
            attributes.append((name_tok.text, value_tok))
        self.expect("RSQB")
        values = tuple(
            (attr, params.text(tok.text) if tok.kind == "ATTRIBUTE" else tok.text) for attr, tok in attributes
        )
        return _typed_knn(Knn(k, name, blob, yield_distance_as=score, blob_param=blob_tok.text, params=values))

    # -- =>{$name: value; ...}

    def attributes(self) -> list[tuple[str, str]]:
        """The attribute list after ``=>{``, through ``}``; ``$param`` values are looked up
        at once (RediSearch does it in the grammar action, not afterwards)."""
        found: list[tuple[str, str]] = []
        after_attribute = False
        while True:
            tok = self.take()
            if tok.kind == "RB":
                return found
            if tok.kind == "SEMICOLON":
                after_attribute = False
                continue
            if tok.kind != "ATTRIBUTE" or after_attribute:
                self.syntax_error(tok)
            self.expect("COLON")
            value_tok = self.take()
            if value_tok.kind not in _PARAM_TERM:
                self.syntax_error(value_tok)
            value = value_tok.text
            if value_tok.kind == "ATTRIBUTE":
                raw = self.params.values.get(value_tok.text)
                if raw is None:
                    raise QuerySyntaxError(f"No such parameter `{value_tok.text}`")
                value = qt.decode(raw)
            found.append((tok.text, value))
            after_attribute = True

    def apply_attributes(self, node: Node | None, attributes: list[tuple[str, str]]) -> Node | None:
        if node is None or isinstance(node, MatchAll | MatchNone):  # None: a stop-word,
            return node  # whose attributes RediSearch skips unchecked
        attrs = node.attrs
        for name, value in attributes:
            attrs, vector_attr = qt.apply_attribute(attrs, name, value, isinstance(node, VectorRange))
            if vector_attr is None:
                continue
            assert isinstance(node, VectorRange)
            if vector_attr[0] == "yield_distance_as":
                node = replace(node, yield_distance_as=value)
            else:
                node = replace(node, params=(*node.params, (name, value)))
        if isinstance(node, VectorRange):
            node = replace(node, epsilon=qt.first_param(node.params, "epsilon", qt.positive_double))
        return replace(node, attrs=attrs)

    def apply_knn_attributes(self, knn: Knn, attributes: list[tuple[str, str]]) -> Knn:
        attrs = knn.attrs
        for name, value in attributes:
            attrs, vector_attr = qt.apply_attribute(attrs, name, value, True)
            if vector_attr is None:
                continue
            if vector_attr[0] != "yield_distance_as":
                knn = replace(knn, params=(*knn.params, (name, value)))
                continue
            # Both AS and $YIELD_DISTANCE_AS: an error unless AS named the default.
            if knn.yield_distance_as and knn.yield_distance_as.lower() != f"__{knn.field}_score".lower():
                self.late_errors.append(
                    "Distance field was specified twice for vector query: "
                    f"{knn.yield_distance_as} and {value}"
                )
            knn = replace(knn, yield_distance_as=value)
        return _typed_knn(replace(knn, attrs=attrs))


def _typed_knn(knn: Knn) -> Knn:
    policy = qt.first_param(knn.params, "hybrid_policy", str.upper)
    return replace(
        knn,
        ef_runtime=qt.first_param(knn.params, "ef_runtime", qt.positive_int),
        epsilon=qt.first_param(knn.params, "epsilon", qt.positive_double),
        hybrid_policy=policy if policy in ("ADHOC_BF", "BATCHES") else None,
        batch_size=qt.first_param(knn.params, "batch_size", qt.positive_int),
    )


