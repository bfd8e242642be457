"""Expiry: relative and absolute TTLs, the NX/XX/GT/LT conditions, lazy and active expiry."""

from __future__ import annotations

import time

import pytest
import redis
from servers import start_magpie


def test_expire_ttl_persist(r):
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.ttl("missing") == -2
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 99_000 < r.pttl("k") <= 100_000
    assert r.persist("k") is True
    assert r.persist("k") is False
    assert r.expire("missing", 10) is False


def test_expireat_and_expiretime(r):
    when = int(time.time()) + 500
    r.set("k", "v")
    assert r.expireat("k", when)
    assert r.expiretime("k") == when
    assert r.pexpiretime("k") == when * 1000
    assert r.pexpireat("k", when * 1000 + 7)
    assert r.pexpiretime("k") == when * 1000 + 7
    assert r.expiretime("missing") == -2


def test_expire_conditions(r):
    r.set("k", "v")
    assert r.expire("k", 100, xx=True) is False
    assert r.expire("k", 100, nx=True) is True
    assert r.expire("k", 200, nx=True) is False
    assert r.expire("k", 50, gt=True) is False
    assert r.expire("k", 300, gt=True) is True
    assert r.expire("k", 400, lt=True) is False
    assert r.expire("k", 10, lt=True) is True
    with pytest.raises(redis.ResponseError, match="NX and XX, GT or LT options at the same time are not compatible"):
        r.execute_command("EXPIRE", "k", "10", "NX", "GT")
    with pytest.raises(redis.ResponseError, match="GT and LT options at the same time are not compatible"):
        r.execute_command("EXPIRE", "k", "10", "GT", "LT")
    with pytest.raises(redis.ResponseError, match="Unsupported option XY"):
        r.execute_command("EXPIRE", "k", "10", "XY")


def test_expire_in_the_past_deletes(r):
    r.set("k", "v")
    assert r.expire("k", -1) is True
    assert r.exists("k") == 0


def test_lazy_expiry_on_access(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("k", "v", px=30)
        time.sleep(0.06)
        assert r.get("k") is None
        assert r.ttl("k") == -2
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_active_expiry_reclaims_unread_keys():
    server = start_magpie("--hz", "50")
    try:
        client = server.client(protocol=2)
        with client.pipeline(transaction=False) as pipe:
            for i in range(20_000):
                pipe.set(f"k{i}", "v", px=50)
            pipe.execute()
        client.set("keeper", "v")
        deadline = time.monotonic() + 10
        while client.dbsize() > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.dbsize() == 1
        assert client.info("stats")["expired_keys"] == 20_000
    finally:
        server.stop()


def test_expiry_is_propagated_as_absolute_commands(r2):
    r2.set("before", "1", ex=10)  # a rewrite from before recording must not leak into it
    r2.execute_command("DEBUG", "RECORD-PROPAGATION", "ON")
    try:
        r2.set("plain", "p")
        r2.set("a", "1", ex=100)
        r2.expire("a", 200)
        r2.incrbyfloat("f", 1.5)
        r2.get("a")  # reads are not propagated
        r2.set("gone", "x")
        r2.expire("gone", -1)
        log = r2.execute_command("DEBUG", "PROPAGATED")
    finally:
        r2.execute_command("DEBUG", "RECORD-PROPAGATION", "OFF")
    names = [entry[0] for entry in log]
    assert names == [b"SELECT", b"SET", b"SET", b"PEXPIREAT", b"SET", b"SET", b"DEL"]
    assert log[1] == [b"SET", b"plain", b"p"]
    assert log[2][3] == b"PXAT"
    assert log[4] == [b"SET", b"f", b"1.5", b"KEEPTTL"]
