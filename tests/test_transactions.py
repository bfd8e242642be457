"""MULTI/EXEC/DISCARD/WATCH/UNWATCH: queueing, aborts, optimistic locking, propagation."""

from __future__ import annotations

import socket
import time

import pytest
import redis


def test_pipeline_transaction(r):
    with r.pipeline(transaction=True) as pipe:
        pipe.set("a", "1").incr("a").get("a")
        assert pipe.execute() == [True, 2, b"2"]


def test_runtime_errors_do_not_abort(r):
    r.set("s", "text")
    with r.pipeline(transaction=True) as pipe:
        pipe.incr("s").set("b", "1")
        results = pipe.execute(raise_on_error=False)
    assert isinstance(results[0], redis.ResponseError)
    assert r.get("b") == b"1"


def test_queue_errors_abort_with_execabort(r):
    r.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("SET", "k")
    assert r.execute_command("GET", "k") in (b"QUEUED", "QUEUED")
    with pytest.raises(redis.exceptions.ExecAbortError, match="discarded because of previous errors"):
        r.execute_command("EXEC")
    with pytest.raises(redis.ResponseError, match="EXEC without MULTI"):  # the abort ended MULTI
        r.execute_command("EXEC")


def test_nesting_and_watch_inside_multi_are_errors(r):
    r.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="MULTI calls can not be nested"):
        r.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="WATCH inside MULTI is not allowed"):
        r.execute_command("WATCH", "k")
    assert r.execute_command("EXEC") == []


def test_exec_and_discard_without_multi(r):
    with pytest.raises(redis.ResponseError, match="EXEC without MULTI"):
        r.execute_command("EXEC")
    with pytest.raises(redis.ResponseError, match="DISCARD without MULTI"):
        r.execute_command("DISCARD")


def test_discard_drops_the_queue(r):
    r.execute_command("MULTI")
    r.execute_command("SET", "k", "v")
    assert r.execute_command("DISCARD") in (b"OK", "OK", True)
    assert r.get("k") is None


def _watch_then(magpie, setup, interfere) -> list | None:
    """WATCH k on one connection, let ``interfere`` act, then try a transaction."""
    main = magpie.client(protocol=2, single_connection_client=True)
    other = magpie.client(protocol=2)
    setup(main)
    main.execute_command("WATCH", "k")
    interfere(other)
    main.execute_command("MULTI")
    main.execute_command("SET", "result", "done")
    reply = main.execute_command("EXEC")
    main.close()
    other.close()
    return reply


@pytest.mark.parametrize(
    "interfere",
    [
        lambda o: o.set("k", "changed"),
        lambda o: o.delete("k"),
        lambda o: o.expire("k", 100),
        lambda o: o.rename("k", "k2"),
        lambda o: o.flushall(),
        lambda o: o.execute_command("SWAPDB", "0", "1"),
        lambda o: o.append("k", "x"),
    ],
    ids=["set", "del", "expire", "rename", "flushall", "swapdb", "append"],
)
def test_watch_is_invalidated_by_writes(magpie, r2, interfere):
    assert _watch_then(magpie, lambda c: c.set("k", "v"), interfere) is None
    assert r2.get("result") is None


def test_watch_survives_reads_and_other_keys(magpie, r2):
    reply = _watch_then(magpie, lambda c: c.set("k", "v"), lambda o: (o.get("k"), o.set("other", 1)))
    assert reply == [b"OK"]


def test_watch_is_invalidated_by_expiry(magpie, r2):
    def setup(c):
        c.set("k", "v", px=50)

    def interfere(o):
        time.sleep(0.1)
        o.get("k")  # lazily expires it

    assert _watch_then(magpie, setup, interfere) is None


def test_unwatch_and_exec_forget_watches(magpie, r2):
    main = magpie.client(protocol=2, single_connection_client=True)
    main.execute_command("WATCH", "k")
    main.execute_command("UNWATCH")
    r2.set("k", "changed")
    main.execute_command("MULTI")
    main.execute_command("SET", "x", "1")
    assert main.execute_command("EXEC") == [b"OK"]
    main.close()


def test_redis_py_watch_retry_loop(magpie, r):
    r.set("counter", "0")

    def bump(pipe):
        value = int(pipe.get("counter"))
        pipe.multi()
        pipe.set("counter", value + 1)

    for _ in range(5):
        r.transaction(bump, "counter")
    assert r.get("counter") == b"5"


def test_select_and_subscribe_inside_exec(r2):
    r2.execute_command("MULTI")
    r2.execute_command("SELECT", "3")
    r2.execute_command("SET", "in3", "x")
    r2.execute_command("EXEC")
    assert r2.execute_command("GET", "in3") == b"x"
    r2.execute_command("SELECT", "0")


def test_transaction_is_propagated_wrapped(r2):
    r2.execute_command("DEBUG", "RECORD-PROPAGATION", "ON")
    try:
        with r2.pipeline(transaction=True) as pipe:
            pipe.set("a", "1").incr("a").get("a")
            pipe.execute()
        with r2.pipeline(transaction=True) as pipe:  # a single write goes out alone
            pipe.set("b", "1").get("b")
            pipe.execute()
        log = r2.execute_command("DEBUG", "PROPAGATED")
    finally:
        r2.execute_command("DEBUG", "RECORD-PROPAGATION", "OFF")
    assert log == [[b"SELECT", b"0"], [b"MULTI"], [b"SET", b"a", b"1"], [b"INCRBY", b"a", b"1"], [b"EXEC"],
                   [b"SET", b"b", b"1"]]  # fmt: skip


SCRIPT = [
    b"MULTI", b"MULTI", b"WATCH k", b"FOO", b"SET a", b"GET a", b"EXEC", b"EXEC", b"DISCARD",
    b"MULTI", b"SET a 1", b"INCR a", b"INCRBYFLOAT a x", b"EXEC", b"EXEC x", b"MULTI", b"EXEC x",
    b"EXEC", b"UNWATCH", b"MULTI", b"UNWATCH", b"PING", b"EXEC", b"MULTI", b"SHUTDOWN", b"EXEC",
    b"WATCH a", b"MULTI", b"DEL a", b"EXEC", b"MULTI", b"SUBSCRIBE ch", b"EXEC",
]  # fmt: skip


def _replies(port: int) -> list[bytes]:
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for line in SCRIPT:
            sock.sendall(line + b"\r\n")
            time.sleep(0.01)
            sock.settimeout(0.5)
            data = b""
            try:
                while not data.endswith(b"\r\n"):
                    data += sock.recv(65536)
                time.sleep(0.02)
                sock.setblocking(False)
                try:
                    data += sock.recv(65536)
                except BlockingIOError:
                    pass
                sock.setblocking(True)
            except TimeoutError:
                pass
            out.append(data)
    return out


def test_reply_stream_matches_redis(magpie, reference_redis):
    for server in (magpie, reference_redis):
        server.client(protocol=2).flushall()
    assert _replies(magpie.port) == _replies(reference_redis.port)
