"""Driving a load on the event loop: clients are answered (``-LOADING``) between slices,
and a progress line with the percentage and rate goes to the log every few seconds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from magpie.server.server import Server

log = logging.getLogger("magpie")

#: The loop serves clients at least this often during a load.
SLICE_SECONDS = 0.02
PROGRESS_EVERY_SECONDS = 2.0


async def load_with_progress(server: Server, steps: Iterator[None], total_bytes: int) -> None:
    """Run ``steps`` (a Snapshots load) to the end, yielding to the loop now and then."""
    snapshots = server.snapshots
    started = last_slice = last_log = time.monotonic()
    for _ in steps:
        now = time.monotonic()
        if now - last_slice >= SLICE_SECONDS:
            await asyncio.sleep(0)
            last_slice = time.monotonic()
        if now - last_log >= PROGRESS_EVERY_SECONDS:
            last_log = now
            done = snapshots.loading_done
            rate = done / (now - started) / 1e6
            log.info("Loading the dataset: %.2f%% (%d of %d bytes, %.1f MB/s)",
                     100 * done / max(total_bytes, 1), done, total_bytes, rate)  # fmt: skip
    stats = snapshots.last_load
    aux = dict(stats.aux)
    if b"redis-ver" in aux:
        log.info("Loading RDB produced by version %s", aux[b"redis-ver"].decode(errors="replace"))
    log.info("Done loading RDB, keys loaded: %d, keys expired: %d.", stats.keys_loaded, stats.keys_expired)
    log.info("DB loaded from disk: %.3f seconds", time.monotonic() - started)
