"""The primary side: replicas attached to this server, their syncs, the stream they get,
their acknowledgements, and the clients waiting on those (WAIT).

A replica is an ordinary connection that sent ``PSYNC`` (or ``SYNC``). It gets a partial
resync (``+CONTINUE`` and the backlog from the offset it asked for) when its history is
ours and still in the backlog, otherwise a full one: ``+FULLRESYNC <replid> <offset>``
when the snapshot starts, the snapshot, then every byte of the stream from that offset,
held for it meanwhile. Snapshots go through a file (``repl-diskless-sync no``) or,
diskless, straight from the forked child through a pipe, framed with Redis's
``$EOF:<mark>`` form; after a diskless transfer the stream waits for the replica's
first ``REPLCONF ACK``, as in Redis (the replica cannot tell where the stream starts
before it has loaded).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from typing import TYPE_CHECKING

from magpie.errors import CommandError
from magpie.protocol.replies import BLOCKED

if TYPE_CHECKING:
    from magpie.replication.manager import Replication
    from magpie.server.connection import Client

log = logging.getLogger("magpie")

#: Replica states (Redis's SLAVE_STATE_*): waiting for a snapshot to start for it, for
#: the one it shares to end (on disk), receiving a diskless one, streaming.
WAIT_BGSAVE_START, WAIT_BGSAVE_END, SEND_BULK, ONLINE = "wait_bgsave_start", "wait_bgsave_end", "send_bulk", "online"
#: How INFO names them.
_INFO_STATES = {WAIT_BGSAVE_START: "wait_bgsave", WAIT_BGSAVE_END: "wait_bgsave", SEND_BULK: "send_bulk", ONLINE: "online"}
#: A diskless transfer stops reading the child's pipe while a replica holds this much unsent.
RELAY_PAUSE_BYTES = 16 << 20
_RELAY_CHUNK = 1 << 16


class Replica:
    """What the primary knows of one replica connection."""

    __slots__ = (
        "client", "state", "listening_port", "announced_ip", "capa_eof", "capa_psync2",
        "ack_offset", "ack_time", "held", "held_bytes", "sync_offset", "after_snapshot",
        "diskless", "first_ack_pending", "old_sync",
    )  # fmt: skip

    def __init__(self, client: Client) -> None:
        self.client = client
        self.state = WAIT_BGSAVE_START
        self.listening_port = 0
        self.announced_ip = ""
        self.capa_eof = False
        self.capa_psync2 = False
        self.ack_offset = 0
        self.ack_time = time.monotonic()
        #: The stream while the snapshot is prepared or in flight; None once it flows.
        self.held: list[bytes] | None = []
        self.held_bytes = 0
        self.sync_offset = 0  # the offset the snapshot stands for (FULLRESYNC's)
        #: Stream bytes written to the transport since the snapshot was (None: no snapshot
        #: in the transport), so the output limit counts the stream and not the snapshot.
        self.after_snapshot: int | None = None
        self.diskless = False
        self.first_ack_pending = False
        self.old_sync = False  # SYNC, not PSYNC: no FULLRESYNC line, no ACKs

    @property
    def ip(self) -> str:
        if self.announced_ip:
            return self.announced_ip
        addr = self.client.addr
        return addr.rsplit(":", 1)[0].strip("[]")

    @property
    def name(self) -> str:
        """How logs name it (Redis's replicationGetSlaveName): ip:listening-port."""
        if self.listening_port:
            return f"{self.ip}:{self.listening_port}"
        return f"client id #{self.client.id}"

    def send(self, data: bytes) -> None:
        """Stream bytes: held while the snapshot is not in the transport yet, else written."""
        client = self.client
        if client.closing or client.transport is None or self.state == WAIT_BGSAVE_START:
            return  # (a replica waiting for its snapshot to start gets what follows it)
        if self.held is not None:
            self.held.append(data)
            self.held_bytes += len(data)
            client.server.output_limits.enforce(client, self.held_bytes)
            return
        client.transport.write(data)
        client.server.stats.net_repl_output_bytes += len(data)
        if self.after_snapshot is not None:
            self.after_snapshot += len(data)
        client.server.output_limits.enforce(client, self.pending_stream())

    @property
    def info_state(self) -> str:
        return _INFO_STATES[self.state]

    def pending_stream(self) -> int:
        """Stream output not yet taken by the socket (the snapshot itself is not counted)."""
        if self.held is not None:
            return self.held_bytes
        transport = self.client.transport
        waiting = transport.get_write_buffer_size() if transport is not None else 0
        if self.after_snapshot is not None and waiting <= self.after_snapshot:
            self.after_snapshot = None  # the snapshot has left the transport
        if self.after_snapshot is None:
            return waiting
        return self.after_snapshot  # the transport holds all of it, behind the snapshot's rest

    def release_held(self) -> None:
        """Start the stream: what was held, then everything as it comes."""
        held, self.held = self.held, None
        self.held_bytes = 0
        if held:
            self.send(b"".join(held))

    def lag(self) -> int:
        return int(time.monotonic() - self.ack_time)


class WaitingClient:
    """A client blocked in WAIT: the offset it waits for, how many replicas it wants."""

    __slots__ = ("client", "blocked", "offset", "wanted", "timer")

    def __init__(self, client: Client, offset: int, wanted: int) -> None:
        self.client = client
        self.blocked = client.blocked  # this wait's entry, to tell it from a later one
        self.offset = offset
        self.wanted = wanted
        self.timer: asyncio.TimerHandle | None = None

    def still_blocked(self) -> bool:
        return self.blocked is not None and self.client.blocked is self.blocked

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Primary:
    """The replicas of this server and their snapshots."""

    def __init__(self, replication: Replication) -> None:
        self.replication = replication
        self.server = replication.server
        self.replicas: list[Replica] = []
        # -- a diskless transfer in flight
        self.relay_fd = -1
        self.relay_targets: list[Replica] = []
        self.relay_paused = False
        self.diskless_wait_since = 0.0
        #: Clients blocked in WAIT, in arrival order.
        self.waiting: list[WaitingClient] = []
        self.getack_pending = False
        self.last_ping = time.monotonic()
        self.good_replicas = 0

    # -- PSYNC / SYNC --------------------------------------------------------------------

    def attach(self, client: Client, replica: Replica) -> None:
        client.is_replica = True
        self.replicas.append(replica)
        self.replication.ensure_backlog()

    def try_partial(self, replica: Replica, replid: str, psync_offset: int) -> bool:
        """Redis's masterTryPartialResynchronization: +CONTINUE and the missed bytes, if
        the replica's history is ours and what it misses is in the backlog."""
        replication = self.replication
        replication.flush()
        ids, backlog = replication.ids, replication.backlog
        if not ids.continues(replid, psync_offset):
            if replid != "?":
                if replid != ids.replid and replid != ids.replid2:
                    log.info("Partial resynchronization not accepted: Replication ID mismatch "
                             "(Replica asked for '%s', my replication IDs are '%s' and '%s')",
                             replid, ids.replid, ids.replid2)  # fmt: skip
                else:
                    log.info("Partial resynchronization not accepted: Requested offset for second ID "
                             "was %d, but I can reply up to %d", psync_offset, ids.second_offset)  # fmt: skip
            else:
                log.info("Full resync requested by replica %s", replica.name)
            return False
        missed = backlog.read_from(psync_offset) if backlog is not None else None
        if missed is None:
            log.info("Unable to partial resync with replica %s for lack of backlog (Replica request was: %d).",
                     replica.name, psync_offset)  # fmt: skip
            return False
        transport = replica.client.transport
        assert transport is not None
        line = f"+CONTINUE {ids.replid}\r\n" if replica.capa_psync2 else "+CONTINUE\r\n"
        transport.write(line.encode())
        self.attach(replica.client, replica)
        replica.state = ONLINE
        replica.held = None
        replica.ack_time = time.monotonic()
        if missed:
            replica.send(missed)
        log.info("Partial resynchronization request from %s accepted. Sending %d bytes of backlog starting from offset %d.",
                 replica.name, len(missed), psync_offset)  # fmt: skip
        self.refresh_good_replicas()
        return True

    def full_sync(self, replica: Replica) -> None:
        """Queue ``replica`` for a snapshot: join one being written for replicas to disk,
        or wait for the next (diskless ones wait ``repl-diskless-sync-delay`` for company)."""
        config = self.server.config
        self.attach(replica.client, replica)
        self.server.stats.sync_full += 1
        replica.diskless = bool(config["repl-diskless-sync"]) and replica.capa_eof
        snapshots = self.server.snapshots
        if snapshots.child_kind == "disk" and snapshots.child_for_replication and not replica.diskless:
            # a snapshot to disk for replicas is being written: share it and its offset
            for other in self.replicas:
                if other is not replica and other.state == WAIT_BGSAVE_END:
                    self._start_stream(replica, other.sync_offset)
                    replica.held = list(other.held or [])
                    replica.held_bytes = other.held_bytes
                    log.info("Waiting for end of BGSAVE for SYNC")
                    return
        replica.state = WAIT_BGSAVE_START
        if replica.diskless:
            if not self.diskless_wait_since:
                self.diskless_wait_since = time.monotonic()
            log.info("Delay next BGSAVE for diskless SYNC")
        elif not snapshots.in_progress and self.server.aof.child_pid is None:
            self.start_snapshot()
        else:
            log.info("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC")

    def _start_stream(self, replica: Replica, offset: int) -> None:
        replica.sync_offset = offset
        replica.state = WAIT_BGSAVE_END
        replica.held = []
        replica.held_bytes = 0
        if not replica.old_sync and replica.client.transport is not None:
            replica.client.transport.write(f"+FULLRESYNC {self.replication.ids.replid} {offset}\r\n".encode())

    def start_snapshot(self) -> bool:
        """Start the snapshot every waiting replica gets (to disk, or diskless to the
        ones that can take it). False (and they are dropped) if it cannot start."""
        waiting = [r for r in self.replicas if r.state == WAIT_BGSAVE_START]
        if not waiting:
            return False
        replication = self.replication
        replication.flush()
        replication.reselect()  # the stream after a snapshot starts with a SELECT
        diskless = all(r.diskless for r in waiting)
        snapshots = self.server.snapshots
        if diskless:
            fd = snapshots.background_save_to_pipe(eof_mark=secrets.token_hex(20).encode())
            ok = fd >= 0
        else:
            ok = snapshots.background_save(for_replication=True)
            fd = -1
        if not ok:
            for replica in waiting:
                log.warning("BGSAVE for replication failed")
                replica.client.abort()
            return False
        offset = replication.offset
        for replica in waiting:
            self._start_stream(replica, offset)
        if diskless:
            self.diskless_wait_since = 0.0
            self.relay_targets = list(waiting)
            self.relay_fd = fd
            assert self.server.loop is not None
            self.server.loop.add_reader(fd, self._relay)
            for replica in waiting:
                replica.state = SEND_BULK
        log.info("Starting BGSAVE for SYNC with target: %s", "replicas sockets" if diskless else "disk")
        return True

    # -- the snapshot's end ----------------------------------------------------------------

    def snapshot_done(self, kind: str, ok: bool) -> None:
        """Snapshots calls this when a child it started for replicas ends."""
        if kind == "disk":
            self._send_file(ok)
        else:
            self._relay_done(ok)
        # replicas that arrived meanwhile get the next snapshot
        if any(r.state == WAIT_BGSAVE_START and not r.diskless for r in self.replicas):
            self.start_snapshot()

    def _send_file(self, ok: bool) -> None:
        waiting = [r for r in self.replicas if r.state == WAIT_BGSAVE_END]
        if not waiting:
            return
        data = b""
        if ok:
            try:
                with open(self.server.snapshots.path, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                log.warning("SYNC failed. Can't open/stat DB after BGSAVE: %s", exc.strerror)
                ok = False
        for replica in waiting:
            client = replica.client
            if not ok:
                log.warning("SYNC failed. BGSAVE child returned an error")
                client.abort()
                continue
            if client.transport is None or client.closing:
                continue
            client.transport.write(b"$%d\r\n" % len(data))
            client.transport.write(data)
            self.server.stats.net_repl_output_bytes += len(data)
            replica.after_snapshot = 0
            replica.state = ONLINE
            replica.ack_time = time.monotonic()
            replica.release_held()
            log.info("Synchronization with replica %s succeeded", replica.name)
        self.refresh_good_replicas()

    def _relay(self) -> None:
        """The child's pipe is readable: pass what it wrote to every replica in the transfer."""
        try:
            chunk = os.read(self.relay_fd, _RELAY_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close_relay()
            return
        targets = [r for r in self.relay_targets if not r.client.closing and r.client.transport is not None]
        self.relay_targets = targets
        for replica in targets:
            replica.client.transport.write(chunk)  # type: ignore[union-attr]
        self.server.stats.net_repl_output_bytes += len(chunk) * len(targets)
        if not targets:
            self.server.snapshots.kill_child()  # nobody left to send it to
            self._close_relay()
            return
        if any(r.client.transport.get_write_buffer_size() > RELAY_PAUSE_BYTES for r in targets):  # type: ignore[union-attr]
            self.relay_paused = True
            assert self.server.loop is not None
            self.server.loop.remove_reader(self.relay_fd)

    def _close_relay(self) -> None:
        if self.relay_fd < 0:
            return
        if not self.relay_paused and self.server.loop is not None:
            self.server.loop.remove_reader(self.relay_fd)
        os.close(self.relay_fd)
        self.relay_fd = -1
        self.relay_paused = False
        self.server.snapshots.reap_child(wait=True)

    def _relay_done(self, ok: bool) -> None:
        if self.relay_fd >= 0:  # the child ended before its pipe was drained (killed)
            self._close_relay()
        targets, self.relay_targets = self.relay_targets, []
        for replica in targets:
            if not ok:
                log.warning("SYNC failed. BGSAVE child returned an error")
                replica.client.abort()
                continue
            replica.state = ONLINE
            replica.first_ack_pending = True  # the stream starts at its first ACK
            replica.ack_time = time.monotonic()
            log.info("Streamed RDB transfer with replica %s succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming",
                     replica.name)  # fmt: skip
        self.refresh_good_replicas()

    # -- acknowledgements, WAIT --------------------------------------------------------------

    def acked(self, replica: Replica, offset: int) -> None:
        """REPLCONF ACK <offset> from a replica."""
        if offset > replica.ack_offset:
            replica.ack_offset = offset
        replica.ack_time = time.monotonic()
        if replica.first_ack_pending:
            replica.first_ack_pending = False
            replica.after_snapshot = 0  # the snapshot may still be in the transport
            replica.release_held()
            log.info("Synchronization with replica %s succeeded", replica.name)
        if self.waiting:
            self.serve_waiting()
        if self.replication.failover.active:
            self.replication.failover.check()

    def count_acked(self, offset: int) -> int:
        return sum(1 for r in self.replicas if r.state == ONLINE and r.ack_offset >= offset)

    def wait(self, client: Client, wanted: int, timeout_ms: int) -> object:
        """WAIT: the count at once if enough replicas have the client's last write (or
        inside MULTI), else block the client until they do or the time is up."""
        offset = self.replication.offset_after(client.woff)
        count = self.count_acked(offset)
        if count >= wanted or client.in_exec:
            return count
        blocking = self.server.blocking
        blocking.block(client, [], 0, lambda: None, lambda: self.count_acked(offset))
        waiter = WaitingClient(client, offset, wanted)
        self.waiting.append(waiter)
        if timeout_ms > 0 and self.server.loop is not None:
            waiter.timer = self.server.loop.call_later(timeout_ms / 1000, self._wait_timed_out, waiter)
        self.request_acks()
        return BLOCKED

    def request_acks(self) -> None:
        """Ask every replica for its offset (once per turn of the loop, however many WAITs)."""
        if self.getack_pending or self.server.loop is None:
            return
        self.getack_pending = True
        self.server.loop.call_soon(self._send_getack)

    def _send_getack(self) -> None:
        self.getack_pending = False
        self.replication.feed_raw_command([b"REPLCONF", b"GETACK", b"*"])
        self.replication.flush()  # a WAIT is waiting: no flush delay

    def serve_waiting(self) -> None:
        still: list[WaitingClient] = []
        for waiter in self.waiting:
            if not waiter.still_blocked():
                waiter.cancel()  # gone, or unblocked by CLIENT UNBLOCK
                continue
            count = self.count_acked(waiter.offset)
            if count >= waiter.wanted:
                waiter.cancel()
                self.server.blocking.finish(waiter.client, count)
            else:
                still.append(waiter)
        self.waiting = still

    def _wait_timed_out(self, waiter: WaitingClient) -> None:
        waiter.timer = None
        if waiter in self.waiting:
            self.waiting.remove(waiter)
        if waiter.still_blocked():
            self.server.blocking.finish(waiter.client, self.count_acked(waiter.offset))

    def fail_waiting(self, message: str) -> None:
        """Every WAIT ends with ``message`` (the server became a replica)."""
        waiting, self.waiting = self.waiting, []
        for waiter in waiting:
            waiter.cancel()
            if waiter.still_blocked():
                self.server.blocking.finish(waiter.client, CommandError(message))

    # -- housekeeping ----------------------------------------------------------------------

    def replica_gone(self, client: Client) -> None:
        for replica in self.replicas:
            if replica.client is client:
                self.replicas.remove(replica)
                log.info("Connection with replica %s lost.", replica.name)
                if replica in self.relay_targets:
                    self.relay_targets.remove(replica)
                    if not self.relay_targets and self.relay_fd >= 0:
                        log.warning("Diskless rdb transfer, last replica dropped, killing fork child.")
                        self.server.snapshots.kill_child()
                        self._close_relay()
                break
        self.refresh_good_replicas()

    def disconnect_replicas(self) -> None:
        """Close every replica connection (a change of role or history: they reconnect
        and find out, most often with a partial resync)."""
        for replica in list(self.replicas):
            replica.client.abort()

    def refresh_good_replicas(self) -> None:
        """min-replicas-to-write: how many online replicas acknowledged recently enough."""
        max_lag = int(self.server.config["min-replicas-max-lag"])  # type: ignore[call-overload]
        self.good_replicas = sum(1 for r in self.replicas if r.state == ONLINE and r.lag() <= max_lag)
        self.replication.refresh_write_denial()

    def cron(self) -> None:
        """Once a second: PING the replicas, drop silent ones, start a delayed diskless
        snapshot, resume a paused relay."""
        config = self.server.config
        now = time.monotonic()
        if self.relay_paused and all(
            (r.client.transport.get_write_buffer_size() if r.client.transport else 0) < RELAY_PAUSE_BYTES // 2
            for r in self.relay_targets
        ):
            self.relay_paused = False
            assert self.server.loop is not None
            self.server.loop.add_reader(self.relay_fd, self._relay)
        for replica in self.replicas:
            # a newline a second keeps a replica waiting for its snapshot from timing out
            if replica.state in (WAIT_BGSAVE_START, WAIT_BGSAVE_END) and replica.client.transport is not None:
                replica.client.transport.write(b"\n")
        period = int(config["repl-ping-replica-period"])  # type: ignore[call-overload]
        if self.replicas and now - self.last_ping >= period and not self.replication.is_replica:
            self.last_ping = now
            self.replication.feed_raw_command([b"PING"])
        timeout = int(config["repl-timeout"])  # type: ignore[call-overload]
        for replica in list(self.replicas):
            if replica.state == ONLINE and not replica.old_sync and now - replica.ack_time > timeout:
                log.warning("Disconnecting timedout replica (streaming sync): %s", replica.name)
                replica.client.abort()
        self.refresh_good_replicas()

    def start_pending_snapshot(self) -> None:
        """Each tick: start the snapshot replicas wait for once no child runs (diskless
        ones after repl-diskless-sync-delay, or as soon as enough of them wait)."""
        if not self.replicas or self.server.snapshots.in_progress or self.server.aof.child_pid is not None:
            return
        if self.diskless_wait_since:
            config = self.server.config
            delay = int(config["repl-diskless-sync-delay"])  # type: ignore[call-overload]
            most = int(config["repl-diskless-sync-max-replicas"])  # type: ignore[call-overload]
            waiting = sum(1 for r in self.replicas if r.state == WAIT_BGSAVE_START)
            if time.monotonic() - self.diskless_wait_since >= delay or (most and waiting >= most):
                self.start_snapshot()
        elif any(r.state == WAIT_BGSAVE_START for r in self.replicas):
            self.start_snapshot()
