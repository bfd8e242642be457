#!/usr/bin/env python3
"""Restoring an FT index from its saved aux fields: graph loaded against graph rebuilt.

In process, no server and no RDB bytes (search/persist.py is what the RDB code calls):

1. Builds ``--n`` hashes of ``--dim`` float32 vectors plus a TAG and a NUMERIC field, indexed by
   ``FT.CREATE ... VECTOR HNSW`` (M 16, EF_CONSTRUCTION 200, RediSearch's defaults) as they are
   written; saves with ``index_aux_fields`` (timed).
2. Restores into a fresh keyspace holding the same hashes, twice, in the same invocation:
   with every aux field (the graph is loaded, checked against the hashes), and without the
   vector aux (the vector index is rebuilt from the hashes: what a restart costs without it,
   and what RediSearch does).
3. Prints the times and the rebuilt/loaded ratio (target: >= 10x at 1M x 128); ``--profile``
   adds the loaded restore's profile.

The ratio grows with ``--n``: rebuilding costs O(n log n) hnswlib inserts (~1 ms each at dim
128 and 1M), loading O(n) array copies and checks. ``--n 20000`` runs in about a minute.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from magpie.commands import search as ft  # noqa: E402
from magpie.search.persist import index_aux_fields, restore_indexes  # noqa: E402
from magpie.search.registry import SearchRegistry  # noqa: E402
from magpie.store.hashes import Hash  # noqa: E402
from magpie.store.keyspace import Keyspace  # noqa: E402

TARGET = 10.0


def new_server() -> SimpleNamespace:
    keyspace = Keyspace(1)
    return SimpleNamespace(keyspace=keyspace, search=SearchRegistry(keyspace, lambda callback: None))


def build(n: int, dim: int) -> tuple[SimpleNamespace, float]:
    server = new_server()
    create = (
        f"FT.CREATE idx PREFIX 1 doc: SCHEMA tag TAG n NUMERIC vec VECTOR HNSW 6 TYPE FLOAT32 "
        f"DIM {dim} DISTANCE_METRIC L2"
    ).encode().split()
    ft.ft_create(SimpleNamespace(server=server, resp=2), create)
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    db = server.keyspace[0]
    start = time.perf_counter()
    for i in range(n):
        db.set(b"doc:%d" % i, Hash({b"tag": b"t%d" % (i % 10), b"n": b"%d" % i, b"vec": vectors[i].tobytes()}))
    return server, time.perf_counter() - start


def restore(server: SimpleNamespace, aux: list[tuple[bytes, bytes]], profile: bool) -> float:
    """Seconds for ``restore_indexes`` into a fresh keyspace holding ``server``'s hashes."""
    fresh = new_server()
    for key, value in server.keyspace[0].data.items():
        fresh.keyspace[0].data[key] = Hash(value)
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler is not None:
        profiler.runcall(restore_indexes, fresh.search, aux)
    else:
        restore_indexes(fresh.search, aux)
    elapsed = time.perf_counter() - start
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--profile", action="store_true", help="print the loaded restore's profile")
    args = parser.parse_args()
    server, built = build(args.n, args.dim)
    start = time.perf_counter()
    aux = list(index_aux_fields(server.search))
    saved = time.perf_counter() - start
    size = sum(len(v) for _, v in aux)
    loaded = restore(server, aux, False)
    rebuilt = restore(server, [(k, v) for k, v in aux if b"-vec-" not in k], False)
    if args.profile:
        restore(server, aux, True)
    print(f"{args.n} vectors of dim {args.dim}, HNSW M 16 EF_CONSTRUCTION 200; aux {size / 2**20:.1f} MiB")
    print(f"{'step':<40}{'seconds':>10}")
    for name, seconds in (
        ("indexing as written (reference)", built), ("save: index_aux_fields", saved),
        ("restore, graph loaded", loaded), ("restore, graph rebuilt", rebuilt),
    ):  # fmt: skip
        print(f"{name:<40}{seconds:>10.3f}")
    ratio = rebuilt / loaded
    print(f"{'rebuilt / loaded':<40}{ratio:>9.1f}x   (target >= {TARGET:.0f}x at 1M x 128)")


if __name__ == "__main__":
    main()
