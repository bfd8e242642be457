"""A strict incremental reader of what a server sends, for fuzzers: any byte out of place is an error.

hiredis is lenient by design (it reads what a client may see and more); a fuzzer needs the
opposite, a reader that refuses anything a correct server would not send: a type byte outside
RESP, a length with a sign or leading zero, a bulk not followed by CRLF, a CR or LF inside a
status line, RESP3 types on a connection that never asked for RESP3. It returns every complete
top-level reply as the exact bytes it took, so callers can compare replies byte for byte.
"""

from __future__ import annotations

import re

_INTEGER = re.compile(rb"-?(0|[1-9][0-9]*)")
_LENGTH = re.compile(rb"0|[1-9][0-9]*")
_DOUBLE = re.compile(rb"-?(inf|nan|[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)")
_LINE_TYPES = frozenset(b"+-:")
_RESP3_LINE_TYPES = frozenset(b",#(_")
_AGGREGATES = {ord("*"): 1}
_RESP3_AGGREGATES = {ord("%"): 2, ord("~"): 1, ord(">"): 1, ord("|"): 2}
_BLOBS = frozenset(b"$")
_RESP3_BLOBS = frozenset(b"!=")


class MalformedReply(Exception):
    """The server sent bytes no correct RESP server sends; ``offset`` is where in the stream."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} at stream offset {offset}")
        self.reason = reason
        self.offset = offset


class StrictRespReader:
    """Feed the bytes of one connection in any chunks; ``feed`` returns the completed replies."""

    def __init__(self, resp3: bool = False) -> None:
        #: Whether RESP3 types are allowed (the client may have sent HELLO 3).
        self.resp3 = resp3
        self._buf = bytearray()
        self._consumed = 0  # stream offset of _buf[0]

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        replies: list[bytes] = []
        while self._buf:
            end = self._element_end(0)
            if end is None:
                break
            replies.append(bytes(self._buf[:end]))
            del self._buf[:end]
            self._consumed += end
        return replies

    def _fail(self, reason: str, pos: int) -> MalformedReply:
        return MalformedReply(reason, self._consumed + pos)

    def _line(self, pos: int) -> tuple[bytes, int] | None:
        """The line starting after the type byte at ``pos``, and where the next element starts."""
        end = self._buf.find(b"\r\n", pos + 1)
        if end < 0:
            if self._buf.find(b"\n", pos + 1) >= 0:
                raise self._fail("LF without CR", pos)
            return None
        line = bytes(self._buf[pos + 1 : end])
        if b"\r" in line or b"\n" in line:
            raise self._fail("CR or LF inside a line", pos)
        return line, end + 2

    def _element_end(self, pos: int) -> int | None:
        """Where the element starting at ``pos`` ends, or None if it is not complete yet.

        Aggregates are walked with an explicit stack of remaining counts, so a deep reply
        cannot exhaust Python's recursion limit.
        """
        remaining = [1]
        while remaining:
            if pos >= len(self._buf):
                return None
            kind = self._buf[pos]
            head = self._line(pos)
            if head is None:
                return None
            line, after = head
            children = self._check_element(kind, line, pos)
            if children is None:  # a blob: its payload and CRLF follow the header
                size = int(line) if line != b"-1" else -1
                if size >= 0:
                    if len(self._buf) < after + size + 2:
                        return None
                    if self._buf[after + size : after + size + 2] != b"\r\n":
                        raise self._fail("blob not followed by CRLF", pos)
                    self._check_blob(kind, bytes(self._buf[after : after + size]), pos)
                    after += size + 2
                children = 0
            pos = after
            remaining[-1] -= 1
            if children > 0:
                remaining.append(children)
            while remaining and remaining[-1] == 0:
                remaining.pop()
        return pos

    def _check_element(self, kind: int, line: bytes, pos: int) -> int | None:
        """Check one header line; the number of child elements, or None for a blob."""
        if kind in _LINE_TYPES or (self.resp3 and kind in _RESP3_LINE_TYPES):
            self._check_line(kind, line, pos)
            return 0
        if kind in _BLOBS or (self.resp3 and kind in _RESP3_BLOBS):
            if not (_LENGTH.fullmatch(line) or (kind == 0x24 and line == b"-1")):
                raise self._fail(f"bad blob length {line!r}", pos)
            return None
        per_item = _AGGREGATES.get(kind) or (self.resp3 and _RESP3_AGGREGATES.get(kind))
        if per_item:
            if line == b"-1" and kind == 0x2A:
                return 0
            if not _LENGTH.fullmatch(line):
                raise self._fail(f"bad aggregate length {line!r}", pos)
            return int(line) * per_item
        raise self._fail(f"unexpected type byte {bytes([kind])!r}", pos)

    def _check_line(self, kind: int, line: bytes, pos: int) -> None:
        if kind in (0x3A, 0x28):  # ':' integer, '(' big number
            ok = _INTEGER.fullmatch(line) is not None
        elif kind == 0x2C:  # ',' double
            ok = _DOUBLE.fullmatch(line) is not None
        elif kind == 0x23:  # '#' boolean
            ok = line in (b"t", b"f")
        elif kind == 0x5F:  # '_' null
            ok = line == b""
        elif kind == 0x2D:  # '-' error: an upper-case code, and never Magpie's own failure
            ok = line[:1].isupper() and b"internal error" not in line
        else:
            ok = True
        if not ok:
            raise self._fail(f"bad {bytes([kind])!r} line {line[:200]!r}", pos)

    def _check_blob(self, kind: int, payload: bytes, pos: int) -> None:
        if kind == ord("=") and (len(payload) < 4 or payload[3:4] != b":"):
            raise self._fail(f"verbatim string without a format {payload[:20]!r}", pos)
        if kind == ord("!") and b"internal error" in payload:
            raise self._fail(f"internal error {payload[:200]!r}", pos)
