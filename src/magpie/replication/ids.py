"""Replication IDs: which history a dataset belongs to, and since when.

A primary's ``replid`` names its stream. When a replica is promoted it keeps serving the
old stream's replicas: the old ID moves to ``replid2`` with ``second_offset`` (the first
offset that is not the old primary's any more), so a replica of the old primary may
continue (partially resync) from the new one, as Redis 4's PSYNC2 allows.
"""

from __future__ import annotations

import secrets

NO_ID = "0" * 40


def new_replid() -> str:
    return secrets.token_hex(20)


class ReplicationIds:
    __slots__ = ("replid", "replid2", "second_offset")

    def __init__(self) -> None:
        self.replid = new_replid()
        self.replid2 = NO_ID
        self.second_offset = -1

    def shift(self, offset: int) -> None:
        """Promotion (REPLICAOF NO ONE, a failover): a new history starts after ``offset``."""
        self.replid2 = self.replid
        self.second_offset = offset + 1
        self.replid = new_replid()

    def change(self) -> None:
        """A new history with no tie to the old one (DEBUG CHANGE-REPL-ID, first backlog)."""
        self.replid = new_replid()

    def clear_second(self) -> None:
        self.replid2 = NO_ID
        self.second_offset = -1

    def continues(self, replid: str, psync_offset: int) -> bool:
        """True when a replica that asks for ``psync_offset`` of history ``replid`` is on
        our history: our own ID, or the previous one up to where it ended."""
        if replid == self.replid:
            return True
        return replid == self.replid2 and psync_offset <= self.second_offset
