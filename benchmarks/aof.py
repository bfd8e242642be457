#!/usr/bin/env python3
"""What the AOF costs: SET throughput with ``appendonly yes`` against the same server without.

What it does:

1. Starts four servers, each in its own temporary directory with save points off: Magpie
   without AOF, Magpie with ``appendonly yes`` (``appendfsync everysec`` unless ``--fsync``
   says otherwise), and the same two configurations of redis-server for reference.
2. Runs ``redis-benchmark -q --csv -t set -c 50`` unpipelined and with ``-P 16`` against the
   servers, each server with AOF right after (or, every other round, right before) the same
   server without, and keeps the per-round ratios and the median requests/sec.
3. Prints the median ratio AOF/no-AOF for Magpie (the target: at least 0.8x with everysec,
   both unpipelined and at -P 16) and for Redis (what the same log costs in C), and the
   commands, and the server CPU time per request of both Magpie servers (from /proc; less
   moved by other work on a shared VM than requests/sec). The AOF servers run with their defaults otherwise, so automatic rewrites
   (64 MB, 100% growth) happen during long runs, for both servers alike.

It reuses ``benchmarks/kv.py`` for CPU pinning, starting servers, running redis-benchmark and
measuring background load; ``python3 benchmarks/aof.py --quick`` is a smoke run.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kv  # noqa: E402

TARGET = 0.8
CONFIGS = ("magpie", "magpie-aof", "redis", "redis-aof")


def make(name: str, fsync: str, pinning: kv.Pinning) -> tuple[kv.Server, dict[str, str]]:
    """A kv.py server, with the AOF turned on for the ``-aof`` configurations."""
    server, env = kv.make_server(name.split("-")[0], pinning)
    if name.endswith("-aof"):
        i = server.argv.index("--appendonly")
        server.argv[i + 1] = "yes"
        server.argv += ["--appendfsync", fsync]
    server.name = name
    return server, env


Samples = dict[tuple[str, int], list[float]]


def measure(args: argparse.Namespace, pinning: kv.Pinning) -> tuple[Samples, Samples, list[str], list[float]]:
    kv.select_suite("kv")
    kv.TESTS = {"set": "SET"}
    samples: Samples = {}
    cpu: Samples = {}  # server CPU microseconds per request
    commands: list[str] = []
    foreign: list[float] = []
    servers: dict[str, kv.Server] = {}
    try:
        for name in CONFIGS:
            server, env = make(name, args.fsync, pinning)
            servers[name] = server
            kv.start_server(server, env)
            commands.append(f"{name}: {shlex.join(server.argv)}")
        meter = kv.CpuMeter([s.proc.pid for s in servers.values() if s.proc is not None])
        for round_no in range(args.rounds):
            # each pair back to back (the ratios compare within a pair), first one flipping
            pairs = [("magpie", "magpie-aof"), ("redis", "redis-aof")]
            order = [name for pair in pairs for name in (pair if round_no % 2 == 0 else pair[::-1])]
            for pipeline in kv.PIPELINES:
                requests = args.n if pipeline == 1 else args.n_pipelined
                line = []
                for name in order:
                    server = servers[name]
                    argv = kv.benchmark_argv(pinning, server.port, "set", requests, pipeline, args.clients)
                    if round_no == 0 and name in ("magpie", "magpie-aof"):
                        commands.append(shlex.join(argv))
                    meter.begin()
                    ticks = kv.process_ticks(server.proc.pid)  # type: ignore[union-attr]
                    rps = kv.run_benchmark(server, argv, "set", args.timeout)
                    used = kv.process_ticks(server.proc.pid) - ticks  # type: ignore[union-attr]
                    foreign.append(meter.end()[0])
                    samples.setdefault((name, pipeline), []).append(rps)
                    cpu.setdefault((name, pipeline), []).append(used / kv.CLOCK_TICKS * 1e6 / requests)
                    line.append(f"{name} {rps:,.0f}")
                print(f"  round {round_no + 1}/{args.rounds} P={pipeline:<2} " + "  ".join(line),
                      file=sys.stderr, flush=True)  # fmt: skip
        for server in servers.values():
            for problem in server.log_problems():
                print(problem, file=sys.stderr)
    finally:
        for server in servers.values():
            kv.stop_server(server)
    return samples, cpu, commands, foreign


def paired(samples: dict[tuple[str, int], list[float]], name: str, pipeline: int) -> list[float]:
    """``<name>-aof`` / ``<name>`` per round (the two ran back to back)."""
    return [a / b for a, b in zip(samples[(f"{name}-aof", pipeline)], samples[(name, pipeline)], strict=True) if b]


def rows(samples: Samples, cpu: Samples) -> list[list[str]]:
    """The ratio is the median of the per-round ratios: on a shared VM a burst of other work
    then spoils one pair's ratio, not the medians of both columns."""
    out = []
    for pipeline in kv.PIPELINES:
        med = {name: statistics.median(samples[(name, pipeline)]) for name in CONFIGS}
        per_round = paired(samples, "magpie", pipeline)
        ratio = statistics.median(per_round)
        cpu_no, cpu_aof = (statistics.median(cpu[(name, pipeline)]) for name in ("magpie", "magpie-aof"))
        out.append([
            "SET", str(pipeline), f"{med['magpie']:,.0f}", f"{med['magpie-aof']:,.0f}", f"{ratio:.2f}x",
            f"{min(per_round):.2f}-{max(per_round):.2f}", f"{cpu_no:.2f} / {cpu_aof:.2f}",
            f"{cpu_no / cpu_aof:.2f}x" if cpu_aof else "-", f"{statistics.median(paired(samples, 'redis', pipeline)):.2f}x",
            f"{TARGET}x", "yes" if ratio >= TARGET else "NO",
        ])  # fmt: skip
    return out


HEADER = ["test", "pipeline", "magpie rps", "magpie+aof rps", "ratio aof/no-aof", "per-round",
          "server CPU us/req no-aof / aof", "CPU ratio", "redis ratio aof/no-aof", "target", "met"]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, small -n")
    parser.add_argument("--rounds", type=int, help="rounds (default 3)")
    parser.add_argument("-n", type=int, help="requests unpipelined (default 100000; -P 16 gets 5x)")
    parser.add_argument("-c", "--clients", type=int, default=50)
    parser.add_argument("--fsync", choices=("everysec", "always", "no"), default="everysec")
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs with taskset")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--wait-idle", type=float, metavar="SECONDS",
                        help="first wait up to SECONDS for other work to stop (default 120, 0 with --quick)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.n = args.n or (2_000 if args.quick else 100_000)
    args.n_pipelined = 5 * args.n
    if args.wait_idle is None:
        args.wait_idle = 0 if args.quick else 120
    pinning = kv.plan_pinning(not args.no_pin)
    if args.wait_idle > 0:
        busy = kv.wait_for_quiet(args.wait_idle)
        print(f"  other work on the machine before starting: {busy:.0f}% busy", file=sys.stderr)
    try:
        samples, cpu, commands, foreign = measure(args, pinning)
    except kv.BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    command_line = shlex.join(["python", "benchmarks/aof.py", *(sys.argv[1:] if argv is None else argv)])
    print(f"\ncommand: {command_line}\nCPU pinning: {pinning.description}\n")
    print(f"SET throughput, appendfsync {args.fsync}, median of {args.rounds} round(s) "
          f"(-c {args.clients}, -n {args.n} unpipelined, -n {args.n_pipelined} at -P 16):")  # fmt: skip
    print(kv.text_table(HEADER, rows(samples, cpu)))
    if foreign:
        print(f"\nbackground: other processes used {statistics.mean(foreign):.0f}% of all CPUs on average "
              f"(worst run {max(foreign):.0f}%)")  # fmt: skip
    print("\ncommands:")
    for line in commands:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
