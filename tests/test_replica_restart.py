"""A replica restarted on its own RDB continues its primary's stream (a partial resync),
in the database the stream was in (the RDB's repl-stream-db), as Redis 4+ replicas do."""

from __future__ import annotations

from replication_helpers import wait_for as _wait
from servers import start_magpie


def test_restarted_replica_continues_in_the_stream_database():
    primary = start_magpie("--repl-diskless-sync-delay", "0")
    replica = start_magpie("--save", "3600 1", "--replicaof", "127.0.0.1", str(primary.port))
    try:
        p = primary.client(db=3)
        r = replica.client(db=3)
        _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
        p.set("before", "1")
        _wait(lambda: r.get("before") == b"1", what="first write")
        replica.stop(keep_dir=True)  # SIGTERM: saves its RDB with repl-id/offset/stream db
        p.set("while-down", "2")  # still db 3: the stream has no SELECT before it
        full_syncs = p.info("stats")["sync_full"]
        replica = start_magpie("--save", "3600 1", "--replicaof", "127.0.0.1", str(primary.port),
                               workdir=replica.workdir)  # fmt: skip
        r = replica.client(db=3)
        _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up again")
        _wait(lambda: r.get("while-down") == b"2", what="the missed write, in db 3")
        assert replica.client(db=0).dbsize() == 0
        stats = p.info("stats")
        assert stats["sync_full"] == full_syncs
        assert stats["sync_partial_ok"] >= 1
    finally:
        replica.stop()
        primary.stop()
