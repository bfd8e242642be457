"""The command fuzzer: every command and subcommand, with hostile arguments (issue #9).

It starts a Magpie server and reads its command table over the wire: ``COMMAND`` for names,
arities and flags, ``COMMAND DOCS`` for argument trees. Magpie's docs carry no arguments
yet, so the trees come from a real redis-server's ``COMMAND DOCS`` when one is installed,
and from ``fuzz_grammar.EXTRA_ARGUMENTS`` for FT.* and DEBUG. Then it runs batches of
random calls (``fuzz_batches``): each starts from fresh seed data (every type and
encoding, two FT indexes, keys with TTLs) and mixes calls outside and inside MULTI/EXEC,
over RESP2 or RESP3.

A hard failure is: a reply that is an internal error or holds a Python traceback, a RESP3
type in a RESP2 reply, a reply that does not come (a hang), a connection the server
dropped, a dead server, ``PING`` or ``DEBUG CHECK-INVARIANTS`` failing after a batch, or a
traceback in the server log at the end. Every generated command comes from
``random.Random`` seeded with the seed and the batch number, never from a reply, so a
failure is reported with the seed and batch that replay it (with the same Magpie and
redis-server), the exact command, and the batch before it. ``--check-each-step`` pins an
invariant violation (or a dataset difference) on the step that caused it.

Commands that would legitimately stop the server, hang, or take the connection away are
tamed (``fuzz_batches.Tamer``) or handled here: SHUTDOWN only with ABORT, DEBUG only with
harmless subcommands, CONFIG SET only on an allowlist, CLIENT PAUSE short (or WRITE and
lifted at once), blocking commands with short timeouts (fed, then CLIENT UNBLOCKed when
they block anyway), SUBSCRIBE, MONITOR, HELLO, CLIENT REPLY and RESET followed by a RESET
that brings the connection back, CLIENT KILL and QUIT by reconnecting.

With a redis-server at hand, every fourth batch runs only deterministic data commands on
both servers from the same seed data and records where one replied with an error and the
other did not, and where the datasets part ways. Those are findings to look at, not
failures.

Run: ``python tests/fuzz_commands.py --seconds 60 [--seed S] [--batch N]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import hiredis
from fuzz_batches import (
    BATCH_CALLS,
    CONFIG_ALLOWED,
    DETERMINISTIC_GROUPS,
    NOT_DIFFERENTIAL,
    BatchMaker,
    Step,
    Tamer,
    command_name,
    seed_commands,
    vocabulary,
)
from fuzz_payloads import FUNCTION_LIBRARIES
from fuzz_wire import (
    REPLY_TIMEOUT,
    Argv,
    Closed,
    Connection,
    Failure,
    Hang,
    SideChannel,
    brief,
    docs_by_name,
    is_error,
    keyspace_shape,
    load_targets,
    reply_problem,
    shape_difference,
    show,
)
from servers import ServerProcess, redis_server_path, start_magpie, start_redis

#: How long a blocking command may block before the fuzzer feeds or unblocks it.
BLOCK_GRACE = 0.3
DIFFERENTIAL_EVERY = 4


@dataclass
class Finding:
    """A difference from redis-server: the command (or step) and what differed."""

    command: Argv
    detail: str
    batch: int

    def line(self) -> str:
        return f"(batch {self.batch}) {show(self.command, 40)}\n      {self.detail}"


@dataclass
class FuzzReport:
    seed: int
    seconds: float = 0.0
    batches: int = 0
    calls: int = 0
    target_names: list[bytes] = field(default_factory=list)
    called: Counter = field(default_factory=Counter)
    succeeded: Counter = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        rate = self.calls / self.seconds if self.seconds else 0.0
        called = sum(1 for name in self.target_names if self.called[name])
        succeeded = sum(1 for name in self.target_names if self.succeeded[name])
        lines = [
            f"seed {self.seed}: {self.calls} calls in {self.batches} batches, {self.seconds:.1f} s "
            f"({rate:.0f} calls/s); {called} of {len(self.target_names)} commands and subcommands "
            f"called, {succeeded} of them with a non-error reply",
            f"{len(self.failures)} hard failures, {len(self.findings)} differences from redis-server",
        ]
        return "\n".join(lines)


class Fuzzer:
    def __init__(self, seed: int, seconds: float, batch: int | None = None, differential: bool = True,
                 log: bool = True, check_each_step: bool = False) -> None:  # fmt: skip
        self.seed = seed
        self.seconds = seconds
        self.only_batch = batch
        self.check_each_step = check_each_step
        # redis-server's COMMAND DOCS shape the generated commands, so it runs whenever it is
        # installed (a seed replays the same commands with or without the comparison)
        self.want_reference = redis_server_path() is not None
        self.differential = differential
        self.log = log
        self.report = FuzzReport(seed)
        self.magpie: ServerProcess | None = None
        self.redis: ServerProcess | None = None
        self._seen_findings: set[tuple] = set()
        self._internal_errors_seen: set[tuple[bytes, str]] = set()

    # -- lifecycle ------------------------------------------------------------------------

    def run(self) -> FuzzReport:
        if self.log:
            print(f"fuzz_commands: seed {self.seed}", flush=True)
        self.magpie = start_magpie()
        try:
            if self.want_reference:
                self.redis = start_redis()
            self._run_batches()
            self._check_log()
        finally:
            self.magpie.stop()
            if self.redis is not None:
                self.redis.stop()
        if self.log:
            self._print_report()
        return self.report

    def _run_batches(self) -> None:
        assert self.magpie is not None
        self.side = SideChannel(self.magpie.port)
        reference_docs = {}
        ref = None
        if self.redis is not None:
            ref = Connection(self.redis.port, 3)
            reference_docs = docs_by_name(ref)
            ref.close()
        setup = Connection(self.magpie.port, 3)
        self.targets = load_targets(setup, reference_docs)
        setup.close()
        self.report.target_names = [b" ".join(t.words) for t in self.targets]
        known_configs = {k.decode() for k in self.side.call([b"CONFIG", b"GET", b"*"])[::2]}  # type: ignore[index]
        self.differential_targets = [
            t for t in self.targets
            if t.group in DETERMINISTIC_GROUPS and "blocking" not in t.flags and t.words[0] not in NOT_DIFFERENTIAL
        ]  # fmt: skip
        started = time.monotonic()
        numbers = [self.only_batch] if self.only_batch is not None else range(1 << 30)
        for number in numbers:
            if self.only_batch is None and time.monotonic() - started >= self.seconds:
                break
            rng = random.Random(f"{self.seed}/{number}")
            differential = (self.differential and self.redis is not None
                            and number % DIFFERENTIAL_EVERY == DIFFERENTIAL_EVERY - 1)  # fmt: skip
            self._batch(number, rng, known_configs, differential)
            self.report.batches += 1
            if any(f.kind != "internal error" for f in self.report.failures):
                break
        self.report.seconds = time.monotonic() - started
        self.side.close()

    def _batch(self, number: int, rng: random.Random, known_configs: set[str], differential: bool) -> None:
        assert self.magpie is not None
        resp = rng.choice((2, 3))
        seeds, keys = seed_commands(differential)
        self.batch_keys = {key for names in keys.values() for key in names} | {b"new:%d" % i for i in range(6)}
        self._prepare(seeds, rng, differential)
        ref = self._prepare_reference(seeds) if differential else None
        targets = self.differential_targets if differential else self.targets
        tamer = Tamer(rng, known_configs, differential)
        steps = BatchMaker(rng, targets, tamer, vocabulary(keys)).steps(BATCH_CALLS)
        history: list[Argv] = []
        self.comparing = differential
        self.batch_number = number
        main = Connection(self.magpie.port, resp)
        try:
            for step in steps:
                failure = self._run_step(step, main, ref, history, number)
                if failure is not None:
                    self.report.failures.append(failure)
                    if failure.kind != "internal error":
                        self._check_alive(history, number)
                        return
                if step.kind == "closer":
                    main = self._reconnect_if_closed(main, resp)
                if self.check_each_step and (failure := self._invariants_after(step, history, number)):
                    self.report.failures.append(failure)
                    return
            self._after_batch(main, history, number)
            if self.comparing and history:
                self._compare_keyspaces(history[-1])
        finally:
            main.close()
            if ref is not None:
                ref.close()

    def _prepare(self, seeds: list[Argv], rng: random.Random, differential: bool) -> None:
        """Fresh data and settings on Magpie: FLUSHALL, the allowlisted configs back, the seeds."""
        setup = [[b"FLUSHALL"], [b"FUNCTION", b"FLUSH"], [b"FUNCTION", b"LOAD", FUNCTION_LIBRARIES[0]],
                 [b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1"], [b"DEBUG", b"RECORD-PROPAGATION", b"off"]]  # fmt: skip
        config = dict(CONFIG_ALLOWED)
        if not differential:  # sometimes under memory accounting, sometimes evicting
            roll = rng.random()
            if roll < 0.6:
                policies = ["allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-ttl", "noeviction", "allkeys-random"]
                config["maxmemory"] = "2gb" if roll < 0.45 else "300kb"
                config["maxmemory-policy"] = rng.choice(policies)
        for name, value in config.items():
            setup.append([b"CONFIG", b"SET", name.encode(), value.encode()])
        commands = [*setup, *seeds]
        for argv, reply in zip(commands, self.side.pipeline(commands), strict=True):
            if is_error(reply):
                raise RuntimeError(f"seeding failed: {show(argv)} -> {reply}")

    def _prepare_reference(self, seeds: list[Argv]) -> Connection:
        assert self.redis is not None
        ref = Connection(self.redis.port)
        for argv in [[b"FLUSHALL"], *seeds]:
            ref.call(argv)
        return ref

    # -- steps --------------------------------------------------------------------------------

    def _run_step(self, step: Step, main: Connection, ref: Connection | None,
                  history: list[Argv], number: int) -> Failure | None:  # fmt: skip
        def fail(kind: str, detail: str, argv: Argv | None) -> Failure:
            return Failure(kind, detail, argv, list(history), self.seed, number)

        commands = step.commands
        if step.kind == "resync":
            return self._resync(main, commands[0], history, fail)
        try:
            main.send(commands)
        except (Closed, Hang) as exc:
            return fail("connection", f"sending failed ({type(exc).__name__})", commands[0])
        replies: list[object] = []
        found: Failure | None = None  # a bad reply: the step's other replies are still read
        for position, argv in enumerate(commands):
            self.report.calls += 1
            self.report.called[command_name(argv)] += 1
            try:
                reply = self._read_reply(step.kind, main, argv)
            except Hang:
                unanswered = commands[position:]
                history.extend(unanswered)
                detail = f"no reply in {REPLY_TIMEOUT:.0f} s"
                if len(unanswered) > 1:  # replies are flushed per pipeline: any of these hung
                    detail += f" to the last {len(unanswered)} commands of a pipeline (one of them hangs)"
                return fail("hang", detail, argv)
            except Closed:
                history.append(argv)
                if step.kind == "closer":
                    return None
                return fail("connection", "the server closed the connection", argv)
            except hiredis.ProtocolError as exc:
                history.append(argv)
                return fail("bad reply", f"unparseable reply: {exc}", argv)
            history.append(argv)
            replies.append(reply)
            problem = reply_problem(reply, main.resp)
            if problem is not None and found is None:
                kind = "internal error" if problem.startswith("internal error") else "bad reply"
                failure = fail(kind, problem, argv)
                if kind != "internal error" or self._first_of_its_kind(failure):
                    found = failure
            if not is_error(reply):
                self.report.succeeded[command_name(argv)] += 1
        if self.comparing and ref is not None:
            self.comparing = self._compare(commands, replies, ref)
        return found

    def _read_reply(self, kind: str, main: Connection, argv: Argv) -> object:
        """The next reply. In a blocking step that keeps us waiting, the side connection first
        pushes to the keys the command names (so a blocked pop is served, into whatever its
        destination holds), then sends CLIENT UNBLOCK."""
        if kind != "blocking":
            return main.read()
        deadline = time.monotonic() + REPLY_TIMEOUT
        fed = False
        while True:
            try:
                return main.read(BLOCK_GRACE)
            except Hang:
                if time.monotonic() > deadline:
                    raise
                if not fed:
                    self._feed(argv)
                    fed = True
                else:
                    self.side.call([b"CLIENT", b"UNBLOCK", str(main.id).encode()])

    def _feed(self, argv: Argv) -> None:
        keys = [arg for arg in argv[1:] if arg in self.batch_keys][:3]
        self.side.pipeline([c for key in keys for c in ([b"RPUSH", key, b"fed"], [b"ZADD", key, b"1", b"fed"])]
                           or [[b"PING"]])  # fmt: skip

    def _resync(self, main: Connection, argv: Argv, history: list[Argv], fail) -> Failure | None:  # noqa: ANN001
        """A connection-state command, then RESET: every reply up to the marker is checked."""
        self.report.calls += 1
        self.report.called[command_name(argv)] += 1
        history.append(argv)
        try:
            replies = main.resync(argv)
        except Hang:
            return fail("hang", "no reply after a connection-state command and RESET", argv)
        except Closed:
            return fail("connection", "closed after a connection-state command and RESET", argv)
        for reply in replies:
            problem = reply_problem(reply, 3)  # the protocol switches under HELLO: be lenient
            if problem is not None and "RESP3" not in problem:
                return fail("internal error" if problem.startswith("internal") else "bad reply", problem, argv)
        if replies and not is_error(replies[0]):
            self.report.succeeded[command_name(argv)] += 1
        return None

    def _invariants_after(self, step: Step, history: list[Argv], number: int) -> Failure | None:
        """``--check-each-step``: pin an invariant violation on the step that caused it."""
        checked = self.side.call([b"DEBUG", b"CHECK-INVARIANTS"])
        if checked == b"OK":
            return None
        return Failure("invariant", str(checked), step.commands[-1], list(history), self.seed, number)

    def _reconnect_if_closed(self, main: Connection, resp: int) -> Connection:
        try:
            main.call([b"PING"], timeout=REPLY_TIMEOUT)
            return main
        except (Closed, Hang):
            main.close()
            return Connection(main.port, resp)

    def _first_of_its_kind(self, failure: Failure) -> bool:
        """Internal errors are kept going after; each (command, error) is reported once."""
        key = (command_name(failure.command or [b"?"]), failure.detail)
        if key in self._internal_errors_seen:
            return False
        self._internal_errors_seen.add(key)
        return True

    # -- after a batch -----------------------------------------------------------------------------

    def _after_batch(self, main: Connection, history: list[Argv], number: int) -> None:
        def fail(kind: str, detail: str) -> None:
            self.report.failures.append(Failure(kind, detail, None, list(history), self.seed, number))

        try:
            extra = main.resync()[1:]  # RESET's own reply first
            if extra:
                fail("bad reply", f"{len(extra)} replies nobody asked for, first {extra[0]!r:.200}")
        except (Closed, Hang) as exc:
            fail("connection", f"RESET at the end of the batch failed ({type(exc).__name__})")
        if not self._check_alive(history, number):
            return
        try:
            pong, checked = self.side.pipeline([[b"PING"], [b"DEBUG", b"CHECK-INVARIANTS"]])
        except (Closed, Hang) as exc:
            fail("hang", f"the server does not answer after the batch ({type(exc).__name__})")
            return
        if pong != b"PONG":
            fail("bad reply", f"PING answered {pong!r}")
        if checked != b"OK":
            fail("invariant", str(checked))

    def _check_alive(self, history: list[Argv], number: int) -> bool:
        assert self.magpie is not None
        if self.magpie.alive():
            return True
        log = self.magpie.log()[-3000:]
        self.report.failures.append(Failure("crash", f"the server exited:\n{log}", None, list(history), self.seed, number))
        return False

    def _check_log(self) -> None:
        assert self.magpie is not None
        text = self.magpie.log()
        for marker in ("Traceback", "error running"):
            at = text.find(marker)
            if at >= 0:
                self.report.failures.append(
                    Failure("server log", f"{marker!r} in the server log:\n{text[max(0, at - 200):at + 3000]}",
                            None, [], self.seed, -1)  # fmt: skip
                )
                return

    # -- differential ---------------------------------------------------------------------------

    def _compare(self, commands: list[Argv], replies: list[object], ref: Connection) -> bool:
        """Send the step to redis-server too; False (stop comparing: the datasets may differ
        from here on) at the first command where one server errs and the other does not."""
        ref.send(commands)
        for argv, ours in zip(commands, replies, strict=True):
            try:
                theirs = ref.read()
            except (Closed, Hang):
                return False
            if is_error(ours) != is_error(theirs):
                key = (command_name(argv), is_error(ours), str(theirs)[:30] if is_error(theirs) else str(ours)[:30])
                self._finding(key, argv, f"magpie: {brief(ours)}\n      redis:  {brief(theirs)}")
                return False
        if self.check_each_step:
            return self._compare_keyspaces(commands[-1])
        return True

    def _compare_keyspaces(self, argv: Argv) -> bool:
        """Both datasets have the same keys, types and sizes (else a finding, and False)."""
        assert self.magpie is not None and self.redis is not None
        ours, theirs = Connection(self.magpie.port), Connection(self.redis.port)
        try:
            difference = shape_difference(keyspace_shape(ours), keyspace_shape(theirs))
        finally:
            ours.close()
            theirs.close()
        if difference is None:
            return True
        self._finding((command_name(argv), "keyspace"), argv, f"after this step the datasets differ: {difference}")
        return False

    def _finding(self, key: tuple, argv: Argv, detail: str) -> None:
        if key not in self._seen_findings:
            self._seen_findings.add(key)
            self.report.findings.append(Finding(argv, detail, self.batch_number))

    def _print_report(self) -> None:
        report = self.report
        print(report.summary())
        never = sorted(name.decode() for name in report.target_names if not report.succeeded[name])
        if never:
            print(f"never a non-error reply ({len(never)}): {', '.join(never)}")
        for finding in report.findings[:40]:
            print("  difference:", finding.line())
        for failure in report.failures:
            print(failure.report())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=None, help="default: a random seed (printed)")
    parser.add_argument("--batch", type=int, default=None, help="replay only this batch of the seed")
    parser.add_argument("--no-differential", action="store_true", help="do not run redis-server alongside")
    parser.add_argument("--check-each-step", action="store_true", help="DEBUG CHECK-INVARIANTS after every step")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    fuzzer = Fuzzer(seed, args.seconds, batch=args.batch, differential=not args.no_differential,
                    check_each_step=args.check_each_step)  # fmt: skip
    report = fuzzer.run()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
