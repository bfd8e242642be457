#!/usr/bin/env python3
"""What ACL checks cost the hot path: GET/SET ``-P 16`` as a restricted user vs the default user.

Starts two Magpie servers and two redis-servers, identical but for one thing: the "acl"
ones define a user ``bench`` (``on >benchpass ~key:* +@all -@dangerous +config|get``: key patterns and a
command set, so every command is checked) and redis-benchmark logs in as it with
``--user bench -a benchpass``. The plain ones run as the default user, which the check skips.
Each test runs against the four servers back to back, order flipping every round; the
medians give Magpie's ratio with/without ACL (target: at least 0.95x) and Redis's for
reference. Keys are random over 100k (``-r 100000``), so every request matches a pattern
afresh. CPU pinning, idle waiting and the redis-benchmark plumbing are ``kv.py``'s.

    python benchmarks/acl.py [--rounds 5] [-n 500000] [--markdown docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import signal
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kv  # noqa: E402  (the shared server and redis-benchmark helpers)

ACL_RULES = "bench on >benchpass ~key:* +@all -@dangerous +config|get"
TARGET = 0.95
SERVERS = ("magpie", "magpie-acl", "redis", "redis-acl")
MARK_START, MARK_END = "<!-- acl-bench:start -->", "<!-- acl-bench:end -->"


def make_servers(pinning: kv.Pinning) -> dict[str, tuple[kv.Server, dict[str, str]]]:
    servers = {}
    for name in SERVERS:
        server, env = kv.make_server(name.split("-")[0], pinning)
        server.name = name
        if name.endswith("-acl"):  # both read ``--user name rules...`` as one config line
            server.argv += ["--user", *ACL_RULES.split()]
        servers[name] = (server, env)
    return servers


def benchmark(server: kv.Server, pinning: kv.Pinning, test: str, args: argparse.Namespace) -> float:
    argv = kv.benchmark_argv(pinning, server.port, test, args.n, 16, args.clients)
    argv += ["-r", "100000"]
    if server.name.endswith("-acl"):
        argv += ["--user", "bench", "-a", "benchpass"]
    return kv.run_benchmark(server, argv, test, args.timeout)


def run(args: argparse.Namespace) -> tuple[dict[tuple[str, str], list[float]], list[str]]:
    pinning = kv.plan_pinning(not args.no_pin)
    built = make_servers(pinning)
    samples: dict[tuple[str, str], list[float]] = {}
    commands = [f"CPU pinning: {pinning.description}"]
    try:
        for server, env in built.values():
            kv.start_server(server, env)
            commands.append(f"{server.name}: {shlex.join(server.argv)}")
        for round_no in range(args.rounds):
            order = list(SERVERS) if round_no % 2 == 0 else list(reversed(SERVERS))
            for test in ("set", "get"):
                line = []
                for name in order:
                    rps = benchmark(built[name][0], pinning, test, args)
                    samples.setdefault((name, test), []).append(rps)
                    line.append(f"{name} {rps:>10,.0f}")
                print(f"  round {round_no + 1}/{args.rounds} {test.upper():<4} " + "  ".join(line),
                      file=sys.stderr, flush=True)  # fmt: skip
    finally:
        for server, _ in built.values():
            kv.stop_server(server)
    return samples, commands


def rows(samples: dict[tuple[str, str], list[float]]) -> list[list[str]]:
    out = []
    for test in ("set", "get"):
        med = {name: statistics.median(samples[(name, test)]) for name in SERVERS}
        ratio = med["magpie-acl"] / med["magpie"]
        out.append([
            f"{test.upper()} -P 16",
            f"{med['magpie']:,.0f}", f"{med['magpie-acl']:,.0f}", f"{ratio:.3f}x",
            f"{med['redis']:,.0f}", f"{med['redis-acl']:,.0f}", f"{med['redis-acl'] / med['redis']:.3f}x",
            f"{TARGET}x", "met" if ratio >= TARGET else "NOT met",
        ])  # fmt: skip
    return out


HEADER = ["test", "magpie rps", "magpie+ACL rps", "magpie ratio", "redis rps", "redis+ACL rps",
          "redis ratio", "target", "status"]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (5)")
    parser.add_argument("-n", type=int, default=500_000, help="requests per run (500000)")
    parser.add_argument("-c", "--clients", type=int, default=50, help="connections (50)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs with taskset")
    parser.add_argument("--wait-idle", type=float, default=60, help="wait for a quiet machine (60 s)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per redis-benchmark run")
    parser.add_argument("--markdown", type=Path, help="rewrite the ACL section of this file")
    args = parser.parse_args(argv)
    if not shutil.which("redis-benchmark"):
        print("redis-benchmark is not installed (try scripts/ensure-redis)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    command_line = shlex.join(["python", "benchmarks/acl.py", *(argv if argv is not None else sys.argv[1:])])
    if args.wait_idle > 0:
        kv.wait_for_quiet(args.wait_idle)
    try:
        samples, commands = run(args)
    except kv.BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    table = rows(samples)
    print(f"\ncommand: {command_line}\nmedian of {args.rounds} alternating rounds, -c {args.clients} -n {args.n} -P 16 -r 100000\n")
    print(kv.text_table(HEADER, table))
    print("\n" + "\n".join(commands))
    if args.markdown is not None:
        section = "\n".join([
            MARK_START,
            "## Latest results: ACL checks on the hot path (`benchmarks/acl.py`)",
            "",
            f"Command: `{command_line}`; median of {args.rounds} alternating rounds, "
            f"`-c {args.clients} -n {args.n} -P 16 -r 100000`; the ACL user is `{ACL_RULES}`.",
            "",
            kv.markdown_table(HEADER, table),
            MARK_END,
        ])  # fmt: skip
        kv.MARK_START, kv.MARK_END = MARK_START, MARK_END
        kv.write_markdown(args.markdown, section)
        print(f"\nwrote results to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
