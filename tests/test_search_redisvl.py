"""FT.* end to end through redisvl's SearchIndex, the client library RAG apps build on.

Every test runs over three redis-py clients (redisvl uses the client it is given): RESP2;
RESP3 as redis-py 8 opens it by default (HELLO 3, search replies reshaped to the RESP2 Result
objects redisvl reads); and ``protocol=3, legacy_responses=False`` (RESP3, unified parsers).
An explicit ``protocol=3`` with legacy responses hands redisvl raw RESP3 maps from FT.SEARCH,
which redisvl 0.28 cannot read against any server, so it is not tested here.

Query results are checked against numpy ground truth computed from the same 200
eight-dimensional vectors and metadata that were loaded.
"""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
import redis
from redis.commands.search.aggregation import AggregateRequest, Cursor
from redisvl.exceptions import RedisSearchError
from redisvl.index import SearchIndex
from redisvl.query import CountQuery, FilterQuery, RangeQuery, VectorQuery
from redisvl.query.filter import Num, Tag, Text

N = 200
DIM = 8
GENRES = ["scifi", "drama", "comedy", "crime"]
ADJECTIVES = ["red", "quiet", "golden", "hidden", "frozen"]
NOUNS = ["apple", "river", "castle", "garden"]


class Corpus:
    """The documents loaded into every index, plus the numpy arrays ground truth is computed on."""

    def __init__(self, seed: int = 2024) -> None:
        rng = np.random.default_rng(seed)
        self.vectors = rng.normal(size=(N, DIM)).astype(np.float32)
        self.query = rng.normal(size=DIM).astype(np.float32)
        self.ids = [f"d{i:03d}" for i in range(N)]
        self.genre = np.array([GENRES[i % 4] for i in range(N)])
        self.noun = np.array([NOUNS[(i // 4) % 4] for i in range(N)])
        self.year = np.array([1950 + (i * 7) % 70 for i in range(N)])
        self.docs = [
            {
                "doc_id": self.ids[i],
                "title": f"{ADJECTIVES[i % 5]} {self.noun[i]}",
                "genre": str(self.genre[i]),
                "year": int(self.year[i]),
                "n": i,
                "embedding": self.vectors[i].tobytes(),
            }
            for i in range(N)
        ]

    def distances(self, metric: str, query: np.ndarray | None = None) -> np.ndarray:
        """RediSearch's distances: squared Euclidean for L2, 1 - cosine similarity for COSINE."""
        q = self.query if query is None else query
        if metric == "L2":
            return ((self.vectors - q) ** 2).sum(axis=1)
        norms = np.linalg.norm(self.vectors, axis=1) * np.linalg.norm(q)
        return 1 - (self.vectors.astype(np.float64) @ q) / norms

    def nearest(self, metric: str, k: int, mask: np.ndarray | None = None) -> tuple:
        """The ids and distances of the k nearest documents among those the mask allows."""
        dist = self.distances(metric)
        candidates = np.arange(N) if mask is None else np.flatnonzero(mask)
        order = candidates[np.argsort(dist[candidates], kind="stable")][:k]
        return [self.ids[i] for i in order], dist[order]


CORPUS = Corpus()


def schema(name: str, algorithm: str = "HNSW", metric: str = "COSINE") -> dict:
    vector_attrs = {"dims": DIM, "algorithm": algorithm.lower(), "distance_metric": metric.lower(),
                    "datatype": "float32"}  # fmt: skip
    if algorithm == "HNSW":  # not redisvl's defaults (16, 200), so from_existing must read them
        vector_attrs.update(m=12, ef_construction=150)
    return {
        "index": {"name": name, "prefix": name, "storage_type": "hash"},
        "fields": [
            {"name": "doc_id", "type": "tag"},
            {"name": "title", "type": "text"},
            {"name": "genre", "type": "tag"},
            {"name": "year", "type": "numeric"},
            {"name": "n", "type": "numeric", "attrs": {"sortable": True}},
            {"name": "embedding", "type": "vector", "attrs": vector_attrs},
        ],
    }


CLIENTS = {
    "resp2": {"protocol": 2},
    "resp3": {},  # redis-py 8's default: RESP3 on the wire
    "resp3-unified": {"protocol": 3, "legacy_responses": False},
}


@pytest.fixture(params=list(CLIENTS))
def r(request, magpie) -> redis.Redis:
    client = magpie.client(**CLIENTS[request.param])
    client.flushall()
    assert client.client_info()["resp"] == ("2" if request.param == "resp2" else "3")
    yield client
    client.close()


@pytest.fixture
def make_index(r):
    """Builds SearchIndexes on unique names (the name is the key prefix); drops them and their
    keys afterwards."""
    made: list[SearchIndex] = []

    def make(algorithm: str = "HNSW", metric: str = "COSINE", load: bool = True) -> SearchIndex:
        name = f"rvl-{uuid.uuid4().hex[:8]}"
        index = SearchIndex.from_dict(schema(name, algorithm, metric), redis_client=r)
        index.create(overwrite=True)
        made.append(index)
        if load:
            keys = index.load(CORPUS.docs, id_field="doc_id")
            assert len(keys) == N
            wait_indexed(index, N)
        return index

    yield make
    for index in made:
        try:
            index.delete(drop=True)
        except RedisSearchError:
            pass  # the test dropped it itself


def wait_indexed(index: SearchIndex, expected: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = index.info()
        if int(info["num_docs"]) == expected and not int(info["indexing"]):
            return
        time.sleep(0.01)
    raise AssertionError(f"index holds {index.info()['num_docs']} documents, expected {expected}")


def key_ids(results) -> list[str]:
    return [doc["id"].rsplit(":", 1)[1] for doc in results]


def assert_distances(results, expected) -> None:
    got = [float(doc["vector_distance"]) for doc in results]
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-5), (got, list(expected))


def mask_of(*, genre=None, noun=None, year_above=None) -> np.ndarray:
    mask = np.ones(N, dtype=bool)
    if genre is not None:
        mask &= np.isin(CORPUS.genre, genre)
    if noun is not None:
        mask &= CORPUS.noun == noun
    if year_above is not None:
        mask &= CORPUS.year > year_above
    return mask


# -- index lifecycle ---------------------------------------------------------------------------


def test_create_exists_info_listall_and_delete_with_documents(r, make_index):
    index = make_index(load=False)
    assert index.exists()
    assert index.name in index.listall()
    info = index.info()
    assert info["index_name"] == index.name
    assert int(info["num_docs"]) == 0
    keys = index.load(CORPUS.docs[:10], id_field="doc_id")
    assert keys == [f"{index.name}:{doc_id}" for doc_id in CORPUS.ids[:10]]
    wait_indexed(index, 10)

    index.create()  # exists already: redisvl leaves it alone
    index.create(overwrite=True)  # drops and recreates the index; the keys stay and are re-indexed
    assert index.exists()
    wait_indexed(index, 10)
    index.create(overwrite=True, drop=True)  # FT.DROPINDEX ... DD first: the keys go too
    assert r.exists(*keys) == 0
    assert int(index.info()["num_docs"]) == 0
    index.load(CORPUS.docs[:10], id_field="doc_id")
    wait_indexed(index, 10)

    index.delete(drop=True)
    assert not index.exists()
    assert index.name not in index.listall()
    assert r.exists(*keys) == 0
    with pytest.raises(RedisSearchError):
        index.info()


def test_flushall_drops_the_indexes(r, make_index):
    index = make_index()
    r.flushall()
    assert not index.exists()
    assert index.name not in index.listall()


def test_delete_without_drop_keeps_the_documents(r, make_index):
    index = make_index()
    index.delete(drop=False)
    assert not index.exists()
    assert r.exists(*(index.key(doc_id) for doc_id in CORPUS.ids)) == N
    r.delete(*(index.key(doc_id) for doc_id in CORPUS.ids))


@pytest.mark.parametrize("algorithm", ["HNSW", "FLAT"])
@pytest.mark.parametrize("metric", ["COSINE", "L2"])
def test_from_existing_rebuilds_the_schema_from_ft_info(r, make_index, algorithm, metric):
    index = make_index(algorithm, metric, load=False)
    rebuilt = SearchIndex.from_existing(index.name, redis_client=r)
    assert rebuilt.name == index.name
    assert rebuilt.prefix == index.prefix
    assert rebuilt.storage_type == index.storage_type
    original, copy = index.schema.fields, rebuilt.schema.fields
    assert sorted(copy) == sorted(original)
    for name, field in original.items():
        assert copy[name].type == field.type, name
    assert copy["n"].attrs.sortable
    vector = copy["embedding"].attrs
    assert vector.algorithm.value == algorithm
    assert vector.distance_metric.value == metric
    assert vector.datatype.value == "FLOAT32"
    assert vector.dims == DIM
    if algorithm == "HNSW":
        assert (vector.m, vector.ef_construction) == (12, 150)


def test_from_existing_of_a_missing_index_fails(r):
    with pytest.raises(RedisSearchError, match="(?i)unknown index name|no such index"):
        SearchIndex.from_existing(f"rvl-missing-{uuid.uuid4().hex[:8]}", redis_client=r)


# -- load and fetch ----------------------------------------------------------------------------


def test_load_sets_the_ttl_and_fetch_reads_documents_back(r, make_index):
    index = make_index(load=False)
    keys = index.load(CORPUS.docs[:20], id_field="doc_id", ttl=120)
    wait_indexed(index, 20)
    ttls = [r.ttl(key) for key in keys]
    assert all(0 < ttl <= 120 for ttl in ttls), ttls
    doc = index.fetch("d007")
    assert doc["title"] == CORPUS.docs[7]["title"]
    assert doc["genre"] == CORPUS.docs[7]["genre"]
    assert int(doc["year"]) == CORPUS.docs[7]["year"]
    assert r.hget(index.key("d007"), "embedding") == CORPUS.vectors[7].tobytes()
    assert not index.fetch("d999")  # redisvl hands back HGETALL's empty reply for a hash


def test_documents_leave_the_index_when_their_ttl_expires(make_index):
    index = make_index(load=False)
    index.load(CORPUS.docs[:5], id_field="doc_id", ttl=1)
    index.load(CORPUS.docs[5:8], id_field="doc_id")
    assert index.query(CountQuery("*")) == 8
    deadline = time.monotonic() + 5
    while index.query(CountQuery("*")) != 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(key_ids(index.query(FilterQuery("*", return_fields=["n"])))) == CORPUS.ids[5:8]
    assert not index.fetch("d000")


# -- vector queries ----------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["HNSW", "FLAT"])
@pytest.mark.parametrize("metric", ["COSINE", "L2"])
def test_vector_query_matches_numpy_nearest_neighbours(make_index, algorithm, metric):
    index = make_index(algorithm, metric)
    extra = {"ef_runtime": 200} if algorithm == "HNSW" else {}
    fields = ["title", "genre", "year"]
    query = VectorQuery(
        CORPUS.query.tolist(), "embedding", return_fields=fields, num_results=10, **extra
    )
    results = index.query(query)
    expected_ids, expected_dist = CORPUS.nearest(metric, 10)
    assert key_ids(results) == expected_ids
    assert_distances(results, expected_dist)
    first = CORPUS.docs[int(expected_ids[0][1:])]
    assert results[0]["title"] == first["title"] and results[0]["genre"] == first["genre"]
    assert int(results[0]["year"]) == first["year"]
    assert "embedding" not in results[0]


@pytest.mark.parametrize(
    ("filter_expression", "mask"),
    [
        (Tag("genre") == "scifi", mask_of(genre=["scifi"])),
        (Tag("genre") == ["drama", "crime"], mask_of(genre=["drama", "crime"])),
        (Num("year") > 1990, mask_of(year_above=1990)),
        (Text("title") == "apple", mask_of(noun="apple")),
        ((Tag("genre") == "comedy") & (Num("year") > 1980),
         mask_of(genre=["comedy"], year_above=1980)),
        ((Text("title") == "river") & (Tag("genre") != "drama"),
         mask_of(noun="river", genre=["scifi", "comedy", "crime"])),
    ],
    ids=["tag", "tag-union", "num", "text", "tag-and-num", "text-and-not-tag"],
)
def test_filtered_vector_query_matches_numpy(make_index, filter_expression, mask):
    index = make_index("HNSW", "COSINE")
    query = VectorQuery(CORPUS.query.tolist(), "embedding", return_fields=["genre", "year"],
                        filter_expression=filter_expression, num_results=7)  # fmt: skip
    results = index.query(query)
    expected_ids, expected_dist = CORPUS.nearest("COSINE", 7, mask)
    assert key_ids(results) == expected_ids
    assert_distances(results, expected_dist)


@pytest.mark.parametrize("metric", ["COSINE", "L2"])
def test_vector_query_with_normalized_distances(make_index, metric):
    index = make_index("FLAT", metric)
    query = VectorQuery(
        CORPUS.query.tolist(), "embedding", num_results=5, normalize_vector_distance=True
    )
    results = index.query(query)
    expected_ids, dist = CORPUS.nearest(metric, 5)
    expected = (2 - dist) / 2 if metric == "COSINE" else 1 / (1 + dist)
    assert key_ids(results) == expected_ids
    assert_distances(results, expected)


def test_vector_query_without_score_and_with_a_bytes_vector(make_index):
    index = make_index("FLAT", "L2")
    query = VectorQuery(CORPUS.query.tobytes(), "embedding", return_fields=["n"], num_results=4,
                        return_score=False, dtype="float32")  # fmt: skip
    results = index.query(query)
    assert key_ids(results) == CORPUS.nearest("L2", 4)[0]
    assert all("vector_distance" not in doc for doc in results)
    assert [int(doc["n"]) for doc in results] == [int(i[1:]) for i in CORPUS.nearest("L2", 4)[0]]


def test_vector_query_for_a_stored_vector_finds_itself_first(make_index):
    index = make_index("HNSW", "COSINE")
    query = VectorQuery(CORPUS.vectors[42].tolist(), "embedding", num_results=3)
    results = index.query(query)
    assert key_ids(results)[0] == "d042"
    assert abs(float(results[0]["vector_distance"])) < 1e-5


# -- range, filter, count and paging -----------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["HNSW", "FLAT"])
@pytest.mark.parametrize("metric", ["COSINE", "L2"])
def test_range_query_returns_everything_within_the_threshold(make_index, algorithm, metric):
    index = make_index(algorithm, metric)
    dist = CORPUS.distances(metric)
    threshold = float(np.sort(dist)[14] + np.sort(dist)[15]) / 2  # exactly 15 inside
    query = RangeQuery(CORPUS.query.tolist(), "embedding", return_fields=["genre"],
                       distance_threshold=threshold, num_results=100)  # fmt: skip
    results = index.query(query)
    expected_ids, expected_dist = CORPUS.nearest(metric, 15)
    assert key_ids(results) == expected_ids  # sorted by vector_distance
    assert_distances(results, expected_dist)


def test_range_query_with_a_filter(make_index):
    index = make_index("FLAT", "COSINE")
    mask = mask_of(genre=["scifi"])
    dist = CORPUS.distances("COSINE")
    query = RangeQuery(
        CORPUS.query.tolist(), "embedding", filter_expression=Tag("genre") == "scifi",
        distance_threshold=0.8, num_results=100,
    )  # fmt: skip
    results = index.query(query)
    inside = mask & (dist <= 0.8)
    expected_ids, _ = CORPUS.nearest("COSINE", int(inside.sum()), inside)
    assert len(expected_ids) > 3
    assert key_ids(results) == expected_ids


@pytest.mark.parametrize("algorithm", ["HNSW", "FLAT"])
def test_range_query_that_matches_nothing_returns_no_results(make_index, algorithm):
    index = make_index(algorithm, "L2")
    far_away = (CORPUS.query + 100).tolist()
    assert index.query(RangeQuery(far_away, "embedding", distance_threshold=0.5)) == []
    assert index.query(RangeQuery(CORPUS.query.tolist(), "embedding", distance_threshold=0.0)) == []


@pytest.mark.parametrize(
    ("filter_expression", "mask"),
    [
        ("*", mask_of()),
        (Tag("genre") == "scifi", mask_of(genre=["scifi"])),
        ((Num("year") > 1990) & (Text("title") == "castle"),
         mask_of(year_above=1990, noun="castle")),
        (Tag("genre") == ["comedy", "crime"], mask_of(genre=["comedy", "crime"])),
    ],
    ids=["all", "tag", "num-and-text", "tag-union"],
)
def test_count_query_counts_matches(make_index, filter_expression, mask):
    index = make_index()
    assert index.query(CountQuery(filter_expression)) == int(mask.sum())


def test_filter_query_with_return_fields_sort_and_limit(make_index):
    index = make_index()
    expression = (Tag("genre") == "drama") & (Num("year") > 1990)
    query = FilterQuery(expression, return_fields=["n", "title", "year"], num_results=5,
                        sort_by=("n", "DESC"))  # fmt: skip
    results = index.query(query)
    matching = np.flatnonzero(mask_of(genre=["drama"], year_above=1990))[::-1][:5]
    assert key_ids(results) == [CORPUS.ids[i] for i in matching]
    assert [int(doc["n"]) for doc in results] == list(matching)
    assert results[0]["title"] == CORPUS.docs[matching[0]]["title"]
    assert "genre" not in results[0] and "embedding" not in results[0]


def test_filter_query_on_text(make_index):
    index = make_index()
    query = FilterQuery(Text("title") == "golden", return_fields=["title"], num_results=100)
    results = index.query(query)
    assert sorted(key_ids(results)) == [CORPUS.ids[i] for i in range(N) if i % 5 == 2]
    assert all(doc["title"].startswith("golden ") for doc in results)


def test_paginate_walks_every_match_once(make_index):
    index = make_index()
    query = FilterQuery(Tag("genre") == ["scifi", "drama"], return_fields=["n"], sort_by="n")
    pages = list(index.paginate(query, page_size=30))
    assert [len(page) for page in pages] == [30, 30, 30, 10]
    seen = [int(doc["n"]) for page in pages for doc in page]
    assert seen == [i for i in range(N) if i % 4 in (0, 1)]


def test_paginate_a_vector_query(make_index):
    index = make_index("FLAT", "L2")
    query = VectorQuery(CORPUS.query.tolist(), "embedding", num_results=25)
    pages = list(index.paginate(query, page_size=10))
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [i for page in pages for i in key_ids(page)] == CORPUS.nearest("L2", 25)[0]


# -- bulk operations ---------------------------------------------------------------------------


def test_clear_deletes_every_document_but_keeps_the_index(r, make_index):
    index = make_index()
    assert index.clear() == N
    assert index.exists()
    assert int(index.info()["num_docs"]) == 0
    assert r.exists(*(index.key(doc_id) for doc_id in CORPUS.ids)) == 0
    index.load(CORPUS.docs[:3], id_field="doc_id")
    assert index.query(CountQuery("*")) == 3


def test_drop_by_filter_deletes_only_matches(r, make_index):
    index = make_index()
    result = index.drop_by_filter(Tag("genre") == "crime", batch_size=17)
    assert result.matched == result.processed == N // 4 and result.completed
    assert index.query(CountQuery("*")) == N - N // 4
    assert index.query(CountQuery(Tag("genre") == "crime")) == 0
    assert r.exists(index.key("d003")) == 0 and r.exists(index.key("d002")) == 1


def test_the_aggregate_cursor_walk_behind_update_by_filter(r, make_index):
    """redisvl's bulk update resolves keys with ``FT.AGGREGATE idx <filter> LOAD 1 __key WITHCURSOR
    COUNT <batch> MAXIDLE <ms> DIALECT 2`` and ``FT.CURSOR READ``, releasing an abandoned cursor
    with ``FT.CURSOR DEL``; this walks the same requests through redis-py's public API."""
    index = make_index()
    ft = r.ft(index.name)
    comedy = str(Tag("genre") == "comedy")
    request = AggregateRequest(comedy).load("__key").cursor(count=16, max_idle=300)
    result = ft.aggregate(request.dialect(2))
    pages = [[row_key(row) for row in result.rows]]
    while result.cursor and result.cursor.cid:
        assert len(pages) <= N, "the cursor never reported itself exhausted"
        result = ft.aggregate(Cursor(result.cursor.cid))
        pages.append([row_key(row) for row in result.rows])
    assert all(len(page) <= 16 for page in pages) and len(pages) >= N // 4 // 16
    walked = [key for page in pages for key in page]
    assert sorted(walked) == [index.key(CORPUS.ids[i]) for i in range(N) if i % 4 == 2]

    abandoned = ft.aggregate(AggregateRequest("*").load("__key").cursor(count=10).dialect(2))
    assert len(abandoned.rows) == 10 and abandoned.cursor.cid
    assert r.execute_command("FT.CURSOR", "DEL", index.name, abandoned.cursor.cid) in (b"OK", "OK")
    with pytest.raises(redis.ResponseError, match="Cursor not found"):
        ft.aggregate(Cursor(abandoned.cursor.cid))


def row_key(row) -> str:
    """One FT.AGGREGATE row's ``__key``: ``[b"__key", key]`` in RESP2, a map in RESP3."""
    if isinstance(row, dict):
        row = [item for pair in row.items() for item in pair]
    names = [name.decode() if isinstance(name, bytes) else name for name in row[::2]]
    value = dict(zip(names, row[1::2], strict=True))["__key"]
    return value.decode() if isinstance(value, bytes) else value


def test_update_by_filter_rewrites_matches_through_an_aggregate_cursor(r, make_index):
    index = make_index()
    result = index.update_by_filter(Tag("genre") == "comedy", {"genre": "satire"}, batch_size=16)
    assert result.matched == result.processed == N // 4
    assert index.query(CountQuery(Tag("genre") == "comedy")) == 0
    assert index.query(CountQuery(Tag("genre") == "satire")) == N // 4
    assert r.hget(index.key("d002"), "genre") == b"satire"
