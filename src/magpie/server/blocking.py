"""Clients blocked on keys (BLPOP and friends): waiting, waking in FIFO order, timeouts.

A blocking handler first tries to serve at once; if it cannot, it calls ``block`` with a
``retry`` function and returns ``BLOCKED``. The registry listens to change signals only
while some client is blocked; a write to a key someone waits on marks the key ready, and
after the command that wrote it (after EXEC for a transaction) ``serve_ready`` retries the
waiting clients of each ready key, oldest first. ``retry`` returns None while the client
must keep waiting, else the reply and the commands to propagate in place of the blocking one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from magpie.errors import CommandError

if TYPE_CHECKING:
    from magpie.server.connection import Client
    from magpie.server.server import Server
    from magpie.store.database import Database

Retry = Callable[[], "tuple[object, list[list[bytes]]] | None"]
UNBLOCKED_ERROR = "UNBLOCKED client unblocked via CLIENT UNBLOCK"


class Blocked:
    """One blocked client's wait: its keys, how to retry, what a timeout answers."""

    __slots__ = ("argv", "client", "db_index", "keys", "retry", "timeout_reply", "timer")

    def __init__(self, client: Client, keys: list[bytes], retry: Retry, timeout_reply: object) -> None:
        self.client = client
        self.db_index = client.db_index
        self.keys = keys
        self.retry = retry
        self.timeout_reply = timeout_reply
        self.timer: asyncio.TimerHandle | None = None
        self.argv: list[bytes] | None = None  # the blocking command, for CLIENT LIST argv-mem

    def answer_timeout(self) -> object:
        """The reply when the wait ends without being served (a callable computes it: WAIT)."""
        reply = self.timeout_reply
        return reply() if callable(reply) else reply


class BlockingRegistry:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.waiting: dict[tuple[int, bytes], list[Blocked]] = {}
        self.ready: dict[tuple[int, bytes], None] = {}  # ordered set of keys to retry
        self.count = 0  # blocked clients, for INFO
        self.with_timeout = 0  # of which waiting with a timeout (INFO clients_in_timeout_table)
        self._listening = False

    def block(self, client: Client, keys: list[bytes], timeout: float, retry: Retry, timeout_reply: object) -> None:
        wait = Blocked(client, list(dict.fromkeys(keys)), retry, timeout_reply)
        for key in wait.keys:
            self.waiting.setdefault((wait.db_index, key), []).append(wait)
        client.blocked = wait
        self.count += 1
        if timeout > 0 and self.server.loop is not None:
            wait.timer = self.server.loop.call_later(timeout, self._timed_out, wait)
            self.with_timeout += 1
        if not self._listening:
            self.server.keyspace.signals.listeners.append(self._key_changed)
            self._listening = True

    def _key_changed(self, db: Database, key: bytes | None, event: str) -> None:
        slot = (db.index, key)
        if slot in self.waiting:
            self.ready[slot] = None  # type: ignore[index]

    def serve_ready(self) -> None:
        """Retry the clients waiting on keys that were written; oldest waiter first."""
        while self.ready:
            slot = next(iter(self.ready))
            del self.ready[slot]
            for wait in list(self.waiting.get(slot, ())):
                outcome = wait.retry()
                if outcome is not None:
                    reply, propagate = outcome
                    for argv in propagate:
                        self.server.propagation.feed(wait.db_index, argv)
                    if propagate:
                        wait.client.woff = self.server.replication.fed
                    self._release(wait)
                    wait.client.unblocked(reply)

    def _timed_out(self, wait: Blocked) -> None:
        if wait.client.blocked is wait:
            self._release(wait)
            wait.client.unblocked(wait.answer_timeout())

    def unblock(self, client: Client, with_error: bool) -> bool:
        """CLIENT UNBLOCK: answer the timeout reply, or an UNBLOCKED error."""
        wait = client.blocked
        if wait is None:
            return False
        self._release(wait)
        client.unblocked(CommandError(UNBLOCKED_ERROR) if with_error else wait.answer_timeout())
        return True

    def finish(self, client: Client, reply: object) -> None:
        """End a wait that is not on keys (WAIT): answer ``reply`` now."""
        if client.blocked is not None:
            self._release(client.blocked)
            client.unblocked(reply)

    def unblock_all(self, message: str) -> None:
        """Every blocked client gets ``message`` as an error (a primary turned replica)."""
        for wait in list(self._all_waits()):
            self._release(wait)
            wait.client.unblocked(CommandError(message))

    def _all_waits(self) -> list[Blocked]:
        seen: dict[int, Blocked] = {}
        for queue in self.waiting.values():
            for wait in queue:
                seen[id(wait)] = wait
        return list(seen.values())

    def client_gone(self, client: Client) -> None:
        if client.blocked is not None:
            self._release(client.blocked)

    def _release(self, wait: Blocked) -> None:
        if wait.timer is not None:
            wait.timer.cancel()
            wait.timer = None
            self.with_timeout -= 1
        for key in wait.keys:
            slot = (wait.db_index, key)
            queue = self.waiting.get(slot)
            if queue is not None:
                if wait in queue:
                    queue.remove(wait)
                if not queue:
                    del self.waiting[slot]
                    self.ready.pop(slot, None)
        wait.client.blocked = None
        self.count -= 1
        if self._listening and not self.waiting:
            self.server.keyspace.signals.listeners.remove(self._key_changed)
            self._listening = False
