#!/usr/bin/env python3
"""RDB save and load time of Magpie against a real redis-server, in one invocation, and
the restart of an HNSW index (graph loaded whole) against rebuilding it from the hashes.

What it does:

1. Writes one dataset of ``--keys`` mixed keys (70% strings of 10-60 bytes, 10% small hashes,
   10% small lists, 5% small sets, 5% small sorted sets; 10% with a TTL) as an RDB file with
   Magpie's writer, in-process.
2. For each server (redis-server, then Magpie): starts it on a copy of that file, times
   ``SAVE`` (the server's own file), restarts it on its own file and takes the load time the
   server logs ("DB loaded from disk: N seconds"). Each server thus loads the file it writes.
3. Vectors: ``--vectors`` hashes of dim 128 under an FT.CREATE HNSW index on Magpie. The
   rebuild time is FT.CREATE's back-fill over the hashes (as RediSearch rebuilds on every
   load); the restart time runs from launching the server on the snapshot that holds the
   saved graph until the index answers fully indexed with every document.
4. Prints a table of times and ratios against the goals of issue 10 (save and load within 3x
   Redis; restart at least 10x faster than a rebuild), and the command that produced it.

Run: ``.venv/bin/python benchmarks/persistence.py [--keys 1000000] [--vectors 100000]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

import numpy as np  # noqa: E402
from servers import ServerProcess, start_magpie, start_redis  # noqa: E402

LOAD_LINE = re.compile(r"DB loaded from disk: ([0-9.]+) seconds")
SAVE_GOAL, VECTOR_GOAL = 3.0, 10.0


def build_dataset(path: str, keys: int) -> None:
    from magpie.commands import load_all
    from magpie.config import Config
    from magpie.persistence.rdb_writer import write_rdb
    from magpie.store.hashes import Hash
    from magpie.store.keyspace import Keyspace
    from magpie.store.lists import ListValue
    from magpie.store.sets import build_set
    from magpie.store.zsets import build_zset

    load_all()
    config = Config().values
    keyspace = Keyspace(16)
    db = keyspace[0]
    far = int(time.time() * 1000) + 10 * 86400 * 1000
    for i in range(keys):
        key = b"key:%d" % i
        kind = i % 20
        if kind < 14:
            db.data[key] = b"value-%d-" % i + b"x" * (i % 50)
        elif kind < 16:
            db.data[key] = Hash({b"name": b"user %d" % i, b"visits": b"%d" % (i % 1000), b"plan": b"free"})
        elif kind < 18:
            db.data[key] = ListValue([b"job-%d" % i, b"queued", b"%d" % i])
        elif kind < 19:
            db.data[key] = build_set([b"%d" % i, b"%d" % (i + 1), b"tag"], 512)
        else:
            db.data[key] = build_zset([(b"a", 1.0), (b"b", float(i))], config)
        if i % 10 == 0:
            db.set_expire(key, far)
    with open(path, "wb") as out:
        write_rdb(out, keyspace)


def loaded_seconds(server: ServerProcess, deadline: float = 600) -> float:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = LOAD_LINE.findall(server.log())
        if found:
            return float(found[-1])
        time.sleep(0.05)
    raise TimeoutError(f"{server.kind} did not log its load time")


def save_and_load(kind: str, dataset: str) -> tuple[float, float]:
    workdir = tempfile.mkdtemp(prefix=f"persist-bench-{kind}-")
    shutil.copy(dataset, os.path.join(workdir, "dump.rdb"))
    start = start_redis if kind == "redis" else start_magpie
    server = start("--save", "", workdir=workdir)
    try:
        client = server.wait_loaded(600)
        began = time.perf_counter()
        client.save()
        saved = time.perf_counter() - began
    finally:
        server.stop(keep_dir=True, timeout=600)
    server = start("--save", "", workdir=workdir)
    try:
        server.wait_loaded(600)
        loaded = loaded_seconds(server)
    finally:
        server.stop()
    return saved, loaded


def _indexed(client) -> bool:  # noqa: ANN001 - redis.Redis
    info = client.execute_command("FT.INFO", "idx")
    fields = dict(zip(info[::2], info[1::2], strict=False))
    return float(fields[b"percent_indexed"]) >= 1.0


def vector_restart(count: int, dim: int = 128) -> tuple[float, float]:
    """(rebuild seconds, restart seconds) of an HNSW index over ``count`` vectors; the
    restart counts from launching the process until the index answers fully indexed."""
    server = start_magpie("--save", "")
    workdir = server.workdir
    try:
        client = server.client(protocol=2)
        rng = np.random.default_rng(7)
        pipe = client.pipeline(transaction=False)
        for i in range(count):
            pipe.hset(f"doc:{i}", mapping={"v": rng.standard_normal(dim, dtype=np.float32).tobytes(), "n": i})
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        began = time.perf_counter()
        client.execute_command("FT.CREATE", "idx", "PREFIX", "1", "doc:", "SCHEMA", "n", "NUMERIC",
                               "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(dim),
                               "DISTANCE_METRIC", "L2")  # fmt: skip
        while not _indexed(client):
            time.sleep(0.2)
        rebuilt = time.perf_counter() - began
        client.save()
    finally:
        server.stop(keep_dir=True, timeout=600)
    began = time.perf_counter()
    server = start_magpie("--save", "", workdir=workdir)
    try:
        client = server.wait_loaded(600)
        while not _indexed(client):
            time.sleep(0.05)
        ready = time.perf_counter() - began
        info = client.execute_command("FT.INFO", "idx")
        docs = int(dict(zip(info[::2], info[1::2], strict=False))[b"num_docs"])
        if docs != count:
            raise RuntimeError(f"the restarted index holds {docs} documents, not {count}")
    finally:
        server.stop()
    return rebuilt, ready


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--vectors", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dataset = os.path.join(tmp, "dataset.rdb")
        build_dataset(dataset, args.keys)
        print(f"dataset: {args.keys} mixed keys, {os.path.getsize(dataset) / 1e6:.1f} MB as written by Magpie")
        redis_save, redis_load = save_and_load("redis", dataset)
        magpie_save, magpie_load = save_and_load("magpie", dataset)
    rows = [
        ("SAVE, seconds", redis_save, magpie_save),
        ("load at startup, seconds", redis_load, magpie_load),
    ]
    print(f"\n| {args.keys} mixed keys | redis-server | Magpie | Magpie/Redis time | goal |")
    print("|---|---|---|---|---|")
    for name, ref, ours in rows:
        print(f"| {name} | {ref:.2f} | {ours:.2f} | {ours / max(ref, 1e-9):.2f}x | <= {SAVE_GOAL:.0f}x |")
    if args.vectors:
        rebuilt, loaded = vector_restart(args.vectors)
        print(f"\n| {args.vectors} vectors, dim 128, HNSW | seconds |")
        print("|---|---|")
        print(f"| rebuild from the hashes (FT.CREATE back-fill) | {rebuilt:.2f} |")
        print(f"| restart: process start to index ready (graph loaded from the snapshot) | {loaded:.2f} |")
        print(f"| rebuild / restart | {rebuilt / max(loaded, 1e-9):.1f}x (goal >= {VECTOR_GOAL:.0f}x) |")
    print(f"\ncommand: .venv/bin/python benchmarks/persistence.py --keys {args.keys} --vectors {args.vectors}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
