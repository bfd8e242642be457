"""Change signals: every write to a key is reported once, as (database, key, event).

Listeners (WATCH, blocked clients, keyspace notifications, search indexes) subscribe
here. With no listener the cost of a signal is one counter increment and one truth test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from magpie.store.database import Database

Listener = Callable[["Database", bytes, str], None]

#: What a lookup does with a key past its expiry time (``Signals.expiry``): delete it (a
#: primary), report it missing but keep it (a replica's readers), or use it as it is
#: (a replica applying its primary's stream, where only the primary's DEL removes keys).
EXPIRE_DELETE, EXPIRE_HIDE, EXPIRE_KEEP = 0, 1, 2


class Signals:
    __slots__ = ("dirty", "expiry", "listeners", "on_miss", "propagate")

    def __init__(self) -> None:
        #: Writes since the last save, as Redis counts them (``rdb_changes_since_last_save``).
        self.dirty = 0
        self.listeners: list[Listener] = []
        #: Called with (database, key) when a read command misses, only while someone wants
        #: "keymiss" events; reads are not changes, so misses stay out of ``listeners``.
        self.on_miss: Callable[[Database, bytes], None] | None = None
        #: Called with (db index, argv) for effects the data layer originates itself
        #: (a key deleted because it expired); the server wires it to the propagation log.
        self.propagate: Callable[[int, list[bytes]], None] = lambda db, argv: None
        self.expiry = EXPIRE_DELETE
