"""Function libraries persist and replicate as Redis 7.0's do, between Magpie and a real
redis-server 7.0.15 in both directions.

- RDB: each library is an RDB_OPCODE_FUNCTION2 record (its code) before the keys; a file
  saved by either server loads in the other with the same libraries and FCALL answers the
  same; a library that fails to load fails the whole load; the 7.0 release candidates'
  FUNCTION opcode loads; DEBUG RELOAD replaces the libraries with the file's.
- DUMP/RESTORE: each server's FUNCTION DUMP restores in the other.
- AOF: with an RDB preamble the libraries are in the image, without one the base starts
  with a FUNCTION LOAD per library; FUNCTION LOAD/DELETE in the incr file replay; both
  servers start from the other's AOF directory.
- Replication: a replica gets the libraries in the full-sync snapshot and FUNCTION
  LOAD/DELETE/RESTORE/FLUSH in the stream; FCALL's effects reach it as MULTI/EXEC; FCALL_RO
  on the replica answers what the primary answers.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time

import pytest
import redis
from rdb_helpers import run_magpie_on
from replication_helpers import wait_for, wait_link_up, wait_offsets_equal
from servers import ServerProcess, redis_server_path, start_magpie, start_redis

from magpie.persistence.rdb_format import (
    MAGIC,
    OP_EOF,
    OP_FUNCTION_PRE_GA,
    RDB_VERSION,
    crc64,
    encode_length,
    encode_string,
)
from magpie.persistence.rdb_writer import write_rdb
from magpie.store.keyspace import Keyspace

pytestmark = pytest.mark.skipif(redis_server_path() is None, reason="redis-server is not installed")

COUNTERS = """#!lua name=counters
redis.register_function('bump', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)
redis.register_function{function_name='peek', callback=function(keys) return redis.call('get', keys[1]) end,
                        flags={'no-writes'}, description='read a counter'}
"""
#: Long enough that its code is LZF-compressed in RDB files and payloads.
TEXTS = "#!lua name=texts\n" + "-- padding\n" * 10 + """
redis.register_function{function_name='shout', callback=function(keys, args) return string.upper(args[1]) end,
                        flags={'no-writes', 'allow-stale'}}
redis.register_function('stamp', function(keys, args)
  redis.call('hset', keys[1], 'by', args[1])
  return redis.call('hgetall', keys[1])
end)
"""
EXTRA = "#!lua name=extra\nredis.register_function{function_name='seven', callback=function() return 7 end, flags={'no-writes'}}"


def raw(server: ServerProcess) -> redis.Redis:
    client = server.client(protocol=3)
    client.response_callbacks.clear()
    return client


def libraries(server: ServerProcess) -> list:
    """FUNCTION LIST WITHCODE, libraries and functions in name order."""
    listed = raw(server).execute_command("FUNCTION", "LIST", "WITHCODE")
    for library in listed:
        library[b"functions"].sort(key=lambda fn: fn[b"name"])
    return sorted(listed, key=lambda library: library[b"library_name"])


def answers(server: ServerProcess) -> list:
    """What the read-only functions answer (runs on a read-only replica too)."""
    c = raw(server)
    return [
        c.execute_command("FCALL_RO", "peek", 1, "hits"),
        c.execute_command("FCALL_RO", "shout", 0, "quiet words"),
    ]


def load_libraries(server: ServerProcess) -> None:
    c = server.client()
    c.function_load(COUNTERS)
    c.function_load(TEXTS)
    c.fcall("bump", 1, "hits", 5)
    c.fcall("stamp", 1, "doc", "loader")


def saved_file(server: ServerProcess) -> str:
    server.client().save()
    return os.path.join(server.workdir, "dump.rdb")


def workdir_with(data_file: str) -> str:
    target = tempfile.mkdtemp(prefix="functions-rdb-")
    shutil.copy(data_file, os.path.join(target, "dump.rdb"))
    return target


def handmade_rdb(functions: list[bytes], raw_records: bytes = b"") -> bytes:
    """An RDB image with these libraries (and ``raw_records`` written after them) and one key."""
    keyspace = Keyspace(16)
    keyspace[0].data[b"k"] = b"v"
    out = io.BytesIO()
    write_rdb(out, keyspace, functions=functions)
    data = out.getvalue()
    if raw_records:
        body = data[: data.index(b"\xfe")] + raw_records + data[data.index(b"\xfe") : -9]
        data = body + bytes((OP_EOF,))
        data += crc64(data).to_bytes(8, "little")
    return data


# -- RDB ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["yes", "no"])
def test_redis_server_loads_the_libraries_in_magpies_file(compression):
    magpie = start_magpie("--rdbcompression", compression)
    real = None
    try:
        load_libraries(magpie)
        expected_libraries, expected_answers = libraries(magpie), answers(magpie)
        path = saved_file(magpie)
        with open(path, "rb") as fh:
            data = fh.read()
        assert data.index(b"\xf5") < data.index(b"\xfe")  # the libraries come before the keys
        real = start_redis("--rdbcompression", compression, workdir=workdir_with(path))
        real.wait_loaded()
        assert libraries(real) == expected_libraries
        assert answers(real) == expected_answers
        assert real.client().fcall("bump", 1, "hits", 1) == 6
    finally:
        magpie.stop()
        if real is not None:
            real.stop()


def test_magpie_loads_the_libraries_in_redis_servers_file():
    real = start_redis()
    magpie = None
    try:
        load_libraries(real)
        expected_libraries, expected_answers = libraries(real), answers(real)
        magpie = start_magpie(workdir=workdir_with(saved_file(real)))
        magpie.wait_loaded()
        assert libraries(magpie) == expected_libraries
        assert answers(magpie) == expected_answers
        assert magpie.client().fcall("stamp", 1, "doc", "magpie") == [b"by", b"magpie"]
        # and back: Redis loads the file Magpie saves of what it loaded
        again = start_redis(workdir=workdir_with(saved_file(magpie)))
        try:
            again.wait_loaded()
            assert libraries(again) == expected_libraries
        finally:
            again.stop()
    finally:
        real.stop()
        if magpie is not None:
            magpie.stop()


@pytest.mark.parametrize(
    "library",
    [b"#!lua name=broken\nnot lua at all", b"#!lua name=empty\nlocal x = 1", b"no shebang"],
    ids=["does-not-compile", "registers-nothing", "no-metadata"],
)
def test_a_library_that_fails_to_load_fails_the_whole_load(library):
    good = COUNTERS.encode()
    workdir = tempfile.mkdtemp(prefix="functions-rdb-")
    try:
        path = os.path.join(workdir, "dump.rdb")
        with open(path, "wb") as fh:
            fh.write(handmade_rdb([good, library]))
        result = run_magpie_on(workdir)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "Failed loading library" in output and "Traceback" not in output
        # redis-server refuses the file too
        ref = start_redis_on_file(workdir)
        assert "Failed loading library" in ref
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def start_redis_on_file(workdir: str) -> str:
    """redis-server on ``workdir`` until it exits (it must refuse the file): its log."""
    import subprocess

    from servers import free_port

    log_path = os.path.join(workdir, "redis.log")
    subprocess.run([redis_server_path(), "--port", str(free_port()), "--bind", "127.0.0.1", "--dir", workdir,
                    "--save", "", "--logfile", log_path], timeout=20, capture_output=True)  # fmt: skip
    with open(log_path, errors="replace") as fh:
        return fh.read()


def test_debug_reload_replaces_the_libraries_with_the_files():
    """Redis empties the functions with the data before loading (emptyData), so a library
    loaded after the save is gone and one deleted after it is back."""
    results = []
    for start in (start_magpie, start_redis):
        server = start()
        try:
            c = server.client()
            c.function_load(COUNTERS)
            c.save()
            c.function_load(EXTRA)
            c.function_delete("counters")
            c.execute_command("DEBUG", "RELOAD", "NOSAVE")
            results.append(libraries(server))
            c.execute_command("DEBUG", "RELOAD")
            results.append(libraries(server))
        finally:
            server.stop()
    assert results[0] == results[2] and results[1] == results[3]
    assert [lib[b"library_name"] for lib in results[0]] == [b"counters"]


def test_the_release_candidates_function_opcode_loads():
    """7.0-rc1/rc2 wrote name, engine, an optional description and the code apart
    (RDB_OPCODE_FUNCTION, 246): both servers load it as the library the shebang makes."""
    body = b"\nredis.register_function('old', function() return 'rc' end)"
    record = (bytes((OP_FUNCTION_PRE_GA,)) + encode_string(b"oldlib") + encode_string(b"LUA")
              + encode_length(1) + encode_string(b"a description") + encode_string(body))  # fmt: skip
    data = handmade_rdb([], record)
    seen = []
    for start in (start_magpie, start_redis):
        workdir = tempfile.mkdtemp(prefix="functions-rdb-")
        with open(os.path.join(workdir, "dump.rdb"), "wb") as fh:
            fh.write(data)
        server = start(workdir=workdir)
        try:
            server.wait_loaded()
            seen.append((libraries(server), server.client().fcall("old", 0), server.client().get("k")))
        finally:
            server.stop()
    assert seen[0] == seen[1]
    assert seen[0][0][0][b"library_code"] == b"#!LUA name=oldlib\n" + body
    assert seen[0][1:] == (b"rc", b"v")


# -- DUMP / RESTORE --------------------------------------------------------------------------------


def test_function_dump_payloads_restore_in_the_other_server():
    magpie, real = start_magpie(), start_redis()
    try:
        for source, target in ((magpie, real), (real, magpie)):
            for server in (magpie, real):
                server.client().function_flush()
            load_libraries(source)
            payload = source.client().function_dump()
            assert payload[-10:-8] == RDB_VERSION.to_bytes(2, "little")
            assert target.client().function_restore(payload)
            assert libraries(target) == libraries(source)
            with pytest.raises(redis.ResponseError, match="Library .* already exists"):
                target.client().function_restore(payload)
            assert target.client().function_restore(payload, "REPLACE")
            assert target.client().fcall_ro("shout", 0, "x") == b"X"
    finally:
        magpie.stop()
        real.stop()


# -- AOF -------------------------------------------------------------------------------------------


def rewrite(c: redis.Redis) -> None:
    before = c.info("persistence")["aof_rewrites"]
    c.bgrewriteaof()
    wait_for(lambda: (info := c.info("persistence"))["aof_rewrites"] > before
             and not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"],
             30, "the AOF rewrite")  # fmt: skip


def aof_state(server: ServerProcess) -> tuple:
    c = server.client()
    return libraries(server), c.get("hits"), c.hgetall("doc"), c.fcall_ro("seven", 0)


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_libraries_survive_an_aof_restart_and_redis_starts_from_magpies_aof(preamble):
    magpie = start_magpie("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    ref = None
    try:
        load_libraries(magpie)
        rewrite(magpie.client())
        c = magpie.client()
        c.function_load(EXTRA)  # after the rewrite: in the incr file
        c.function_load("#!lua name=doomed\nredis.register_function('gone', function() end)")
        c.function_delete("doomed")
        c.fcall("bump", 1, "hits", 10)
        expected = aof_state(magpie)
        magpie.stop(keep_dir=True)
        aof_dir = os.path.join(magpie.workdir, "appendonlydir")
        base = next(name for name in os.listdir(aof_dir) if ".base." in name)
        with open(os.path.join(aof_dir, base), "rb") as fh:
            head = fh.read()
        if preamble == "yes":
            assert head.startswith(MAGIC) and b"\xf5" in head
        else:  # Redis's rewriteFunctions: the libraries' FUNCTION LOADs before the keys
            assert head.startswith(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n")
            assert head.index(b"FUNCTION") < head.index(b"SELECT")
        again = start_magpie("--appendonly", "yes", workdir=magpie.workdir)
        try:
            again.wait_loaded()
            assert aof_state(again) == expected
        finally:
            again.stop(keep_dir=True)
        ref = start_redis("--appendonly", "yes", workdir=magpie.workdir)
        ref.wait_loaded()
        assert aof_state(ref) == expected
    finally:
        if ref is not None:
            ref.stop(keep_dir=True)
        shutil.rmtree(magpie.workdir, ignore_errors=True)


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_magpie_starts_from_redis_servers_aof_with_libraries(preamble):
    ref = start_redis("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    magpie = None
    try:
        load_libraries(ref)
        rewrite(ref.client())
        ref.client().function_load(EXTRA)
        ref.client().fcall("bump", 1, "hits", 10)
        expected = aof_state(ref)
        ref.stop(keep_dir=True)
        os.unlink(os.path.join(ref.workdir, "server.log"))
        magpie = start_magpie("--appendonly", "yes", workdir=ref.workdir)
        magpie.wait_loaded()
        assert aof_state(magpie) == expected
    finally:
        if magpie is not None:
            magpie.stop(keep_dir=True)
        shutil.rmtree(ref.workdir, ignore_errors=True)


# -- replication -------------------------------------------------------------------------------------

PAIRS = [("magpie", "magpie"), ("magpie", "redis"), ("redis", "magpie")]


def start(kind: str, *args: str) -> ServerProcess:
    return (start_magpie if kind == "magpie" else start_redis)(*args)


def same_everywhere(primary: ServerProcess, replica: ServerProcess) -> None:
    wait_offsets_equal(primary, replica)
    assert libraries(replica) == libraries(primary)


@pytest.mark.parametrize("kinds", PAIRS, ids=["-".join(p) for p in PAIRS])
def test_a_replica_gets_the_libraries_by_full_sync_and_in_the_stream(kinds):
    primary = start(kinds[0], "--repl-diskless-sync", "no")
    replica = start(kinds[1])
    try:
        load_libraries(primary)
        replica.client().replicaof("127.0.0.1", primary.port)
        wait_link_up(replica)
        same_everywhere(primary, replica)
        assert answers(replica) == answers(primary)
        pc = primary.client()
        # the stream: a library loaded, FCALL's effects, a library deleted, RESTORE, FLUSH
        pc.function_load(EXTRA)
        assert pc.fcall("bump", 1, "hits", 3) == 8
        assert pc.fcall("stamp", 1, "doc", "primary") == [b"by", b"primary"]
        same_everywhere(primary, replica)
        assert answers(replica) == answers(primary) == [b"8", b"QUIET WORDS"]
        assert replica.client().fcall_ro("seven", 0) == 7
        assert replica.client().hgetall("doc") == {b"by": b"primary"}
        # (the dispatcher's check, with the function's flags standing in for FCALL's, comes first)
        with pytest.raises(redis.ReadOnlyError, match="You can't write against a read only replica."):
            replica.client().fcall("bump", 1, "hits", 1)
        pc.function_delete("texts")
        same_everywhere(primary, replica)
        payload = pc.function_dump()
        pc.function_flush()
        same_everywhere(primary, replica)
        assert libraries(replica) == []
        pc.function_restore(payload)
        same_everywhere(primary, replica)
        assert [lib[b"library_name"] for lib in libraries(replica)] == [b"counters", b"extra"]
        # a failed load propagates nothing
        offset = primary.client().info("replication")["master_repl_offset"]
        with pytest.raises(redis.ResponseError):
            pc.function_load("#!lua name=extra\nredis.register_function('x', function() end)")
        time.sleep(0.1)
        assert primary.client().info("replication")["master_repl_offset"] == offset
    finally:
        replica.stop()
        primary.stop()


def test_a_diskless_full_sync_carries_the_libraries():
    primary = start_magpie("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
    replica = start_redis()
    try:
        load_libraries(primary)
        replica.client().replicaof("127.0.0.1", primary.port)
        wait_link_up(replica)
        same_everywhere(primary, replica)
        assert answers(replica) == answers(primary)
    finally:
        replica.stop()
        primary.stop()


def test_allow_stale_functions_run_on_a_stale_replica():
    """replica-serve-stale-data no and the primary gone: only allow-stale functions run,
    with the same refusals from either kind of replica."""
    seen = []
    for kind in ("magpie", "redis"):
        primary = start_magpie()
        replica = start(kind, "--replica-serve-stale-data", "no")
        try:
            load_libraries(primary)
            replica.client().replicaof("127.0.0.1", primary.port)
            wait_link_up(replica)
            same_everywhere(primary, replica)
            primary.stop()
            rc = raw(replica)
            info = replica.client()
            wait_for(lambda: info.info("replication")["master_link_status"] == "down", 15, "the link down")  # noqa: B023
            outcomes = []
            for argv in (["FCALL_RO", "shout", 0, "stale"], ["FCALL_RO", "peek", 1, "hits"], ["FCALL", "peek", 1, "hits"],
                         ["FUNCTION", "LIST", "LIBRARYNAME", "nomatch"], ["GET", "hits"]):  # fmt: skip
                try:
                    outcomes.append(rc.execute_command(*argv))
                except redis.ResponseError as exc:
                    outcomes.append(f"{type(exc).__name__}: {exc}")
            seen.append(outcomes)
        finally:
            replica.stop()
            primary.stop()
    assert seen[0] == seen[1]
    assert seen[0][0] == b"STALE"
