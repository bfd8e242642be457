"""client-output-buffer-limit: disconnecting clients that do not read their output.

One mechanism for every client class Redis has: ``normal``, ``slave`` (replicas; the
config also accepts ``replica``) and ``pubsub``; a MONITOR client counts as normal, as in
Redis. A client's pending output (``client_info.pending_output``: the replies of the batch
being run plus what the transport holds) is checked each time output is added to it, and once a
second by the clients cron (so a client that stays over its soft limit is dropped even
when no more output comes).
Over its class's hard limit, or over the soft limit continuously for more than the soft
seconds (whole seconds, as Redis counts them), the client is closed at once with its
unsent output dropped, and Redis's log line says why.

While a client's class has a limit, the client is read on when its output backs up, as
Redis does, and the limit ends it; without one, the connection stops reading until the
client catches up (see ``Client.pause_writing``), so a slow reader cannot grow the server
without bound either way.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from magpie.server.client_info import client_class, describe
from magpie.store.clock import CLOCK

if TYPE_CHECKING:
    from magpie.config import Config
    from magpie.server.connection import Client

log = logging.getLogger("magpie")

CLASSES = ("normal", "slave", "pubsub")
_SCHEDULED = "Client %s scheduled to be closed ASAP for overcoming of output buffer limits."
_CLOSED_FROM_CRON = "Client %s closed for overcoming of output buffer limits."
Limit = tuple[int, int, int]  # hard bytes, soft bytes, soft seconds (0 = no limit)
_UNLIMITED: Limit = (0, 0, 0)


class OutputLimits:
    """The per-class limits of the live configuration, and their enforcement."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.by_class: dict[str, Limit] = {}
        #: Normal clients are limited: their commands must all be measured (no fast path).
        self.normal_limited = False
        self.reload()

    def reload(self) -> None:
        limits = self.config["client-output-buffer-limit"]
        self.by_class = {
            name: tuple(int(v) for v in limits.get(name, (0, 0, 0)))  # type: ignore[attr-defined, misc]
            for name in CLASSES
        }
        hard, soft, _ = self.by_class["normal"]
        self.normal_limited = bool(hard or soft)

    def limit_for(self, client: Client) -> Limit:
        name = client_class(client)
        hard, soft, seconds = self.by_class.get(name, _UNLIMITED)  # (the primary's link: none)
        if name == "slave" and hard:
            # A replica limit below the backlog would drop replicas right after a partial
            # resync; Redis uses the backlog size instead, and so do we.
            hard = max(hard, int(self.config["repl-backlog-size"]))  # type: ignore[call-overload]
        return hard, soft, seconds

    def applies(self, client: Client) -> bool:
        hard, soft, _ = self.by_class.get(client_class(client), _UNLIMITED)
        return bool(hard or soft)

    def reached(self, client: Client, pending: int) -> bool:
        """Redis's checkClientOutputBufferLimits, including its soft-limit bookkeeping:
        the first time a client is seen over the soft limit starts its clock."""
        hard, soft, seconds = self.limit_for(client)
        over_hard = bool(hard) and pending >= hard
        over_soft = bool(soft) and pending >= soft
        if over_soft:
            now = CLOCK.ms // 1000
            if not client.obuf_soft_since:
                client.obuf_soft_since = now
                over_soft = False
            elif now - client.obuf_soft_since <= seconds:
                over_soft = False
        else:
            client.obuf_soft_since = 0
        return over_hard or over_soft

    def enforce(self, client: Client, pending: int, from_cron: bool = False) -> bool:
        """Close ``client`` if ``pending`` bytes of output put it over its limit; True if so.
        The log line says "scheduled to be closed ASAP" when output was being added (Redis
        closes it asynchronously there) and "closed" from the cron, as Redis's do."""
        if client.closing or (not pending and not client.is_replica):
            return False  # Redis looks at a replica even with nothing pending
        if not self.reached(client, pending):
            return False
        log.warning(_CLOSED_FROM_CRON if from_cron else _SCHEDULED, describe(client))
        client.abort()
        return True
