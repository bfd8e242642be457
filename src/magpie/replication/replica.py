"""The replica side: the link to the primary, from the handshake to the applied stream.

Redis's sequence, step by step: connect; ``PING``; ``AUTH`` (masterauth/masteruser),
``REPLCONF listening-port``, ``REPLCONF capa eof capa psync2``, each reply read in
turn; then ``PSYNC <replid> <offset+1>`` (or ``PSYNC ? -1`` with no history). A full
resync brings a snapshot, as ``$<len>`` or diskless ``$EOF:<mark>``; it is received
whole, written to the RDB file and loaded into a staging keyspace, so a transfer cut at
any byte leaves the old dataset serving. Then the stream: each command is run by the
master client (obeyed, never refused, expired keys seen as they are) and its exact bytes
are passed on to this server's own replicas and backlog, so offsets stay byte-exact
along a chain. ``REPLCONF ACK <offset>`` goes up every second and on ``GETACK``.
A lost link is retried with backoff, asking for a partial resync.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from magpie.errors import CommandError
from magpie.persistence.aof import OFF as AOF_OFF
from magpie.persistence.aof_format import AofFormatError, encode_commands
from magpie.persistence.children import fsync_directory
from magpie.persistence.rdb_format import RdbError
from magpie.protocol.replies import REPLY_OFF
from magpie.replication.stream import stream_commands
from magpie.store.clock import CLOCK
from magpie.store.signals import EXPIRE_HIDE, EXPIRE_KEEP

if TYPE_CHECKING:
    from magpie.replication.manager import Replication
    from magpie.server.connection import Client

log = logging.getLogger("magpie")

#: ROLE's names for the link states.
CONNECT, CONNECTING, HANDSHAKE, TRANSFER, CONNECTED = "connect", "connecting", "handshake", "sync", "connected"
_EOF_MARK_LEN = 40
#: Longest reply line accepted during the handshake before the link is called garbage.
_MAX_LINE = 64 * 1024
_BACKOFF_FIRST, _BACKOFF_MAX = 0.1, 5.0
_SLICE_SECONDS = 0.02
#: A read this big means the stream is queued up: the link yields to the loop after it.
_YIELD_READ = 64 * 1024


def _format_peer(addr: object) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return "?"


class LinkError(Exception):
    """The primary said something the protocol does not allow: drop the link, retry."""


class MasterLink(asyncio.Protocol):
    def __init__(self, replication: Replication, host: str, port: int, psync_replid: str) -> None:
        self.replication = replication
        self.server = replication.server
        self.host = host
        self.port = port
        #: The history to continue (PSYNC <replid> <offset+1>), "?" when there is none.
        self.psync_replid = psync_replid
        self.state = CONNECT
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        #: Bytes at the buffer's start already run: a MULTI's commands, queued until its EXEC.
        self.scanned = 0
        self.step = ""
        self.stopped = False
        self.backoff = _BACKOFF_FIRST
        self.retry: asyncio.TimerHandle | None = None
        self.last_io = time.monotonic()
        self.down_since = 0  # unix seconds the link went down, 0 if it never was up
        self.master_client = self._new_master_client()
        # -- a full resync in progress
        self.sync_replid = ""
        self.sync_offset = 0
        self.transfer_size = -1
        self.eof_mark = b""
        self.received = bytearray()
        self.loading: asyncio.Task | None = None
        self.transfer_last_io = time.monotonic()
        #: Stream bytes applied in the batch being run, not yet passed on (ACKs count them).
        self.applied_ahead = 0

    def _new_master_client(self) -> Client:
        from magpie.server.connection import Client

        client = Client(self.server)
        client.is_master = True
        client.user = self.server.acl.superuser()
        client.set_authenticated(True)
        client.reply_mode = REPLY_OFF
        client.addr = f"{self.host}:{self.port}"
        return client

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.state == CONNECTED

    def start(self) -> None:
        log.info("Connecting to MASTER %s:%d", self.host, self.port)
        self._schedule(0)

    def stop(self) -> None:
        """REPLICAOF NO ONE or another primary: drop the link for good."""
        self.stopped = True
        if self.retry is not None:
            self.retry.cancel()
        if self.transport is not None:
            self.transport.abort()
            self.transport = None
        self._drop_master_client()
        self.received = bytearray()

    def _schedule(self, delay: float) -> None:
        if self.stopped or self.server.loop is None:
            return
        self.retry = self.server.loop.call_later(delay, self._connect)

    def _connect(self) -> None:
        self.retry = None
        if self.stopped:
            return
        self.state = CONNECTING
        self.last_io = time.monotonic()
        assert self.server.loop is not None
        self.server.loop.create_task(self._open())

    async def _open(self) -> None:
        loop = self.server.loop
        assert loop is not None
        timeout = int(self.server.config["repl-timeout"])  # type: ignore[call-overload]
        try:
            await asyncio.wait_for(loop.create_connection(lambda: self, self.host, self.port), timeout)
        except (TimeoutError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "Connection timed out"
            log.warning("Error condition on socket for SYNC: %s", reason)
            self._retry_later()

    def _retry_later(self) -> None:
        if self.stopped:
            return
        self.state = CONNECT
        self._schedule(self.backoff)
        self.backoff = min(self.backoff * 2, _BACKOFF_MAX)

    def fail(self, message: str) -> None:
        """Drop the link (logged) and try again later; the dataset stays as it is."""
        log.warning("%s", message)
        if self.transport is not None:
            self.transport.abort()  # connection_lost schedules the retry

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.stopped:
            transport.abort()
            return
        self.transport = transport  # type: ignore[assignment]
        self.buffer = bytearray()
        self.scanned = 0
        self.state = HANDSHAKE
        self.last_io = time.monotonic()
        log.info("MASTER <-> REPLICA sync started")
        self._send([b"PING"])
        self.step = "ping"

    def _drop_master_client(self) -> None:
        client = self.master_client
        client.transport = None
        self.server.clients.pop(client.id, None)
        client.discard_transaction()  # a half-received MULTI is dropped

    def connection_lost(self, exc: Exception | None) -> None:
        was_connected = self.state == CONNECTED
        self.transport = None
        self._drop_master_client()
        if self.stopped:
            return
        if was_connected:
            log.warning("Connection with master lost.")
            log.info("Caching the disconnected master state.")
            self.down_since = int(time.time())
            self.psync_replid = self.replication.ids.replid
            self.backoff = _BACKOFF_FIRST
        if self.loading is None:
            self.received = bytearray()
            self._retry_later()

    def eof_received(self) -> None:
        """The primary closed the link (connection_lost follows)."""
        if self.state == TRANSFER and self.loading is None:
            log.warning("I/O error trying to sync with MASTER: connection lost")

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.last_io = self.transfer_last_io = now
        self.master_client.last_interaction = CLOCK.update()
        self.server.stats.net_repl_input_bytes += len(data)
        self.buffer += data
        try:
            self._advance()
        except LinkError as exc:
            self.fail(str(exc))
        transport = self.transport
        if len(data) >= _YIELD_READ and transport is not None and self.state == CONNECTED:
            # uvloop (libuv) reads a busy socket up to 32 times in one wakeup, so a heavy
            # stream held every client for seconds: one read, then the others get a turn
            transport.pause_reading()
            assert self.server.loop is not None
            self.server.loop.call_soon(self._resume_after_turn, transport)

    def _resume_after_turn(self, transport: asyncio.Transport) -> None:
        if transport is self.transport and self.loading is None and self.state == CONNECTED:
            transport.resume_reading()

    # -- the handshake -------------------------------------------------------------------------

    def _send(self, argv: list[bytes]) -> None:
        if self.transport is not None:
            self.transport.write(encode_commands([argv]))

    def _line(self) -> bytes | None:
        end = self.buffer.find(b"\n")
        if end < 0:
            if len(self.buffer) > _MAX_LINE:
                raise LinkError("Bad protocol from MASTER: reply line too long, closing the link")
            return None
        line = bytes(self.buffer[:end]).rstrip(b"\r")
        del self.buffer[: end + 1]
        return line

    def _advance(self) -> None:
        while self.transport is not None and self.loading is None:
            if self.step == "stream":
                self._apply()
                return
            if self.step == "bulk":
                if not self._receive_bulk():
                    return
                continue
            line = self._line()
            if line is None:
                return
            self._reply(line)

    def _reply(self, line: bytes) -> None:
        step = self.step
        text = line.decode(errors="replace")
        if step == "ping":
            if not line.startswith(b"+") and not line.startswith((b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted")):
                raise LinkError(f"Error reply to PING from master: '{text}'")
            log.info("Master replied to PING, replication can continue...")
            self._send_handshake()
        elif step == "auth":
            if line.startswith(b"-"):
                raise LinkError(f"Unable to AUTH to MASTER: {text}")
            self.step = "port"
        elif step == "port":
            if line.startswith(b"-"):
                log.info("(Non critical) Master does not understand REPLCONF listening-port: %s", text)
            self.step = "ip" if self.server.config["replica-announce-ip"] else "capa"
        elif step == "ip":
            if line.startswith(b"-"):
                log.info("(Non critical) Master does not understand REPLCONF ip-address: %s", text)
            self.step = "capa"
        elif step == "capa":
            if line.startswith(b"-"):
                log.info("(Non critical) Master does not understand REPLCONF capa: %s", text)
            self._send_psync()
        elif step == "psync":
            self._psync_reply(line, text)
        elif step == "bulk_header":
            self._bulk_header(line, text)

    def _send_handshake(self) -> None:
        """AUTH and the REPLCONFs go together; their replies are read one by one."""
        config = self.server.config
        password = str(config["masterauth"])
        if password:
            user = str(config["masteruser"])
            self._send([b"AUTH", user.encode(), password.encode()] if user else [b"AUTH", password.encode()])
        port = int(config["replica-announce-port"]) or self.server.tcp_port  # type: ignore[call-overload]
        self._send([b"REPLCONF", b"listening-port", str(port).encode()])
        announce_ip = str(config["replica-announce-ip"])
        if announce_ip:
            self._send([b"REPLCONF", b"ip-address", announce_ip.encode()])
        self._send([b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        self.step = "auth" if password else "port"

    def _send_psync(self) -> None:
        replication = self.replication
        if self.psync_replid != "?":
            offset = replication.offset + 1
            log.info("Trying a partial resynchronization (request %s:%d).", self.psync_replid, offset)
            request = [b"PSYNC", self.psync_replid.encode(), str(offset).encode()]
            if replication.failover.in_progress:
                request.append(b"FAILOVER")  # a planned switchover: the target promotes itself
            self._send(request)
        else:
            log.info("Partial resynchronization not possible (no cached master)")
            self._send([b"PSYNC", b"?", b"-1"])
        self.step = "psync"

    def _psync_reply(self, line: bytes, text: str) -> None:
        if not line:
            return  # a keepalive newline while the primary prepares
        if line.startswith(b"+FULLRESYNC"):
            parts = text.split()
            if len(parts) != 3 or len(parts[1]) != 40 or not parts[2].lstrip("-").isdigit():
                raise LinkError(f"Master replied with wrong +FULLRESYNC syntax: '{text}'")
            self.sync_replid, self.sync_offset = parts[1], int(parts[2])
            self.transfer_size, self.eof_mark = -1, b""  # (INFO: no bulk header yet)
            log.info("Full resync from master: %s:%d", self.sync_replid, self.sync_offset)
            self.replication.failover.psync_answered(True)
            self.state = TRANSFER
            self.step = "bulk_header"
            return
        if line.startswith(b"+CONTINUE"):
            self._continued(text[len("+CONTINUE"):].strip())
            self.replication.failover.psync_answered(True)
            return
        self.replication.failover.psync_answered(False)
        if line.startswith((b"-NOMASTERLINK", b"-LOADING")):
            raise LinkError(f"Master is currently unable to PSYNC but should be in the future: {text}")
        raise LinkError(f"Unexpected reply to PSYNC from master: {text}")

    def _continued(self, new_id: str) -> None:
        """+CONTINUE [id]: the stream resumes where this server's offset stands."""
        replication = self.replication
        log.info("Successful partial resynchronization with master.")
        if new_id and new_id != replication.ids.replid:
            if len(new_id) != 40:
                raise LinkError(f"Master replied with wrong +CONTINUE syntax: '{new_id}'")
            log.info("Master replication ID changed to %s", new_id)
            replication.ids.replid2 = replication.ids.replid
            replication.ids.second_offset = replication.offset + 1
            replication.ids.replid = new_id
            replication.primary.disconnect_replicas()  # they must learn the new ID
        replication.ensure_backlog()
        self._now_connected()
        log.info("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")

    def _now_connected(self) -> None:
        """The stream flows: the master client appears in CLIENT LIST (and CLIENT KILL TYPE
        master closes the link through it)."""
        client = self.master_client
        transport = self.transport
        if transport is not None:
            client.transport = transport
            client.closing = False
            client.addr = _format_peer(transport.get_extra_info("peername"))
            client.laddr = _format_peer(transport.get_extra_info("sockname"))
            sock = transport.get_extra_info("socket")
            client.fd = sock.fileno() if sock is not None else -1
            self.server.clients[client.id] = client
        self.state = CONNECTED
        self.step = "stream"
        self.backoff = _BACKOFF_FIRST
        self.psync_replid = self.replication.ids.replid
        self.server.refresh_slow_path()

    # -- the snapshot ----------------------------------------------------------------------------

    def _bulk_header(self, line: bytes, text: str) -> None:
        if not line:
            return  # keepalive
        if not line.startswith(b"$"):
            raise LinkError(f"Bad protocol from MASTER, the first byte is not '$' (we received '{text}'), "
                            "are you sure the host and port are right?")  # fmt: skip
        if line.startswith(b"$EOF:"):
            mark = line[5:]
            if len(mark) != _EOF_MARK_LEN:
                raise LinkError(f"Bad protocol from MASTER: bad EOF mark '{text}'")
            self.eof_mark = mark
            self.transfer_size = -1
            log.info("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk")
        else:
            try:
                self.transfer_size = int(line[1:])
            except ValueError:
                raise LinkError(f"Bad protocol from MASTER: bad bulk length '{text}'") from None
            if self.transfer_size < 0:
                raise LinkError(f"Bad protocol from MASTER: bad bulk length '{text}'")
            self.eof_mark = b""
            log.info("MASTER <-> REPLICA sync: receiving %d bytes from master to disk", self.transfer_size)
        self.received = bytearray()
        self.step = "bulk"

    def _receive_bulk(self) -> bool:
        """Take snapshot bytes from the buffer; True once the snapshot is whole (loading starts)."""
        if self.eof_mark:
            self.received += self.buffer
            self.buffer = bytearray()
            if not self.received.endswith(self.eof_mark):
                return False
            del self.received[-_EOF_MARK_LEN:]
        else:
            wanted = self.transfer_size - len(self.received)
            self.received += self.buffer[:wanted]
            del self.buffer[:wanted]
            if len(self.received) < self.transfer_size:
                return False
        data, self.received = bytes(self.received), bytearray()
        if self.transport is not None:
            self.transport.pause_reading()  # the stream waits in the socket while we load
        assert self.server.loop is not None
        self.loading = self.server.loop.create_task(self._load(data))
        return True

    async def _load(self, data: bytes) -> None:
        """Load the snapshot (all or nothing), then save it as the RDB file, then stream:
        one that is refused leaves the dataset and the file as they were. The AOF is
        stopped meanwhile and started again after (a rewrite makes its new base), as
        Redis does, so it never mixes the old dataset with the new stream."""
        server = self.server
        aof_on = server.aof.state != AOF_OFF
        ok = False
        try:
            if aof_on:
                server.aof.stop()
            log.info("MASTER <-> REPLICA sync: Flushing old data")
            log.info("MASTER <-> REPLICA sync: Loading DB in memory")
            ok = await self._run_load(server.snapshots.load_bytes(data, keep_expired=True)) and self._save_file(data)
        except RdbError as exc:
            log.warning("Failed trying to load the MASTER synchronization DB from disk, check server logs. (%s)", exc.describe())
        finally:
            self.loading = None
            if aof_on:
                server.aof.start()
        if ok:
            self._synced()
        elif self.transport is not None:
            self.transport.abort()  # try again from the start
        else:
            self._retry_later()

    async def _run_load(self, steps: Iterator[None]) -> bool:
        """Drive a load, letting the loop answer clients (-LOADING) between slices. Only
        a REPLICAOF meanwhile abandons it; a lost link does not (the snapshot is whole)."""
        last = time.monotonic()
        for _ in steps:
            if time.monotonic() - last >= _SLICE_SECONDS:
                await asyncio.sleep(0)
                last = time.monotonic()
                if self.stopped:
                    steps.close()  # type: ignore[attr-defined]  # the dataset stays as it was
                    log.warning("The MASTER synchronization DB load was abandoned: replication was reconfigured")
                    return False
        return True

    def _save_file(self, data: bytes) -> bool:
        """The primary's snapshot becomes this server's RDB file (temp file, fsync, rename)."""
        path = self.server.snapshots.path
        temp = f"temp-{int(time.time())}.{os.getpid()}.rdb"
        try:
            with open(temp, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
            fsync_directory(os.path.dirname(path))
        except OSError as exc:
            log.warning("Failed trying to rename the temp DB into %s in MASTER <-> REPLICA synchronization: %s",
                        path, exc.strerror)  # fmt: skip
            try:
                os.unlink(temp)
            except OSError:
                pass
            return False
        return True

    def _synced(self) -> None:
        """The snapshot is in place: take the primary's history, then start the stream."""
        replication = self.replication
        log.info("MASTER <-> REPLICA sync: Finished with success")
        replication.take_history(self.sync_replid, self.sync_offset)
        # the stream goes on in the db the snapshot says it had selected (a chained
        # primary forwards its own primary's stream, with no SELECT of its own)
        stream_db = dict(self.server.snapshots.last_load.aux).get(b"repl-stream-db", b"0")
        self.master_client.select(int(stream_db) if stream_db.isdigit() and int(stream_db) < len(self.server.keyspace) else 0)
        if self.transport is None:  # the link went while loading: continue from here
            self.psync_replid = replication.ids.replid
            self._retry_later()
            return
        self._now_connected()
        if self.eof_mark:
            self.send_ack()  # after a diskless transfer the primary waits for this
        self.transport.resume_reading()
        try:
            self._advance()
        except LinkError as exc:
            self.fail(str(exc))

    # -- the stream ------------------------------------------------------------------------------

    def _apply_held(self) -> None:
        """What arrived while a script was busy runs once it ends."""
        if self.state == CONNECTED and self.loading is None:
            try:
                self._apply()
            except LinkError as exc:
                self.fail(str(exc))

    def _apply(self) -> None:
        """Run every whole command received, then pass on the bytes of those run (up to the
        last one outside a transaction: a MULTI counts at its EXEC), so this server's offset
        is always at a command boundary the primary also had."""
        if not self.buffer:
            return
        if self.server.scripting.busy:  # a busy script owns the dataset: wait for its end
            self.server.scripting.when_idle(self._apply_held)
            return
        data = bytes(self.buffer)
        replication = self.replication
        client = self.master_client
        # (from ``scanned``: a transaction cut by the end of a read has its first commands
        # queued already, their bytes kept until its EXEC)
        commands = stream_commands(data, int(self.server.config["proto-max-bulk-len"]), self.scanned)  # type: ignore[call-overload]
        scanned = self.scanned
        self.applied_ahead = 0
        signals = self.server.keyspace.signals
        CLOCK.update()
        signals.expiry = EXPIRE_KEEP  # the primary's commands see keys as the primary does
        try:
            for argv, end in commands:
                scanned = end
                reply = client.obey(argv)
                if reply.__class__ is CommandError:
                    log.warning("== CRITICAL == This replica is sending an error to its master: '%s' after processing the command '%s'",
                                reply.message, argv[0].decode(errors="replace"))  # type: ignore[attr-defined]  # fmt: skip
                if not client.in_multi:
                    self.applied_ahead = end
                if self.transport is None or self.stopped:
                    break
        except AofFormatError as exc:
            raise LinkError(f"Protocol error from MASTER ({exc.reason} at offset "
                            f"{replication.offset + self.applied_ahead}), closing the link") from None  # fmt: skip
        finally:
            signals.expiry = EXPIRE_HIDE
            applied, self.applied_ahead = self.applied_ahead, 0
            self.scanned = scanned - applied
            if applied:
                replication.forward(data[:applied])
                del self.buffer[:applied]

    def send_ack(self) -> None:
        """REPLCONF ACK <offset>: what this server has applied (in the middle of a batch,
        the commands run so far count)."""
        offset = self.replication.offset + self.applied_ahead
        self._send([b"REPLCONF", b"ACK", str(offset).encode()])

    def cron(self) -> None:
        """Once a second: ACK, and give up on a primary that went silent."""
        timeout = int(self.server.config["repl-timeout"])  # type: ignore[call-overload]
        now = time.monotonic()
        if self.state == CONNECTED:
            self.send_ack()
            if now - self.last_io > timeout:
                self.fail("MASTER timeout: no data nor PING received...")
        elif self.state == TRANSFER and self.loading is None and now - self.transfer_last_io > timeout:
            self.fail("Timeout receiving bulk data from MASTER... If the problem persists try to set the "
                      "'repl-timeout' parameter in redis.conf to a larger value.")  # fmt: skip
        elif self.state == HANDSHAKE and now - self.last_io > timeout:
            self.fail("Timeout connecting to the MASTER...")

    # -- introspection ---------------------------------------------------------------------------

    def info_fields(self) -> dict[str, object]:
        now = time.monotonic()
        offset = self.replication.offset
        fields: dict[str, object] = {
            "master_host": self.host,
            "master_port": self.port,
            "master_link_status": "up" if self.connected else "down",
            "master_last_io_seconds_ago": int(now - self.last_io) if self.transport is not None else -1,
            "master_sync_in_progress": int(self.state == TRANSFER),
            "slave_read_repl_offset": offset + (len(self.buffer) if self.connected else 0),
            "slave_repl_offset": offset,
        }
        if self.state == TRANSFER:
            read = len(self.received)
            # Redis's repl_transfer_size: -1 until the bulk header, 0 for an $EOF: transfer
            total = 0 if self.eof_mark else self.transfer_size
            fields.update({
                "master_sync_total_bytes": total,
                "master_sync_read_bytes": read,
                "master_sync_left_bytes": total - read,
                "master_sync_perc": f"{100 * read / total:.2f}" if total else "0.00",
                "master_sync_last_io_seconds_ago": int(now - self.transfer_last_io),
            })  # fmt: skip
        if not self.connected:
            fields["master_link_down_since_seconds"] = int(time.time()) - self.down_since if self.down_since else -1
        return fields

    def role_reply(self) -> list[object]:
        return [b"slave", self.host.encode(), self.port, self.state.encode(),
                self.replication.offset if self.connected else -1]  # fmt: skip
