"""What a script leaves behind: its effects in the AOF and the replication stream (wrapped
in MULTI/EXEC, never the script itself), redis.set_repl, WAIT after a script, MONITOR's
view, atomicity under pipelining, and a busy script on a replica holding its stream back.

Differential where Redis's behaviour is the reference (the propagated stream is compared
with redis-server's, command for command); the rest checks Magpie against its own data.
"""

from __future__ import annotations

import threading

import pytest
import redis
from repl_peer import FakeReplica
from replication_helpers import assert_same_dataset, wait_for, wait_link_up, wait_offsets_equal
from servers import start_magpie, start_redis

INCR_SCRIPT = "return redis.call('INCR', KEYS[1])"


@pytest.fixture
def primary_and_replica():
    primary = start_magpie()
    replica = start_magpie()
    replica.client().replicaof("127.0.0.1", primary.port)
    wait_link_up(replica)
    yield primary, replica
    replica.stop()
    primary.stop()


def _commandstats(client) -> dict:
    return client.info("commandstats")


def test_replica_gets_effects_not_scripts(primary_and_replica):
    primary, replica = primary_and_replica
    p = primary.client()
    sha = p.script_load(INCR_SCRIPT)
    for _ in range(20):
        p.evalsha(sha, 1, "counter")
    p.eval("redis.call('SET', KEYS[1], ARGV[1]) redis.call('LPUSH', KEYS[2], ARGV[1]) return 1", 2, "s", "l", "v")
    p.eval("return redis.call('SET', KEYS[1], math.random(1000))", 1, "rand")
    p.eval("redis.call('SELECT', 3) redis.call('SET', 'in3', 'x') return 1", 0)
    wait_offsets_equal(primary, replica)
    assert_same_dataset(primary, replica)
    stats = _commandstats(replica.client())
    assert not any(name.startswith(("cmdstat_eval", "cmdstat_fcall")) for name in stats), stats
    assert stats["cmdstat_incr"]["calls"] == 20
    assert replica.client(db=3).get("in3") == b"x"
    assert p.get("in3") is None  # SELECT inside a script stays inside it


def test_replica_refuses_script_writes_but_runs_reads(primary_and_replica):
    primary, replica = primary_and_replica
    primary.client().set("k", "v")
    wait_offsets_equal(primary, replica)
    r = replica.client()
    assert r.eval("return redis.call('GET', KEYS[1])", 1, "k") == b"v"
    with pytest.raises(Exception, match="You can.t write against a read only replica"):
        r.eval("return redis.call('SET', KEYS[1], 'x')", 1, "k")
    with pytest.raises(Exception, match="You can't write against a read only replica"):
        r.eval("#!lua\nreturn 1", 0)  # (a script declaring writes is refused as a write, as in Redis)
    assert r.eval("#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", 1, "k") == b"v"


def test_aof_replays_script_effects(tmp_path):
    server = start_magpie("--appendonly", "yes", "--appendfsync", "always")
    try:
        r = server.client()
        sha = r.script_load(INCR_SCRIPT)
        for _ in range(5):
            r.evalsha(sha, 1, "n")
        r.eval("redis.call('HSET', KEYS[1], 'a', 1, 'b', 2) redis.call('EXPIRE', KEYS[1], 1000) return 1", 1, "h")
        r.eval("redis.call('SET', 'gone', 1) redis.call('DEL', 'gone') return 1", 0)
        r.eval("redis.set_repl(redis.REPL_NONE) redis.call('SET', 'unlogged', 1) return 1", 0)
        before = {k: r.dump(k) for k in (b"n", b"h")}
        workdir = server.workdir
        server.stop(keep_dir=True)
        server = start_magpie("--appendonly", "yes", workdir=workdir)
        r = server.client()
        assert {k: r.dump(k) for k in (b"n", b"h")} == before
        assert r.get("n") == b"5"
        assert r.exists("gone", "unlogged") == 0  # REPL_NONE: the AOF never saw it
        assert 0 < r.ttl("h") <= 1000
        assert not any(name.startswith("cmdstat_eval") for name in _commandstats(r))
    finally:
        server.stop()


def _stream_of(server, commands) -> list[list[bytes]]:
    """What a server propagates for ``commands``, as a replica receives it after the
    snapshot (PINGs left out)."""
    with FakeReplica(server.port) as replica:
        replica.full_sync()
        client = server.client()
        for command in commands:
            try:
                client.execute_command(*command)
            except Exception:  # noqa: BLE001 - error replies are part of the script table
                pass
        client.execute_command("SET", "__end__", "1")
        entries = replica.read_commands_until(lambda argv: argv[:2] == [b"SET", b"__end__"])
    return [entry.argv for entry in entries if entry.argv[0].upper() != b"PING"]


SCRIPTS_TO_PROPAGATE = [
    ("EVAL", INCR_SCRIPT, 1, "n"),
    ("EVAL", "redis.call('SET', KEYS[1], 'a') redis.call('APPEND', KEYS[1], 'b') return 1", 1, "s"),
    ("EVAL", "return redis.call('GET', 'nothing')", 0),
    ("EVAL", "redis.call('SET', 'x', 1) error('after a write')", 0),
    ("EVAL", "redis.call('INCRBYFLOAT', 'f', '1.5') return 1", 0),
    ("EVAL", "redis.call('SELECT', 2) redis.call('SET', 'two', 1) return 1", 0),
    ("EVAL", "redis.set_repl(redis.REPL_NONE) redis.call('SET', 'hidden', 1) return 1", 0),
    ("EVAL", "redis.set_repl(redis.REPL_AOF) redis.call('SET', 'aofonly', 1) return 1", 0),
    ("EVAL", "redis.set_repl(redis.REPL_ALL) redis.call('SET', 'a1', 1) redis.set_repl(redis.REPL_REPLICA) redis.call('SET', 'a2', 1) return 1", 0),
    ("EVAL", "return redis.pcall('INCR', 's')", 0),
    ("EVAL", "redis.call('DEL', 'nothing') return 1", 0),
]


def test_propagated_stream_matches_redis():
    """The replication stream after each script equals redis-server's, entry for entry."""
    magpie, redis_server = start_magpie(), start_redis()
    try:
        commands = [("SET", "seed", "1")]
        for script in SCRIPTS_TO_PROPAGATE:
            commands.append(script)
        commands += [("MULTI",), ("EVAL", INCR_SCRIPT, 1, "n"), ("SET", "m", 1), ("EXEC",)]
        ours = _stream_of(magpie, commands)
        theirs = _stream_of(redis_server, commands)
        assert ours == theirs
    finally:
        magpie.stop()
        redis_server.stop()


def test_wait_counts_a_scripts_writes(primary_and_replica):
    primary, replica = primary_and_replica
    p = primary.client()
    p.eval("redis.call('SET', 'w', 1) return 1", 0)
    assert p.wait(1, 5000) == 1
    assert replica.client().get("w") == b"1"


def test_monitor_shows_the_script_then_its_commands():
    server = start_magpie()
    try:
        caller = server.client()
        caller.ping()  # (its connection handshake is not what this test looks at)
        with server.client().monitor() as m:
            caller.eval("return redis.call('SET', KEYS[1], 'v')", 1, "mk")
            lines = [m.next_command() for _ in range(2)]
        assert lines[0]["command"].startswith("EVAL ")
        assert lines[1]["client_type"] == "lua"
        lines = [line["command"] for line in lines]
        assert lines[1] == "SET mk v"
    finally:
        server.stop()


def test_script_is_atomic_against_pipelined_writers():
    """A script reading and writing a key sees no other client's command in between."""
    server = start_magpie()
    try:
        r = server.client()
        r.set("c", 0)
        script = r.register_script(
            "local v = tonumber(redis.call('GET', KEYS[1])) "
            "for i = 1, 2000 do local x = i * 2 end "
            "redis.call('SET', KEYS[1], v + 1) return v + 1"
        )
        stop = threading.Event()

        def writer() -> None:
            w = server.client()
            while not stop.is_set():
                w.pipeline(transaction=False).execute_command("INCR", "c").execute_command("INCR", "c").execute()

        threads = [threading.Thread(target=writer) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            for _ in range(200):
                script(keys=["c"])
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        incrs = _commandstats(r)["cmdstat_incr"]["calls"]
        assert int(r.get("c")) == incrs + 200  # no increment lost inside a script's read-write
    finally:
        server.stop()


def test_busy_script_holds_a_replicas_stream_until_it_ends(primary_and_replica):
    primary, replica = primary_and_replica
    p, rep = primary.client(), replica.client()
    rep.config_set("busy-reply-threshold", 50)
    result: dict = {}

    def slow_read() -> None:
        try:
            result["value"] = replica.client().eval(
                "#!lua flags=no-writes\nlocal before = redis.call('GET', 'seen') "
                "local t = os.clock() while os.clock() - t < 0.6 do end "
                "return {before or 'nil', redis.call('GET', 'seen') or 'nil'}", 0
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            result["value"] = exc

    thread = threading.Thread(target=slow_read)
    thread.start()
    wait_for(lambda: _busy(rep), what="the replica's script to be busy")
    p.set("seen", "yes")  # arrives while the replica's script is busy
    thread.join(10)
    assert result["value"] == [b"nil", b"nil"]  # the stream did not run inside the script
    wait_for(lambda: rep.get("seen") == b"yes", what="the held stream applied")


def _busy(client) -> bool:
    try:
        client.ping()
    except redis.exceptions.BusyLoadingError:
        return False
    except redis.exceptions.ResponseError as exc:
        return str(exc).startswith("BUSY")
    return False


def test_a_script_held_by_client_pause_can_still_be_killed():
    """EVAL sent during CLIENT PAUSE runs when the pause ends; busy, it is killable."""
    server = start_magpie()
    try:
        admin = server.client()
        admin.config_set("busy-reply-threshold", 50)
        admin.client_pause(300, all=True)
        result: dict = {}

        def looping() -> None:
            try:
                server.client().eval("while true do end", 0)
            except redis.exceptions.ResponseError as exc:
                result["error"] = str(exc)

        thread = threading.Thread(target=looping)
        thread.start()
        wait_for(lambda: _busy(admin), what="the paused script to run and be busy")
        assert admin.script_kill()
        thread.join(10)
        assert result["error"].startswith("Script killed by user with SCRIPT KILL...")
        assert admin.ping()
    finally:
        server.stop()


ACL_SCRIPTS = [
    ("return redis.call('GET', 'app:1')", 0),
    ("return redis.call('GET', 'other')", 0),
    ("return redis.call('SET', 'app:1', 'v')", 0),
    ("return redis.call('FLUSHALL')", 0),
    ("return redis.pcall('FLUSHALL')", 0),
    ("return redis.call('PUBLISH', 'chan', 'm')", 0),
    ("return {redis.acl_check_cmd('GET', 'app:1'), redis.acl_check_cmd('GET', 'other'), redis.acl_check_cmd('FLUSHALL')}", 0),
    ("return redis.call('GET', KEYS[1])", 1, "other"),  # EVAL's own key, checked at the door
]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _outcome(client, *args):
    try:
        return ("ok", client.execute_command("EVAL", *args))
    except redis.exceptions.ResponseError as exc:
        return ("error", type(exc).__name__, str(exc))


def test_scripts_run_with_their_callers_acl_permissions():
    """A restricted user's script meets the same refusals in Magpie as in redis-server,
    and the ACL log records them in the ``lua`` context."""
    servers = [start_magpie(), start_redis()]
    try:
        outcomes = []
        for server in servers:
            admin = server.client()
            admin.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~app:*", "&none", "+@all", "-flushall")
            user = server.client(username="app", password="pw")
            outcomes.append([_outcome(user, *script) for script in ACL_SCRIPTS])
            log = admin.execute_command("ACL", "LOG")
            outcomes[-1].append(sorted({(_text(e[b"context"]), _text(e[b"reason"])) for e in log}))
        assert outcomes[0] == outcomes[1]
        assert ("lua", "key") in outcomes[0][-1] and ("lua", "command") in outcomes[0][-1]
    finally:
        for server in servers:
            server.stop()
