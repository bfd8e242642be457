"""The FT.SEARCH query parser (DIALECT 2): trees, precedence, parameters, error texts, EXPLAIN.

Expected error texts and EXPLAIN outputs are RediSearch's (its parser.y, lexer.rl,
query_param.c, query.c, param.c and its tests/pytests/test_parser.py, test.py,
test_search_params.py, test_empty.py).
"""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magpie.search.query import (
    STACK_OVERFLOW,
    QuerySyntaxError,
    check_vector_params,
    parse_query,
)
from magpie.search.query_ast import (
    And,
    Attributes,
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
    explain,
)

BLOB = b"\x00\x01}]\x00[{$"  # bytes that would confuse a lexer, if blobs ever reached it
PARAMS = {"vector": BLOB, "EF": b"100", "distance_threshold": b"0.2", "vec": BLOB, "B": BLOB}
SCHEMA = {"t": "TEXT", "title": "TEXT", "tag": "TAG", "n": "NUMERIC", "g": "GEO", "v": "VECTOR"}


def parse(text: str, params: dict[str, bytes] | None = None) -> Node:
    return parse_query(text, PARAMS if params is None else params).filter


def error(text: str, params: dict[str, bytes] | None = None, **kwargs: object) -> str:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(text, PARAMS if params is None else params, **kwargs)  # type: ignore[arg-type]
    return info.value.message


def word(value: str, fields: tuple[str, ...] | None = None, kind: str = "term") -> TextMatch:
    return TextMatch(fields, value, kind)  # type: ignore[arg-type]


def tag(field: str, *values: str) -> TagMatch:
    return TagMatch(field, tuple(TagTerm(v) for v in values))


# -- the queries redisvl and langchain-redis send


def test_redisvl_hybrid_knn_query() -> None:
    query = parse_query(
        "((@genre:{scifi|drama} @year:[(1990 +inf]))=>[KNN 5 @emb $vector EF_RUNTIME $EF AS vector_distance]",
        PARAMS,
    )
    assert query.filter == And((tag("genre", "scifi", "drama"), NumericRange("year", 1990, math.inf, False, True)))
    assert query.knn == Knn(
        5, "emb", BLOB, ef_runtime=100, yield_distance_as="vector_distance", blob_param="vector",
        params=(("EF_RUNTIME", "100"),),
    )  # fmt: skip


def test_redisvl_vector_range_with_filter() -> None:
    node = parse("@emb:[VECTOR_RANGE $distance_threshold $vector]=>{$YIELD_DISTANCE_AS: vector_distance} (@genre:{scifi})")
    assert node == And(
        (VectorRange("emb", 0.2, BLOB, yield_distance_as="vector_distance", blob_param="vector"), tag("genre", "scifi"))
    )


def test_redisvl_filter_and_count_queries() -> None:
    assert parse("(@year:[2000 +inf] @title:(c*))") == And(
        (NumericRange("year", 2000, math.inf), word("c", ("title",), "prefix"))
    )
    assert parse("@genre:{drama}") == tag("genre", "drama")


def test_wildcard_and_pure_knn_queries() -> None:
    assert parse_query("*", {}) == Query(MatchAll())
    query = parse_query("*=>[KNN 3 @v $vec AS score]", PARAMS)
    assert query == Query(MatchAll(), Knn(3, "v", BLOB, yield_distance_as="score", blob_param="vec"))
    query = parse_query("(*)=>[KNN 10 @embedding $vector AS distance]", PARAMS)
    assert query.filter == MatchAll() and query.knn is not None and query.knn.k == 10


@pytest.mark.parametrize("digits", ["18446744073709551616", "9" * 30, "7" * 5000, "0" * 5000 + "3"])
def test_a_knn_k_literal_is_at_most_size_max(digits: str) -> None:
    """k is a size_t: a longer literal is SIZE_MAX, not an internal error (5000 digits are
    more than int() reads; found by the command fuzzer)."""
    query = parse_query(f"*=>[KNN {digits} @v $vec]", PARAMS)
    assert query.knn is not None and query.knn.k == (3 if digits.endswith("3") else 2**64 - 1)


def test_langchain_index_name_filter_with_underscore_field() -> None:
    assert parse('@_index_name:("lc")') == Phrase(("_index_name",), ("lc",))


def test_tag_value_with_escaped_space() -> None:
    assert parse(r"(@content_type:{text} @user:{john\ doe})") == And(
        (tag("content_type", "text"), tag("user", "john doe"))
    )


def test_negated_tag_or_numeric_and_plain_text() -> None:
    assert parse("-@genre:{drama}") == Not(tag("genre", "drama"))
    assert parse("@a:{x} | @b:[1 2]") == Or((tag("a", "x"), NumericRange("b", 1, 2)))
    assert parse("hello world") == And((word("hello"), word("world")))
    assert parse('"hello world"') == Phrase(None, ("hello", "world"))
    assert parse("@title:hel*") == word("hel", ("title",), "prefix")
    assert parse(r"@t:{foo\-bar}") == tag("t", "foo-bar")


# -- precedence (parser.y's %left order)


def test_and_binds_tighter_than_or() -> None:
    assert parse("foo bar | baz qux") == Or((And((word("foo"), word("bar"))), And((word("baz"), word("qux")))))
    assert parse("foo | bar | baz") == Or((word("foo"), word("bar"), word("baz")))


def test_negation_stops_at_a_word_but_not_at_a_number() -> None:
    assert parse("-foo bar") == And((Not(word("foo")), word("bar")))
    assert parse("-foo 5") == Not(And((word("foo"), word("5"))))
    assert parse("~foo bar") == And((Optional(word("foo")), word("bar")))


def test_field_modifier_takes_one_word_unless_a_prefix_follows() -> None:
    assert parse("@t:foo bar") == And((word("foo", ("t",)), word("bar")))
    assert parse("@t:foo bar*") == And((word("foo", ("t",)), word("bar", ("t",), "prefix")), ("t",))
    assert parse("@t:foo|bar") == Or((word("foo", ("t",)), word("bar")))


def test_field_modifier_applies_to_a_group_and_to_a_field_list() -> None:
    assert parse("@t:(foo bar)") == And((word("foo", ("t",)), word("bar", ("t",))), ("t",))
    assert parse("@a|b:(x|y)") == Or((word("x", ("a", "b")), word("y", ("a", "b"))), ("a", "b"))


def test_attributes_attach_to_the_last_unit_or_whole_field_expression() -> None:
    assert parse("foo bar=>{$weight: 2}") == And((word("foo"), TextMatch(None, "bar", attrs=Attributes(2.0))))
    assert parse("@t:foo=>{$weight:2; $slop: 1; $inorder: true}") == TextMatch(
        ("t",), "foo", attrs=Attributes(2.0, 1, True)
    )


def test_groups_merge_like_redisearch_intersection_step() -> None:
    expected = And((word("foo"), word("bar"), word("baz")))
    assert parse("foo bar baz") == expected
    assert parse("(foo bar) baz") == expected
    assert parse("baz (foo bar)") == expected  # the group absorbs what precedes it


def test_after_two_text_alternatives_a_third_must_be_text_too() -> None:
    # Lemon's text_union only continues with text: a RediSearch quirk, kept.
    assert error("foo | bar | @t:{x}") == "Syntax error at offset 12 near t"
    assert parse("foo | @t:{x} | bar") == Or((word("foo"), tag("t", "x"), word("bar")))
    assert parse("(foo | bar) | @t:{x}") == Or((word("foo"), word("bar"), tag("t", "x")))


def test_knn_only_follows_a_single_unit() -> None:
    assert error("foo bar=>[KNN 10 @v $B]") == "Syntax error at offset 9 near >["
    assert error("@t:foo bar=>[KNN 10 @v $B]") == "Syntax error at offset 12 near >["
    query = parse_query("@t:(foo bar)=>[KNN 10 @v $B]", PARAMS)
    assert query.filter == And((word("foo", ("t",)), word("bar", ("t",))), ("t",))
    assert parse_query("@t:{x}=>[KNN 10 @v $B]", PARAMS).filter == tag("t", "x")


def test_knn_attribute_form_sets_distance_name_and_ef_runtime() -> None:
    query = parse_query("*=>[KNN 10 @v $B]=>{$YIELD_DISTANCE_AS: d; $EF_RUNTIME: 50}", PARAMS)
    assert query.knn == Knn(10, "v", BLOB, ef_runtime=50, yield_distance_as="d", blob_param="B", params=(("EF_RUNTIME", "50"),))
    assert query.knn.score_field == "d"
    assert parse_query("*=>[KNN 10 @v $B]", PARAMS).knn.score_field == "__v_score"  # type: ignore[union-attr]


def test_knn_parameters_and_hybrid_options() -> None:
    params = {"B": BLOB, "k": b"7", "ef": b"64"}
    knn = parse_query("(@t:x)=>[KNN $k @v $B EF_RUNTIME $ef HYBRID_POLICY batches BATCH_SIZE 20]", params).knn
    assert knn is not None
    assert (knn.k, knn.ef_runtime, knn.hybrid_policy, knn.batch_size) == (7, 64, "BATCHES", 20)
    assert knn.params == (("EF_RUNTIME", "64"), ("HYBRID_POLICY", "batches"), ("BATCH_SIZE", "20"))


# -- words, escapes, stop-words


def test_words_are_lowercased_and_unescaped() -> None:
    assert parse(r"Hello\-World") == word("hello-world")
    assert parse(r'"Say \"hi\" now"') == Phrase(None, ("say", '"hi"', "now"))
    assert parse(r"@my\-field:{x}") == tag("my-field", "x")


def test_affixes_fuzzy_and_wildcard_words() -> None:
    assert parse("*llo") == word("llo", kind="suffix")
    assert parse("*ell*") == word("ell", kind="infix")
    assert parse("%%helo%%") == TextMatch(None, "helo", "fuzzy", 2)
    assert parse("w'he?lo*'") == word("he?lo*", kind="wildcard")


def test_tag_alternatives_affixes_and_word_lists() -> None:
    assert parse("@t:{ pre* | *suf | *in* | hello world | w'x?' }") == TagMatch(
        "t",
        (TagTerm("pre", "prefix"), TagTerm("suf", "suffix"), TagTerm("in", "infix"), TagTerm("hello world"), TagTerm("x?", "wildcard")),
    )  # fmt: skip
    assert parse("@t:{Mixed Case}") == tag("t", "mixed case")  # word lists are normalized
    assert parse("@t:{MixedCase}") == tag("t", "MixedCase")
    assert parse("@t:{$p}", {"p": b"a\\,b"}) == tag("t", "a,b")


def test_stopwords_are_dropped() -> None:
    assert parse("the") == MatchNone()
    assert parse("hello the world") == And((word("hello"), word("world")))
    assert parse("foo | the") == word("foo")
    assert parse_query("(the)=>[KNN 10 @v $B]", PARAMS).filter == MatchAll()
    assert parse_query("foo the", {}, stopwords={"foo"}).filter == word("the")


def test_empty_query_matches_nothing() -> None:
    assert parse_query("", {}) == Query(MatchNone())
    assert parse_query("  ,. ", {}) == Query(MatchNone())


def test_numeric_forms() -> None:
    assert parse("@n:[(1 +inf]") == NumericRange("n", 1, math.inf, False, True)
    assert parse("@n:[-inf (5]") == NumericRange("n", -math.inf, 5, True, False)
    assert parse("@n:[5]") == NumericRange("n", 5, 5)
    assert parse("@n:[5, 6]") == NumericRange("n", 5, 6)
    assert parse("@n:[- 5 -.5]") == NumericRange("n", -5, -0.5)
    assert parse("@n>5") == NumericRange("n", 5, math.inf, False, True)
    assert parse("@n <= -2") == NumericRange("n", -math.inf, -2, True, True)
    assert parse("@n!=3") == Not(NumericRange("n", 3, 3))


def test_geo_geoshape_and_ismissing() -> None:
    assert parse("@g:[1.5 -2 10 KM]") == GeoRadius("g", 1.5, -2, 10, "km")
    assert parse("@s:[within $p]", {"p": b"POLYGON((0 0, 1 1, 0 0))"}) == GeoShape("s", "WITHIN", "POLYGON((0 0, 1 1, 0 0))")
    assert parse("ismissing(@f)") == Missing("f")


# -- parameters


def test_numeric_parameters_and_exclusive_bounds() -> None:
    params = {"lo": b"1.5", "hi": b"+inf", "one": b"7"}
    assert parse("@n:[$lo $hi]", params) == NumericRange("n", 1.5, math.inf)
    assert parse("@n:[($lo ($hi]", params) == NumericRange("n", 1.5, math.inf, False, False)
    assert parse("@n:[$one]", params) == NumericRange("n", 7, 7)
    assert parse("@n:[-$lo 2]", params) == NumericRange("n", -1.5, 2)
    assert parse("@n>=$lo", params) == NumericRange("n", 1.5, math.inf)


def test_parenthesis_inside_a_bound_parameter_is_read_but_not_obeyed() -> None:
    # parseDoubleRange skips "(" into a flag RediSearch never uses.
    assert parse("@n:[$lo 10]", {"lo": b"(5"}) == NumericRange("n", 5, 10, True, True)


def test_blob_is_the_raw_parameter_bytes() -> None:
    blob = bytes(range(256))
    knn = parse_query("*=>[KNN 1 @v $b]", {"b": blob}).knn
    assert knn is not None and knn.blob == blob
    assert parse("@v:[VECTOR_RANGE 1 $b]", {"b": b"]}\x00"}) == VectorRange("v", 1, b"]}\x00", blob_param="b")


def test_text_parameter_is_normalized() -> None:
    assert parse("@t:$p", {"p": b"Hello"}) == word("hello", ("t",))
    assert parse("@t:%$p%", {"p": b"Hello"}) == TextMatch(("t",), "hello", "fuzzy", 1)


@pytest.mark.parametrize(
    ("query", "params", "message"),
    [
        ("@foo:$param", {}, "No such parameter `param`"),
        ("@foo:(%$param%)", {}, "No such parameter `param`"),
        ("@bar:{$param}", {}, "No such parameter `param`"),
        ("@num:[$min $max]", {}, "No such parameter `min`"),
        ("*=>[KNN $k @v $B]", {"k": b"TKOO"}, "No such parameter `B`"),  # the blob resolves first
        ("@foo:(KNN) => [KNN $k @v $vec]", {}, "No such parameter `vec`"),  # the KNN node first
        ("@v:[VECTOR_RANGE $r $B]", {}, "No such parameter `B`"),
        ("* => [KNN $k @v $vec EF_RUNTIME $EF]", {"vec": b"x", "k": b"2"}, "No such parameter `EF`"),
        ("* => [KNN $k @v $vec]", {"vec": b"x", "k": b"zzz"}, "Invalid numeric value (zzz) for parameter `k`"),
        ("* => [KNN $k @v $vec]", {"vec": b"x", "k": b"2.71"}, "Invalid numeric value (2.71) for parameter `k`"),
        ("* => [KNN $k @v $vec]", {"vec": b"x", "k": b"-3"}, "Invalid numeric value (-3) for parameter `k`"),
        ("@g:[29.69 34.95 $rapido $units]", {"rapido": b"bad", "units": b"m"}, "Invalid numeric value (bad) for parameter `rapido`"),
        ("@g:[1.2 3.4 $radius km]", {"radius": b"1e1000"}, "Invalid numeric value (1e1000) for parameter `radius`"),
        ("@g:[1.2 3.4 $radius km]", {"radius": b"-1e-1000"}, "Invalid numeric value (-1e-1000) for parameter `radius`"),
        ("@g:[$long 4.56 10 km]", {"long": b""}, "Invalid numeric value () for parameter `long`"),
        ("@num:[$min $max]", {"min": b"102", "max": b"-inf"}, "Bad upper range: -inf"),
        ("@num:[$min 5]", {"min": b"abc"}, "Bad lower range: abc"),
        ("@t:{abc}=>{$weight:$p}", {}, "No such parameter `p`"),
        # thousands of digits (found by the command fuzzer: int() refuses to read them)
        ("* => [KNN $k @v $vec]", {"vec": b"x", "k": b"7" * 5000}, f"Invalid numeric value ({'7' * 5000}) for parameter `k`"),
    ],
)  # fmt: skip
def test_parameter_errors(query: str, params: dict[str, bytes], message: str) -> None:
    assert error(query, params) == message


def test_syntax_errors_come_before_parameter_errors() -> None:
    assert error("@t:$missing )", {}) == "Syntax error at offset 12 near missing"


# -- error texts


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("hello world:", "Syntax error at offset 11 near world"),
        ("hello (", "Syntax error at offset 6 near hello"),  # at the end: the last token's
        ("  )", "Syntax error at offset 2 near "),
        ("@t:{}", "Syntax error at offset 4 near t"),  # "}" shows the text before it
        ("@t:{a-b}", "Syntax error at offset 5 near a"),
        ("héllo )", "Syntax error at offset 7 near héllo"),  # offsets count bytes
        ("hilton @location:[ -0.1757 51.5156 1]", "Syntax error at offset 36 near 1"),
        ("@n:[(105]", "Syntax error at offset 8 near 105"),
        ("@n:[((105 300]", "Syntax error at offset 5 near n"),
        ("* foo", "Syntax error at offset 2 near foo"),
        ("ismissing data", "Syntax error at offset 10 near data"),
        ("*=>[KNN badval @v $B]", "Syntax error at offset 8 near badval"),
        ('*=>[KNN "" @v $B AS dist]', "Syntax error at offset 8 near "),
        ("*=>[TKOO 4 @v $B]", "Syntax error: Expecting Vector Similarity command at offset 4 near TKOO"),
        ("@v:[VECTOR_RAGE 0.1 $B]", "Syntax error: expecting vector similarity range command at offset 4 near VECTOR_RAGE"),
        ("@s:[beyond $p]", "Syntax error: Expecting a geoshape predicate at offset 11"),
        ("@g:[1 2 3 4]", "Invalid GeoFilter unit"),
        ("@g:[1 2 3 parsecs]", "Invalid GeoFilter unit"),
        ("@t:{x}=>{$weight: 2 $slop: 3}", "Syntax error at offset 20 near slop"),
        ('@t:{abc}=>{$weight:""}', "Invalid value () for `weight`"),
        ("@t:{abc}=>{$weight:-1}", "Invalid value (-1) for `weight`"),
        ("@t:{abc}=>{$slop:x}", "Invalid value (x) for `slop`"),
        ("@foo:(jon)=>{$phonetic:maybe}", "Invalid value (maybe) for `phonetic`"),
        ("@t:{x}=>{$yield_distance_as: d}", "Invalid attribute yield_distance_as"),
        ("@t:{x}=>{$Foo: 1}", "Invalid attribute Foo"),
        ('*=>[KNN 3 @v $B]=>{$yield_distance_as:""}', "Invalid value () for `yield_distance_as`"),
        ("*=>[KNN 3 @v $B]=>{$SHARD_K_RATIO: 0.5}", "Shard k ratio is unavailable when `ENABLE_UNSTABLE_FEATURES` is off."),
        ("*=>[KNN 10 @v $B AS d]=>{$yield_distance_as: e}", "Distance field was specified twice for vector query: d and e"),
        ("hello kitty @score:[5, -inf]", "Invalid numeric range (min > max): @score:[5.000000 -inf]"),
        ("@n:[(inf 5]", "Invalid numeric range (min > max): @n:[inf 5.000000]"),
    ],
)  # fmt: skip
def test_error_texts(query: str, message: str) -> None:
    assert error(query, {"B": BLOB, "p": b"P"}) == message


def test_as_named_default_distance_field_may_be_renamed() -> None:
    knn = parse_query("*=>[KNN 10 @v $B AS __v_score]=>{$yield_distance_as: e}", PARAMS).knn
    assert knn is not None and knn.yield_distance_as == "e"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("@bad:[vector_range 0.1 $B]", "Unknown field at offset 0 near bad"),
        ("*=>[KNN 2 @t $B]", "Expected a VECTOR field at offset 10 near t"),
        ("@tag:hello", "Expected a TEXT field at offset 0 near tag"),
        ("@t:{x}", "Expected a TAG field at offset 0 near t"),
        ("@tag:[1 2]", "Expected a NUMERIC field at offset 0 near tag"),
        ("@n:[1 2 3 km]", "Expected a GEO field at offset 0 near n"),
        ("@t|nope:(abc)", "Unknown field at offset 3 near nope"),
        ("@t|5.5:(abc)", "Unknown field at offset 3 near 5.500000"),  # a number prints with %f
        ("@t|5:(abc)", "Unknown field at offset 3"),  # an integer token prints nothing
        ("@tag|t:(abc)", "Expected a TEXT field at offset 0 near tag"),
    ],
)
def test_field_errors_with_a_schema(query: str, message: str) -> None:
    assert error(query, {"B": BLOB}, fields=SCHEMA) == message


def test_deep_nesting_overflows_like_redisearch() -> None:
    def nest(level: int, joiner: str) -> str:
        return "(@mod:a1)" if level == 1 else f"(a{level}{joiner}{nest(level - 1, joiner)})"

    for joiner in (" ", "|"):
        parse_query(nest(84, joiner), {})
        assert error(nest(200, joiner), {}) == STACK_OVERFLOW
    assert error("-" * 2000 + "foo", {}) == STACK_OVERFLOW


# -- vector search parameters (VecSim's checks, made once the index is known)


@pytest.mark.parametrize(
    ("params", "algorithm", "query_type", "reason"),
    [
        ([("EF_RUNTIME", "10")], "FLAT", "knn", "Invalid option"),
        ([("EF_RUNTIME", "10")], "HNSW", "range", "Invalid option"),
        ([("EF_RUNTIME", "0")], "HNSW", "knn", "Invalid value was given"),
        ([("EF_RUNTIME", "10"), ("ef_runtime", "20")], "HNSW", "knn", "Parameter was specified twice"),
        ([("EPSILON", "0.1")], "HNSW", "knn", "range query attributes were sent for a non-range query"),
        ([("BATCH_SIZE", "10")], "HNSW", "knn", "hybrid query attributes were sent for a non-hybrid query"),
        ([("HYBRID_POLICY", "fast")], "HNSW", "hybrid", "invalid hybrid policy was given"),
        ([("HYBRID_POLICY", "ADHOC_BF"), ("BATCH_SIZE", "5")], "FLAT", "hybrid", "'batch size' is irrelevant for 'ADHOC_BF' policy"),
        ([("HYBRID_POLICY", "adhoc_bf"), ("EF_RUNTIME", "5")], "HNSW", "hybrid", "'EF_RUNTIME' is irrelevant for 'ADHOC_BF' policy"),
        ([("WS_SEARCH", "5")], "HNSW", "knn", "Invalid option"),
        ([("EF_RUNTIME", "7" * 5000)], "HNSW", "knn", "Invalid value was given"),  # int() would refuse it
    ],
)  # fmt: skip
def test_vector_parameter_errors(params: list[tuple[str, str]], algorithm: str, query_type: str, reason: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        check_vector_params(params, algorithm, query_type)  # type: ignore[arg-type]
    assert info.value.message == f"Error parsing vector similarity parameters: {reason}"


def test_vector_parameters_accepted() -> None:
    check_vector_params([("EF_RUNTIME", "0x10"), ("HYBRID_POLICY", "BATCHES"), ("BATCH_SIZE", "5")], "HNSW", "hybrid")
    check_vector_params([("EF_RUNTIME", "0" * 5000 + "7")], "HNSW", "knn")  # octal, of any length
    check_vector_params([("EPSILON", "0.01")], "HNSW", "range")
    check_vector_params([], "FLAT", "knn")


# -- FT.EXPLAIN (expected texts are RediSearch's, for queries without stemming)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("foo bar baz", "INTERSECT {\n  foo\n  bar\n  baz\n}\n"),
        ("baz (foo bar)", "INTERSECT {\n  foo\n  bar\n  baz\n}\n"),
        ("@text:foo bar @tag:{baz}", "INTERSECT {\n  @text:foo\n  bar\n  TAG:@tag {\n    baz\n  }\n}\n"),
        ("@tag:{baz} (@text:foo bar)", "INTERSECT {\n  @text:foo\n  bar\n  TAG:@tag {\n    baz\n  }\n}\n"),
        (
            "@t1:(hello world)=>[KNN 10 @v $B]",
            "VECTOR {\n  @t1:INTERSECT {\n    @t1:hello\n    @t1:world\n  }\n} => {K=10 nearest vectors to `$B` "
            "in vector index associated with field @v, yields distance as `__v_score`}\n",
        ),
        (
            "* => [KNN $k @v $B EF_RUNTIME 100]",
            "VECTOR {K=10 nearest vectors to `$B` in vector index associated with field @v, EF_RUNTIME = 100, "
            "yields distance as `__v_score`}\n",
        ),
        (
            "@v:[VECTOR_RANGE $r $B]=>{$epsilon: 1.2; $yield_distance_as:dist}",
            "VECTOR {Vectors that are within 0.1 distance radius from `$B` in vector index associated with field @v, "
            "epsilon = 1.2, yields distance as `dist`}\n",
        ),
        (
            'hello ~-"world"',
            "INTERSECT {\n  hello\n  OPTIONAL{\n    NOT{\n      EXACT {\n        world\n      }\n    }\n  }\n}\n",
        ),
        ("@n:[(1 2] @g:[1.5 0.5 0.5 km]", "INTERSECT {\n  NUMERIC {1.000000 < @n <= 2.000000}\n  GEO g:{1.500000,0.500000 --> 0.500000 km}\n}\n"),
        ("@t:{x}=>{$weight: 3}", "TAG:@t {\n  x\n} => { $weight: 3; }\n"),
        ("", "<empty>\n"),
        ("*", "<WILDCARD>\n"),
    ],
)  # fmt: skip
def test_explain_matches_redisearch(query: str, expected: str) -> None:
    assert explain(parse_query(query, {"B": BLOB, "k": b"10", "r": b"0.1"})) == expected


# -- anything else is a QuerySyntaxError, never another exception

_QUERY_PIECES = st.sampled_from(
    ["a", "5", "1.5", "-", "~", "|", "(", ")", "{", "}", "[", "]", ":", ";", "@t", "@n:[", "$p", "$B", "*", "%",
     '"x y"', "w'a*'", "ab*", "*ab*", "=>", "=>{", "=>[", "KNN", "10", "@v", "AS", "VECTOR_RANGE", "ismissing",
     "@n>5", "inf", "\\", "'", "$weight:", "EF_RUNTIME"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(alphabet=string.printable + "é€\x00", max_size=40), st.lists(_QUERY_PIECES, max_size=12).map(" ".join)))
def test_any_text_parses_or_raises_query_syntax_error(text: str) -> None:
    try:
        query = parse_query(text, {"p": b"(1", "B": BLOB, "weight": b"2"})
    except QuerySyntaxError as exc:
        assert exc.message
        return
    assert isinstance(explain(query), str)


_NESTED_UNION_EXPLAIN = """UNION {
  INTERSECT {
    EXACT {
      hallo
    }
    EXACT {
      world
    }
  }
  EXACT {
    werld
  }
  INTERSECT {
    EXACT {
      hello
    }
    EXACT {
      world
    }
  }
  INTERSECT {
    EXACT {
      hello
    }
    EXACT {
      world
    }
    EXACT {
      werld
    }
  }
  INTERSECT {
    EXACT {
      hello
    }
    EXACT {
      world
    }
  }
}
"""


def test_explain_keeps_redisearch_union_merge_order() -> None:
    query = '("hello" "world")|(("hello" "world")|("hallo" "world"|"werld") | "hello" "world" "werld")'
    assert explain(parse_query(query, {})) == _NESTED_UNION_EXPLAIN


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('@t1:("hello")', "EXACT {\n  t1\n  hello\n}\n"),
        ('@t1:("hello world")', "EXACT {\n  t1\n  hello\n  world\n}\n"),
        ('@t1:("$param")', "EXACT {\n  t1\n  $param\n}\n"),
        ('@t2:{"hello world"}', "EXACT {\n  t2\n  hello\n  world\n}\n"),
        ('@t2:{"" world}', "EXACT {\n  t2\n  world\n}\n"),
        (r'@t2:{"$param\!"}', "EXACT {\n  t2\n  $param!\n}\n"),
    ],
)
def test_a_quoted_query_is_one_phrase_split_at_punctuation(query: str, expected: str) -> None:
    assert explain(parse_query(f"'{query}'", {})) == expected
    swapped = query.replace('"', "'")
    assert explain(parse_query(f'"{swapped}"', {})) == expected
