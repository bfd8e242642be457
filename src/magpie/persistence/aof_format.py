"""The command part of an AOF: RESP arrays of bulk strings, plus ``#`` annotation lines.

``encode_commands`` is what the writer appends; ``CommandScanner`` reads a file's commands
back with the byte offset of each, telling a torn end (the data stops inside a command: a
crash in the middle of a write) from corruption (bytes that are not the format, anywhere).
Both the loader and ``magpie-check-aof`` read through it, so they agree on every file.
"""

from __future__ import annotations

from collections.abc import Iterator

#: Longest ``*<n>``/``$<n>``/annotation line Redis reads (AOF_ANNOTATION_LINE_MAX_LEN).
MAX_LINE = 1024
_CRLF = b"\r\n"


class AofFormatError(Exception):
    """Bytes at ``offset`` are not an AOF command (and the file goes on after them)."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} at offset {offset}")
        self.reason = reason
        self.offset = offset


class AofTruncated(Exception):
    """The data ends inside the command that starts at ``offset``."""

    def __init__(self, offset: int, reason: str = "unexpected end of file") -> None:
        super().__init__(f"{reason} in the command at offset {offset}")
        self.reason = reason
        self.offset = offset


_ARRAY_HEADERS = [b"*%d\r\n" % n for n in range(64)]
_BULK_HEADERS = [b"$%d\r\n" % n for n in range(4096)]


def encode_commands(commands: list[list[bytes]]) -> bytes:
    """RESP for a run of commands (the form every client sends), in one join.

    This runs for every write the AOF logs, so the usual shapes (2 to 4 arguments) are
    unrolled and headers come from tables; an argument of 4 KB or more, or a command of
    64 arguments or more, falls back to formatting (IndexError from a table)."""
    out: list[bytes] = []
    ext = out.extend
    arrays, bulks, crlf = _ARRAY_HEADERS, _BULK_HEADERS, _CRLF
    try:
        for argv in commands:
            n = len(argv)
            if n == 3:
                a, b, c = argv
                ext((arrays[3], bulks[len(a)], a, crlf, bulks[len(b)], b, crlf, bulks[len(c)], c, crlf))
            elif n == 2:
                a, b = argv
                ext((arrays[2], bulks[len(a)], a, crlf, bulks[len(b)], b, crlf))
            elif n == 4:
                a, b, c, d = argv
                ext((arrays[4], bulks[len(a)], a, crlf, bulks[len(b)], b, crlf, bulks[len(c)], c, crlf,
                     bulks[len(d)], d, crlf))  # fmt: skip
            else:
                out.append(arrays[n])
                for arg in argv:
                    ext((bulks[len(arg)], arg, crlf))
    except IndexError:
        return b"".join(
            [b"*%d\r\n%b" % (len(argv), b"".join([b"$%d\r\n%b\r\n" % (len(a), a) for a in argv])) for argv in commands]
        )
    return b"".join(out)


def encode_command(argv: list[bytes]) -> bytes:
    return encode_commands([argv])


def _number(data: bytes, start: int, end: int) -> int | None:
    """The decimal after a ``*``/``$`` prefix, strictly (no sign, space or junk)."""
    raw = data[start:end]
    if not raw or len(raw) > 19 or not raw.isdigit():
        return None
    return int(raw)


class CommandScanner:
    """Commands of one AOF (or of its tail after an RDB preamble), from ``start``.

    Iterating yields ``(offset, argv)``; ``position`` is where the next command starts;
    nothing at or after ``end`` is read.
    Raises AofTruncated when the data ends inside a command, AofFormatError otherwise.
    ``max_bulk`` bounds a declared length that runs past the data: such a length is a
    torn tail only if the file could have been cut there, which it always could, so it
    is reported as truncation (as Redis does) unless it is larger than ``max_bulk``.
    """

    def __init__(self, data: bytes, start: int = 0, end: int | None = None, max_bulk: int = 1 << 40) -> None:
        self.data = data
        self.end = len(data) if end is None else end
        self.position = start
        self.max_bulk = max_bulk
        #: Annotation lines seen (``#TS:<unix time>`` when aof-timestamp-enabled).
        self.annotations = 0

    def __iter__(self) -> Iterator[tuple[int, list[bytes]]]:
        data = self.data
        size = self.end
        find = data.find
        while self.position < size:
            start = pos = self.position
            lead = data[pos]
            if lead == 0x23:  # '#': an annotation, up to the end of its line
                end = find(b"\n", pos, min(pos + MAX_LINE, size))
                if end < 0:
                    if size - pos < MAX_LINE:
                        raise AofTruncated(start, "unexpected end of file in an annotation")
                    raise AofFormatError("annotation line too long", start)
                self.position = end + 1
                self.annotations += 1
                continue
            if lead != 0x2A:  # '*'
                raise AofFormatError(f"expected '*', got {chr(lead)!r}", start)
            end = find(_CRLF, pos, min(pos + MAX_LINE, size))
            if end < 0:
                if size - pos < MAX_LINE:
                    raise AofTruncated(start)
                raise AofFormatError("array header line too long", start)
            argc = _number(data, pos + 1, end)
            if argc is None or argc < 1:
                raise AofFormatError("invalid argument count", start)
            pos = end + 2
            argv: list[bytes] = []
            for _ in range(argc):
                if pos >= size:
                    raise AofTruncated(start)
                if data[pos] != 0x24:  # '$'
                    raise AofFormatError(f"expected '$', got {chr(data[pos])!r}", pos)
                end = find(_CRLF, pos, min(pos + MAX_LINE, size))
                if end < 0:
                    if size - pos < MAX_LINE:
                        raise AofTruncated(start)
                    raise AofFormatError("bulk length line too long", pos)
                length = _number(data, pos + 1, end)
                if length is None:
                    raise AofFormatError("invalid bulk length", pos)
                body = end + 2
                stop = body + length
                if stop + 2 > size:
                    if length > self.max_bulk:
                        raise AofFormatError("bulk length out of range", pos)
                    # the data ends inside this argument, or right after it
                    if data[body:size] != data[body:stop] + _CRLF[: max(0, size - stop)]:
                        raise AofFormatError("expected CRLF after the argument", stop)
                    raise AofTruncated(start)
                if data[stop : stop + 2] != _CRLF:
                    raise AofFormatError("expected CRLF after the argument", stop)
                argv.append(data[body:stop])
                pos = stop + 2
            self.position = pos
            yield start, argv
