"""The server's notion of "now" in milliseconds.

Like Redis, time is read once per batch of commands (and per housekeeping tick) rather than
per key lookup, so a command and the expiry checks it triggers agree on the time.
"""

from __future__ import annotations

import time


class Clock:
    __slots__ = ("ms",)

    def __init__(self) -> None:
        self.ms = time.time_ns() // 1_000_000

    def update(self) -> int:
        self.ms = time.time_ns() // 1_000_000
        return self.ms


#: The one clock the server reads; tests of the data layer may set ``CLOCK.ms`` directly.
CLOCK = Clock()
