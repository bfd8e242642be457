"""One numbered database: the key dict, the expiry dict, and lazy plus active expiry.

Values are stored as Python objects: ``bytes`` for strings (later types bring classes of
their own). Expiry times are absolute Unix milliseconds. Every mutation goes through a
method here so that the change is signalled exactly once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import TYPE_CHECKING

from magpie.errors import WRONGTYPE, CommandError
from magpie.store.clock import CLOCK
from magpie.store.signals import EXPIRE_DELETE, EXPIRE_HIDE, Signals

if TYPE_CHECKING:
    from magpie.store.access import LfuCounters, LruClock

_DEL = b"DEL"


class Database:
    __slots__ = (
        "index", "data", "expires", "signals", "expiry_heap", "expired_keys", "hits", "misses",
        "access", "sizes", "used_bytes",
    )  # fmt: skip

    def __init__(self, index: int, signals: Signals) -> None:
        self.index = index
        self.data: dict[bytes, object] = {}
        self.expires: dict[bytes, int] = {}
        self.signals = signals
        # (when, key) pairs; entries whose key lost or changed its TTL are skipped when popped.
        self.expiry_heap: list[tuple[int, bytes]] = []
        self.expired_keys = 0
        self.hits = 0  # keyspace_hits / keyspace_misses of read commands
        self.misses = 0
        #: Per-key access tracking while an LRU/LFU policy is set (store/access.py).
        self.access: LruClock | LfuCounters | None = None
        #: Estimated bytes per key and in total while maxmemory is set (store/memory.py).
        self.sizes: dict[bytes, int] = {}
        self.used_bytes = 0

    def __len__(self) -> int:
        return len(self.data)

    # -- reading -----------------------------------------------------------------------

    def lookup(self, key: bytes) -> object | None:
        """The live value of ``key``, expiring it first if its time has come."""
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when <= CLOCK.ms and self._expire(key):
                return None
        value = self.data.get(key)
        if self.access is not None and value is not None:
            self.access.touch(key)
        return value

    def peek(self, key: bytes) -> object | None:
        """``lookup`` that is not an access (OBJECT, MEMORY USAGE): LRU/LFU data stay as they are."""
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when <= CLOCK.ms and self._expire(key):
                return None
        return self.data.get(key)

    def lookup_read(self, key: bytes) -> object | None:
        """``lookup`` for read commands: also counts keyspace hits and misses."""
        value = self.lookup(key)
        if value is None:
            self.misses += 1
            if self.signals.on_miss is not None:
                self.signals.on_miss(self, key)
        else:
            self.hits += 1
        return value

    def get_string(self, key: bytes) -> bytes | None:
        """The string at ``key`` for a read command (counted as a hit or miss)."""
        if self.expires:
            when = self.expires.get(key)
            value = None if when is not None and when <= CLOCK.ms and self._expire(key) else self.data.get(key)
        else:
            value = self.data.get(key)
        if value is None:
            self.misses += 1
            if self.signals.on_miss is not None:
                self.signals.on_miss(self, key)
            return None
        self.hits += 1
        if self.access is not None:
            self.access.touch(key)
        if value.__class__ is bytes:
            return value  # type: ignore[return-value]
        raise CommandError(WRONGTYPE)

    def get_string_for_write(self, key: bytes) -> bytes | None:
        """The string at ``key`` for a write command (not a keyspace hit or miss); WRONGTYPE otherwise."""
        value = self.lookup(key)
        if value is None or value.__class__ is bytes:
            return value  # type: ignore[return-value]
        raise CommandError(WRONGTYPE)

    def get_typed(self, key: bytes, cls: type) -> object | None:
        """The value at ``key`` if it is a ``cls`` (None when missing); WRONGTYPE otherwise."""
        value = self.lookup(key)
        if value is None or value.__class__ is cls:
            return value
        raise CommandError(WRONGTYPE)

    def read_typed(self, key: bytes, cls: type) -> object | None:
        """``get_typed`` for read commands: also counts the keyspace hit or miss."""
        value = self.lookup_read(key)
        if value is None or value.__class__ is cls:
            return value
        raise CommandError(WRONGTYPE)

    def exists(self, key: bytes) -> bool:
        return self.lookup(key) is not None

    def get_expire(self, key: bytes) -> int | None:
        """Absolute expiry in ms, or None; the caller has already looked the key up."""
        return self.expires.get(key) if self.expires else None

    def keys(self) -> Iterator[bytes]:
        """Live keys (expired ones are skipped, not deleted, so iteration is safe)."""
        if not self.expires:
            return iter(self.data)
        now, expires = CLOCK.ms, self.expires
        return (k for k in self.data if not (k in expires and expires[k] <= now))

    def is_expired(self, key: bytes) -> bool:
        when = self.expires.get(key) if self.expires else None
        return when is not None and when <= CLOCK.ms

    # -- writing -----------------------------------------------------------------------

    def set(self, key: bytes, value: object, event: str | None = "set", keep_ttl: bool = False) -> None:
        """Store ``value``; a plain set clears any TTL, as Redis's SET does.

        With listeners attached, a key that did not exist is first announced as "new".
        ``event=None`` leaves the command's own event to the caller (RENAME and MOVE
        signal the source between the destination's "new" and its event, as Redis does).
        """
        sig = self.signals
        if sig.listeners and key not in self.data:
            for listener in sig.listeners:
                listener(self, key, "new")
        self.data[key] = value
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)
        sig.dirty += 1
        if sig.listeners and event is not None:
            for listener in sig.listeners:
                listener(self, key, event)

    def changed(self, key: bytes, event: str) -> None:
        """Signal an in-place change of a value (SETRANGE, APPEND on a bytearray...)."""
        sig = self.signals
        sig.dirty += 1
        if sig.listeners:
            for listener in sig.listeners:
                listener(self, key, event)

    def delete(self, key: bytes, event: str = "del") -> bool:
        if self.lookup(key) is None:
            return False
        self._remove(key)
        self.changed(key, event)
        return True

    def pop(self, key: bytes) -> object | None:
        """Remove and return the live value without signalling (the caller signals)."""
        value = self.lookup(key)
        if value is not None:
            self._remove(key)
        return value

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms
        heap = self.expiry_heap
        heapq.heappush(heap, (when_ms, key))
        if len(heap) > 2 * len(self.expires) + 1024:
            self._rebuild_heap()

    def persist(self, key: bytes) -> bool:
        return self.expires.pop(key, None) is not None if self.expires else False

    def clear(self) -> int:
        removed = len(self.data)
        self.data = {}
        self.expires = {}
        self.expiry_heap = []
        return removed

    def _remove(self, key: bytes) -> None:
        del self.data[key]
        if self.expires:
            self.expires.pop(key, None)

    def already_expired(self, when_ms: int) -> bool:
        """An expiry time set now is past (EXPIRE with a past time deletes the key at once),
        except on a replica: a time that passed while the primary's command was in transit
        sets the TTL and the primary's DEL removes the key (Redis's checkAlreadyExpired)."""
        return when_ms <= CLOCK.ms and self.signals.expiry == EXPIRE_DELETE

    def _expire(self, key: bytes) -> bool:
        """A lookup found ``key`` past its time: True if it is to be treated as gone.
        On a primary it is deleted (and a DEL propagated). On a replica keys go only by
        the primary's DEL: readers are told it is gone while it stays, and the primary's
        own stream sees it as it is (Signals.expiry)."""
        expiry = self.signals.expiry
        if expiry == EXPIRE_DELETE:
            self._delete_expired(key)
            return True
        return expiry == EXPIRE_HIDE

    def _delete_expired(self, key: bytes) -> None:
        self._remove(key)
        self.expired_keys += 1
        self.signals.propagate(self.index, [_DEL, key])
        self.changed(key, "expired")

    def evict(self, key: bytes) -> None:
        """Delete ``key`` to free memory: propagated as DEL, signalled as "evicted"."""
        self.signals.propagate(self.index, [_DEL, key])
        self._remove(key)
        self.changed(key, "evicted")

    def _rebuild_heap(self) -> None:
        self.expiry_heap = [(when, key) for key, when in self.expires.items()]
        heapq.heapify(self.expiry_heap)

    # -- active expiry ------------------------------------------------------------------

    def expire_due(self, now_ms: int, budget: int) -> int:
        """Delete up to ``budget`` keys whose time has come; return how many were deleted.

        The heap gives the due keys directly, so a tick reclaims exactly the expired keys
        (Redis samples randomly because its dict cannot be ordered by time cheaply).
        """
        heap, expires = self.expiry_heap, self.expires
        deleted = 0
        while heap and deleted < budget and heap[0][0] <= now_ms:
            when, key = heapq.heappop(heap)
            if expires.get(key) == when:
                self._delete_expired(key)
                deleted += 1
        return deleted

    # -- consistency ----------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Raise AssertionError unless the expiry bookkeeping is sound: every TTL belongs to a
        stored key and has its ``(when, key)`` entry in the expiry heap (else active expiry
        would never reclaim it), the heap is a heap, and access tracking knows no key that is
        gone. The values are checked by ``store.invariants``."""
        data, expires, heap = self.data, self.expires, self.expiry_heap
        for key in expires:
            if key not in data:
                raise AssertionError(f"expiry of missing key {key!r}")
        entries = set(heap)
        for key, when in expires.items():
            if (when, key) not in entries:
                raise AssertionError(f"expiry of key {key!r} has no heap entry")
        for i in range(1, len(heap)):
            if heap[i] < heap[(i - 1) // 2]:
                raise AssertionError(f"expiry heap out of order at position {i}")
        if self.access is not None:
            for key in self.access.tracked():
                if key not in data:
                    raise AssertionError(f"access tracking of missing key {key!r}")

    def swap_contents(self, other: Database) -> None:
        self.data, other.data = other.data, self.data
        self.expires, other.expires = other.expires, self.expires
        self.expiry_heap, other.expiry_heap = other.expiry_heap, self.expiry_heap
        self.access, other.access = other.access, self.access
        self.sizes, other.sizes = other.sizes, self.sizes
        self.used_bytes, other.used_bytes = other.used_bytes, self.used_bytes
