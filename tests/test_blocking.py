"""Blocking pops: waiting, serving in FIFO order, timeouts, MULTI, CLIENT UNBLOCK, disconnects."""

from __future__ import annotations

import socket
import time

import pytest
from conftest import RawConnection


def blocked_count(client) -> int:
    return client.info("clients")["blocked_clients"]


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


@pytest.fixture
def blocker(magpie, r2):
    conns = []

    def start(line: bytes) -> RawConnection:
        conn = RawConnection(magpie.port)
        before = blocked_count(r2)
        conn.send(line + b"\r\n")
        wait_until(lambda: blocked_count(r2) == before + 1)
        conns.append(conn)
        return conn

    yield start
    for conn in conns:
        conn.close()


def test_blpop_serves_at_once_when_data_is_there(r):
    r.rpush("l", "a", "b")
    assert r.blpop(["missing", "l"], timeout=1) in ((b"l", b"a"), [b"l", b"a"])
    assert r.brpop(["l"], timeout=1) in ((b"l", b"b"), [b"l", b"b"])


def test_blpop_waits_for_a_push(blocker, r2):
    conn = blocker(b"BLPOP q 0")
    assert r2.rpush("q", "job") == 1
    assert conn.read_until(b"job\r\n") == b"*2\r\n$1\r\nq\r\n$3\r\njob\r\n"
    assert r2.exists("q") == 0  # the element went to the waiting client


def test_waiters_are_served_in_fifo_order(blocker, r2):
    first = blocker(b"BLPOP q 0")
    second = blocker(b"BLPOP q 0")
    r2.rpush("q", "one")
    assert first.read_until(b"one\r\n").endswith(b"one\r\n")
    r2.rpush("q", "two")
    assert second.read_until(b"two\r\n").endswith(b"two\r\n")


def test_sub_second_timeout_answers_null(r2, magpie):
    conn = RawConnection(magpie.port)
    conn.send(b"BLPOP nothing 0.2\r\n")
    assert conn.read_until(b"\r\n") == b"*-1\r\n"
    conn.send(b"HELLO 3\r\n")
    conn.read_until(b"modules\r\n*0\r\n")
    conn.send(b"BLMOVE nothing other LEFT RIGHT 0.1\r\n")
    assert conn.read_until(b"\r\n") == b"_\r\n"
    conn.close()


def test_push_inside_exec_serves_after_exec(blocker, r2, magpie):
    conn = blocker(b"BLPOP q 0")
    tx = magpie.client(protocol=2, single_connection_client=True)
    tx.execute_command("MULTI")
    tx.execute_command("RPUSH", "q", "x")
    tx.execute_command("LPOP", "q")
    assert tx.execute_command("EXEC") == [1, b"x"]
    assert blocked_count(r2) == 1  # the element was gone by the end of EXEC
    r2.rpush("q", "y")
    assert conn.read_until(b"y\r\n").endswith(b"$1\r\ny\r\n")
    tx.close()


def test_blocking_command_inside_multi_does_not_block(magpie):
    tx = magpie.client(protocol=2, single_connection_client=True)
    tx.execute_command("MULTI")
    tx.execute_command("BLPOP", "empty", "0")
    tx.execute_command("BLMOVE", "empty", "x", "LEFT", "LEFT", "0")
    assert tx.execute_command("EXEC") == [None, None]
    tx.close()


def test_client_unblock(blocker, r2, magpie):
    conn = blocker(b"CLIENT ID\r\nBLPOP q 0")
    client_id = int(conn.read_until(b"\r\n")[1:-2])
    assert r2.execute_command("CLIENT", "UNBLOCK", client_id) == 1
    assert conn.read_until(b"\r\n") == b"*-1\r\n"
    assert r2.execute_command("CLIENT", "UNBLOCK", client_id) == 0
    conn.send(b"BLPOP q 0\r\n")
    wait_until(lambda: blocked_count(r2) == 1)
    assert r2.execute_command("CLIENT", "UNBLOCK", client_id, "ERROR") == 1
    assert conn.read_until(b"\r\n") == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"


def test_disconnected_waiter_leaves_no_trace(blocker, r2):
    conn = blocker(b"BLPOP q 0")
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    wait_until(lambda: blocked_count(r2) == 0)
    r2.rpush("q", "kept")
    assert r2.lrange("q", 0, -1) == [b"kept"]


def test_pipelined_commands_after_a_blocking_one_wait_for_it(blocker, r2):
    conn = blocker(b"BLPOP q 0\r\nECHO after")
    r2.rpush("q", "v")
    data = conn.read_until(b"after\r\n")
    assert data == b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n$5\r\nafter\r\n"


def test_blmove_brpoplpush_blmpop_served_by_push(blocker, r2):
    mover = blocker(b"BLMOVE src dst RIGHT LEFT 0")
    r2.rpush("src", "a")
    assert mover.read_until(b"a\r\n") == b"$1\r\na\r\n"
    assert r2.lrange("dst", 0, -1) == [b"a"]
    legacy = blocker(b"BRPOPLPUSH src2 dst2 0")
    r2.rpush("src2", "b")
    assert legacy.read_until(b"b\r\n") == b"$1\r\nb\r\n"
    multi = blocker(b"BLMPOP 0 2 k1 k2 LEFT COUNT 5")
    r2.rpush("k2", "x", "y")
    assert multi.read_until(b"y\r\n") == b"*2\r\n$2\r\nk2\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n"


def test_served_pop_is_propagated_as_its_plain_twin(blocker, r2):
    r2.execute_command("DEBUG", "RECORD-PROPAGATION", "ON")
    try:
        conn = blocker(b"BLPOP q 0")
        r2.rpush("q", "v")
        conn.read_until(b"v\r\n")
        log = r2.execute_command("DEBUG", "PROPAGATED")
    finally:
        r2.execute_command("DEBUG", "RECORD-PROPAGATION", "OFF")
    assert log[-2:] == [[b"RPUSH", b"q", b"v"], [b"LPOP", b"q"]]


@pytest.mark.parametrize(
    "args, error",
    [
        (["BLPOP", "q", "abc"], "timeout is not a float or out of range"),
        (["BLPOP", "q", "-1"], "timeout is negative"),
        (["BLMOVE", "a", "b", "UP", "LEFT", "0"], "syntax error"),
        (["CLIENT", "UNBLOCK", "1", "LATER"], "CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    ],
)
def test_errors_match_redis(r2, reference_redis, args, error):
    import redis

    ref = reference_redis.client(protocol=2)
    with pytest.raises(redis.ResponseError) as ours:
        r2.execute_command(*args)
    with pytest.raises(redis.ResponseError) as theirs:
        ref.execute_command(*args)
    assert str(ours.value) == str(theirs.value)
    assert error in str(ours.value)


def test_wrongtype_key_fails_at_once(r2):
    import redis

    r2.set("s", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r2.blpop(["s"], timeout=0)


def test_bzpopmin_bzpopmax_bzmpop(blocker, r2):
    low = blocker(b"BZPOPMIN z1 z2 0")
    r2.zadd("z2", {"a": 1, "b": 2})
    assert low.read_until(b"1\r\n") == b"*3\r\n$2\r\nz2\r\n$1\r\na\r\n$1\r\n1\r\n"
    high = blocker(b"BZPOPMAX z3 0")
    r2.zadd("z3", {"x": 5, "y": 7})
    assert high.read_until(b"7\r\n") == b"*3\r\n$2\r\nz3\r\n$1\r\ny\r\n$1\r\n7\r\n"
    many = blocker(b"BZMPOP 0 2 z4 z5 MIN COUNT 2")
    r2.zadd("z5", {"p": 1, "q": 2, "r": 3})
    assert many.read_until(b"2\r\n") == b"*2\r\n$2\r\nz5\r\n*2\r\n*2\r\n$1\r\np\r\n$1\r\n1\r\n*2\r\n$1\r\nq\r\n$1\r\n2\r\n"
    assert r2.zrange("z5", 0, -1) == [b"r"]


def test_bzpop_served_at_once_and_timeouts(r2):
    r2.zadd("z", {"a": 1})
    assert tuple(r2.execute_command("BZPOPMAX", "z", "0")) == (b"z", b"a", 1.0)
    assert r2.execute_command("BZPOPMIN", "z", "0.05") is None
    assert r2.execute_command("BZMPOP", "0.05", "1", "z", "MAX") is None
