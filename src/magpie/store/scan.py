"""Cursors for SCAN-style iteration over a changing collection.

Redis's reverse-binary cursor relies on its own hash table; a Python dict offers no stable
position. Instead the first call of an iteration snapshots the collection's keys (a list
of references, 8 bytes a key) and the cursor encodes (snapshot id, position). Every key
present for the whole iteration is in the snapshot, so it is returned, which is SCAN's
guarantee; keys deleted meanwhile are skipped when reached. Snapshots are kept in a
bounded LRU and dropped when their iteration completes. A cursor whose snapshot was
evicted restarts from a fresh snapshot at the same position (best effort).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

_POS_BITS = 32
_POS_MASK = (1 << _POS_BITS) - 1
MAX_SNAPSHOTS = 64
MAX_SNAPSHOT_ENTRIES = 16_000_000


class ScanCursors:
    def __init__(self) -> None:
        self._snapshots: OrderedDict[int, tuple[object, list]] = OrderedDict()
        self._entries = 0
        self._next_id = 1

    def page(
        self,
        owner: object,
        cursor: int,
        count: int,
        take_snapshot: Callable[[], Iterable],
    ) -> tuple[int, list]:
        """Return (next cursor, up to about ``count`` candidates) for ``owner``'s collection.

        Candidates may since have been deleted; the caller filters them.
        """
        snap_id, pos = cursor >> _POS_BITS, cursor & _POS_MASK
        entry = self._snapshots.get(snap_id) if cursor else None
        if entry is None or entry[0] is not owner:
            snap_id = self._next_id
            self._next_id += 1
            keys = list(take_snapshot())
            self._store(snap_id, owner, keys)
            if not cursor:
                pos = 0
        else:
            self._snapshots.move_to_end(snap_id)
            keys = entry[1]
        chunk = keys[pos : pos + count]
        pos += len(chunk)
        if pos >= len(keys):
            self._drop(snap_id)
            return 0, chunk
        return (snap_id << _POS_BITS) | pos, chunk

    def _store(self, snap_id: int, owner: object, keys: list) -> None:
        self._snapshots[snap_id] = (owner, keys)
        self._entries += len(keys)
        while len(self._snapshots) > MAX_SNAPSHOTS or (
            self._entries > MAX_SNAPSHOT_ENTRIES and len(self._snapshots) > 1
        ):
            _, (_, old) = self._snapshots.popitem(last=False)
            self._entries -= len(old)

    def _drop(self, snap_id: int) -> None:
        entry = self._snapshots.pop(snap_id, None)
        if entry is not None:
            self._entries -= len(entry[1])
