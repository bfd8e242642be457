"""Protocol fuzzer (issue 9, hostile clients): hostile bytes over real sockets, a real server.

Several attacker connections send cases from ``fuzz_protocol_cases`` (random bytes, mutated
frames, odd lengths, RESP3 types, deep nesting, split pipelines, abrupt hang-ups, payloads at
the limits), each checked by ``fuzz_protocol_checks``, while a watchdog client does
SET/GET/INCR on its own keys, each reply due within a generous deadline. A failure is: a
case's check failing, the watchdog answered late or wrongly, the server process gone, or a
Python traceback in the server log.

Everything is drawn from ``random.Random`` seeded per attacker, so a seed names the cases
sent; on a failure the suspect cases are replayed one by one on a fresh server to find the
one that does it, and the seed, its bytes and a replay command are printed and written to a
file. Usage::

    python tests/fuzz_protocol.py --seconds 60 [--seed S] [--pure-python-parser | --hiredis-parser]
    python tests/fuzz_protocol.py --replay /tmp/magpie-fuzz/protocol-....json
    python tests/fuzz_protocol.py --compare-redis --seconds 60   # differences from redis-server
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import random
import re
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field

from fuzz_protocol_cases import (
    HIREDIS_LENIENT,
    MAX_BULK,
    QUERY_BUFFER_LIMIT,
    Case,
    make_case,
    may_switch_to_resp3,
)
from fuzz_protocol_checks import REPLY_DEADLINE, run_case, transcript
from resp_reader import MalformedReply, StrictRespReader
from servers import ServerProcess, start_magpie, start_redis

#: Small limits, cheap to reach (the cases know them).
SERVER_ARGS = (
    "--proto-max-bulk-len",
    str(MAX_BULK),
    "--client-query-buffer-limit",
    str(QUERY_BUFFER_LIMIT),
)
LOG_PROBLEMS = re.compile(r"Traceback|Exception|error running")


class ServerStuck(Exception):
    """The watchdog's request got no reply in time, a wrong one, or its connection closed."""


# -- the watchdog ---------------------------------------------------------------------------


class Watchdog(threading.Thread):
    """SET/GET/INCR on its own keys, every reply checked and due within ``deadline``."""

    def __init__(self, port: int, deadline: float) -> None:
        super().__init__(daemon=True, name="watchdog")
        self.port = port
        self.deadline = deadline
        #: Set once the attackers are done: one last round, then the thread ends.
        self.stop = threading.Event()
        self.rounds = 0
        self.failure: str | None = None
        self.waiting_since: float | None = None  # when the unanswered request was sent
        self.prefix = b"wd"  # attackers' keys start with "atk:" (each run has its own server)

    def run(self) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=self.deadline) as sock:
                reader = StrictRespReader()
                while not self.stop.is_set():
                    self._round(sock, reader)
                    self.stop.wait(0.01)
                self._round(sock, reader)  # a last one after the attackers stopped
        except (OSError, ServerStuck, MalformedReply) as exc:
            self.failure = f"watchdog: {exc or type(exc).__name__}"

    def _round(self, sock: socket.socket, reader: StrictRespReader) -> None:
        n = self.rounds
        key, value = b"%b:%d" % (self.prefix, n % 50), b"v%d" % n
        self._call(sock, reader, [b"SET", key, value], b"+OK\r\n")
        self._call(sock, reader, [b"GET", key], b"$%d\r\n%b\r\n" % (len(value), value))
        self._call(sock, reader, [b"INCR", self.prefix + b":n"], b":%d\r\n" % (n + 1))
        self.rounds += 1

    def _call(
        self, sock: socket.socket, reader: StrictRespReader, args: list[bytes], expected: bytes
    ) -> None:
        self.waiting_since = time.monotonic()
        sock.sendall(
            b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)
        )
        replies: list[bytes] = []
        late = f"no reply to {args[0].decode()} within {self.deadline} s"
        while not replies:
            if time.monotonic() - self.waiting_since > self.deadline:
                raise ServerStuck(late)  # bytes trickled in, never a whole reply
            try:
                data = sock.recv(65536)
            except TimeoutError as exc:
                raise ServerStuck(late) from exc
            if not data:
                raise ServerStuck("the server closed the watchdog's connection")
            replies = reader.feed(data)
        if replies != [expected]:
            raise ServerStuck(f"{args[0].decode()}: expected {expected!r}, got {replies!r}")
        self.waiting_since = None


# -- attackers and the run ------------------------------------------------------------------


@dataclass
class Failure:
    message: str
    case: Case | None = None  # the case that saw it, when one did
    #: When the server was last seen well (for a hang: when the unanswered request went out).
    when: float = field(default_factory=time.monotonic)


class Attacker(threading.Thread):
    """Runs cases from its own seeded RNG until told to stop; keeps its recent cases."""

    def __init__(
        self, index: int, seed: int, port: int, stop: threading.Event, deadline: float
    ) -> None:
        super().__init__(daemon=True, name=f"attacker-{index}")
        self.index = index
        self.rng = random.Random(f"{seed}:{index}")
        self.port = port
        self.stop = stop
        self.deadline = deadline
        self.recent: collections.deque[tuple[float, Case]] = collections.deque(maxlen=400)
        self.kinds: collections.Counter[str] = collections.Counter()
        self.bytes_sent = 0
        self.failure: Failure | None = None

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            case = make_case(self.rng, f"atk:{self.index}:{number}")
            case.attacker, case.number = self.index, number
            number += 1
            self.recent.append((time.monotonic(), case))
            try:
                problem = run_case(self.port, case, self.deadline)
            except Exception:  # a bug in the fuzzer: say so rather than fuzz on with one less
                problem = "the fuzzer itself failed:\n" + traceback.format_exc()
            self.kinds[case.kind] += 1
            self.bytes_sent += len(case.payload())
            if problem is not None:
                self.failure = Failure(problem, case)
                return


@dataclass
class FuzzResult:
    seed: int
    parser: str
    seconds: float
    elapsed: float = 0.0  # until the failure, if there was one
    failure: Failure | None = None
    culprit: Case | None = None
    reproduced: str | None = None  # what replaying the culprit alone showed
    suspects: list[Case] = field(default_factory=list)
    kinds: collections.Counter = field(default_factory=collections.Counter)
    bytes_sent: int = 0
    watchdog_rounds: int = 0
    report_path: str | None = None

    def summary(self) -> str:
        cases = sum(self.kinds.values())
        mix = ", ".join(f"{k} {v}" for k, v in sorted(self.kinds.items()))
        return (
            f"protocol fuzzer, parser {self.parser}, seed {self.seed}: {cases} cases ({mix}), "
            f"{self.bytes_sent} bytes in {self.elapsed:.1f} s, {self.watchdog_rounds} watchdog rounds"
        )

    def _replay_outcome(self) -> str:
        if self.reproduced is None:
            return "not reproduced (seen only under load)"
        if self.failure is not None and self.reproduced == self.failure.message:
            return "the same failure"
        return self.reproduced

    def describe(self) -> str:
        """The failure with everything needed to replay it."""
        if self.failure is None:
            return self.summary() + ": no failure"
        lines = [
            f"PROTOCOL FUZZER FAILURE (seed {self.seed}, parser {self.parser}): {self.failure.message}"
        ]
        if self.culprit is not None:
            payload = self.culprit.payload()
            shown = (
                repr(payload)
                if len(payload) <= 600
                else repr(payload[:600]) + f"... ({len(payload)} bytes)"
            )
            lines += [
                f"culprit: attacker {self.culprit.attacker} case {self.culprit.number} ({self.culprit.kind}), "
                f"chunks {[len(c) for c in self.culprit.chunks][:50]}, ending {self.culprit.ending}",
                f"replayed alone: {self._replay_outcome()}",
                f"bytes: {shown}",
            ]
        else:
            lines.append(
                f"no single case reproduced it; {len(self.suspects)} suspects were in flight"
            )
        if self.report_path:
            lines.append(f"written to {self.report_path}")
            lines.append(f"replay: python tests/fuzz_protocol.py --replay {self.report_path}")
        lines.append(self.summary())
        return "\n".join(lines)


def start_fuzzed_server(pure_python: bool) -> ServerProcess:
    return start_magpie(*SERVER_ARGS, env={"MAGPIE_PURE_PYTHON_PARSER": "1" if pure_python else ""})


def log_problem(server: ServerProcess) -> str | None:
    text = server.log()
    match = LOG_PROBLEMS.search(text)
    if match is None:
        return None
    start = text.rfind("\n", 0, max(0, match.start() - 200)) + 1  # from a line start
    return "the server log holds:\n" + text[start : match.start() + 1500]


def fuzz(
    seconds: float,
    seed: int,
    pure_python: bool = False,
    attackers: int = 4,
    deadline: float = REPLY_DEADLINE,
    out_dir: str | None = None,
    triage_seconds: float = 120.0,
) -> FuzzResult:
    """Fuzz one server for ``seconds``; on a failure, spend up to ``triage_seconds`` finding
    the case that causes it."""
    result = FuzzResult(seed, "pure" if pure_python else "hiredis", seconds)
    server = start_fuzzed_server(pure_python)
    stop = threading.Event()
    watchdog = Watchdog(server.port, deadline)
    threads = [Attacker(i, seed, server.port, stop, deadline) for i in range(attackers)]
    started = time.monotonic()
    try:
        watchdog.start()
        for thread in threads:
            thread.start()
        result.failure = _watch(server, watchdog, threads, started + seconds)
        if result.failure is None:
            stop.set()
            for thread in threads:
                thread.join(4 * deadline)
            watchdog.stop.set()
            watchdog.join(4 * deadline)
            result.failure = _final_failure(server, watchdog, threads)
    finally:
        stop.set()
        watchdog.stop.set()
        server.stop()  # also unblocks attackers still waiting on a stuck server
    for thread in threads:
        thread.join(4 * deadline)
    result.elapsed = (result.failure.when if result.failure else time.monotonic()) - started
    result.kinds = sum((t.kinds for t in threads), collections.Counter())
    result.bytes_sent = sum(t.bytes_sent for t in threads)
    result.watchdog_rounds = watchdog.rounds
    if result.failure is not None:
        _triage(result, threads, pure_python, deadline, triage_seconds)
        result.report_path = write_report(result, out_dir)
    return result


def _watch(
    server: ServerProcess, watchdog: Watchdog, threads: list[Attacker], end: float
) -> Failure | None:
    """The main thread's loop: the first failure anyone sees, or None when time is up."""
    log_size = 0
    cpu = collections.deque(maxlen=400)  # (when, server CPU seconds), to tell a busy server
    while time.monotonic() < end:
        cpu.append((time.monotonic(), _cpu_seconds(server)))
        if not server.alive():
            return Failure(f"the server exited with code {server.proc.returncode}")
        if watchdog.failure is not None:
            return _watchdog_failure(server, watchdog, cpu)
        for thread in threads:
            if thread.failure is not None:
                return thread.failure
        size = os.path.getsize(server.log_path)
        if size != log_size:
            log_size = size
            problem = log_problem(server)
            if problem is not None:
                return Failure(problem)
        time.sleep(0.05)
    return None


def _final_failure(
    server: ServerProcess, watchdog: Watchdog, threads: list[Attacker]
) -> Failure | None:
    """After the attackers stopped: the watchdog's last round, a live server, a clean log."""
    if watchdog.is_alive():
        watchdog.failure = "watchdog: its last request got no reply"
    if watchdog.failure is not None:
        return _watchdog_failure(server, watchdog, [])
    for thread in threads:
        if thread.failure is not None:
            return thread.failure
    if not server.alive():
        return Failure(f"the server exited with code {server.proc.returncode}")
    problem = log_problem(server)
    return Failure(problem) if problem else None


def _cpu_seconds(server: ServerProcess) -> float | None:
    """CPU time the server process has used (Linux), or None."""
    try:
        with open(f"/proc/{server.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _watchdog_failure(server: ServerProcess, watchdog: Watchdog, cpu: Iterable) -> Failure:
    """The watchdog's failure with what tells a stuck server from a starved one: how much CPU
    it used meanwhile, the machine's load, and whether a new connection is answered."""
    when = watchdog.waiting_since or time.monotonic()
    notes = []
    before = [used for t, used in cpu if t <= when and used is not None]
    now = _cpu_seconds(server)
    if before and now is not None:
        notes.append(
            f"the server used {now - before[-1]:.1f} s of CPU in the {time.monotonic() - when:.1f} s since"
        )
    notes.append(f"load average {os.getloadavg()[0]:.1f}")
    problem = _probe(server, watchdog.deadline)
    notes.append(
        "a new connection is answered" if problem is None else f"a new connection: {problem}"
    )
    return Failure(f"{watchdog.failure} ({'; '.join(notes)})", when=when)


# -- finding the culprit --------------------------------------------------------------------


MAX_SUSPECTS = 80


def _suspects(failure: Failure, threads: list[Attacker], deadline: float) -> list[Case]:
    """The cases that may have caused a server-wide failure: those started in the seconds
    before the server was last seen well, latest first, then those started after it."""
    if failure.case is not None:
        return [failure.case]
    recent = sorted(
        ((t, c) for thread in threads for t, c in thread.recent), key=lambda item: -item[0]
    )
    before = [c for t, c in recent if failure.when - 2 * deadline <= t <= failure.when + 0.5]
    after = [c for t, c in reversed(recent) if t > failure.when + 0.5]
    return (before + after)[:MAX_SUSPECTS]


def replay(
    cases: list[Case], pure_python: bool, deadline: float = REPLY_DEADLINE, budget: float = 600.0
) -> tuple[Case, str] | None:
    """Run each case alone on a fresh server, each followed by a liveness probe and a log check:
    the first case that shows a problem and what it was, or None (also when ``budget``
    seconds ran out first)."""
    end = time.monotonic() + budget
    server = start_fuzzed_server(pure_python)
    try:
        for case in cases:
            if time.monotonic() > end:
                break
            problem = run_case(server.port, case, deadline) or _probe(server, deadline)
            if problem is not None:
                return case, problem
    finally:
        server.stop()
    return None


def _probe(server: ServerProcess, deadline: float) -> str | None:
    if not server.alive():
        return f"the server exited with code {server.proc.returncode}"
    probe = Case("probe", [b"*1\r\n$4\r\nPING\r\n"], expected=[b"+PONG\r\n"])
    problem = run_case(server.port, probe, deadline / 2)  # it waits twice that for a reply
    if problem is not None:
        return f"the server stopped answering: {problem}"
    return log_problem(server)


def _triage(
    result: FuzzResult, threads: list[Attacker], pure_python: bool, deadline: float, budget: float
) -> None:
    assert result.failure is not None
    result.suspects = _suspects(result.failure, threads, deadline)
    found = replay(result.suspects, pure_python, deadline, budget)
    if found is not None:
        result.culprit, result.reproduced = found
    elif result.failure.case is not None:
        result.culprit = result.failure.case  # seen under load; alone it passes


def write_report(result: FuzzResult, out_dir: str | None = None) -> str:
    """The failure as JSON (every suspect case, byte for byte) and the culprit's bytes as .bin."""
    out_dir = (
        out_dir
        or os.environ.get("MAGPIE_FUZZ_OUT")
        or os.path.join(tempfile.gettempdir(), "magpie-fuzz")
    )
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(
        out_dir, f"protocol-{result.seed}-{result.parser}-{os.getpid()}-{int(time.time())}"
    )
    cases = ([result.culprit] if result.culprit is not None else []) + [
        c for c in result.suspects if c is not result.culprit
    ]
    report = {
        "seed": result.seed, "parser": result.parser, "failure": result.failure.message if result.failure else None,
        "culprit": result.culprit is not None, "cases": [c.to_json() for c in cases],
    }  # fmt: skip
    with open(stem + ".json", "w") as fh:
        json.dump(report, fh, indent=1)
    if result.culprit is not None:
        with open(stem + ".bin", "wb") as fh:
            fh.write(result.culprit.payload())
    return stem + ".json"


# -- differential mode ----------------------------------------------------------------------


def compare_with_redis(seconds: float, seed: int, pure_python: bool) -> list[dict]:
    """Send the same cases to Magpie and to redis-server (same limits), one at a time; every
    case whose replies differ. Skipped: cases that may say HELLO (its reply names the server),
    that hang up early (what is read before then depends on timing), and with hiredis those
    in ``HIREDIS_LENIENT`` (docs/compatibility.md)."""
    magpie, redis = start_fuzzed_server(pure_python), start_redis(*SERVER_ARGS)
    rng = random.Random(f"{seed}:compare")
    differences = []
    end = time.monotonic() + seconds
    try:
        for number in itertools.count():
            if time.monotonic() > end:
                break
            case = make_case(rng, f"cmp:{number}")
            case.number = number
            payload = case.payload()
            if case.ending != "read" or may_switch_to_resp3(payload):
                continue
            if not pure_python and HIREDIS_LENIENT.search(payload):  # documented differences
                continue
            ours, theirs = transcript(magpie.port, case), transcript(redis.port, case)
            if ours != theirs:
                differences.append(
                    {"case": case.to_json(), "magpie": repr(ours), "redis": repr(theirs)}
                )
    finally:
        magpie.stop()
        redis.stop()
    return differences


# -- command line ---------------------------------------------------------------------------


def _replay_file(path: str, parser: str | None) -> int:
    """Replay a report's cases, with the parser it names unless ``parser`` says otherwise."""
    with open(path) as fh:
        report = json.load(fh)
    cases = [Case.from_json(c) for c in report["cases"]]
    parser = parser or report["parser"]
    print(f"replaying {len(cases)} cases from {path} with parser {parser} (seed {report['seed']})")
    print(f"the failure was: {report['failure']}")
    found = replay(cases, parser == "pure")
    if found is None:
        print("no case reproduces the failure on its own")
        return 0
    case, problem = found
    print(
        f"reproduced by attacker {case.attacker} case {case.number} ({case.kind}): {problem}\nbytes: {case.payload()!r}"
    )
    return 1


def _compare(seconds: float, seed: int, pure_python: bool) -> int:
    differences = compare_with_redis(seconds, seed, pure_python)
    for diff in differences:
        case = Case.from_json(diff["case"])
        print(f"case {case.number} ({case.kind}): {case.payload()[:300]!r}")
        print(f"  magpie: {diff['magpie'][:300]}\n  redis:  {diff['redis'][:300]}")
    path = os.path.join(tempfile.gettempdir(), f"magpie-fuzz-compare-{seed}.json")
    with open(path, "w") as fh:
        json.dump(differences, fh, indent=1)
    print(f"seed {seed}: {len(differences)} differences, written to {path}")
    return 1 if differences else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="total fuzzing time (split between parsers)"
    )
    parser.add_argument("--seed", type=int, default=None, help="default: a random seed, printed")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--pure-python-parser", action="store_true", help="only MAGPIE_PURE_PYTHON_PARSER=1"
    )
    which.add_argument("--hiredis-parser", action="store_true", help="only the hiredis parser")
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument(
        "--deadline", type=float, default=REPLY_DEADLINE, help="watchdog reply deadline (s)"
    )
    parser.add_argument("--replay", metavar="FILE", help="replay the cases of a failure report")
    parser.add_argument(
        "--compare-redis",
        action="store_true",
        help="report cases Magpie and redis-server answer differently",
    )
    args = parser.parse_args(argv)
    if args.replay:
        chosen = "pure" if args.pure_python_parser else "hiredis" if args.hiredis_parser else None
        return _replay_file(args.replay, chosen)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    if args.compare_redis:
        return _compare(args.seconds, seed, args.pure_python_parser)
    modes = [True] if args.pure_python_parser else [False] if args.hiredis_parser else [False, True]
    print(f"protocol fuzzer: seed {seed}, {args.seconds:g} s", flush=True)
    for pure in modes:
        result = fuzz(args.seconds / len(modes), seed, pure, args.attackers, args.deadline)
        print(result.describe(), flush=True)
        if result.failure is not None:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
