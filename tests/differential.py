"""Differential testing: run the same commands on Magpie and on a real redis-server.

A ``Differential`` holds one client per server. ``run`` sends each command to both (in
lock step, so both see the same sequence at nearly the same time), turns every reply or
error into a comparable value, and raises ``AssertionError`` with a step-by-step
transcript at the first disagreement. ``compare_keyspace`` then checks the whole dataset.

The harness knows nothing about particular data types beyond a few defaults; a test file
passes ``Rules`` saying which replies are unordered, which are time-dependent numbers to
compare within a tolerance, and any special comparison it needs.

Replies are read without redis-py's response callbacks, so what is compared is what the
server sent (``b"OK"``, not ``True``). Errors are compared by exception class and message:
redis-py strips the ``ERR`` prefix but keeps others such as ``WRONGTYPE``, and maps some
prefixes to their own classes, so the pair says exactly which error line was sent.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import redis

Command = Sequence[bytes | str | int]


@dataclass(frozen=True)
class Error:
    """A command's error reply, as redis-py reported it."""

    kind: str
    message: str

    def __repr__(self) -> str:
        return f"Error({self.kind}: {self.message!r})"


@dataclass
class Rules:
    """How replies of particular commands are compared (command names in upper case).

    ``unordered``: the reply is a list whose order is unspecified (KEYS, SMEMBERS...).
    ``tolerance``: an integer reply that depends on the clock (TTL, PTTL); non-negative
    replies match when within the tolerance, negative ones (-1, -2) must be equal.
    ``equivalent``: a custom predicate ``(command, ours, reference) -> bool``.
    """

    unordered: frozenset[str] = frozenset()
    tolerance: dict[str, int] = field(default_factory=dict)
    equivalent: dict[str, Callable[[list[bytes], object, object], bool]] = field(default_factory=dict)

    def same(self, cmd: list[bytes], ours: object, ref: object) -> bool:
        name = cmd[0].decode(errors="replace").upper() if cmd else ""
        if name in self.equivalent:
            return self.equivalent[name](cmd, ours, ref)
        if isinstance(ours, Error) or isinstance(ref, Error):
            return ours == ref
        if name in self.unordered and isinstance(ours, list) and isinstance(ref, list):
            return sorted(ours, key=repr) == sorted(ref, key=repr)
        if name in self.tolerance and isinstance(ours, int) and isinstance(ref, int):
            if ours < 0 or ref < 0:
                return ours == ref
            return abs(ours - ref) <= self.tolerance[name]
        return ours == ref


def same_pairs(cmd: list[bytes], ours: object, ref: object) -> bool:
    """A flat field/value list (RESP2 HGETALL) or a map, in any order."""

    def pairs(reply: object) -> object:
        if isinstance(reply, list):
            return sorted(zip(reply[::2], reply[1::2], strict=True))
        if isinstance(reply, dict):
            return sorted(reply.items())
        return reply

    return pairs(ours) == pairs(ref)


def same_scan_page(cmd: list[bytes], ours: object, ref: object) -> bool:
    """A SCAN-family reply ``[cursor, items]`` whose items may come in any order.

    Cursor values are an implementation detail and compared only as "finished" (``0``) or
    not, so use this for complete iterations (a large COUNT over a small collection).
    """
    if not (isinstance(ours, list) and isinstance(ref, list) and len(ours) == len(ref) == 2):
        return ours == ref
    if (ours[0] == b"0") != (ref[0] == b"0"):
        return False
    return sorted(ours[1], key=repr) == sorted(ref[1], key=repr)


#: Sensible defaults for keyspace and collection commands; extend with ``dataclasses.replace``.
DEFAULT_RULES = Rules(
    unordered=frozenset({"KEYS", "SMEMBERS", "HKEYS", "HVALS", "SUNION", "SINTER", "SDIFF"}),
    tolerance={"TTL": 1, "PTTL": 1000},
    equivalent={"HGETALL": same_pairs, "SCAN": same_scan_page},
)


def as_bytes(arg: bytes | str | int) -> bytes:
    if isinstance(arg, bytes):
        return arg
    return str(arg).encode()


def outcome(client: redis.Redis, cmd: list[bytes]) -> object:
    """The reply to ``cmd`` as plain data, or an ``Error``."""
    try:
        return normalise(client.execute_command(*cmd))
    except redis.ResponseError as exc:
        return Error(type(exc).__name__, str(exc))


def normalise(reply: object) -> object:
    """Lists for tuples, recursively; bytes stay bytes (clients do not decode)."""
    if isinstance(reply, (list, tuple)):
        return [normalise(item) for item in reply]
    if isinstance(reply, dict):
        return {normalise(k): normalise(v) for k, v in reply.items()}  # type: ignore[misc]
    return reply


def raw_client(factory: Callable[..., redis.Redis], **kwargs) -> redis.Redis:
    """A single-connection client (SELECT sticks) that hands back replies unprocessed."""
    client = factory(single_connection_client=True, **kwargs)
    client.response_callbacks.clear()
    return client


@dataclass
class Step:
    cmd: list[bytes]
    ours: object
    ref: object
    same: bool


def _show(cmd: list[bytes]) -> str:
    return " ".join(repr(a)[1:] if a else "''" for a in cmd)


def transcript(steps: list[Step], ours_name: str = "magpie", ref_name: str = "redis") -> str:
    """Each step with both replies; mismatches are marked with ``!!``."""
    lines = []
    for i, step in enumerate(steps):
        mark = "  " if step.same else "!!"
        lines.append(f"{mark} {i:3d}  {_show(step.cmd)}")
        if step.same:
            lines.append(f"           -> {step.ref!r}")
        else:
            lines.append(f"           {ours_name:>6}: {step.ours!r}")
            lines.append(f"           {ref_name:>6}: {step.ref!r}")
    return "\n".join(lines)


class Differential:
    """Two clients, one under test (``ours``) and one reference (``ref``)."""

    def __init__(self, ours: redis.Redis, ref: redis.Redis, rules: Rules = DEFAULT_RULES) -> None:
        self.ours = ours
        self.ref = ref
        self.rules = rules

    def reset(self) -> None:
        """Empty every database on both servers and select database 0."""
        for client in (self.ours, self.ref):
            client.execute_command("FLUSHALL")
            client.execute_command("SELECT", 0)

    def step(self, cmd: Command) -> Step:
        args = [as_bytes(a) for a in cmd]
        ours = outcome(self.ours, args)
        ref = outcome(self.ref, args)
        return Step(args, ours, ref, self.rules.same(args, ours, ref))

    def run(self, commands: Iterable[Command], context: str = "") -> list[Step]:
        """Run ``commands`` on both servers; fail at the first differing reply."""
        steps: list[Step] = []
        for cmd in commands:
            steps.append(self.step(cmd))
            if not steps[-1].same:
                raise AssertionError(self._report("replies differ", steps, context))
        return steps

    def compare_keyspace(self, dbs: Iterable[int], steps: Sequence[Step] = (), context: str = "") -> None:
        """Every key, type, value and TTL of the given databases must match.

        Leaves database 0 selected. Values of types without a ``DUMPERS`` entry are
        compared by type only.
        """
        checks: list[Step] = []
        try:
            for db in dbs:
                checks.append(self.step(["SELECT", db]))
                keys = self.step(["KEYS", "*"])
                checks.append(keys)
                if not keys.same or isinstance(keys.ref, Error):
                    break
                for key in sorted(keys.ref):  # type: ignore[arg-type]
                    kind = self.step(["TYPE", key])
                    checks.append(kind)
                    dumper = DUMPERS.get(kind.ref) if kind.same else None  # type: ignore[arg-type]
                    if dumper is not None:
                        checks.append(self.step(dumper(key)))
                    checks.append(self.step(["PTTL", key]))
            checks.append(self.step(["SELECT", 0]))
        finally:
            if not all(c.same for c in checks):
                history = list(steps) + [Step([b"--- keyspace check ---"], None, None, True)] + checks
                raise AssertionError(self._report("keyspace differs", history, context))

    def _report(self, what: str, steps: list[Step], context: str) -> str:
        head = f"{what} (Magpie vs redis-server)"
        if context:
            head += f"\n{context}"
        return f"{head}\n{transcript(steps)}"


#: TYPE reply -> the command that reads the whole value in a comparable form.
DUMPERS: dict[object, Callable[[bytes], list[bytes | str]]] = {
    b"string": lambda key: ["GET", key],
    b"list": lambda key: ["LRANGE", key, 0, -1],
    b"hash": lambda key: ["HGETALL", key],
    b"set": lambda key: ["SMEMBERS", key],
    b"zset": lambda key: ["ZRANGE", key, 0, -1, "WITHSCORES"],
}


def first_reply_line(port: int, args: Command, timeout: float = 5) -> bytes:
    """Send one command as a RESP array on a fresh socket and return the first reply line
    (``-ERR ...``, ``+OK``, ``:1``...) without its CRLF: the exact text a client sees."""
    parts = [as_bytes(a) for a in args]
    payload = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0]
