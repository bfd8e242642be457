"""Malformed FT.* input gets a RediSearch-style error reply, never an internal error or a hang.

Random argument lists built from the words these commands understand (and junk) are sent to
FT.CREATE, FT.SEARCH, FT.AGGREGATE, FT.EXPLAIN, FT.CURSOR, FT.ALTER and FT.INFO against a
live index; every reply must be a normal reply or an error that is not Magpie's
"internal error" (which would mean a handler raised something unexpected).
"""

from __future__ import annotations

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WORDS = [
    "SCHEMA", "PREFIX", "ON", "HASH", "TEXT", "TAG", "NUMERIC", "VECTOR", "HNSW", "FLAT", "TYPE",
    "FLOAT32", "FLOAT64", "DIM", "DISTANCE_METRIC", "L2", "IP", "COSINE", "M", "EF_RUNTIME",
    "SORTABLE", "AS", "WEIGHT", "SEPARATOR", "NOSTEM", "STOPWORDS", "LIMIT", "RETURN", "SORTBY",
    "ASC", "DESC", "PARAMS", "DIALECT", "NOCONTENT", "WITHSCORES", "VERBATIM", "LOAD", "GROUPBY",
    "REDUCE", "COUNT", "SUM", "AVG", "WITHCURSOR", "MAXIDLE", "FILTER", "INKEYS", "TIMEOUT", "*",
    "@t:{a}", "@n:[1 2]", "@v:[VECTOR_RANGE 1 $B]", "*=>[KNN 3 @v $B]", "(@t:{a})=>[KNN $K @v $B]",
    "hello", "hel*", '"a b"', "-x", "a|b", "$B", "$K", "B", "K", "0", "1", "3", "-1", "10", "2.5",
    "1e400", "nan", "inf", "(", ")", "[", "]", "{", "}", "@", "=>", "", "\x00", "ü", "@__key",
]  # fmt: skip

TOKENS = st.one_of(st.sampled_from(WORDS), st.text(max_size=8), st.binary(max_size=8))


@pytest.fixture(scope="module")
def fuzz_client(magpie):
    client = magpie.client(protocol=2)
    client.execute_command(
        "FT.CREATE", "fuzz", "PREFIX", 1, "fz:", "SCHEMA", "t", "TAG", "n", "NUMERIC", "SORTABLE",
        "body", "TEXT", "v", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32", "DIM", 2, "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    for i in range(20):
        vector = np.array([i, -i], dtype=np.float32).tobytes()
        client.hset(f"fz:{i}", mapping={"t": "a" if i % 2 else "b", "n": i, "body": "hello world", "v": vector})
    yield client
    client.execute_command("FT.DROPINDEX", "fuzz", "DD")
    client.close()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(
        ["FT.SEARCH", "FT.AGGREGATE", "FT.EXPLAIN", "FT.CREATE", "FT.ALTER", "FT.CURSOR", "FT.INFO", "FT.TAGVALS"]
    ),
    args=st.lists(TOKENS, max_size=12),
)
def test_random_arguments_never_cause_an_internal_error(fuzz_client, command, args):
    target = "fuzz" if command != "FT.CREATE" else "fuzz-new"
    if command == "FT.CURSOR":
        argv = [command, *args[:1], target, *args[1:]]
    else:
        argv = [command, target, *args]
    try:
        fuzz_client.execute_command(*argv)
    except redis.ResponseError as exc:
        assert "internal error" not in str(exc), (argv, str(exc))
    finally:
        if command == "FT.CREATE":
            try:
                fuzz_client.execute_command("FT.DROPINDEX", "fuzz-new")
            except redis.ResponseError:
                pass
    assert fuzz_client.ping()


def test_explain_returns_non_utf8_query_bytes_as_sent(fuzz_client):
    assert b"\x80" in fuzz_client.execute_command("FT.EXPLAIN", "fuzz", b"\x80")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(
        st.sampled_from(["t", "n", "body", "v", "other"]),
        st.one_of(st.binary(max_size=16), st.sampled_from([b"", b"nan", b"inf", b"1e400", b"\x00", b" 1", b"a,b,,c"])),
        min_size=1,
    )
)
def test_any_document_content_is_indexed_or_counted_as_a_failure(fuzz_client, fields):
    """Whatever bytes a document holds, HSET succeeds and the index stays consistent."""
    fuzz_client.hset("fz:random", mapping=fields)
    total = fuzz_client.execute_command("FT.SEARCH", "fuzz", "*", "LIMIT", 0, 0)[0]
    assert total == len(fuzz_client.keys("fz:*")) - _failures(fuzz_client)
    fuzz_client.delete("fz:random")


def _failures(client) -> int:
    """Documents under the prefix that the index refused (bad numbers or vector blobs)."""
    refused = 0
    for key in client.keys("fz:*"):
        doc = client.hgetall(key)
        number, vector = doc.get(b"n"), doc.get(b"v")
        bad_number = number is not None and _bad_number(number)
        if bad_number or (vector is not None and len(vector) != 8):
            refused += 1
    return refused


def _bad_number(raw: bytes) -> bool:
    from magpie.search.numeric import parse_numeric

    return parse_numeric(raw) is None
