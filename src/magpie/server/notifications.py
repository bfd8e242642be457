"""Keyspace notifications (``notify-keyspace-events``): change signals as pub/sub messages.

(Skeleton: wired into the server; filled in by the pub/sub work.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from magpie.server.server import Server


class KeyspaceNotifier:
    def __init__(self, server: Server) -> None:
        self.server = server

    def configure(self) -> None:
        """Re-read ``notify-keyspace-events``; listen to change signals only when enabled."""
