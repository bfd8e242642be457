#!/usr/bin/env python3
"""Vector search in Magpie (FT.* HNSW) against raw hnswlib in the same process, in one invocation.

What it does:

1. Generates clustered float32 vectors deterministically (``--clusters`` gaussian clusters,
   fixed seed), ``--queries`` query vectors drawn fresh from the same clusters (not dataset
   points), and the exact 10 nearest neighbours of each query by numpy (squared L2).
2. Raw reference: ``hnswlib.Index('l2')`` with M=16, EF_CONSTRUCTION=200; ``add_items`` with
   one thread, timed; then for each EF: ``set_ef`` and ``knn_query`` one query at a time on one
   thread, for queries per second and recall@10.
3. Magpie: ``FT.CREATE ... VECTOR HNSW`` with the same parameters, every vector ingested by one
   client with pipelined HSET batches (timed until FT.INFO counts them all); then for each EF,
   ``--clients`` client processes each pipeline ``--pipeline`` KNN queries at a time
   (``PARAMS ... EF_RUNTIME $EF``) for ``--seconds``: aggregate QPS and recall@10 from the keys.
4. Latency: single FT.SEARCH queries one at a time, first on an idle server, then while another
   process ingests ``--ingest-during`` further vectors with pipelined HSET; p50/p99/max.
5. Prints a table of Magpie/raw ratios next to the targets (query throughput >= 0.6x at the same
   recall, ingestion >= 0.5x, p99 during ingestion < 50 ms); ``--markdown`` rewrites the
   "Vector search" section of docs/benchmarks.md and writes a recall-vs-QPS plot next to it
   (matplotlib; skipped with a message when it is not installed).

CPU pinning as in ``benchmarks/kv.py``: Magpie runs on the last allowed CPU and so does the raw
hnswlib reference (this process, while it measures it), so both use the same core; the Magpie
clients run on the first CPU. The table reports the server's and the clients' CPU use per EF, so
a client bottleneck would show (the server should be near 100%).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import multiprocessing as mp
import os
import shlex
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import hiredis
import hnswlib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kv  # noqa: E402  (the sibling benchmark: server start/stop, pinning, CPU meters, tables)

QUERY_TARGET = 0.6
INGEST_TARGET = 0.5
P99_TARGET_MS = 50.0
K = 10
MARK_START = "<!-- vectors-bench:start -->"
MARK_END = "<!-- vectors-bench:end -->"


# --------------------------------------------------------------------------- data


@dataclass
class Dataset:
    vectors: np.ndarray  # (n, dim) float32, key v:<row>
    queries: np.ndarray  # (q, dim) float32
    truth: np.ndarray  # (q, K) row ids of the exact nearest neighbours
    extra: np.ndarray  # vectors ingested during the latency test, keys v:<n + row>


def clustered(rng: np.random.Generator, centers: np.ndarray, count: int) -> np.ndarray:
    """``count`` points around randomly chosen centers (spread 0.5 per coordinate)."""
    which = rng.integers(0, len(centers), count)
    noise = rng.standard_normal((count, centers.shape[1]), dtype=np.float32) * np.float32(0.5)
    return centers[which] + noise


def make_dataset(n: int, dim: int, queries: int, clusters: int, extra: int, seed: int) -> Dataset:
    """The same vectors, queries and ground truth on every run with the same arguments."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim), dtype=np.float32)
    vectors, qs, more = (clustered(rng, centers, c) for c in (n, queries, extra))
    sq = np.einsum("ij,ij->i", vectors, vectors)
    truth = np.empty((queries, K), dtype=np.int64)
    for start in range(0, queries, 256):  # exact squared L2 in chunks: |x|^2 - 2 q.x (+ |q|^2)
        d = sq[None, :] - 2 * (qs[start:start + 256] @ vectors.T)
        top = np.argpartition(d, K, axis=1)[:, :K]
        order = np.take_along_axis(d, top, 1).argsort(axis=1)
        truth[start:start + 256] = np.take_along_axis(top, order, 1)
    return Dataset(vectors, qs, truth, more)


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    """Mean fraction of the true 10 nearest found, over the queries."""
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / (K * len(truth))


# --------------------------------------------------------------------------- raw hnswlib


@dataclass
class Point:
    ef: int
    recall: float
    qps: float
    server_cpu: float = 0.0  # percent of one core (Magpie only)
    client_cpu: float = 0.0


def build_raw(data: Dataset) -> tuple[hnswlib.Index, float]:
    """hnswlib's index of the data set and how many vectors per second one thread added."""
    n, dim = data.vectors.shape
    index = hnswlib.Index(space="l2", dim=dim)
    index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
    started = time.perf_counter()
    index.add_items(data.vectors, np.arange(n), num_threads=1)
    add_rate = n / (time.perf_counter() - started)
    print(f"  raw hnswlib: {n:,} vectors added in {n / add_rate:.1f} s ({add_rate:,.0f}/s)",
          file=sys.stderr, flush=True)  # fmt: skip
    return index, add_rate


def raw_queries(index: hnswlib.Index, data: Dataset, ef: int, seconds: float) -> Point:
    """Single-thread QPS (one knn_query per query, for ``seconds``) and recall at one EF."""
    rows = [q[None, :] for q in data.queries]
    index.set_ef(ef)
    found = [index.knn_query(q, k=K, num_threads=1)[0][0].tolist() for q in rows]
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or done == 0:
        for q in rows:
            index.knn_query(q, k=K, num_threads=1)
        done += len(rows)
    return Point(ef, recall(found, data.truth), done / elapsed)


# --------------------------------------------------------------------------- Magpie clients


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=300)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def roundtrip(sock: socket.socket, payload: bytes, replies: int) -> list[object]:
    """Send pipelined commands and read exactly ``replies`` replies (errors raise)."""
    sock.sendall(payload)
    reader = hiredis.Reader()
    out: list[object] = []
    while len(out) < replies:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise kv.BenchmarkError("Magpie closed the connection")
        reader.feed(chunk)
        while (reply := reader.gets()) is not False:
            if isinstance(reply, hiredis.ReplyError):
                raise kv.BenchmarkError(f"Magpie answered an error: {reply}")
            out.append(reply)
    return out


def search_command(vector: np.ndarray, ef: int) -> bytes:
    return kv.resp_command(
        b"FT.SEARCH", b"idx", b"*=>[KNN %d @emb $B EF_RUNTIME $EF AS d]" % K,
        b"PARAMS", b"4", b"B", vector.tobytes(), b"EF", b"%d" % ef,
        b"RETURN", b"1", b"d", b"LIMIT", b"0", b"%d" % K, b"DIALECT", b"2",
    )  # fmt: skip


def keys_of(reply: object) -> list[int]:
    """Row ids from a RESP2 FT.SEARCH reply ``[total, key, fields, key, fields, ...]``."""
    return [int(key[2:]) for key in reply[1::2]]  # type: ignore[index]


def query_worker(port: int, commands: list[bytes], mine: range, pipeline: int, seconds: float,
                 barrier: object, results: object) -> None:  # fmt: skip
    """One client process: pipelines its share of the queries until ``seconds`` have passed."""
    sock = connect(port)
    order = list(mine)
    found: dict[int, list[int]] = {}
    done, pos = 0, 0
    barrier.wait()  # type: ignore[attr-defined]
    cpu, started = time.process_time(), time.perf_counter()
    while time.perf_counter() - started < seconds or len(found) < len(order):
        batch = [order[(pos + i) % len(order)] for i in range(pipeline)]
        pos += pipeline
        replies = roundtrip(sock, b"".join(commands[i] for i in batch), len(batch))
        for i, reply in zip(batch, replies, strict=True):
            if i not in found:
                found[i] = keys_of(reply)
        done += len(batch)
    ended = time.perf_counter()
    sock.close()
    results.put((done, started, ended, time.process_time() - cpu, found))  # type: ignore[attr-defined]


def magpie_queries(port: int, pid: int, data: Dataset, ef: int, args: argparse.Namespace) -> Point:
    """Aggregate QPS and recall of ``--clients`` pipelining processes at one EF."""
    commands = [search_command(q, ef) for q in data.queries]
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(args.clients + 1), ctx.Queue()
    procs = [ctx.Process(target=query_worker, args=(port, commands, range(c, len(commands),
                         args.clients), args.pipeline, args.seconds, barrier, results))
             for c in range(args.clients)]  # fmt: skip
    for proc in procs:
        proc.start()
    barrier.wait()
    server_ticks = kv.process_ticks(pid)
    outs = [results.get(timeout=args.seconds * 10 + 120) for _ in procs]
    server_ticks = kv.process_ticks(pid) - server_ticks
    for proc in procs:
        proc.join()
    wall = max(o[2] for o in outs) - min(o[1] for o in outs)
    found: dict[int, list[int]] = {}
    for o in outs:
        found.update(o[4])
    point = Point(ef, recall([found[i] for i in range(len(commands))], data.truth),
                  sum(o[0] for o in outs) / wall, 100 * server_ticks / kv.CLOCK_TICKS / wall,
                  100 * sum(o[3] for o in outs) / wall)  # fmt: skip
    return point


def hset_batches(vectors: np.ndarray, first_id: int, batch: int) -> list[tuple[bytes, int]]:
    """Pipelined ``HSET v:<id> emb <blob>`` payloads of ``batch`` commands each."""
    return [(b"".join(kv.resp_command(b"HSET", b"v:%d" % (first_id + start + i), b"emb", v.tobytes())
                      for i, v in enumerate(vectors[start:start + batch])),
             len(vectors[start:start + batch]))
            for start in range(0, len(vectors), batch)]  # fmt: skip


def ingest(port: int, batches: list[tuple[bytes, int]], progress: bool = False) -> None:
    """Send the batches one after the other, each one's replies read before the next."""
    started = last = time.perf_counter()
    with connect(port) as sock:
        for done, (payload, count) in enumerate(batches, 1):
            roundtrip(sock, payload, count)
            if progress and time.perf_counter() - last > 10:
                last = time.perf_counter()
                print(f"    {done}/{len(batches)} batches in {last - started:.0f} s",
                      file=sys.stderr, flush=True)  # fmt: skip


def num_docs(sock: socket.socket) -> int:
    info = roundtrip(sock, kv.resp_command(b"FT.INFO", b"idx"), 1)[0]
    return int(info[info.index(b"num_docs") + 1])  # type: ignore[union-attr]


@dataclass
class Latency:
    label: str
    samples_ms: list[float] = field(default_factory=list)

    def pct(self, p: float) -> float:
        return float(np.percentile(self.samples_ms, p)) if self.samples_ms else 0.0


def single_queries(sock: socket.socket, commands: list[bytes], keep_going: Callable[[int], bool],
                   label: str) -> Latency:  # fmt: skip
    """Queries one at a time, the i-th only while ``keep_going(i)``; each one's latency."""
    lat = Latency(label)
    i = 0
    while keep_going(i):
        started = time.perf_counter()
        roundtrip(sock, commands[i % len(commands)], 1)
        lat.samples_ms.append((time.perf_counter() - started) * 1000)
        i += 1
    return lat


@dataclass
class Results:
    raw_add: float = 0.0
    magpie_add: float = 0.0
    #: every round's Point per side and EF
    rounds: dict[tuple[str, int], list[Point]] = field(default_factory=dict)
    latencies: list[Latency] = field(default_factory=list)
    ingest_during_rate: float = 0.0
    server_argv: list[str] = field(default_factory=list)
    load: list[str] = field(default_factory=list)

    def median(self, side: str, ef: int) -> Point:
        """The round with the median QPS (recall is the same in every round)."""
        points = sorted(self.rounds[(side, ef)], key=lambda p: p.qps)
        return points[(len(points) - 1) // 2]

    def round_ratios(self, ef: int) -> list[float]:
        pairs = zip(self.rounds[("magpie", ef)], self.rounds[("raw", ef)], strict=True)
        return [m.qps / r.qps for m, r in pairs]


def load_text(phase: str, meter: kv.CpuMeter) -> str:
    """How much other work shared the machine during a phase."""
    foreign, steal = meter.end()
    return f"{phase}: other work {foreign:.0f}%, steal {steal:.1f}%"


def compare_queries(raw: hnswlib.Index, port: int, pid: int, data: Dataset,
                    args: argparse.Namespace, pinning: kv.Pinning, results: Results) -> None:  # fmt: skip
    """Each EF on both sides back to back, ``--rounds`` times, the first side flipping each round.

    As in kv.py, alternating per EF means a burst of outside load on the shared machine lands
    on both sides' samples of that EF rather than on one side's whole run.
    """
    for round_no in range(args.rounds):
        for ef in args.efs:
            order = ("raw", "magpie") if round_no % 2 == 0 else ("magpie", "raw")
            for side in order:
                if side == "raw":
                    pin_self(pinning.server_prefix)  # raw hnswlib runs on Magpie's core
                    point = raw_queries(raw, data, ef, args.seconds)
                else:
                    pin_self(pinning.client_prefix)  # the client processes inherit this
                    point = magpie_queries(port, pid, data, ef, args)
                results.rounds.setdefault((side, ef), []).append(point)
            r, m = results.rounds[("raw", ef)][-1], results.rounds[("magpie", ef)][-1]
            print(f"  round {round_no + 1}/{args.rounds} ef {ef:>4}: raw recall {r.recall:.3f} "
                  f"{r.qps:>8,.0f} QPS | magpie recall {m.recall:.3f} {m.qps:>8,.0f} QPS "
                  f"(server CPU {m.server_cpu:.0f}%, clients {m.client_cpu:.0f}%)",
                  file=sys.stderr, flush=True)  # fmt: skip
    pin_self(pinning.client_prefix)


def run_magpie(data: Dataset, raw: hnswlib.Index, args: argparse.Namespace,
               pinning: kv.Pinning, results: Results) -> None:  # fmt: skip
    """Start Magpie, ingest, compare queries with ``raw``, measure latency; always stop it."""
    server, env = kv.make_server("magpie", pinning)
    results.server_argv = server.argv
    try:
        kv.start_server(server, env)
        assert server.proc is not None
        pid = server.proc.pid
        with connect(server.port) as ctl:
            create = [b"FT.CREATE", b"idx", b"ON", b"HASH", b"PREFIX", b"1", b"v:", b"SCHEMA",
                      b"emb", b"VECTOR", b"HNSW", b"10", b"TYPE", b"FLOAT32", b"DIM",
                      b"%d" % data.vectors.shape[1], b"DISTANCE_METRIC", b"L2", b"M", b"16",
                      b"EF_CONSTRUCTION", b"200"]  # fmt: skip
            roundtrip(ctl, kv.resp_command(*create), 1)
            batches = hset_batches(data.vectors, 0, args.batch)
            meter = kv.CpuMeter([pid])
            meter.begin()
            started = time.perf_counter()
            ingest(server.port, batches, progress=True)
            while num_docs(ctl) < len(data.vectors):
                time.sleep(0.01)
            results.magpie_add = len(data.vectors) / (time.perf_counter() - started)
            results.load.append(load_text("Magpie ingestion", meter))
            print(f"  magpie: {len(data.vectors):,} HSETs indexed in "
                  f"{len(data.vectors) / results.magpie_add:.1f} s ({results.magpie_add:,.0f}/s)",
                  file=sys.stderr, flush=True)  # fmt: skip
            meter.begin()
            compare_queries(raw, server.port, pid, data, args, pinning, results)
            results.load.append(load_text("queries", meter))
            commands = [search_command(q, args.latency_ef) for q in data.queries]
            results.latencies.append(
                single_queries(ctl, commands, lambda i: i < len(commands), "idle"))
            ctx = mp.get_context("fork")
            writer = ctx.Process(target=ingest, args=(server.port, hset_batches(
                data.extra, len(data.vectors), args.batch)))  # fmt: skip
            started = time.perf_counter()
            writer.start()
            results.latencies.append(single_queries(
                ctl, commands, lambda i: i == 0 or writer.is_alive(), "during ingest"))  # fmt: skip
            writer.join()
            results.ingest_during_rate = len(data.extra) / (time.perf_counter() - started)
            if writer.exitcode != 0 or num_docs(ctl) != len(data.vectors) + len(data.extra):
                raise kv.BenchmarkError(f"the concurrent ingester failed ({writer.exitcode})")
            for lat in results.latencies:
                print(f"  magpie single queries ({lat.label}): {len(lat.samples_ms)}, p50 "
                      f"{lat.pct(50):.2f} ms, p99 {lat.pct(99):.2f} ms", file=sys.stderr)  # fmt: skip
    except OSError as exc:  # a timeout or a closed connection: say what the server was doing
        ticks = kv.process_ticks(server.proc.pid) if server.proc else 0
        raise kv.BenchmarkError(f"{exc!r}; server CPU so far {ticks / kv.CLOCK_TICKS:.1f} s, "
                                f"log:\n{server.log_tail()}") from None  # fmt: skip
    else:
        problems = server.log_problems()
        if problems:
            raise kv.BenchmarkError("Magpie logged problems:\n" + "\n".join(problems))
    finally:
        kv.stop_server(server)


# --------------------------------------------------------------------------- reporting

QUERY_HEADER = ["ef", "raw recall", "raw QPS", "magpie recall", "magpie QPS", "ratio",
                "per-round ratios", "target", "met", "magpie server CPU", "clients CPU"]  # fmt: skip
OTHER_HEADER = ["measure", "raw hnswlib", "magpie", "ratio / value", "target", "met"]


def query_rows(results: Results) -> list[list[str]]:
    rows = []
    for ef in sorted({ef for _, ef in results.rounds}):
        raw, mag = results.median("raw", ef), results.median("magpie", ef)
        ratio = mag.qps / raw.qps
        per_round = results.round_ratios(ef)
        rows.append([str(ef), f"{raw.recall:.3f}", f"{raw.qps:,.0f}", f"{mag.recall:.3f}",
                     f"{mag.qps:,.0f}", f"{ratio:.2f}x",
                     f"{min(per_round):.2f}-{max(per_round):.2f}", f">= {QUERY_TARGET}x",
                     "yes" if ratio >= QUERY_TARGET else "NO", f"{mag.server_cpu:.0f}%",
                     f"{mag.client_cpu:.0f}%"])  # fmt: skip
    return rows


def other_rows(results: Results, args: argparse.Namespace) -> list[list[str]]:
    ratio = results.magpie_add / results.raw_add
    idle, busy = results.latencies
    return [
        ["ingestion (vectors/s)", f"{results.raw_add:,.0f}", f"{results.magpie_add:,.0f}",
         f"{ratio:.2f}x", f">= {INGEST_TARGET}x", "yes" if ratio >= INGEST_TARGET else "NO"],
        [f"single FT.SEARCH ef {args.latency_ef}, idle: p50 / p99 (ms)", "-",
         f"{idle.pct(50):.2f} / {idle.pct(99):.2f}", f"{len(idle.samples_ms)} queries", "-", "-"],
        [f"same while ingesting {args.ingest_during:,} vectors: p50 / p99 / max (ms)", "-",
         f"{busy.pct(50):.2f} / {busy.pct(99):.2f} / {max(busy.samples_ms):.1f}",
         f"{len(busy.samples_ms)} queries, ingest {results.ingest_during_rate:,.0f}/s",
         f"p99 < {P99_TARGET_MS:.0f} ms", "yes" if busy.pct(99) < P99_TARGET_MS else "NO"],
    ]  # fmt: skip


def write_plot(path: Path, results: Results, args: argparse.Namespace) -> str:
    """The recall-vs-QPS PNG; returns a sentence saying what happened."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]'); plot skipped"
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for side, label, style in (("raw", "raw hnswlib (1 thread, in-process)", "o-"),
                               ("magpie", f"Magpie FT.SEARCH ({args.clients} clients x "
                                f"{args.pipeline} pipelined)", "s-")):  # fmt: skip
        points = [results.median(side, ef) for ef in args.efs]
        ax.plot([p.recall for p in points], [p.qps for p in points], style, label=label)
        for p in points:
            ax.annotate(f"ef {p.ef}", (p.recall, p.qps), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)  # fmt: skip
    raw = [results.median("raw", ef) for ef in args.efs]
    ax.plot([p.recall for p in raw], [QUERY_TARGET * p.qps for p in raw], ":", color="grey",
            label=f"target: {QUERY_TARGET}x raw")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (log)")
    ax.set_title(f"{args.n:,} clustered vectors, dim {args.dim}, HNSW M=16 EF_CONSTRUCTION=200")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return f"wrote the plot to {path}"


def markdown_section(results: Results, args: argparse.Namespace, pinning: kv.Pinning,
                     command_line: str, plot: Path | None) -> str:  # fmt: skip
    info = kv.machine_info()
    info.pop("redis-server", None)
    info["nproc"] = str(os.cpu_count())  # `nproc` would count only the CPU we are pinned to
    info["hnswlib"] = importlib.metadata.version("hnswlib")
    info["numpy"] = np.__version__
    parts = [MARK_START, "## Vector search", "",
             "`benchmarks/vectors.py` measures FT.SEARCH KNN queries and HSET ingestion into an "
             "HNSW index against raw hnswlib (same M, EF_CONSTRUCTION and insertion order) in the "
             "same invocation. Raw hnswlib runs single-threaded, one `knn_query` per query, on "
             "the core Magpie runs on (while Magpie idles); Magpie's queries come from several "
             "client processes on the other core, each pipelining queries, and each EF is "
             "measured on both sides back to back. Ingestion is one client sending pipelined "
             "HSET batches. Targets: query throughput at least "
             f"{QUERY_TARGET}x raw at the same recall, ingestion at least {INGEST_TARGET}x raw "
             f"`add_items`, p99 of single queries during ingestion under {P99_TARGET_MS:.0f} ms.",
             "", f"Measured {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} with:", "",
             "```sh", command_line, "```", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()) + ".",
             f"CPU pinning: {pinning.description}. Background: {'; '.join(results.load)}.", "",
             f"Data: {args.n:,} vectors of dim {args.dim} around {args.clusters} gaussian "
             f"centers, {args.queries:,} queries from the same clusters, exact ground truth; "
             f"{args.clients} clients x {args.pipeline} pipelined queries, {args.seconds:g} s per "
             f"EF and side, {args.rounds} alternating round(s) (medians shown; \"per-round ratios\" "
             f"is the range of Magpie/raw over the rounds); HSET batches of {args.batch}.", "",
             markdown_table(QUERY_HEADER, query_rows(results)), "",
             markdown_table(OTHER_HEADER, other_rows(results, args)), ""]  # fmt: skip
    if plot is not None and plot.exists():
        parts += [f"![recall@10 vs QPS]({plot.name})", ""]
    parts.append(MARK_END)
    return "\n".join(parts) + "\n"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    return kv.markdown_table(header, rows)


def write_markdown(path: Path, section: str) -> None:
    """Replace the marked Vector search section of ``path`` (append it when absent)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        text = head + section + rest.split(MARK_END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 3000 vectors of dim 32, 100 queries, ef 10 and 40")  # fmt: skip
    parser.add_argument("--n", type=int, help="vectors (100000)")
    parser.add_argument("--dim", type=int, help="dimensions (128)")
    parser.add_argument("--queries", type=int, help="query vectors (1000)")
    parser.add_argument("--clusters", type=int, default=100, help="gaussian clusters (100)")
    parser.add_argument("--efs", help="EF_RUNTIME values, comma-separated (10,20,40,80,120,200)")
    parser.add_argument("--seconds", type=float, help="seconds of queries per EF and side (3)")
    parser.add_argument("--rounds", type=int, help="alternating rounds per EF (3; 1 with --quick)")
    parser.add_argument("--clients", type=int, default=4, help="query client processes (4)")
    parser.add_argument("--pipeline", type=int, default=16, help="queries in flight per client")
    parser.add_argument("--batch", type=int, default=500, help="HSETs per pipelined batch (500)")
    parser.add_argument("--latency-ef", type=int, default=40, help="EF of the latency test (40)")
    parser.add_argument("--ingest-during", type=int,
                        help="vectors ingested during the latency test (20000)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=20240601, help="data seed")
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs with taskset")
    parser.add_argument("--wait-idle", type=float, metavar="SECONDS",
                        help="first wait up to SECONDS for a quiet machine (60; 0 with --quick)")
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="rewrite the Vector search section of FILE (docs/benchmarks.md)")
    parser.add_argument("--plot", type=Path, metavar="PNG",
                        help="recall-vs-QPS plot (default with --markdown: "
                        "benchmarks-vectors.png next to FILE)")  # fmt: skip
    args = parser.parse_args(argv)
    quick = args.quick
    args.n = args.n or (3_000 if quick else 100_000)
    args.dim = args.dim or (32 if quick else 128)
    args.queries = args.queries or (100 if quick else 1_000)
    args.efs = [int(x) for x in (args.efs or ("10,40" if quick else "10,20,40,80,120,200")).split(",")]
    args.seconds = args.seconds or (0.5 if quick else 3.0)
    args.rounds = args.rounds or (1 if quick else 3)
    args.ingest_during = args.ingest_during or (2_000 if quick else 20_000)
    args.wait_idle = (0 if quick else 60) if args.wait_idle is None else args.wait_idle
    if args.plot is None and args.markdown is not None:
        args.plot = args.markdown.parent / "benchmarks-vectors.png"
    if min(args.n, args.dim, args.queries, args.clients, args.rounds, args.pipeline, args.batch,
           args.ingest_during, *args.efs) < 1 or args.n <= K:  # fmt: skip
        parser.error("sizes and counts must be positive (and --n above 10)")
    return args


def pin_self(cpu_prefix: list[str]) -> None:
    """Move this process to the CPU a taskset prefix names (no-op when unpinned)."""
    if cpu_prefix and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu_prefix[-1])})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    command_line = shlex.join(["python", "benchmarks/vectors.py", *argv])
    pinning = kv.plan_pinning(not args.no_pin)
    pinning.description = pinning.description.replace("servers", "Magpie and raw hnswlib")
    pinning.description = pinning.description.replace("redis-benchmark", "the clients")
    print(f"CPU pinning: {pinning.description}", file=sys.stderr)
    started = time.perf_counter()
    data = make_dataset(args.n, args.dim, args.queries, args.clusters, args.ingest_during, args.seed)
    print(f"  data and ground truth in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    results = Results()
    try:
        if args.wait_idle > 0:
            busy = kv.wait_for_quiet(args.wait_idle)
            print(f"  other work on the machine before starting: {busy:.0f}% busy", file=sys.stderr)
        pin_self(pinning.server_prefix)  # the raw reference runs on Magpie's core
        meter = kv.CpuMeter([])
        meter.begin()
        raw, results.raw_add = build_raw(data)
        results.load.insert(0, load_text("raw build", meter))
        pin_self(pinning.client_prefix)
        run_magpie(data, raw, args, pinning, results)
    except kv.BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; server stopped", file=sys.stderr)
        return 130

    print(f"\ncommand: {command_line}\nCPU pinning: {pinning.description}")
    print(f"magpie: {shlex.join(results.server_argv)}")
    print(f"background: {'; '.join(results.load)}\n")
    print(f"Queries: {args.n:,} x dim {args.dim}, {args.queries} queries, recall@{K}, "
          f"{args.clients} clients x {args.pipeline} pipelined (magpie) vs 1 thread (raw):")  # fmt: skip
    print(kv.text_table(QUERY_HEADER, query_rows(results)))
    print()
    print(kv.text_table(OTHER_HEADER, other_rows(results, args)))
    if args.plot is not None:
        print(write_plot(args.plot, results, args))
    if args.markdown is not None:
        write_markdown(args.markdown, markdown_section(results, args, pinning, command_line, args.plot))
        print(f"wrote results to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
