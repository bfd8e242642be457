"""FAILOVER (a planned switchover) and PUBLISH reaching replicas, on Magpie pairs."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from replication_helpers import wait_for as _wait
from servers import start_magpie

FAST = ("--repl-diskless-sync-delay", "0")



@pytest.fixture
def pair():
    primary = start_magpie(*FAST)
    replica = start_magpie(*FAST, "--replicaof", "127.0.0.1", str(primary.port))
    p, r = primary.client(), replica.client()
    _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    yield primary, replica, p, r
    replica.stop()
    primary.stop()


def test_failover_swaps_roles_and_loses_no_write(pair):
    primary, replica, p, r = pair
    for i in range(500):
        p.set(f"k{i}", i)
    history = p.info("replication")["master_replid"]
    assert p.execute_command("FAILOVER") == b"OK"
    _wait(lambda: r.info("replication")["role"] == "master", what="promotion")
    _wait(lambda: p.info("replication").get("master_link_status") == "up", what="old primary following")
    assert p.execute_command("ROLE")[0] == b"slave"
    assert r.dbsize() == 500
    assert r.info("replication")["master_replid2"] == history
    # the old primary continued the stream (+CONTINUE), it did not need a full sync
    assert r.info("stats")["sync_partial_ok"] >= 1
    assert p.info("replication")["master_failover_state"] == "no-failover"
    r.set("after", "1")
    assert r.wait(1, 2000) == 1
    assert p.get("after") == b"1"
    with pytest.raises(redis.ReadOnlyError):
        p.set("x", 1)


def test_failover_to_a_named_target(pair):
    primary, replica, p, r = pair
    assert p.execute_command("FAILOVER", "TO", "127.0.0.1", replica.port, "TIMEOUT", 5000) == b"OK"
    _wait(lambda: r.info("replication")["role"] == "master", what="promotion")


def test_writes_wait_during_failover_and_then_hit_the_new_role(pair):
    primary, replica, p, r = pair
    other = primary.client()
    other.ping()
    replica.proc.send_signal(19)  # SIGSTOP: the target cannot catch up for now
    try:
        p.set("before", "1")
        assert p.execute_command("FAILOVER", "TIMEOUT", 60000) == b"OK"
        assert p.info("replication")["master_failover_state"] == "waiting-for-sync"
        outcome: list[object] = []

        def write() -> None:
            try:
                outcome.append(other.set("during", "1"))
            except redis.RedisError as exc:
                outcome.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.3)
        assert outcome == []  # paused, not refused
        assert p.get("before") == b"1"  # reads go on
    finally:
        replica.proc.send_signal(18)  # SIGCONT
    writer.join(15)
    assert len(outcome) == 1 and isinstance(outcome[0], redis.ReadOnlyError)
    _wait(lambda: r.info("replication")["role"] == "master", what="promotion")
    assert r.get("before") == b"1"


def test_failover_timeout_aborts_and_unpauses(pair):
    primary, replica, p, r = pair
    replica.proc.send_signal(19)
    try:
        p.set("x", "1")
        assert p.execute_command("FAILOVER", "TIMEOUT", 300) == b"OK"
        _wait(lambda: p.info("replication")["master_failover_state"] == "no-failover", what="abort")
        assert p.info("replication")["role"] == "master"
        assert p.set("y", "1") is True  # writers run again
    finally:
        replica.proc.send_signal(18)
    assert "Replica never caught up before timeout" in primary.log()


def test_failover_abort(pair):
    primary, replica, p, r = pair
    replica.proc.send_signal(19)
    try:
        p.set("x", "1")
        assert p.execute_command("FAILOVER") == b"OK"
        assert p.execute_command("FAILOVER", "ABORT") == b"OK"
        assert p.info("replication")["master_failover_state"] == "no-failover"
        assert p.set("y", "1") is True
    finally:
        replica.proc.send_signal(18)


def test_failover_errors_match_redis(pair):
    primary, replica, p, r = pair
    cases = [
        (p, ["FAILOVER", "ABORT"], "No failover in progress."),
        (p, ["FAILOVER", "TIMEOUT", "0"], "FAILOVER timeout must be greater than 0"),
        (p, ["FAILOVER", "FORCE"], "FAILOVER with force option requires both a timeout and target HOST and IP."),
        (p, ["FAILOVER", "TO", "127.0.0.1", "1"], "FAILOVER target HOST and PORT is not a replica."),
        (p, ["FAILOVER", "BOGUS"], "syntax error"),
        (r, ["FAILOVER"], "FAILOVER is not valid when server is a replica."),
    ]
    for client, argv, message in cases:
        with pytest.raises(redis.ResponseError) as info:
            client.execute_command(*argv)
        assert str(info.value) == message, argv


def test_failover_without_replicas_is_refused():
    server = start_magpie()
    try:
        with pytest.raises(redis.ResponseError, match="FAILOVER requires connected replicas."):
            server.client().execute_command("FAILOVER")
    finally:
        server.stop()


def test_publish_on_the_primary_reaches_subscribers_of_the_replica(pair):
    primary, replica, p, r = pair
    sub = replica.client().pubsub()
    sub.subscribe("news")
    assert sub.get_message(timeout=2)["type"] == "subscribe"
    p.publish("news", "hello")
    message = None
    deadline = time.monotonic() + 5
    while message is None and time.monotonic() < deadline:
        message = sub.get_message(timeout=0.5)
    assert message is not None and message["data"] == b"hello"
    sub.close()


def test_a_replicas_own_publish_and_local_writes_stay_out_of_its_stream(pair):
    """Found by the Sentinel test: a replica counted Sentinel's PUBLISH hellos into its
    offset, so its ACKs claimed writes it did not have (WAIT trusted them)."""
    primary, replica, p, r = pair
    p.set("k", "v")
    _wait(lambda: r.info("replication")["slave_repl_offset"] == p.info("replication")["master_repl_offset"],
          what="offsets equal")  # fmt: skip
    before = r.info("replication")["master_repl_offset"]
    r.config_set("replica-read-only", "no")
    for i in range(20):
        r.publish("__sentinel__:hello", "x" * 100)
        r.set(f"local{i}", "1")
    time.sleep(0.1)
    assert r.info("replication")["master_repl_offset"] == before
    assert p.info("replication")["master_repl_offset"] == before
    assert p.get("local0") is None


def test_a_transaction_cut_across_reads_runs_once_on_the_replica(pair):
    """Its commands are queued as they arrive; later reads must not queue them again."""
    primary, replica, p, r = pair
    pipe = p.pipeline(transaction=True)
    for _ in range(3000):
        pipe.rpush("big", "x" * 200)  # ~650 KB: the replica reads it in many pieces
    pipe.execute()
    _wait(lambda: r.info("replication")["slave_repl_offset"] == p.info("replication")["master_repl_offset"],
          what="offsets equal")  # fmt: skip
    assert r.llen("big") == 3000
