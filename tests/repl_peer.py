"""A fake replica for replication tests: it connects to a primary over a socket and speaks
the replica's side of the protocol (handshake, PSYNC, the snapshot, the command stream,
ACKs), so a test can see exactly what a primary sends, byte for byte.

    with FakeReplica(server.port) as replica:
        replica.handshake(listening_port=6380)
        kind, replid, offset = replica.psync()          # ("FULLRESYNC", replid, offset)
        snapshot = replica.read_rdb()                    # Snapshot(data, form)
        replica.ack(offset)                              # EOF form: the primary waits for it
        argv, nbytes = replica.read_command(timeout=5)

``replica.offset`` is the replication offset of everything applied so far (the PSYNC
offset plus the bytes of every command read), as a real replica counts it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

SyncReply = tuple[Literal["FULLRESYNC"], str, int] | tuple[Literal["CONTINUE"], str]

#: The diskless transfer's delimiter: ``$EOF:`` then 40 random bytes (Redis's RDB_EOF_MARK_SIZE).
EOF_MARK_SIZE = 40


@dataclass(frozen=True)
class ErrorReply:
    """A ``-ERR ...`` reply; returned by ``call``, not raised."""

    message: str

    @property
    def unknown_command(self) -> bool:
        return self.message.startswith("ERR unknown command")

    @property
    def needs_auth(self) -> bool:
        """NOAUTH, or the "operation not permitted" of Redis before 2.8."""
        return self.message.startswith(("NOAUTH", "ERR operation not permitted"))


#: A parsed RESP2 reply.
Reply = bytes | int | list["Reply"] | ErrorReply | None


class ReplicationError(Exception):
    """The primary answered a handshake step or PSYNC with something a replica cannot go on
    from; ``reply`` is what it sent."""

    def __init__(self, step: str, reply: Reply) -> None:
        super().__init__(f"{step}: unexpected reply {reply!r}")
        self.step = step
        self.reply = reply

    @property
    def unknown_command(self) -> bool:
        """The server does not implement the command (no primary side at all)."""
        return isinstance(self.reply, ErrorReply) and self.reply.unknown_command


@dataclass(frozen=True)
class Snapshot:
    """The RDB a full resync transferred, and how: ``"disk"`` (``$<len>\\r\\n<bytes>``) or
    ``"eof"`` (diskless, ``$EOF:<mark>\\r\\n<bytes><mark>``)."""

    data: bytes
    form: Literal["disk", "eof"]


@dataclass(frozen=True)
class StreamCommand:
    """One command of the replication stream and the bytes it took on the wire."""

    argv: list[bytes]
    nbytes: int
    raw: bytes

    @property
    def name(self) -> str:
        return self.argv[0].decode(errors="replace").lower() if self.argv else ""


def encode_command(*args: bytes | str | int) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class FakeReplica:
    """The replica's end of one replication link. Every read takes a ``timeout`` in seconds
    and raises ``TimeoutError`` when the primary sends nothing complete in time, and
    ``ConnectionError`` when it closes the link."""

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        timeout: float = 10.0,
        ack_interval: float | None = 0.1,
    ) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        #: While a stream read waits, send ``REPLCONF ACK`` this often (a real replica: every
        #: second). A primary starts the stream after a diskless transfer on the first ACK
        #: that arrives once it has seen the transfer end, which can be later than the
        #: first ACK ``full_sync`` sends. None: only explicit ``ack()`` calls.
        self.ack_interval = ack_interval
        self._last_ack = 0.0
        self._buf = bytearray()
        #: The replication offset applied so far: set by a FULLRESYNC, advanced by
        #: every command read (None before a PSYNC has been answered).
        self.offset: int | None = None
        self.replid: str | None = None

    # -- plumbing ----------------------------------------------------------------------

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> FakeReplica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, *args: bytes | str | int) -> None:
        self.sock.sendall(encode_command(*args))

    def call(self, *args: bytes | str | int, timeout: float | None = None) -> Reply:
        """Send one command and read its reply (errors come back as ``ErrorReply``)."""
        self.send(*args)
        return self.read_reply(timeout)

    def _fill(self, deadline: float, acking: bool = False) -> None:
        """Read more bytes into the buffer; ``acking``: ACK every ``ack_interval`` meanwhile."""
        while True:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                raise TimeoutError("the primary sent nothing complete in time")
            wait = remaining
            if acking and self.ack_interval is not None and self.offset is not None:
                if now - self._last_ack >= self.ack_interval:
                    self.ack()
                wait = min(wait, max(self._last_ack + self.ack_interval - now, 0.001))
            self.sock.settimeout(wait)
            try:
                chunk = self.sock.recv(1 << 16)
                break
            except TimeoutError:
                continue
        if not chunk:
            raise ConnectionError("the primary closed the connection")
        self._buf += chunk

    def _deadline(self, timeout: float | None) -> float:
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def _take_line(self, deadline: float) -> bytes:
        """One line without its CRLF (a bare ``\\n`` keepalive comes back as ``b""``)."""
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                return line[:-1] if line.endswith(b"\r") else line
            self._fill(deadline)

    def _take_exactly(self, n: int, deadline: float) -> bytes:
        while len(self._buf) < n:
            self._fill(deadline)
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _read_value(self, deadline: float) -> Reply:
        line = self._take_line(deadline)
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return ErrorReply(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self._take_exactly(n + 2, deadline)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read_value(deadline) for _ in range(n)]
        raise ValueError(f"not a RESP2 reply: {line!r}")

    def read_reply(self, timeout: float | None = None) -> Reply:
        return self._read_value(self._deadline(timeout))

    def _read_line_skipping_keepalives(self, deadline: float) -> bytes:
        while True:
            line = self._take_line(deadline)
            if line:
                return line

    # -- the replica's side of the protocol --------------------------------------------

    def _step(self, step: str, *args: bytes | str | int, timeout: float | None = None) -> None:
        reply = self.call(*args, timeout=timeout)
        if isinstance(reply, ErrorReply) or reply is None or isinstance(reply, (int, list)):
            raise ReplicationError(step, reply)

    def handshake(
        self,
        listening_port: int = 0,
        capa: Sequence[str] = ("eof", "psync2"),
        auth: str | tuple[str, str] | None = None,
        timeout: float | None = None,
    ) -> None:
        """PING, then AUTH (a password, or a ``(user, password)`` pair), REPLCONF
        listening-port, REPLCONF capa: each reply read before the next command, as a Redis
        replica does. Raises ``ReplicationError`` on any error reply, except that PING may
        be refused for want of authentication (a Redis replica accepts that and AUTHs next)."""
        reply = self.call("PING", timeout=timeout)
        if not (reply == b"PONG" or isinstance(reply, ErrorReply) and reply.needs_auth):
            raise ReplicationError("PING", reply)
        if auth is not None:
            self._step(
                "AUTH", "AUTH", *((auth,) if isinstance(auth, str) else auth), timeout=timeout
            )
        self._step(
            "REPLCONF listening-port", "REPLCONF", "listening-port", listening_port, timeout=timeout
        )
        if capa:
            pairs: list[str] = []
            for name in capa:
                pairs += ["capa", name]
            self._step("REPLCONF capa", "REPLCONF", *pairs, timeout=timeout)

    def psync(self, replid: str = "?", offset: int = -1, timeout: float | None = None) -> SyncReply:
        """Send PSYNC and parse its reply, skipping the bare ``\\n`` keepalives a primary
        sends while it waits to start a snapshot. After ``FULLRESYNC`` ``self.offset`` is the
        announced offset; after ``CONTINUE`` it is ``offset - 1`` (what the replica had)."""
        self.send("PSYNC", replid, offset)
        line = self._read_line_skipping_keepalives(self._deadline(timeout))
        words = line.split()
        if words[:1] == [b"+FULLRESYNC"] and len(words) == 3:
            self.replid, self.offset = words[1].decode(), int(words[2])
            return ("FULLRESYNC", self.replid, self.offset)
        if words[:1] == [b"+CONTINUE"]:
            self.replid = words[1].decode() if len(words) > 1 else replid
            self.offset = offset - 1
            return ("CONTINUE", self.replid)
        reply: Reply = (
            ErrorReply(line[1:].decode(errors="replace")) if line.startswith(b"-") else line
        )
        raise ReplicationError("PSYNC", reply)

    def read_rdb(self, timeout: float | None = None) -> Snapshot:
        """The snapshot that follows ``+FULLRESYNC``, in either transfer form."""
        deadline = self._deadline(timeout)
        line = self._read_line_skipping_keepalives(deadline)
        if not line.startswith(b"$"):
            raise ValueError(f"expected the RDB's $ header, got {line!r}")
        if line.startswith(b"$EOF:"):
            mark = line[5:]
            if len(mark) != EOF_MARK_SIZE:
                raise ValueError(f"EOF mark of {len(mark)} bytes, not {EOF_MARK_SIZE}: {line!r}")
            scanned = 0  # the mark is not in _buf[:scanned]: search only what is new
            while True:
                end = self._buf.find(mark, max(scanned - EOF_MARK_SIZE + 1, 0))
                if end >= 0:
                    data = bytes(self._buf[:end])
                    del self._buf[: end + EOF_MARK_SIZE]
                    return Snapshot(data, "eof")
                scanned = len(self._buf)
                self._fill(deadline)
        return Snapshot(self._take_exactly(int(line[1:]), deadline), "disk")

    def full_sync(
        self, listening_port: int = 0, capa: Sequence[str] = ("eof", "psync2"), auth: str | tuple[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[str, int, Snapshot]:  # fmt: skip
        """Handshake, ``PSYNC ? -1``, the snapshot and a first ACK (which a primary waits
        for after a diskless transfer before it streams): ``(replid, offset, snapshot)``."""
        self.handshake(listening_port=listening_port, capa=capa, auth=auth, timeout=timeout)
        reply = self.psync(timeout=timeout)
        if reply[0] != "FULLRESYNC":
            raise ReplicationError("PSYNC ? -1", reply[0].encode())
        snapshot = self.read_rdb(timeout)
        self.ack()
        return reply[1], reply[2], snapshot

    def ack(self, offset: int | None = None) -> None:
        """``REPLCONF ACK <offset>`` (the offset applied so far by default); no reply comes."""
        self.send("REPLCONF", "ACK", self.offset if offset is None else offset)
        self._last_ack = time.monotonic()

    def read_command(self, timeout: float | None = None) -> tuple[list[bytes], int]:
        """One command of the stream: its argv and how many bytes it took (``self.offset``
        advances by that much)."""
        command = self.read_stream_command(timeout)
        return command.argv, command.nbytes

    def read_stream_command(self, timeout: float | None = None) -> StreamCommand:
        deadline = self._deadline(timeout)
        # Parse without consuming until the whole command is buffered, so a timeout in the
        # middle of a command leaves the buffer intact for the next call.
        while True:
            parsed = parse_multibulk(self._buf)
            if parsed is not None:
                argv, n = parsed
                raw = bytes(self._buf[:n])
                del self._buf[:n]
                if self.offset is not None:
                    self.offset += n
                return StreamCommand(argv, n, raw)
            self._fill(deadline, acking=True)

    def read_commands_until(
        self, until: Callable[[list[bytes]], bool] | int, timeout: float | None = None
    ) -> list[StreamCommand]:
        """Commands until ``until(argv)`` is true for one (included), or ``until`` of them;
        ``TimeoutError`` if that does not happen within ``timeout`` in all."""
        deadline = self._deadline(timeout)
        commands: list[StreamCommand] = []
        while True:
            if isinstance(until, int) and len(commands) >= until:
                return commands
            command = self.read_stream_command(max(deadline - time.monotonic(), 0.001))
            commands.append(command)
            if not isinstance(until, int) and until(command.argv):
                return commands

    def read_available(
        self, quiet: float = 0.2, timeout: float | None = None
    ) -> list[StreamCommand]:
        """Every command that arrives until the stream has been silent for ``quiet`` s (or
        ``timeout`` s in all have passed: a primary PINGs every repl-ping-replica-period)."""
        deadline = self._deadline(timeout)
        commands: list[StreamCommand] = []
        while time.monotonic() < deadline:
            try:
                commands.append(self.read_stream_command(min(quiet, deadline - time.monotonic())))
            except TimeoutError:
                break
        return commands


def parse_multibulk(buf: bytearray) -> tuple[list[bytes], int] | None:
    """A complete ``*<n>`` command at the start of ``buf`` and its length, or None if more
    bytes are needed. The stream holds nothing else (no inline commands, no replies)."""
    if not buf:
        return None
    if buf[0] != ord("*"):
        raise ValueError(f"the stream holds a non-multibulk item: {bytes(buf[:80])!r}")
    end = buf.find(b"\r\n")
    if end < 0:
        return None
    count = int(buf[1:end])
    pos = end + 2
    argv: list[bytes] = []
    for _ in range(count):
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None
        if buf[pos] != ord("$"):
            raise ValueError(
                f"expected a bulk string in the stream at {pos}: {bytes(buf[pos : pos + 40])!r}"
            )
        n = int(buf[pos + 1 : end])
        start = end + 2
        if len(buf) < start + n + 2:
            return None
        if buf[start + n : start + n + 2] != b"\r\n":
            raise ValueError(f"a bulk string not followed by CRLF at {start + n}")
        argv.append(bytes(buf[start : start + n]))
        pos = start + n + 2
    return argv, pos


def rdb_keys(data: bytes, databases: int = 16) -> dict[int, dict[bytes, tuple[object, int | None]]]:
    """Decode a snapshot with Magpie's own RDB reader: ``{db: {key: (value, expire_ms)}}``,
    values as plain Python data (bytes, list, set, dict of field to value or member to score);
    expired keys are kept, as a replica keeps them."""
    from magpie.config import Config
    from magpie.persistence.rdb_reader import RdbLoad
    from magpie.store.keyspace import Keyspace

    staging = Keyspace(databases)
    RdbLoad(data, staging, Config().values, now_ms=None).run()
    result: dict[int, dict[bytes, tuple[object, int | None]]] = {}
    for db in staging.dbs:
        if db.data:
            result[db.index] = {
                key: (_plain(value), db.expires.get(key)) for key, value in db.data.items()
            }
    return result


def _plain(value: object) -> object:
    """bytes for a string, a list, a frozenset, a dict field -> value, a dict member -> score."""
    from magpie.store.types import type_name

    kind = type_name(value)
    if kind == "string":
        return value
    if kind == "list":
        return list(value)  # type: ignore[call-overload]
    if kind == "set":
        return frozenset(value)  # type: ignore[arg-type]
    if kind == "hash":
        return dict(value.items())  # type: ignore[attr-defined]
    return {member: score for score, member in value.items()}  # type: ignore[attr-defined]
