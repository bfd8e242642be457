"""Replication state of one server: its role, IDs, offset and backlog, the stream it
feeds its replicas, and (as a replica) its link to its primary.

The stream is the propagation log's output: each write's effect, encoded as RESP,
appended to the backlog and written to every replica at most FLUSH_DELAY later. A
replica forwards what its primary sends byte for byte instead (chained replication) and
feeds nothing of its own, so its offsets are always its primary's.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from magpie.errors import NOREPLICAS, READONLY
from magpie.persistence.aof_format import encode_commands
from magpie.replication.backlog import ReplicationBacklog
from magpie.replication.failover import Failover
from magpie.replication.ids import ReplicationIds
from magpie.replication.primary import Primary
from magpie.store.signals import EXPIRE_DELETE, EXPIRE_HIDE

if TYPE_CHECKING:
    from magpie.commands.table import CommandSpec
    from magpie.replication.replica import MasterLink
    from magpie.server.server import Server

log = logging.getLogger("magpie")

#: Longest a write waits before it is sent to the replicas (seconds).
FLUSH_DELAY = 0.001



class Replication:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.ids = ReplicationIds()
        self._offset = 0  # (``offset``)
        #: Commands fed and not encoded yet; how many were fed in all; (fed count, offset)
        #: at the end of recent batches, so WAIT can tell where a client's write ended.
        self._fed_argvs: list[list[bytes]] = []
        self.fed = 0
        self._marks: deque[tuple[int, int]] = deque(maxlen=256)
        self.backlog: ReplicationBacklog | None = None
        self.primary = Primary(self)
        self.failover = Failover(self)
        #: As a replica: the link to the primary (None on a primary).
        self.link: MasterLink | None = None
        self._pending: list[list[bytes]] = []
        self._flush_scheduled = False
        self._attached = False
        #: The generic checks' view: a write now gets this error (NOREPLICAS), else None.
        self.write_denial: str | None = None
        self.backlog_idle_since = 0.0
        # min-replicas-to-write holds from the start, and a CONFIG SET of it or of the
        # backlog's size applies at once (not from the next cron tick / the next backlog)
        self.write_denial = self._wanted_denial()
        server.config.on_change.append(self._config_changed)

    def _config_changed(self, name: str) -> None:
        if name in ("min-replicas-to-write", "min-replicas-max-lag"):
            self.primary.refresh_good_replicas()
        elif name == "repl-backlog-size" and self.backlog is not None:
            self.backlog.resize(int(self.server.config["repl-backlog-size"]))  # type: ignore[call-overload]

    # -- role ------------------------------------------------------------------------------

    @property
    def is_replica(self) -> bool:
        return self.link is not None

    @property
    def restricts_commands(self) -> bool:
        """True when the dispatcher's replication checks can refuse something (a replica,
        or min-replicas-to-write set): commands must take the full path."""
        return self.link is not None or self.write_denial is not None

    def replicate_from(self, host: str, port: int, stream_db: int = 0, has_history: bool = False) -> None:
        """REPLICAOF host port (Redis's replicationSetMaster): drop any old link, fail the
        blocked clients, make our replicas reconnect (they may continue from us), and
        connect, offering our own history for a partial resync. ``stream_db``: the
        database a continued stream is in (a restart: the RDB's repl-stream-db);
        ``has_history``: the RDB recorded one (even at offset 0)."""
        from magpie.replication.replica import MasterLink

        server = self.server
        if self.link is not None:  # a stream continued elsewhere stays in the db it had selected
            stream_db = self.link.master_client.db_index
            self.link.stop()
        self.flush()
        message = "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
        server.blocking.unblock_all(message)
        self.primary.fail_waiting(message)
        self.primary.disconnect_replicas()
        # our history is offered for a partial resync; a server that never had one says "?"
        history = self.ids.replid if (has_history or self.backlog is not None or self.offset) else "?"
        self.link = MasterLink(self, host, port, history)
        self.link.master_client.select(stream_db)
        server.keyspace.signals.expiry = EXPIRE_HIDE
        server.config.values["replicaof"] = f"{host} {port}"
        self.refresh_write_denial()
        server.refresh_slow_path()
        self.link.start()

    def promote(self) -> None:
        """REPLICAOF NO ONE (Redis's replicationUnsetMaster): the stream so far stays
        ours as ``replid2``, a new history starts, our replicas reconnect and continue."""
        if self.link is None:
            return
        server = self.server
        self.link.stop()
        self.link = None
        self.flush()
        self.ids.shift(self.offset)
        self.primary.disconnect_replicas()
        server.propagation.reselect()  # our first write after this starts with a SELECT
        server.keyspace.signals.expiry = EXPIRE_DELETE
        server.config.values["replicaof"] = ""
        self.backlog_idle_since = 0.0
        self.refresh_write_denial()
        server.refresh_slow_path()

    def take_history(self, replid: str, offset: int) -> None:
        """A full sync finished: this server's history is now the primary's, from ``offset``."""
        self.flush()
        self.ids.replid = replid
        self.ids.clear_second()
        self.offset = offset
        if self.backlog is None:
            self.ensure_backlog()
        assert self.backlog is not None
        self.backlog.reset(offset)
        self.primary.disconnect_replicas()  # their data is of the old history

    def refusal(self, spec: CommandSpec, exec_writes: bool) -> str | None:
        """The dispatcher's replication checks, in Redis's order: NOREPLICAS, READONLY."""
        if not (spec.is_write or exec_writes):
            return None
        if self.write_denial is not None:
            return self.write_denial
        if self.link is not None and self.server.config["replica-read-only"]:
            return READONLY
        return None

    def link_stale_refusal(self, spec: CommandSpec, exec_denies_stale: bool) -> bool:
        """MASTERDOWN: the link is down and replica-serve-stale-data is off."""
        assert self.link is not None
        if self.link.connected or self.server.config["replica-serve-stale-data"]:
            return False
        return "stale" not in spec.flags or exec_denies_stale

    def refresh_write_denial(self) -> None:
        denial = self._wanted_denial()
        if denial != self.write_denial:
            self.write_denial = denial
            self.server.refresh_slow_path()

    def _wanted_denial(self) -> str | None:
        config = self.server.config
        wanted = int(config["min-replicas-to-write"])  # type: ignore[call-overload]
        denial = None
        if (
            self.link is None
            and wanted
            and int(config["min-replicas-max-lag"])  # type: ignore[call-overload]
            and self.primary.good_replicas < wanted
        ):
            denial = NOREPLICAS
        return denial

    # -- the stream ------------------------------------------------------------------------

    def ensure_backlog(self) -> None:
        """The backlog exists from the first replica on (and on a replica after its first
        sync), as in Redis; a primary's first backlog starts a new history."""
        if self.backlog is None:
            if self.link is None and not self.primary.replicas[1:]:
                self.ids.change()
                self.ids.clear_second()
            self.backlog = ReplicationBacklog(int(self.server.config["repl-backlog-size"]), self.offset)  # type: ignore[call-overload]
        if not self._attached:
            self.server.propagation.attach(self.feed, replicas=True)
            self._attached = True

    def free_backlog(self) -> None:
        self.backlog = None
        if self._attached:
            self.server.propagation.detach(self.feed)
            self._attached = False

    def feed(self, argv: list[bytes]) -> None:
        """The propagation log's consumer: the effect joins the stream. It is encoded with
        the others of this turn, when the stream is flushed or its offset is asked for.
        A replica feeds nothing of its own (the writes its primary sent are passed on as
        they came; a writable replica's own writes, its clients' PUBLISH, stay local), so
        its offsets remain its primary's, as in Redis."""
        if self.link is None:
            self._fed_argvs.append(argv)
            self.fed += 1
            if not self._flush_scheduled:
                self._schedule_flush()

    def feed_raw_command(self, argv: list[bytes]) -> None:
        """PING and REPLCONF GETACK: into the stream (and backlog), not into the AOF."""
        if self.backlog is not None and self.link is None:
            self._emit(encode_commands([argv]))

    def forward(self, data: bytes) -> None:
        """As a replica: bytes of the primary's stream just applied, passed on unchanged."""
        self.ensure_backlog()
        self._emit(data)

    @property
    def offset(self) -> int:
        """master_repl_offset: the last byte of the stream this server has (fed or applied)."""
        if self._fed_argvs:
            self._encode_fed()
        return self._offset

    @offset.setter
    def offset(self, value: int) -> None:
        self._encode_fed()
        self._offset = value

    def offset_after(self, fed: int) -> int:
        """The offset once the ``fed``-th command fed is in the stream (a client's last
        write, for WAIT): exact when it ended a turn's batch, else that batch's end; for a
        write older than the batches remembered, the oldest one's end (never too early)."""
        if not fed:
            return 0
        self._encode_fed()
        for count, offset in self._marks:
            if count >= fed:
                return offset
        return self._offset

    def _encode_fed(self) -> None:
        if not self._fed_argvs:
            return
        data = encode_commands(self._fed_argvs)
        self._fed_argvs = []
        self._offset += len(data)
        self._pending.append(data)
        self._marks.append((self.fed, self._offset))

    def _emit(self, data: bytes) -> None:
        """Stream bytes: counted into the offset now, into the backlog and out to the
        replicas at the next flush."""
        self._encode_fed()
        self._offset += len(data)
        self._pending.append(data)
        if not self._flush_scheduled:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        """Flushes wait up to FLUSH_DELAY: under load one write to each replica then
        carries many commands (a socket write costs more than encoding a command)."""
        self._flush_scheduled = True
        loop = self.server.loop
        if loop is not None:
            loop.call_later(FLUSH_DELAY, self.flush)

    def reselect(self) -> None:
        """The next write goes out after a SELECT (a new snapshot point)."""
        self.flush()
        self.server.propagation.reselect()

    def flush(self) -> None:
        """What this turn added to the stream: into the backlog, out to every replica
        (held for those whose snapshot is not in place yet)."""
        self._flush_scheduled = False
        self._encode_fed()
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending = []
        if self.backlog is not None:
            self.backlog.append(data)
        for replica in self.primary.replicas:
            replica.send(data)

    # -- housekeeping ----------------------------------------------------------------------

    def tick(self) -> None:
        """Every tick of the server: a snapshot replicas wait for, a failover's progress."""
        self.primary.start_pending_snapshot()
        if self.failover.active:
            self.failover.check()

    def cron(self) -> None:
        """Once a second (from the server's tick)."""
        self.flush()
        self.primary.cron()
        if self.link is not None:
            self.link.cron()
        self._backlog_ttl()

    def _backlog_ttl(self) -> None:
        """A primary frees its backlog after repl-backlog-ttl seconds without replicas."""
        if self.backlog is None or self.primary.replicas or self.link is not None:
            self.backlog_idle_since = 0.0
            return
        ttl = int(self.server.config["repl-backlog-ttl"])  # type: ignore[call-overload]
        now = time.monotonic()
        if not self.backlog_idle_since:
            self.backlog_idle_since = now
        elif ttl and now - self.backlog_idle_since >= ttl:
            log.info("Replication backlog freed after %d seconds without connected replicas.", ttl)
            self.free_backlog()
            self.ids.change()
            self.ids.clear_second()

    def rdb_aux(self) -> list[tuple[bytes, bytes]]:
        """Redis's rdbPopulateSaveInfo fields: the history a snapshot belongs to, so a
        server restarted on it can still partially resync."""
        self.flush()
        if self.link is not None:
            stream_db = self.link.master_client.db_index
        else:
            stream_db = max(self.server.propagation.stream_db, 0)
        return [
            (b"repl-stream-db", str(stream_db).encode()),
            (b"repl-id", self.ids.replid.encode()),
            (b"repl-offset", str(self.offset).encode()),
        ]

    # -- introspection ---------------------------------------------------------------------

    def info_fields(self) -> dict[str, object]:
        """INFO replication, field for field as Redis 7.0 writes it."""
        self.flush()
        config = self.server.config
        fields: dict[str, object] = {"role": "slave" if self.link is not None else "master"}
        if self.link is not None:
            fields.update(self.link.info_fields())
            fields["slave_priority"] = config["replica-priority"]
            fields["slave_read_only"] = int(bool(config["replica-read-only"]))
            fields["replica_announced"] = int(bool(config["replica-announced"]))
        replicas = self.primary.replicas
        fields["connected_slaves"] = len(replicas)
        if self.link is None and int(config["min-replicas-to-write"]) and int(config["min-replicas-max-lag"]):  # type: ignore[call-overload]
            fields["min_slaves_good_slaves"] = self.primary.good_replicas
        for i, replica in enumerate(replicas):
            fields[f"slave{i}"] = (
                f"ip={replica.ip},port={replica.listening_port},state={replica.info_state},"
                f"offset={replica.ack_offset},lag={replica.lag()}"
            )
        backlog = self.backlog
        fields.update({
            "master_failover_state": self.failover.state,
            "master_replid": self.ids.replid,
            "master_replid2": self.ids.replid2,
            "master_repl_offset": self.offset,
            "second_repl_offset": self.ids.second_offset,
            "repl_backlog_active": int(backlog is not None),
            "repl_backlog_size": config["repl-backlog-size"],
            "repl_backlog_first_byte_offset": backlog.first_offset if backlog is not None else 0,
            "repl_backlog_histlen": backlog.histlen if backlog is not None else 0,
        })  # fmt: skip
        return fields

    def backlog_bytes(self) -> int:
        return self.backlog.memory if self.backlog is not None else 0

    def replica_buffer_bytes(self) -> int:
        """Stream output held for replicas (not yet taken by their sockets)."""
        return sum(replica.pending_stream() for replica in self.primary.replicas)

    def role_reply(self) -> list[object]:
        """ROLE: ``[master, offset, [[ip, port, ack offset], ...]]`` or the replica's view."""
        self.flush()
        if self.link is not None:
            return self.link.role_reply()
        from magpie.replication.primary import ONLINE

        return [
            b"master",
            self.offset,
            [
                [r.ip.encode(), str(r.listening_port).encode(), str(r.ack_offset).encode()]
                for r in self.primary.replicas
                if r.state == ONLINE
            ],
        ]
