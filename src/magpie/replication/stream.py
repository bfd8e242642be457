"""Commands of a replication stream with the byte offset where each ends (no I/O).

A replica must count the stream's bytes exactly, command by command (its offset is the
primary's, and a transaction counts only at its EXEC). Primaries send every command in
the canonical multibulk form, so hiredis parses the bytes and each command's length is
checked by encoding it again and comparing with what came; anything else (a
non-canonical length, garbage, an incomplete or odd reply) goes through the strict
pure-Python scanner, which is slower, accepts every valid form and names the error.
"""

from __future__ import annotations

from collections.abc import Iterator

import hiredis

from magpie.persistence.aof_format import AofTruncated, CommandScanner, encode_commands

#: An incomplete tail up to this size is checked by the scanner (absurd lengths, which
#: hiredis would wait for); a longer one is a command arriving.
_TAIL_CHECKED = 1 << 16


def stream_commands(data: bytes, max_bulk: int, start: int = 0) -> Iterator[tuple[list[bytes], int]]:
    """(argv, end offset in ``data``) for each whole command from ``start``; stops at an
    incomplete tail. Raises AofFormatError for bytes that are not commands."""
    position = start
    reader = hiredis.Reader()
    reader.feed(data, start)
    try:
        while True:
            argv = reader.gets()
            if argv is False:
                if len(data) - position > _TAIL_CHECKED:
                    return  # a big command on its way (a length past max_bulk is short)
                break  # hiredis waits for any length: the scanner judges the tail
            if argv.__class__ is not list or not argv:
                break
            piece = encode_commands([argv])
            if not data.startswith(piece, position):
                break  # (also a non-bytes element: its encoding cannot match)
            position += len(piece)
            yield argv, position
    except (hiredis.ProtocolError, TypeError):
        pass
    scanner = CommandScanner(data, start=position, max_bulk=max_bulk)
    try:
        for _, argv in scanner:
            yield argv, scanner.position
    except AofTruncated:
        return
