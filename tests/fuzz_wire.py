"""The command fuzzer's side of the wire: a small RESP client, what makes a reply a failure,
the command table as the server reports it, and a dataset's shape for comparing two servers.

Replies are hiredis's values (errors as ``hiredis.ReplyError`` values, not raised), so a
reply is checked as the server sent it, without a client library's interpretation.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import hiredis
from fuzz_grammar import EXTRA_ARGUMENTS, Target

#: How long a reply may take before the command counts as a hang (generous: shared CPUs).
REPLY_TIMEOUT = 15.0

Argv = list[bytes]


# -- the wire ---------------------------------------------------------------------------------


class Closed(Exception):
    """The server closed the connection."""


class Hang(Exception):
    """No reply within the timeout."""


def encode(argv: Sequence[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        parts.append(b"$%d\r\n" % len(arg))
        parts.append(arg)
        parts.append(b"\r\n")
    return b"".join(parts)


class Connection:
    """A blocking RESP connection that returns replies as hiredis parses them (errors as
    ``hiredis.ReplyError`` values, not raised)."""

    def __init__(self, port: int, resp: int = 2) -> None:
        self.port = port
        self.resp = resp
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader()
        self._syncs = 0
        if resp == 3:
            self.call([b"HELLO", b"3"])
        self.id = self.call([b"CLIENT", b"ID"])

    def send(self, commands: Sequence[Argv]) -> None:
        try:
            self.sock.settimeout(REPLY_TIMEOUT)
            self.sock.sendall(b"".join(encode(c) for c in commands))
        except TimeoutError:
            raise Hang from None
        except OSError:
            raise Closed from None

    def read(self, timeout: float = REPLY_TIMEOUT) -> object:
        deadline = time.monotonic() + timeout
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Hang
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                raise Hang from None
            except OSError:
                raise Closed from None
            if not data:
                raise Closed
            self.reader.feed(data)

    def call(self, argv: Argv, timeout: float = REPLY_TIMEOUT) -> object:
        self.send([argv])
        return self.read(timeout)

    def resync(self, first: Argv | None = None) -> list[object]:
        """Send ``first`` (if any), RESET and a PING with a fresh marker; return every reply
        before the marker's. The marker, not RESET's reply, ends the wait, since a CLIENT
        REPLY SKIP or OFF may swallow replies up to and including RESET's."""
        self._syncs += 1
        marker = b"fuzz-sync-%d" % self._syncs
        self.send([*([first] if first else []), [b"RESET"], [b"PING", marker]])
        before = []
        while (reply := self.read()) != marker:
            before.append(reply)
        if self.resp == 3:
            self.call([b"HELLO", b"3"])
        return before

    def close(self) -> None:
        self.sock.close()


class SideChannel:
    """A second connection, for seeding, checks and CLIENT UNBLOCK; it reconnects when a
    fuzzed CLIENT KILL has taken it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = Connection(port)

    def pipeline(self, commands: Sequence[Argv]) -> list[object]:
        try:
            self.conn.send(commands)
            return [self.conn.read() for _ in commands]
        except Closed:
            self.conn.close()
            self.conn = Connection(self.port)
            self.conn.send(commands)
            return [self.conn.read() for _ in commands]

    def call(self, argv: Argv) -> object:
        return self.pipeline([argv])[0]

    def close(self) -> None:
        self.conn.close()


# -- what counts as a failure ---------------------------------------------------------------------


def reply_problem(reply: object, resp: int, depth: int = 0) -> str | None:
    """Why this reply is a hard failure, or None."""
    if depth > 50:
        return None
    if isinstance(reply, hiredis.ReplyError):
        text = str(reply)
        if "internal error" in text:
            return f"internal error: {text}"
        return "traceback in an error reply" if "Traceback" in text else None
    if isinstance(reply, bytes):
        return "traceback in a reply" if b"Traceback (most recent call last)" in reply else None
    if resp == 2 and isinstance(reply, dict | set | float | bool):
        return f"RESP3 {type(reply).__name__} in a RESP2 reply"
    if isinstance(reply, dict):
        items: Iterator[object] = (x for pair in reply.items() for x in pair)
    elif isinstance(reply, list | set | tuple):
        items = iter(reply)
    else:
        return None
    for item in items:
        problem = reply_problem(item, resp, depth + 1)
        if problem:
            return problem
    return None


def is_error(reply: object) -> bool:
    return isinstance(reply, hiredis.ReplyError)


@dataclass
class Failure:
    kind: str
    detail: str
    command: Argv | None
    history: list[Argv]
    seed: int
    batch: int

    def report(self) -> str:
        lines = [f"FUZZ FAILURE ({self.kind}): {self.detail}", f"  seed {self.seed}, batch {self.batch}"]
        if self.command is not None:
            lines.append(f"  command: {show(self.command)}")
        tail = self.history[-40:]
        if tail:
            lines.append(f"  the batch before it ({len(self.history)} commands, last {len(tail)}):")
            lines += [f"    {show(argv)}" for argv in tail]
        lines.append(f"  replay: python tests/fuzz_commands.py --seed {self.seed} --batch {self.batch}")
        return "\n".join(lines)


def show(argv: Sequence[bytes], limit: int = 120) -> str:
    """A command as a redis-cli line, long arguments shortened."""
    words = []
    for arg in argv:
        text = repr(arg[:limit])[2:-1]
        words.append(f'"{text}"' + (f"...({len(arg)} bytes)" if len(arg) > limit else ""))
    return " ".join(words)


# -- the command table, over the wire -------------------------------------------------------


def _text(value: object) -> object:
    """A COMMAND DOCS reply with every bytes turned into str (maps stay dicts)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_text(k): _text(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_text(v) for v in value]
    return value


def docs_by_name(conn: Connection) -> dict[str, dict]:
    """Every command's and subcommand's docs by ``name`` / ``container|sub`` (RESP3 maps)."""
    docs: dict[str, dict] = {}
    for name, doc in _text(conn.call([b"COMMAND", b"DOCS"])).items():  # type: ignore[union-attr]
        docs[name.lower()] = doc
        for sub_name, sub_doc in doc.get("subcommands", {}).items():
            docs[sub_name.lower()] = sub_doc
    return docs


def load_targets(conn: Connection, reference: dict[str, dict]) -> list[Target]:
    """Every command and subcommand Magpie lists, with an argument tree from Magpie's docs,
    else the reference's, else the FT grammar, else none (chaos only)."""
    ours = docs_by_name(conn)
    targets = []

    def add(entry: list, parent: bytes | None) -> None:
        name = entry[0].lower()
        key = name.decode()
        words = (parent, name.split(b"|", 1)[1]) if parent else (name,)
        doc = ours.get(key, {})
        arguments = doc.get("arguments") or reference.get(key, {}).get("arguments") or EXTRA_ARGUMENTS.get(key, [])
        flags = frozenset(f.decode() for f in entry[2])
        group = doc.get("group", "")
        targets.append(Target(tuple(w.upper() for w in words), entry[1], flags, group, arguments))
        for sub in entry[9] if len(entry) > 9 else ():
            add(sub, name)

    for entry in conn.call([b"COMMAND"]):  # type: ignore[union-attr]
        add(entry, None)
    return targets


# -- comparing with redis-server ----------------------------------------------------------------


def brief(reply: object) -> str:
    return f"error {str(reply)[:80]!r}" if is_error(reply) else f"ok {repr(reply)[:60]}"


_SIZE_OF_TYPE = {b"string": b"STRLEN", b"list": b"LLEN", b"hash": b"HLEN", b"set": b"SCARD", b"zset": b"ZCARD"}


def keyspace_shape(conn: Connection, databases: int = 16) -> dict[tuple[int, bytes], tuple[object, object]]:
    """(db, key) -> (type, size) of every persistent key (the ones with a TTL may expire on one
    server before the other), over every database, to compare two servers' datasets."""
    shape: dict[tuple[int, bytes], tuple[object, object]] = {}
    for db in range(databases):
        conn.call([b"SELECT", b"%d" % db])
        keys = sorted(conn.call([b"KEYS", b"*"]))  # type: ignore[call-overload]
        conn.send([c for key in keys for c in ([b"TYPE", key], [b"PTTL", key])])
        types, ttls = [], []
        for _ in keys:
            types.append(conn.read())
            ttls.append(conn.read())
        conn.send([[_SIZE_OF_TYPE.get(t, b"EXISTS"), key] for t, key in zip(types, keys, strict=True)])  # type: ignore[arg-type]
        for key, kind, ttl in zip(keys, types, ttls, strict=True):
            size = conn.read()
            if ttl == -1:
                shape[(db, key)] = (kind, size)
    conn.call([b"SELECT", b"0"])
    return shape


def shape_difference(ours: dict, theirs: dict) -> str | None:
    for where in sorted(ours.keys() | theirs.keys()):
        if ours.get(where) != theirs.get(where):
            db, key = where
            return f"key {key!r} in db {db}: magpie {ours.get(where)}, redis {theirs.get(where)}"
    return None


