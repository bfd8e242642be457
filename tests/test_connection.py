"""Handshake, authentication and connection-level commands through redis-py."""

from __future__ import annotations

import socket

import pytest
import redis
from servers import start_magpie


def test_redis_py_defaults_work(magpie):
    client = redis.Redis(host="127.0.0.1", port=magpie.port)  # redis-py 8: HELLO 3 + SETINFO
    assert client.ping() is True
    assert client.set("greeting", "hi") is True
    assert client.get("greeting") == b"hi"
    client.close()


def test_hello_reply_map(r3):
    reply = r3.execute_command("HELLO", "3")
    assert reply[b"server"] == b"redis"
    assert reply[b"proto"] == 3
    assert reply[b"mode"] == b"standalone"
    assert reply[b"role"] == b"master"
    assert isinstance(reply[b"id"], int)


def test_hello_rejects_unknown_protocol(r):
    with pytest.raises(redis.ResponseError, match="unsupported protocol version"):
        r.execute_command("HELLO", "4")


def test_hello_setname_sets_client_name(r):
    r.execute_command("HELLO", "2", "SETNAME", "worker-1")
    assert r.client_getname() == "worker-1" or r.client_getname() == b"worker-1"


def test_client_setinfo_and_list(r):
    r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "mylib")
    info = r.execute_command("CLIENT", "INFO")
    text = info.decode() if isinstance(info, bytes) else info
    assert "lib-name=mylib" in text
    assert "cmd=client|info" in text


def test_ping_echo_time(r):
    assert r.ping()
    assert r.echo("hello") == b"hello"
    seconds, micros = r.time()
    assert seconds > 1_600_000_000 and 0 <= micros < 1_000_000


def test_select_and_database_isolation(magpie):
    a = magpie.client(db=0)
    b = magpie.client(db=3)
    a.flushall()
    a.set("k", "zero")
    b.set("k", "three")
    assert a.get("k") == b"zero"
    assert b.get("k") == b"three"
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        a.execute_command("SELECT", "16")


@pytest.fixture(scope="module")
def secured():
    server = start_magpie("--requirepass", "s3cret")
    yield server
    server.stop()


class TestAuth:

    def test_commands_need_auth(self, secured):
        client = secured.client(protocol=2)
        with pytest.raises(redis.AuthenticationError):
            client.get("k")

    def test_wrong_password(self, secured):
        client = secured.client(password="nope", protocol=2)
        with pytest.raises(redis.AuthenticationError):
            client.ping()

    def test_right_password_over_resp3(self, secured):
        client = secured.client(password="s3cret")  # HELLO 3 AUTH default s3cret
        assert client.ping()
        assert client.set("k", "v")

    def test_auth_without_password_configured(self, r):
        with pytest.raises(redis.AuthenticationError, match="without any password configured"):
            r.execute_command("AUTH", "x")


def test_client_reply_off_and_skip(raw):
    raw.send(b"CLIENT REPLY SKIP\r\nSET a 1\r\nGET a\r\n")
    assert raw.read_until(b"\r\n1\r\n") == b"$1\r\n1\r\n"
    raw.send(b"CLIENT REPLY OFF\r\nSET a 2\r\nCLIENT REPLY ON\r\nGET a\r\n")
    assert raw.read_until(b"2\r\n") == b"+OK\r\n$1\r\n2\r\n"


def test_reset_restores_connection_state(r3):
    r3.execute_command("SELECT", "2")
    assert r3.execute_command("RESET") in (b"RESET", "RESET")
    r3.execute_command("HELLO", "3")  # RESET went back to RESP2; redis-py expects 3
    assert r3.execute_command("CLIENT", "INFO")


def test_client_kill_by_id(magpie, r):
    victim = magpie.client(protocol=2)
    victim.ping()
    victim_id = victim.client_id()
    assert r.execute_command("CLIENT", "KILL", "ID", str(victim_id)) == 1
    assert r.execute_command("CLIENT", "KILL", "ID", str(victim_id)) == 0


def test_maxclients_is_enforced():
    server = start_magpie("--maxclients", "2")
    try:
        a = server.client(protocol=2)
        b = server.client(protocol=2)
        a.ping()
        b.ping()
        c = server.client(protocol=2)
        with pytest.raises(redis.ConnectionError, match="max number of clients"):
            c.ping()
    finally:
        server.stop()


def test_idle_timeout_closes_client():
    """Idle time is counted in whole seconds and checked once a second, as Redis does, so
    with ``timeout 1`` an idle client goes between one and three seconds later: poll for it
    instead of sleeping a fixed time (a fixed 2.5 s sleep failed in CI)."""
    import time

    server = start_magpie("--timeout", "1")
    try:
        client = server.client(protocol=2)
        client.ping()
        idle_id = client.client_id()
        watcher = server.client(protocol=2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if str(idle_id) not in {c["id"] for c in watcher.client_list()}:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the idle client was never closed")
    finally:
        server.stop()


def test_a_long_pipeline_does_not_hold_up_other_clients(magpie):
    """A client's pipeline runs in turns of a few milliseconds: another client's commands
    are served while the pipeline is still being worked through."""
    slow = socket.create_connection(("127.0.0.1", magpie.port))
    other = magpie.client()
    try:
        other.config_resetstat()
        count = 400  # 400 x 1 ms of DEBUG SLEEP: 0.4 s of work sent in one batch
        slow.sendall(b"DEBUG SLEEP 0.001\r\n" * count)
        while other.info("commandstats").get("cmdstat_debug", {}).get("calls", 0) == 0:
            pass  # until the pipeline has started
        assert other.ping()
        assert other.info("commandstats")["cmdstat_debug"]["calls"] < count  # not finished yet
        received = b""
        while received.count(b"+OK\r\n") < count:  # and every reply arrives, in order
            received += slow.recv(65536)
        assert received == b"+OK\r\n" * count
    finally:
        slow.close()
        other.close()


def test_a_streamed_pipeline_with_slow_commands_completes_in_order(magpie):
    """Turns pause reading from the client until the requests already read have run
    (back-pressure): a producer streaming faster than the server still gets every reply."""
    import threading

    lines = []
    for i in range(20000):
        lines.append(b"DEBUG SLEEP 0.002\r\n" if i % 50 == 0 else b"SET stream:%d %d\r\n" % (i, i))
    payload = b"".join(lines)
    sock = socket.create_connection(("127.0.0.1", magpie.port))
    received = bytearray()

    def reader() -> None:
        while received.count(b"+OK\r\n") < len(lines):
            chunk = sock.recv(65536)
            if not chunk:
                return
            received.extend(chunk)

    thread = threading.Thread(target=reader)
    thread.start()
    sock.sendall(payload)
    thread.join(timeout=60)
    sock.close()
    assert bytes(received) == b"+OK\r\n" * len(lines)
    client = magpie.client()
    assert client.get("stream:19999") == b"19999"
    client.delete(*[f"stream:{i}" for i in range(20000) if i % 50])
    client.close()
