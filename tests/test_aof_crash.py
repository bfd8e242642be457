"""Crash tests: writers send acknowledged writes while the server is SIGKILLed at a random
moment (sometimes in the middle of a rewrite), then the server restarts on its directory.

- ``appendfsync always``: every acknowledged write is there.
- ``appendfsync everysec``: at most about the last second of acknowledged writes is missing.
- Either way nothing is there that was never sent, and each writer's log is a prefix of what
  it sent, in order.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from servers import start_magpie

SEED = 4242
ROUNDS = 2


class Writer(threading.Thread):
    """Sends ``SET <prefix>:<n> <n>`` and ``RPUSH <prefix>:log <n>`` in pipelines of 1-20,
    and records what was sent and, with the time, what was acknowledged."""

    def __init__(self, server, prefix: str, start: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.client = server.client(socket_timeout=5, retry=Retry(NoBackoff(), 0))  # no reconnecting
        self.prefix = prefix
        self.next = start
        self.rng = random.Random(seed)
        self.sent: set[int] = set()
        self.acked: list[tuple[float, int]] = []

    def run(self) -> None:
        try:
            while True:
                batch = list(range(self.next, self.next + self.rng.randint(1, 20)))
                self.next = batch[-1] + 1
                pipe = self.client.pipeline(transaction=False)
                for n in batch:
                    pipe.set(f"{self.prefix}:{n}", n)
                    pipe.rpush(f"{self.prefix}:log", n)
                self.sent.update(batch)
                pipe.execute()
                now = time.monotonic()
                self.acked += [(now, n) for n in batch]
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return  # the server was killed


def check_after_restart(server, history: dict[str, tuple[set[int], list[tuple[float, int]]]],
                        killed_at: float, window: float) -> None:  # fmt: skip
    r = server.wait_loaded()
    for prefix, (sent, acked) in history.items():
        log = [int(x) for x in r.lrange(f"{prefix}:log", 0, -1)]
        assert log == sorted(log) and len(set(log)) == len(log), "the log is out of order"
        assert set(log) <= sent, "a value that was never sent"
        keys = {int(k.split(b":")[1]) for k in r.scan_iter(f"{prefix}:*", count=1000) if not k.endswith(b":log")}
        assert keys == set(log), "keys and log disagree (they were written together)"
        must_have = {n for t, n in acked if t < killed_at - window}
        missing = must_have - set(log)
        assert not missing, f"{len(missing)} acknowledged writes lost (first {min(missing)})"


@pytest.mark.parametrize("fsync, window", [("always", 0.0), ("everysec", 1.5)])
def test_acknowledged_writes_survive_sigkill(fsync, window):
    rng = random.Random(f"{SEED}-{fsync}")
    server = start_magpie("--appendonly", "yes", "--appendfsync", fsync)
    history: dict[str, tuple[set[int], list[tuple[float, int]]]] = {"w0": (set(), []), "w1": (set(), [])}
    try:
        for round_no in range(ROUNDS):
            writers = [Writer(server, prefix, i * 10_000_000 + round_no * 1_000_000, rng.randrange(1 << 30))
                       for i, prefix in enumerate(history)]  # fmt: skip
            for writer in writers:
                writer.start()
            time.sleep(rng.uniform(0.3, 0.9))
            if round_no % 2 == 1:  # die in the middle of a rewrite
                server.client().bgrewriteaof()
                time.sleep(rng.uniform(0, 0.05))
            killed_at = time.monotonic()
            server.kill()
            for writer in writers:
                writer.join(10)
                assert len(writer.acked) > 50, len(writer.acked)
                sent, acked = history[writer.prefix]
                sent |= writer.sent
                acked += writer.acked
            server = start_magpie("--appendonly", "yes", "--appendfsync", fsync, workdir=server.workdir)
            check_after_restart(server, history, killed_at, window)
    finally:
        server.stop()
