"""Counters behind INFO stats, and the sampled instantaneous rates."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Stats:
    total_connections_received: int = 0
    rejected_connections: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0
    expired_keys: int = 0
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    net_repl_input_bytes: int = 0
    net_repl_output_bytes: int = 0
    sync_full: int = 0
    sync_partial_ok: int = 0
    sync_partial_err: int = 0
    # (monotonic time, commands, input bytes, output bytes) samples for instantaneous_*
    _samples: list[tuple[float, int, int, int]] = field(default_factory=list)
    #: Counts commands run so far (the server sums its command table's call counters).
    count_commands: Callable[[], int] = lambda: 0

    @property
    def commands_processed(self) -> int:
        return self.count_commands()

    def sample(self) -> None:
        self._samples.append(
            (time.monotonic(), self.commands_processed, self.net_input_bytes, self.net_output_bytes)
        )
        del self._samples[:-16]

    def instantaneous(self) -> tuple[int, float, float]:
        """(ops/sec, input kbps, output kbps) over the last samples, as Redis reports them."""
        if len(self._samples) < 2:
            return 0, 0.0, 0.0
        (t0, c0, i0, o0), (t1, c1, i1, o1) = self._samples[0], self._samples[-1]
        span = max(t1 - t0, 1e-6)
        return int((c1 - c0) / span), (i1 - i0) / span / 1024, (o1 - o0) / span / 1024

    def reset(self) -> None:
        fresh = Stats()
        for name in self.__dataclass_fields__:
            if name != "count_commands":
                setattr(self, name, getattr(fresh, name))
