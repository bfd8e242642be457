#!/usr/bin/env python3
"""Key-value throughput and memory of Magpie against a real redis-server, in one invocation.

What it does:

1. Starts a redis-server (``--save "" --appendonly no``) and a Magpie server (same flags), each
   on a free loopback port in its own temporary directory.
2. Runs ``redis-benchmark -q --csv -t <test> -c 50`` for set, get, incr and mset, unpipelined
   and with ``-P 16``, against the two servers alternately: one test against one server, then the
   same test against the other, with the order flipping every round so neither server always
   runs first. After ``--rounds`` rounds it keeps the median requests/sec per test and server.
   Alternating per test (rather than per whole suite) matters on a shared VM: a burst of someone
   else's load then lands on both servers' samples of a test, not on one server's entire run.
3. Prints a table of Magpie/Redis ratios next to the project's targets, and the exact commands.
4. On fresh servers, writes 1,000,000 distinct small string keys (``key:0000001`` ->
   ``v000000001``) with the same pipelined raw-socket writer for both, and compares VmRSS.

CPU pinning: the VM has 2 cores. When ``taskset`` exists and this process may use at least two
CPUs, every server runs on the last allowed CPU and redis-benchmark on the first, so client and
server never fight for one core and both servers get identical treatment. Otherwise (or with
``--no-pin``) nothing is pinned and the output says so. Pinning costs cross-CPU wake-ups on
every unpipelined round trip, for both servers alike; it buys a fair split at ``-P 16``, where
the server is CPU-bound and an unpinned redis-benchmark would take a share of its core.

Because other work on the machine moves these numbers more than anything else, the script
waits (``--wait-idle``) for the machine to be quiet before starting and reports how much CPU
other processes used during the runs.

Only the standard library is used, so ``python3 benchmarks/kv.py`` works from any interpreter
that can start Magpie (the repository's ``.venv`` is found automatically).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PIPELINES = (1, 16)
MEMORY_RSS_TARGET = 2.5
MARK_START = "<!-- kv-bench:start -->"
MARK_END = "<!-- kv-bench:end -->"


class BenchmarkError(RuntimeError):
    """A server or redis-benchmark misbehaved; the message says what was seen."""


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    """One server process started by this script, and where its output goes."""

    name: str
    argv: list[str]
    port: int
    workdir: str
    proc: subprocess.Popen | None = None
    log_path: str = ""

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server wrote, to explain a failure."""
        try:
            with open(self.log_path, errors="replace") as fh:
                return "".join(fh.readlines()[-lines:])
        except OSError:
            return ""

    def log_problems(self) -> list[str]:
        """Warnings, errors and tracebacks in a Magpie log (redis-server's are not parsed)."""
        if self.name != "magpie":
            return []
        try:
            with open(self.log_path, errors="replace") as fh:
                lines = fh.read().splitlines()
        except OSError:
            return []
        return [f"magpie log: {line}" for line in lines
                if re.search(r"^\d+:M \S+ \S+ [WEC] |Traceback", line)]  # fmt: skip


@dataclass
class Pinning:
    """Which CPUs the servers and redis-benchmark run on (empty prefixes when unpinned)."""

    server_prefix: list[str] = field(default_factory=list)
    client_prefix: list[str] = field(default_factory=list)
    description: str = "not pinned"


def plan_pinning(enabled: bool) -> Pinning:
    """Pin servers to the last allowed CPU and the client to the first, when that is possible."""
    if not enabled:
        return Pinning(description="not pinned (--no-pin)")
    taskset = shutil.which("taskset")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not taskset:
        return Pinning(description="not pinned (taskset not found)")
    if len(cpus) < 2:
        return Pinning(description=f"not pinned (only CPU(s) {cpus} available)")
    server_cpu, client_cpu = cpus[-1], cpus[0]
    return Pinning(
        server_prefix=["taskset", "-c", str(server_cpu)],
        client_prefix=["taskset", "-c", str(client_cpu)],
        description=f"servers on CPU {server_cpu}, redis-benchmark on CPU {client_cpu} (taskset)",
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def magpie_command() -> tuple[list[str], dict[str, str]]:
    """How to start Magpie: the venv's console script if we can find one, else ``-m magpie``."""
    for candidate in (
        Path(sys.executable).parent / "magpie-server",
        REPO / ".venv/bin/magpie-server",
    ):
        if candidate.exists():
            return [str(candidate)], {}
    env = {"PYTHONPATH": str(REPO / "src")}
    return [sys.executable, "-m", "magpie"], env


def make_server(name: str, pinning: Pinning) -> tuple[Server, dict[str, str]]:
    """Build (but do not start) a redis or magpie server with persistence off on a free port."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix=f"kvbench-{name}-")
    common = ["--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
              "--save", "", "--appendonly", "no"]  # fmt: skip
    env: dict[str, str] = {}
    if name == "redis":
        path = shutil.which("redis-server")
        if not path:
            raise BenchmarkError("redis-server is not installed (try scripts/ensure-redis)")
        argv = [path, *common, "--daemonize", "no"]
    else:
        base, env = magpie_command()
        argv = [*base, *common]
    return Server(name, pinning.server_prefix + argv, port, workdir), env


def start_server(server: Server, env: dict[str, str]) -> None:
    """Start the process and wait until it answers PING (30 s at most)."""
    server.log_path = os.path.join(server.workdir, "server.log")
    with open(server.log_path, "w") as log:
        server.proc = subprocess.Popen(
            server.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchmarkError(f"{server.name} exited early:\n{server.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise BenchmarkError(f"{server.name} did not answer PING within 30 s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    """Terminate the process (kill it after 10 s) and remove its directory."""
    proc = server.proc
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    shutil.rmtree(server.workdir, ignore_errors=True)


@contextmanager
def running_servers(pinning: Pinning) -> Iterator[dict[str, Server]]:
    """Both servers, started; always stopped again, whatever happens inside the block."""
    servers: dict[str, Server] = {}
    try:
        for name in ("redis", "magpie"):
            server, env = make_server(name, pinning)
            servers[name] = server
            start_server(server, env)
        yield servers
    finally:
        for server in servers.values():
            stop_server(server)


# --------------------------------------------------------------------------- CPU accounting


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_ticks() -> tuple[int, int, int]:
    """(busy, steal, total) jiffies over all CPUs, from the first line of /proc/stat.

    Interrupt and softirq time is left out of "busy": loopback traffic we cause ourselves is
    accounted there and cannot be told apart from anyone else's.
    """
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = fields
    return user + nice + system, steal, sum(fields)


def process_ticks(pid: int) -> int:
    """utime + stime of one process in jiffies (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def own_ticks(pids: list[int]) -> int:
    """CPU used by this script, its waited-for children (redis-benchmark) and the given servers."""
    times = os.times()
    ours = (times.user + times.system + times.children_user + times.children_system) * CLOCK_TICKS
    return round(ours) + sum(process_ticks(pid) for pid in pids)


@dataclass
class CpuMeter:
    """How busy the machine was with *other* work while we measured, in percent of all CPUs.

    Other engineers' test runs on a shared 2-core VM distort throughput far more than anything
    in the servers; this makes that visible instead of silently folding it into the ratios.
    """

    pids: list[int]
    start: tuple[int, int, int, int] = (0, 0, 0, 0)

    def begin(self) -> None:
        """Remember the counters now."""
        self.start = (*machine_ticks(), own_ticks(self.pids))

    def end(self) -> tuple[float, float]:
        """(foreign busy %, steal %) since ``begin``."""
        busy, steal, total = machine_ticks()
        ours = own_ticks(self.pids)
        elapsed = max(1, total - self.start[2])
        foreign = max(0, (busy - self.start[0]) - (ours - self.start[3]))
        return 100 * foreign / elapsed, 100 * (steal - self.start[1]) / elapsed


def wait_for_quiet(max_seconds: float, threshold: float = 15.0) -> float:
    """Wait (up to ``max_seconds``) for a second in which the machine is under ``threshold``% busy.

    Returns the busy percentage of the last one-second sample. Nothing of ours runs yet, so all
    of it is other work.
    """
    deadline = time.monotonic() + max_seconds
    while True:
        meter = CpuMeter([])
        meter.begin()
        time.sleep(1)
        busy, _ = meter.end()
        if busy < threshold or time.monotonic() >= deadline:
            return busy
        print(f"  machine is {busy:.0f}% busy with other work; waiting for it to quiet down",
              file=sys.stderr, flush=True)  # fmt: skip


# --------------------------------------------------------------------------- throughput

# redis-benchmark's -t name -> the test name it prints in --csv output, per suite:
# "kv" is the server foundation's set, "types" the data types' (lists, sets, hashes, zsets).
SUITES = {
    "kv": {"set": "SET", "get": "GET", "incr": "INCR", "mset": "MSET (10 keys)"},
    "types": {"lpush": "LPUSH", "lpop": "LPOP", "sadd": "SADD", "hset": "HSET", "zadd": "ZADD",
              "zpopmin": "ZPOPMIN"},
}  # fmt: skip
TESTS = SUITES["kv"]
SUITE = "kv"


def select_suite(name: str) -> None:
    """Point the module at one suite's tests, targets and markdown section markers."""
    global TESTS, SUITE, MARK_START, MARK_END
    TESTS, SUITE = SUITES[name], name
    if name != "kv":
        MARK_START, MARK_END = f"<!-- {name}-bench:start -->", f"<!-- {name}-bench:end -->"


def benchmark_argv(
    pinning: Pinning, port: int, test: str, requests: int, pipeline: int, clients: int
) -> list[str]:
    """The redis-benchmark command line for one server, one test and one pipeline depth."""
    argv = [*pinning.client_prefix, "redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
            "-q", "--csv", "-t", test, "-c", str(clients), "-n", str(requests)]  # fmt: skip
    if pipeline > 1:
        argv += ["-P", str(pipeline)]
    return argv


def parse_benchmark_csv(text: str) -> tuple[dict[str, float], list[str]]:
    """Requests/sec per test from ``--csv`` output, plus every line that was not CSV data."""
    rps: dict[str, float] = {}
    other: list[str] = []
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 2 and row[0] in TESTS.values():
            rps[row[0]] = float(row[1])
        elif row and row[0] != "test":
            other.append(",".join(row))
    return rps, other


def run_benchmark(server: Server, argv: list[str], test: str, timeout: float) -> float:
    """Run one redis-benchmark invocation; raise with everything it printed if it misbehaves."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
        raise BenchmarkError(
            f"redis-benchmark against {server.name} did not finish in {timeout:.0f} s\n"
            f"command: {shlex.join(argv)}\noutput so far:\n{out}\nserver log:\n{server.log_tail()}"
        ) from None
    rps, other = parse_benchmark_csv(done.stdout)
    if done.returncode != 0 or TESTS[test] not in rps or other or done.stderr.strip():
        raise BenchmarkError(
            f"redis-benchmark against {server.name} exited {done.returncode}\n"
            f"command: {shlex.join(argv)}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}\n"
            f"server log:\n{server.log_tail()}"
        )
    return rps[TESTS[test]]


@dataclass
class ThroughputResult:
    """Every sample per (server, pipeline, test), the commands, and the background load seen."""

    samples: dict[tuple[str, int, str], list[float]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    foreign_busy: list[float] = field(default_factory=list)
    steal: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def median(self, server: str, pipeline: int, test: str) -> float:
        """The median requests/sec over all rounds."""
        return statistics.median(self.samples[(server, pipeline, test)])

    def round_ratios(self, pipeline: int, test: str) -> list[float]:
        """Magpie/Redis per round; the two samples of a round ran back to back."""
        pairs = zip(self.samples[("magpie", pipeline, test)], self.samples[("redis", pipeline, test)],
                    strict=True)  # fmt: skip
        return [m / r for m, r in pairs if r]

    def shared_machine(self) -> bool:
        """Whether other work used more than 10% of the machine on average while we measured."""
        return bool(self.foreign_busy) and statistics.mean(self.foreign_busy) > 10

    def load_summary(self) -> str:
        """One sentence on how much other work shared the machine during the runs."""
        if not self.foreign_busy:
            return "background load not measured"
        return (f"other processes used {statistics.mean(self.foreign_busy):.0f}% of all CPUs on "
                f"average during the runs (worst run {max(self.foreign_busy):.0f}%), "
                f"steal {statistics.mean(self.steal):.1f}%")  # fmt: skip


def measure_throughput(args: argparse.Namespace, pinning: Pinning) -> ThroughputResult:
    """Run each test at each pipeline depth against both servers back to back, for N rounds.

    The unit of alternation is one test, so a burst of outside load hits both servers' samples
    of that test rather than one server's whole run; the server that goes first flips each round.
    """
    result = ThroughputResult()
    with running_servers(pinning) as servers:
        for name, server in servers.items():
            result.commands.append(f"{name}: {shlex.join(server.argv)}")
        meter = CpuMeter([s.proc.pid for s in servers.values() if s.proc is not None])
        for round_no in range(args.rounds):
            order = ["redis", "magpie"] if round_no % 2 == 0 else ["magpie", "redis"]
            for pipeline in PIPELINES:
                requests = args.n if pipeline == 1 else args.n_pipelined
                for test, label in TESTS.items():
                    line = []
                    for name in order:
                        server = servers[name]
                        argv = benchmark_argv(pinning, server.port, test, requests, pipeline,
                                              args.clients)  # fmt: skip
                        if round_no == 0:
                            result.commands.append(shlex.join(argv))
                        meter.begin()
                        rps = run_benchmark(server, argv, test, args.timeout)
                        foreign, steal = meter.end()
                        result.foreign_busy.append(foreign)
                        result.steal.append(steal)
                        result.samples.setdefault((name, pipeline, label), []).append(rps)
                        line.append(f"{name} {rps:>11,.0f} (other load {foreign:3.0f}%)")
                    print(f"  round {round_no + 1}/{args.rounds} P={pipeline:<2} {label:<14} "
                          + "  ".join(line), file=sys.stderr, flush=True)  # fmt: skip
        for server in servers.values():
            result.problems += server.log_problems()
    return result


def target_for(test: str, pipeline: int) -> float | None:
    """The project's ratio targets.

    kv: 0.9x for unpipelined GET/SET, 0.5x for everything at -P 16.
    types: 0.8x for every unpipelined test, 0.5x for ZADD at -P 16.
    """
    if SUITE == "types":
        if pipeline > 1:
            return 0.5 if test == "ZADD" else None
        return 0.8
    if pipeline > 1:
        return 0.5
    return 0.9 if test in ("GET", "SET") else None


def throughput_rows(result: ThroughputResult) -> list[list[str]]:
    """Table rows: test, pipeline, medians, ratio, per-round ratio range, target, whether met."""
    rows = []
    for pipeline in PIPELINES:
        for test in TESTS.values():
            redis_rps = result.median("redis", pipeline, test)
            magpie_rps = result.median("magpie", pipeline, test)
            ratio = magpie_rps / redis_rps if redis_rps else 0.0
            per_round = result.round_ratios(pipeline, test)
            spread = f"{min(per_round):.2f}-{max(per_round):.2f}" if per_round else "-"
            target = target_for(test, pipeline)
            met = "-" if target is None else ("yes" if ratio >= target else "NO")
            rows.append([test, str(pipeline), f"{redis_rps:,.0f}", f"{magpie_rps:,.0f}",
                         f"{ratio:.2f}x", spread, "-" if target is None else f"{target:.1f}x",
                         met])  # fmt: skip
    return rows


# --------------------------------------------------------------------------- memory


def read_rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB, from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchmarkError(f"no VmRSS for pid {pid}")


def resp_command(*parts: bytes) -> bytes:
    """One command encoded as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read ``size`` bytes or fail if the server closes the connection first."""
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(1 << 20, size - got))
        if not chunk:
            raise BenchmarkError("server closed the connection while loading keys")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def load_keys(port: int, count: int, batch: int = 10_000) -> None:
    """Write ``count`` distinct keys ``key:0000001`` = ``v000000001`` in pipelined SET batches.

    Every reply must be ``+OK``; a batch is sent whole and its replies read before the next one,
    so neither side's socket buffer can fill up while the other waits.
    """
    ok = b"+OK\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        for start in range(1, count + 1, batch):
            stop = min(start + batch, count + 1)
            payload = b"".join(
                resp_command(b"SET", b"key:%07d" % i, b"v%09d" % i) for i in range(start, stop)
            )
            sock.sendall(payload)
            replies = recv_exactly(sock, len(ok) * (stop - start))
            if replies != ok * (stop - start):
                raise BenchmarkError(f"unexpected reply while loading keys: {replies[:200]!r}")
        sock.sendall(resp_command(b"DBSIZE"))
        reply = sock.recv(64)
    if reply != b":%d\r\n" % count:
        raise BenchmarkError(f"DBSIZE after loading {count} keys answered {reply!r}")


@dataclass
class MemoryResult:
    """RSS before and after loading the keys, per server."""

    keys: int
    before_kib: dict[str, int] = field(default_factory=dict)
    after_kib: dict[str, int] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def measure_memory(keys: int, pinning: Pinning) -> MemoryResult:
    """Load the same keys into fresh servers and read each one's resident set size."""
    result = MemoryResult(keys)
    with running_servers(pinning) as servers:
        for name, server in servers.items():
            assert server.proc is not None
            result.before_kib[name] = read_rss_kib(server.proc.pid)
            started = time.perf_counter()
            load_keys(server.port, keys)
            result.load_seconds[name] = time.perf_counter() - started
            time.sleep(0.5)  # let the allocator settle before sampling
            result.after_kib[name] = read_rss_kib(server.proc.pid)
            print(f"  memory {name:<6} {keys:,} keys loaded in {result.load_seconds[name]:.1f} s, "
                  f"RSS {result.after_kib[name] / 1024:.1f} MiB", file=sys.stderr, flush=True)  # fmt: skip
            result.problems += server.log_problems()
    return result


def memory_rows(result: MemoryResult) -> list[list[str]]:
    """Table rows: server, RSS before, RSS after, per-key bytes, ratio to redis, target, met."""
    rows = []
    for name in ("redis", "magpie"):
        before, after = result.before_kib[name], result.after_kib[name]
        per_key = (after - before) * 1024 / result.keys
        ratio = after / result.after_kib["redis"]
        target, met = ("-", "-")
        if name == "magpie":
            target = f"<= {MEMORY_RSS_TARGET}x"
            met = "yes" if ratio <= MEMORY_RSS_TARGET else "NO"
        rows.append([name, f"{before / 1024:.1f}", f"{after / 1024:.1f}", f"{per_key:.0f}",
                     f"{ratio:.2f}x", target, met])  # fmt: skip
    return rows


# --------------------------------------------------------------------------- reporting


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """A fixed-width table for the terminal."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """The same table in GitHub markdown."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


SHARED_WARNING = ("**Warning:** other work shared the machine during this run, so these ratios "
                  "are unreliable; re-run on a quiet machine before drawing conclusions.")  # fmt: skip
THROUGHPUT_HEADER = ["test", "pipeline", "redis rps", "magpie rps", "ratio magpie/redis",
                     "per-round ratios", "target", "met"]  # fmt: skip
MEMORY_HEADER = ["server", "RSS empty (MiB)", "RSS loaded (MiB)", "bytes/key", "RSS vs redis",
                 "target", "met"]  # fmt: skip


def command_output(argv: list[str]) -> str:
    """First line of a command's output, or '?' when it cannot be run."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=REPO)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (done.stdout.strip().splitlines() or ["?"])[0] if done.returncode == 0 else "?"


def machine_info() -> dict[str, str]:
    """nproc, CPU model, kernel, Python, redis-server version and the Magpie commit."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = command_output(["git", "rev-parse", "--short", "HEAD"])
    if command_output(["git", "status", "--porcelain", "--", "src"]) != "?":
        commit += " (with uncommitted changes in src/)"
    redis_version = command_output(["redis-server", "--version"])
    match = re.search(r"v=(\S+)", redis_version)
    return {
        "nproc": command_output(["nproc"]),
        "CPU": model,
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "redis-server": match.group(1) if match else redis_version,
        "Magpie commit": commit,
    }


def markdown_section(args: argparse.Namespace, pinning: Pinning, throughput: ThroughputResult | None,
                     memory: MemoryResult | None, command_line: str) -> str:  # fmt: skip
    """The results section for docs/benchmarks.md, between the two markers."""
    info = machine_info()
    title = "Latest results" if SUITE == "kv" else f"Latest results: `--suite {SUITE}`"
    parts = [MARK_START, f"## {title}", "",
             f"Measured {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} with:", "",
             "```sh", command_line, "```", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()) + ".",
             f"CPU pinning: {pinning.description}.", ""]  # fmt: skip
    if throughput is not None:
        parts += [f"### Throughput (median of {args.rounds} alternating round(s), "
                  f"`-c {args.clients}`, `-n {args.n}` unpipelined / `-n {args.n_pipelined}` at `-P 16`)",
                  "", markdown_table(THROUGHPUT_HEADER, throughput_rows(throughput)), "",
                  f"Background load: {throughput.load_summary()}. \"per-round ratios\" is the "
                  "range of Magpie/Redis over the rounds (the two samples of a round run back "
                  "to back).", "",
                  *([SHARED_WARNING, ""] if throughput.shared_machine() else []),
                  "Commands (ports differ per run):", "", "```sh", *throughput.commands, "```", ""]  # fmt: skip
    if memory is not None:
        parts += [f"### Memory ({memory.keys:,} keys `key:0000001` -> 10-byte values, target: "
                  f"Magpie RSS at most {MEMORY_RSS_TARGET}x redis)", "",
                  markdown_table(MEMORY_HEADER, memory_rows(memory)), ""]  # fmt: skip
    problems = (throughput.problems if throughput else []) + (memory.problems if memory else [])
    if problems:
        parts += ["Problems the servers logged during the run:", "", "```", *problems, "```", ""]
    parts.append(MARK_END)
    return "\n".join(parts) + "\n"


DOC_INTRO = """# Benchmarks

`benchmarks/kv.py` compares Magpie with a real `redis-server` on the same machine, in the same
invocation, and reports ratios rather than absolute numbers (absolute numbers say more about the
VM than about Magpie). It starts both servers on loopback with persistence off, then:

- **Throughput**: runs `redis-benchmark -q --csv -t <test> -c 50` for SET, GET, INCR and MSET,
  unpipelined and with `-P 16`, against each server back to back (one test at a time, the server
  that goes first flipping every round), and keeps the median requests/sec per test over the
  rounds. Targets: unpipelined GET/SET at least 0.9x Redis; every test at `-P 16`
  at least 0.5x Redis. On a 2-core machine the servers run on one core and redis-benchmark on the
  other (`taskset`), so the client never steals the server's CPU. The script also reports how
  much CPU *other* processes used while it measured (from `/proc/stat`, minus its own servers and
  redis-benchmark), because a shared VM moves these numbers far more than small code changes do.
- **Memory**: on fresh servers, writes 1,000,000 distinct keys (`key:0000001` -> `v000000001`,
  pipelined SETs over a raw socket, the same writer for both) and reads each process's VmRSS
  from `/proc/<pid>/status`. Target: Magpie at most 2.5x Redis's RSS.

Reproduce with `make bench`, or directly:

```sh
.venv/bin/python benchmarks/kv.py                      # defaults: 3 rounds, memory included
.venv/bin/python benchmarks/kv.py --quick --skip-memory  # smoke run, a few seconds
.venv/bin/python benchmarks/kv.py --markdown docs/benchmarks.md  # also rewrite the section below
```

The section below is rewritten by `--markdown`; everything above it is left alone.

"""


def write_markdown(path: Path, section: str) -> None:
    """Replace the marked results section in ``path`` (create the file, or append, if needed)."""
    text = path.read_text() if path.exists() else DOC_INTRO
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1].lstrip("\n")
        text = head + section + (("\n" + tail) if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options; ``--quick`` shrinks every size unless it was given explicitly."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--suite", choices=sorted(SUITES), default="kv",
                        help="kv: SET/GET/INCR/MSET and memory (default); types: LPUSH, LPOP, "
                        "SADD, HSET, ZADD, ZPOPMIN (implies --skip-memory)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 round, small -n, 20k keys for memory")  # fmt: skip
    parser.add_argument("--rounds", type=int, help="alternating rounds per server (default 3)")
    parser.add_argument("-n", type=int, help="requests per test unpipelined (default 100000)")
    parser.add_argument("--n-pipelined", type=int,
                        help="requests per test at -P 16 (default 5 x -n)")  # fmt: skip
    parser.add_argument("-c", "--clients", type=int, default=50, help="parallel connections (50)")
    parser.add_argument("--keys", type=int, help="keys for the memory test (default 1000000)")
    parser.add_argument("--skip-memory", action="store_true", help="skip the memory test")
    parser.add_argument("--skip-throughput", action="store_true", help="skip redis-benchmark")
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs with taskset")
    parser.add_argument("--wait-idle", type=float, metavar="SECONDS",
                        help="first wait up to SECONDS for other work on the machine to stop "
                        "(default 120, 0 with --quick)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds one redis-benchmark run may take (600)")  # fmt: skip
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="write/update the results section of FILE (e.g. docs/benchmarks.md)")  # fmt: skip
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.n = args.n or (2_000 if args.quick else 100_000)
    args.n_pipelined = args.n_pipelined or 5 * args.n
    args.keys = args.keys or (20_000 if args.quick else 1_000_000)
    if args.wait_idle is None:
        args.wait_idle = 0 if args.quick else 120
    if min(args.rounds, args.n, args.n_pipelined, args.keys, args.clients) < 1:
        parser.error("sizes and counts must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables and commands, and optionally update the markdown."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    select_suite(args.suite)
    if args.suite != "kv":
        args.skip_memory = True
    if not args.skip_throughput and not shutil.which("redis-benchmark"):
        print("redis-benchmark is not installed (try scripts/ensure-redis)", file=sys.stderr)
        return 2
    # SIGTERM should unwind like Ctrl-C so the finally blocks stop both servers.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    command_line = shlex.join(["python", "benchmarks/kv.py", *argv])
    pinning = plan_pinning(not args.no_pin)
    print(f"CPU pinning: {pinning.description}", file=sys.stderr)
    throughput = memory = None
    try:
        if args.wait_idle > 0 and not args.skip_throughput:
            busy = wait_for_quiet(args.wait_idle)
            print(f"  other work on the machine before starting: {busy:.0f}% busy", file=sys.stderr)
        if not args.skip_throughput:
            throughput = measure_throughput(args, pinning)
        if not args.skip_memory:
            memory = measure_memory(args.keys, pinning)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130

    print(f"\ncommand: {command_line}\nCPU pinning: {pinning.description}\n")
    if throughput is not None:
        print(f"Throughput, median of {args.rounds} round(s) "
              f"(-c {args.clients}, -n {args.n} unpipelined, -n {args.n_pipelined} at -P 16):")  # fmt: skip
        print(text_table(THROUGHPUT_HEADER, throughput_rows(throughput)))
        print(f"\nbackground: {throughput.load_summary()}")
        if throughput.shared_machine():
            print("WARNING: the machine was shared with other work; ratios are unreliable")
        print("\ncommands:")
        for line in throughput.commands:
            print(f"  {line}")
    if memory is not None:
        print(f"\nMemory after loading {memory.keys:,} keys "
              f"(target: magpie RSS at most {MEMORY_RSS_TARGET}x redis):")  # fmt: skip
        print(text_table(MEMORY_HEADER, memory_rows(memory)))
    problems = (throughput.problems if throughput else []) + (memory.problems if memory else [])
    if problems:
        print("\nproblems logged by the servers:")
        print("\n".join(f"  {line}" for line in problems))
    if args.markdown is not None:
        write_markdown(
            args.markdown, markdown_section(args, pinning, throughput, memory, command_line)
        )
        print(f"\nwrote results to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
