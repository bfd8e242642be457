"""The vector index wrapper (FLAT and HNSW) against numpy ground truth; no server.

Data: gaussian clusters with fixed seeds, so hnswlib (single-threaded inserts, fixed random
seed) builds the same graph every run and the recall numbers below are reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from magpie.search.vectors import (
    ExactCosts,
    FlatVectorIndex,
    HnswVectorIndex,
    VectorField,
    VectorIndex,
    load_vector_index,
    make_vector_index,
)

K = 10


def clustered(
    n: int, dim: int, seed: int, clusters: int = 100, spread: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` float32 points around ``clusters`` gaussian centres: (points, cluster of each, centres)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    points = centres[labels] + spread * rng.standard_normal((n, dim))
    return points.astype(np.float32), labels, centres


def near_queries(points: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Queries a little off random data points (a query that resembles some documents)."""
    rng = np.random.default_rng(seed)
    picked = points[rng.choice(len(points), count, replace=False)]
    return (picked + 0.1 * rng.standard_normal(picked.shape)).astype(np.float32)


def true_distances(metric: str, vectors: np.ndarray, q: np.ndarray) -> np.ndarray:
    """RediSearch's distances in float64: L2 squared, IP 1 - dot, COSINE 1 - cos."""
    x, qq = vectors.astype(np.float64), q.astype(np.float64)
    if metric == "L2":
        return ((x - qq) ** 2).sum(axis=1)
    if metric == "IP":
        return 1.0 - x @ qq
    norms = np.linalg.norm(x, axis=1) * np.linalg.norm(qq)
    return 1.0 - (x @ qq) / norms


def true_knn(metric: str, vectors: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    d = true_distances(metric, vectors, q)
    order = np.lexsort((ids, d))[:k]
    return ids[order].tolist()


def recall(found: list[tuple[float, int]], truth: list[int]) -> float:
    return len({doc for _, doc in found} & set(truth)) / len(truth)


def filled(index: VectorIndex, points: np.ndarray, ids: np.ndarray | None = None) -> VectorIndex:
    for doc, vec in zip(range(len(points)) if ids is None else ids.tolist(), points, strict=True):
        index.add(doc, vec)
    return index


def stored(index: VectorIndex, doc: int) -> np.ndarray:
    vec = index.get(doc)
    assert vec is not None
    return vec


def no_exact(index: VectorIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any exact-search fallback of an HNSW index fail the test: the graph must answer."""

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("exact search was used")

    monkeypatch.setattr(index, "_exact", boom)


@pytest.fixture(scope="module")
def hnsw_10k() -> tuple[HnswVectorIndex, np.ndarray, np.ndarray, np.ndarray]:
    """10k x 64, 100 clusters, default M=16, EF_CONSTRUCTION=200, EF_RUNTIME=10 (~2 s)."""
    points, labels, centres = clustered(10_000, 64, seed=1)
    index = make_vector_index("HNSW", "FLOAT32", 64, "L2")
    assert isinstance(index, HnswVectorIndex)
    filled(index, points)
    return index, points, labels, centres


# -- distances ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["FLAT", "HNSW"])
@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_distances_equal_numpy_ground_truth(
    algorithm: str, metric: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    points, _, _ = clustered(4000, 32, seed=2, clusters=20)
    index = filled(make_vector_index(algorithm, "FLOAT32", 32, metric), points)
    if algorithm == "HNSW":
        no_exact(index, monkeypatch)
    for q in near_queries(points, 20, seed=3):
        found = index.knn(q, K)
        assert len(found) == K
        dists = [d for d, _ in found]
        assert dists == sorted(dists)
        want = true_distances(metric, points[[doc for _, doc in found]], q)
        np.testing.assert_allclose(dists, want, rtol=1e-5, atol=1e-5)


def test_l2_distances_stay_exact_for_long_vectors_close_together() -> None:
    """|x|^2 - 2x.q + |q|^2 cancels catastrophically here; the kernel must rescore directly."""
    rng = np.random.default_rng(4)
    points = (1000.0 + rng.standard_normal((500, 16))).astype(np.float32)
    index = filled(make_vector_index("FLAT", "FLOAT32", 16, "L2"), points)
    q = points[7] + np.float32(0.01)
    found = index.knn(q, 5)
    want = true_distances("L2", points, q)
    assert [doc for _, doc in found] == np.argsort(want)[:5].tolist()
    np.testing.assert_allclose([d for d, _ in found], np.sort(want)[:5], rtol=1e-4)
    # filtered: walking a full scan, gathering 250 rows (expanded), gathering 6 (direct)
    for rows, gather in ((np.arange(0, 500, 2), False), (np.arange(0, 500, 2), True),
                         (np.arange(7, 500, 97), True)):  # fmt: skip
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ExactCosts, "GATHER_NS_FIXED", -1e18 if gather else 1e18)
            allowed = set(rows.tolist())
            found = index.knn(q, 5, allowed=allowed)
            assert [doc for _, doc in found] == rows[np.argsort(want[rows])[:5]].tolist()
            radius = float(np.sort(want[rows])[2:4].mean())
            within = {doc for _, doc in index.range(q, radius, allowed=allowed)}
            assert within == set(rows[want[rows] <= radius].tolist())


# -- recall ------------------------------------------------------------------------------------


def test_hnsw_recall_at_default_ef_runtime(
    hnsw_10k: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measured: 0.990 for queries near data points; 0.945 for fresh points drawn from the
    clusters (0.992 at EF_RUNTIME 20). On 20k x 128: 0.965 / 0.870 at ef 10, 0.992 / 0.975
    at 20, 0.998 / 0.996 at 40."""
    index, points, _, centres = hnsw_10k
    no_exact(index, monkeypatch)
    rng = np.random.default_rng(6)
    fresh = centres[rng.integers(0, 100, 200)] + 0.5 * rng.standard_normal((200, 64))
    ids = np.arange(len(points))
    for queries, ef, floor in [
        (near_queries(points, 200, seed=5), None, 0.95),
        (fresh.astype(np.float32), None, 0.90),
        (fresh.astype(np.float32), 20, 0.95),
    ]:
        got = [
            recall(index.knn(q, K, ef_runtime=ef), true_knn("L2", points, ids, q, K))
            for q in queries
        ]
        assert np.mean(got) >= floor, (ef, np.mean(got))


def test_flat_recall_is_exactly_one() -> None:
    points, _, _ = clustered(5000, 32, seed=7)
    ids = np.arange(len(points)) * 3 + 11
    index = filled(make_vector_index("FLAT", "FLOAT32", 32, "L2"), points, ids)
    for q in near_queries(points, 30, seed=8):
        assert [doc for _, doc in index.knn(q, K)] == true_knn("L2", points, ids, q, K)


# -- filtered KNN --------------------------------------------------------------------------


@pytest.mark.parametrize("selectivity", [0.01, 0.1, 0.5])
def test_hnsw_filtered_knn_keeps_recall(hnsw_10k: tuple, selectivity: float) -> None:
    index, points, _, _ = hnsw_10k
    rng = np.random.default_rng(int(selectivity * 1000))
    rows = rng.choice(len(points), int(len(points) * selectivity), replace=False)
    allowed = set(rows.tolist())
    got = []
    for q in near_queries(points, 50, seed=9):
        found = index.knn(q, K, allowed=allowed)
        assert len(found) == K
        assert {doc for _, doc in found} <= allowed
        got.append(recall(found, true_knn("L2", points[rows], rows, q, K)))
    assert np.mean(got) >= 0.95


@pytest.mark.parametrize("plan", ["exact", "graph"])
def test_each_filtered_plan_keeps_the_guarantee(
    hnsw_10k: tuple, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Force the planner one way, then the other: both return min(k, matching) good results,
    also when the allowed docs sit in one cluster far from the query (the graph path must
    then widen, and finally fall back to exact)."""
    index, points, labels, _ = hnsw_10k
    monkeypatch.setattr(ExactCosts, "GATHER_NS_FIXED", -1e18 if plan == "exact" else 1e18)
    far = np.flatnonzero(labels == 42)
    rng = np.random.default_rng(10)
    spread = rng.choice(len(points), 3000, replace=False)
    queries = near_queries(points[labels != 42], 20, seed=11)
    for rows in (far, spread):
        allowed = set(rows.tolist())
        got = []
        for q in queries:
            found = index.knn(q, K, allowed=allowed)
            assert len(found) == K and {doc for _, doc in found} <= allowed
            got.append(recall(found, true_knn("L2", points[rows], rows, q, K)))
        assert np.mean(got) >= 0.95


@pytest.mark.parametrize("algorithm", ["FLAT", "HNSW"])
def test_small_allowed_sets(algorithm: str, hnsw_10k: tuple) -> None:
    hnsw, points, _, _ = hnsw_10k
    index = hnsw if algorithm == "HNSW" else filled(FlatVectorIndex("FLOAT32", 64, "L2"), points)
    q = points[0]
    assert index.knn(q, K, allowed=set()) == []
    assert index.knn(q, K, allowed=[]) == []
    assert [doc for _, doc in index.knn(q, K, allowed={1234})] == [1234]
    few = [5, 77, 901, 4000, 9999]
    found = index.knn(q, K, allowed=few)  # a list is accepted too
    assert sorted(doc for _, doc in found) == few
    assert [d for d, _ in found] == sorted(d for d, _ in found)
    # doc ids that are not indexed count for nothing
    assert [doc for _, doc in index.knn(q, K, allowed={-5, 10**6, 3})] == [3]


@pytest.mark.parametrize("plan", ["gather", "walk"])
@pytest.mark.parametrize("selectivity", [0.01, 0.1, 0.5, 0.9])
def test_flat_filtered_knn_is_exact(
    selectivity: float, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both plans (score the allowed rows; or score all and walk out from the nearest) are exact."""
    monkeypatch.setattr(ExactCosts, "GATHER_NS_FIXED", -1e18 if plan == "gather" else 1e18)
    points, _, _ = clustered(6000, 32, seed=12)
    ids = np.arange(len(points))
    index = filled(make_vector_index("FLAT", "FLOAT32", 32, "L2"), points)
    rng = np.random.default_rng(13)
    rows = np.sort(rng.choice(len(points), int(len(points) * selectivity), replace=False))
    allowed = set(rows.tolist())
    for q in near_queries(points, 20, seed=14):
        want = true_knn("L2", points[rows], ids[rows], q, K)
        assert [doc for _, doc in index.knn(q, K, allowed=allowed)] == want


# -- churn ---------------------------------------------------------------------------------


def test_hnsw_churn_reuses_slots_and_keeps_recall(monkeypatch: pytest.MonkeyPatch) -> None:
    """Delete half the docs and add as many new ones, twice: capacity stays put. Measured
    recall@10 at ef 10: 0.993 before, 0.975 after each round (20k x 64: 0.976 -> ~0.94)."""
    dim, n = 32, 4000
    points, _, _ = clustered(3 * n, dim, seed=15)
    index = make_vector_index("HNSW", "FLOAT32", dim, "L2", initial_cap=1024, block_size=1024)
    assert isinstance(index, HnswVectorIndex)
    live = dict(enumerate(points[:n]))
    filled(index, points[:n])
    peak = index.capacity
    assert peak <= n + 1024
    rng = np.random.default_rng(16)
    next_id = n
    for _ in range(2):
        gone = rng.choice(sorted(live), n // 2, replace=False).tolist()
        for doc in gone:
            assert index.remove(doc)
            del live[doc]
        for _ in range(n // 2):
            live[next_id] = points[next_id]
            index.add(next_id, points[next_id])
            next_id += 1
        assert len(index) == n
        assert index.capacity == peak
        assert index.info()["marked_deleted"] == 0
    ids = np.array(sorted(live))
    vecs = np.stack([live[i] for i in ids.tolist()])
    no_exact(index, monkeypatch)
    got = []
    for q in near_queries(vecs, 100, seed=17):
        found = index.knn(q, K)
        assert {doc for _, doc in found} <= set(live)
        got.append(recall(found, true_knn("L2", vecs, ids, q, K)))
    assert np.mean(got) >= 0.95


def test_hnsw_survives_mostly_deleted_index() -> None:
    """With 98% of the points marked deleted hnswlib may not reach k live ones (it raises);
    the wrapper falls back to exact search and still answers min(k, live)."""
    points, _, _ = clustered(3000, 16, seed=18)
    index = filled(make_vector_index("HNSW", "FLOAT32", 16, "L2"), points)
    for doc in range(60, 3000):
        index.remove(doc)
    ids = np.arange(60)
    for q in near_queries(points, 10, seed=19):
        assert [doc for _, doc in index.knn(q, 50)] == true_knn("L2", points[:60], ids, q, 50)
        assert len(index.knn(q, 100)) == 60
        assert len(index.knn(q, 100, allowed=set(range(0, 3000, 2)))) == 30


def test_hnsw_grows_past_its_initial_capacity() -> None:
    points, _, _ = clustered(700, 8, seed=20)
    index = make_vector_index("HNSW", "FLOAT32", 8, "L2", initial_cap=0, block_size=100)
    filled(index, points)
    assert len(index) == 700
    assert 700 <= index.capacity <= 800 and index.info()["capacity"] == index.capacity


def test_flat_capacity_grows_and_shrinks() -> None:
    points, _, _ = clustered(5000, 8, seed=21)
    index = make_vector_index("FLAT", "FLOAT32", 8, "IP", initial_cap=100, block_size=100)
    filled(index, points)
    assert 5000 <= index.capacity <= 7500
    for doc in range(4900):
        index.remove(doc)
    assert index.capacity <= 400
    ids = np.arange(4900, 5000)
    q = points[4950]
    assert [doc for _, doc in index.knn(q, 5)] == true_knn("IP", points[4900:], ids, q, 5)


# -- single-document behaviour ---------------------------------------------------------


@pytest.fixture(params=["FLAT", "HNSW"])
def small(request: pytest.FixtureRequest) -> Iterator[VectorIndex]:
    index = make_vector_index(request.param, "FLOAT32", 4, "L2")
    yield index


def test_re_adding_a_doc_id_replaces_its_vector(small: VectorIndex) -> None:
    small.add(5, [1, 0, 0, 0])
    small.add(6, [0, 1, 0, 0])
    small.add(5, [0, 0, 9, 0])
    small.add(5, [0, 0, 9, 0])  # unchanged: nothing to do
    assert len(small) == 2
    np.testing.assert_array_equal(small.get(5), [0, 0, 9, 0])
    assert small.knn([0, 0, 9, 0], 1) == [(0.0, 5)]
    assert small.knn([1, 0, 0, 0], 2) == [(2.0, 6), (82.0, 5)]


def test_remove(small: VectorIndex) -> None:
    assert small.remove(3) is False
    small.add(3, [1, 2, 3, 4])
    assert 3 in small and 4 not in small
    assert small.remove(3) is True
    assert small.remove(3) is False
    assert 3 not in small and len(small) == 0 and small.get(3) is None


def test_empty_index_k_larger_than_live_and_k_zero(small: VectorIndex) -> None:
    assert small.knn([0, 0, 0, 0], 10) == []
    assert small.range([0, 0, 0, 0], 100.0) == []
    for doc in range(3):
        small.add(doc, [doc, 0, 0, 0])
    assert small.knn([0, 0, 0, 0], 10) == [(0.0, 0), (1.0, 1), (4.0, 2)]
    assert small.knn([0, 0, 0, 0], 0) == []
    small.clear()
    assert len(small) == 0 and small.knn([0, 0, 0, 0], 10) == []
    small.add(9, [1, 1, 1, 1])
    assert small.knn([0, 0, 0, 0], 10) == [(4.0, 9)]


def test_ties_are_broken_by_doc_id(small: VectorIndex) -> None:
    for doc in (9, 3, 7, 1):
        small.add(doc, [1, 1, 0, 0] if doc != 1 else [5, 5, 5, 5])
    assert small.knn([1, 1, 0, 0], 2) == [(0.0, 3), (0.0, 7)]
    assert [doc for _, doc in small.knn([1, 1, 0, 0], 4)] == [3, 7, 9, 1]


def test_arbitrary_int_doc_ids(small: VectorIndex) -> None:
    small.add(-7, [1, 0, 0, 0])
    small.add(2**62, [2, 0, 0, 0])
    assert [doc for _, doc in small.knn([0, 0, 0, 0], 5)] == [-7, 2**62]
    with pytest.raises(ValueError):
        small.add(2**64, [1, 0, 0, 0])


def test_decode_rejects_wrong_sizes() -> None:
    for dtype, width in (("FLOAT32", 4), ("FLOAT64", 8)):
        index = make_vector_index("HNSW", dtype, 3, "L2")
        assert index.blob_size == 3 * width
        for size in (0, 1, 3 * width - 1, 3 * width + 1, 6 * width):
            assert index.decode(b"\0" * size) is None
        vec = np.array([1.5, -2, 3e-3], dtype=f"<f{width}")
        np.testing.assert_array_equal(index.decode(vec.tobytes()), vec)


@pytest.mark.parametrize("algorithm", ["FLAT", "HNSW"])
def test_zero_vector_under_cosine_is_at_distance_one(algorithm: str) -> None:
    index = make_vector_index(algorithm, "FLOAT32", 3, "COSINE")
    index.add(1, [0, 0, 0])
    index.add(2, [1, 0, 0])
    index.add(3, [-2, 0, 0])
    assert index.knn([1, 0, 0], 3) == [(0.0, 2), (1.0, 1), (2.0, 3)]
    assert index.knn([0, 0, 0], 3) == [(1.0, 1), (1.0, 2), (1.0, 3)]
    assert index.range([0, 0, 0], 0.5) == []
    np.testing.assert_array_equal(index.get(3), [-1, 0, 0])  # stored normalised


def test_float64_flat_keeps_full_precision() -> None:
    index = make_vector_index("FLAT", "FLOAT64", 2, "L2")
    a = np.array([1.0 + 1e-12, 0.0])
    index.add(1, a)
    index.add(2, [1.0, 0.0])
    assert stored(index, 1)[0] == a[0]
    found = index.knn(index.decode(np.array([1.0, 0.0]).tobytes()), 2)
    assert found[0] == (0.0, 2)
    assert found[1][0] == pytest.approx(1e-24, rel=1e-3)


def test_float64_hnsw_works_in_float32() -> None:
    points, _, _ = clustered(2000, 16, seed=22)
    p64 = points.astype(np.float64) + 1e-9
    index = filled(make_vector_index("HNSW", "FLOAT64", 16, "L2"), p64)
    assert stored(index, 0).dtype == np.float32
    np.testing.assert_allclose(stored(index, 0), p64[0], rtol=1e-6)
    q = p64[3] + 0.01
    found = index.knn(q, 5)
    assert found[0][1] == 3
    want = true_distances("L2", p64[[doc for _, doc in found]], q)
    np.testing.assert_allclose([d for d, _ in found], want, rtol=1e-5)


@pytest.mark.parametrize("algorithm", ["FLAT", "HNSW"])
def test_non_finite_vectors_are_kept_but_never_found(algorithm: str) -> None:
    index = make_vector_index(algorithm, "FLOAT32", 2, "L2")
    index.add(1, [np.nan, 0])
    index.add(2, [np.inf, 1])
    index.add(3, [1, 1])
    assert len(index) == 3 and 1 in index and np.isnan(stored(index, 1)[0])
    assert index.knn([0, 0], 10) == [(2.0, 3)]
    assert index.knn([0, 0], 10, allowed={1, 2, 3}) == [(2.0, 3)]
    assert index.range([0, 0], 1e30) == [(2.0, 3)]
    assert index.knn([np.nan, 0], 10) == []
    assert index.knn([np.inf, 0], 10, allowed={3}) == []
    index.add(3, [np.nan, np.nan])  # a doc turning non-finite leaves the search
    assert index.knn([0, 0], 10) == [] and len(index) == 3
    index.add(1, [0, 0])  # and back
    assert index.knn([0, 0], 10) == [(0.0, 1)]
    assert index.remove(2) and len(index) == 2
    assert index.info()["num_unsearchable"] == 1


# -- range, batch ----------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["FLAT", "HNSW"])
@pytest.mark.parametrize("metric", ["L2", "COSINE"])
def test_range_returns_everything_within_the_radius(
    algorithm: str, metric: str, hnsw_10k: tuple
) -> None:
    _, points, _, _ = hnsw_10k
    points = points[:5000]
    index = filled(make_vector_index(algorithm, "FLOAT32", 64, metric), points)
    ids = np.arange(len(points))
    for i, q in enumerate(near_queries(points, 10, seed=23)):
        d = true_distances(metric, points, q)
        cut = [20, 200][i % 2]  # 20 or 200 results, radius halfway to the next one
        radius = float(np.sort(d)[cut - 1 : cut + 1].mean())
        want = set(ids[d <= radius].tolist())
        found = index.range(q, radius)
        assert [x for x, _ in found] == sorted(x for x, _ in found)
        assert all(x <= radius for x, _ in found)
        assert len({doc for _, doc in found} & want) >= 0.95 * len(want)
        if algorithm == "FLAT":
            assert {doc for _, doc in found} == want
        allowed = set(range(0, 5000, 3))
        sub = index.range(q, radius, allowed=allowed)
        assert {doc for _, doc in sub} == {doc for _, doc in found} & allowed
    assert index.range(points[0], -1.0) == []
    assert len(index.range(points[0], 1e9)) == len(points)


@pytest.mark.parametrize("algorithm", ["FLAT", "HNSW"])
def test_knn_batch_matches_knn(algorithm: str) -> None:
    points, _, _ = clustered(3000, 16, seed=24)
    index = filled(make_vector_index(algorithm, "FLOAT32", 16, "IP"), points)
    queries = near_queries(points, 40, seed=25)
    queries[7, 3] = np.nan
    batch = index.knn_batch(queries, K, ef_runtime=40)
    assert batch[7] == []
    for i, q in enumerate(queries):
        if i != 7:
            single = index.knn(q, K, ef_runtime=40)
            assert [doc for _, doc in batch[i]] == [doc for _, doc in single]
            np.testing.assert_allclose([d for d, _ in batch[i]], [d for d, _ in single], rtol=1e-5)


# -- info, persistence, construction -----------------------------------------------------


def test_info_reports_the_ft_info_numbers(hnsw_10k: tuple) -> None:
    index = hnsw_10k[0]
    info = index.info()
    assert info["algorithm"] == "HNSW" and info["data_type"] == "FLOAT32"
    assert info["dim"] == 64 and info["distance_metric"] == "L2"
    assert (info["M"], info["ef_construction"], info["ef_runtime"]) == (16, 200, 10)
    assert info["num_vectors"] == 10_000
    assert 10_000 <= info["capacity"] <= 10_000 + 1024 + 10_000 // 8
    assert 10_000 * (64 * 4 * 2) < info["memory"] < 10_000 * 2000
    flat = filled(make_vector_index("FLAT", "FLOAT64", 4, "IP"), np.ones((3, 4)))
    assert flat.info()["num_vectors"] == 3 and flat.info()["capacity"] == 1024


@pytest.mark.parametrize("algorithm", ["FLAT", "HNSW"])
def test_to_bytes_round_trip(algorithm: str) -> None:
    points, _, _ = clustered(2000, 16, seed=26)
    index = filled(make_vector_index(algorithm, "FLOAT32", 16, "COSINE", block_size=512), points)
    for doc in range(0, 2000, 3):
        index.remove(doc)
    index.add(5000, [np.nan] * 16)
    data = index.to_bytes()
    loaded = load_vector_index(data)
    assert type(loaded) is type(index)
    assert len(loaded) == len(index) and 5000 in loaded and 0 not in loaded
    sizes = {"capacity", "memory"} if algorithm == "FLAT" else set()  # FLAT loads compactly
    assert {k: v for k, v in loaded.info().items() if k not in sizes} == {
        k: v for k, v in index.info().items() if k not in sizes
    }
    for q in near_queries(points, 10, seed=27):
        assert loaded.knn(q, K) == index.knn(q, K)
    capacity = loaded.info()["capacity"]
    loaded.add(7000, points[0])
    if algorithm == "HNSW":  # a loaded HNSW index reuses the free slots first
        assert loaded.info()["capacity"] == capacity
    assert loaded.knn(points[0], 1)[0][1] in (1, 7000)
    with pytest.raises(ValueError):
        load_vector_index(data[:-10])
    with pytest.raises(ValueError):
        load_vector_index(b"garbage")


BadCall = Callable[[], object]


@pytest.mark.parametrize(
    "bad",
    [
        lambda: make_vector_index("IVF", "FLOAT32", 4, "L2"),
        lambda: make_vector_index("HNSW", "FLOAT16", 4, "L2"),
        lambda: make_vector_index("FLAT", "FLOAT32", 0, "L2"),
        lambda: make_vector_index("FLAT", "FLOAT32", 4, "HAMMING"),
        lambda: make_vector_index("HNSW", "FLOAT32", 4, "L2", m=1),
        lambda: make_vector_index("HNSW", "FLOAT32", 4, "L2", ef_runtime=0),
        lambda: make_vector_index("HNSW", "FLOAT32", 4, "L2", bogus=1),
        lambda: make_vector_index("FLAT", "FLOAT32", 4, "L2", bogus=1),
        lambda: make_vector_index("FLAT", "FLOAT32", 4, "L2").add(1, [1, 2, 3]),
    ],
)
def test_bad_parameters_raise_value_error(bad: BadCall) -> None:
    with pytest.raises(ValueError):
        bad()


def test_vector_field_creates_its_index() -> None:
    field = VectorField("HNSW", "FLOAT32", 8, "IP", m=8, ef_runtime=20)
    index = field.create_index()
    assert isinstance(index, HnswVectorIndex)
    assert (index.m, index.ef_runtime, index.metric) == (8, 20, "IP")
    assert isinstance(VectorField("FLAT", "FLOAT64", 8, "L2").create_index(), FlatVectorIndex)
