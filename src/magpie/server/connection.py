"""One client connection: read requests, run them in order, write replies once per read.

The hot path lives in ``data_received``: take every complete request received, run each
through the table's generic checks and its handler, encode the replies into a list, and
hand the joined bytes to the transport in one write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from magpie import errors
from magpie.commands.table import COMMANDS, DISPATCH, CommandSpec
from magpie.errors import CommandError, ProtocolError, QueryBufferExceeded
from magpie.protocol.encoder import BULK_HEADERS, ENCODERS, INT_REPLIES
from magpie.protocol.parser import RequestParser
from magpie.protocol.quoting import repr_bytes
from magpie.protocol.replies import (
    BLOCKED,
    OK,
    POSTPONED,
    REPLY_ON,
    REPLY_SKIP,
    REPLY_SKIP_NEXT,
    SUSPENDED,
)
from magpie.security.access import exec_refusal_text, refusal_text
from magpie.security.rules import ACL_OK, DENIED_AUTH, User, user_check
from magpie.server import admission
from magpie.server.client_info import client_class, describe, pending_output, transport_bytes
from magpie.store.clock import CLOCK

if TYPE_CHECKING:
    from magpie.replication.primary import Replica
    from magpie.server.blocking import Blocked
    from magpie.server.server import Server
    from magpie.store.database import Database


log = logging.getLogger("magpie")
_OK_REPLY = b"+OK\r\n"
_perf_ns = time.perf_counter_ns
#: Longest stretch of one client's pipeline run before other clients get a turn (ns).
TURN_NS = 5_000_000
_time_ns = time.time_ns
_QUEUED = "QUEUED"
_EXECABORT_BECAUSE = "EXECABORT Transaction discarded because of: "
#: Commands that run at once inside MULTI instead of being queued (as in Redis).
_RUN_IN_MULTI = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})
_OOM_EXEMPT_IN_MULTI = frozenset({"exec", "discard", "quit", "reset"})
_PUBSUB_CONTEXT_OK = {b"subscribe", b"psubscribe", b"ssubscribe", b"unsubscribe",
                      b"punsubscribe", b"sunsubscribe", b"ping", b"quit", b"reset"}  # fmt: skip


class Client(asyncio.Protocol):
    """Connection state, also the context every command handler receives."""

    __slots__ = (
        "server",
        "id",
        "db",
        "db_index",
        "resp",
        "encoders",
        "name",
        "lib_name",
        "lib_ver",
        "authenticated",
        "user",
        "parser",
        "transport",
        "addr",
        "laddr",
        "fd",
        "created",
        "last_interaction",
        "last_spec",
        "plain",
        "out",
        "closing",
        "paused_reading",
        "turn_paused",
        "reply_mode",
        "no_evict",
        "no_touch",
        "is_monitor",
        "subscriptions",
        "channels",
        "patterns",
        "shard_channels",
        "in_multi",
        "in_exec",
        "multi_queue",
        "multi_error",
        "watched",
        "dirty_cas",
        "blocked",
        "suspended",
        "propagate_as",
        "postponed",
        "leftover",
        "is_replica",
        "repl",
        "is_master",
        "woff",
        "obuf_soft_since",
        "seen_output",
    )

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
        self.user: User = server.acl.default
        self.authenticated = not server.acl.default_needs_auth()
        self.parser = RequestParser(
            server.config["proto-max-bulk-len"], server.config["client-query-buffer-limit"]
        )
        self.parser.authenticated = self.authenticated
        self.transport: asyncio.Transport | None = None
        self.addr = "?"
        self.laddr = "?"
        self.fd = -1
        self.created = time.time()
        self.last_interaction = CLOCK.ms  # wall-clock ms of the last request
        self.last_spec: CommandSpec | None = None
        #: An authenticated client outside pub/sub and MULTI: eligible for the fast path.
        self.plain = self.authenticated
        self.out: list[bytes] = []
        self.closing = False
        self.paused_reading = False
        self.turn_paused = False  # reading paused while a yielded turn's requests wait
        self.reply_mode = REPLY_ON
        self.no_evict = False
        self.no_touch = False
        self.is_monitor = False
        self.subscriptions = 0  # channels + patterns + shard channels (RESP2 subscribed mode when > 0)
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.shard_channels: set[bytes] = set()
        self.in_multi = False
        self.in_exec = False  # blocking commands run inside EXEC must not block
        self.multi_queue: list[tuple[CommandSpec, list[bytes]]] = []
        self.multi_error = False  # a command was refused while queueing: EXEC aborts
        self.watched: list[tuple[int, bytes]] = []
        self.dirty_cas = False  # a watched key changed: EXEC fails
        self.blocked: Blocked | None = None
        #: Its script is busy and handed the loop back: nothing else of it runs meanwhile.
        self.suspended = False
        #: Set by a write handler to propagate something other than its argv.
        self.propagate_as: list[list[bytes]] | None = None
        self.postponed: list[bytes] | None = None
        self.leftover: list[list[bytes]] | None = None  # requests parsed but not yet run
        #: A replica's link: replication sets it; it selects the replica output-limit class.
        self.is_replica = False
        #: What the primary knows of this connection as a replica (REPLCONF, PSYNC), else None.
        self.repl: Replica | None = None
        #: The connection that applies the primary's stream on a replica: obeyed, not checked.
        self.is_master = False
        #: How many writes the replication stream had after this client's last one (WAIT
        #: waits for the offset where it ended; 0: it never wrote).
        self.woff = 0
        self.obuf_soft_since = 0  # unix second it went over its soft output limit, 0 if not
        self.seen_output = 0  # output the transport held at the last once-a-second look

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
        refusal = admission.refusal(server, peer)
        if refusal is not None:
            server.stats.rejected_connections += 1
            transport.write(refusal)
            transport.close()
            self.closing = True
            return
        keepalive = server.config["tcp-keepalive"]
        if keepalive and sock_obj is not None:
            admission.set_keepalive(sock_obj, keepalive)  # type: ignore[arg-type]
        server.clients[self.id] = self
        server.stats.total_connections_received += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.client_gone(self)

    def pause_writing(self) -> None:
        """The client is not reading its replies: stop reading its requests meanwhile,
        unless an output buffer limit applies to it (then, as in Redis, reading goes on
        and the limit decides)."""
        if self.server.output_limits.applies(self):
            return
        if self.transport is not None and not self.paused_reading:
            self.paused_reading = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and self.paused_reading:
            self.paused_reading = False
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        """Run every complete request received so far, then write all replies at once.

        The inner loop inlines the common case (a known command without subcommands, the
        right arity, an ordinary authenticated client, no MONITOR/pause/propagation
        consumer); anything else goes through ``execute``, which does every generic check.
        Called with ``b""`` to resume a client whose requests were held (pause, blocking).
        """
        if self.closing:
            return
        server = self.server
        parser = self.parser
        out = self.out
        dispatch = DISPATCH
        encoders = self.encoders
        # Client state the fast path depends on only changes in commands that take the full
        # path (fast=False or containers), so it is re-read after each of those.
        blocking = server.blocking
        fast = self.plain and not server.slow_path and not server.monitors
        # With a propagation consumer (the AOF) the fast path feeds the log itself.
        propagating = server.propagation.active
        feed = server.propagation.feed
        replication = server.replication
        signals = server.keyspace.signals
        dirty = 0
        verdicts = self.user.fast_check  # None unless the user's permissions are restricted
        reply_on = self.reply_mode == REPLY_ON
        last = None
        measured = _NOTHING_MEASURED
        server.stats.net_input_bytes += len(data)
        started = _perf_ns()
        deadline = started + TURN_NS
        self.last_interaction = CLOCK.ms = _time_ns() // 1_000_000
        try:
            if self.postponed is not None or self.blocked is not None or self.suspended:
                if data:
                    parser.feed(data)  # held until the client may run commands again
                return
            batch = self.leftover
            if batch is None:
                batch = parser.read(data)
            elif data:
                parser.feed(data)
            while batch:
                self.leftover = None
                requests = iter(batch)
                for argv in requests:
                    spec = dispatch.get(argv[0])
                    if (
                        fast
                        and spec is not None
                        and spec.fast_ok
                        and spec.min_args <= len(argv) <= spec.max_args
                        and (
                            verdicts is None  # the user may run anything: nothing to check
                            or (verdict := verdicts[spec]) is True
                            or (verdict and argv[1].startswith(verdict))  # type: ignore[union-attr]
                        )
                    ):
                        last = spec
                        if propagating:
                            dirty = signals.dirty
                            self.propagate_as = None
                        try:
                            reply = spec.handler(self, argv)  # type: ignore[misc]
                        except CommandError as exc:
                            reply = exc
                            spec.failed_calls += 1
                            server.count_error(exc.message)
                        except Exception as exc:  # a bug: answer, log, keep serving
                            reply = self._internal_error(spec, exc)
                        if reply is SUSPENDED:  # a busy script handed the loop back
                            self.suspended = True
                            self.leftover = list(requests) or None
                            break
                        if propagating and signals.dirty != dirty and spec.is_write:
                            if self.propagate_as is None:
                                feed(self.db_index, argv)
                                self.woff = replication.fed
                            else:
                                self._propagate(argv)
                        spec.calls += 1
                        now = _perf_ns()
                        spec.ns += now - started
                        started = now
                        if blocking.ready:
                            blocking.serve_ready()
                        if reply_on:
                            if reply is OK:
                                out.append(_OK_REPLY)
                            elif reply.__class__ is bytes and len(reply) < 4096:  # type: ignore[arg-type]
                                out.append(BULK_HEADERS[len(reply)])  # type: ignore[arg-type]
                                out.append(reply)  # type: ignore[arg-type]
                                out.append(b"\r\n")
                            elif reply.__class__ is int and 0 <= reply < 1024:  # type: ignore[operator]
                                out.append(INT_REPLIES[reply])  # type: ignore[index]
                            else:
                                encoders[reply.__class__](reply, out)
                        else:
                            reply_on = self._reply_suppressed()
                        if now > deadline and self._yield_turn(requests):
                            break
                        continue
                    last = None
                    if spec is None:
                        spec = COMMANDS.get(argv[0].lower())
                    if spec is not None and spec.runs_scripts:
                        reply = server.scripting.execute_yielding(self, argv)
                    else:
                        reply = self.execute(argv)
                    started = _perf_ns()
                    if reply is POSTPONED:
                        self.postponed = argv
                        self.leftover = list(requests) or None
                        if self.transport is not None:
                            self.transport.pause_reading()
                        break
                    if reply is BLOCKED:
                        self.blocked.argv = argv  # type: ignore[union-attr]
                        self.leftover = list(requests) or None
                        break
                    if reply is SUSPENDED:
                        self.suspended = True
                        self.leftover = list(requests) or None
                        break
                    encoders = self.encoders
                    mode = self.reply_mode  # as this command left it (CLIENT REPLY ON replies)
                    if mode == REPLY_ON:
                        encoders[reply.__class__](reply, out)
                    elif mode == REPLY_SKIP_NEXT:  # CLIENT REPLY SKIP: skip the next reply
                        self.reply_mode = REPLY_SKIP
                    else:
                        self._reply_suppressed()
                    fast = self.plain and not server.slow_path and not server.monitors
                    propagating = server.propagation.active
                    verdicts = self.user.fast_check
                    reply_on = self.reply_mode == REPLY_ON
                    measured = self._measure_output(measured)
                    if self.closing:
                        break
                    if started > deadline and self._yield_turn(requests):
                        break
                if last is not None:
                    self.last_spec = last
                if self.postponed is not None or self.blocked is not None or self.suspended or self.closing:
                    break
                if self.leftover is not None:  # the turn is over: the rest runs later
                    break
                batch = None if parser.idle else parser.read()
        except ProtocolError as exc:
            self._protocol_error(exc)
            return
        except QueryBufferExceeded as exc:
            self._query_buffer_exceeded(exc)
            return
        if self.turn_paused and self.leftover is None:
            self.turn_paused = False
            if not self.paused_reading and self.postponed is None and self.transport is not None:
                self.transport.resume_reading()
        if server.aof_pending and not self.closing:
            # The AOF gets the writes before the client its replies: they wait in ``out``
            # for the AOF's one write (and fsync) at the end of this turn of the loop.
            server.aof.hold_replies(self)
        elif out:
            if server.aof_pending:
                server.aof.flush_before_replies()
            payload = b"".join(out)
            out.clear()
            server.stats.net_output_bytes += len(payload)
            if self.transport is not None:
                self.transport.write(payload)
        if self.closing and self.transport is not None:
            self.transport.close()

    def _reply_suppressed(self) -> bool:
        """CLIENT REPLY OFF/SKIP: a reply was not sent; return whether the next one is."""
        if self.reply_mode == REPLY_SKIP:
            self.reply_mode = REPLY_ON  # this reply was the one to skip
        return self.reply_mode == REPLY_ON

    def _yield_turn(self, requests: Iterator[list[bytes]]) -> bool:
        """End this client's turn after TURN_NS of work, so one long pipeline (vector HSETs
        cost up to a millisecond each) cannot hold up every other client. The requests not
        run yet are kept and resumed from the event loop. False (go on) when nothing is left."""
        rest = list(requests)
        if not rest and self.parser.idle:
            return False
        self.leftover = rest or None
        if self.leftover is None:  # the parser holds more complete requests
            self.leftover = self.parser.read() or None
            if self.leftover is None:
                return False
        if self.transport is not None and not self.turn_paused:
            self.turn_paused = True  # no more input until these have run (back-pressure)
            self.transport.pause_reading()
        if self.server.loop is not None:
            self.server.loop.call_soon(self.data_received, b"")
        return True

    def unblocked(self, reply: object) -> None:
        """The wait is over (served, timed out, CLIENT UNBLOCK): reply, then carry on."""
        if self.closing:
            return
        if self.reply_mode == REPLY_ON:
            self.encoders[reply.__class__](reply, self.out)
        elif self.reply_mode == REPLY_SKIP:
            self.reply_mode = REPLY_ON
        if reply.__class__ is CommandError:
            self.server.count_error(reply.message)  # type: ignore[attr-defined]
        if self.out:
            self.flush()
            self.server.output_limits.enforce(self, pending_output(self))
        if self.server.loop is not None:
            self.server.loop.call_soon(self.data_received, b"")  # not nested in another client's turn

    def suspended_done(self, reply: object) -> None:
        """Its busy script ended (the greenlet it ran in finished): reply, then carry on."""
        self.suspended = False
        if self.closing:
            return
        encoders = self.encoders
        if self.reply_mode == REPLY_ON:
            encoders[reply.__class__](reply, self.out)
        elif self.reply_mode == REPLY_SKIP:
            self.reply_mode = REPLY_ON
        if self.out:
            self.flush()
        if self.server.loop is not None:
            self.server.loop.call_soon(self.data_received, b"")

    def _internal_error(self, spec: CommandSpec, exc: Exception) -> CommandError:
        """A handler raised something other than CommandError: a bug in Magpie, not the client."""
        log.exception("error running %s", spec.name)
        spec.failed_calls += 1
        self.server.count_error("ERR")
        return CommandError(f"ERR internal error in '{spec.name}': {type(exc).__name__}")

    def _measure_output(self, measured: tuple[int, int]) -> tuple[int, int]:
        """After a command on the full path: hold the output of the batch so far, plus what
        the transport holds, to the client's output buffer limit (which may close it).

        ``measured`` is (entries of ``out`` counted, their bytes), so a long batch is summed
        once, not once per command. Limited clients never take the fast path (normal
        clients under a normal-class limit go through here too; see Server.slow_path)."""
        out = self.out
        limits = self.server.output_limits
        if not out or not limits.applies(self):
            return measured
        counted, held = measured
        if len(out) > counted:
            held += sum(map(len, out[counted:]))
        limits.enforce(self, held + transport_bytes(self))
        return len(out), held

    def _query_buffer_exceeded(self, exc: QueryBufferExceeded) -> None:
        """As Redis: log the client and the head of its input, close without a reply."""
        log.warning(
            "Closing client that reached max query buffer length: %s (qbuf initial bytes: %s)",
            describe(self), repr_bytes(exc.head),
        )  # fmt: skip
        self.abort()

    def _protocol_error(self, exc: ProtocolError) -> None:
        self.server.count_error("ERR")
        self.encoders[CommandError](CommandError(exc.message), self.out)
        self.close()

    def resume_postponed(self) -> None:
        """The pause ended: run the held command, then whatever followed it."""
        argv, self.postponed = self.postponed, None
        if argv is None or self.closing:
            return
        spec = DISPATCH.get(argv[0]) or COMMANDS.get(argv[0].lower())
        if spec is not None and spec.runs_scripts:
            reply = self.server.scripting.execute_yielding(self, argv)
        else:
            reply = self.execute(argv)
        if reply is POSTPONED:  # paused again meanwhile
            self.postponed = argv
            return
        if reply is SUSPENDED:  # a busy script: suspended_done carries on
            self.suspended = True
            if not self.paused_reading and self.transport is not None:
                self.transport.resume_reading()
            return
        if self.reply_mode == REPLY_ON:
            self.encoders[reply.__class__](reply, self.out)
        if self.closing:  # the held command closes the connection (CLIENT KILL of itself)
            self.close()
            return
        if not self.paused_reading and self.transport is not None:
            self.transport.resume_reading()
        self.data_received(b"")

    def flush(self) -> None:
        if self.server.aof_pending:
            self.server.aof.flush_before_replies()
        out = self.out
        payload = b"".join(out) if len(out) > 1 else out[0]
        out.clear()
        self.server.stats.net_output_bytes += len(payload)
        if self.transport is not None:
            self.transport.write(payload)

    # -- dispatch ----------------------------------------------------------------------

    def execute(self, argv: list[bytes]) -> object:
        """Run one request through the generic checks and its handler; return the reply."""
        reply = self._checked_call(argv)
        if reply.__class__ is CommandError:
            self.server.count_error(reply.message)  # type: ignore[attr-defined]
        return reply

    def _checked_call(self, argv: list[bytes]) -> object:
        """Redis's processCommand checks, in Redis's order; then queue (MULTI) or run."""
        spec = DISPATCH.get(argv[0]) or COMMANDS.get(argv[0].lower())
        # As Redis, the connection's last command (CLIENT LIST cmd=, the ACL log) is the one
        # looked up, whether or not it then runs.
        self.last_spec = spec
        if spec is None:
            return self._reject(None, errors.unknown_command(argv[0], argv[1:]))
        if spec.subcommands:
            if len(argv) >= 2:
                sub = spec.subcommands.get(argv[1].lower())
                self.last_spec = sub
                if sub is None:
                    return self._reject(spec, errors.unknown_subcommand(argv[1], spec.name))
                spec = sub
            elif spec.handler is None:
                return self._reject(spec, errors.wrong_arity(spec.name))
        argc = len(argv)
        if argc != spec.arity and (spec.arity >= 0 or argc < -spec.arity):
            return self._reject(spec, errors.wrong_arity(spec.name))
        if not self.authenticated and not spec.no_auth:
            return self._reject(spec, errors.NOAUTH)
        if self.in_multi and spec.no_multi:
            return self._reject(spec, "ERR Command not allowed inside a transaction")
        if self.user.fast_check is not None:
            result = self._acl_refusal(spec, argv)
            if result is not None:
                return self._reject(spec, refusal_text(result, spec))
        server = self.server
        # A script's shebang flags stand in for EVAL's own (Redis's evalGetCommandFlags).
        checked = server.scripting.effective_spec(spec, argv) if spec.script_flags else spec
        if server.evictor.maxmemory and self._out_of_memory(checked):
            return self._reject(spec, errors.OOM)
        if server.writes_refused is not None and (checked.is_write or spec.name == "ping" or self._exec_writes(spec)):
            return self._reject(spec, server.writes_refused)
        replication = server.replication
        if replication.restricts_commands and not self.is_master:
            refusal = replication.refusal(checked, self._exec_writes(spec))
            if refusal is not None:
                return self._reject(spec, refusal)
        if self.subscriptions and self.resp == 2 and argv[0].lower() not in _PUBSUB_CONTEXT_OK:
            return self._reject(spec, errors.NOT_ALLOWED_IN_PUBSUB.format(argv[0].decode(errors="replace").lower()))
        if replication.link is not None and not self.is_master and replication.link_stale_refusal(checked, self._exec_denies_stale(spec)):
            return self._reject(spec, errors.MASTERDOWN)
        if server.loading and "loading" not in spec.flags:
            return self._reject(spec, errors.LOADING)
        if server.scripting.busy and "allow_busy" not in spec.flags:
            return self._reject(spec, server.scripting.busy_error())
        if server.paused_until and not self.is_master and server.must_postpone(checked):
            return POSTPONED
        if self.in_multi and spec.name not in _RUN_IN_MULTI:
            self.multi_queue.append((spec, argv))
            return _QUEUED
        return self.call(spec, argv)

    def obey(self, argv: list[bytes]) -> object:
        """A replica's master client runs what its primary sent: none of the refusals apply
        to it, so an ordinary command goes straight to ``call``; anything else (unknown,
        a container, a wrong arity, MULTI state) takes ``execute``'s full path."""
        spec = DISPATCH.get(argv[0])
        if (
            spec is None
            or not spec.fast_ok
            or not spec.min_args <= len(argv) <= spec.max_args
            or self.in_multi
            or spec.name in _RUN_IN_MULTI
        ):
            return self.execute(argv)
        reply = self.call(spec, argv)
        if reply.__class__ is CommandError:
            self.server.count_error(reply.message)  # type: ignore[attr-defined]
        return reply

    def _exec_writes(self, spec: CommandSpec) -> bool:
        """EXEC counts as a write when anything it would run writes (Redis's is_write_command)."""
        return spec.name == "exec" and any(queued.is_write for queued, _ in self.multi_queue)

    def _exec_denies_stale(self, spec: CommandSpec) -> bool:
        """EXEC is refused on a stale replica when anything queued would be."""
        return spec.name == "exec" and any("stale" not in queued.flags for queued, _ in self.multi_queue)

    def _out_of_memory(self, spec: CommandSpec) -> bool:
        """Evict as the policy allows; True if the command must be refused (Redis's rules:
        commands that may grow the dataset, and anything queued in MULTI but EXEC/DISCARD)."""
        evictor = self.server.evictor
        if not evictor.over_limit or evictor.free_memory():
            return False
        if "denyoom" in spec.flags:
            return True
        if spec.name == "exec":
            return any("denyoom" in queued.flags for queued, _ in self.multi_queue)
        return self.in_multi and spec.name not in _OOM_EXEMPT_IN_MULTI

    def _reject(self, spec: CommandSpec | None, message: str) -> CommandError:
        """A command refused before running; inside MULTI it also dooms the transaction."""
        if spec is not None:
            spec.rejected_calls += 1
        if self.in_multi:
            self.multi_error = True
        if spec is not None and spec.name == "exec":
            self.discard_transaction()
            return CommandError(_EXECABORT_BECAUSE + message.removeprefix("ERR "))
        return CommandError(message)

    def discard_transaction(self) -> None:
        self.in_multi = False
        self.multi_error = False
        self.multi_queue = []
        self.server.watches.unwatch_all(self)
        self.refresh_mode()

    def call_queued(self, spec: CommandSpec, argv: list[bytes]) -> object:
        """Run a command queued by MULTI; ACLs are checked again, as rules may have
        changed since it was queued."""
        if self.user.fast_check is not None:
            result = self._acl_refusal(spec, argv)
            if result is not None:
                return CommandError(exec_refusal_text(result))
        return self.call(spec, argv)

    def _acl_refusal(self, spec: CommandSpec, argv: list[bytes]) -> int | None:
        """The user's full permission check: None if allowed, else the refusal (logged)."""
        result, index = user_check(self.user, spec, argv)
        if result == ACL_OK:
            return None
        self.server.acl.log_denied(self, result, index, spec, argv, self._log_context())
        return result

    def _log_context(self) -> bytes:
        """ACL LOG's context: inside a transaction (queueing or EXEC) or at top level."""
        return b"multi" if self.in_multi or self.in_exec else b"toplevel"

    def call(self, spec: CommandSpec, argv: list[bytes]) -> object:
        """Run the handler, keep statistics, feed monitors and the propagation log."""
        server = self.server
        self.last_spec = spec
        self.propagate_as = None  # fast-path handlers may have left theirs behind
        signals = server.keyspace.signals
        dirty = signals.dirty
        start = _perf_ns()
        try:
            reply = spec.handler(self, argv)  # type: ignore[misc]
        except CommandError as exc:
            reply = exc
            spec.failed_calls += 1
        except Exception as exc:  # a bug: answer, log, keep serving
            reply = self._internal_error(spec, exc)
        spec.ns += _perf_ns() - start
        spec.calls += 1
        if server.monitors:  # after running, as Redis: EXEC's commands are shown before it
            server.feed_monitors(self, spec, argv)
        if server.propagation.active:
            if spec.is_write and signals.dirty != dirty:
                self._propagate(argv)
            elif spec.replicas_only:
                server.propagation.feed_replicas(self.db_index, argv)
        self.propagate_as = None
        if server.blocking.ready and not self.in_exec:
            server.blocking.serve_ready()
        return reply

    def _propagate(self, argv: list[bytes]) -> None:
        """Feed the propagation log the effect of the write just run: as sent, or as the
        handler rewrote it (``propagate_as``)."""
        propagation = self.server.propagation
        rewritten, self.propagate_as = self.propagate_as, None
        if rewritten is None:
            propagation.feed(self.db_index, argv)
        elif len(rewritten) == 1 or self.in_exec:
            for item in rewritten:
                propagation.feed(self.db_index, item)
        else:  # several effects of one command go out as a transaction, as in Redis
            propagation.begin_transaction()
            for item in rewritten:
                propagation.feed(self.db_index, item)
            propagation.end_transaction()
        self.woff = self.server.replication.fed

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
        if self.subscriptions:
            self.server.pubsub.client_gone(self)
        self.discard_transaction()
        self.user = self.server.acl.default
        self.set_authenticated(not self.server.acl.default_needs_auth())

    def set_protocol(self, resp: int) -> None:
        self.resp = resp
        self.encoders = ENCODERS[resp]

    def authenticate(self, username: bytes, password: bytes, command_name: bytes) -> bool:
        """AUTH and HELLO AUTH: log in as ``username``; a failure is written to the ACL log
        (under the command's name as sent, as Redis logs it)."""
        acl = self.server.acl
        user = acl.authenticate(username, password)
        if user is None:
            acl.log_denied(self, DENIED_AUTH, 0, None, [command_name], self._log_context(), username)
            return False
        self.user = user
        self.set_authenticated(True)
        return True

    def kill_for_acl(self) -> None:
        """The user was deleted or lost a channel it listens to: back to the default user,
        unauthenticated, and closed once the command running now has replied."""
        self.user = self.server.acl.default
        self.set_authenticated(False)
        self.closing = True
        if self.server.loop is not None:
            self.server.loop.call_soon(self.close)

    def set_authenticated(self, value: bool) -> None:
        self.authenticated = value
        self.parser.authenticated = value
        self.refresh_mode()

    def refresh_mode(self) -> None:
        """Recompute whether this client may take the dispatcher's fast path."""
        self.plain = self.authenticated and not self.subscriptions and not self.in_multi

    @property
    def last_command(self) -> bytes:
        return self.last_spec.name.encode() if self.last_spec is not None else b"NULL"

    def send(self, value: object) -> None:
        """Encode an out-of-band value (a MONITOR line) and ``push`` it."""
        out: list[bytes] = []
        self.encoders[value.__class__](value, out)
        self.push(b"".join(out))

    def push(self, payload: bytes) -> None:
        """Out-of-band output (pub/sub messages, MONITOR lines), under the client's output
        buffer limit. A client in the middle of its own batch (it published, or its write
        caused a keyspace notification) gets it after the replies before it."""
        if self.closing or self.transport is None:
            return
        if self.out:
            self.out.append(payload)
            return
        if self.server.aof_pending:  # (a keyspace notification of a write): after the AOF write
            self.out.append(payload)
            self.server.aof.hold_replies(self)
            return
        self.server.stats.net_output_bytes += len(payload)
        self.transport.write(payload)
        self.server.output_limits.enforce(self, self.transport.get_write_buffer_size())

    def close(self) -> None:
        """Close after the replies already produced are written."""
        self.closing = True
        if self.out:
            self.flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close at once, dropping output not written yet (Redis's freeClient)."""
        self.closing = True
        self.out.clear()
        if self.transport is not None:
            self.transport.abort()  # connection_lost follows and calls client_gone

    def info_line(self, running: list[bytes] | None = None) -> str:
        """This connection's CLIENT LIST line; ``running`` is its request being run now."""
        return describe(self, running)

    def client_class(self) -> str:
        """Redis's class of this client: normal, slave or pubsub."""
        return client_class(self)

    def idle_seconds(self) -> int:
        return max(0, (CLOCK.ms - self.last_interaction) // 1000)


_NOTHING_MEASURED = (0, 0)


def _format_addr(addr: object) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"[{host}]:{addr[1]}" if ":" in str(host) else f"{host}:{addr[1]}"
    return str(addr) if addr else "?"
