"""WATCH bookkeeping: which clients watch which keys, and invalidating them on change.

The registry listens to the keyspace's change signals only while some client watches a
key, so transactions cost nothing to everyone else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from magpie.server.connection import Client
    from magpie.store.database import Database
    from magpie.store.keyspace import Keyspace


class WatchRegistry:
    def __init__(self, keyspace: Keyspace) -> None:
        self.keyspace = keyspace
        self.watchers: dict[tuple[int, bytes], set[Client]] = {}
        self._listening = False

    def watch(self, client: Client, db_index: int, key: bytes) -> None:
        slot = (db_index, key)
        if slot in client.watched:
            return
        client.watched.append(slot)
        self.watchers.setdefault(slot, set()).add(client)
        if not self._listening:
            self.keyspace.signals.listeners.append(self._key_changed)
            self.keyspace.swap_listeners.append(self._dbs_swapped)
            self._listening = True

    def unwatch_all(self, client: Client) -> None:
        for slot in client.watched:
            clients = self.watchers.get(slot)
            if clients is not None:
                clients.discard(client)
                if not clients:
                    del self.watchers[slot]
        client.watched.clear()
        client.dirty_cas = False
        if self._listening and not self.watchers:
            self.keyspace.signals.listeners.remove(self._key_changed)
            self.keyspace.swap_listeners.remove(self._dbs_swapped)
            self._listening = False

    def _key_changed(self, db: Database, key: bytes | None, event: str) -> None:
        clients = self.watchers.get((db.index, key))  # type: ignore[arg-type]
        if clients:
            for client in clients:
                client.dirty_cas = True

    def _dbs_swapped(self, a: int, b: int) -> None:
        """As Redis: a watched key in either database is touched if it exists in either."""
        dbs = self.keyspace.dbs
        for (index, key), clients in self.watchers.items():
            if index in (a, b) and (dbs[a].exists(key) or dbs[b].exists(key)):
                for client in clients:
                    client.dirty_cas = True
