"""Once a second, every client: the idle timeout, the recent buffer peaks and the output
buffer limits (Redis's clientsCron, in its order).

``timeout``: a client idle for more than that many seconds (whole seconds, as Redis
counts) is closed, except replicas and MONITOR clients, subscribers, and clients waiting
in a blocking command or a CLIENT PAUSE (those have their own timeouts). As in Redis,
output making its way to the client counts as interaction: a client reading a long reply
slowly is not idle, one that stopped reading is.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from magpie.server.client_info import RecentPeaks, pending_output, transport_bytes

if TYPE_CHECKING:
    from magpie.server.connection import Client
    from magpie.server.server import Server

log = logging.getLogger("magpie")


def _exempt_from_timeout(client: Client) -> bool:
    return (
        client.is_replica
        or client.is_master
        or client.is_monitor
        or bool(client.subscriptions)
        or client.blocked is not None
        or client.postponed is not None
    )


def clients_cron(server: Server, peaks: RecentPeaks, now_ms: int) -> None:
    timeout = int(server.config["timeout"])  # type: ignore[call-overload]
    now_s = now_ms // 1000
    slot = peaks.start_second(now_s)
    for client in list(server.clients.values()):
        if client.closing:
            continue
        pending = transport_bytes(client)
        if pending != client.seen_output:  # some of it was written (or more was produced)
            client.seen_output = pending
            client.last_interaction = now_ms
        if timeout and now_s - client.last_interaction // 1000 > timeout and not _exempt_from_timeout(client):
            log.debug("Closing idle client")
            client.abort()
            continue
        peaks.sample(slot, client)
        server.output_limits.enforce(client, pending_output(client), from_cron=True)
