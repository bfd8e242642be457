"""What both vector index algorithms share: the contract the FT.* code calls, the vector space
(data type, dimension, metric) with its exact distance kernel, and the byte container that
``to_bytes``/``from_bytes`` use.

Distances are the ones RediSearch reports: L2 is the *squared* Euclidean distance, IP is
``1 - dot``, COSINE is ``1 - cosine similarity`` (0..2). hnswlib's ``l2``/``ip``/``cosine``
spaces compute the same numbers, and the exact kernel here must agree with them.

Choices this module makes for both algorithms:

* COSINE stores vectors normalised, as RediSearch and hnswlib do, so ``get`` returns the unit
  vector. Normalising divides by ``norm + 1e-30`` (hnswlib's formula): a zero vector stays
  zero, its distance to anything (and any vector's distance to a zero query) is exactly 1.0,
  never NaN.
* Vectors with a NaN or infinite component are accepted, as RediSearch accepts them: they
  count in ``len``, ``in`` and ``get``, but are held aside and never appear in ``knn`` or
  ``range`` results (their distances are undefined, and a NaN inside the HNSW graph would
  corrupt the neighbour choices of every node near it). A query with such a component
  matches nothing. Finite vectors so large that a distance overflows get ``inf``.
* Results are ``(distance, doc_id)`` pairs in ascending distance, ties by doc id.
* Doc ids are caller-chosen ints that must fit in a signed 64-bit integer.

The exact kernel computes L2 as ``|x|^2 - 2 x.q + |q|^2`` (one BLAS matrix-vector product,
10x cheaper than subtracting the query from every row) and then recomputes the distance of
every row that might be in the answer directly as ``sum((x - q)^2)``: the expansion loses
precision to cancellation when vectors are long compared with their distances, so rows
within a rounding-error bound of the cut are re-scored and the answer is exact.
"""

from __future__ import annotations

import json
import math
import operator
import struct
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

__all__ = [
    "ALGORITHMS",
    "DTYPES",
    "ExactCosts",
    "METRICS",
    "Neighbours",
    "VectorField",
    "VectorIndex",
    "VectorSpace",
    "membership",
    "nearest",
    "pack_arrays",
    "unpack_arrays",
]

ALGORITHMS = ("FLAT", "HNSW")
DTYPES: dict[str, np.dtype[Any]] = {"FLOAT32": np.dtype("<f4"), "FLOAT64": np.dtype("<f8")}
METRICS = ("L2", "IP", "COSINE")

Neighbours = list[tuple[float, int]]

# Up to this many gathered rows, scoring directly (no expansion, no rescoring) is cheaper:
# measured at dim 128, 1 row 13 vs 29 us, 100 rows 38 vs 58 us, crossover ~1000 rows.
_DIRECT_ROWS = 512
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
#: ``VectorIndex.mismatch`` decodes and compares this many vectors at a time (bounded memory).
_CHECK_ROWS = 65536


class ExactCosts:
    """What exact numpy search costs, for the planners (ns; measurements in vectors_hnsw).

    gather: look up each allowed doc's row (a dict lookup, ~85 ns), copy the rows, score them.
    scan:   score every row with one sequential matrix-vector product.
    Class attributes so a test can force a plan by changing them.
    """

    GATHER_NS_FIXED = 30_000.0
    GATHER_NS_PER_DOC = 350.0
    GATHER_NS_PER_BYTE = 0.25
    SCAN_NS_FIXED = 30_000.0
    SCAN_NS_PER_BYTE = 0.07

    @classmethod
    def gather_ns(cls, docs: int, row_bytes: int) -> float:
        return cls.GATHER_NS_FIXED + docs * (
            cls.GATHER_NS_PER_DOC + cls.GATHER_NS_PER_BYTE * row_bytes
        )

    @classmethod
    def scan_ns(cls, rows: int, row_bytes: int) -> float:
        return cls.SCAN_NS_FIXED + rows * cls.SCAN_NS_PER_BYTE * row_bytes


@dataclass(frozen=True, slots=True)
class VectorField:
    """The parameters of one VECTOR field, as FT.CREATE gives them (defaults are RediSearch's)."""

    algorithm: str
    dtype: str
    dim: int
    metric: str
    m: int = 16
    ef_construction: int = 200
    ef_runtime: int = 10
    epsilon: float = 0.01
    initial_cap: int = 1024
    block_size: int = 1024

    def create_index(self) -> VectorIndex:
        from magpie.search.vectors import make_vector_index

        return make_vector_index(
            self.algorithm,
            self.dtype,
            self.dim,
            self.metric,
            m=self.m,
            ef_construction=self.ef_construction,
            ef_runtime=self.ef_runtime,
            epsilon=self.epsilon,
            initial_cap=self.initial_cap,
            block_size=self.block_size,
        )


def _nan_to_inf(d: np.ndarray) -> np.ndarray:
    """NaN distances (inf - inf from overflowing finite vectors) rank last instead of nowhere."""
    if np.isnan(d.sum()):  # one reduction; a NaN anywhere makes the sum NaN
        d[np.isnan(d)] = np.inf
    return d


def nearest(dist: np.ndarray, docs: np.ndarray, k: int) -> Neighbours:
    """The k smallest (distance, doc id) pairs, exactly, ties broken by doc id."""
    if k < len(dist):
        kth = np.partition(dist, k - 1)[k - 1]
        keep = np.flatnonzero(dist <= kth)  # every row tied with the k-th competes on doc id
        dist, docs = dist[keep], docs[keep]
    order = np.lexsort((docs, dist))[:k]
    return list(zip(dist[order].tolist(), docs[order].tolist(), strict=True))


def membership(allowed: Collection[int]) -> Collection[int]:
    """``allowed`` as something with a constant-time ``in`` (sets and dicts are used as they are)."""
    if isinstance(allowed, AbstractSet | Mapping | range):
        return allowed
    return set(allowed)


#: hnswlib takes the dimension as a C int.
MAX_DIM = 2**31 - 1


class VectorSpace:
    """Data type, dimension and metric of a field: decoding, normalising, exact distances.

    ``storage`` is the float type vectors are kept and compared in: the field's own type for
    FLAT, float32 for HNSW (hnswlib works in float32 whatever the field says).
    """

    def __init__(self, dtype: str, dim: int, metric: str, storage: np.dtype[Any]) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"unsupported vector type {dtype!r}")
        if metric not in METRICS:
            raise ValueError(f"unsupported distance metric {metric!r}")
        if not isinstance(dim, int) or dim <= 0:
            raise ValueError(f"vector dimension must be a positive integer, got {dim!r}")
        if dim > MAX_DIM:
            raise ValueError(f"vector dimension must be at most {MAX_DIM}, got {dim}")
        self.dtype = dtype
        self.dim = dim
        self.metric = metric
        self.wire = DTYPES[dtype]
        self.blob_size = dim * self.wire.itemsize
        self.storage = np.dtype(storage)
        self.cosine = metric == "COSINE"
        self.l2 = metric == "L2"
        # |error| of the expanded L2 formula <= ~2 dim eps (|x|^2 + |q|^2) (dot product bounds)
        self._l2_error = 2.0 * dim * float(np.finfo(self.storage).eps) if self.l2 else 0.0
        self._tiny = self.storage.type(1e-30)

    def decode(self, blob: bytes | bytearray | memoryview) -> np.ndarray | None:
        """A blob as a vector of the field's type (little-endian, as RediSearch reads it)."""
        if len(blob) != self.blob_size:
            return None
        return np.frombuffer(blob, dtype=self.wire)

    def shaped(self, vector: Any) -> np.ndarray:
        """``vector`` as a 1-D array of ``dim`` components (no copy when it already is one)."""
        v = np.asarray(vector)
        if v.shape != (self.dim,):
            if v.size != self.dim:
                raise ValueError(f"expected a vector of {self.dim} components, got shape {v.shape}")
            v = v.reshape(self.dim)
        return v

    def stored(self, vector: Any) -> tuple[np.ndarray, bool]:
        """The form a vector is kept in (a fresh array), and whether it is searchable (finite)."""
        v = np.array(self.shaped(vector), dtype=self.storage)
        if not np.isfinite(v).all():
            return v, False
        if self.cosine:
            v *= self.storage.type(1.0) / (np.sqrt(v @ v) + self._tiny)
        return v, True

    def query(self, vector: Any) -> np.ndarray | None:
        """A query ready for the exact kernel, or None when it has a non-finite component."""
        v, finite = self.stored(vector)
        return v if finite else None

    def scores(self, mat: np.ndarray, sqnorms: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Distances of every row of ``mat`` to ``q``; for L2 only within ``tolerance``."""
        d = mat @ q
        if self.l2:
            d *= -2.0
            d += sqnorms
            d += q @ q
            np.maximum(d, 0.0, out=d)
        else:
            np.subtract(1.0, d, out=d)
        return _nan_to_inf(d)

    def direct(self, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Distances computed the way hnswlib does, without the L2 expansion's cancellation."""
        if not self.l2:
            return _nan_to_inf(1.0 - rows @ q)
        diff = rows - q
        return _nan_to_inf(np.einsum("ij,ij->i", diff, diff))

    def tolerance(self, sqnorms: np.ndarray, q: np.ndarray) -> float:
        """How far ``scores`` may be from ``direct`` for these rows (0 except for L2)."""
        if not self.l2 or len(sqnorms) == 0:
            return 0.0
        return self._l2_error * (float(sqnorms.max()) + float(q @ q))

    def knn(
        self,
        mat: np.ndarray,
        sqnorms: np.ndarray,
        docs: np.ndarray,
        q: np.ndarray,
        k: int,
        rows: np.ndarray | None = None,
        d: np.ndarray | None = None,
    ) -> Neighbours:
        """Exact k nearest among ``mat[rows]`` (all rows when None); ``docs[row]`` is a row's doc id.

        ``d``, when given, holds ``scores`` of those rows already computed.
        """
        if rows is not None and d is None:
            if len(rows) <= _DIRECT_ROWS:
                return nearest(self.direct(mat[rows], q), docs[rows], k) if k > 0 else []
            d = self.scores(mat[rows], sqnorms[rows], q)
        elif d is None:
            d = self.scores(mat, sqnorms, q)
        if len(d) == 0 or k <= 0:
            return []
        if k < len(d):
            sq = sqnorms if rows is None else sqnorms[rows]
            kth = float(np.partition(d, k - 1)[k - 1])
            # the true k-th distance is <= kth + tol, and a row scored above kth + 2 tol is
            # truly above kth + tol: only rows up to there can be in the answer
            cand: np.ndarray | None = np.flatnonzero(d <= kth + 2.0 * self.tolerance(sq, q))
        else:
            cand = None
        return self._rescore(mat, docs, q, k, rows, d, cand)

    def within(
        self,
        mat: np.ndarray,
        sqnorms: np.ndarray,
        docs: np.ndarray,
        q: np.ndarray,
        radius: float,
        rows: np.ndarray | None = None,
    ) -> Neighbours:
        """Every row of ``mat[rows]`` at distance <= radius, exactly, ascending."""
        if rows is not None and len(rows) <= _DIRECT_ROWS:
            d = self.direct(mat[rows], q)
            keep = np.flatnonzero(d <= radius)
            return nearest(d[keep], docs[rows[keep]], len(keep))
        sub, sq = (mat, sqnorms) if rows is None else (mat[rows], sqnorms[rows])
        d = self.scores(sub, sq, q)
        cand = np.flatnonzero(d <= radius + self.tolerance(sq, q))
        found = self._rescore(mat, docs, q, len(cand), rows, d, cand)
        return [pair for pair in found if pair[0] <= radius]

    def _rescore(
        self,
        mat: np.ndarray,
        docs: np.ndarray,
        q: np.ndarray,
        k: int,
        rows: np.ndarray | None,
        d: np.ndarray,
        cand: np.ndarray | None,
    ) -> Neighbours:
        """``nearest`` over the candidate positions of ``d``, L2 distances recomputed directly."""
        if cand is None:
            at = rows if rows is not None else np.arange(len(d))
            dd = d
        else:
            at = cand if rows is None else rows[cand]
            dd = d[cand]
        if self.l2:
            dd = self.direct(mat[at], q)
        return nearest(dd, docs[at], k)


class VectorIndex(ABC):
    """The vector index of one field: doc id -> vector, nearest-neighbour and range search.

    Subclasses keep the searchable (finite) vectors; this class keeps the aside table of
    non-finite ones and routes between the two.
    """

    algorithm: ClassVar[str]

    def __init__(
        self,
        space: VectorSpace,
        *,
        ef_runtime: int,
        epsilon: float,
        initial_cap: int,
        block_size: int,
    ) -> None:
        if block_size <= 0:
            raise ValueError(f"BLOCK_SIZE must be positive, got {block_size}")
        if initial_cap < 0:
            raise ValueError(f"INITIAL_CAP must not be negative, got {initial_cap}")
        if ef_runtime <= 0:
            raise ValueError(f"EF_RUNTIME must be positive, got {ef_runtime}")
        if not epsilon >= 0:
            raise ValueError(f"EPSILON must not be negative, got {epsilon}")
        self.space = space
        self.ef_runtime = ef_runtime
        self.epsilon = float(epsilon)
        self.initial_cap = initial_cap
        self.block_size = block_size
        self._aside: dict[int, np.ndarray] = {}

    @property
    def blob_size(self) -> int:
        return self.space.blob_size

    @property
    @abstractmethod
    def capacity(self) -> int:
        """Vector slots allocated (FT.INFO's capacity)."""

    @property
    def dim(self) -> int:
        return self.space.dim

    @property
    def metric(self) -> str:
        return self.space.metric

    def decode(self, blob: bytes | bytearray | memoryview) -> np.ndarray | None:
        """The blob as a vector, or None when its length is not ``blob_size``."""
        return self.space.decode(blob)

    def add(self, doc_id: int, vector: Any) -> None:
        """Index ``vector`` under ``doc_id``, replacing what the doc id had."""
        doc_id = operator.index(doc_id)
        if not _INT64_MIN <= doc_id <= _INT64_MAX:
            raise ValueError(f"doc id {doc_id} does not fit in 64 bits")
        v, finite = self.space.stored(vector)
        if finite:
            if self._aside:
                self._aside.pop(doc_id, None)
            self._put(doc_id, v)
        else:
            self._drop(doc_id)
            self._aside[doc_id] = v

    def remove(self, doc_id: int) -> bool:
        """Forget ``doc_id``; False when it was not indexed."""
        if self._aside.pop(doc_id, None) is not None:
            return True
        return self._drop(doc_id)

    def get(self, doc_id: int) -> np.ndarray | None:
        """A copy of the stored vector (unit length under COSINE), or None."""
        v = self._aside.get(doc_id)
        if v is not None:
            return v.copy()
        return self._fetch(doc_id)

    def __len__(self) -> int:
        return self._size() + len(self._aside)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._aside or self._has(doc_id)

    def clear(self) -> None:
        self._aside.clear()
        self._reset()

    def check_invariants(self) -> None:
        """Raise AssertionError unless no doc id is both aside and searchable and the
        subclass's slots agree with its doc id map."""
        for doc_id in self._aside:
            if self._has(doc_id):
                raise AssertionError(f"doc {doc_id} is both searchable and aside")
        self._check_slots()

    def _base_info(self) -> dict[str, object]:
        return {
            "algorithm": self.algorithm,
            "data_type": self.space.dtype,
            "dim": self.space.dim,
            "distance_metric": self.space.metric,
            "initial_cap": self.initial_cap,
            "block_size": self.block_size,
            "num_vectors": len(self),
            "num_unsearchable": len(self._aside),
        }

    def _aside_arrays(self) -> dict[str, np.ndarray]:
        docs = np.fromiter(self._aside, dtype=np.int64, count=len(self._aside))
        vecs = np.array(list(self._aside.values()), dtype=self.space.storage)
        return {"aside_docs": docs, "aside_vecs": vecs.reshape(len(docs), self.space.dim)}

    def _load_aside(self, arrays: dict[str, np.ndarray]) -> None:
        for doc, vec in zip(arrays["aside_docs"].tolist(), arrays["aside_vecs"], strict=True):
            self._aside[doc] = vec.copy()

    def mismatch(self, doc_ids: Sequence[int], blobs: Sequence[bytes]) -> str | None:
        """Why this index does not hold exactly the vectors ``blobs`` encode (``blobs[i]`` the
        one of ``doc_ids[i]``, no other doc id indexed), or None when it does.

        For an index restored from a snapshot: is it the one its documents would build?
        Vectorised over chunks of rows (a million vectors of dim 128 take well under a
        second). Stored forms are compared: float32 for HNSW and, under COSINE, unit vectors,
        with a rounding tolerance because a batch norm need not round like a one-vector norm
        (so a vector scaled by a positive factor passes too: its distances are the same).
        """
        space = self.space
        if len(doc_ids) != len(blobs):
            raise ValueError("one blob per doc id")
        have, rows, mat = self._searchable()
        order = np.argsort(have, kind="stable")
        have_sorted = have[order]
        tol = (space.dim + 2) * float(np.finfo(space.storage).eps) if space.cosine else 0.0
        searchable = aside = 0
        for start in range(0, len(doc_ids), _CHECK_ROWS):
            ids = np.asarray(doc_ids[start : start + _CHECK_ROWS], dtype=np.int64)
            joined = b"".join(blobs[start : start + _CHECK_ROWS])
            if len(joined) != len(ids) * space.blob_size:
                return "a vector blob in the hashes has the wrong size"
            wire = np.frombuffer(joined, dtype=space.wire).reshape(len(ids), space.dim)
            expected = wire.astype(space.storage)
            finite = np.isfinite(expected).all(axis=1)
            if not finite.all():
                for doc_id, vector in zip(ids[~finite].tolist(), expected[~finite], strict=True):
                    saved = self._aside.get(doc_id)
                    if saved is None or not np.array_equal(saved, vector, equal_nan=True):
                        return f"the unsearchable vector of document id {doc_id} differs"
                aside += int(np.count_nonzero(~finite))
                ids, expected = ids[finite], expected[finite]
            searchable += len(ids)
            if not len(ids):
                continue
            if space.cosine:
                norms = np.sqrt(np.einsum("ij,ij->i", expected, expected))
                expected *= (space.storage.type(1.0) / (norms + space.storage.type(1e-30)))[:, None]
            at = np.minimum(np.searchsorted(have_sorted, ids), max(len(have_sorted) - 1, 0))
            found = have_sorted[at] == ids if len(have_sorted) else np.zeros(len(ids), bool)
            if not found.all():
                return f"document id {int(ids[~found][0])} has a vector but the index has none"
            saved = mat[rows[order[at]]]
            differs = np.abs(saved - expected).max(axis=1) > tol if tol else (saved != expected).any(axis=1)
            if differs.any():
                return f"the vector of document id {int(ids[differs][0])} differs"
        if searchable != len(have) or aside != len(self._aside):
            extra = len(have) + len(self._aside) - searchable - aside
            return f"the index holds {extra} vector(s) of documents that have none"
        return None

    @abstractmethod
    def _searchable(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(doc ids, rows, matrix): the searchable vectors, ``matrix[rows[i]]`` the one of
        ``doc ids[i]`` in stored form (views, no copies)."""

    @abstractmethod
    def _put(self, doc_id: int, v: np.ndarray) -> None:
        """Index a finite stored-form vector, replacing the doc id's previous one."""

    @abstractmethod
    def _drop(self, doc_id: int) -> bool: ...

    @abstractmethod
    def _fetch(self, doc_id: int) -> np.ndarray | None: ...

    @abstractmethod
    def _has(self, doc_id: object) -> bool: ...

    @abstractmethod
    def _size(self) -> int: ...

    @abstractmethod
    def _reset(self) -> None: ...

    @abstractmethod
    def _check_slots(self) -> None:
        """Raise AssertionError unless the storage slots and the doc id map agree."""

    @abstractmethod
    def knn(
        self,
        query: Any,
        k: int,
        allowed: Collection[int] | None = None,
        ef_runtime: int | None = None,
    ) -> Neighbours:
        """The k nearest searchable vectors (only doc ids in ``allowed`` when given).

        Never fewer than ``min(k, |allowed ∩ searchable|)`` results. ``allowed`` should be a
        set or dict (anything else is copied into a set).
        """

    @abstractmethod
    def range(
        self,
        query: Any,
        radius: float,
        allowed: Collection[int] | None = None,
        epsilon: float | None = None,
    ) -> Neighbours:
        """Every searchable vector within ``radius`` (VECTOR_RANGE), ascending."""

    @abstractmethod
    def knn_batch(
        self, queries: Any, k: int, ef_runtime: int | None = None, num_threads: int = -1
    ) -> list[Neighbours]:
        """``knn`` (unfiltered) for each row of ``queries``, in one pass where possible."""

    @abstractmethod
    def info(self) -> dict[str, object]:
        """Numbers for FT.INFO: parameters, capacity, live count, memory estimate (bytes)."""

    @abstractmethod
    def to_bytes(self) -> bytes: ...

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """An index saved by ``to_bytes``; ValueError when ``data`` is not one."""
        try:
            return cls._load(data)
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"corrupt vector index: {e!r}") from e

    @classmethod
    @abstractmethod
    def _load(cls, data: bytes) -> Self: ...


# to_bytes container: magic, u32 header length, JSON header (parameters and the dtype and
# shape of each array), the arrays' raw bytes in header order, then an opaque tail (the
# hnswlib index). No pickle: an RDB file must not be able to run code when it is loaded.
_MAGIC = b"MAGPIEVEC1"


def pack_arrays(
    header: dict[str, object], arrays: dict[str, np.ndarray], tail: bytes = b""
) -> bytes:
    layout = [[name, a.dtype.str, list(a.shape)] for name, a in arrays.items()]
    head = json.dumps({"header": header, "arrays": layout, "tail": len(tail)}).encode()
    parts = [_MAGIC, struct.pack("<I", len(head)), head]
    parts.extend(np.ascontiguousarray(a).tobytes() for a in arrays.values())
    parts.append(tail)
    return b"".join(parts)


def unpack_arrays(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray], bytes]:
    """The parts ``pack_arrays`` wrote; ValueError when the bytes are not such a container."""
    try:
        if not data.startswith(_MAGIC):
            raise ValueError("not a magpie vector index")
        at = len(_MAGIC) + 4
        (head_len,) = struct.unpack_from("<I", data, len(_MAGIC))
        meta = json.loads(data[at : at + head_len])
        at += head_len
        arrays: dict[str, np.ndarray] = {}
        for name, dtype, shape in meta["arrays"]:
            dt = np.dtype(dtype)
            if dt.hasobject or not all(isinstance(n, int) and n >= 0 for n in shape):
                raise ValueError("bad array in vector index")
            count = math.prod(shape)
            arrays[name] = (
                np.frombuffer(data, dtype=dt, count=count, offset=at).reshape(shape).copy()
            )
            at += count * dt.itemsize
        tail = bytes(data[at:])
        if len(tail) != meta["tail"]:
            raise ValueError("truncated vector index")
        return meta["header"], arrays, tail
    except (KeyError, TypeError, struct.error, json.JSONDecodeError) as e:
        raise ValueError(f"corrupt vector index: {e}") from e
