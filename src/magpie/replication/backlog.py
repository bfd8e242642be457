"""The replication backlog: the latest bytes of the replication stream, by offset, so a
replica that reconnects can be sent what it missed (a partial resync) instead of a
whole snapshot.

Offsets are Redis's: the stream's first byte is offset 1, and ``end`` is the offset of
the last byte appended (``master_repl_offset``). A replica asks for the next byte it
wants (``PSYNC replid <its offset + 1>``).
"""

from __future__ import annotations


class ReplicationBacklog:
    """A bounded window of the stream. The buffer is trimmed in amortised steps (when it
    reaches twice ``size``), but only the last ``size`` bytes are ever offered, so what
    INFO reports and what a partial resync accepts follow ``repl-backlog-size`` exactly."""

    __slots__ = ("size", "end", "_buffer", "_buffer_start")

    def __init__(self, size: int, end: int) -> None:
        self.size = max(1, size)
        self.end = end
        self._buffer = bytearray()
        self._buffer_start = end + 1  # offset of _buffer[0]

    def append(self, data: bytes) -> None:
        self._buffer += data
        self.end += len(data)
        excess = len(self._buffer) - self.size
        if excess >= self.size:
            del self._buffer[:excess]
            self._buffer_start += excess

    @property
    def histlen(self) -> int:
        """How many bytes are kept (``repl_backlog_histlen``)."""
        return min(len(self._buffer), self.size)

    @property
    def memory(self) -> int:
        """Bytes the buffer holds (up to twice ``size`` between trims)."""
        return len(self._buffer)

    @property
    def first_offset(self) -> int:
        """Offset of the oldest byte kept (``repl_backlog_first_byte_offset``)."""
        return self.end - self.histlen + 1

    def read_from(self, offset: int) -> bytes | None:
        """The stream from ``offset`` (the next byte a replica wants) to the end, or None
        when that offset is not in the window (before it, or past the end)."""
        if offset < self.first_offset or offset > self.end + 1:
            return None
        return bytes(self._buffer[offset - self._buffer_start :])

    def resize(self, size: int) -> None:
        """CONFIG SET repl-backlog-size: the window changes, the bytes kept stay valid."""
        self.size = max(1, size)
        self.append(b"")

    def reset(self, end: int) -> None:
        """Start over at ``end`` (a replica loaded a new snapshot: its history is gone)."""
        self._buffer = bytearray()
        self.end = end
        self._buffer_start = end + 1
