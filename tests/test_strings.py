"""String commands through redis-py, over RESP2 and RESP3."""

from __future__ import annotations

import time

import pytest
import redis


def test_set_get_roundtrip(r):
    assert r.set("k", b"\x00binary\xff") is True
    assert r.get("k") == b"\x00binary\xff"
    assert r.get("missing") is None


def test_set_nx_xx_get_options(r):
    assert r.set("k", "1", nx=True) is True
    assert r.set("k", "2", nx=True) is None
    assert r.set("absent", "x", xx=True) is None
    assert r.set("k", "3", xx=True) is True
    assert r.set("k", "4", get=True) == b"3"
    assert r.set("k", "5", nx=True, get=True) == b"4"
    assert r.get("k") == b"4"


def test_set_expiry_options(r):
    r.set("k", "v", ex=100)
    assert 99 <= r.ttl("k") <= 100
    r.set("k", "v", px=50_000)
    assert 49_000 < r.pttl("k") <= 50_000
    r.set("k", "v", exat=int(time.time()) + 200)
    assert 198 <= r.ttl("k") <= 200
    r.set("k", "w", keepttl=True)
    assert r.ttl("k") > 0
    r.set("k", "x")
    assert r.ttl("k") == -1


@pytest.mark.parametrize(
    "args, message",
    [
        (["SET", "k", "v", "EX", "0"], "invalid expire time in 'set' command"),
        (["SET", "k", "v", "EX", "-5"], "invalid expire time in 'set' command"),
        (["SET", "k", "v", "EX", "abc"], "value is not an integer or out of range"),
        (["SET", "k", "v", "NX", "XX"], "syntax error"),
        (["SET", "k", "v", "EX", "10", "PX", "100"], "syntax error"),
        (["SET", "k", "v", "KEEPTTL", "EX", "10"], "syntax error"),
        (["SET", "k", "v", "EX"], "syntax error"),
        (["SETEX", "k", "0", "v"], "invalid expire time in 'setex' command"),
        (["SET", "k", "v", "EX", "9223372036854775807"], "invalid expire time in 'set' command"),
    ],
)
def test_set_errors(r, args, message):
    with pytest.raises(redis.ResponseError, match=message):
        r.execute_command(*args)


def test_setnx_setex_psetex_getset_getdel(r):
    assert r.setnx("a", "1") is True
    assert r.setnx("a", "2") is False
    r.execute_command("SETEX", "b", "100", "x")
    assert 99 <= r.ttl("b") <= 100
    r.psetex("c", 100_000, "y")
    assert r.pttl("c") > 90_000
    assert r.getset("a", "9") == b"1"
    assert r.getdel("a") == b"9"
    assert r.exists("a") == 0


def test_getex(r):
    r.set("k", "v")
    assert r.getex("k", ex=100) == b"v"
    assert 99 <= r.ttl("k") <= 100
    assert r.getex("k", persist=True) == b"v"
    assert r.ttl("k") == -1
    assert r.getex("missing", ex=10) is None
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("GETEX", "k", "EX", "10", "PERSIST")


def test_mget_mset_msetnx(r):
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b", "missing") == [b"1", b"2", None]
    assert r.msetnx({"c": "3", "a": "x"}) is False
    assert r.get("c") is None
    assert r.msetnx({"c": "3", "d": "4"}) is True
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'mset'"):
        r.execute_command("MSET", "a", "1", "b")


def test_append_strlen_getrange_setrange(r):
    assert r.append("s", "Hello") == 5
    assert r.append("s", " World") == 11
    assert r.strlen("s") == 11
    assert r.getrange("s", 0, 4) == b"Hello"
    assert r.getrange("s", -5, -1) == b"World"
    assert r.getrange("s", 5, 2) == b""
    assert r.getrange("s", 0, 1000) == b"Hello World"
    assert r.setrange("s", 6, "Redis") == 11
    assert r.get("s") == b"Hello Redis"
    assert r.setrange("pad", 3, "x") == 4
    assert r.get("pad") == b"\x00\x00\x00x"
    assert r.setrange("none", 0, "") == 0
    assert r.exists("none") == 0
    with pytest.raises(redis.ResponseError, match="offset is out of range"):
        r.setrange("s", -1, "x")


def test_counters(r):
    assert r.incr("n") == 1
    assert r.incrby("n", 10) == 11
    assert r.decr("n") == 10
    assert r.decrby("n", 20) == -10
    r.set("n", "9223372036854775807")
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.incr("n")
    for bad in ("abc", " 1", "01", "1.5", "+1"):
        r.set("bad", bad)
        with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
            r.incr("bad")


def test_incr_keeps_ttl(r):
    r.set("n", "1", ex=100)
    r.incr("n")
    assert r.ttl("n") > 0


def test_incrbyfloat_matches_redis_long_double_formatting(r):
    assert r.incrbyfloat("f", 0.1) == pytest.approx(0.1)
    r.execute_command("INCRBYFLOAT", "f", "0.2")
    assert r.get("f") == b"0.3"
    r.set("g", "1.5e3")
    assert r.execute_command("INCRBYFLOAT", "g", "1") in (b"1501", 1501.0)
    r.set("h", "abc")
    with pytest.raises(redis.ResponseError, match="value is not a valid float"):
        r.incrbyfloat("h", 1)
    r.set("i", "1")
    with pytest.raises(redis.ResponseError, match="increment would produce NaN or Infinity"):
        r.execute_command("INCRBYFLOAT", "i", "inf")


def test_value_too_large_for_setrange(r):
    with pytest.raises(redis.ResponseError, match="string exceeds maximum allowed size"):
        r.setrange("k", 600 * 1024 * 1024, "x")
