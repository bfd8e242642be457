"""HNSW vector index: an hnswlib graph, a float32 copy of the vectors, and a query planner.

Labels. hnswlib identifies points by integer labels; ours are slots ``0..capacity-1`` and
``doc_id <-> label`` is mapped here (a dict one way, an int64 array the other, so results
map back with one numpy gather). Removing a document marks its label deleted and puts the
label on a free list; the next new document takes a free label and hnswlib *updates* that
deleted point in place (unmark + ``updatePoint`` with neighbour repair). So churn reuses
slots and capacity (``get_max_elements``) only grows when every slot is live: it grows by
``max(BLOCK_SIZE, capacity / 8)`` (hnswlib's resize is a realloc; our arrays are copied, so
the /8 keeps that amortised) and never shrinks (hnswlib cannot).

Why not ``allow_replace_deleted=True`` + ``add_items(..., replace_deleted=True)``: hnswlib
then chooses the slot itself (the first element of an ``unordered_set``), erases that
slot's old label and maps the new label there. Reusing labels makes that unsafe: when the
new label still names another deleted slot, the later replacement of that slot erases the
live document's label (``mark_deleted`` then fails with "Label not found" while searches
still return it). Never reusing labels would make the label space, and a label -> doc
array, grow forever. Updating a deleted label does the same graph work
(``unmarkDeletedInternal`` + ``updatePoint(.., 1.0)``, which is exactly what
``replace_deleted`` runs) with the slot chosen by us. Re-adding a live doc id updates its
point the same way.

Churn has a price hnswlib cannot avoid (it cannot unlink a point, so in-links to a reused
slot's old position stay): on 20k x 64, a fresh insert costs ~140 us and an insert into a
freed slot 600-900 us; replacing half the documents 1-4 times moved recall@10 at EF_RUNTIME 10
from 0.976 to 0.93-0.945 (0.995 -> 0.98-0.99 at ef 20), capacity fixed at 21017. Rebuilding
the graph from the float32 copy would restore it; nothing here does that yet.

Precision. hnswlib stores and compares float32, so a FLOAT64 field is searched (and
``get`` returns its vector) with float32 precision: ~7 significant digits, components beyond
+-3.4e38 become inf (and so unsearchable, see vectors_base). Distances are float32 numbers.

The float32 copy (``dim * 4`` bytes per slot, hnswlib's own data is ~``dim * 4 + 140``) lets
filtered queries run exact numpy search over the allowed vectors: hnswlib's ``get_items``
costs ~10 us per vector (it builds Python lists), 50x a numpy row gather.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Collection
from typing import Any, Self

import hnswlib
import numpy as np

from magpie.search.vectors_base import (
    ExactCosts,
    Neighbours,
    VectorIndex,
    VectorSpace,
    membership,
    pack_arrays,
    unpack_arrays,
)
from magpie.search.vectors_hnsw_file import check_graph

__all__ = ["HnswVectorIndex"]

_SPACES = {"L2": "l2", "IP": "ip", "COSINE": "cosine"}

# -- the filtered-KNN planner ------------------------------------------------------------
# Two plans: "exact" (numpy over the allowed docs' rows of our float32 copy) and "graph"
# (knn_query for fetch = max(k, ef) * 2 / selectivity neighbours, keep the allowed ones,
# double while short). Measured on the 2-core dev VM (shared: load 1-2), 100k x 128 float32,
# 100 gaussian clusters, M=16, EF_CONSTRUCTION=200, k=10, EF_RUNTIME=10, random allowed sets,
# OPENBLAS_NUM_THREADS=1, best of 3 over 30 queries; us per query (recall@10):
#
#   selectivity  allowed      exact            graph       planner picks
#      0.1%          100    179 (1.000)   31894 (1.000)   exact   148
#      0.5%          500    199 (1.000)    6678 (0.970)   exact   198
#        1%         1000    330 (1.000)    2740 (0.990)   exact   327
#        2%         2000    563 (1.000)     819 (0.997)   exact   543
#        3%         3000   1235 (1.000)     813 (1.000)   graph   810
#        5%         5000   2133 (1.000)     510 (1.000)   graph   648
#       10%        10000   5409 (1.000)     371 (0.993)   graph   364
#       20%        20000   9236 (1.000)     231 (0.997)   graph   248
#       50%        50000  21021 (1.000)     153 (0.990)   graph   157
#
# So at 100k x 128 the threshold is ~2.5k allowed docs (2.5%). It moves with the index size
# (the graph's fetch grows as n / allowed), so the planner compares modelled costs instead of
# using one number; solving exact(a) = graph(20 n / a) gives a threshold of ~8 sqrt(n) docs
# at dim 128 (800 at 10k = 8%, 2.5k at 100k, 8k at 1M = 0.8%). The model, per query:
#   graph(fetch) = 30 us + fetch * (1.1 us + 0.9 ns * row bytes); measured per candidate at
#                  fetch 400-4000: 1.0-1.7 us at dim 128, 1.2-1.7 at dim 32, 2.6-3.8 at dim 512
#   exact(a)     = ExactCosts.gather_ns: 30 us + a * (350 ns + 0.25 ns * row bytes); measured
#                  330-575 ns per doc at dim 128 (100k: 6 ms for a full scan)
# Unfiltered queries use the graph unless max(k, ef) candidates would cost more than a scan
# of every vector (small indexes, huge k).
#
# Allowed docs far from the query (whole clusters the query is not in) defeat over-fetch: the
# graph returns few of them, from the fringe of its search where it is least accurate (recall
# 0.66 at 30% selectivity). So a graph answer is kept only when at least a quarter of the
# expected hits came back; otherwise the fetch keeps doubling, and once the graph has cost
# what exact would have, exact answers (so at most ~2x exact). Allowed = 1 / 10 / 30 whole
# clusters, queries from other clusters, us (recall): exact 379 / 5229 / 16599; graph alone
# 59432 (0.93) / 13475 (0.97) / 7494 (1.0); planner 512 / 6857 / 8938, all recall 1.0.
#
# hnswlib's own filter (a Python callable per visited node), measured with labels == doc ids
# and ``allowed.__contains__`` (a C method; a lambda is ~10x slower): 1%: 1007 us (ef 10,
# recall 0.99), 5%: 296, 10%: 223, 20%: 176 (0.954), 50%: 130 (0.798). Our labels are not doc
# ids, so it would first need a label set built from ``allowed`` at ~85 ns per doc (850 us
# at 10%): it loses to the plans above at every selectivity, and its recall drops at 50%.
# Not used.
_GRAPH_NS_FIXED = 30_000.0
_GRAPH_NS_PER_CANDIDATE = 1_100.0
_GRAPH_NS_PER_CANDIDATE_BYTE = 0.9
# The graph plan fetches about this many times the allowed hits it needs ...
_FILTER_MARGIN = 2.0
# ... and keeps its answer only when at least this share of the expected hits came back.
_MIN_HIT_RATIO = 0.25
# VECTOR_RANGE starts with this many neighbours and doubles until it passes the radius.
_RANGE_FIRST_FETCH = 64


class HnswVectorIndex(VectorIndex):
    algorithm = "HNSW"

    def __init__(
        self,
        dtype: str,
        dim: int,
        metric: str,
        *,
        m: int = 16,
        ef_construction: int = 200,
        ef_runtime: int = 10,
        epsilon: float = 0.01,
        initial_cap: int = 1024,
        block_size: int = 1024,
        seed: int = 100,
    ) -> None:
        space = VectorSpace(dtype, dim, metric, storage=np.dtype(np.float32))
        super().__init__(
            space,
            ef_runtime=ef_runtime,
            epsilon=epsilon,
            initial_cap=initial_cap,
            block_size=block_size,
        )
        if m < 2:
            raise ValueError(f"M must be at least 2, got {m}")
        if ef_construction <= 0:
            raise ValueError(f"EF_CONSTRUCTION must be positive, got {ef_construction}")
        self.m = m
        self.ef_construction = ef_construction
        self.seed = seed
        self._row_bytes = dim * 4
        self._new_graph(initial_cap)

    def _new_graph(self, capacity: int) -> None:
        self._index = hnswlib.Index(space=_SPACES[self.space.metric], dim=self.space.dim)
        self._index.init_index(
            max_elements=capacity,
            M=self.m,
            ef_construction=self.ef_construction,
            random_seed=self.seed,
        )
        self._index.set_num_threads(1)
        self._ef = self.ef_runtime
        self._index.set_ef(self._ef)
        self._allocate(capacity)
        self._doc_label: dict[int, int] = {}
        self._free: list[int] = []  # labels marked deleted in hnswlib, reused first
        self._used = 0  # labels 0.._used-1 have been handed out
        self._update_graph_limit()

    def _allocate(self, capacity: int) -> None:
        self._vecs = np.empty((capacity, self.space.dim), dtype=np.float32)
        self._sq = np.zeros(capacity, dtype=np.float32)
        self._label_doc = np.zeros(capacity, dtype=np.int64)
        self._live = np.zeros(capacity, dtype=bool)

    @property
    def capacity(self) -> int:
        return int(self._index.get_max_elements())

    def _grow(self) -> None:
        cap = self.capacity
        new = cap + max(self.block_size, cap // 8)
        self._index.resize_index(new)
        vecs, sq, label_doc, live = self._vecs, self._sq, self._label_doc, self._live
        self._allocate(new)
        self._vecs[:cap], self._sq[:cap] = vecs, sq
        self._label_doc[:cap], self._live[:cap] = label_doc, live

    # -- the searchable vectors ------------------------------------------------------------

    def _put(self, doc_id: int, v: np.ndarray) -> None:
        label = self._doc_label.get(doc_id)
        if label is not None and np.array_equal(self._vecs[label], v):
            return  # re-indexing an unchanged document: an hnswlib update costs ~0.5 ms
        if label is None:
            if self._free:
                label = self._free.pop()
            else:
                if self._used == self.capacity:
                    self._grow()
                label = self._used
                self._used += 1
                self._update_graph_limit()
        # a new label inserts; a live or deleted one is updated in place (and undeleted)
        self._index.add_items(v, (label,), num_threads=1)
        self._vecs[label] = v
        self._sq[label] = v @ v
        self._label_doc[label] = doc_id
        self._live[label] = True
        self._doc_label[doc_id] = label

    def _drop(self, doc_id: int) -> bool:
        label = self._doc_label.pop(doc_id, None)
        if label is None:
            return False
        self._index.mark_deleted(label)
        self._live[label] = False
        self._free.append(label)
        return True

    def _searchable(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        live = np.flatnonzero(self._live[: self._used])
        return self._label_doc[live], live, self._vecs

    def _fetch(self, doc_id: int) -> np.ndarray | None:
        label = self._doc_label.get(doc_id)
        return None if label is None else self._vecs[label].copy()

    def _has(self, doc_id: object) -> bool:
        return doc_id in self._doc_label

    def _size(self) -> int:
        return len(self._doc_label)

    def _reset(self) -> None:
        self._new_graph(self.initial_cap)

    def _check_slots(self) -> None:
        if len(self._doc_label) + len(self._free) != self._used or self._used > self.capacity:
            raise AssertionError(f"{len(self._doc_label)} live and {len(self._free)} free labels of {self._used}")
        for doc_id, label in self._doc_label.items():
            if int(self._label_doc[label]) != doc_id or not self._live[label]:
                raise AssertionError(f"doc {doc_id}'s label {label} is not live for it")
        if any(self._live[label] for label in self._free):
            raise AssertionError("a free label is marked live")

    def _labels_of(self, allowed: Collection[int]) -> np.ndarray:
        labels = np.array([x for x in map(self._doc_label.get, allowed) if x is not None], np.int64)
        labels.sort()  # sequential gathers are faster
        return labels

    # -- the planner's costs ------------------------------------------------------------------

    def _graph_ns(self, fetch: int) -> float:
        per = _GRAPH_NS_PER_CANDIDATE + _GRAPH_NS_PER_CANDIDATE_BYTE * self._row_bytes
        return _GRAPH_NS_FIXED + fetch * per

    def _gather_ns(self, docs: int) -> float:
        return ExactCosts.gather_ns(docs, self._row_bytes)

    def _scan_ns(self) -> float:
        return ExactCosts.scan_ns(self._used, self._row_bytes)

    def _update_graph_limit(self) -> None:
        """The most neighbours (or ef) for which the graph beats scanning every slot."""
        per = _GRAPH_NS_PER_CANDIDATE + _GRAPH_NS_PER_CANDIDATE_BYTE * self._row_bytes
        self._graph_limit = int((self._scan_ns() - _GRAPH_NS_FIXED) / per)

    # -- search --------------------------------------------------------------------------

    def _graph_knn(
        self, q: np.ndarray, count: int, ef: int | None
    ) -> tuple[Any, list[float]] | None:
        """hnswlib's ``count`` nearest (labels, distances), or None when it could not find them.

        knn_query raises RuntimeError when the search reaches fewer than ``count`` live points
        (too many deleted ones around, or ``count`` > live); callers fall back to exact search.
        hnswlib searches with max(ef, count).
        """
        if ef is not None and ef != self._ef:
            self._index.set_ef(ef)
            self._ef = ef
        try:
            labels, dists = self._index.knn_query(q, k=count, num_threads=1)
        except RuntimeError:
            return None
        return labels[0], dists[0].tolist()

    def _exact(self, q: np.ndarray, k: int, rows: np.ndarray | None = None) -> Neighbours:
        """Exact k nearest over our float32 copy: the given labels, or every live one."""
        used = self._used
        mat, sq, docs = self._vecs[:used], self._sq[:used], self._label_doc[:used]
        if rows is None and self._free:  # holes: score every slot, keep the live ones
            rows = np.flatnonzero(self._live[:used])
            d = self.space.scores(mat, sq, q)[rows]
            return self.space.knn(mat, sq, docs, q, k, rows=rows, d=d)
        return self.space.knn(mat, sq, docs, q, k, rows=rows)

    def knn(
        self,
        query: Any,
        k: int,
        allowed: Collection[int] | None = None,
        ef_runtime: int | None = None,
    ) -> Neighbours:
        live = len(self._doc_label)
        if k <= 0 or live == 0:
            return []
        ef = self.ef_runtime if ef_runtime is None else max(1, ef_runtime)
        if allowed is not None:
            return self._knn_filtered(query, min(k, live), membership(allowed), ef)
        # the unfiltered path is the hot one: one knn_query, one numpy gather for the doc ids
        q = self.space.shaped(query)
        if k > live:
            k = live
        if (k if k > ef else ef) > self._graph_limit:
            return self._exact_query(q, k)
        if ef != self._ef:
            self._index.set_ef(ef)
            self._ef = ef
        try:
            labels, dists = self._index.knn_query(q, k=k, num_threads=1)
        except RuntimeError:  # fewer than k live points reachable (deleted ones around)
            return self._exact_query(q, k)
        d = dists.ravel().tolist()
        if not d[-1] < math.inf and not np.isfinite(q).all():
            return []  # a NaN or infinite query component makes every distance NaN or inf
        return sorted(zip(d, self._label_doc.take(labels.ravel()).tolist(), strict=True))

    def _exact_query(self, query: np.ndarray, k: int) -> Neighbours:
        q = self.space.query(query)
        return [] if q is None else self._exact(q, k)

    def _knn_filtered(self, query: Any, k: int, allowed: Collection[int], ef: int) -> Neighbours:
        """Exact search over the allowed vectors when that is cheaper than the graph search
        that would find k of them; else graph search with over-fetch, doubling the fetch while
        fewer than k allowed results come back, and falling back to exact once the graph has
        cost more than exact would have. Never fewer than min(k, |allowed ∩ live|) results.
        """
        q = self.space.query(query)
        if q is None or not allowed:
            return []
        live = len(self._doc_label)
        exact_ns = self._gather_ns(len(allowed))
        selectivity = min(1.0, len(allowed) / live)
        fetch = min(live, math.ceil(max(k, ef) * _FILTER_MARGIN / selectivity))
        spent = 0.0
        while exact_ns > spent + self._graph_ns(fetch):
            found = self._graph_knn(q, fetch, None)
            if found is None:
                break
            labels, dists = found
            docs = self._label_doc[labels].tolist()
            hits = [pair for pair in zip(dists, docs, strict=True) if pair[1] in allowed]
            if fetch == live:  # the graph returned every live vector
                return sorted(hits)[:k]
            # Far fewer hits than the selectivity predicts means the allowed docs lie away
            # from the query, at the fringe of what the graph search saw, where it is least
            # accurate: look further (or go exact) rather than trust them.
            if len(hits) >= k and len(hits) >= _MIN_HIT_RATIO * fetch * selectivity:
                hits.sort()
                return hits[:k]
            spent += self._graph_ns(fetch)
            fetch = min(live, 2 * fetch)
        labels = self._labels_of(allowed)
        return self._exact(q, k, rows=labels) if len(labels) else []

    def range(
        self,
        query: Any,
        radius: float,
        allowed: Collection[int] | None = None,
        epsilon: float | None = None,
    ) -> Neighbours:
        """Graph search for ever more neighbours (doubling from 64) until the farthest one
        returned is beyond ``radius * (1 + epsilon)`` (``radius + |radius| * epsilon``, IP
        distances can be negative) or every live vector was returned, then exactly the ones
        ``<= radius``. Exact numpy search instead when the allowed set is small, or once the
        graph has cost more than a scan of every vector would.
        """
        q = self.space.query(query)
        live = len(self._doc_label)
        if q is None or live == 0 or math.isnan(radius):
            return []
        if allowed is not None:
            allowed = membership(allowed)
            if not allowed:
                return []
            if self._gather_ns(len(allowed)) <= self._scan_ns():
                labels = self._labels_of(allowed)
                mat, sq, docs = self._vecs, self._sq, self._label_doc
                return self.space.within(mat, sq, docs, q, radius, rows=labels)
        eps = self.epsilon if epsilon is None else max(0.0, epsilon)
        bound = radius + abs(radius) * eps
        fetch = min(live, max(_RANGE_FIRST_FETCH, self.ef_runtime))
        spent = 0.0
        found = None
        while spent + self._graph_ns(fetch) <= self._scan_ns():
            found = self._graph_knn(q, fetch, None)
            if found is None or found[1][-1] > bound or fetch == live:
                break
            spent += self._graph_ns(fetch)
            fetch = min(live, 2 * fetch)
            found = None
        if found is None:  # the scan is cheaper now, or the graph could not deliver
            rows = np.flatnonzero(self._live[: self._used])
            mat, sq, docs = self._vecs, self._sq, self._label_doc
            pairs = self.space.within(mat, sq, docs, q, radius, rows=rows)
        else:
            labels, dists = found
            docs_of = self._label_doc[labels].tolist()
            pairs = sorted(p for p in zip(dists, docs_of, strict=True) if p[0] <= radius)
        if allowed is None:
            return pairs
        return [p for p in pairs if p[1] in allowed]

    def knn_batch(
        self, queries: Any, k: int, ef_runtime: int | None = None, num_threads: int = -1
    ) -> list[Neighbours]:
        """One knn_query call for all finite queries (hnswlib runs them on ``num_threads``
        threads, all cores for -1); queries it cannot answer go through ``knn`` one by one."""
        qs = np.asarray(queries, dtype=np.float32)
        if qs.ndim != 2 or qs.shape[1] != self.space.dim:
            raise ValueError(f"expected queries of shape (n, {self.space.dim}), got {qs.shape}")
        out: list[Neighbours] = [[] for _ in range(len(qs))]
        live = len(self._doc_label)
        if k <= 0 or live == 0:
            return out
        ef = self.ef_runtime if ef_runtime is None else max(1, ef_runtime)
        k = min(k, live)
        finite = np.flatnonzero(np.isfinite(qs).all(axis=1))
        if len(finite) == 0:
            return out
        if max(k, ef) > self._graph_limit:
            for i in finite.tolist():
                out[i] = self._exact_query(qs[i], k)
            return out
        if ef != self._ef:
            self._index.set_ef(ef)
            self._ef = ef
        try:
            labels, dists = self._index.knn_query(qs[finite], k=k, num_threads=num_threads)
        except RuntimeError:
            for i in finite.tolist():
                out[i] = self.knn(qs[i], k, ef_runtime=ef)
            return out
        docs = self._label_doc[labels].tolist()
        for i, row_d, row_docs in zip(finite.tolist(), dists.tolist(), docs, strict=True):
            out[i] = sorted(zip(row_d, row_docs, strict=True))
        return out

    # -- introspection and persistence -------------------------------------------------------

    def info(self) -> dict[str, object]:
        info = self._base_info()
        cap = self.capacity
        m = self.m
        # hnswlib: level-0 links (2M ints + count), the vector, the label; a link-list pointer
        # and level per slot; upper levels (M ints + count) on 1/(M-1) levels per point; its
        # label map (~40 bytes per point); 65536 label mutexes; a visited list (2 bytes/slot).
        graph = cap * ((2 * m + 1) * 4 + self._row_bytes + 8 + 12 + 2)
        graph += self._used * (40 + (m + 1) * 4 // (m - 1)) + 65536 * 40
        # ours: the float32 copy, |v|^2, label -> doc, live flags; ~100 bytes per dict entry
        ours = cap * (self._row_bytes + 4 + 8 + 1) + len(self._doc_label) * 100
        info.update(
            {
                "M": m,
                "ef_construction": self.ef_construction,
                "ef_runtime": self.ef_runtime,
                "epsilon": self.epsilon,
                "capacity": cap,
                "marked_deleted": len(self._free),
                "memory": graph + ours,
            }
        )
        return info

    def to_bytes(self) -> bytes:
        """Our arrays plus hnswlib's own index file (the graph is saved, not rebuilt)."""
        used = self._used
        header = {
            "algorithm": self.algorithm,
            "dtype": self.space.dtype,
            "dim": self.space.dim,
            "metric": self.space.metric,
            "m": self.m,
            "ef_construction": self.ef_construction,
            "ef_runtime": self.ef_runtime,
            "epsilon": self.epsilon,
            "initial_cap": self.initial_cap,
            "block_size": self.block_size,
            "seed": self.seed,
        }
        arrays = {
            "label_doc": self._label_doc[:used],
            "live": self._live[:used],
            "vecs": self._vecs[:used],
            **self._aside_arrays(),
        }
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "hnsw.bin")
            self._index.save_index(path)
            with open(path, "rb") as f:
                graph = f.read()
        return pack_arrays(header, arrays, graph)

    @classmethod
    def _load(cls, data: bytes) -> Self:
        header, arrays, graph = unpack_arrays(data)
        if header.get("algorithm") != cls.algorithm:
            raise ValueError("not an HNSW vector index")
        index = cls(
            header["dtype"],
            header["dim"],
            header["metric"],
            m=header["m"],
            ef_construction=header["ef_construction"],
            ef_runtime=header["ef_runtime"],
            epsilon=header["epsilon"],
            initial_cap=0,
            block_size=header["block_size"],
            seed=header["seed"],
        )
        index.initial_cap = header["initial_cap"]
        label_doc, live, vecs = arrays["label_doc"], arrays["live"], arrays["vecs"]
        used = len(label_doc)
        if len(live) != used or vecs.shape != (used, index.space.dim):
            raise ValueError("corrupt HNSW vector index")
        if (label_doc.dtype, live.dtype, vecs.dtype) != (np.int64, np.bool_, np.float32):
            raise ValueError("corrupt HNSW vector index: array types")
        # hnswlib trusts its file (damage crashes it at the first search): prove it first
        check_graph(
            graph, dim=index.space.dim, m=index.m, ef_construction=index.ef_construction,
            live=live, vecs=vecs, max_capacity=max(index.initial_cap, 2 * used + index.block_size),
            cosine=index.space.cosine,
        )  # fmt: skip
        graph_index = hnswlib.Index(space=_SPACES[index.space.metric], dim=index.space.dim)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "hnsw.bin")
            with open(path, "wb") as f:
                f.write(graph)
            try:
                graph_index.load_index(path, max_elements=0)
            except RuntimeError as e:
                raise ValueError(f"corrupt HNSW graph: {e}") from e
        if graph_index.element_count != used or graph_index.dim != index.space.dim:
            raise ValueError("HNSW graph does not match its vector index")
        index._index = graph_index
        index._index.set_num_threads(1)
        index._index.set_ef(index._ef)
        index._allocate(index.capacity)
        index._vecs[:used], index._live[:used], index._label_doc[:used] = vecs, live, label_doc
        index._sq[:used] = np.einsum("ij,ij->i", vecs, vecs)
        index._used = used
        index._update_graph_limit()
        live_labels = np.flatnonzero(live).tolist()
        index._doc_label = dict(zip(label_doc[live_labels].tolist(), live_labels, strict=True))
        if len(index._doc_label) != len(live_labels):
            raise ValueError("corrupt HNSW vector index: duplicate doc ids")
        index._free = np.flatnonzero(~live).tolist()
        index._load_aside(arrays)
        return index
