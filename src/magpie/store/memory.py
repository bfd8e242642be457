"""Dataset memory accounting for ``maxmemory``.

Redis compares its allocator's byte count with ``maxmemory``. CPython has no cheap
equivalent (the RSS does not shrink when keys are freed, so it cannot tell an eviction
loop when to stop), so Magpie keeps an estimate instead: each key's size is estimated
from CPython object sizes when the key changes, and the per-database totals are kept
current by a change-signal listener. The listener is attached only while ``maxmemory``
is set, so a server without a limit pays nothing.

Containers are estimated from a sample of their first elements, scaled by their length,
so a write to a big hash costs a bounded amount of work.
"""

from __future__ import annotations

import itertools
import sys
from typing import TYPE_CHECKING

from magpie.store.hashes import Hash
from magpie.store.lists import ListValue
from magpie.store.sets import Set
from magpie.store.zsets import ZSet

if TYPE_CHECKING:
    from magpie.store.keyspace import Keyspace

_sizeof = sys.getsizeof
_SAMPLE = 8
#: One entry in the database's key dict (hash, key and value pointers, index slot, spare room).
_KEY_ENTRY = 48
#: An expiry: an entry in the expires dict, the int, and the expiry heap's tuple.
_EXPIRY = 48 + 32 + 56
#: A sorted-set member's tree node and its (score, member) tuple, beyond the dict entry.
_ZSET_NODE = 80 + 56 + 24


def value_size(value: object) -> int:
    """Estimated bytes held by one value (exact for strings, sampled for containers)."""
    cls = value.__class__
    if cls is bytes:
        return _sizeof(value)
    if cls is Hash:
        sample = list(itertools.islice(value.items(), _SAMPLE))  # type: ignore[attr-defined]
        per_item = sum(_sizeof(f) + _sizeof(v) for f, v in sample)
        return _sizeof(value) + _scaled(per_item, len(sample), len(value))  # type: ignore[arg-type]
    if cls is Set or cls is ListValue:
        sample = list(itertools.islice(value, _SAMPLE))  # type: ignore[call-overload]
        per_item = sum(_sizeof(m) for m in sample)
        return _sizeof(value) + _scaled(per_item, len(sample), len(value))  # type: ignore[arg-type]
    if cls is ZSet:
        scores = value.scores  # type: ignore[attr-defined]
        sample = list(itertools.islice(scores, _SAMPLE))
        per_item = sum(_sizeof(m) + 24 + _ZSET_NODE for m in sample)
        return _sizeof(scores) + _scaled(per_item, len(sample), len(scores))
    return _sizeof(value)


def _scaled(sampled_bytes: int, sampled: int, total: int) -> int:
    return sampled_bytes * total // sampled if sampled else 0


def entry_size(key: bytes, value: object, volatile: bool) -> int:
    return _KEY_ENTRY + _sizeof(key) + value_size(value) + (_EXPIRY if volatile else 0)


class MemoryAccounting:
    """Keeps ``Database.sizes`` / ``used_bytes`` current while ``maxmemory`` is set."""

    def __init__(self, keyspace: Keyspace) -> None:
        self.keyspace = keyspace
        self.active = False
        #: Estimated dataset bytes over every database (the sum of ``Database.used_bytes``,
        #: kept as it changes: it is read before every command under a limit).
        self.used = 0

    def start(self) -> None:
        if self.active:
            return
        for db in self.keyspace.dbs:
            expires = db.expires
            db.sizes = {k: entry_size(k, v, k in expires) for k, v in db.data.items()}
            db.used_bytes = sum(db.sizes.values())
        self.used = sum(db.used_bytes for db in self.keyspace.dbs)
        self.keyspace.signals.listeners.append(self._on_change)
        self.active = True

    def stop(self) -> None:
        if not self.active:
            return
        self.keyspace.signals.listeners.remove(self._on_change)
        for db in self.keyspace.dbs:
            db.sizes = {}
            db.used_bytes = 0
        self.used = 0
        self.active = False

    def check_invariants(self) -> None:
        """Raise AssertionError unless every database's per-key estimates are those of its
        current keys and values (a write that did not signal leaves a stale one) and the
        totals are their sums; with accounting off, nothing is kept."""
        total = 0
        for db in self.keyspace.dbs:
            if not self.active:
                if db.sizes or db.used_bytes:
                    raise AssertionError(f"db {db.index} keeps sizes while accounting is off")
                continue
            if db.sizes.keys() != db.data.keys():
                stale = db.sizes.keys() ^ db.data.keys()
                raise AssertionError(f"db {db.index} sizes and keys differ on {sorted(stale)[:3]!r}")
            for key, value in db.data.items():
                if db.sizes[key] != entry_size(key, value, key in db.expires):
                    raise AssertionError(f"db {db.index} size estimate of key {key!r} is stale")
            if db.used_bytes != sum(db.sizes.values()):
                raise AssertionError(f"db {db.index} used bytes are not the sum of its sizes")
            total += db.used_bytes
        if self.used != total:
            raise AssertionError(f"used memory {self.used} is not the databases' sum {total}")

    def _on_change(self, db, key: bytes | None, event: str) -> None:  # noqa: ANN001 - Database
        if key is None or event == "new":  # "new" comes before the value is stored
            return
        sizes = db.sizes
        value = db.data.get(key)
        if value is None:
            freed = sizes.pop(key, 0)
            db.used_bytes -= freed
            self.used -= freed
            return
        size = entry_size(key, value, key in db.expires)
        delta = size - sizes.get(key, 0)
        db.used_bytes += delta
        self.used += delta
        sizes[key] = size
