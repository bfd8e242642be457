"""Vector indexes for FT.* VECTOR fields: what the index code imports.

``make_vector_index`` builds the index of one field: FLAT (exact numpy search, see
``vectors_flat``) or HNSW (hnswlib with a filtered-search planner, see ``vectors_hnsw``).
Both keep the ``VectorIndex`` contract of ``vectors_base``: ``decode`` a blob, ``add`` /
``remove`` / ``get`` by caller-chosen int doc id, ``knn`` (optionally restricted to an allowed
set of doc ids), ``range`` (VECTOR_RANGE), ``knn_batch``, ``info`` and ``to_bytes`` /
``from_bytes``. Distances are RediSearch's (L2 squared, IP 1 - dot, COSINE 1 - cos).

Notes for the caller:

* RediSearch searches HNSW with ``max(EF_RUNTIME, k)`` candidates, and so does hnswlib; pass
  the query's EF_RUNTIME as ``ef_runtime`` (the field's default is used otherwise).
* A non-finite vector is accepted but never found; a non-finite query finds nothing.
* Blob length mismatch is ``decode(...) is None``; the error text is the caller's.
"""

from __future__ import annotations

from typing import Any

from magpie.search.vectors_base import (
    ALGORITHMS,
    DTYPES,
    METRICS,
    ExactCosts,
    Neighbours,
    VectorField,
    VectorIndex,
    VectorSpace,
)
from magpie.search.vectors_flat import FlatVectorIndex
from magpie.search.vectors_hnsw import HnswVectorIndex

__all__ = [
    "ALGORITHMS",
    "DTYPES",
    "METRICS",
    "ExactCosts",
    "FlatVectorIndex",
    "HnswVectorIndex",
    "Neighbours",
    "VectorField",
    "VectorIndex",
    "VectorSpace",
    "load_vector_index",
    "make_vector_index",
]

_FLAT_PARAMS = {"initial_cap", "block_size", "ef_runtime", "epsilon"}
_HNSW_PARAMS = _FLAT_PARAMS | {"m", "ef_construction", "seed"}


def make_vector_index(
    algorithm: str, dtype: str, dim: int, metric: str, **params: Any
) -> VectorIndex:
    """The index for one VECTOR field; ``params`` are lower-case FT.CREATE names
    (``m``, ``ef_construction``, ``ef_runtime``, ``epsilon``, ``initial_cap``, ``block_size``).
    HNSW-only ones are ignored for FLAT. ValueError for anything out of range."""
    algorithm = algorithm.upper()
    unknown = set(params) - _HNSW_PARAMS
    if unknown:
        raise ValueError(f"unknown vector index parameter(s): {sorted(unknown)}")
    if algorithm not in ("FLAT", "HNSW"):
        raise ValueError(f"unsupported vector index algorithm {algorithm!r}")
    try:
        if algorithm == "FLAT":
            return FlatVectorIndex(
                dtype, dim, metric, **{k: v for k, v in params.items() if k in _FLAT_PARAMS}
            )
        return HnswVectorIndex(dtype, dim, metric, **params)
    except MemoryError:  # INITIAL_CAP x DIM more than the machine can allocate
        raise ValueError("not enough memory for the initial capacity") from None


def load_vector_index(data: bytes) -> VectorIndex:
    """An index saved by ``to_bytes``, whichever algorithm it is."""
    for cls in (HnswVectorIndex, FlatVectorIndex):
        try:
            return cls.from_bytes(data)
        except ValueError as e:
            if "not a" not in str(e):
                raise
    raise ValueError("not a magpie vector index")
