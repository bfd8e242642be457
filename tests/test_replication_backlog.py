"""The replication backlog and IDs on their own: which offsets a partial resync can be
served from, and which histories continue."""

from __future__ import annotations

from magpie.replication.backlog import ReplicationBacklog
from magpie.replication.ids import NO_ID, ReplicationIds


def test_offsets_start_after_the_backlog_creation_point():
    backlog = ReplicationBacklog(100, end=41)
    assert (backlog.histlen, backlog.first_offset) == (0, 42)
    backlog.append(b"abcdef")
    assert backlog.end == 47
    assert (backlog.histlen, backlog.first_offset) == (6, 42)
    assert backlog.read_from(42) == b"abcdef"
    assert backlog.read_from(45) == b"def"
    assert backlog.read_from(48) == b""  # caught up: nothing to send, still a partial resync
    assert backlog.read_from(49) is None  # ahead of the stream
    assert backlog.read_from(41) is None  # before it


def test_only_the_last_size_bytes_are_offered():
    backlog = ReplicationBacklog(10, end=0)
    for i in range(50):
        backlog.append(b"%02d" % i)
    assert backlog.end == 100
    assert backlog.histlen == 10
    assert backlog.first_offset == 91
    assert backlog.read_from(91) == b"4546474849"
    assert backlog.read_from(90) is None
    assert backlog.memory < 2 * 10 + 2  # trimmed in amortised steps


def test_resize_keeps_what_fits_and_reset_starts_over():
    backlog = ReplicationBacklog(100, end=0)
    backlog.append(b"x" * 80)
    backlog.resize(20)
    assert backlog.histlen == 20 and backlog.first_offset == 61
    backlog.reset(500)
    assert (backlog.end, backlog.histlen, backlog.read_from(501)) == (500, 0, b"")


def test_a_promoted_replica_continues_the_old_history_up_to_where_it_ended():
    ids = ReplicationIds()
    old = ids.replid
    assert ids.continues(old, 1000)
    assert (ids.replid2, ids.second_offset) == (NO_ID, -1)
    ids.shift(1000)
    assert ids.replid != old and ids.replid2 == old and ids.second_offset == 1001
    assert ids.continues(old, 1001)  # a replica that had everything of the old history
    assert not ids.continues(old, 1002)  # it has bytes the new primary never saw
    assert ids.continues(ids.replid, 5000)
    assert not ids.continues("f" * 40, 1)
