"""The numbered databases of one server and the operations that span them."""

from __future__ import annotations

from collections.abc import Callable

from magpie.store.database import Database
from magpie.store.signals import Signals


class Keyspace:
    def __init__(self, count: int = 16) -> None:
        self.signals = Signals()
        self.dbs = [Database(i, self.signals) for i in range(count)]
        #: Called with the two indexes after SWAPDB (WATCH invalidation).
        self.swap_listeners: list[Callable[[int, int], None]] = []
        #: Called before FLUSHDB (with its index) or FLUSHALL (None) empties anything.
        self.flush_listeners: list[Callable[[int | None], None]] = []

    def __getitem__(self, index: int) -> Database:
        return self.dbs[index]

    def __len__(self) -> int:
        return len(self.dbs)

    def flush_db(self, index: int) -> int:
        for listener in self.flush_listeners:
            listener(index)
        db = self.dbs[index]
        keys = list(db.data) if self.signals.listeners else ()
        removed = db.clear()
        for key in keys:
            for listener in self.signals.listeners:
                listener(db, key, "flushdb")
        self.signals.dirty += max(removed, 1)
        return removed

    def flush_all(self) -> int:
        for listener in self.flush_listeners:
            listener(None)
        removed = 0
        for db in self.dbs:
            keys = list(db.data) if self.signals.listeners else []
            removed += db.clear()
            for key in keys:
                for listener in self.signals.listeners:
                    listener(db, key, "flushdb")
        self.signals.dirty += removed
        return removed

    def swap(self, a: int, b: int) -> None:
        self.dbs[a].swap_contents(self.dbs[b])
        self.signals.dirty += 1
        for listener in self.swap_listeners:
            listener(a, b)
