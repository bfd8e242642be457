"""One fuzz case over one connection: send its pieces, read what comes back, check it.

The checks are the protocol fuzzer's oracle (tests/fuzz_protocol.py): every byte back must
be well-formed RESP (``resp_reader``) without ``internal error`` or a traceback; after a
protocol error nothing more may come and the connection must close; valid requests must get
exactly their replies; and a twin case must get the same replies cut as it is and sent in
one piece. A connection left waiting for more bytes is not a failure (Redis waits too).
"""

from __future__ import annotations

import dataclasses
import select
import socket
import struct
import time

from fuzz_protocol_cases import Case
from resp_reader import MalformedReply, StrictRespReader

#: Per-reply deadline (generous: the machine is slow and shared).
REPLY_DEADLINE = 5.0
QUIET = 0.05  # a garbage case's replies are read until the server is this long silent
GARBAGE_READ_CAP = 1.0


class CaseConnection:
    """Sends one case's chunks (reading replies meanwhile, so neither side blocks) and checks
    every byte that comes back."""

    def __init__(self, port: int, case: Case, deadline: float, quiet: float = QUIET) -> None:
        self.case = case
        self.deadline = deadline
        self.quiet = quiet
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=deadline)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.reader = StrictRespReader(resp3=case.resp3)
        self.replies: list[bytes] = []
        self.received = bytearray()
        self.eof = False
        self.protocol_error_at: int | None = None  # index of the reply that was one
        self.problem: str | None = None

    def run(self) -> str | None:
        """Send, read, check; the first problem found, or None."""
        try:
            for i, chunk in enumerate(self.case.chunks):
                if not self._send(chunk):
                    break
                if self.case.gap and i + 1 < len(self.case.chunks):
                    self._read_for(self.case.gap)
            if self.case.ending == "read" and self.problem is None:
                self._read_replies()
        finally:
            self._hang_up()
        return self.problem or self._check_replies()

    def _hang_up(self) -> None:
        try:
            if self.case.ending == "reset":
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            self.sock.close()

    def _send(self, data: bytes) -> bool:
        """False when the server closed the connection or stopped reading (not a failure)."""
        view = memoryview(data)
        last_progress = time.monotonic()
        while view and not self.eof and self.problem is None:
            readable, writable, _ = select.select([self.sock], [self.sock], [], 0.1)
            if readable:
                self._receive()
            if writable:
                try:
                    sent = self.sock.send(view[: 1 << 18])
                except BlockingIOError:
                    continue
                except OSError:  # closed by the server (after a protocol error, say)
                    return False
                view = view[sent:]
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > self.deadline:
                return False  # the server stopped reading this client: a hang, not a failure
        return not self.eof

    def _receive(self) -> bool:
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.received += data
        if b"Traceback" in data:
            self.problem = "a reply holds a Python traceback"
        try:
            for reply in self.reader.feed(data):
                self._got(reply)
        except MalformedReply as exc:
            self.problem = f"malformed reply: {exc}"
        return True

    def _got(self, reply: bytes) -> None:
        if self.protocol_error_at is not None:
            self.problem = f"a reply after the protocol error: {reply[:200]!r}"
        elif reply.startswith(b"-ERR Protocol error"):
            self.protocol_error_at = len(self.replies)
        self.replies.append(reply)

    def _read_for(self, seconds: float) -> bool:
        """Read whatever arrives within ``seconds``; whether anything did."""
        end = time.monotonic() + seconds
        got = False
        while not self.eof and self.problem is None:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return got
            got = self._receive() or got
        return got

    def _read_replies(self) -> None:
        expected = self.case.expected
        start = time.monotonic()
        while not self.eof and self.problem is None:
            waited = time.monotonic() - start
            if self.protocol_error_at is not None or (
                expected is not None and len(self.replies) < len(expected)
            ):
                if waited > 2 * self.deadline:
                    return
                self._read_for(0.1)
            elif not self._read_for(self.quiet) or (expected is None and waited > GARBAGE_READ_CAP):
                return

    def _check_replies(self) -> str | None:
        if self.protocol_error_at is not None and not self.eof and self.case.ending == "read":
            return "the connection stayed open after a protocol error"
        expected = self.case.expected
        if expected is None or self.case.ending != "read":
            return None
        for i, (got, want) in enumerate(zip(self.replies, expected, strict=False)):
            if want is not None and got != want:
                return f"reply {i}: expected {want[:300]!r}, got {got[:300]!r}"
        if len(self.replies) != len(expected):
            closed = "the server closed the connection" if self.eof else "no more replies came"
            return f"{len(self.replies)} replies to {len(expected)} requests ({closed})"
        return None


def run_case(port: int, case: Case, deadline: float = REPLY_DEADLINE) -> str | None:
    """One case on a new connection (two for a twin case): a problem description, or None."""
    if case.twin:
        return _run_twin(port, case, deadline)
    try:
        conn = CaseConnection(port, case, deadline)
    except OSError as exc:
        return f"cannot connect: {exc}"
    return conn.run()


def _run_twin(port: int, case: Case, deadline: float) -> str | None:
    """The case's bytes in one piece, then in its pieces: the replies must be the same. A
    difference is checked again with longer waits, so a slow reply is not taken for one."""
    whole = dataclasses.replace(case, chunks=[case.payload()], gap=0.0, twin=False)
    for quiet in (0.15, 1.0):
        runs = []
        for version in (whole, case):
            try:
                runs.append(CaseConnection(port, version, deadline, quiet))
            except OSError as exc:
                return f"cannot connect: {exc}"
            problem = runs[-1].run()
            if problem is not None:
                return problem
        (a, b) = ((bytes(r.received), r.eof) for r in runs)
        if a == b:
            return None
    return (
        f"the same bytes got other replies in {len(case.chunks)} pieces: in one piece "
        f"{a[0][:400]!r} (closed: {a[1]}), in pieces {b[0][:400]!r} (closed: {b[1]})"
    )


def transcript(port: int, case: Case) -> tuple[bytes, bool]:
    """What one case gets back, and whether the server closed the connection."""
    conn = CaseConnection(port, case, REPLY_DEADLINE, quiet=0.3)
    conn.run()
    return bytes(conn.received), conn.eof
