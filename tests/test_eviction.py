"""maxmemory and eviction: OOM refusals, each policy's choice of victim, and what an
eviction tells the rest of the server (notifications, WATCH, propagation, INFO)."""

from __future__ import annotations

import socket

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from servers import start_magpie
from test_keyspace_notifications import wait_until_listening

OOM = "command not allowed when used memory > 'maxmemory'."


@pytest.fixture(scope="module")
def server():
    process = start_magpie()
    yield process
    process.stop()


@pytest.fixture
def c(server):
    client = server.client()
    client.flushall()
    client.config_set("maxmemory", 10**9)  # accounting on: used_memory is the dataset estimate
    client.config_resetstat()
    yield client
    client.config_set("maxmemory", 0)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("notify-keyspace-events", "")
    client.flushall()
    client.close()


def fill(c, prefix: str, count: int, size: int = 100) -> None:
    pipe = c.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"{prefix}{i}", "x" * size)
    pipe.execute()


def used(c) -> int:
    return c.info("memory")["used_memory"]


def test_noeviction_refuses_writes_that_grow_the_dataset(c):
    fill(c, "k", 100)
    c.config_set("maxmemory", used(c) - 1)
    with pytest.raises(redis.exceptions.OutOfMemoryError, match=OOM):
        c.set("new", "v")
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        c.lpush("list", "v")
    assert c.get("k1") == b"x" * 100  # reads still work
    assert c.delete("k1") == 1  # and so do commands that free memory
    assert c.info("stats")["evicted_keys"] == 0


def test_oom_inside_multi_aborts_the_transaction(c):
    fill(c, "k", 10)
    c.config_set("maxmemory", 1)
    raw = c.connection_pool.get_connection()
    try:
        raw.send_command("MULTI")
        assert raw.read_response() == b"OK"
        raw.send_command("GET", "k1")  # even a read is refused while queuing under OOM
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            raw.read_response()
        raw.send_command("EXEC")
        with pytest.raises(redis.exceptions.ExecAbortError):
            raw.read_response()
    finally:
        c.connection_pool.release(raw)


def test_allkeys_lru_evicts_the_least_recently_used_keys(c):
    fill(c, "old", 200)
    fill(c, "hot", 20)
    c.config_set("maxmemory-policy", "allkeys-lru")
    c.config_set("maxmemory", used(c))
    for _ in range(3):
        for i in range(20):
            c.get(f"hot{i}")
    fill(c, "new", 100)
    assert used(c) <= int(c.config_get("maxmemory")["maxmemory"])
    assert c.info("stats")["evicted_keys"] >= 90
    assert all(c.exists(f"hot{i}") for i in range(20))  # read recently: kept
    assert not any(c.exists(f"old{i}") for i in range(50))  # the oldest went first
    assert c.exists("new99")


def test_allkeys_random_keeps_the_dataset_under_the_limit(c):
    c.config_set("maxmemory-policy", "allkeys-random")
    c.config_set("maxmemory", 200_000)
    fill(c, "k", 5000)
    assert used(c) <= 200_000
    evicted = c.info("stats")["evicted_keys"]
    assert evicted > 0 and c.dbsize() + evicted == 5000


def test_allkeys_lfu_keeps_frequently_used_keys(c):
    c.config_set("maxmemory-policy", "allkeys-lfu")
    fill(c, "hot", 10)
    for _ in range(30):
        for i in range(10):
            c.get(f"hot{i}")
    assert c.object("freq", "hot0") > 5
    c.config_set("maxmemory", used(c) + 20_000)
    fill(c, "cold", 2000)
    assert all(c.exists(f"hot{i}") for i in range(10))
    assert c.info("stats")["evicted_keys"] > 0


def test_a_huge_maxmemory_samples_samples_at_most_every_key():
    """Sampling asked for 2**31-1 distinct draws from a few dozen keys and never finished,
    blocking the server (found by the command fuzzer); Redis caps it at the dict's size.
    A server of its own, and a client that does not retry, so a regression fails quickly."""
    process = start_magpie()
    try:
        c = process.client(socket_timeout=5, retry=Retry(NoBackoff(), 0))
        c.config_set("maxmemory", 10**9)
        c.config_set("maxmemory-policy", "allkeys-lfu")
        c.config_set("maxmemory-samples", 2**31 - 1)
        fill(c, "k", 50, 2000)
        c.config_set("maxmemory", used(c) - 20_000)
        assert c.set("big", "y" * 5000)
        assert c.info("stats")["evicted_keys"] > 0
    finally:
        process.stop()


def test_volatile_ttl_evicts_nearest_expiry_first_and_spares_persistent_keys(c):
    fill(c, "keep", 50)
    for i in range(50):
        c.set(f"ttl{i}", "x" * 100, ex=1000 + i)
    c.config_set("maxmemory-policy", "volatile-ttl")
    c.config_set("maxmemory", used(c) - 1000)
    c.set("trigger", "x")  # a write after the limit was crossed
    c.ping()  # evictions run before each command
    gone = [i for i in range(50) if not c.exists(f"ttl{i}")]
    assert gone and gone == list(range(len(gone)))  # shortest TTLs first
    assert all(c.exists(f"keep{i}") for i in range(50))


def test_volatile_policy_without_volatile_keys_is_out_of_memory(c):
    fill(c, "k", 50)
    c.config_set("maxmemory-policy", "volatile-lru")
    c.config_set("maxmemory", 1000)
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        c.set("more", "v")
    assert c.dbsize() == 50


def test_eviction_publishes_evicted_events_and_touches_watched_keys(server, c):
    c.set("watched", "v")
    c.config_set("notify-keyspace-events", "Ee")
    listener = server.client()
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe("__keyevent@0__:*")
    wait_until_listening(listener, pubsub, b"__keyevent@0__:probe")
    watcher = server.client()
    pipe = watcher.pipeline()
    pipe.watch("watched")
    c.config_set("maxmemory-policy", "allkeys-lru")
    c.config_set("maxmemory", 1)
    c.ping()  # everything is evicted before this command runs
    assert c.dbsize() == 0
    message = pubsub.get_message(timeout=2)
    assert message["channel"] == b"__keyevent@0__:evicted" and message["data"] == b"watched"
    pipe.multi()
    pipe.set("watched", "w")
    with pytest.raises(redis.exceptions.WatchError):
        pipe.execute()
    pubsub.close()
    listener.close()
    watcher.close()


def test_evictions_are_propagated_as_del(c):
    c.set("a", "x" * 100)
    c.execute_command("DEBUG", "RECORD-PROPAGATION", "ON")
    try:
        c.config_set("maxmemory-policy", "allkeys-random")
        c.config_set("maxmemory", 1)
        c.ping()
        log = c.execute_command("DEBUG", "PROPAGATED")
    finally:
        c.execute_command("DEBUG", "RECORD-PROPAGATION", "OFF")
    assert [b"DEL", b"a"] in log


def test_info_and_memory_usage_report_the_estimate(c):
    c.config_set("maxmemory", 10_000_000)
    c.config_set("maxmemory-policy", "allkeys-lru")
    before = used(c)
    c.hset("h", mapping={f"f{i}": "v" * 50 for i in range(1000)})
    grown = used(c) - before
    usage = c.memory_usage("h")
    assert 50_000 < usage < 400_000
    assert abs(grown - usage) < usage // 10
    info = c.info("memory")
    assert info["maxmemory"] == 10_000_000 and info["maxmemory_policy"] == "allkeys-lru"
    c.delete("h")
    assert used(c) == before


def test_object_freq_and_idletime_follow_the_policy(c):
    c.set("k", "v")
    with pytest.raises(redis.ResponseError, match="LFU maxmemory policy is not selected"):
        c.object("freq", "k")
    c.config_set("maxmemory-policy", "allkeys-lfu")
    c.set("f", "v")
    assert c.object("freq", "f") == 5  # a new key starts at LFU_INIT_VAL
    c.get("f")
    assert c.object("freq", "f") == 6  # the first hits always count
    with pytest.raises(redis.ResponseError, match="LRU maxmemory policy is selected"):
        c.object("idletime", "f")
    c.config_set("maxmemory-policy", "allkeys-lru")
    assert c.object("idletime", "f") == 0


def test_oom_reply_stream_matches_redis(server, reference_redis):
    """Under noeviction the OOM refusals, and MULTI's, are byte-identical to redis-server's.

    ``maxmemory 1`` is over the limit on both servers as long as one key is stored.
    """
    script = [
        b"SET a b", b"CONFIG SET maxmemory 1", b"SET c d", b"GET a", b"MULTI", b"GET a",
        b"SET x y", b"EXEC", b"MULTI", b"EXEC", b"DEL nothing", b"CONFIG SET maxmemory 0", b"DEL a",
    ]  # fmt: skip
    streams = []
    for port in (server.port, reference_redis.port):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"".join(line + b"\r\n" for line in script))
            streams.append(read_replies(sock))
    assert streams[0] == streams[1]
    assert b"-OOM command not allowed when used memory > 'maxmemory'.\r\n" in streams[0]


def read_replies(sock: socket.socket) -> bytes:
    """Everything up to the script's last reply (DEL a answers :1 on both servers)."""
    sock.settimeout(5)
    data = b""
    while not data.endswith(b":1\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
