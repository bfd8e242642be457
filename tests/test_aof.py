"""The append-only file: Redis 7.0's multi-part layout, what is logged, restarts, rewrites,
runtime switching, write errors, damaged files and magpie-check-aof. Real server processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import redis
from servers import start_magpie

from magpie.persistence.aof_format import CommandScanner
from magpie.persistence.aof_manifest import (
    Manifest,
    ManifestError,
    parse_manifest,
    read_manifest,
)

AOF_DIR = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"


def manifest_of(workdir: str) -> Manifest:
    return read_manifest(os.path.join(workdir, AOF_DIR, MANIFEST))


def incr_commands(workdir: str) -> list[list[bytes]]:
    manifest = manifest_of(workdir)
    commands: list[list[bytes]] = []
    for entry in manifest.incrs:
        with open(os.path.join(workdir, AOF_DIR, entry.name), "rb") as fh:
            commands += [argv for _, argv in CommandScanner(fh.read())]
    return commands


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def raw(server) -> redis.Redis:
    """A client that shows BGREWRITEAOF's and BGSAVE's status replies as sent."""
    client = server.client()
    for name in ("BGREWRITEAOF", "BGSAVE"):
        client.response_callbacks.pop(name, None)
    return client


def rewrite_done(r: redis.Redis) -> bool:
    info = r.info("persistence")
    return info["aof_rewrite_in_progress"] == 0 and info["aof_rewrite_scheduled"] == 0


def run_to_exit(workdir: str, *args: str, timeout: float = 30) -> tuple[int, str]:
    """Start a server that is expected to stop on its own; its exit code and log."""
    log_path = os.path.join(workdir, "exit.log")
    with open(log_path, "w") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "magpie", "--port", "0", "--bind", "127.0.0.1", "--dir", workdir,
             "--save", "", *args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout,
        )  # fmt: skip
    with open(log_path) as fh:
        return proc.returncode, fh.read()


@pytest.fixture
def aof_server():
    server = start_magpie("--appendonly", "yes")
    yield server
    server.stop()


# -- the manifest, as Redis reads and writes it ------------------------------------------------


def test_manifest_round_trip_and_redis_order():
    text = (b"file appendonly.aof.2.base.rdb seq 2 type b\n"
            b"file appendonly.aof.1.incr.aof seq 1 type h\n"
            b"file appendonly.aof.3.incr.aof seq 3 type i\n")  # fmt: skip
    manifest = parse_manifest(text)
    assert manifest.base.name == "appendonly.aof.2.base.rdb" and manifest.base_seq == 2
    assert [f.name for f in manifest.incrs] == ["appendonly.aof.3.incr.aof"] and manifest.incr_seq == 3
    assert manifest.render().encode() == text
    manifest.new_incr("appendonly.aof")
    manifest.retire_incrs(keep_last=True)
    assert manifest.render().splitlines()[-1] == "file appendonly.aof.4.incr.aof seq 4 type i"
    quoted = parse_manifest(b'file "my file.aof" seq 1 type i\n')
    assert quoted.incrs[0].name == "my file.aof"
    assert quoted.render() == 'file "my file.aof" seq 1 type i\n'


@pytest.mark.parametrize(
    "text, reason",
    [
        (b"", "Found an empty AOF manifest"),
        (b"file a seq 1 type b", "The AOF manifest file contains too long line"),  # no newline
        (b"file a seq 1\n", "Invalid AOF manifest file format"),
        (b"file a/b seq 1 type b\n", "File can't be a path, just a filename"),
        (b"file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information"),
        (b"file a seq 2 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number"),
        (b"file a seq 1 type x\n", "Unknown AOF file type"),
        (b"\n", "Invalid AOF manifest file format"),
    ],
)
def test_manifest_errors_are_redis_errors(text, reason):
    with pytest.raises(ManifestError) as info:
        parse_manifest(text)
    assert info.value.reason == reason


# -- what is logged, and restarts -----------------------------------------------------------------


def test_startup_layout_logged_commands_and_restart_with_every_type():
    server = start_magpie("--appendonly", "yes")
    try:
        r = server.client()
        manifest = manifest_of(server.workdir)
        assert manifest.base.name == "appendonly.aof.1.base.rdb"
        assert [f.name for f in manifest.incrs] == ["appendonly.aof.1.incr.aof"]
        r.set("s", "v", ex=1000)
        r.expire("s", 2000)
        r.rpush("l", "a", "b", "c")
        r.sadd("set", "x", "y")
        r.hset("h", mapping={"f": "1", "g": "2"})
        r.zadd("z", {"m": 1.5, "n": -2})
        r.incrbyfloat("f", 1.5)
        r3 = server.client(db=3)
        r3.set("in3", "yes")
        with r.pipeline(transaction=True) as pipe:
            pipe.incr("counter").incr("counter").execute()
        r.set("gone", "x", px=1)
        commands = incr_commands(server.workdir)
        names = [argv[0].upper() for argv in commands]
        assert names[0] == b"SELECT"
        set_s = next(argv for argv in commands if argv[:2] == [b"SET", b"s"])
        assert set_s[3].upper() == b"PXAT" and int(set_s[4]) > time.time() * 1000  # absolute
        assert any(argv[0].upper() == b"PEXPIREAT" and argv[1] == b"s" for argv in commands)
        assert [b"SELECT", b"3"] in commands and b"MULTI" in names and b"EXEC" in names
        assert next(argv for argv in commands if argv[1:2] == [b"f"])[-1].upper() == b"KEEPTTL"
        expected = {
            "l": r.lrange("l", 0, -1), "set": r.smembers("set"), "h": r.hgetall("h"),
            "z": r.zrange("z", 0, -1, withscores=True), "f": r.get("f"), "counter": r.get("counter"),
        }  # fmt: skip
        ttl_before = r.pttl("s")
        time.sleep(0.05)
        server.kill()
        server = start_magpie("--appendonly", "yes", workdir=server.workdir)
        r = server.wait_loaded()
        assert r.get("s") == b"v" and 1_900_000 < r.pttl("s") <= ttl_before
        assert r.lrange("l", 0, -1) == expected["l"] and r.smembers("set") == expected["set"]
        assert r.hgetall("h") == expected["h"] and r.zrange("z", 0, -1, withscores=True) == expected["z"]
        assert r.get("f") == expected["f"] and r.get("counter") == b"2"
        assert server.client(db=3).get("in3") == b"yes"
        assert r.exists("gone") == 0
        log = server.log()
        assert "Opening AOF incr file appendonly.aof.1.incr.aof on server start" in log
        assert "DB loaded from append only file" in log
    finally:
        server.stop()


def test_a_key_that_expired_while_the_server_was_down_is_not_resurrected():
    """Commands after the TTL still apply to the key during the replay (nothing expires
    while loading), and the key is gone once the load is over."""
    server = start_magpie("--appendonly", "yes")
    try:
        r = server.client()
        r.set("k", "v", px=400)
        r.append("k", "w")
        r.rpush("list", "a")
        r.pexpire("list", 400)
        r.rpush("list", "b")
        time.sleep(0.5)
        server.kill()  # before anything expired it in the running server
        server = start_magpie("--appendonly", "yes", workdir=server.workdir)
        r = server.wait_loaded()
        assert r.exists("k", "list") == 0
        assert r.dbsize() == 0
    finally:
        server.stop()


def test_aof_wins_over_the_rdb_file_at_startup():
    server = start_magpie("--save", "3600 1")
    try:
        r = server.client()
        r.set("from-rdb", "1")
        r.save()
        r.config_set("appendonly", "yes")
        wait_for(lambda: rewrite_done(r), what="the first rewrite")
        r.set("from-aof", "1")
        r.delete("from-rdb")
        server.kill()
        server = start_magpie("--appendonly", "yes", workdir=server.workdir)
        r = server.wait_loaded()
        assert os.path.exists(os.path.join(server.workdir, "dump.rdb"))
        assert r.exists("from-rdb") == 0 and r.get("from-aof") == b"1"
    finally:
        server.stop()


def test_sigterm_flushes_and_fsyncs_the_aof_with_appendfsync_no():
    server = start_magpie("--appendonly", "yes", "--appendfsync", "no")
    try:
        r = server.client()
        r.mset({f"k{i}": i for i in range(100)})
        server.stop(keep_dir=True)  # SIGTERM: the same prepare_shutdown as SHUTDOWN
        assert "Calling fsync() on the AOF file." in server.log()
        server = start_magpie("--appendonly", "yes", workdir=server.workdir)
        assert server.wait_loaded().dbsize() == 100
    finally:
        server.stop()


# -- BGREWRITEAOF --------------------------------------------------------------------------------


def test_bgrewriteaof_replaces_base_and_incr_and_loses_no_concurrent_write():
    server = start_magpie("--appendonly", "yes", "--appendfsync", "always")
    try:
        r = raw(server)
        r.mset({f"pre{i}": "x" * 20 for i in range(30_000)})
        stop = threading.Event()
        written: list[int] = []

        def writer():
            w = server.client()
            i = 0
            while not stop.is_set():
                w.set(f"during{i}", i)
                w.rpush("log", i)
                written.append(i)
                i += 1

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            wait_for(lambda: len(written) > 100, what="writes before the rewrite")
            assert r.bgrewriteaof() == b"Background append only file rewriting started"
            wait_for(lambda: rewrite_done(r), what="the rewrite")
            time.sleep(0.2)
        finally:
            stop.set()
            thread.join()
        manifest = manifest_of(server.workdir)
        assert manifest.base.name == "appendonly.aof.2.base.rdb"
        assert [f.name for f in manifest.incrs] == ["appendonly.aof.2.incr.aof"] and not manifest.history
        assert sorted(os.listdir(os.path.join(server.workdir, AOF_DIR))) == [
            "appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", MANIFEST]  # fmt: skip
        info = r.info("persistence")
        assert info["aof_rewrites"] == 1 and info["aof_last_bgrewrite_status"] == "ok"
        assert info["aof_last_rewrite_time_sec"] >= 0
        assert info["aof_base_size"] > 0 and info["aof_current_size"] >= info["aof_base_size"]
        server.kill()
        server = start_magpie("--appendonly", "yes", workdir=server.workdir)
        r = server.wait_loaded()
        assert len(written) > 10
        assert r.llen("log") == len(written)
        assert r.lrange("log", 0, -1) == [str(i).encode() for i in written]
        assert r.get(f"during{written[-1]}") == str(written[-1]).encode()
        assert r.dbsize() == 30_000 + len(written) + 1
    finally:
        server.stop()


def test_only_one_child_at_a_time_with_redis_replies():
    server = start_magpie("--appendonly", "yes")
    try:
        r = raw(server)
        r.mset({f"k{i}": i for i in range(100_000)})  # a child that cannot finish before the SIGSTOP
        assert r.bgrewriteaof() == b"Background append only file rewriting started"
        pid = int(server.log().split("Background append only file rewriting started by pid ")[1].split()[0])
        os.kill(pid, signal.SIGSTOP)  # the child waits while we ask for more
        try:
            assert r.info("persistence")["aof_rewrite_in_progress"] == 1
            with pytest.raises(redis.ResponseError, match="^Background append only file rewriting already in progress$"):
                r.bgrewriteaof()
            with pytest.raises(redis.ResponseError, match=r"^Another child process is active \(AOF\?\): can't BGSAVE right now. "
                               r"Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.$"):  # fmt: skip
                r.execute_command("BGSAVE")
            assert r.execute_command("BGSAVE", "SCHEDULE") == b"Background saving scheduled"
            assert r.info("persistence")["rdb_bgsave_in_progress"] == 0
        finally:
            os.kill(pid, signal.SIGCONT)
        # rdb_saves counts a background save when it starts, as Redis does: wait for its end too
        wait_for(lambda: (lambda p: p["rdb_saves"] == 1 and not p["rdb_bgsave_in_progress"])(r.info("persistence")),
                 what="the scheduled BGSAVE")  # fmt: skip
        assert r.info("persistence")["aof_rewrites"] == 1
        assert r.execute_command("BGSAVE") == b"Background saving started"
        pid = int(server.log().split("Background saving started by pid ")[-1].split()[0])
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(redis.ResponseError, match="^Background save already in progress$"):
                r.execute_command("BGSAVE", "SCHEDULE")
            assert r.bgrewriteaof() == b"Background append only file rewriting scheduled"
            assert r.info("persistence")["aof_rewrite_scheduled"] == 1
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: r.info("persistence")["aof_rewrites"] == 2 and rewrite_done(r), what="the scheduled rewrite")
    finally:
        server.stop()


def test_bgrewriteaof_while_bgsave_is_scheduled_and_runs_after_it():
    server = start_magpie("--appendonly", "yes")
    try:
        r = raw(server)
        r.mset({f"k{i}": "v" * 50 for i in range(50_000)})
        assert r.execute_command("BGSAVE") == b"Background saving started"
        saving = r.info("persistence")["rdb_bgsave_in_progress"]
        reply = r.bgrewriteaof()
        if saving:
            assert reply == b"Background append only file rewriting scheduled"
            assert r.info("persistence")["aof_rewrite_scheduled"] == 1
        wait_for(lambda: r.info("persistence")["aof_rewrites"] == 1 and rewrite_done(r), what="the scheduled rewrite")
        # inside a transaction a rewrite is scheduled, as in Redis, and runs from the cron
        with r.pipeline(transaction=True) as pipe:
            replies = pipe.set("a", 1).execute_command("BGREWRITEAOF").execute()
        assert replies[1] == b"Background append only file rewriting scheduled"
        wait_for(lambda: r.info("persistence")["aof_rewrites"] == 2 and rewrite_done(r), what="the second rewrite")
    finally:
        server.stop()


def test_rewrite_without_rdb_preamble_writes_commands():
    server = start_magpie("--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    try:
        r = server.client()
        r.rpush("l", *range(150))
        r.zadd("z", {"a": 1.25, "b": float("inf")})
        r.hset("h", mapping={f"f{i}": i for i in range(70)})
        r.sadd("s", *range(10))
        r.set("t", "v", ex=500)
        r.bgrewriteaof()
        wait_for(lambda: rewrite_done(r) and r.info("persistence")["aof_rewrites"] == 1, what="the rewrite")
        base = manifest_of(server.workdir).base.name
        assert base == "appendonly.aof.2.base.aof"
        with open(os.path.join(server.workdir, AOF_DIR, base), "rb") as fh:
            commands = [argv for _, argv in CommandScanner(fh.read())]
        assert [len(c) - 2 for c in commands if c[0] == b"RPUSH"] == [64, 64, 22]
        assert [b"PEXPIREAT", b"t"] == next(c for c in commands if c[0] == b"PEXPIREAT")[:2]
        server.kill()
        server = start_magpie("--appendonly", "yes", workdir=server.workdir)
        r = server.wait_loaded()
        assert r.lrange("l", 0, -1) == [str(i).encode() for i in range(150)]
        assert r.zscore("z", "b") == float("inf") and r.hlen("h") == 70 and r.scard("s") == 10
        assert 0 < r.ttl("t") <= 500
    finally:
        server.stop()


def test_automatic_rewrite_on_growth():
    server = start_magpie("--appendonly", "yes", "--auto-aof-rewrite-min-size", "20kb",
                          "--auto-aof-rewrite-percentage", "100")  # fmt: skip
    try:
        r = server.client()
        for i in range(50):
            r.set(f"k{i % 5}", "x" * 1000)
        wait_for(lambda: r.info("persistence")["aof_rewrites"] >= 1 and rewrite_done(r), what="an automatic rewrite")
        assert "Starting automatic rewriting of AOF on" in server.log()
        assert r.info("persistence")["aof_current_size"] < 20_000
    finally:
        server.stop()


# -- turning it on and off at runtime -----------------------------------------------------------


def test_config_set_appendonly_yes_writes_a_base_then_logs_and_no_stops():
    server = start_magpie()
    try:
        r = server.client()
        info = r.info("persistence")
        assert info["aof_enabled"] == 0 and "aof_current_size" not in info
        r.mset({f"before{i}": i for i in range(2000)})
        assert r.config_set("appendonly", "yes")
        r.set("during-first-rewrite", 1)
        wait_for(lambda: rewrite_done(r) and r.info("persistence")["aof_rewrites"] == 1, what="the first rewrite")
        r.set("after", 1)
        manifest = manifest_of(server.workdir)
        assert manifest.base.name == "appendonly.aof.1.base.rdb"
        assert [f.name for f in manifest.incrs] == ["appendonly.aof.1.incr.aof"]
        assert "Background AOF rewrite finished successfully" in server.log()
        info = r.info("persistence")
        assert info["aof_enabled"] == 1 and info["aof_last_write_status"] == "ok"
        assert list(info)[list(info).index("module_fork_last_cow_size") + 1 :][:6] == [
            "aof_current_size", "aof_base_size", "aof_pending_rewrite", "aof_buffer_length",
            "aof_pending_bio_fsync", "aof_delayed_fsync"]  # fmt: skip
        r.config_set("appendonly", "no")
        r.set("not-logged", 1)
        assert r.info("persistence")["aof_enabled"] == 0
        server.kill()
        server = start_magpie("--appendonly", "yes", workdir=server.workdir)
        r = server.wait_loaded()
        assert r.dbsize() == 2002 and r.exists("not-logged") == 0
    finally:
        server.stop()


def test_old_single_file_aof_is_moved_into_the_directory():
    server = start_magpie()
    workdir = server.workdir
    server.stop(keep_dir=True)
    with open(os.path.join(workdir, "appendonly.aof"), "wb") as fh:
        fh.write(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$3\r\nold\r\n$5\r\nstyle\r\n")
    server = start_magpie("--appendonly", "yes", workdir=workdir)
    try:
        r = server.wait_loaded()
        assert r.get("old") == b"style"
        assert not os.path.exists(os.path.join(workdir, "appendonly.aof"))
        manifest = manifest_of(workdir)
        assert manifest.base.name == "appendonly.aof"
        assert "Successfully migrated an old-style AOF file" in server.log()
    finally:
        server.stop()


# -- write errors -------------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/usr/bin/prlimit"), reason="needs prlimit")
def test_a_write_error_refuses_writes_with_misconf():
    server = start_magpie("--appendonly", "yes", wrapper=("prlimit", "--fsize=60000"))
    try:
        r = server.client()
        with pytest.raises(redis.ResponseError, match="MISCONF Errors writing to the AOF file: File too large"):
            for i in range(2000):
                r.set(f"key{i}", "x" * 100)
        info = r.info("persistence")
        assert info["aof_last_write_status"] == "err"
        assert info["aof_buffer_length"] > 0
        assert r.get("key0") == b"x" * 100  # reads still work
        log = server.log()
        assert "Error writing to the AOF file: File too large" in log or "Short write while writing to the AOF file" in log
    finally:
        server.stop()


# -- damaged files at startup --------------------------------------------------------------------


def _dir_with_incr(data: bytes) -> str:
    server = start_magpie("--appendonly", "yes")
    r = server.client()
    r.set("a", "1")
    r.set("b", "2")
    workdir = server.workdir
    server.stop(keep_dir=True)
    incr = os.path.join(workdir, AOF_DIR, "appendonly.aof.1.incr.aof")
    with open(incr, "ab") as fh:
        fh.write(data)
    return workdir


TORN = b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$5\r\nhal"


def test_torn_last_command_loads_with_aof_load_truncated_yes_and_is_refused_with_no():
    workdir = _dir_with_incr(TORN)
    incr = os.path.join(workdir, AOF_DIR, "appendonly.aof.1.incr.aof")
    size = os.path.getsize(incr)
    code, log = run_to_exit(workdir, "--appendonly", "yes", "--aof-load-truncated", "no")
    assert code == 1
    assert "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof" in log
    assert os.path.getsize(incr) == size
    server = start_magpie("--appendonly", "yes", workdir=workdir)
    try:
        r = server.wait_loaded()
        assert r.get("a") == b"1" and r.get("b") == b"2" and r.exists("c") == 0
        log = server.log()
        assert "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!" in log
        assert f"!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {size - len(TORN)} !!!" in log
        assert os.path.getsize(incr) == size - len(TORN)
        r.set("d", "4")  # appended after the cut, so the next load sees it
        server.kill()
        server = start_magpie("--appendonly", "yes", workdir=workdir)
        assert server.wait_loaded().get("d") == b"4"
    finally:
        server.stop()


def test_corruption_in_the_middle_stops_startup_with_the_offset():
    workdir = _dir_with_incr(b"")
    incr = os.path.join(workdir, AOF_DIR, "appendonly.aof.1.incr.aof")
    with open(incr, "rb") as fh:
        data = bytearray(fh.read())
    second = data.index(b"*3", 1)
    data[second + 5] = ord("x")  # the '$' of SET's length
    with open(incr, "wb") as fh:
        fh.write(data)
    code, log = run_to_exit(workdir, "--appendonly", "yes")
    assert code == 1
    assert "Bad file format reading the append only file appendonly.aof.1.incr.aof" in log
    assert f"at offset {second + 4} of appendonly.aof.1.incr.aof" in log
    checked = subprocess.run([sys.executable, "-m", "magpie.tools.check_aof", os.path.join(workdir, AOF_DIR)],
                             capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 1
    assert f"ok_up_to={second}," in checked.stdout


def test_an_unknown_command_or_bad_manifest_stops_startup():
    workdir = _dir_with_incr(b"*2\r\n$7\r\nNOSUCHC\r\n$1\r\nx\r\n")
    code, log = run_to_exit(workdir, "--appendonly", "yes")
    assert code == 1 and "Unknown command 'NOSUCHC' reading the append only file appendonly.aof.1.incr.aof" in log
    with open(os.path.join(workdir, AOF_DIR, MANIFEST), "w") as fh:
        fh.write("file appendonly.aof.1.base.rdb seq 1 type z\n")
    code, log = run_to_exit(workdir, "--appendonly", "no")  # Redis reads the manifest either way
    assert code == 1 and "*** FATAL AOF MANIFEST FILE ERROR ***" in log and "Unknown AOF file type" in log


# -- magpie-check-aof -----------------------------------------------------------------------------


def test_check_aof_reports_and_fixes_a_torn_tail_like_redis_check_aof():
    workdir = _dir_with_incr(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$5\r\nhal")
    aof_dir = os.path.join(workdir, AOF_DIR)
    tool = [sys.executable, "-m", "magpie.tools.check_aof"]
    ours = subprocess.run([*tool, aof_dir], capture_output=True, text=True)
    assert ours.returncode == 1
    assert "is not valid. Use the --fix option to try fixing it." in ours.stdout
    theirs = subprocess.run(["redis-check-aof", os.path.join(aof_dir, MANIFEST)], capture_output=True, text=True)
    ok_up_to = [line.split("ok_up_to=")[1].split(",")[0] for line in theirs.stdout.splitlines() if "incr.aof, size" in line]
    assert f"ok_up_to={ok_up_to[0]}," in ours.stdout
    refused = subprocess.run([*tool, "--fix", aof_dir], input="n\n", capture_output=True, text=True)
    assert refused.returncode == 1 and "Aborting..." in refused.stdout
    fixed = subprocess.run([*tool, "--fix", os.path.join(aof_dir, MANIFEST)], input="y\n", capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stdout
    assert "Successfully truncated AOF appendonly.aof.1.incr.aof" in fixed.stdout
    again = subprocess.run([*tool, aof_dir], capture_output=True, text=True)
    assert again.returncode == 0 and "All AOF files and manifest are valid" in again.stdout
    assert subprocess.run(["redis-check-aof", os.path.join(aof_dir, MANIFEST)], capture_output=True).returncode == 0


# -- in process: the order of fsync and reply --------------------------------------------------


class _RecordingTransport:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def write(self, data: bytes) -> None:
        self.events.append("reply")

    def get_extra_info(self, name: str):
        return None

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@pytest.mark.parametrize("policy, expected", [
    ("always", ["fsync on the loop's thread", "reply"]),
    ("everysec", ["reply", "fsync in the background"]),  # (the thread may also win the race)
    ("no", ["reply"]),
])  # fmt: skip
def test_appendfsync_always_fsyncs_before_the_reply_is_written(policy, expected, tmp_path, monkeypatch):
    from magpie.commands import load_all
    from magpie.config import Config
    from magpie.persistence import aof_writer
    from magpie.persistence.aof_loader import open_on_start
    from magpie.server.connection import Client
    from magpie.server.server import Server

    load_all()
    monkeypatch.chdir(tmp_path)
    events: list[str] = []
    main = threading.current_thread()

    def record_sync(fd: int) -> None:
        events.append("fsync on the loop's thread" if threading.current_thread() is main else "fsync in the background")

    monkeypatch.setattr(aof_writer, "_sync", record_sync)
    config = Config()
    config.set("appendonly", "yes", startup=True)
    config.set("appendfsync", policy, startup=True)
    server = Server(config)
    server.refresh_slow_path()
    assert open_on_start(server.aof)
    client = Client(server)
    client.transport = _RecordingTransport(events)  # type: ignore[assignment]
    server.aof.writer.last_fsync = 0  # everysec: a second has passed
    events.clear()
    client.data_received(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    server.aof.writer.worker.drain()
    assert sorted(events) == sorted(expected) and (policy == "everysec" or events == expected), events
    with open(os.path.join(tmp_path, AOF_DIR, "appendonly.aof.1.incr.aof"), "rb") as fh:
        assert fh.read().endswith(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")


def test_search_indexes_come_back_from_the_incr_file_and_from_the_base():
    server = start_magpie("--appendonly", "yes")
    try:
        r = server.client()
        r.hset("doc:1", mapping={"t": "hello world", "n": 5})
        r.execute_command("FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA", "t", "TEXT", "n", "NUMERIC")
        r.hset("doc:2", mapping={"t": "hello there", "n": 7})
        assert [b"FT.CREATE", b"idx"] in [argv[:2] for argv in incr_commands(server.workdir)]
        server.kill()
        server = start_magpie("--appendonly", "yes", workdir=server.workdir)
        r = server.wait_loaded()
        assert sorted(r.execute_command("FT.SEARCH", "idx", "hello", "NOCONTENT")[1:]) == [b"doc:1", b"doc:2"]
        r.bgrewriteaof()
        wait_for(lambda: r.info("persistence")["aof_rewrites"] == 1 and rewrite_done(r), what="the rewrite")
        r.hset("doc:3", mapping={"t": "hello again", "n": 9})
        server.kill()
        server = start_magpie("--appendonly", "yes", workdir=server.workdir)
        r = server.wait_loaded()
        assert r.execute_command("FT.SEARCH", "idx", "@n:[6 10]", "NOCONTENT")[0] == 2
    finally:
        server.stop()


def test_check_aof_truncates_to_a_timestamp(tmp_path):
    from magpie.tools.check_aof import Checker

    path = tmp_path / "appendonly.aof"
    path.write_bytes(b"#TS:100\r\n*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nEXEC\r\n#TS:200\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n")
    out = __import__("io").StringIO()
    Checker(to_timestamp=150, out=out).check(str(path))
    assert path.read_bytes().endswith(b"EXEC\r\n") and "Successfully truncated AOF" in out.getvalue()
