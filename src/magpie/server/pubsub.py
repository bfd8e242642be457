"""Pub/sub channels, patterns and shard channels: who listens to what, and delivery.

The registry maps each channel (pattern, shard channel) to its subscribers in the order
they subscribed (a dict used as an ordered set), and each client keeps the mirror image in
its own ``channels``/``patterns``/``shard_channels`` sets plus the ``subscriptions`` total
that puts a RESP2 client into subscribed mode. Both sides change only here.

Delivery encodes a message once per RESP version and writes the same bytes to every
subscriber. A PUBLISH nobody listens to costs one dict lookup and one truth test.

Slow subscribers are bounded by ``client-output-buffer-limit pubsub <hard> <soft>
<seconds>``: delivery goes through ``Client.push``, which holds every client to its class's
output limit (``server/output_limits.py``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from magpie.patterns import compile_pattern
from magpie.protocol.encoder import ENCODERS
from magpie.protocol.replies import Push

if TYPE_CHECKING:
    from magpie.server.connection import Client
    from magpie.server.server import Server

_MESSAGE, _PMESSAGE, _SMESSAGE = b"message", b"pmessage", b"smessage"

Subscribers = dict["Client", None]


class PubSub:
    """The server's pub/sub registry (one per server)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.channels: dict[bytes, Subscribers] = {}
        self.patterns: dict[bytes, Subscribers] = {}
        #: pattern -> its compiled matcher, kept while anyone subscribes to the pattern.
        self._matchers: dict[bytes, re.Pattern[bytes]] = {}
        self.shard_channels: dict[bytes, Subscribers] = {}

    # -- subscribing ---------------------------------------------------------------------

    def subscribe(self, client: Client, channel: bytes) -> bool:
        """Add ``client`` to ``channel``; False when it was already subscribed."""
        return self._add(self.channels, client.channels, client, channel)

    def unsubscribe(self, client: Client, channel: bytes) -> bool:
        return self._remove(self.channels, client.channels, client, channel)

    def psubscribe(self, client: Client, pattern: bytes) -> bool:
        if not self._add(self.patterns, client.patterns, client, pattern):
            return False
        if pattern not in self._matchers:
            self._matchers[pattern] = compile_pattern(pattern)
        return True

    def punsubscribe(self, client: Client, pattern: bytes) -> bool:
        if not self._remove(self.patterns, client.patterns, client, pattern):
            return False
        if pattern not in self.patterns:
            self._matchers.pop(pattern, None)
        return True

    def ssubscribe(self, client: Client, channel: bytes) -> bool:
        return self._add(self.shard_channels, client.shard_channels, client, channel)

    def sunsubscribe(self, client: Client, channel: bytes) -> bool:
        return self._remove(self.shard_channels, client.shard_channels, client, channel)

    def client_gone(self, client: Client) -> None:
        """Forget every subscription of a disconnected (or RESET) client."""
        for channel in list(client.channels):
            self._remove(self.channels, client.channels, client, channel)
        for pattern in list(client.patterns):
            self.punsubscribe(client, pattern)
        for channel in list(client.shard_channels):
            self._remove(self.shard_channels, client.shard_channels, client, channel)

    @staticmethod
    def _add(
        registry: dict[bytes, Subscribers], own: set[bytes], client: Client, name: bytes
    ) -> bool:
        if name in own:
            return False
        own.add(name)
        subscribers = registry.get(name)
        if subscribers is None:
            registry[name] = {client: None}
        else:
            subscribers[client] = None
        client.subscriptions += 1
        if client.subscriptions == 1:
            client.refresh_mode()
        return True

    @staticmethod
    def _remove(
        registry: dict[bytes, Subscribers], own: set[bytes], client: Client, name: bytes
    ) -> bool:
        if name not in own:
            return False
        own.discard(name)
        subscribers = registry.get(name)
        if subscribers is not None:
            subscribers.pop(client, None)
            if not subscribers:
                del registry[name]
        client.subscriptions -= 1
        if not client.subscriptions:
            client.refresh_mode()
        return True

    # -- publishing ----------------------------------------------------------------------

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to channel and pattern subscribers; return how many received it."""
        subscribers = self.channels.get(channel)
        receivers = 0
        if subscribers:
            receivers = len(subscribers)
            self._deliver(subscribers, [_MESSAGE, channel, message])
        if self.patterns:
            for pattern, matcher in self._matchers.items():
                if matcher.match(channel) is not None:
                    subscribers = self.patterns[pattern]
                    receivers += len(subscribers)
                    self._deliver(subscribers, [_PMESSAGE, pattern, channel, message])
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        """Deliver to the shard channel's subscribers (patterns do not see shard messages)."""
        subscribers = self.shard_channels.get(channel)
        if not subscribers:
            return 0
        receivers = len(subscribers)
        self._deliver(subscribers, [_SMESSAGE, channel, message])
        return receivers

    def _deliver(self, subscribers: Subscribers, message: list[bytes]) -> None:
        """Encode ``message`` once per RESP version and write it to each subscriber.

        CLIENT REPLY OFF/SKIP do not silence messages (Redis 7.0.15 sends them regardless).
        """
        payloads: dict[int, bytes] = {}
        # A snapshot: a subscriber closed for its output buffer leaves the registry later,
        # but a delivery must not see the dict change under it in any case.
        for client in tuple(subscribers):
            if client.closing:
                continue
            payload = payloads.get(client.resp)
            if payload is None:
                out: list[bytes] = []
                ENCODERS[client.resp][Push](Push(message), out)
                payload = payloads[client.resp] = b"".join(out)
            client.push(payload)

    # -- introspection (PUBSUB, INFO, CLIENT LIST) ------------------------------------------

    def channel_names(self, pattern: bytes | None = None) -> list[bytes]:
        """Channels with at least one subscriber, optionally filtered by a glob."""
        return _matching(self.channels, pattern)

    def shard_channel_names(self, pattern: bytes | None = None) -> list[bytes]:
        return _matching(self.shard_channels, pattern)

    def numsub(self, channel: bytes) -> int:
        subscribers = self.channels.get(channel)
        return len(subscribers) if subscribers else 0

    def shard_numsub(self, channel: bytes) -> int:
        subscribers = self.shard_channels.get(channel)
        return len(subscribers) if subscribers else 0

    def numpat(self) -> int:
        """Patterns with at least one subscriber (Redis 7 counts patterns, not subscriptions)."""
        return len(self.patterns)


def _matching(registry: dict[bytes, Subscribers], pattern: bytes | None) -> list[bytes]:
    if pattern is None:
        return list(registry)
    match = compile_pattern(pattern).match
    return [name for name in registry if match(name) is not None]
