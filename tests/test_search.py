"""FT.* end to end through redis-py's search API (RESP2 and RESP3): index definitions,
live indexing, the query language, KNN and range queries, replies and errors."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
import redis
from redis.commands.search.field import NumericField, TagField, TextField, VectorField
from redis.commands.search.index_definition import IndexDefinition, IndexType
from redis.commands.search.query import Query


@pytest.fixture
def index(r):
    """A fresh index name and key prefix; the index (and its keys) are dropped afterwards."""
    name = f"idx-{uuid.uuid4().hex[:8]}"
    prefix = f"{name}:"
    yield name, prefix
    try:
        r.ft(name).dropindex(delete_documents=True)
    except redis.ResponseError:
        pass


def create(r, name: str, prefix: str, *fields, **kwargs) -> None:
    r.ft(name).create_index(
        list(fields), definition=IndexDefinition(prefix=[prefix], index_type=IndexType.HASH), **kwargs
    )
    wait_indexed(r, name)


def wait_indexed(r, name: str) -> None:
    deadline = time.monotonic() + 10
    while int(info(r, name)["indexing"]) and time.monotonic() < deadline:
        time.sleep(0.01)


def info(r, name: str) -> dict:
    raw = r.execute_command("FT.INFO", name)
    if isinstance(raw, dict):
        return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}
    return {raw[i].decode(): raw[i + 1] for i in range(0, len(raw), 2)}


class Found:
    """A search result in one shape for both protocols (redis-py gives RESP3 maps as dicts)."""

    def __init__(self, raw) -> None:
        if isinstance(raw, dict):
            self.total = raw["total_results"]
            self.docs = [{"id": item["id"], **item.get("extra_attributes", {})} for item in raw["results"]]
        else:
            self.total = raw.total
            self.docs = [{k: v for k, v in vars(doc).items() if k != "payload"} for doc in raw.docs]

    @property
    def ids(self) -> list[str]:
        return [doc["id"] for doc in self.docs]


def search(r, name: str, query, params=None) -> Found:
    return Found(r.ft(name).search(query, query_params=params))


def ids(found: Found) -> list[str]:
    return found.ids


def vec(values) -> bytes:
    return np.asarray(values, dtype=np.float32).tobytes()


# -- definitions and identity ----------------------------------------------------------------


def test_module_list_and_info_report_the_search_module(r):
    modules = r.module_list()
    assert any(m.get(b"name", m.get("name")) in (b"search", "search") for m in modules)
    assert "name=search,ver=21005" in r.execute_command("INFO", "modules").decode() if isinstance(
        r.execute_command("INFO", "modules"), bytes
    ) else True


def test_create_list_info_and_drop(r, index):
    name, prefix = index
    create(r, name, prefix, TextField("title"), TagField("genre"), NumericField("year"))
    assert name.encode() in r.execute_command("FT._LIST")
    with pytest.raises(redis.ResponseError, match="Index already exists"):
        r.ft(name).create_index([TextField("title")])
    r.hset(f"{prefix}1", mapping={"title": "Alien", "genre": "scifi", "year": 1979})
    r.hset("elsewhere:1", mapping={"title": "Alien"})  # outside the prefix
    assert int(info(r, name)["num_docs"]) == 1
    r.ft(name).dropindex(delete_documents=True)
    assert r.exists(f"{prefix}1") == 0 and r.exists("elsewhere:1") == 1
    r.delete("elsewhere:1")
    with pytest.raises(redis.ResponseError, match="Unknown index name"):
        r.ft(name).info()


def test_existing_keys_are_back_filled(r, index):
    name, prefix = index
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.hset(f"{prefix}{i}", mapping={"n": i, "t": "even" if i % 2 == 0 else "odd"})
    pipe.execute()
    create(r, name, prefix, NumericField("n"), TagField("t"))
    assert int(info(r, name)["num_docs"]) == 3000
    assert float(info(r, name)["percent_indexed"]) == 1.0
    assert search(r, name, Query("@t:{odd}").paging(0, 0)).total == 1500


# -- the query language ---------------------------------------------------------------------


@pytest.fixture
def movies(r, index):
    name, prefix = index
    create(r, name, prefix, TextField("title"), TagField("genre"), NumericField("year", sortable=True))
    rows = [
        ("1", "Alien", "scifi", 1979), ("2", "Aliens", "scifi,action", 1986),
        ("3", "Heat", "crime,drama", 1995), ("4", "Arrival", "scifi,drama", 2016),
        ("5", "The Godfather", "crime,drama", 1972),
    ]  # fmt: skip
    for key, title, genre, year in rows:
        r.hset(f"{prefix}{key}", mapping={"title": title, "genre": genre, "year": year})
    return name, prefix


def test_tag_numeric_and_boolean_queries(r, movies):
    name, prefix = movies
    assert sorted(ids(search(r, name, Query("@genre:{scifi}")))) == [f"{prefix}{i}" for i in (1, 2, 4)]
    assert ids(search(r, name, Query("@genre:{crime} @year:[(1980 +inf]"))) == [f"{prefix}3"]
    assert sorted(ids(search(r, name, Query("@genre:{action|crime}")))) == [f"{prefix}{i}" for i in (2, 3, 5)]
    assert sorted(ids(search(r, name, Query("-@genre:{scifi}")))) == [f"{prefix}{i}" for i in (3, 5)]
    assert search(r, name, Query("@year:[1970 1980]")).total == 2
    assert search(r, name, Query("*")).total == 5


def test_text_terms_prefixes_and_stems(r, movies):
    name, prefix = movies
    assert sorted(ids(search(r, name, Query("alien")))) == [f"{prefix}1", f"{prefix}2"]  # "aliens" stems
    assert ids(search(r, name, Query("alien").verbatim())) == [f"{prefix}1"]
    assert sorted(ids(search(r, name, Query("@title:ar*")))) == [f"{prefix}4"]
    assert ids(search(r, name, Query('"the godfather"'))) == [f"{prefix}5"]


def test_return_sortby_limit_and_nocontent(r, movies):
    name, prefix = movies
    result = search(r, name, Query("*").sort_by("year", asc=False).return_fields("title").paging(1, 2))
    assert result.total == 5
    assert ids(result) == [f"{prefix}3", f"{prefix}2"]
    assert result.docs[0]["title"] == "Heat" and "genre" not in result.docs[0]
    bare = search(r, name, Query("@genre:{drama}").no_content())
    assert bare.total == 3 and all("title" not in d for d in bare.docs)
    assert search(r, name, Query("*").paging(0, 0)).total == 5


def test_params_and_dialect_2(r, movies):
    name, prefix = movies
    query = Query("@year:[$low $high] @genre:{$g}").dialect(2)
    result = search(r, name, query, {"low": 1980, "high": 2000, "g": "drama"})
    assert ids(result) == [f"{prefix}3"]


def test_query_errors_have_redisearch_texts(r, movies):
    name, _ = movies
    with pytest.raises(redis.ResponseError, match="no such index"):
        r.ft("missing-index").search(Query("*"))
    with pytest.raises(redis.ResponseError, match="Syntax error"):
        search(r, name, Query("@genre:{unclosed"))
    with pytest.raises(redis.ResponseError, match="LIMIT exceeds maximum of 1000000"):
        r.execute_command("FT.SEARCH", name, "*", "LIMIT", 0, 2_000_000)



@pytest.mark.parametrize("algorithm", ["FLAT", "HNSW"])
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("INITIAL_CAP", 2**44, "not enough memory"), ("DIM", 2**31, "dimension must be at most")],
)
def test_vector_fields_too_big_to_allocate_are_bad_arguments(r2, index, algorithm, option, value, message):
    """A capacity no machine can hold (MemoryError) or a DIM past hnswlib's C int (TypeError)
    was an internal error (found by the command fuzzer)."""
    name, prefix = index
    params = {"TYPE": "FLOAT32", "DIM": 4, "DISTANCE_METRIC": "L2", option: value}
    words = [str(x) for pair in params.items() for x in pair]
    with pytest.raises(redis.ResponseError, match=f"Bad arguments for vector field: .*{message}"):
        r2.execute_command("FT.CREATE", name, "PREFIX", 1, prefix, "SCHEMA", "v", "VECTOR", algorithm, len(words), *words)


def test_ft_info_of_field_names_that_are_not_utf8(r, index):
    """FT.INFO sends field names as simple strings; bytes that are not UTF-8 made the
    encoder raise and the connection drop (found by the command fuzzer)."""
    name, prefix = index
    r.execute_command("FT.CREATE", name, "PREFIX", 1, prefix, "SCHEMA", b"\xb7x", "AS", b"\xc3y", "TAG")
    info = r.execute_command("FT.INFO", name)
    assert info and r.ping()


def test_legacy_filter_on_a_field_name_that_is_not_utf8_is_an_unknown_field(r2, movies):
    name, _ = movies
    with pytest.raises(redis.ResponseError, match="Unknown field `"):
        r2.execute_command("FT.SEARCH", name, "*", "FILTER", b"\xd1\xff", 0, 1)


# -- live indexing ----------------------------------------------------------------------------


def test_writes_keep_the_index_exact(r, movies):
    name, prefix = movies
    r.hset(f"{prefix}3", "genre", "comedy")  # overwrite
    assert search(r, name, Query("@genre:{crime}")).total == 1
    r.delete(f"{prefix}5")  # delete
    r.rename(f"{prefix}1", "outside:1")  # renamed out of the prefix
    r.rename(f"{prefix}2", f"{prefix}22")  # renamed within it
    assert sorted(ids(search(r, name, Query("*")))) == [f"{prefix}22", f"{prefix}3", f"{prefix}4"]
    r.delete("outside:1")
    r.pexpire(f"{prefix}4", 1)
    time.sleep(0.05)
    r.exists(f"{prefix}4")  # lazy expiry
    assert int(info(r, name)["num_docs"]) == 2
    r.hdel(f"{prefix}3", "title", "genre", "year")  # the hash disappears with its last field
    assert int(info(r, name)["num_docs"]) == 1


def test_bad_numeric_value_is_an_indexing_failure(r, movies):
    name, prefix = movies
    r.hset(f"{prefix}9", mapping={"title": "Broken", "year": "not-a-year"})
    assert int(info(r, name)["hash_indexing_failures"]) == 1
    assert search(r, name, Query("broken")).total == 0


# -- vectors ----------------------------------------------------------------------------------


def vector_index(r, name, prefix, algorithm="HNSW", metric="L2", dim=4, **extra):
    attrs = {"TYPE": "FLOAT32", "DIM": dim, "DISTANCE_METRIC": metric, **extra}
    create(r, name, prefix, TagField("color"), NumericField("n"), VectorField("v", algorithm, attrs))


@pytest.mark.parametrize("algorithm", ["FLAT", "HNSW"])
@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_knn_returns_nearest_with_redisearch_distances(r, index, algorithm, metric):
    name, prefix = index
    vector_index(r, name, prefix, algorithm, metric)
    rng = np.random.default_rng(7)
    data = rng.normal(size=(50, 4)).astype(np.float32)
    for i, row in enumerate(data):
        r.hset(f"{prefix}{i}", mapping={"v": row.tobytes(), "color": "red" if i % 2 else "blue", "n": i})
    query_vector = rng.normal(size=4).astype(np.float32)
    if metric == "L2":
        truth = ((data - query_vector) ** 2).sum(axis=1)
    elif metric == "IP":
        truth = 1 - data @ query_vector
    else:
        truth = 1 - (data @ query_vector) / (np.linalg.norm(data, axis=1) * np.linalg.norm(query_vector))
    expected = [f"{prefix}{i}" for i in np.argsort(truth)[:5]]
    query = Query("*=>[KNN 5 @v $B AS dist]").return_fields("dist").dialect(2)
    result = search(r, name, query, {"B": query_vector.tobytes()})
    assert ids(result) == expected
    got = [float(d["dist"]) for d in result.docs]
    assert np.allclose(got, np.sort(truth)[:5], rtol=1e-4, atol=1e-5)


def test_knn_without_limit_returns_k_results_and_default_score_field(r, index):
    name, prefix = index
    vector_index(r, name, prefix, "FLAT")
    for i in range(40):
        r.hset(f"{prefix}{i}", mapping={"v": vec([i, 0, 0, 0]), "n": i})
    # redis-py's Query always sends LIMIT 0 10, so send FT.SEARCH as redis-cli would.
    raw = r.execute_command("FT.SEARCH", name, "*=>[KNN 15 @v $B]", "PARAMS", 2, "B", vec([0, 0, 0, 0]), "DIALECT", 2)
    if isinstance(raw, dict):
        results = raw[b"results"]
        assert len(results) == 15
        assert results[3][b"extra_attributes"][b"__v_score"] == b"9"  # squared L2 to [3, 0, 0, 0]
    else:
        assert raw[0] == 15 and len(raw) == 1 + 2 * 15
        assert raw[8][:2] == [b"__v_score", b"9"]
    limited = search(r, name, Query("*=>[KNN 15 @v $B]").dialect(2), {"B": vec([0, 0, 0, 0])})
    assert len(limited.docs) == 10  # an explicit LIMIT 0 10 still pages


def test_filtered_knn_finds_k_matches_at_low_selectivity(r, index):
    name, prefix = index
    vector_index(r, name, prefix, "HNSW")
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        color = "rare" if i % 100 == 0 else "common"
        pipe.hset(f"{prefix}{i}", mapping={"v": vec([i, i % 7, 0, 1]), "color": color, "n": i})
    pipe.execute()
    query = Query("(@color:{rare})=>[KNN 10 @v $B AS d]").sort_by("d").dialect(2)
    result = search(r, name, query, {"B": vec([1000, 0, 0, 1])})
    assert len(result.docs) == 10
    assert all(int(doc["id"].rsplit(":", 1)[1]) % 100 == 0 for doc in result.docs)
    assert result.docs[0]["id"] == f"{prefix}1000"


def test_vector_range_with_other_filters(r, index):
    name, prefix = index
    vector_index(r, name, prefix, "FLAT")
    for i in range(10):
        r.hset(f"{prefix}{i}", mapping={"v": vec([i, 0, 0, 0]), "color": "red" if i < 5 else "blue", "n": i})
    query = Query("@v:[VECTOR_RANGE $r $B]=>{$YIELD_DISTANCE_AS: d} @color:{red}").sort_by("d").dialect(2)
    result = search(r, name, query, {"r": 4.5, "B": vec([0, 0, 0, 0])})
    assert ids(result) == [f"{prefix}0", f"{prefix}1", f"{prefix}2"]  # 0, 1, 4 <= 4.5


def test_bad_blobs(r, index):
    name, prefix = index
    vector_index(r, name, prefix, "HNSW")
    r.hset(f"{prefix}a", mapping={"v": vec([1, 2, 3, 4])})
    r.hset(f"{prefix}a", mapping={"v": b"\x00" * 7})  # a bad blob drops the old vector too
    assert int(info(r, name)["hash_indexing_failures"]) == 1
    assert int(info(r, name)["num_docs"]) == 0
    with pytest.raises(redis.ResponseError) as excinfo:
        search(r, name, Query("*=>[KNN 3 @v $B]").dialect(2), {"B": b"\x00" * 7})
    assert str(excinfo.value) == (
        "Error parsing vector similarity query: query vector blob size (7) does not match "
        "index's expected size (16)."
    )


# -- FT.AGGREGATE and cursors -------------------------------------------------------------


def aggregate_rows(reply) -> list[dict]:
    """Rows of an FT.AGGREGATE reply (RESP2 list or RESP3 map) as dicts of bytes."""
    if isinstance(reply, dict):
        return [dict(item[b"extra_attributes"]) for item in reply[b"results"]]
    return [dict(zip(row[::2], row[1::2], strict=True)) for row in reply[1:]]


def test_aggregate_groupby_reduce_sortby_limit(r, movies):
    name, _ = movies
    reply = r.execute_command(
        "FT.AGGREGATE", name, "*", "LOAD", 1, "@genre", "GROUPBY", 1, "@year", "REDUCE", "COUNT", 0,
        "AS", "n", "SORTBY", 2, "@year", "DESC", "LIMIT", 0, 2,
    )  # fmt: skip
    assert aggregate_rows(reply) == [{b"year": b"2016", b"n": b"1"}, {b"year": b"1995", b"n": b"1"}]
    reply = r.execute_command(
        "FT.AGGREGATE", name, "@genre:{drama}", "GROUPBY", 0, "REDUCE", "SUM", 1, "@year", "AS", "total",
        "REDUCE", "AVG", 1, "@year", "AS", "mean", "REDUCE", "MAX", 1, "@year", "AS", "last",
    )  # fmt: skip
    assert aggregate_rows(reply) == [{b"total": b"5983", b"mean": b"1994.33333333", b"last": b"2016"}]


def test_aggregate_reducer_and_param_names_that_are_not_utf8(r2, movies):
    """Bytes that are not UTF-8 are kept as they came (an unknown reducer, a parameter
    nobody uses), not an internal error."""
    name, _ = movies
    with pytest.raises(redis.ResponseError, match="No such reducer"):
        r2.execute_command("FT.AGGREGATE", name, "*", "GROUPBY", 1, "@year", "REDUCE", b"\xff\xfe", 0)
    reply = r2.execute_command("FT.AGGREGATE", name, "*", "PARAMS", 2, b"\xc4\x38", "v")
    assert reply[0] == 5


def test_aggregate_cursor_pages_through_every_key(r, index):
    name, prefix = index
    create(r, name, prefix, NumericField("n"))
    for i in range(25):
        r.hset(f"{prefix}{i}", "n", i)
    reply, cid = r.execute_command("FT.AGGREGATE", name, "*", "LOAD", 1, "@__key", "WITHCURSOR", "COUNT", 10)
    keys = [row[b"__key"] for row in aggregate_rows(reply)]
    reads = 0
    while cid:
        reply, cid = r.execute_command("FT.CURSOR", "READ", name, cid)
        keys += [row[b"__key"] for row in aggregate_rows(reply)]
        reads += 1
    assert reads == 2 and sorted(keys) == sorted(f"{prefix}{i}".encode() for i in range(25))
    _, cid = r.execute_command("FT.AGGREGATE", name, "*", "WITHCURSOR", "COUNT", 5)
    assert r.execute_command("FT.CURSOR", "DEL", name, cid) in (b"OK", "OK")
    with pytest.raises(redis.ResponseError, match="Cursor does not exist"):
        r.execute_command("FT.CURSOR", "DEL", name, cid)
    with pytest.raises(redis.ResponseError, match="Cursor not found"):
        r.execute_command("FT.CURSOR", "READ", name, cid)


def test_sortby_a_text_field_that_is_not_sortable(r, movies):
    """RediSearch sorts by any TEXT/TAG field, reading the value when it is not SORTABLE."""
    name, prefix = movies
    result = search(r, name, Query("*").sort_by("title").return_fields("title"))
    assert [d["title"] for d in result.docs] == ["Alien", "Aliens", "Arrival", "Heat", "The Godfather"]
