"""Turning the bytes a client sends into commands (lists of bytes arguments).

Two parsers share one interface. ``PythonRequestParser`` is strict and incremental: it
reads multibulk and inline requests, enforces Redis's size limits and produces Redis's
exact ``Protocol error`` texts. ``RequestParser`` puts hiredis in front of it: whole
multibulk requests (the hot path) go through ``hiredis.Reader``; anything unusual (an
inline command, a request split across reads, malformed bytes) is handed to the strict
parser, which re-reads the chunk from its start so no byte is lost.
"""

from __future__ import annotations

import os

from magpie.errors import ProtocolError, QueryBufferExceeded
from magpie.protocol import hiredis_reader
from magpie.protocol.inline import split_inline

try:  # the fast path; the pure-Python parser covers everything without it
    import hiredis
except ImportError:  # pragma: no cover - exercised by the fallback tests
    hiredis = None
if os.environ.get("MAGPIE_PURE_PYTHON_PARSER"):  # run without hiredis, as where it is missing
    hiredis = None
if hiredis is not None and not hiredis_reader.layout_confirmed(hiredis):  # pragma: no cover
    hiredis = None  # without its array limit one request stalls the server: parse strictly

INLINE_MAX_SIZE = 64 * 1024  # Redis's PROTO_INLINE_MAX_SIZE
MAX_MULTIBULK = 2**31 - 1  # Redis rejects counts above INT_MAX
UNAUTH_MAX_MULTIBULK = 10
UNAUTH_MAX_BULK = 16384
_COMPACT_AT = 256 * 1024
_EMPTY_BYTEARRAY_SIZE = bytearray().__sizeof__()
#: How much of the buffered input the query-buffer-limit log line shows (as Redis).
QUERY_HEAD_BYTES = 64


def _strict_int(raw: bytes | bytearray) -> int | None:
    """Redis's string2ll: optional '-', no '+', no spaces, no leading zeros, 64 bits."""
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if str(value).encode() == raw and -(2**63) <= value < 2**63 else None


def _canonical_length(chunk: bytes, batch: list[list[bytes]]) -> int | None:
    """How many bytes of ``chunk`` the requests in ``batch`` took, when they were sent in the
    canonical form every client library uses (checked byte for byte); None otherwise, and
    the caller re-reads them. Cheaper than parsing them again in Python."""
    encoded = b"".join(
        [b"*%d\r\n%b" % (len(r), b"".join([b"$%d\r\n%b\r\n" % (len(a), a) for a in r])) for r in batch]
    )
    return len(encoded) if chunk.startswith(encoded) else None


class PythonRequestParser:
    """Strict incremental parser; holds partial requests across ``feed`` calls."""

    def __init__(self, max_bulk_len: int, max_query_buffer: int) -> None:
        self.max_bulk_len = max_bulk_len
        self.max_query_buffer = max_query_buffer
        #: While False, Redis's tighter limits for unauthenticated clients apply.
        self.authenticated = True
        self._buf = bytearray()
        self._pos = 0
        self._args: list[bytes] | None = None  # arguments read so far of a multibulk request
        self._missing = 0  # arguments still to come
        self._bulk_len = -1  # length of the bulk being read, -1 while its header is awaited

    def feed(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) - self._pos > self.max_query_buffer:
            raise QueryBufferExceeded(bytes(self._buf[self._pos : self._pos + QUERY_HEAD_BYTES]))

    def pending(self) -> int:
        """Bytes received and not yet returned as a request."""
        return len(self._buf) - self._pos

    def spare(self) -> int:
        """Bytes the input buffer has allocated beyond what it holds (CLIENT LIST qbuf-free)."""
        return max(0, self._buf.__sizeof__() - _EMPTY_BYTEARRAY_SIZE - len(self._buf) - 1)

    def partial_bytes(self) -> int:
        """Total length of the arguments read so far of an incomplete request (argv-mem)."""
        return sum(map(len, self._args)) if self._args else 0

    def busy(self) -> bool:
        """True while holding unread bytes or a partly read request."""
        return self._pos < len(self._buf) or self._args is not None

    def take_rest(self) -> bytes | None:
        """Between requests, with a multibulk request next: the unread bytes, handed back
        (the buffer is emptied) so that a faster reader can take over. None otherwise."""
        if self._args is not None or self._pos >= len(self._buf) or self._buf[self._pos] != 0x2A:
            return None
        rest = bytes(self._buf[self._pos :])
        self._buf.clear()
        self._pos = 0
        return rest

    def gets(self) -> list[bytes] | bool:
        """The next complete request, or False when more data is needed."""
        while True:
            if self._args is None:
                if self._pos >= len(self._buf):
                    self._compact()
                    return False
                if self._buf[self._pos] == 0x2A:  # '*'
                    if not self._start_multibulk():
                        return False
                    if self._args is None:
                        continue  # '*0' or '*-1': nothing to run
                else:
                    request = self._inline()
                    if request is False:
                        return False
                    if request:
                        return request
                    continue
            request = self._continue_multibulk()
            if request is not False:
                self._compact()
            return request

    def _compact(self) -> None:
        if self._pos >= len(self._buf):
            self._buf.clear()
            self._pos = 0
        elif self._pos > _COMPACT_AT:
            del self._buf[: self._pos]
            self._pos = 0

    def _line_end(self, limit_error: str) -> int:
        """Where the header line at ``_pos`` ends, found as Redis finds it: at the first CR,
        looked for with strchr (so a NUL before it hides it), once one more byte has come.
        That byte is skipped unchecked, as Redis does. -1 while the line is incomplete."""
        buf = self._buf
        end = buf.find(b"\r", self._pos)
        if end >= 0 and buf.find(b"\0", self._pos, end) >= 0:
            end = -1
        if end < 0:
            if len(buf) - self._pos > INLINE_MAX_SIZE:
                raise ProtocolError(limit_error)
            return -1
        return end if end + 1 < len(buf) else -1

    def _start_multibulk(self) -> bool:
        end = self._line_end("too big mbulk count string")
        if end < 0:
            return False
        count = _strict_int(self._buf[self._pos + 1 : end])
        if count is None or count > MAX_MULTIBULK:
            raise ProtocolError("invalid multibulk length")
        if count > UNAUTH_MAX_MULTIBULK and not self.authenticated:
            raise ProtocolError("unauthenticated multibulk length")
        self._pos = end + 2
        if count > 0:
            self._args = []
            self._missing = count
            self._bulk_len = -1
        return True

    def _continue_multibulk(self) -> list[bytes] | bool:
        buf = self._buf
        args = self._args
        assert args is not None
        while self._missing:
            if self._bulk_len < 0:
                if self._pos >= len(buf):
                    return False
                end = self._line_end("too big bulk count string")
                if end < 0:
                    return False
                if buf[self._pos] != 0x24:  # '$'
                    got = buf[self._pos : self._pos + 1].decode(errors="surrogateescape")  # as sent
                    raise ProtocolError(f"expected '$', got '{got}'")
                size = _strict_int(buf[self._pos + 1 : end])
                if size is None or size < 0 or size > self.max_bulk_len:
                    raise ProtocolError("invalid bulk length")
                if size > UNAUTH_MAX_BULK and not self.authenticated:
                    raise ProtocolError("unauthenticated bulk length")
                self._bulk_len = size
                self._pos = end + 2
            size = self._bulk_len
            if len(buf) - self._pos < size + 2:
                return False
            args.append(bytes(buf[self._pos : self._pos + size]))
            self._pos += size + 2  # like Redis, the trailing CRLF is skipped, not checked
            self._bulk_len = -1
            self._missing -= 1
        self._args = None
        return args

    def _inline(self) -> list[bytes] | bool:
        end = self._buf.find(b"\n", self._pos)
        if end >= 0 and self._buf.find(b"\0", self._pos, end) >= 0:
            # Redis looks for the newline with strchr, which stops at a NUL: the line is
            # never complete, and the client waits until it is too big (as in Redis).
            end = -1
        if end < 0:
            if len(self._buf) - self._pos > INLINE_MAX_SIZE:
                raise ProtocolError("too big inline request")
            return False
        line = bytes(self._buf[self._pos : end])
        self._pos = end + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        args = split_inline(line)
        if args is None:
            raise ProtocolError("unbalanced quotes in request")
        if not args:
            self._compact()
        return args


# RequestParser modes
_READY = 0  # between requests; the next chunk starting with '*' goes to hiredis
_HIREDIS = 1  # hiredis holds a chunk not yet read out
_STRICT = 2  # the strict parser holds data (or the client must be parsed strictly)


class RequestParser:
    """hiredis for whole multibulk requests, the strict parser for everything else.

    hiredis does not say where a request ended, so the fast path only takes chunks that
    start at a request boundary and keeps each chunk until it knows the chunk ended at one
    too. When it did not (a request split across reads) or hiredis meets something it
    should not accept, the strict parser re-reads the kept bytes, skipping the requests
    already served, and carries on until its buffer is empty again. Unauthenticated
    clients are always parsed strictly (Redis's tighter limits apply to them).

    ``next_batch`` is the server's interface: all requests of a fast chunk at once (one
    Python-level loop), or one request at a time from the strict parser, so that a change
    of limits (AUTH) applies from the next request on.
    """

    def __init__(self, max_bulk_len: int = 512 * 1024 * 1024, max_query_buffer: int = 1 << 30) -> None:
        self._strict = PythonRequestParser(max_bulk_len, max_query_buffer)
        self._reader = hiredis_reader.limited_reader(hiredis) if hiredis is not None else None
        self._mode = _READY if hiredis is not None else _STRICT
        self._chunk = b""  # the chunk hiredis is reading
        self._deferred_error: ProtocolError | None = None
        self._queue: list[list[bytes]] = []  # for gets()
        #: True when ``next_batch`` certainly has nothing more until the next ``feed``.
        self.idle = True

    @property
    def authenticated(self) -> bool:
        return self._strict.authenticated

    @authenticated.setter
    def authenticated(self, value: bool) -> None:
        self._strict.authenticated = value
        if not value and self._mode == _READY:
            self._mode = _STRICT
        elif value and self._mode == _STRICT:
            self._settle()

    def set_limits(self, max_bulk_len: int, max_query_buffer: int) -> None:
        self._strict.max_bulk_len = max_bulk_len
        self._strict.max_query_buffer = max_query_buffer

    def pending(self) -> int:
        return self._strict.pending() + (len(self._chunk) if self._mode == _HIREDIS else 0)

    def spare(self) -> int:
        return self._strict.spare()

    def partial_bytes(self) -> int:
        return self._strict.partial_bytes()

    def feed(self, data: bytes) -> None:
        self.idle = False
        mode = self._mode
        if mode == _READY:
            if data[:1] == b"*":
                self._reader.feed(data)
                self._chunk = data
                self._mode = _HIREDIS
                return
        elif mode == _HIREDIS:
            # Fed again before reading (the client is blocked or paused): the strict parser
            # buffers it all, growing in place and bounded by client-query-buffer-limit.
            chunk, self._chunk = self._chunk, b""
            self._to_strict(chunk, 0)
        self._mode = _STRICT
        self._strict.feed(data)

    def read(self, data: bytes = b"") -> list[list[bytes]]:
        """Take ``data`` (if any) and return the complete requests available now.

        An empty list means more data is needed. A malformed request raises
        ``ProtocolError`` once the requests before it were returned. Feeding and reading
        in one call keeps the per-read cost of the server's hot path down.
        """
        if data:
            if self._mode == _READY and data[:1] == b"*":
                self.idle = False
                self._reader.feed(data)
                self._chunk = data
                self._mode = _HIREDIS
            else:
                self.feed(data)
        if self._deferred_error is not None:
            error, self._deferred_error = self._deferred_error, None
            raise error
        mode = self._mode
        if mode != _HIREDIS:
            if mode == _STRICT:
                request = self._strict.gets()
                if request is not False:
                    if self._reader is not None and self._strict.authenticated:
                        rest = self._strict.take_rest()
                        if rest is not None:  # the split request is done: hiredis reads on
                            self._mode = _READY
                            try:
                                more = self.read(rest)
                            except ProtocolError as exc:  # after this request has run
                                self._deferred_error = exc
                                more = []
                            return [request, *more]
                    return [request]
                self._settle()
            self.idle = True
            return []
        reader = self._reader
        gets = reader.gets
        join = b"".join
        batch: list[list[bytes]] = []
        append = batch.append
        try:
            while (request := gets()) is not False:
                # hiredis reads any RESP type: a request is a non-empty list (not a RESP3
                # map, a dict, nor a push) of bytes (join raises TypeError otherwise).
                if request.__class__ is not list or not request:
                    raise TypeError("not a request")
                join(request)
                append(request)
            # Did the chunk end between requests? Not if hiredis holds unread bytes (a header
            # or bulk cut short); nor if it is inside a request, after an argument or after a
            # '*2' where Redis refuses a nested '*': an empty request fed now comes back as
            # itself only if hiredis was between requests.
            between = not reader.has_data()
            if between:
                reader.feed(b"*0\r\n")
                between = gets() == []
        except (hiredis.ProtocolError, TypeError):
            between = False
        if not between:
            return self._hand_over(batch)
        self._chunk = b""
        self._mode = _READY
        self.idle = True
        return batch

    next_batch = read

    def gets(self) -> list[bytes] | bool:
        """One request at a time (tests and simple callers), or False for "need more"."""
        if not self._queue:
            self._queue = self.next_batch()
            self._queue.reverse()
        return self._queue.pop() if self._queue else False

    def _settle(self) -> None:
        """Back to the fast path once the strict parser holds nothing and limits allow."""
        if self._reader is not None and self._strict.authenticated and not self._strict.busy():
            self._mode = _READY

    def _hand_over(self, batch: list[list[bytes]]) -> list[list[bytes]]:
        """The strict parser re-reads the chunk after the requests hiredis served."""
        chunk = self._chunk
        self._chunk = b""
        self._to_strict(chunk, len(batch), batch)
        try:
            request = self._strict.gets()
        except ProtocolError as exc:
            if not batch:
                raise
            self._deferred_error = exc
            return batch
        if request is not False:
            batch.append(request)
        return batch

    def _to_strict(self, chunk: bytes, served: int, batch: list[list[bytes]] | None = None) -> None:
        self._reader = hiredis_reader.limited_reader(hiredis)
        self._mode = _STRICT
        strict = self._strict
        skip = _canonical_length(chunk, batch) if batch else None
        if skip is not None:  # the strict parser starts where hiredis's requests ended
            strict.feed(chunk[skip:])
            return
        strict.feed(chunk)
        for _ in range(served):
            strict.gets()
