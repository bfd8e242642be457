"""FT.* end to end through langchain-redis: RedisVectorStore and RedisSemanticCache.

langchain-redis drives redisvl, which drives redis-py's search API; every test runs over a
RESP2 client and over redis-py 8's default RESP3 client. Texts embed to fixed random vectors,
so results are checked against numpy ground truth. RedisChatMessageHistory is not covered: it
indexes JSON documents (``FT.CREATE ... ON JSON``), which Magpie refuses.
"""

from __future__ import annotations

import hashlib
import uuid

import numpy as np
import pytest
import redis

pytest.importorskip("langchain_redis")

from langchain_core.embeddings import Embeddings  # noqa: E402
from langchain_core.outputs import Generation  # noqa: E402
from langchain_redis import RedisConfig, RedisSemanticCache, RedisVectorStore  # noqa: E402
from langchain_redis.vectorstores import maximal_marginal_relevance  # noqa: E402
from redisvl.exceptions import RedisSearchError  # noqa: E402
from redisvl.query.filter import Num, Tag  # noqa: E402

DIM = 8
N = 60
GENRES = ["scifi", "drama", "comedy"]


class TableEmbeddings(Embeddings):
    """Each text embeds to a fixed pseudo-random vector derived from its hash, so a test knows
    every stored vector and can compute the true neighbours itself."""

    def vector(self, text: str) -> list[float]:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).normal(size=DIM).astype(np.float32).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.vector(text)


EMBEDDINGS = TableEmbeddings()
TEXTS = [f"document number {i}" for i in range(N)]
METADATAS = [{"genre": GENRES[i % 3], "year": 1960 + i} for i in range(N)]
IDS = [f"doc{i}" for i in range(N)]
VECTORS = np.array(EMBEDDINGS.embed_documents(TEXTS), dtype=np.float32)
QUERY = "what is the meaning of it all"


def distances(metric: str, query: str = QUERY) -> np.ndarray:
    q = np.array(EMBEDDINGS.embed_query(query), dtype=np.float32)
    if metric == "L2":
        return ((VECTORS - q) ** 2).sum(axis=1)
    norms = np.linalg.norm(VECTORS, axis=1) * np.linalg.norm(q)
    return 1 - (VECTORS.astype(np.float64) @ q) / norms


def nearest(metric: str, k: int, mask: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    dist = distances(metric)
    candidates = np.arange(N) if mask is None else np.flatnonzero(mask)
    order = candidates[np.argsort(dist[candidates], kind="stable")][:k]
    return [TEXTS[i] for i in order], dist[order]


@pytest.fixture(params=[{"protocol": 2}, {}], ids=["resp2", "resp3"])
def r(request, magpie) -> redis.Redis:
    client = magpie.client(**request.param)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def make_store(r):
    """RedisVectorStores on unique index names; their indexes and documents are dropped after."""
    stores: list[RedisVectorStore] = []

    def make(metric: str = "COSINE", algorithm: str = "FLAT", load: bool = True, **kwargs):
        store = RedisVectorStore(
            EMBEDDINGS,
            index_name=f"lc-{uuid.uuid4().hex[:8]}",
            redis_client=r,
            distance_metric=metric,
            indexing_algorithm=algorithm,
            metadata_schema=[{"name": "genre", "type": "tag"}, {"name": "year", "type": "numeric"}],
            **kwargs,
        )
        stores.append(store)
        if load:
            assert store.add_texts(TEXTS, METADATAS, keys=IDS) == IDS
        return store

    yield make
    for store in stores:
        try:
            store.index.delete(drop=True)
        except RedisSearchError:
            pass


@pytest.mark.parametrize("algorithm", ["FLAT", "HNSW"])
@pytest.mark.parametrize("metric", ["COSINE", "L2"])
def test_similarity_search_with_score_matches_numpy(make_store, metric, algorithm):
    store = make_store(metric, algorithm)
    found = store.similarity_search_with_score(QUERY, k=6)
    expected_texts, expected_dist = nearest(metric, 6)
    assert [doc.page_content for doc, _ in found] == expected_texts
    assert np.allclose([score for _, score in found], expected_dist, rtol=1e-4, atol=1e-5)
    first = TEXTS.index(expected_texts[0])
    assert found[0][0].metadata == METADATAS[first]  # read back from _metadata_json


def test_similarity_search_with_tag_and_numeric_filters(make_store):
    store = make_store()
    genre = np.array([m["genre"] for m in METADATAS])
    year = np.array([m["year"] for m in METADATAS])
    expression = (Tag("genre") == "drama") & (Num("year") > 1980)
    docs = store.similarity_search(QUERY, k=5, filter=expression)
    expected, _ = nearest("COSINE", 5, (genre == "drama") & (year > 1980))
    assert [doc.page_content for doc in docs] == expected
    assert all(doc.metadata["genre"] == "drama" for doc in docs)


def test_similarity_search_within_a_distance_threshold(make_store):
    store = make_store("L2")
    dist = np.sort(distances("L2"))
    threshold = float(dist[7] + dist[8]) / 2  # exactly 8 inside
    found = store.similarity_search_with_score(QUERY, k=50, distance_threshold=threshold)
    assert [doc.page_content for doc, _ in found] == nearest("L2", 8)[0]


def test_max_marginal_relevance_reads_raw_vectors_back(make_store):
    store = make_store()
    docs = store.max_marginal_relevance_search(QUERY, k=4, fetch_k=12, lambda_mult=0.3)
    fetched, _ = nearest("COSINE", 12)
    fetched_vectors = [VECTORS[TEXTS.index(text)] for text in fetched]
    picks = maximal_marginal_relevance(
        np.array(EMBEDDINGS.embed_query(QUERY)), fetched_vectors, k=4, lambda_mult=0.3
    )
    assert [doc.page_content for doc in docs] == [fetched[i] for i in picks]


def test_get_by_ids_and_delete(make_store):
    store = make_store()
    docs = store.get_by_ids(["doc3", "doc4", "missing"])
    assert [(d.id, d.page_content, d.metadata) for d in docs] == [
        ("doc3", TEXTS[3], METADATAS[3]),
        ("doc4", TEXTS[4], METADATAS[4]),
    ]
    nearest_text = nearest("COSINE", 1)[0][0]
    nearest_id = IDS[TEXTS.index(nearest_text)]
    assert store.delete([nearest_id, "doc3"])
    assert [d.id for d in store.get_by_ids([nearest_id, "doc3", "doc4"])] == ["doc4"]
    assert store.similarity_search(QUERY, k=1)[0].page_content == nearest("COSINE", 2)[0][1]
    assert int(store.index.info()["num_docs"]) == N - 2


def test_documents_carry_the_store_ttl(r, make_store):
    store = make_store(load=False, ttl=300)
    store.add_texts(TEXTS[:5], METADATAS[:5], keys=IDS[:5])
    keys = r.keys(f"{store.config.key_prefix}:*")
    assert len(keys) == 5 and all(0 < r.ttl(key) <= 300 for key in keys)


def test_from_existing_index_and_a_redis_url(magpie, make_store):
    store = make_store("L2", "HNSW")
    url = f"redis://127.0.0.1:{magpie.port}"
    name = store.config.index_name
    reopened = RedisVectorStore.from_existing_index(name, EMBEDDINGS, redis_url=url)
    assert reopened.index.schema.fields["embedding"].attrs.distance_metric.value == "L2"
    docs = reopened.similarity_search(QUERY, k=3)
    assert [doc.page_content for doc in docs] == nearest("L2", 3)[0]


def test_from_texts_builds_a_searchable_store(r):
    config = RedisConfig(index_name=f"lc-{uuid.uuid4().hex[:8]}", redis_client=r)
    store = RedisVectorStore.from_texts(TEXTS[:20], EMBEDDINGS, METADATAS[:20], config=config)
    try:
        docs = store.similarity_search(TEXTS[7], k=1)
        assert docs[0].page_content == TEXTS[7]
    finally:
        store.index.delete(drop=True)


@pytest.fixture
def semantic_cache(r):
    cache = RedisSemanticCache(EMBEDDINGS, redis_client=r, name=f"lc-cache-{uuid.uuid4().hex[:8]}",
                               distance_threshold=0.05)  # fmt: skip
    cache.update("tell me a joke", "llm-a", [Generation(text="a joke")])
    cache.update("tell me a story", "llm-a", [Generation(text="a story")])
    yield cache
    cache.cache.delete()


def test_semantic_cache_hits_for_the_same_model(semantic_cache):
    assert [g.text for g in semantic_cache.lookup("tell me a joke", "llm-a")] == ["a joke"]
    assert [g.text for g in semantic_cache.lookup("tell me a story", "llm-a")] == ["a story"]
    assert semantic_cache.lookup("tell me a joke", "llm-b") is None  # another model's answer


def test_semantic_cache_misses_far_prompts_and_clears(semantic_cache):
    assert semantic_cache.lookup("an unrelated prompt", "llm-a") is None  # a far random vector
    semantic_cache.clear()
    assert semantic_cache.lookup("tell me a joke", "llm-a") is None
