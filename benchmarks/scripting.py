#!/usr/bin/env python3
"""Scripting throughput of Magpie against a real redis-server, in one invocation.

What it measures, on both servers started side by side (persistence off, ``kv.py``'s servers,
CPU pinning and idle wait):

1. **EVALSHA**: ``SCRIPT LOAD "return redis.call('INCR', KEYS[1])"`` on each server, then
   ``redis-benchmark -c 50 EVALSHA <sha> 1 bench:counter``, unpipelined and with ``-P 16``.
   The servers alternate per test and the order flips every round; the median requests/sec
   over ``--rounds`` is kept. After each run the counter must have grown by exactly the number
   of requests, so a server that answers without running the script does not count.
2. **Lock**: redis-py's ``Lock`` (SET NX PX to acquire, a Lua script to release), one client
   looping ``acquire(blocking=False)`` + ``release()`` for ``--lock-pairs`` pairs; pairs/sec.

It prints a table of Magpie/Redis ratios. A server that cannot run a test (no EVAL yet, a
wrong reply, redis-benchmark failing) gets ``FAILED`` in its column and the reason under the
table; the other measurements still run. Exit status: 0 when every test ran on both servers,
1 when some failed (the table is printed either way), 2 when a tool is missing.

    python benchmarks/scripting.py                # 3 rounds
    python benchmarks/scripting.py --quick        # smoke run, a few seconds
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kv  # noqa: E402  (servers, pinning, CPU accounting and tables)

SCRIPT = "return redis.call('INCR', KEYS[1])"
COUNTER = "bench:counter"
SERVERS = ("redis", "magpie")
PIPELINES = (1, 16)


class ServerFailed(Exception):
    """One server could not run one test; the message says what it did instead."""


@dataclass
class Results:
    """Samples per (server, test label), failures per (server, test label), commands run."""

    samples: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    foreign_busy: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, server: str, test: str, value: float) -> None:
        self.samples.setdefault((server, test), []).append(value)

    def fail(self, server: str, test: str, why: str) -> None:
        self.failures.setdefault((server, test), why)

    def median(self, server: str, test: str) -> float | None:
        values = self.samples.get((server, test))
        return statistics.median(values) if values else None


# --------------------------------------------------------------------------- raw RESP


def call(port: int, *args: str) -> bytes:
    """One command on a fresh connection: its reply line, plus the payload of a bulk reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(kv.resp_command(*(a.encode() for a in args)))
        data = b""
        while True:
            head, sep, rest = data.partition(b"\r\n")
            if sep and not (head.startswith(b"$") and head != b"$-1" and len(rest) < int(head[1:]) + 2):
                return data
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def bulk_text(reply: bytes) -> str:
    """The payload of a bulk reply, or raise ServerFailed with the reply."""
    if reply.startswith(b"$") and not reply.startswith(b"$-1"):
        return reply.split(b"\r\n")[1].decode()
    raise ServerFailed(f"expected a bulk string, got {reply[:200]!r}")


def counter_value(port: int) -> int:
    reply = call(port, "GET", COUNTER)
    if reply.startswith(b"$-1"):
        return 0
    return int(bulk_text(reply))


def load_script(port: int) -> str:
    reply = call(port, "SCRIPT", "LOAD", SCRIPT)
    sha = bulk_text(reply)
    if len(sha) != 40:
        raise ServerFailed(f"SCRIPT LOAD answered {reply[:200]!r}")
    return sha


# --------------------------------------------------------------------------- EVALSHA


def evalsha_argv(pinning: kv.Pinning, port: int, sha: str, requests: int, pipeline: int,
                 clients: int) -> list[str]:  # fmt: skip
    argv = [*pinning.client_prefix, "redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-q",
            "--csv", "-c", str(clients), "-n", str(requests)]  # fmt: skip
    if pipeline > 1:
        argv += ["-P", str(pipeline)]
    return argv + ["EVALSHA", sha, "1", COUNTER]


def run_evalsha(server: kv.Server, argv: list[str], requests: int, timeout: float) -> float:
    """One redis-benchmark run; requests/sec, checked against the counter it must have grown."""
    before = counter_value(server.port)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ServerFailed(f"redis-benchmark did not finish in {timeout:.0f} s") from None
    rows = [line for line in done.stdout.splitlines() if line.startswith('"EVALSHA')]
    if done.returncode != 0 or len(rows) != 1:
        output = (done.stdout + done.stderr).strip().splitlines()
        raise ServerFailed(f"redis-benchmark exited {done.returncode}: " + " | ".join(output[-3:]))
    rps = float(rows[0].split(",")[1].strip('"'))
    grown = counter_value(server.port) - before
    if grown != requests:
        raise ServerFailed(f"{requests} EVALSHA INCR calls grew the counter by {grown}")
    return rps


# --------------------------------------------------------------------------- Lock


def lock_pairs_per_second(port: int, pairs: int) -> float:
    """redis-py Lock acquire+release pairs per second from one client."""
    try:
        import redis
    except ImportError:
        raise ServerFailed("redis-py is not installed (run from the repository's .venv)") from None
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    try:
        lock = client.lock("bench:lock", timeout=10)
        started = time.perf_counter()
        for _ in range(pairs):
            if not lock.acquire(blocking=False):
                raise ServerFailed("acquire(blocking=False) of a free lock returned False")
            lock.release()
        elapsed = time.perf_counter() - started
        if client.exists("bench:lock"):
            raise ServerFailed("the lock key is still there after release()")
        return pairs / elapsed
    except redis.RedisError as exc:
        raise ServerFailed(f"{type(exc).__name__}: {exc}") from None
    finally:
        client.close()


# --------------------------------------------------------------------------- run


def label(pipeline: int) -> str:
    return f"EVALSHA INCR -P {pipeline}" if pipeline > 1 else "EVALSHA INCR"


LOCK = "Lock acquire+release"


def measure(args: argparse.Namespace, pinning: kv.Pinning) -> Results:
    results = Results()
    with kv.running_servers(pinning) as servers:
        for name in SERVERS:
            results.commands.append(f"{name}: {shlex.join(servers[name].argv)}")
        shas: dict[str, str] = {}
        for name in SERVERS:
            try:
                shas[name] = load_script(servers[name].port)
            except (ServerFailed, OSError) as exc:
                for pipeline in PIPELINES:
                    results.fail(name, label(pipeline), f"SCRIPT LOAD: {exc}")
        meter = kv.CpuMeter([s.proc.pid for s in servers.values() if s.proc is not None])
        for round_no in range(args.rounds):
            order = list(SERVERS) if round_no % 2 == 0 else list(reversed(SERVERS))
            for pipeline in PIPELINES:
                requests = args.n if pipeline == 1 else args.n_pipelined
                line = []
                for name in order:
                    test = label(pipeline)
                    if name not in shas or (name, test) in results.failures:
                        line.append(f"{name} FAILED")
                        continue
                    argv = evalsha_argv(pinning, servers[name].port, shas[name], requests,
                                        pipeline, args.clients)  # fmt: skip
                    if round_no == 0:
                        results.commands.append(shlex.join(argv))
                    meter.begin()
                    try:
                        rps = run_evalsha(servers[name], argv, requests, args.timeout)
                    except (ServerFailed, OSError, ValueError) as exc:
                        results.fail(name, test, str(exc))
                        line.append(f"{name} FAILED")
                        continue
                    results.foreign_busy.append(meter.end()[0])
                    results.add(name, test, rps)
                    line.append(f"{name} {rps:>11,.0f}")
                print(f"  round {round_no + 1}/{args.rounds} {label(pipeline):<20} " + "  ".join(line),
                      file=sys.stderr, flush=True)  # fmt: skip
            line = []
            for name in order:
                if (name, LOCK) in results.failures:
                    line.append(f"{name} FAILED")
                    continue
                try:
                    pairs = lock_pairs_per_second(servers[name].port, args.lock_pairs)
                except (ServerFailed, OSError) as exc:
                    results.fail(name, LOCK, str(exc))
                    line.append(f"{name} FAILED")
                    continue
                results.add(name, LOCK, pairs)
                line.append(f"{name} {pairs:>11,.0f}")
            print(f"  round {round_no + 1}/{args.rounds} {LOCK:<20} " + "  ".join(line),
                  file=sys.stderr, flush=True)  # fmt: skip
        for server in servers.values():
            results.problems += server.log_problems()
    return results


HEADER = ["test", "redis /s", "magpie /s", "ratio magpie/redis", "per-round ratios"]


def rows(results: Results) -> list[list[str]]:
    out = []
    for test in [*(label(p) for p in PIPELINES), LOCK]:
        cells = [test]
        medians = {}
        for name in SERVERS:
            medians[name] = results.median(name, test)
            cells.append("FAILED" if (name, test) in results.failures or medians[name] is None
                         else f"{medians[name]:,.0f}")  # fmt: skip
        if medians["redis"] and medians["magpie"] and not any((n, test) in results.failures for n in SERVERS):
            pairs = zip(results.samples[("magpie", test)], results.samples[("redis", test)], strict=True)
            per_round = [m / r for m, r in pairs if r]
            cells += [f"{medians['magpie'] / medians['redis']:.2f}x",
                      f"{min(per_round):.2f}-{max(per_round):.2f}"]  # fmt: skip
        else:
            cells += ["-", "-"]
        out.append(cells)
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, small sizes")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3)")
    parser.add_argument("-n", type=int, help="EVALSHA requests unpipelined (default 100000)")
    parser.add_argument("--n-pipelined", type=int, help="EVALSHA requests at -P 16 (default 5 x -n)")
    parser.add_argument("-c", "--clients", type=int, default=50, help="parallel connections (50)")
    parser.add_argument("--lock-pairs", type=int, help="Lock acquire+release pairs (default 5000)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs with taskset")
    parser.add_argument("--wait-idle", type=float, metavar="SECONDS",
                        help="wait up to SECONDS for a quiet machine (default 60, 0 with --quick)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600, help="seconds per redis-benchmark run")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.n = args.n or (2_000 if args.quick else 100_000)
    args.n_pipelined = args.n_pipelined or 5 * args.n
    args.lock_pairs = args.lock_pairs or (300 if args.quick else 5_000)
    if args.wait_idle is None:
        args.wait_idle = 0 if args.quick else 60
    if min(args.rounds, args.n, args.n_pipelined, args.clients, args.lock_pairs) < 1:
        parser.error("sizes and counts must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    missing = [tool for tool in ("redis-server", "redis-benchmark") if not shutil.which(tool)]
    if missing:
        print(f"{', '.join(missing)} not installed (try scripts/ensure-redis)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    pinning = kv.plan_pinning(not args.no_pin)
    print(f"CPU pinning: {pinning.description}", file=sys.stderr)
    try:
        if args.wait_idle > 0:
            kv.wait_for_quiet(args.wait_idle)
        results = measure(args, pinning)
    except kv.BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    command_line = shlex.join(["python", "benchmarks/scripting.py", *argv])
    print(f"\ncommand: {command_line}\nCPU pinning: {pinning.description}")
    print(f"median of {args.rounds} round(s); EVALSHA: -c {args.clients}, -n {args.n} unpipelined, "
          f"-n {args.n_pipelined} at -P 16; Lock: {args.lock_pairs} pairs from one client\n")  # fmt: skip
    print(kv.text_table(HEADER, rows(results)))
    if results.foreign_busy:
        busy = statistics.mean(results.foreign_busy)
        print(f"\nother processes used {busy:.0f}% of all CPUs on average during the EVALSHA runs"
              + ("; ratios are unreliable" if busy > 10 else ""))
    if results.failures:
        print("\nFAILED:")
        for (name, test), why in sorted(results.failures.items()):
            print(f"  {name:<6} {test}: {why}")
    if results.problems:
        print("\nproblems logged by the servers:")
        print("\n".join(f"  {line}" for line in results.problems))
    print("\ncommands:")
    for line in results.commands:
        print(f"  {line}")
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
