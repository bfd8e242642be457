"""``maxmemory`` and its eviction policies.

Before each command, while the estimated dataset (``store/memory.py``) is above
``maxmemory``, the policy picks a victim and the key is evicted: propagated as ``DEL``,
deleted, and signalled as "evicted" (WATCH, keyspace notifications). When nothing can be
evicted (``noeviction``, or no volatile key left for a ``volatile-*`` policy) the caller
refuses commands that would grow the dataset with Redis's ``-OOM`` error.

Victims:
* ``allkeys-lru``: the least recently used key, exactly (the first in ``LruClock``'s order);
* ``volatile-ttl``: the key with the nearest expiry, exactly (the expiry heap's top);
* ``*-random``, ``*-lfu``, ``volatile-lru``: the best of ``maxmemory-samples`` random keys,
  as Redis samples, with a pool of the best earlier candidates. Random keys come from a
  snapshot of the key names (``_KeySampler``), since a Python dict has no random access.
"""

from __future__ import annotations

import heapq
import random
from typing import TYPE_CHECKING

from magpie.store.access import LfuCounters, LruClock, track_changes
from magpie.store.clock import CLOCK
from magpie.store.memory import MemoryAccounting

if TYPE_CHECKING:
    from magpie.store.database import Database
    from magpie.store.keyspace import Keyspace

POLICIES = (
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
    "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
)  # fmt: skip


def _tracking(policy: str) -> str | None:
    """Which access data a policy needs: "lru", "lfu" or none."""
    return policy.rsplit("-", 1)[-1] if policy.endswith(("-lru", "-lfu")) else None


POOL_SIZE = 16  # candidates kept between evictions, as Redis's EVPOOL_SIZE


class _KeySampler:
    """Random keys of one dict (a database's keys or its volatile keys).

    The snapshot goes stale as keys are evicted (the survivors, which were never chosen,
    would come to dominate it) and as new keys arrive; it is taken anew after evictions of
    half its size, when a draw meets more dead entries than it wants live ones, or once it
    has shrunk to half the dict. That keeps sampling O(1) amortized per eviction.
    """

    __slots__ = ("snapshot", "evictions_left")

    def __init__(self) -> None:
        self.snapshot: list[bytes] = []
        self.evictions_left = 0

    def sample(self, source: dict[bytes, object], count: int) -> list[bytes]:
        """Up to ``count`` live keys, drawn with replacement; never more than the dict holds
        (as Redis's dictGetSomeKeys), so a huge ``maxmemory-samples`` cannot spin for ever."""
        count = min(count, len(source))
        snapshot, picked, dead = self.snapshot, [], 0
        while source and len(picked) < count:
            if self.evictions_left <= 0 or dead > count or len(snapshot) <= len(source) // 2:
                snapshot = self.snapshot = list(source)
                self.evictions_left = len(snapshot) // 2 + 1
                dead = 0
            i = random.randrange(len(snapshot))
            key = snapshot[i]
            if key in source:
                picked.append(key)
            else:  # gone since the snapshot: the last entry takes its place, O(1)
                snapshot[i] = snapshot[-1]
                snapshot.pop()
                dead += 1
        return picked


class Evictor:
    def __init__(self, keyspace: Keyspace) -> None:
        self.keyspace = keyspace
        self.memory = MemoryAccounting(keyspace)
        self.maxmemory = 0
        self.policy = "noeviction"
        self.samples = 5
        self.evicted_keys = 0
        self._samplers: dict[tuple[int, bool], _KeySampler] = {}
        self._pool: list[tuple[Database, bytes]] = []

    def configure(
        self, maxmemory: int, policy: str, samples: int, lfu_log_factor: int, lfu_decay_time: int
    ) -> None:
        self.maxmemory, self.samples = maxmemory, samples
        if maxmemory:
            self.memory.start()
        else:
            self.memory.stop()
        kind, old_kind = _tracking(policy), _tracking(self.policy)
        self.policy = policy
        listeners = self.keyspace.signals.listeners
        if kind != old_kind:
            for db in self.keyspace.dbs:
                db.access = self._new_tracker(db, kind, lfu_log_factor, lfu_decay_time)
            if kind and track_changes not in listeners:
                listeners.append(track_changes)
            elif not kind and track_changes in listeners:
                listeners.remove(track_changes)
        for db in self.keyspace.dbs:
            if isinstance(db.access, LfuCounters):
                db.access.log_factor, db.access.decay_minutes = lfu_log_factor, lfu_decay_time

    def dataset_replaced(self) -> None:
        """The databases were replaced wholesale (an RDB load): the size estimates and the
        access trackers start afresh, as if every key had just been written."""
        if self.memory.active:
            self.memory.stop()
            self.memory.start()
        for db in self.keyspace.dbs:
            if isinstance(db.access, LfuCounters):
                db.access = self._new_tracker(db, "lfu", db.access.log_factor, db.access.decay_minutes)
            elif db.access is not None:
                db.access = self._new_tracker(db, "lru", 0, 0)

    @staticmethod
    def _new_tracker(db: Database, kind: str | None, log_factor: int, decay: int) -> LruClock | LfuCounters | None:
        """A tracker that already knows every key (as accessed now / just created)."""
        if kind == "lru":
            lru = LruClock()
            lru.order.update(dict.fromkeys(db.data, CLOCK.ms))
            return lru
        if kind == "lfu":
            lfu = LfuCounters(log_factor, decay)
            for key in db.data:
                lfu.touch(key)
            return lfu
        return None

    @property
    def over_limit(self) -> bool:
        return self.memory.used > self.maxmemory

    def free_memory(self) -> bool:
        """Evict until the dataset fits; False when it still does not fit."""
        memory, limit = self.memory, self.maxmemory
        while memory.used > limit:
            victim = self._pick()
            if victim is None:
                return False
            db, key = victim
            db.evict(key)
            self.evicted_keys += 1
        return True

    def _pick(self) -> tuple[Database, bytes] | None:
        policy = self.policy
        if policy == "noeviction":
            return None
        dbs = [db for db in self.keyspace.dbs if (db.expires if policy.startswith("volatile") else db.data)]
        if not dbs:
            return None
        if policy == "allkeys-lru":
            return self._least_recent(dbs)
        if policy == "volatile-ttl":
            return self._nearest_expiry(dbs)
        volatile = policy.startswith("volatile")
        if policy.endswith("random"):
            db = random.choice(dbs)
            picked = self._sampler(db, volatile).sample(db.expires if volatile else db.data, 1)  # type: ignore[arg-type]
            if not picked:
                return None
            self._sampler(db, volatile).evictions_left -= 1
            return db, picked[0]
        # Redis's eviction pool: the best candidates of earlier rounds compete with new samples.
        candidates = set(self._pool)
        for db in dbs:
            source = db.expires if volatile else db.data
            candidates.update((db, key) for key in self._sampler(db, volatile).sample(source, self.samples))  # type: ignore[arg-type]
        ranked = sorted(
            ((db.access.rank(key) if db.access else 0.0, db.index, key, db) for db, key in candidates
             if key in (db.expires if volatile else db.data)),
            reverse=True,
        )  # fmt: skip
        self._pool = [(db, key) for _, _, key, db in ranked[1 : 1 + POOL_SIZE]]
        if not ranked:
            return None
        _, _, key, db = ranked[0]
        self._sampler(db, volatile).evictions_left -= 1
        return db, key

    def _sampler(self, db: Database, volatile: bool) -> _KeySampler:
        return self._samplers.setdefault((db.index, volatile), _KeySampler())

    @staticmethod
    def _least_recent(dbs: list[Database]) -> tuple[Database, bytes] | None:
        best: tuple[int, Database, bytes] | None = None
        for db in dbs:
            access = db.access
            if not isinstance(access, LruClock):
                continue
            oldest = access.oldest()
            while oldest is not None and oldest[0] not in db.data:  # defensive: stale entry
                access.forget(oldest[0])
                oldest = access.oldest()
            if oldest is not None and (best is None or oldest[1] < best[0]):
                best = (oldest[1], db, oldest[0])
        return None if best is None else (best[1], best[2])

    @staticmethod
    def _nearest_expiry(dbs: list[Database]) -> tuple[Database, bytes] | None:
        best: tuple[int, Database, bytes] | None = None
        for db in dbs:
            heap, expires = db.expiry_heap, db.expires
            while heap and expires.get(heap[0][1]) != heap[0][0]:
                heapq.heappop(heap)  # a stale entry: the key lost or changed its TTL
            if heap and (best is None or heap[0][0] < best[0]):
                best = (heap[0][0], db, heap[0][1])
        return None if best is None else (best[1], best[2])
