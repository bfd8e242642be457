"""One client connection: read requests, run them in order, write replies once per read.

The hot path lives in ``data_received``: parse every complete request in the chunk, run
each through the table's generic checks and its handler, encode the replies into a list,
and hand the joined bytes to the transport in one write.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from magpie import errors
from magpie.commands.table import COMMANDS, CommandSpec
from magpie.errors import CommandError, ProtocolError
from magpie.protocol.encoder import ENCODERS
from magpie.protocol.parser import RequestParser
from magpie.store.clock import CLOCK

if TYPE_CHECKING:
    from magpie.server.server import Server
    from magpie.store.database import Database


class _NoReply:
    """Returned by handlers whose reply is sent some other way (or not at all)."""

    __slots__ = ()


NO_REPLY = _NoReply()
#: Returned by ``execute`` when CLIENT PAUSE holds the command back until the pause ends.
POSTPONED = _NoReply()
# CLIENT REPLY modes; SKIP_NEXT is what CLIENT REPLY SKIP sets, so its own reply is not the one skipped.
REPLY_ON, REPLY_OFF, REPLY_SKIP, REPLY_SKIP_NEXT = 0, 1, 2, 3
_perf_ns = time.perf_counter_ns
_PUBSUB_CONTEXT_OK = {b"subscribe", b"psubscribe", b"ssubscribe", b"unsubscribe",
                      b"punsubscribe", b"sunsubscribe", b"ping", b"quit", b"reset"}  # fmt: skip


class Client(asyncio.Protocol):
    """Connection state, also the context every command handler receives."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.id = server.next_client_id()
        self.db: Database = server.keyspace[0]
        self.db_index = 0
        self.resp = 2
        self.encoders = ENCODERS[2]
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.authenticated = not server.config["requirepass"]
        self.parser = RequestParser(
            server.config["proto-max-bulk-len"], server.config["client-query-buffer-limit"]
        )
        self.parser.authenticated = self.authenticated
        self.transport: asyncio.Transport | None = None
        self.addr = "?"
        self.laddr = "?"
        self.fd = -1
        self.created = time.time()
        self.last_interaction = time.monotonic()
        self.last_command = b"NULL"
        self.out: list[bytes] = []
        self.closing = False
        self.paused_reading = False
        self.reply_mode = REPLY_ON
        self.no_evict = False
        self.no_touch = False
        self.is_monitor = False
        self.subscriptions = 0  # channels + patterns (RESP2 subscribed mode when > 0)
        #: Set by a write handler to propagate something other than its argv.
        self.propagate_as: list[list[bytes]] | None = None
        self.postponed: list[bytes] | None = None

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        sock_obj = transport.get_extra_info("socket")
        self.fd = sock_obj.fileno() if sock_obj is not None else -1
        self.addr = _format_addr(peer)
        self.laddr = _format_addr(sock)
        server = self.server
        if len(server.clients) >= server.config["maxclients"]:
            server.stats.rejected_connections += 1
            transport.write(b"-" + errors.MAX_CLIENTS.encode() + b"\r\n")
            transport.close()
            self.closing = True
            return
        server.clients[self.id] = self
        server.stats.total_connections_received += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.client_gone(self)

    def pause_writing(self) -> None:
        """The client is not reading its replies: stop reading its requests meanwhile."""
        if self.transport is not None and not self.paused_reading:
            self.paused_reading = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and self.paused_reading:
            self.paused_reading = False
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        server = self.server
        server.stats.net_input_bytes += len(data)
        self.last_interaction = time.monotonic()
        CLOCK.update()
        parser = self.parser
        out = self.out
        try:
            parser.feed(data)
            while not self.closing:
                argv = parser.gets()
                if argv is False:
                    break
                reply = self.execute(argv)
                if reply is POSTPONED:
                    self.postponed = argv
                    self.transport.pause_reading()  # type: ignore[union-attr]
                    break
                if reply.__class__ is CommandError:
                    server.count_error(reply.message)  # type: ignore[attr-defined]
                if self.reply_mode == REPLY_ON:
                    if reply is not NO_REPLY:
                        self.encoders[reply.__class__](reply, out)
                elif self.reply_mode == REPLY_SKIP:
                    self.reply_mode = REPLY_ON  # this reply was the one to skip
                elif self.reply_mode == REPLY_SKIP_NEXT:
                    self.reply_mode = REPLY_SKIP
        except ProtocolError as exc:
            self.encoders[CommandError](CommandError(exc.message), out)
            self.closing = True
        if out:
            self.flush()
        if self.closing and self.transport is not None:
            self.transport.close()

    def resume_postponed(self) -> None:
        """The pause ended: run the held command, then whatever followed it."""
        argv, self.postponed = self.postponed, None
        if argv is None or self.closing:
            return
        reply = self.execute(argv)
        if reply is POSTPONED:  # paused again meanwhile
            self.postponed = argv
            return
        if reply is not NO_REPLY and self.reply_mode == REPLY_ON:
            self.encoders[reply.__class__](reply, self.out)
        if not self.paused_reading and self.transport is not None:
            self.transport.resume_reading()
        self.data_received(b"")

    def flush(self) -> None:
        out = self.out
        payload = b"".join(out) if len(out) > 1 else out[0]
        out.clear()
        self.server.stats.net_output_bytes += len(payload)
        if self.transport is not None:
            self.transport.write(payload)

    # -- dispatch ----------------------------------------------------------------------

    def execute(self, argv: list[bytes]) -> object:
        """Run one request through the generic checks and its handler; return the reply."""
        spec = COMMANDS.get(argv[0])
        if spec is None:
            spec = COMMANDS.get(argv[0].lower())
            if spec is None:
                self.server.stats.unknown_commands += 1
                return CommandError(errors.unknown_command(argv[0], argv[1:]))
        if spec.subcommands:
            if len(argv) >= 2:
                sub = spec.subcommands.get(argv[1].lower())
                if sub is None:
                    spec.rejected_calls += 1
                    return CommandError(errors.unknown_subcommand(argv[1], spec.name))
                spec = sub
            elif spec.handler is None:
                spec.rejected_calls += 1
                return CommandError(errors.wrong_arity(spec.name))
        argc = len(argv)
        if argc != spec.arity and (spec.arity >= 0 or argc < -spec.arity):
            spec.rejected_calls += 1
            return CommandError(errors.wrong_arity(spec.name))
        if not self.authenticated and not spec.no_auth:
            spec.rejected_calls += 1
            return CommandError(errors.NOAUTH)
        if self.server.paused_until and self.server.must_postpone(spec):
            return POSTPONED
        if self.subscriptions and self.resp == 2 and argv[0].lower() not in _PUBSUB_CONTEXT_OK:
            spec.rejected_calls += 1
            return CommandError(errors.NOT_ALLOWED_IN_PUBSUB.format(argv[0].decode(errors="replace").lower()))
        return self.call(spec, argv)

    def call(self, spec: CommandSpec, argv: list[bytes]) -> object:
        """Run the handler, keep statistics, feed monitors and the propagation log."""
        server = self.server
        if server.monitors:
            server.feed_monitors(self, argv)
        self.last_command = spec.name.encode()
        signals = server.keyspace.signals
        dirty = signals.dirty
        start = _perf_ns()
        try:
            reply = spec.handler(self, argv)  # type: ignore[misc]
        except CommandError as exc:
            reply = exc
            spec.failed_calls += 1
        spec.usec += (_perf_ns() - start) // 1000
        spec.calls += 1
        server.stats.commands_processed += 1
        if spec.is_write and signals.dirty != dirty and server.propagation.active:
            rewritten = self.propagate_as
            if rewritten is None:
                server.propagation.feed(self.db_index, argv)
            else:
                for item in rewritten:
                    server.propagation.feed(self.db_index, item)
        self.propagate_as = None
        return reply

    # -- state changes used by handlers --------------------------------------------------

    def select(self, index: int) -> None:
        self.db = self.server.keyspace[index]
        self.db_index = index

    def reset(self) -> None:
        """RESET: back to a fresh connection's state (db 0, RESP2, no name, reply on)."""
        self.select(0)
        self.set_protocol(2)
        self.name = b""
        self.reply_mode = REPLY_ON
        self.no_evict = self.no_touch = False
        if self.is_monitor:
            self.is_monitor = False
            self.server.monitors.remove(self)
        self.set_authenticated(not self.server.config["requirepass"])

    def set_protocol(self, resp: int) -> None:
        self.resp = resp
        self.encoders = ENCODERS[resp]

    def set_authenticated(self, value: bool) -> None:
        self.authenticated = value
        self.parser.authenticated = value

    def send(self, value: object) -> None:
        """Write an out-of-band reply now (MONITOR lines, pub/sub messages)."""
        if self.closing or self.transport is None:
            return
        out: list[bytes] = []
        self.encoders[value.__class__](value, out)
        payload = b"".join(out)
        self.server.stats.net_output_bytes += len(payload)
        self.transport.write(payload)

    def close(self) -> None:
        """Close after the replies already produced are written."""
        self.closing = True
        if self.out:
            self.flush()
        if self.transport is not None:
            self.transport.close()

    def idle_seconds(self) -> int:
        return int(time.monotonic() - self.last_interaction)


def _format_addr(addr: object) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"[{host}]:{addr[1]}" if ":" in str(host) else f"{host}:{addr[1]}"
    return str(addr) if addr else "?"
