"""AOF directories shared with a real redis-server 7.0, both ways, and redis-check-aof's view.

Each test writes the same dataset (every type, small and large encodings, TTLs, a second
database, a transaction), rewrites half way so the directory holds a base and an incr file
with data in both, stops the writer and starts the other server on the directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
import redis
from servers import redis_server_path, start_magpie, start_redis

pytestmark = pytest.mark.skipif(not redis_server_path(), reason="needs redis-server")

AOF_DIR = "appendonlydir"


def write_first_half(r: redis.Redis) -> None:
    r.set("str", "hello")
    r.set("int", 12345)
    r.set("bin", bytes(range(256)))
    r.set("ttl-ex", "v", ex=5000)
    r.rpush("small-list", "a", "b", "c")
    r.rpush("big-list", *[f"item-{i}" for i in range(600)])
    r.sadd("intset", *range(20))
    r.sadd("strset", *[f"m{i}" for i in range(300)])
    r.hset("small-hash", mapping={"a": "1", "b": "2"})
    r.hset("big-hash", mapping={f"field{i}": "x" * (i % 90) for i in range(200)})
    r.zadd("small-zset", {"a": 1, "b": 2.5, "c": -3})
    r.zadd("big-zset", {f"m{i}": i / 7 for i in range(300)})
    r.zadd("inf-zset", {"lo": float("-inf"), "hi": float("inf")})
    r.set("gone-later", "x")
    r.expire("big-hash", 7000)


def write_second_half(r: redis.Redis, r2: redis.Redis) -> None:
    r.append("str", " world")
    r.incrby("int", 5)
    r.incrbyfloat("float", 2.5)
    r.lpush("big-list", "head")
    r.rpop("small-list")
    r.srem("strset", "m0", "m1")
    r.hdel("big-hash", "field0")
    r.zincrby("small-zset", 10, "a")
    r.delete("gone-later")
    r.pexpireat("ttl-ex", int(time.time() * 1000) + 9_000_000)
    r.set("px", "v", px=8_000_000)
    with r.pipeline(transaction=True) as pipe:
        pipe.incr("tx").incr("tx").sadd("tx-set", "a").execute()
    r2.set("db2-key", "in db 2")
    r2.rpush("db2-list", 1, 2, 3)


def snapshot(server) -> dict:
    """Every key of databases 0 and 2 with its type, value and TTL (to the minute)."""
    out = {}
    for db in (0, 2):
        r = server.client(db=db)
        for key in r.scan_iter(count=1000):
            kind = r.type(key)
            if kind == b"string":
                value = r.get(key)
            elif kind == b"list":
                value = r.lrange(key, 0, -1)
            elif kind == b"set":
                value = sorted(r.smembers(key))
            elif kind == b"hash":
                value = sorted(r.hgetall(key).items())
            elif kind == b"zset":
                value = r.zrange(key, 0, -1, withscores=True)
            else:
                raise AssertionError(f"unexpected type {kind!r}")
            ttl = r.pttl(key)
            out[(db, key)] = (kind, value, -1 if ttl < 0 else round(ttl / 60_000))
    return out


def rewrite(r: redis.Redis) -> None:
    before = r.info("persistence")["aof_rewrites"]
    r.bgrewriteaof()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = r.info("persistence")
        if info["aof_rewrites"] > before and not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.02)
    raise AssertionError("the rewrite did not finish")


def check_aof(manifest: str) -> subprocess.CompletedProcess:
    return subprocess.run(["redis-check-aof", manifest], capture_output=True, text=True)


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_redis_starts_from_magpies_aof_directory(preamble):
    magpie = start_magpie("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    ref = None
    try:
        write_first_half(magpie.client())
        rewrite(magpie.client())
        write_second_half(magpie.client(), magpie.client(db=2))
        expected = snapshot(magpie)
        magpie.stop(keep_dir=True)
        aof_dir = os.path.join(magpie.workdir, AOF_DIR)
        suffix = "rdb" if preamble == "yes" else "aof"
        assert sorted(os.listdir(aof_dir)) == [f"appendonly.aof.2.base.{suffix}", "appendonly.aof.2.incr.aof",
                                               "appendonly.aof.manifest"]  # fmt: skip
        checked = check_aof(os.path.join(aof_dir, "appendonly.aof.manifest"))
        assert checked.returncode == 0, checked.stdout
        assert "All AOF files and manifest are valid" in checked.stdout
        ref = start_redis("--appendonly", "yes", workdir=magpie.workdir)
        ref.wait_loaded()
        assert snapshot(ref) == expected
        assert "DB loaded from append only file" in ref.log()
    finally:
        if ref is not None:
            ref.stop(keep_dir=True)
        shutil.rmtree(magpie.workdir, ignore_errors=True)


def test_magpie_starts_from_redis_aof_directory():
    ref = start_redis("--appendonly", "yes")
    magpie = None
    try:
        write_first_half(ref.client())
        rewrite(ref.client())  # Redis's base: an RDB with listpacks, intsets, quicklists
        write_second_half(ref.client(), ref.client(db=2))
        expected = snapshot(ref)
        ref.stop(keep_dir=True)
        os.unlink(os.path.join(ref.workdir, "server.log"))
        magpie = start_magpie("--appendonly", "yes", workdir=ref.workdir)
        magpie.wait_loaded()
        assert snapshot(magpie) == expected
        # and Magpie appends to Redis's incr file, which Redis then reads back
        magpie.client().set("appended-by-magpie", "1")
        magpie.stop(keep_dir=True)
        checked = check_aof(os.path.join(ref.workdir, AOF_DIR, "appendonly.aof.manifest"))
        assert checked.returncode == 0, checked.stdout
        again = start_redis("--appendonly", "yes", workdir=ref.workdir)
        try:
            again.wait_loaded()
            assert again.client().get("appended-by-magpie") == b"1"
            assert again.client().get("str") == b"hello world"
        finally:
            again.stop(keep_dir=True)
    finally:
        shutil.rmtree(ref.workdir, ignore_errors=True)


def test_redis_check_aof_accepts_magpies_files_after_a_runtime_start():
    magpie = start_magpie()
    try:
        r = magpie.client()
        r.mset({f"k{i}": i for i in range(500)})
        r.config_set("appendonly", "yes")
        deadline = time.monotonic() + 30
        while r.info("persistence")["aof_rewrites"] < 1 or r.info("persistence")["aof_rewrite_in_progress"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with r.pipeline(transaction=True) as pipe:
            pipe.set("a", 1).incr("a").execute()
        checked = check_aof(os.path.join(magpie.workdir, AOF_DIR, "appendonly.aof.manifest"))
        assert checked.returncode == 0, checked.stdout
        script = os.path.join(os.path.dirname(sys.executable), "magpie-check-aof")  # the console script
        tool = [script] if os.path.exists(script) else [sys.executable, "-m", "magpie.tools.check_aof"]
        ours = subprocess.run([*tool, os.path.join(magpie.workdir, AOF_DIR)], capture_output=True, text=True)
        assert ours.returncode == 0, ours.stdout
    finally:
        magpie.stop()
