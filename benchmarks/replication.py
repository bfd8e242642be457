#!/usr/bin/env python3
"""Replication against redis-server pairs, in one invocation: full sync time, replica lag
under a steady write rate, and the primary's write throughput with replicas attached.

What it does, for each kind (redis-server pairs first, then Magpie pairs):

1. **Full sync.** The primary starts on one RDB file of ``--keys`` mixed keys (the dataset
   of ``benchmarks/persistence.py``); an empty replica of the same kind is pointed at it
   (``REPLICAOF``, diskless, no delay) and timed until ``master_link_status:up`` with every
   key loaded.
2. **Lag.** A writer process sends ``--rate`` SETs per second (pipelined 1 ms batches) for
   ``--seconds``; meanwhile a probe writes a marker on the primary every 20 ms and polls the
   replica until the marker is there. The median and 99th percentile of that delay are
   reported (they include two round trips of the probe itself, about 0.1 ms).
3. **Throughput.** ``redis-benchmark -t set -c 50 -P 16`` against the primary alone, then
   with two replicas attached (after a warm-up run; the better of two runs each). The
   primary is pinned to CPU 0, redis-benchmark and the replicas to CPU 1, the replicas at
   nice 19 (they catch up after the run), so the figure is the primary's own cost of
   feeding replicas, not the replicas competing for the two cores of this machine.

Then a table with the ratios against the goals of issue 11: full sync within 3x Redis's
time, median lag under 100 ms, throughput with two replicas at least 0.8x without.

Run: ``.venv/bin/python benchmarks/replication.py [--keys 1000000] [--rate 10000] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "src"))

import redis  # noqa: E402
from persistence import build_dataset  # noqa: E402
from servers import ServerProcess, start_magpie, start_redis  # noqa: E402

SYNC_GOAL, LAG_GOAL_MS, THROUGHPUT_GOAL = 3.0, 100.0, 0.8
REPL_ARGS = ("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")


def start(kind: str, *args: str, workdir: str | None = None, cpu: int | None = None, nice: bool = False) -> ServerProcess:
    wrapper: tuple[str, ...] = ("taskset", "-c", str(cpu)) if cpu is not None else ()
    if nice:
        wrapper = ("nice", "-n", "19", *wrapper)
    if kind == "redis":
        return start_redis(*REPL_ARGS, *args, wrapper=wrapper, workdir=workdir)
    return start_magpie(*REPL_ARGS, *args, wrapper=wrapper, workdir=workdir)


def wait_synced(replica: redis.Redis, keys: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = replica.info("replication")
            if info.get("master_link_status") == "up" and replica.dbsize() >= keys:
                return
        except redis.BusyLoadingError:
            pass
        time.sleep(0.01)
    raise TimeoutError("replica never synced")


def full_sync_seconds(kind: str, dataset: str, keys: int) -> float:
    workdir = tempfile.mkdtemp(prefix=f"bench-repl-{kind}-")
    shutil.copy(dataset, os.path.join(workdir, "dump.rdb"))
    primary = start(kind, workdir=workdir)
    replica = start(kind)
    try:
        primary.wait_loaded(900)
        client = replica.client(socket_timeout=900)
        started = time.monotonic()
        client.execute_command("REPLICAOF", "127.0.0.1", primary.port)
        wait_synced(client, keys)
        return time.monotonic() - started
    finally:
        replica.stop()
        primary.stop()


def _writer(port: int, rate: int, seconds: float) -> None:
    client = redis.Redis(port=port)
    batch = max(1, rate // 1000)
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < seconds:
        pipe = client.pipeline(transaction=False)
        for i in range(batch):
            pipe.set(b"w:%d" % ((sent + i) % 100000), b"x" * 32)
        pipe.execute()
        sent += batch
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)


def lag_ms(kind: str, rate: int, seconds: float) -> tuple[float, float]:
    primary = start(kind)
    replica = start(kind, "--replicaof", "127.0.0.1", str(primary.port))
    try:
        p, r = primary.client(), replica.client()
        wait_synced(r, 0)
        writer = multiprocessing.Process(target=_writer, args=(primary.port, rate, seconds))
        writer.start()
        samples: list[float] = []
        n = 0
        while writer.is_alive():
            n += 1
            marker = b"%d" % n
            sent = time.perf_counter()
            p.set(b"probe", marker)
            while r.get(b"probe") != marker:
                pass
            samples.append((time.perf_counter() - sent) * 1000)
            time.sleep(0.02)
        writer.join()
        samples.sort()
        return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]
    finally:
        replica.stop()
        primary.stop()


def set_throughput(port: int, requests: int) -> float:
    out = subprocess.run(
        ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-t", "set", "-n", str(requests),
         "-c", "50", "-P", "16", "-r", "100000", "--csv", "-q"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    line = [row for row in out.splitlines() if row.startswith('"SET"')][0]
    return float(line.split(",")[1].strip('"'))


def throughput(kind: str, requests: int) -> tuple[float, float]:
    primary = start(kind, cpu=0)
    try:
        set_throughput(primary.port, requests)  # warm-up: every key exists from here on
        alone = max(set_throughput(primary.port, requests) for _ in range(2))
        replicas = [start(kind, "--replicaof", "127.0.0.1", str(primary.port), cpu=1, nice=True) for _ in range(2)]
        try:
            for replica in replicas:
                wait_synced(replica.client(), 0)
            attached = max(set_throughput(primary.port, requests) for _ in range(2))
        finally:
            for replica in replicas:
                replica.stop()
        return alone, attached
    finally:
        primary.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=300_000)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        print("redis-server is not installed (scripts/ensure-redis)", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="bench-repl-data-")
    dataset = os.path.join(tmp, "dump.rdb")
    print(f"building {args.keys} mixed keys ...", flush=True)
    build_dataset(dataset, args.keys)
    results: dict[str, dict[str, float]] = {}
    for kind in ("redis", "magpie"):
        print(f"{kind}: full sync ...", flush=True)
        sync = full_sync_seconds(kind, dataset, args.keys)
        print(f"{kind}: lag at {args.rate} writes/s ...", flush=True)
        median, p99 = lag_ms(kind, args.rate, args.seconds)
        print(f"{kind}: SET throughput alone / with 2 replicas ...", flush=True)
        alone, attached = throughput(kind, args.requests)
        results[kind] = {"sync": sync, "lag": median, "lag99": p99, "alone": alone, "attached": attached}
    shutil.rmtree(tmp, ignore_errors=True)
    red, mag = results["redis"], results["magpie"]
    sync_ratio = mag["sync"] / red["sync"]
    kept = mag["attached"] / mag["alone"]
    print()
    print("| measure | redis-server | Magpie | ratio | goal | met |")
    print("|---|---|---|---|---|---|")
    print(f"| full sync of {args.keys} keys (s) | {red['sync']:.2f} | {mag['sync']:.2f} | {sync_ratio:.2f}x Redis's time | <= {SYNC_GOAL}x | {'yes' if sync_ratio <= SYNC_GOAL else 'NO'} |")
    print(f"| replica lag at {args.rate}/s, median (ms) | {red['lag']:.2f} | {mag['lag']:.2f} | | < {LAG_GOAL_MS:.0f} ms | {'yes' if mag['lag'] < LAG_GOAL_MS else 'NO'} |")
    print(f"| replica lag, p99 (ms) | {red['lag99']:.2f} | {mag['lag99']:.2f} | | | |")
    print(f"| SET -P16 rps, no replica | {red['alone']:.0f} | {mag['alone']:.0f} | {mag['alone'] / red['alone']:.2f}x Redis | | |")
    print(f"| SET -P16 rps, 2 replicas | {red['attached']:.0f} | {mag['attached']:.0f} | {mag['attached'] / red['attached']:.2f}x Redis | | |")
    print(f"| kept with 2 replicas | {red['attached'] / red['alone']:.2f}x | {kept:.2f}x | | >= {THROUGHPUT_GOAL}x | {'yes' if kept >= THROUGHPUT_GOAL else 'NO'} |")
    print()
    print("command: .venv/bin/python benchmarks/replication.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
