"""The server's FT indexes, kept exact as database 0 changes.

The registry listens to the keyspace's change signals (only while an index exists): any
write, deletion, expiry, eviction, rename or flush of a key in database 0 re-reads that
key and (re)indexes or drops it in every index whose prefixes cover it. SWAPDB involving
database 0 rebuilds the indexes from the new contents. FLUSHDB (of any database) and
FLUSHALL drop every index, definitions included, as RediSearch does.

FT.CREATE back-fills the keys already present in slices on the event loop (a few
milliseconds per slice), so other clients keep being served while a big keyspace is
scanned; ``FT.INFO`` reports the progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from magpie.search.aggregate import Cursors
from magpie.search.index import SearchIndex
from magpie.store.invariants import InvariantViolation

if TYPE_CHECKING:
    from magpie.search.persist import RestoreReport
    from magpie.store.database import Database
    from magpie.store.keyspace import Keyspace

#: Wall-clock budget of one back-fill slice; the loop serves clients between slices.
SLICE_SECONDS = 0.005


class SearchRegistry:
    def __init__(self, keyspace: Keyspace, call_soon: Callable[[Callable[[], None]], object]) -> None:
        self.keyspace = keyspace
        self.indexes: dict[str, SearchIndex] = {}
        self.cursors = Cursors()
        self._call_soon = call_soon
        self._listening = False
        self._filling = False
        #: What the last snapshot load did to the indexes (search/persist.py restore_indexes).
        self.last_restore: RestoreReport | None = None

    # -- index lifecycle ----------------------------------------------------------------

    def add(self, index: SearchIndex, scan: bool = True) -> None:
        self.indexes[index.name] = index
        self._listen(True)
        if scan:
            index.pending = list(self.keyspace[0].keys())
            index.pending_total = len(index.pending)
            if not index.pending:
                index.pending = None
            self._schedule_fill()

    def drop(self, name: str) -> SearchIndex:
        index = self.indexes.pop(name)
        self.cursors.drop_index(name)
        if not self.indexes:
            self._listen(False)
        return index

    def _listen(self, on: bool) -> None:
        if on == self._listening:
            return
        signals = self.keyspace.signals
        if on:
            signals.listeners.append(self._on_change)
            self.keyspace.swap_listeners.append(self._on_swap)
            self.keyspace.flush_listeners.append(self._on_flush)
        else:
            signals.listeners.remove(self._on_change)
            self.keyspace.swap_listeners.remove(self._on_swap)
            self.keyspace.flush_listeners.remove(self._on_flush)
        self._listening = on

    def check_invariants(self) -> None:
        """Every index describes database 0 exactly (``SearchIndex.check_invariants``), and
        the registry listens to changes exactly while it has indexes."""
        if self._listening != bool(self.indexes):
            raise InvariantViolation(f"the search registry listens={self._listening} with {len(self.indexes)} indexes")
        for name, index in self.indexes.items():
            try:
                if index.name != name:
                    raise AssertionError(f"it is registered under {name!r}")
                index.check_invariants(self.keyspace[0])
            except AssertionError as exc:
                raise InvariantViolation(f"index {index.name!r}: {exc}") from None

    # -- live indexing ------------------------------------------------------------------

    def _on_change(self, db: Database, key: bytes | None, event: str) -> None:
        if db.index != 0 or key is None or event == "new":
            return
        value = db.data.get(key)
        for index in self.indexes.values():
            if index.covers(key):
                if value is None:
                    index.remove(key)
                else:
                    index.index(key, value)

    def _on_flush(self, db_index: int | None) -> None:
        """RediSearch drops every index when any database is flushed (spec.c onFlush)."""
        for name in list(self.indexes):
            self.drop(name)

    def _on_swap(self, a: int, b: int) -> None:
        if 0 not in (a, b):
            return
        for index in self.indexes.values():
            index.clear()
            index.pending = list(self.keyspace[0].keys())
            index.pending_total = len(index.pending)
        self._schedule_fill()

    # -- back-fill ----------------------------------------------------------------------

    def _schedule_fill(self) -> None:
        if not self._filling:
            self._filling = True
            self._call_soon(self._fill_slice)

    def _fill_slice(self) -> None:
        deadline = time.perf_counter() + SLICE_SECONDS
        db = self.keyspace[0]
        busy = False
        for index in list(self.indexes.values()):
            pending = index.pending
            if pending is None:
                continue
            while pending and time.perf_counter() < deadline:
                for key in pending[-64:]:
                    if index.covers(key):
                        value = db.peek(key)
                        if value is not None and key not in index.docs:
                            index.index(key, value)
                del pending[-64:]
            if pending:
                busy = True
            else:
                index.pending = None
        self._filling = busy
        if busy:
            self._call_soon(self._fill_slice)

    def fill_now(self) -> None:
        """Finish every back-fill at once (tests, DEBUG)."""
        while self._filling:
            self._fill_slice()
