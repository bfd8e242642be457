"""FAILOVER: a planned switchover from this primary to one of its replicas, losing no write.

As in Redis 6.2+: writers are paused, the primary waits until the target (or, without
TO, any replica) has acknowledged every byte of the stream, then becomes a replica of
it and asks for ``PSYNC <replid> <offset> FAILOVER``; the target promotes itself on that
request and answers ``+CONTINUE``, which ends the failover. A timeout aborts it (with
FORCE the handover goes ahead anyway), and so does a refused PSYNC.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from magpie.replication.primary import ONLINE

if TYPE_CHECKING:
    from magpie.replication.manager import Replication
    from magpie.replication.primary import Replica

log = logging.getLogger("magpie")

NO_FAILOVER = "no-failover"
WAITING_FOR_SYNC = "waiting-for-sync"
IN_PROGRESS = "failover-in-progress"
#: Long enough to last until the failover ends it (unpause is explicit).
_PAUSE_SECONDS = 365 * 24 * 3600.0


class Failover:
    def __init__(self, replication: Replication) -> None:
        self.replication = replication
        self.state = NO_FAILOVER
        self.target: tuple[str, int] | None = None
        self.deadline = 0.0  # monotonic; 0 without a timeout
        self.force = False

    @property
    def active(self) -> bool:
        return self.state != NO_FAILOVER

    @property
    def in_progress(self) -> bool:
        return self.state == IN_PROGRESS

    def begin(self, target: tuple[str, int] | None, timeout_ms: int, force: bool) -> None:
        """Checked by the command; pause writers and wait for a replica to catch up."""
        self.target = target
        self.force = force
        self.deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else 0.0
        self.state = WAITING_FOR_SYNC
        where = f"{target[0]}:{target[1]}" if target else "any replica"
        log.info("FAILOVER requested to %s.", where)
        self.replication.server.pause_clients(_PAUSE_SECONDS, writes_only=True)
        self.replication.flush()
        self.replication.primary.request_acks()  # the answers (ACKs) call ``check``

    def find_target(self, host: str, port: int) -> Replica | None:
        for replica in self.replication.primary.replicas:
            if replica.ip == host and replica.listening_port == port:
                return replica
        return None

    def check(self) -> None:
        """Each tick and on every ACK: hand over once the target has everything."""
        if self.state == IN_PROGRESS:
            if self.deadline and time.monotonic() > self.deadline:
                self.abort("Failover target timed out", back_to_primary=True)
            return
        if self.state != WAITING_FOR_SYNC:
            return
        replication = self.replication
        replication.flush()
        offset = replication.offset
        if self.target is not None:
            replica = self.find_target(*self.target)
            candidates = [replica] if replica is not None else []
        else:
            candidates = [r for r in replication.primary.replicas if r.state == ONLINE]
        if self.deadline and time.monotonic() > self.deadline:
            if self.force and self.target is not None:
                log.info("FAILOVER to %s:%d time out exceeded, failing over.", *self.target)
                self._hand_over(*self.target)
            else:
                self.abort("Replica never caught up before timeout")
            return
        chosen = next((r for r in candidates if r.state == ONLINE and r.ack_offset >= offset), None)
        if chosen is not None:
            log.info("Failover target %s:%d is synced, failing over.", chosen.ip, chosen.listening_port)
            self._hand_over(chosen.ip, chosen.listening_port)

    def _hand_over(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.state = IN_PROGRESS
        self.replication.replicate_from(host, port)

    def psync_answered(self, accepted: bool) -> None:
        """The old primary's PSYNC ... FAILOVER got its answer: done, or abort."""
        if not self.in_progress:
            return
        if accepted:
            log.info("Failover target accepted the handover: failover complete.")
            self.finish()
        else:
            self.abort("Failover target rejected psync request", back_to_primary=True)

    def abort(self, reason: str, back_to_primary: bool = False) -> None:
        where = f"{self.target[0]}:{self.target[1]}" if self.target else "any replica"
        log.warning("FAILOVER to %s aborted: %s", where, reason)
        if (back_to_primary or self.in_progress) and self.replication.link is not None:
            self.replication.promote()
        self.finish()

    def finish(self) -> None:
        self.state = NO_FAILOVER
        self.target = None
        self.deadline = 0.0
        self.force = False
        self.replication.server.unpause_clients()
