"""FT.CREATE / FT.ALTER argument parsing (magpie.search.schema) against RediSearch 2.10's
behaviour and error texts (src/spec.c, src/rules.c, deps/rmutil/args.h), and FT.INFO's
per-attribute lists as redisvl reads them back."""

from __future__ import annotations

import pytest

from magpie.search.schema import (
    FieldSpec,
    IndexSpec,
    SchemaError,
    describe_field,
    describe_field_map,
    field_by_name,
    parse_alter_fields,
    parse_create,
)

REDISVL_LINE = (
    "idx ON HASH PREFIX 1 doc SCORE 1.0 SCHEMA title TEXT WEIGHT 1 genre TAG SEPARATOR , "
    "year NUMERIC emb VECTOR HNSW 14 TYPE FLOAT32 DIM 4 DISTANCE_METRIC COSINE M 16 "
    "EF_CONSTRUCTION 200 EF_RUNTIME 10 EPSILON 0.01"
)
LANGCHAIN_LINE = (
    "idx ON HASH PREFIX 1 doc: SCHEMA text TEXT WEIGHT 1 _index_name TAG SEPARATOR , "
    "embedding VECTOR FLAT 6 TYPE FLOAT32 DIM 3 DISTANCE_METRIC COSINE"
)


def words(line: str) -> list[bytes]:
    return [w.encode() for w in line.split()]


def create(line: str) -> IndexSpec:
    return parse_create(words(line))


def fields_of(schema: str) -> list[FieldSpec]:
    return create("idx SCHEMA " + schema).fields


def create_error(args: str | list[bytes]) -> str:
    with pytest.raises(SchemaError) as info:
        parse_create(words(args) if isinstance(args, str) else args)
    return info.value.message


def schema_error(schema: str) -> str:
    return create_error("idx SCHEMA " + schema)


def alter_error(spec: IndexSpec, line: str) -> str:
    with pytest.raises(SchemaError) as info:
        parse_alter_fields(spec, words(line))
    return info.value.message


# ------------------------------------------------------------------------ real client lines


def test_the_redisvl_line_parses_with_every_value() -> None:
    spec = create(REDISVL_LINE)
    assert (spec.name, spec.on, spec.prefixes, spec.score) == ("idx", "HASH", [b"doc"], 1.0)
    title, genre, year, emb = spec.fields
    assert (title.type, title.weight) == ("TEXT", 1.0)
    assert (genre.type, genre.separator) == ("TAG", ",")
    assert year.type == "NUMERIC"
    assert (emb.type, emb.algorithm) == ("VECTOR", "HNSW")
    assert emb.vector_params == {
        "TYPE": "FLOAT32", "DIM": 4, "DISTANCE_METRIC": "COSINE",
        "M": 16, "EF_CONSTRUCTION": 200, "EF_RUNTIME": 10, "EPSILON": 0.01,
    }  # fmt: skip


def test_the_langchain_line_parses_with_flat_defaults() -> None:
    spec = create(LANGCHAIN_LINE)
    assert spec.prefixes == [b"doc:"]
    assert [f.name for f in spec.fields] == ["text", "_index_name", "embedding"]
    emb = spec.fields[2]
    assert emb.algorithm == "FLAT"
    assert emb.vector_params == {
        "TYPE": "FLOAT32", "DIM": 3, "DISTANCE_METRIC": "COSINE", "BLOCK_SIZE": 1024,
    }  # fmt: skip


def test_redis_py_field_order_parses() -> None:
    # redis-py's Field puts NOINDEX, INDEXMISSING, INDEXEMPTY, SORTABLE after the type's args
    t, n, g = fields_of(
        "t TEXT WEIGHT 2 NOSTEM PHONETIC dm:en WITHSUFFIXTRIE INDEXMISSING INDEXEMPTY SORTABLE "
        "n NUMERIC INDEXMISSING SORTABLE g TAG SEPARATOR ; CASESENSITIVE NOINDEX SORTABLE"
    )
    assert (t.weight, t.nostem, t.phonetic, t.withsuffixtrie) == (2.0, True, "dm:en", True)
    assert (t.index_missing, t.index_empty, t.sortable, t.unf) == (True, True, True, False)
    assert (n.index_missing, n.sortable, n.unf) == (True, True, True)
    assert (g.separator, g.case_sensitive, g.noindex, g.sortable, g.unf) == (
        ";",
        True,
        True,
        True,
        True,
    )


# ------------------------------------------------------------------------ index options


def test_defaults() -> None:
    spec = create("idx SCHEMA t TEXT")
    assert spec == IndexSpec("idx", fields=spec.fields)
    assert (spec.on, spec.prefixes, spec.language, spec.score, spec.stopwords) == (
        "HASH", [b""], "english", 1.0, None,
    )  # fmt: skip
    f = spec.fields[0]
    assert f == FieldSpec("t", "t", "TEXT")
    assert (f.weight, f.separator, f.sortable, f.noindex, f.vector_params) == (
        1.0,
        ",",
        False,
        False,
        {},
    )


def test_every_index_option() -> None:
    spec = create(
        "idx ON JSON PREFIX 2 a: b: FILTER @x>1 LANGUAGE German LANGUAGE_FIELD lang SCORE 0.5 "
        "SCORE_FIELD sc PAYLOAD_FIELD pl MAXTEXTFIELDS TEMPORARY 30 NOHL NOFREQS "
        "STOPWORDS 2 Foo bar SKIPINITIALSCAN ASYNC NOSCOREIDX SCHEMA t TEXT"
    )
    assert (spec.on, spec.prefixes, spec.filter) == ("JSON", [b"a:", b"b:"], "@x>1")
    assert (spec.language, spec.language_field) == ("german", "lang")
    assert (spec.score, spec.score_field, spec.payload_field) == (0.5, "sc", "pl")
    assert (spec.max_text_fields, spec.temporary, spec.skip_initial_scan) == (True, 30.0, True)
    assert (spec.no_hl, spec.no_freqs, spec.no_offsets, spec.no_fields) == (
        True,
        True,
        False,
        False,
    )
    assert spec.stopwords == ["Foo", "bar"]


def test_nooffsets_implies_nohl_and_nofields() -> None:
    spec = create("idx NOOFFSETS NOFIELDS SCHEMA t TEXT")
    assert (spec.no_offsets, spec.no_hl, spec.no_fields) == (True, True, True)


def test_keywords_are_case_insensitive_names_are_not() -> None:
    spec = create(
        "Idx on hash prefix 1 Doc: language SPANISH schema Title text weight 2 title tag "
        "separator ; casesensitive sortable v vector hnsw 6 type float64 dim 2 distance_metric l2"
    )
    assert (spec.name, spec.on, spec.prefixes, spec.language) == (
        "Idx",
        "HASH",
        [b"Doc:"],
        "spanish",
    )
    title, tag, v = spec.fields
    assert (title.name, title.type, title.weight) == ("Title", "TEXT", 2.0)
    assert (tag.name, tag.type, tag.separator, tag.unf) == ("title", "TAG", ";", True)
    assert (v.algorithm, v.vector_params["TYPE"], v.vector_params["DISTANCE_METRIC"]) == (
        "HNSW", "FLOAT64", "L2",
    )  # fmt: skip


def test_options_come_in_any_order_and_the_last_repeat_wins() -> None:
    spec = create(
        "idx SCORE 0.2 STOPWORDS 1 x PREFIX 1 a ON HASH PREFIX 1 b SCORE 0.3 SCHEMA t TEXT"
    )
    assert (spec.prefixes, spec.score, spec.stopwords) == ([b"b"], 0.3, ["x"])


def test_stopwords_zero_is_an_empty_list_and_prefix_zero_means_every_key() -> None:
    spec = create("idx PREFIX 0 STOPWORDS 0 SCHEMA t TEXT")
    assert (spec.prefixes, spec.stopwords) == ([b""], [])


def test_score_reads_a_number_prefix_as_strtod_does() -> None:
    assert create("idx SCORE 0.25xyz SCHEMA t TEXT").score == 0.25
    assert create("idx SCORE 1 SCHEMA t TEXT").score == 1.0


def test_binary_prefixes_are_kept_as_bytes() -> None:
    spec = parse_create([b"idx", b"PREFIX", b"1", b"\xff\x00k", b"SCHEMA", b"t", b"TEXT"])
    assert spec.prefixes == [b"\xff\x00k"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("idx SCHEMA t", "ERR wrong number of arguments for 'FT.CREATE' command"),
        (
            "idx NOHL NOFREQS PREFIX",
            "Bad arguments for PREFIX: Expected an argument, but none provided",
        ),
        (
            "idx PREFIX x a SCHEMA t TEXT",
            "Bad arguments for PREFIX: Could not convert argument to expected type",
        ),
        (
            "idx PREFIX -1 a SCHEMA t TEXT",
            "Bad arguments for PREFIX: Value is outside acceptable bounds",
        ),
        (
            "idx PREFIX 9 a SCHEMA t TEXT",
            "Bad arguments for PREFIX: Expected an argument, but none provided",
        ),
        (
            "idx PREFIX 1.5 a SCHEMA t TEXT",
            "Bad arguments for PREFIX: Could not convert argument to expected type",
        ),
        ("idx SCHEMA t TEXT STOPWORDS", "Field `STOPWORDS` does not have a type"),
        (
            "idx STOPWORDS 5 a SCHEMA t",
            "Bad arguments for STOPWORDS: Expected an argument, but none provided",
        ),
        (
            "idx TEMPORARY abc SCHEMA t TEXT",
            "Bad arguments for TEMPORARY: Could not convert argument to expected type",
        ),
        ("idx SCHEMA t TEXT ON", "Field `ON` does not have a type"),
        (
            "idx NOHL NOFREQS SCORE",
            "Bad arguments for SCORE: Expected an argument, but none provided",
        ),
        ("idx ON REDIS SCHEMA t TEXT", "Invalid rule type: REDIS"),
        ("idx SCORE 1.5 SCHEMA t TEXT", "Invalid score"),
        ("idx SCORE -0.1 SCHEMA t TEXT", "Invalid score"),
        ("idx SCORE abc SCHEMA t TEXT", "Invalid score"),
        ("idx LANGUAGE klingon SCHEMA t TEXT", "Invalid language"),
        ("idx MAXTEXTFIELDS NOFIELDS SCHEMA t TEXT", "MAXTEXTFIELDS cannot be used with NOFIELDS"),
        ("idx NOHL NOFREQS NOFIELDS", "No schema found"),
        ("idx NOHL BOGUS SCHEMA t TEXT", "Unknown argument `BOGUS`"),
        ("idx ON HASH SCHEMA", "Fields arguments are missing"),
    ],
)
def test_index_option_errors(line: str, message: str) -> None:
    assert create_error(line) == message


def test_rule_errors_come_in_redisearch_order() -> None:
    # the document type is checked before the score, the score before the language
    assert create_error("idx LANGUAGE xx SCORE 7 ON X SCHEMA t TEXT") == "Invalid rule type: X"
    assert create_error("idx LANGUAGE xx SCORE 7 SCHEMA t TEXT") == "Invalid score"
    # option values are read before the MAXTEXTFIELDS / NOFIELDS check
    assert create_error("idx MAXTEXTFIELDS NOFIELDS PREFIX") == (
        "Bad arguments for PREFIX: Expected an argument, but none provided"
    )


# ------------------------------------------------------------------------ fields


def test_alias_and_field_by_name() -> None:
    spec = create("idx SCHEMA $.a AS a TEXT b AS c TAG c AS b NUMERIC")
    a, bc, cb = spec.fields
    assert (a.name, a.alias) == ("$.a", "a")
    assert field_by_name(spec, "a") is a
    assert field_by_name(spec, "$.a") is a
    assert field_by_name(spec, "b") is cb  # the alias wins over the other field's name
    assert field_by_name(spec, "c") is bc
    assert field_by_name(spec, "nope") is None


def test_field_names_are_decoded_with_surrogateescape() -> None:
    spec = parse_create([b"idx", b"SCHEMA", b"\xff", b"TEXT"])
    assert spec.fields[0].name == "\udcff"
    assert spec.fields[0].name.encode("utf-8", "surrogateescape") == b"\xff"


def test_numeric_and_case_sensitive_tag_sortables_are_implicitly_unf() -> None:
    n, tag, text, unf = fields_of(
        "n NUMERIC SORTABLE tag TAG SORTABLE t TEXT SORTABLE u TEXT SORTABLE UNF"
    )
    assert (n.unf, tag.unf, text.unf, unf.unf) == (True, False, False, True)


def test_json_sortables_are_unf() -> None:
    spec = create("idx ON JSON SCHEMA $.t AS t TEXT SORTABLE")
    assert spec.fields[0].unf


def test_geo_and_geoshape() -> None:
    geo, shape, flat = fields_of("g GEO SORTABLE s GEOSHAPE f GEOSHAPE FLAT INDEXMISSING")
    assert (geo.type, geo.sortable) == ("GEO", True)
    assert (shape.type, shape.coord_system) == ("GEOSHAPE", "SPHERICAL")
    assert (flat.coord_system, flat.index_missing) == ("FLAT", True)


def test_a_word_that_is_not_an_option_starts_the_next_field() -> None:
    # RediSearch reads the type's options first, then SORTABLE/NOINDEX, then the next field
    assert schema_error("t TEXT SORTABLE WEIGHT 2") == "Invalid field type for field `WEIGHT`"
    assert (
        schema_error("g TAG SORTABLE CASESENSITIVE") == "Field `CASESENSITIVE` does not have a type"
    )
    assert schema_error("n NUMERIC WITHSUFFIXTRIE") == "Field `WITHSUFFIXTRIE` does not have a type"
    assert (
        schema_error("v VECTOR FLAT 6 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2 SORTABLE")
        == "Field `SORTABLE` does not have a type"
    )


def test_weight_accepts_redis_doubles() -> None:
    assert fields_of("t TEXT WEIGHT 0.5")[0].weight == 0.5
    assert fields_of("t TEXT WEIGHT -2")[0].weight == -2.0
    assert fields_of("t TEXT WEIGHT 1e2")[0].weight == 100.0


def test_over_32_text_fields_make_the_index_wide() -> None:
    schema = " ".join(f"t{i} TEXT" for i in range(33))
    assert create("idx SCHEMA " + schema).max_text_fields
    assert not create("idx SCHEMA " + " ".join(f"t{i} TEXT" for i in range(32))).max_text_fields
    # NOINDEX text fields take no text field id
    narrow = " ".join(f"t{i} TEXT" for i in range(32)) + " x TEXT NOINDEX SORTABLE"
    assert not create("idx SCHEMA " + narrow).max_text_fields
    # NOFIELDS stores no field flags, so nothing needs to be wide
    assert not create("idx NOFIELDS SCHEMA " + schema).max_text_fields


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("t TEXT t TAG", "Duplicate field in schema - t"),
        ("a AS t TEXT t TAG", "Duplicate field in schema - t"),
        ("t TEXT u", "Field `u` does not have a type"),
        ("t AS u", "Field `u` does not have a type"),
        ("t TEXT u STRING", "Invalid field type for field `u`"),
        ("t AS", "AS requires an argument"),
        ("t TEXT WEIGHT", "Bad arguments for weight: Expected an argument, but none provided"),
        (
            "t TEXT WEIGHT heavy",
            "Bad arguments for weight: Could not convert argument to expected type",
        ),
        (
            "t TEXT WEIGHT nan",
            "Bad arguments for weight: Could not convert argument to expected type",
        ),
        (
            "t TEXT WEIGHT 1e999",
            "Bad arguments for weight: Could not convert argument to expected type",
        ),
        ("t TEXT PHONETIC", "PHONETIC requires an argument"),
        (
            "t TEXT PHONETIC dm:de",
            "Matcher Format: <2 chars algorithm>:<2 chars language>. Support algorithms: double "
            "metaphone (dm). Supported languages: English (en), French (fr), Portuguese (pt) and "
            "Spanish (es)",
        ),
        ("g TAG SEPARATOR", "SEPARATOR requires an argument"),
        ("g TAG SEPARATOR ;; x TEXT", "Tag separator must be a single character. Got `;;`"),
        (
            "t TEXT INDEXMISSING NOINDEX",
            "'Field cannot be defined with both `NOINDEX` and `INDEXMISSING` `t` '",
        ),
    ],
)
def test_field_errors(schema: str, message: str) -> None:
    assert schema_error(schema) == message


def test_field_name_errors() -> None:
    base = [b"idx", b"SCHEMA"]
    assert create_error([*base, b"", b"TEXT"]) == "Field name cannot be empty"
    assert create_error([*base, b"a\0b", b"TEXT"]) == "Field name cannot contain null bytes"
    assert (
        create_error([*base, b"a\0b", b"AS", b"ab", b"TEXT"])
        == "Field path cannot contain null bytes"
    )
    assert create_error([*base, b"a", b"AS", b"", b"TEXT"]) == "Field name cannot be empty"
    assert create_error([*base, b"g", b"TAG", b"SEPARATOR", b""]) == (
        "Tag separator must be a single character. Got ``"
    )


def test_schema_limits() -> None:
    text = " ".join(f"t{i} TEXT" for i in range(129))
    assert schema_error(text) == "Schema is limited to 128 TEXT fields"
    many = " ".join(f"n{i} NUMERIC" for i in range(1025))
    assert schema_error(many) == "Schema is limited to 1024 fields"


# ------------------------------------------------------------------------ vector fields


def test_hnsw_parameters_override_defaults_in_any_case() -> None:
    (v,) = fields_of(
        "v VECTOR HNSW 14 type float32 DIM 8 distance_metric ip m 32 EF_CONSTRUCTION 100 "
        "ef_runtime 50 INITIAL_CAP 10"
    )
    assert v.vector_params == {
        "TYPE": "FLOAT32", "DIM": 8, "DISTANCE_METRIC": "IP", "INITIAL_CAP": 10,
        "M": 32, "EF_CONSTRUCTION": 100, "EF_RUNTIME": 50, "EPSILON": 0.01,
    }  # fmt: skip
    (w,) = fields_of("w VECTOR HNSW 8 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2 EPSILON 0.5")
    assert w.vector_params["EPSILON"] == 0.5


def test_flat_parameters_and_index_missing() -> None:
    v, t = fields_of(
        "v VECTOR flat 10 TYPE FLOAT64 DIM 2.0 DISTANCE_METRIC Cosine INITIAL_CAP 0 BLOCK_SIZE 8 "
        "INDEXMISSING t TEXT"
    )
    assert v.vector_params == {
        "TYPE": "FLOAT64", "DIM": 2, "DISTANCE_METRIC": "COSINE", "INITIAL_CAP": 0, "BLOCK_SIZE": 8,
    }  # fmt: skip
    assert (v.index_missing, t.type) == (True, "TEXT")


def test_half_precision_types_parse_as_in_redisearch_2_10() -> None:
    v, w = fields_of(
        "v VECTOR FLAT 6 TYPE FLOAT16 DIM 2 DISTANCE_METRIC L2 "
        "w VECTOR FLAT 6 TYPE bfloat16 DIM 2 DISTANCE_METRIC L2"
    )
    assert (v.vector_params["TYPE"], w.vector_params["TYPE"]) == ("FLOAT16", "BFLOAT16")


FLAT = "Bad arguments for vector similarity FLAT index"
HNSW = "Bad arguments for vector similarity HNSW index"


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            "v VECTOR",
            "Bad arguments for vector similarity algorithm: Expected an argument, but none provided",
        ),
        (
            "v VECTOR REDIS 6 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2",
            "Bad arguments for vector similarity algorithm: Unknown argument",
        ),
        (
            "v VECTOR FLAT",
            "Bad arguments for vector similarity number of parameters: Expected an argument, but none provided",
        ),
        (
            "v VECTOR FLAT six",
            "Bad arguments for vector similarity number of parameters: Could not convert argument to expected type",
        ),
        (
            "v VECTOR HNSW -2",
            "Bad arguments for vector similarity number of parameters: Value is outside acceptable bounds",
        ),
        ("v VECTOR FLAT 6", "Expected 6 parameters but got 0"),
        (
            "v VECTOR FLAT 8 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2",
            "Expected 8 parameters but got 6",
        ),
        (
            "v VECTOR FLAT 8 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2 t TEXT",
            "Bad arguments for algorithm FLAT: t",
        ),
        (
            "v VECTOR FLAT 1",
            "Bad number of arguments for vector similarity index: got 1 but expected even number "
            "as algorithm parameters (should be submitted as named arguments)",
        ),
        (
            "v VECTOR HNSW 7 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2 M",
            "Bad number of arguments for vector similarity index: got 7 but expected even number "
            "(as algorithm parameters should be submitted as named arguments)",
        ),
        ("v VECTOR FLAT 2 SIZE 3", "Bad arguments for algorithm FLAT: SIZE"),
        ("v VECTOR HNSW 2 size 3", "Bad arguments for algorithm HNSW: size"),
        ("v VECTOR FLAT 2 TYPE", f"{FLAT} `TYPE`: Expected an argument, but none provided"),
        (
            "v VECTOR HNSW 6 TYPE DOUBLE DIM 2 DISTANCE_METRIC L2",
            f"{HNSW} `TYPE`: Unknown argument",
        ),
        (
            "v VECTOR HNSW 6 TYPE FLOAT32 DIM str DISTANCE_METRIC IP",
            f"{HNSW} `DIM`: Could not convert argument to expected type",
        ),
        (
            "v VECTOR FLAT 6 TYPE FLOAT32 DIM 0 DISTANCE_METRIC IP",
            f"{FLAT} `DIM`: Value is outside acceptable bounds",
        ),
        (
            "v VECTOR FLAT 6 TYPE FLOAT32 DIM -4 DISTANCE_METRIC IP",
            f"{FLAT} `DIM`: Value is outside acceptable bounds",
        ),
        (
            "v VECTOR FLAT 6 TYPE FLOAT32 DIM 1.5 DISTANCE_METRIC IP",
            f"{FLAT} `DIM`: Could not convert argument to expected type",
        ),
        (
            "v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC REDIS",
            f"{HNSW} `DISTANCE_METRIC`: Unknown argument",
        ),
        (
            "v VECTOR FLAT 4 DIM 4 DISTANCE_METRIC IP",
            "Missing mandatory parameter: cannot create FLAT index without specifying TYPE argument",
        ),
        (
            "v VECTOR HNSW 4 TYPE FLOAT32 DISTANCE_METRIC IP",
            "Missing mandatory parameter: cannot create HNSW index without specifying DIM argument",
        ),
        (
            "v VECTOR HNSW 4 TYPE FLOAT32 DIM 4",
            "Missing mandatory parameter: cannot create HNSW index without specifying DISTANCE_METRIC argument",
        ),
        # HNSW's parameters are unknown to FLAT, and BLOCK_SIZE to HNSW
        (
            "v VECTOR FLAT 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 M 16",
            "Bad arguments for algorithm FLAT: M",
        ),
        (
            "v VECTOR FLAT 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 EF_RUNTIME 5",
            "Bad arguments for algorithm FLAT: EF_RUNTIME",
        ),
        (
            "v VECTOR FLAT 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 EPSILON 1",
            "Bad arguments for algorithm FLAT: EPSILON",
        ),
        (
            "v VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 BLOCK_SIZE 8",
            "Bad arguments for algorithm HNSW: BLOCK_SIZE",
        ),
        (
            "v VECTOR FLAT 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 BLOCK_SIZE 0",
            f"{FLAT} `BLOCK_SIZE`: Value is outside acceptable bounds",
        ),
        (
            "v VECTOR FLAT 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 INITIAL_CAP -1",
            f"{FLAT} `INITIAL_CAP`: Value is outside acceptable bounds",
        ),
        (
            "v VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 M 0",
            f"{HNSW} `M`: Value is outside acceptable bounds",
        ),
        (
            "v VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 EF_CONSTRUCTION x",
            f"{HNSW} `EF_CONSTRUCTION`: Could not convert argument to expected type",
        ),
        (
            "v VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 EF_RUNTIME 0",
            f"{HNSW} `EF_RUNTIME`: Value is outside acceptable bounds",
        ),
        (
            "v VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 EPSILON -1",
            f"{HNSW} `EPSILON`: Value is outside acceptable bounds",
        ),
    ],
)
def test_vector_errors(schema: str, message: str) -> None:
    assert schema_error(schema) == message


def test_nargs_smaller_than_the_pairs_leaves_the_rest_to_the_next_field() -> None:
    assert schema_error("v VECTOR FLAT 4 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2") == (
        "Missing mandatory parameter: cannot create FLAT index without specifying "
        "DISTANCE_METRIC argument"
    )


# ------------------------------------------------------------------------ FT.ALTER


def test_alter_adds_fields_without_touching_the_spec() -> None:
    spec = create("idx SCHEMA t TEXT")
    added = parse_alter_fields(
        spec, words("SCHEMA ADD g TAG SEPARATOR ; n AS num NUMERIC SORTABLE")
    )
    assert [(f.name, f.alias, f.type) for f in added] == [
        ("g", "g", "TAG"),
        ("n", "num", "NUMERIC"),
    ]
    assert len(spec.fields) == 1
    assert parse_alter_fields(spec, words("skipinitialscan schema add x TEXT"))[0].name == "x"


def test_alter_errors() -> None:
    spec = create("idx SCHEMA t TEXT n AS num NUMERIC")
    assert alter_error(spec, "ADD x TEXT") == "ALTER must be followed by SCHEMA"
    assert alter_error(spec, "SCHEMA DROP t") == "Unknown action passed to ALTER SCHEMA"
    assert alter_error(spec, "SCHEMA ADD") == "No fields provided"
    assert alter_error(spec, "SCHEMA ADD t TAG") == "Duplicate field in schema - t"
    assert alter_error(spec, "SCHEMA ADD x AS num TAG") == "Duplicate field in schema - num"
    assert alter_error(spec, "SCHEMA ADD x TEXT x TAG") == "Duplicate field in schema - x"
    assert alter_error(spec, "SCHEMA ADD x") == "Field `x` does not have a type"
    # the attribute name alone is no duplicate: RediSearch compares aliases
    assert parse_alter_fields(spec, words("SCHEMA ADD n AS n2 TAG"))[0].alias == "n2"


def test_alter_past_32_text_fields_needs_maxtextfields() -> None:
    schema = " ".join(f"t{i} TEXT" for i in range(32))
    narrow = create("idx SCHEMA " + schema)
    assert alter_error(narrow, "SCHEMA ADD x TEXT") == (
        "Cannot add more fields. Declare index with wide fields to allow adding unlimited fields"
    )
    assert parse_alter_fields(narrow, words("SCHEMA ADD x TEXT NOINDEX SORTABLE y TAG"))
    for line in ("idx MAXTEXTFIELDS SCHEMA ", "idx NOFIELDS SCHEMA "):
        assert parse_alter_fields(create(line + schema), words("SCHEMA ADD x TEXT"))[0].name == "x"


# ------------------------------------------------------------------------ FT.INFO attributes


def test_describe_field_shapes() -> None:
    t, g, n, h, f, s = create(
        "idx SCHEMA $.t AS title TEXT WEIGHT 2 NOSTEM SORTABLE g TAG SEPARATOR ; CASESENSITIVE "
        "INDEXEMPTY SORTABLE n NUMERIC SORTABLE NOINDEX "
        "h VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC COSINE "
        "f VECTOR FLAT 6 TYPE FLOAT64 DIM 3 DISTANCE_METRIC L2 s GEOSHAPE FLAT"
    ).fields
    assert describe_field(t) == [
        "identifier", "$.t", "attribute", "title", "type", "TEXT", "WEIGHT", 2.0,
        "SORTABLE", "NOSTEM",
    ]  # fmt: skip
    assert describe_field(g) == [
        "identifier", "g", "attribute", "g", "type", "TAG", "SEPARATOR", ";",
        "CASESENSITIVE", "SORTABLE", "UNF", "INDEXEMPTY",
    ]  # fmt: skip
    assert describe_field(n) == [
        "identifier", "n", "attribute", "n", "type", "NUMERIC", "SORTABLE", "UNF", "NOINDEX",
    ]  # fmt: skip
    assert describe_field(h) == [
        "identifier", "h", "attribute", "h", "type", "VECTOR", "algorithm", "HNSW",
        "data_type", "FLOAT32", "dim", 4, "distance_metric", "COSINE", "M", 16,
        "ef_construction", 200,
    ]  # fmt: skip
    assert describe_field(f) == [
        "identifier", "f", "attribute", "f", "type", "VECTOR", "algorithm", "FLAT",
        "data_type", "FLOAT64", "dim", 3, "distance_metric", "L2",
    ]  # fmt: skip
    assert describe_field(s)[6:] == ["coord_system", "FLAT"]
    assert describe_field_map(g) == {
        "identifier": "g", "attribute": "g", "type": "TAG", "SEPARATOR": ";",
        "flags": ["CASESENSITIVE", "SORTABLE", "UNF", "INDEXEMPTY"],
    }  # fmt: skip
    assert describe_field_map(n)["flags"] == ["SORTABLE", "UNF", "NOINDEX"]


def _as_resp2_client_sees_it(value: object) -> object:
    """What redis-py hands redisvl for a RESP2 reply: doubles arrive as bulk strings."""
    if isinstance(value, list):
        return [_as_resp2_client_sees_it(v) for v in value]
    if isinstance(value, float):
        return f"{value:.17g}"
    return value


@pytest.mark.parametrize("resp", [2, 3])
def test_redisvl_rebuilds_the_schema_from_describe_field(resp: int) -> None:
    connection = pytest.importorskip("redisvl.redis.connection")
    from redisvl.schema import IndexSchema

    spec = create(
        "idx ON HASH PREFIX 1 doc SCHEMA title TEXT WEIGHT 2 NOSTEM SORTABLE "
        "genre TAG SEPARATOR ; CASESENSITIVE year NUMERIC SORTABLE "
        "emb VECTOR HNSW 10 TYPE FLOAT32 DIM 4 DISTANCE_METRIC COSINE M 8 EF_CONSTRUCTION 100 "
        "flat VECTOR FLAT 6 TYPE FLOAT64 DIM 3 DISTANCE_METRIC L2"
    )
    if resp == 2:
        attributes: list[object] = [
            _as_resp2_client_sees_it(describe_field(f)) for f in spec.fields
        ]
    else:
        attributes = [describe_field_map(f) for f in spec.fields]
    info = {
        "index_name": "idx",
        "index_definition": ["key_type", "HASH", "prefixes", ["doc"], "default_score", "1"],
        "attributes": attributes,
    }
    schema = IndexSchema.from_dict(connection.convert_index_info_to_schema(info))
    fields = schema.fields
    assert list(fields) == ["title", "genre", "year", "emb", "flat"]
    title, genre, year = fields["title"].attrs, fields["genre"].attrs, fields["year"].attrs
    assert (title.weight, title.no_stem, title.sortable) == (2.0, True, True)
    assert (genre.separator, genre.case_sensitive) == (";", True)
    assert year.sortable
    emb, flat = fields["emb"].attrs, fields["flat"].attrs
    assert (emb.algorithm.value, emb.dims, emb.distance_metric.value, emb.datatype.value) == (
        "HNSW", 4, "COSINE", "FLOAT32",
    )  # fmt: skip
    assert (emb.m, emb.ef_construction) == (8, 100)
    assert (flat.algorithm.value, flat.dims, flat.distance_metric.value, flat.datatype.value) == (
        "FLAT", 3, "L2", "FLOAT64",
    )  # fmt: skip
