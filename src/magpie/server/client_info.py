"""What CLIENT LIST, CLIENT INFO and INFO clients report about a connection.

Redis's field names and order, filled from Magpie's own state. The memory fields keep
Redis's meaning, measured on Magpie's buffers:

- ``qbuf``: input received and not parsed yet; for the client whose command is running,
  plus that request (Redis keeps it in the query buffer while it runs).
- ``qbuf-free``: what the input buffer has allocated beyond what it holds.
- ``argv-mem``: the arguments of the command running, waiting (blocked, paused) or still
  arriving (an incomplete request).
- ``multi-mem``: the arguments queued by MULTI plus a pointer each, as Redis counts them.
- ``obl``: replies produced in the current read batch, not yet handed to the socket
  (where Redis's 16 KB reply buffer fills first).
- ``omem``: output the transport holds because the client has not read it yet; ``oll``
  counts it in Redis's 16 KB reply blocks.
- ``tot-mem``: the connection's objects, its buffers and all of the above.

``obl + omem`` is a client's pending output: what ``client-output-buffer-limit`` bounds
and what ``client_recent_max_output_buffer`` reports.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from magpie.server.connection import Client

#: Redis's reply block size (PROTO_REPLY_CHUNK_BYTES); also its reply buffer's.
REPLY_CHUNK_BYTES = 16 * 1024
_POINTER = 8  # Redis counts a robj pointer per argument in argv-mem / multi-mem totals


def client_class(c: Client) -> str:
    """Redis's getClientType: the primary's link, a replica (MONITOR counts as normal), a
    subscriber, or normal."""
    if c.is_master:
        return "master"
    if c.is_replica and not c.is_monitor:
        return "slave"
    if c.subscriptions:
        return "pubsub"
    return "normal"


def reply_bytes(c: Client) -> int:
    """Replies produced in the current batch and not yet written (``obl``)."""
    return sum(map(len, c.out)) if c.out else 0


def transport_bytes(c: Client) -> int:
    """Output the transport holds, not yet taken by the socket (``omem``)."""
    transport = c.transport
    return transport.get_write_buffer_size() if transport is not None else 0


def pending_output(c: Client) -> int:
    if c.is_replica and c.repl is not None:
        return c.repl.pending_stream()  # (a snapshot on its way does not count, as in Redis)
    return reply_bytes(c) + transport_bytes(c)


def request_size(argv: list[bytes]) -> int:
    """Bytes of ``argv`` as a client library sends it (``*<n>`` then ``$<len>`` per argument)."""
    return len(b"*%d\r\n" % len(argv)) + sum(len(b"$%d\r\n" % len(a)) + len(a) + 2 for a in argv)


def _argv_bytes(c: Client, running: list[bytes] | None) -> int:
    if running is not None:
        return sum(map(len, running))
    waiting = c.postponed or (c.blocked.argv if c.blocked is not None else None)
    if waiting:
        return sum(map(len, waiting))
    return c.parser.partial_bytes()


def multi_bytes(c: Client) -> int:
    return sum(sum(map(len, argv)) + _POINTER * len(argv) for _, argv in c.multi_queue)


def input_bytes(c: Client, running: list[bytes] | None = None) -> tuple[int, int, int]:
    """(qbuf, qbuf-free, argv-mem)."""
    parser = c.parser
    qbuf = parser.pending() + (request_size(running) if running is not None else 0)
    return qbuf, parser.spare(), _argv_bytes(c, running)


def total_memory(c: Client, qbuf: int, free: int, argv: int, multi: int, obl: int, omem: int) -> int:
    """tot-mem: the connection's own objects plus every buffer counted above."""
    own = sys.getsizeof(c) + sys.getsizeof(c.channels) + sys.getsizeof(c.patterns)
    own += sys.getsizeof(c.shard_channels) + sys.getsizeof(c.out)
    return own + qbuf + free + argv + multi + obl + omem


def _flags(c: Client) -> str:
    """Redis's flag letters, in Redis's order (N when none applies)."""
    flags = ""
    if c.is_monitor:
        flags += "O"
    elif c.is_replica:
        flags += "S"
    elif c.is_master:
        flags += "M"
    if c.subscriptions:
        flags += "P"
    if c.in_multi:
        flags += "x"
    if c.blocked is not None:
        flags += "b"
    if c.dirty_cas:
        flags += "d"
    if c.closing:
        flags += "A"
    if c.no_evict:
        flags += "e"
    return flags or "N"


def _events(c: Client) -> str:
    """r while the connection is read, w while output waits for the socket."""
    transport = c.transport
    if transport is None:
        return ""
    return ("r" if transport.is_reading() else "") + ("w" if transport.get_write_buffer_size() else "")


def describe(c: Client, running: list[bytes] | None = None) -> str:
    """One line of CLIENT LIST (Redis's catClientInfoString); ``running`` is the command
    ``c`` itself is running now (CLIENT LIST / CLIENT INFO), if any."""
    now = time.time()
    qbuf, free, argv = input_bytes(c, running)
    multi = multi_bytes(c)
    obl = reply_bytes(c)
    omem = transport_bytes(c)
    oll = -(-omem // REPLY_CHUNK_BYTES)
    tot = total_memory(c, qbuf, free, argv, multi, obl, omem)
    name = c.name.decode(errors="replace")
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd={c.fd} name={name} "
        f"age={int(now - c.created)} idle={c.idle_seconds()} flags={_flags(c)} db={c.db_index} "
        f"sub={len(c.channels)} psub={len(c.patterns)} ssub={len(c.shard_channels)} "
        f"multi={len(c.multi_queue) if c.in_multi else -1} qbuf={qbuf} qbuf-free={free} "
        f"argv-mem={argv} multi-mem={multi} rbs={REPLY_CHUNK_BYTES} rbp=0 obl={obl} oll={oll} "
        f"omem={omem} tot-mem={tot} events={_events(c)} cmd={c.last_command.decode()} "
        f"user={c.user.name.decode(errors='replace')} redir=-1 resp={c.resp} "
        f"lib-name={c.lib_name.decode(errors='replace')} lib-ver={c.lib_ver.decode(errors='replace')}"
    )


class RecentPeaks:
    """The largest input and output buffers seen in the last few seconds, for INFO clients.

    As Redis: one slot per second for the last 8 seconds, each holding the largest values
    sampled in its second; the slot about to be reused is cleared as the clock reaches it.
    """

    SLOTS = 8

    def __init__(self) -> None:
        self._input = [0] * self.SLOTS
        self._output = [0] * self.SLOTS

    def start_second(self, unix_seconds: int) -> int:
        """Clear the slot the next second will use; return the current slot."""
        slot = unix_seconds % self.SLOTS
        following = (slot + 1) % self.SLOTS
        self._input[following] = self._output[following] = 0
        return slot

    def sample(self, slot: int, c: Client) -> None:
        qbuf, free, argv = input_bytes(c)
        self._input[slot] = max(self._input[slot], qbuf + free + argv)
        self._output[slot] = max(self._output[slot], pending_output(c))

    def recent_max(self) -> tuple[int, int]:
        """(client_recent_max_input_buffer, client_recent_max_output_buffer)."""
        return max(self._input), max(self._output)
