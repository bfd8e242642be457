"""hnswlib's index file (the graph inside a saved HNSW vector index), checked before hnswlib
reads it.

hnswlib's ``loadIndex`` trusts its file: it checks the total size and nothing else, so a
neighbour id out of range or a wrong record size makes the first search read outside its
arrays (a crash, not an exception). Saved indexes come from snapshots, which may be damaged or
come from elsewhere, so ``check_graph`` proves the file is one our index wrote for the arrays
saved beside it before hnswlib sees it: the header against the field's parameters, every
neighbour id in range (numpy over the level-0 block, one pass over the upper-level lists), the
deleted marks equal to our free labels, labels ``0..n-1`` (ours are slots), and the vectors
equal to our float32 copy. Anything else raises ValueError and the caller rebuilds.

The layout is hnswlib 0.8's ``saveIndex`` (a different hnswlib writing something else fails
the check, which is the safe outcome). Little-endian, ``size_t`` 8 bytes:

    header   offsetLevel0 max_elements cur_element_count size_data_per_element label_offset
             offsetData (6 x u64), maxlevel (i32), enterpoint_node (u32), maxM maxM0 M (3 x u64),
             mult (f64), ef_construction (u64)                                       96 bytes
    level 0  per element: [u16 link count][u8 flags: 0x01 deleted][u8][maxM0 x u32 links]
             [dim x f32 vector][u64 label]                       size_data_per_element each
    upper    per element: u32 byte size, then its levels' lists, each [u16 count][u16]
             [maxM x u32 links]
"""

from __future__ import annotations

import math
import struct

import numpy as np

__all__ = ["check_graph"]

_HEADER = struct.Struct("<6QiI3QdQ")
#: Levels are ~ln(n)/ln(M) deep; anything beyond this is damage, not a graph.
_MAX_LEVEL = 64
#: Level-0 records checked per numpy step (bounds the temporary arrays).
_ROWS = 65536


def check_graph(
    graph: bytes,
    *,
    dim: int,
    m: int,
    ef_construction: int,
    live: np.ndarray,
    vecs: np.ndarray,
    max_capacity: int,
    cosine: bool,
) -> None:
    """Raise ValueError unless ``graph`` is hnswlib's file of an index over ``len(live)``
    labels whose deleted marks are ``~live``, whose vectors are ``vecs`` (up to rounding under
    COSINE, where hnswlib normalises again) and whose capacity is at most ``max_capacity``."""
    if len(graph) < _HEADER.size:
        raise ValueError("the HNSW graph is truncated")
    (offset0, capacity, count, record, label_at, data_at, max_level, entry, max_m, max_m0,
     header_m, mult, efc) = _HEADER.unpack_from(graph)  # fmt: skip
    links0 = 4 + 8 * m
    expected = {
        "offsetLevel0": (offset0, 0), "element count": (count, len(live)), "M": (header_m, m),
        "maxM": (max_m, m), "maxM0": (max_m0, 2 * m), "offsetData": (data_at, links0),
        "label_offset": (label_at, links0 + 4 * dim), "record size": (record, links0 + 4 * dim + 8),
        "ef_construction": (efc, max(ef_construction, m)),
    }  # fmt: skip
    for name, (found, wanted) in expected.items():
        if found != wanted:
            raise ValueError(f"the HNSW graph's {name} is {found}, expected {wanted}")
    if not count <= capacity <= max(max_capacity, count):
        raise ValueError(f"the HNSW graph's capacity {capacity} is out of range")
    if not math.isclose(mult, 1 / math.log(m), rel_tol=1e-9):
        raise ValueError("the HNSW graph's level multiplier is not 1/ln(M)")
    level0_end = _HEADER.size + count * record
    if len(graph) < level0_end:
        raise ValueError("the HNSW graph is truncated")
    if count == 0:
        if len(graph) != level0_end:
            raise ValueError("the HNSW graph has trailing bytes")
        return
    if not 0 <= max_level <= _MAX_LEVEL or entry >= count:
        raise ValueError("the HNSW graph's entry point or top level is out of range")
    _check_level0(graph, count, record, m, dim, live, vecs, cosine)
    levels = _check_upper_levels(graph, level0_end, count, m, max_level)
    if levels[entry] != max_level:
        raise ValueError("the HNSW graph's entry point is not on its top level")


def _check_level0(
    graph: bytes, count: int, record: int, m: int, dim: int, live: np.ndarray, vecs: np.ndarray, cosine: bool
) -> None:
    base = _HEADER.size
    links = np.ndarray((count, 2 * m + 1), "<u4", graph, base, (record, 4))
    flags = np.ndarray((count,), "u1", graph, base + 2, (record,))
    stored = np.ndarray((count, dim), "<f4", graph, base + 4 + 8 * m, (record, 4))
    labels = np.ndarray((count,), "<u8", graph, base + 4 + 8 * m + 4 * dim, (record,))
    if not np.array_equal(labels, np.arange(count, dtype=np.uint64)):
        raise ValueError("the HNSW graph's labels are not its slots")
    if not np.array_equal((flags & 1) == 0, live):
        raise ValueError("the HNSW graph's deleted marks disagree with the free labels")
    slots = np.arange(2 * m)
    tol = 4 * (dim + 2) * float(np.finfo(np.float32).eps)  # hnswlib normalised our unit vector
    for start in range(0, count, _ROWS):
        block = links[start : start + _ROWS]
        sizes = block[:, 0] & 0xFFFF
        if (sizes > 2 * m).any():
            raise ValueError("an HNSW level-0 list is longer than 2M")
        used = slots[None, :] < sizes[:, None]
        if (block[:, 1:][used] >= count).any():
            raise ValueError("an HNSW level-0 link points past the last element")
        ours, theirs = vecs[start : start + _ROWS], stored[start : start + _ROWS]
        with np.errstate(invalid="ignore"):
            same = np.abs(ours - theirs).max() <= tol if cosine else np.array_equal(ours, theirs)
        if not same:
            raise ValueError("the HNSW graph's vectors differ from the saved ones")


def _check_upper_levels(graph: bytes, at: int, count: int, m: int, max_level: int) -> np.ndarray:
    """Each element's level, after checking its upper-level lists: their sizes, and that each
    link at level L points at an element that has level L (hnswlib reads that element's list
    at L next; a shorter element has none)."""
    list_bytes = 4 + 4 * m
    levels = np.zeros(count, dtype=np.int64)
    lists: list[memoryview] = []
    view = memoryview(graph)
    unpack = struct.Struct("<I").unpack_from
    end = len(graph)
    for i in range(count):
        if at + 4 > end:
            raise ValueError("the HNSW graph is truncated")
        (size,) = unpack(graph, at)
        at += 4
        if size:
            level, rest = divmod(size, list_bytes)
            if rest or level > max_level or at + size > end:
                raise ValueError(f"element {i}'s upper-level lists are damaged")
            levels[i] = level
            lists.append(view[at : at + size])
            at += size
    if at != end:
        raise ValueError("the HNSW graph has trailing bytes")
    if lists:
        table = np.frombuffer(b"".join(lists), "<u4").reshape(-1, m + 1)
        sizes = table[:, 0] & 0xFFFF
        if (sizes > m).any():
            raise ValueError("an HNSW upper-level list is longer than M")
        # the level of each list: 1..level for each element with upper levels, in file order
        per_element = levels[levels > 0]
        firsts = np.repeat(np.cumsum(per_element) - per_element, per_element)
        list_level = np.arange(len(table)) - firsts + 1
        used = np.arange(m)[None, :] < sizes[:, None]
        targets = table[:, 1:][used]
        if (targets >= count).any():
            raise ValueError("an HNSW upper-level link points past the last element")
        wanted = np.broadcast_to(list_level[:, None], used.shape)[used]
        if (levels[targets] < wanted).any():
            raise ValueError("an HNSW upper-level link points at an element without that level")
    return levels
