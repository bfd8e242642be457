"""Scripting through the client library people use: redis-py's Lock, Script objects,
pipelines with scripts, and the FUNCTION/FCALL API.

Each test runs against every server in ``$SCRIPT_TEST_SERVERS`` (default ``magpie,redis``),
so the expectations are checked against a real redis-server in the same run. To run against
one server only::

    SCRIPT_TEST_SERVERS=magpie .venv/bin/python -m pytest tests/test_scripting_clients.py
    SCRIPT_TEST_SERVERS=redis  .venv/bin/python -m pytest tests/test_scripting_clients.py

(``-k magpie`` / ``-k redis`` select the same parameters.) Lock timings are generous and only
bound how long a wait may take; nothing here asserts how fast a server is.
"""

from __future__ import annotations

import hashlib
import threading

import pytest
import redis
from redis.exceptions import LockNotOwnedError, NoScriptError
from scripting_wire import selected_servers, wait_until

LIBRARY = """#!lua name=testlib
redis.register_function('echo_keys', function(keys, args) return {keys[1], args[1]} end)
redis.register_function{function_name='getter', description='reads a key',
    callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}
redis.register_function('setter', function(keys, args) return redis.call('set', keys[1], args[1]) end)
"""
OTHER_LIBRARY = """#!lua name=otherlib
redis.register_function('other', function() return 'other' end)
"""


@pytest.fixture(params=selected_servers())
def server(request):
    """The session's Magpie or redis-server process."""
    return request.getfixturevalue("magpie" if request.param == "magpie" else "reference_redis")


def _clean(client: redis.Redis) -> None:
    client.flushall()
    for reset in (client.script_flush, client.function_flush):
        try:
            reset()
        except redis.ResponseError:  # a server without the command fails in the test body
            pass


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, server) -> redis.Redis:
    client = server.client(protocol=request.param, decode_responses=True)
    _clean(client)
    yield client
    client.close()


@pytest.fixture
def r2(server) -> redis.Redis:
    client = server.client(protocol=2, decode_responses=True)
    _clean(client)
    yield client
    client.close()


class RecordingRedis(redis.Redis):
    """A client that remembers the name of every command it sends (for Script's fallback)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    def execute_command(self, *args, **options):
        self.sent.append(str(args[0]).upper())
        return super().execute_command(*args, **options)


# --------------------------------------------------------------------------- Lock


@pytest.mark.timeout(300)
def test_lock_serialises_eight_threads_incrementing_one_counter(server, r2):
    """8 threads x 200 read-modify-write increments under one lock: the count is exact only
    if no two holders ever overlapped (acquire is SET NX PX, release is a Lua script)."""
    threads, per_thread = 8, 200
    r2.set("counter", 0)
    errors: list[BaseException] = []
    stop = threading.Event()  # one failure ends every thread, not each after a lock timeout

    def work() -> None:
        client = server.client(protocol=2, decode_responses=True)
        try:
            lock = client.lock("counter-lock", timeout=30, sleep=0.001)
            for _ in range(per_thread):
                while not lock.acquire(blocking_timeout=0.5):
                    if stop.is_set():
                        return
                try:
                    value = int(client.get("counter"))
                    client.set("counter", value + 1)
                finally:
                    lock.release()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            stop.set()
        finally:
            client.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    assert int(r2.get("counter")) == threads * per_thread
    assert not r2.exists("counter-lock")


def test_lock_is_exclusive_and_released_by_its_owner_only(r):
    first = r.lock("lk", timeout=10)
    second = r.lock("lk", timeout=10)
    assert first.acquire(blocking=False)
    assert first.locked() and first.owned()
    assert not second.acquire(blocking=False)
    assert not second.owned()
    second.local.token = b"not-the-owner's-token"  # as if it had acquired: the script decides
    with pytest.raises(LockNotOwnedError):
        second.release()
    assert first.owned()
    first.release()
    assert not first.locked()
    assert second.acquire(blocking=False)
    second.release()


def test_lock_as_a_context_manager(r):
    with r.lock("ctx", timeout=10) as held:
        assert held.owned()
        assert r.exists("ctx")
    assert not r.exists("ctx")


def test_lock_extend_adds_to_the_remaining_time(r):
    lock = r.lock("ext", timeout=2)
    assert lock.acquire(blocking=False)
    assert lock.extend(100)
    assert r.pttl("ext") > 90_000
    assert lock.extend(5, replace_ttl=True)
    assert 1_000 < r.pttl("ext") <= 5_000
    lock.release()


def test_lock_reacquire_resets_the_timeout(r):
    lock = r.lock("reacq", timeout=60)
    assert lock.acquire(blocking=False)
    r.pexpire("reacq", 1_000)
    assert lock.reacquire()
    assert r.pttl("reacq") > 30_000
    lock.release()


def test_an_expired_lock_is_no_longer_owned(r):
    lock = r.lock("short", timeout=0.2)
    assert lock.acquire(blocking=False)
    wait_until(lambda: not r.exists("short"), timeout=10, what="the lock key to expire")
    assert not lock.owned()
    with pytest.raises(LockNotOwnedError):
        lock.extend(10)
    with pytest.raises(LockNotOwnedError):
        lock.reacquire()
    with pytest.raises(LockNotOwnedError):  # redis-py forgets the token after this
        lock.release()


def test_releasing_after_someone_else_took_the_expired_lock_leaves_theirs(r):
    mine = r.lock("taken", timeout=0.2)
    theirs = r.lock("taken", timeout=30)
    assert mine.acquire(blocking=False)
    assert theirs.acquire(blocking=True, blocking_timeout=10)
    with pytest.raises(LockNotOwnedError):
        mine.release()
    assert theirs.owned()
    theirs.release()


# --------------------------------------------------------------------------- Script objects


def test_script_object_falls_back_from_evalsha_then_uses_evalsha(server):
    client = RecordingRedis(host="127.0.0.1", port=server.port, decode_responses=True, socket_timeout=10)
    try:
        _clean(client)
        incr_by = client.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
        assert client.script_exists(incr_by.sha) == [False]
        client.sent.clear()
        assert incr_by(keys=["n"], args=[5]) == 5
        assert client.sent == ["EVALSHA", "SCRIPT LOAD", "EVALSHA"]  # NOSCRIPT, load, retry
        client.sent.clear()
        assert incr_by(keys=["n"], args=[2]) == 7
        assert client.sent == ["EVALSHA"]
        assert client.script_exists(incr_by.sha) == [True]
        client.script_flush()
        assert incr_by(keys=["n"], args=[1]) == 8  # reloaded after the flush
    finally:
        client.close()


def test_evalsha_of_an_unknown_script_raises_noscripterror(r):
    with pytest.raises(NoScriptError):
        r.evalsha("f" * 40, 0)


def test_script_load_exists_and_flush_through_redis_py(r):
    sha = r.script_load("return 'x'")
    assert sha == hashlib.sha1(b"return 'x'").hexdigest()
    assert r.script_exists(sha, sha.upper(), "0" * 40) == [True, True, False]
    assert r.evalsha(sha, 0) == "x"
    assert r.script_flush() is True
    assert r.script_exists(sha) == [False]
    assert r.script_flush("ASYNC") is True
    assert r.script_flush("SYNC") is True


def test_eval_family_through_redis_py(r):
    assert r.eval("return {KEYS[1], ARGV[1], #ARGV}", 1, "k", "a", "b") == ["k", "a", 2]
    r.set("k", "v")
    assert r.eval_ro("return redis.call('get', KEYS[1])", 1, "k") == "v"
    sha = r.script_load("return redis.call('get', KEYS[1])")
    assert r.evalsha_ro(sha, 1, "k") == "v"
    with pytest.raises(redis.ResponseError, match="Write commands are not allowed from read-only scripts"):
        r.eval_ro("return redis.call('set', KEYS[1], 'w')", 1, "k")


def test_script_error_reaches_redis_py_as_response_error(r):
    with pytest.raises(redis.ResponseError, match=r"^user_script:1: boom script: [0-9a-f]{40}, on @user_script:1\.$"):
        r.eval("error('boom')", 0)
    assert r.eval("return redis.pcall('nosuchcommand')['err']", 0) == "ERR Unknown Redis command called from script"


# --------------------------------------------------------------------------- pipelines


@pytest.mark.parametrize("transaction", [True, False], ids=["multi", "plain"])
def test_scripts_in_a_pipeline_load_first_and_run_in_order(r, transaction):
    push = r.register_script("return redis.call('rpush', KEYS[1], ARGV[1])")
    length = r.register_script("return redis.call('llen', KEYS[1])")
    pipe = r.pipeline(transaction=transaction)
    push(keys=["l"], args=["a"], client=pipe)
    pipe.rpush("l", "b")
    push(keys=["l"], args=["c"], client=pipe)
    length(keys=["l"], client=pipe)
    pipe.eval("return redis.call('lrange', KEYS[1], 0, -1)", 1, "l")
    assert pipe.execute() == [1, 2, 3, 3, ["a", "b", "c"]]
    assert r.script_exists(push.sha, length.sha) == [True, True]


def test_a_failing_script_in_a_pipeline_does_not_stop_the_rest(r):
    pipe = r.pipeline(transaction=True)
    pipe.set("a", 1)
    pipe.eval("return redis.call('nosuchcommand')", 0)
    pipe.incr("a")
    results = pipe.execute(raise_on_error=False)
    assert results[0] is True and results[2] == 2
    assert isinstance(results[1], redis.ResponseError)
    assert "Unknown Redis command called from script" in str(results[1])


def test_pipelined_scripts_survive_a_script_flush_between_runs(r):
    script = r.register_script("return ARGV[1] .. '!'")
    for word in ("one", "two"):
        pipe = r.pipeline()
        script(args=[word], client=pipe)
        assert pipe.execute() == [word + "!"]
        r.script_flush()


# --------------------------------------------------------------------------- FUNCTION / FCALL


def library_entries(listing) -> list[dict]:
    """FUNCTION LIST as dicts whatever the protocol (RESP2 gives flat key/value lists)."""

    def as_dict(value):
        if isinstance(value, dict):
            return value
        return dict(zip(value[::2], value[1::2], strict=True))

    entries = []
    for lib in listing:
        lib = as_dict(lib)
        lib["functions"] = sorted((as_dict(f) for f in lib["functions"]), key=lambda f: f["name"])
        entries.append(lib)
    return sorted(entries, key=lambda lib: lib["library_name"])


def test_function_load_and_fcall(r):
    assert r.function_load(LIBRARY) == "testlib"
    assert r.fcall("echo_keys", 1, "k", "a") == ["k", "a"]
    assert r.fcall("setter", 1, "k", "v") == "OK"
    assert r.fcall_ro("getter", 1, "k") == "v"
    with pytest.raises(redis.ResponseError, match="Can not execute a script with write flag using \\*_ro command"):
        r.fcall_ro("setter", 1, "k", "w")
    with pytest.raises(redis.ResponseError, match="^Function not found$"):
        r.fcall("nosuch", 0)
    with pytest.raises(redis.ResponseError, match="^Library 'testlib' already exists$"):
        r.function_load(LIBRARY)
    assert r.function_load(LIBRARY, replace=True) == "testlib"


def test_function_list_describes_libraries_and_functions(r):
    r.function_load(LIBRARY)
    r.function_load(OTHER_LIBRARY)
    libs = library_entries(r.function_list())
    assert [lib["library_name"] for lib in libs] == ["otherlib", "testlib"]
    testlib = libs[1]
    assert testlib["engine"] == "LUA"
    assert testlib["functions"] == [
        {"name": "echo_keys", "description": None, "flags": []},
        {"name": "getter", "description": "reads a key", "flags": ["no-writes"]},
        {"name": "setter", "description": None, "flags": []},
    ]
    only = library_entries(r.function_list(library="test*", withcode=True))
    assert [lib["library_name"] for lib in only] == ["testlib"]
    assert only[0]["library_code"] == LIBRARY


def test_function_delete_and_flush(r):
    r.function_load(LIBRARY)
    r.function_load(OTHER_LIBRARY)
    assert r.function_delete("otherlib") is True
    with pytest.raises(redis.ResponseError, match="^Library not found$"):
        r.function_delete("otherlib")
    with pytest.raises(redis.ResponseError, match="^Function not found$"):
        r.fcall("other", 0)
    assert r.function_flush() is True
    assert r.function_list() == []
    r.function_load(LIBRARY)
    assert r.function_flush("ASYNC") is True
    assert r.function_list() == []


def test_function_dump_and_restore_round_trip(r):
    r.function_load(LIBRARY)
    payload = r.function_dump()
    assert isinstance(payload, bytes)
    before = library_entries(r.function_list(withcode=True))
    r.function_flush()
    assert r.function_restore(payload) is True
    assert library_entries(r.function_list(withcode=True)) == before
    assert r.fcall("echo_keys", 1, "k", "a") == ["k", "a"]
    with pytest.raises(redis.ResponseError, match="^Library testlib already exists$"):  # APPEND
        r.function_restore(payload)
    assert r.function_restore(payload, "REPLACE") is True
    r.function_load(OTHER_LIBRARY)
    assert r.function_restore(payload, "FLUSH") is True
    assert [lib["library_name"] for lib in library_entries(r.function_list())] == ["testlib"]
    with pytest.raises(redis.ResponseError, match="^DUMP payload version or checksum are wrong$"):
        r.function_restore(b"garbage")


def function_stats(r: redis.Redis) -> dict:
    """FUNCTION STATS as nested dicts whatever the protocol."""

    def as_dict(value):
        if isinstance(value, list):
            value = dict(zip(value[::2], value[1::2], strict=True))
        return value

    stats = as_dict(r.function_stats())
    stats["engines"] = {name: as_dict(info) for name, info in as_dict(stats["engines"]).items()}
    return stats


def test_function_stats_count_libraries_and_functions(r):
    idle = {"running_script": None, "engines": {"LUA": {"libraries_count": 0, "functions_count": 0}}}
    assert function_stats(r) == idle
    r.function_load(LIBRARY)
    r.function_load(OTHER_LIBRARY)
    assert function_stats(r)["engines"] == {"LUA": {"libraries_count": 2, "functions_count": 4}}


def test_functions_run_inside_pipelines(r):
    r.function_load(LIBRARY)
    pipe = r.pipeline(transaction=True)
    pipe.fcall("setter", 1, "p", "1")
    pipe.fcall_ro("getter", 1, "p")
    pipe.fcall("echo_keys", 1, "x", "y")
    assert pipe.execute() == ["OK", "1", ["x", "y"]]


def test_lock_survives_a_function_flush(r):
    """Locks use EVAL scripts, not functions: flushing functions must not break them."""
    r.function_load(LIBRARY)
    lock = r.lock("fl", timeout=10)
    assert lock.acquire(blocking=False)
    r.function_flush()
    lock.release()
    assert not r.exists("fl")


def test_lock_release_survives_a_script_flush(r):
    lock = r.lock("sf", timeout=10)
    assert lock.acquire(blocking=False)
    lock.release()
    assert lock.acquire(blocking=False)
    r.script_flush()  # the release script must be reloaded transparently
    lock.release()
    assert not r.exists("sf")
