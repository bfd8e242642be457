"""Pub/sub channels, patterns and shard channels: who listens to what, and delivery.

(Skeleton: the registry's API as the server uses it; filled in by the pub/sub work.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from magpie.server.connection import Client
    from magpie.server.server import Server


class PubSub:
    def __init__(self, server: Server) -> None:
        self.server = server

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to channel and pattern subscribers; return how many received it."""
        return 0

    def client_gone(self, client: Client) -> None:
        """Forget every subscription of a disconnected (or RESET) client."""
