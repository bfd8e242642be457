#!/usr/bin/env python3
"""The order-statistic AVL tree against ``sortedcontainers.SortedList``, in one invocation.

Why: sorted sets rest on ``magpie.structures.avl.AvlTree``; the project's target is inserts
within 1.3x of SortedList's time and ranks faster than SortedList. This script measures both
structures on the same keys in the same process and prints the ratios.

Keys are what a sorted set stores: ``(score, member)`` tuples, a random float and a distinct
bytes member. Operations, each on identical inputs for every structure:

* ``insert``: N keys in random order into an empty structure;
* ``rank``: the position of 100k random present keys (SortedList: ``bisect_left``; its first
  call after changes also rebuilds SortedList's positional index, as it would in a server);
* ``select``: the key at 100k random positions;
* ``count_range``: how many keys lie between two random bounds, 100k times;
* ``range``: 10k key ranges of about 100 keys each, materialised as lists;
* ``iterate``: one full ascending pass;
* ``insert+rank``: 20k rounds of one insert followed by one rank (ZADD then ZRANK), which
  makes SortedList rebuild its index every round;
* ``delete``: 100k present keys.

Implementations: the ``magpie.structures.avl`` module as imported (mypyc-compiled when it was
built), and when that is compiled, also the pure-Python source loaded from ``avl.py`` beside
it, so one run shows pure Python, compiled, and SortedList side by side. ``--impl`` picks.
Garbage collection stays enabled, as in a server (``--no-gc`` shows what it costs). Times are
CPU seconds of this process (``time.process_time``), the best of ``--repeat`` runs: on a shared
VM, CPU time is far steadier than wall time, and nothing here waits on I/O.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from magpie.structures import avl as imported_avl  # noqa: E402

try:
    from sortedcontainers import SortedList
except ImportError:  # pragma: no cover - a benchmark-only dependency
    sys.exit("benchmarks/avl.py needs sortedcontainers: pip install sortedcontainers")


def load_pure_avl() -> Any:
    """The pure-Python tree from avl.py, even when a compiled module shadows it on import."""
    path = Path(imported_avl.__file__).with_name("avl.py")
    spec = importlib.util.spec_from_file_location("magpie_avl_pure", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_keys(n: int, seed: int) -> list[tuple[float, bytes]]:
    rng = random.Random(seed)
    return [(rng.random(), b"member:%d" % i) for i in range(n)]


class Adapter:
    """The operations under test, spelled for one structure."""

    def __init__(self, name: str, new: Callable[[], Any], is_tree: bool) -> None:
        self.name = name
        self.new = new
        self.is_tree = is_tree


def run_suite(adapter: Adapter, keys: list[Any], args: argparse.Namespace) -> dict[str, float]:
    rng = random.Random(args.seed + 1)
    n = len(keys)
    present = rng.sample(keys, args.ops)
    positions = [rng.randrange(n) for _ in range(args.ops)]
    bounds = [tuple(sorted(rng.sample(keys, 2))) for _ in range(args.ops)]
    range_starts = [rng.randrange(n - 100) for _ in range(args.ranges)]
    doomed = rng.sample(keys, args.ops)
    extra = make_keys(args.mixed, args.seed + 2)
    extra = [(score, b"extra:" + member) for score, member in extra]
    mixed_probe = [rng.choice(keys) for _ in range(args.mixed)]
    times: dict[str, float] = {}

    def timed(label: str, fn: Callable[[], object]) -> None:
        gc.collect()
        start = time.process_time()
        fn()
        times[label] = time.process_time() - start

    structure = adapter.new()
    if adapter.is_tree:
        add, rank, rank_after = structure.insert, structure.rank, structure.rank_after
        select, delete, count = structure.select, structure.delete, structure.count_range

        def key_range(lo: Any, hi: Any) -> list[Any]:
            return list(structure.iter_range(lo, hi))
    else:
        add, rank, rank_after = structure.add, structure.bisect_left, structure.bisect_right
        select, delete = structure.__getitem__, structure.remove

        def count(lo: Any, hi: Any) -> int:
            return rank_after(hi) - rank(lo)

        def key_range(lo: Any, hi: Any) -> list[Any]:
            return list(structure.irange(lo, hi))

    def do_insert() -> None:
        for key in keys:
            add(key)

    def do_rank() -> None:
        for key in present:
            rank(key)

    def do_select() -> None:
        for index in positions:
            select(index)

    def do_count() -> None:
        for lo, hi in bounds:
            count(lo, hi)

    ordered = sorted(keys)
    range_bounds = [(ordered[i], ordered[i + 99]) for i in range_starts]

    def do_range() -> None:
        for lo, hi in range_bounds:
            key_range(lo, hi)

    def do_iterate() -> None:
        for _ in structure:
            pass

    def do_mixed() -> None:
        for new_key, probe in zip(extra, mixed_probe, strict=True):
            add(new_key)
            rank(probe)

    def do_delete() -> None:
        for key in doomed:
            delete(key)

    timed("insert", do_insert)
    timed("rank", do_rank)
    timed("select", do_select)
    timed("count_range", do_count)
    timed("range", do_range)
    timed("iterate", do_iterate)
    timed("insert+rank", do_mixed)
    timed("delete", do_delete)
    if len(structure) != n + args.mixed - args.ops:
        raise SystemExit(f"{adapter.name}: wrong final size {len(structure)}")
    if adapter.is_tree and args.check:
        structure.check_invariants()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="keys inserted (default 1M)")
    parser.add_argument("--ops", type=int, default=100_000, help="ranks, selects, counts, deletes")
    parser.add_argument("--ranges", type=int, default=10_000, help="100-key ranges read")
    parser.add_argument("--mixed", type=int, default=20_000, help="insert+rank rounds")
    parser.add_argument("--repeat", type=int, default=1, help="keep the best of this many runs")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--impl",
        choices=["all", "imported", "pure"],
        default="all",
        help="trees to run: the imported module, the pure source, or both when compiled",
    )
    parser.add_argument("--check", action="store_true", help="check tree invariants at the end")
    parser.add_argument("--no-gc", action="store_true", help="disable the cyclic garbage collector")
    args = parser.parse_args()
    if args.no_gc:
        gc.disable()

    compiled = not imported_avl.__file__.endswith(".py")
    adapters: list[Adapter] = []
    if compiled and args.impl in ("all", "pure"):
        adapters.append(Adapter("AvlTree (pure)", load_pure_avl().AvlTree, True))
    if compiled and args.impl in ("all", "imported"):
        adapters.append(Adapter("AvlTree (mypyc)", imported_avl.AvlTree, True))
    if not compiled:
        adapters.append(Adapter("AvlTree (pure)", imported_avl.AvlTree, True))
    adapters.append(Adapter("SortedList", SortedList, False))

    keys = make_keys(args.n, args.seed)
    results: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):
        for adapter in adapters:  # interleaved, so machine noise hits every structure alike
            times = run_suite(adapter, keys, args)
            best = results.setdefault(adapter.name, times)
            for label, seconds in times.items():
                best[label] = min(best[label], seconds)

    reference = results["SortedList"]
    trees = [a.name for a in adapters if a.is_tree]
    counts = {
        "insert": args.n,
        "rank": args.ops,
        "select": args.ops,
        "count_range": args.ops,
        "range": args.ranges,
        "iterate": args.n,
        "insert+rank": args.mixed,
        "delete": args.ops,
    }
    targets = {"insert": "<= 1.3x", "rank": "< 1.0x"}
    print(
        f"AvlTree vs SortedList: {args.n:,} (score, member) keys, best of {args.repeat}; "
        f"Python {platform.python_version()}, {platform.machine()}, imported module "
        f"{'compiled by mypyc' if compiled else 'pure Python'}; gc "
        f"{'disabled' if args.no_gc else 'enabled'}; CPU seconds"
    )
    header = f"{'operation':<12} {'count':>9} {'SortedList':>11}"
    for name in trees:
        header += f" {name:>17} {'ratio':>6}"
    header += f" {'target':>8}"
    print(header)
    print("-" * len(header))
    for label, count in counts.items():
        line = f"{label:<12} {count:>9,} {reference[label]:>10.3f}s"
        for name in trees:
            seconds = results[name][label]
            line += f" {seconds:>16.3f}s {seconds / reference[label]:>5.2f}x"
        line += f" {targets.get(label, ''):>8}"
        print(line)
    print("ratio = tree time / SortedList time (lower is better)")


if __name__ == "__main__":
    main()
