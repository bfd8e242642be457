"""Per-key access tracking for the LRU and LFU eviction policies and OBJECT IDLETIME/FREQ.

Tracking is on only while ``maxmemory-policy`` is an LRU or LFU policy, so the default
configuration stores nothing per key. Reads touch a key through ``Database.access``;
writes and deletions arrive through the change signals.

* LRU keeps an insertion-ordered dict of key -> last access (ms) in access order, so the
  least recently used key is the first one: exact LRU, where Redis samples.
* LFU keeps Redis's logarithmic 8-bit counter with its decay over time, packed with the
  minute of the last decrement (``counter | minutes << 8``).
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Iterable

from magpie.store.clock import CLOCK

LFU_INIT = 5  # a new key's counter, so that it is not evicted before it can be used


class LruClock:
    __slots__ = ("order",)

    def __init__(self) -> None:
        self.order: OrderedDict[bytes, int] = OrderedDict()

    def touch(self, key: bytes) -> None:
        order = self.order
        order[key] = CLOCK.ms
        order.move_to_end(key)

    def forget(self, key: bytes) -> None:
        self.order.pop(key, None)

    def tracked(self) -> Iterable[bytes]:
        return self.order.keys()

    def idle_ms(self, key: bytes) -> int:
        return max(0, CLOCK.ms - self.order.get(key, CLOCK.ms))

    def oldest(self) -> tuple[bytes, int] | None:
        """The least recently used key and its last access time."""
        for item in self.order.items():
            return item
        return None

    def rank(self, key: bytes) -> float:
        """Eviction preference among sampled keys: larger is a better victim."""
        return float(CLOCK.ms - self.order.get(key, 0))


class LfuCounters:
    __slots__ = ("counters", "log_factor", "decay_minutes")

    def __init__(self, log_factor: int = 10, decay_minutes: int = 1) -> None:
        self.counters: dict[bytes, int] = {}
        self.log_factor = log_factor
        self.decay_minutes = decay_minutes

    def _decayed(self, packed: int, now_minutes: int) -> int:
        counter = packed & 0xFF
        if self.decay_minutes:
            periods = (now_minutes - (packed >> 8)) // self.decay_minutes
            counter = max(0, counter - periods)
        return counter

    def touch(self, key: bytes) -> None:
        now = CLOCK.ms // 60_000
        packed = self.counters.get(key)
        if packed is None:
            self.counters[key] = LFU_INIT | now << 8
            return
        counter = self._decayed(packed, now)
        if counter < 255:
            base = max(0, counter - LFU_INIT)
            if random.random() < 1.0 / (base * self.log_factor + 1):
                counter += 1
        self.counters[key] = counter | now << 8

    def forget(self, key: bytes) -> None:
        self.counters.pop(key, None)

    def tracked(self) -> Iterable[bytes]:
        return self.counters.keys()

    def frequency(self, key: bytes) -> int:
        packed = self.counters.get(key)
        return LFU_INIT if packed is None else self._decayed(packed, CLOCK.ms // 60_000)

    def rank(self, key: bytes) -> float:
        return float(255 - self.frequency(key))


AccessTracker = LruClock | LfuCounters


def track_changes(db, key: bytes | None, event: str) -> None:  # noqa: ANN001 - Database
    """Change-signal listener: a write touches its key, a deletion forgets it."""
    access = db.access
    if access is None or key is None or event == "new":
        return
    if key in db.data:
        access.touch(key)
    else:
        access.forget(key)
