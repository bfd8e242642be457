"""RDB files and DUMP payloads between Magpie and a real redis-server 7.0, both ways.

redis-server loads Magpie's dump.rdb and shows every key, type, value, TTL and the
encoding it gives them; Magpie loads redis-server's dump.rdb (small and large values of
every type, so listpack, quicklist with packed, plain and LZF-compressed nodes, intsets of
each width, hashtable and skiplist all appear in the file) and the old-format fixtures under
tests/assets; DUMP from each RESTOREs in the other; a stream in Redis's file is refused by
name. The oracle is always the other server's own view. (Function libraries in RDB files:
tests/test_functions_persistence.py.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
import redis
from rdb_helpers import build_dataset, run_magpie_on, server_contents
from servers import ServerProcess, redis_server_path, start_magpie, start_redis

from magpie.tools.check_rdb import check_file

pytestmark = pytest.mark.skipif(redis_server_path() is None, reason="redis-server is not installed")

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
def workdir_with(data_file: str) -> str:
    target = tempfile.mkdtemp(prefix="rdb-interop-")
    shutil.copy(data_file, os.path.join(target, "dump.rdb"))
    return target


def saved_file(server: ServerProcess) -> str:
    server.client().save()
    return os.path.join(server.workdir, "dump.rdb")


DBS = (0, 3, 15)


# -- redis-server loads Magpie's file -------------------------------------------------------------


@pytest.mark.parametrize("options", [(), ("--rdbcompression", "no"), ("--rdbchecksum", "no")],
                         ids=["default", "no-compression", "no-checksum"])  # fmt: skip
def test_redis_server_loads_magpies_file(options):
    magpie = start_magpie(*options)
    real = None
    try:
        c = magpie.client(protocol=2)
        build_dataset(c, is_redis=False)
        path = saved_file(magpie)
        check = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0 and "RDB looks OK" in check.stdout, check.stdout
        c.execute_command("DEBUG", "RELOAD", "NOSAVE")  # Magpie's encodings after a load of this file
        expected = server_contents(c, DBS, encodings=True)
        real = start_redis(*options, workdir=workdir_with(path))
        loaded = server_contents(real.wait_loaded(), DBS, encodings=True)
        assert loaded == expected
        assert {entry[3] for entry in loaded.values()} >= {
            "int", "embstr", "raw", "quicklist", "intset", "hashtable", "listpack", "skiplist"}
        assert f"keys loaded: {len(expected)}, keys expired: 0" in real.log()
    finally:
        magpie.stop()
        if real is not None:
            real.stop()


# -- Magpie loads redis-server's file -------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [(), ("--rdbcompression", "no"), ("--rdbchecksum", "no"), ("--list-compress-depth", "1")],
    ids=["default", "no-compression", "no-checksum", "compressed-quicklist-nodes"],
)
def test_magpie_loads_redis_servers_file(options):
    real = start_redis(*options)
    magpie = None
    try:
        c = real.client(protocol=2)
        build_dataset(c, is_redis=True)
        expected = server_contents(c, DBS, encodings=True)
        path = saved_file(real)
        types = check_file(path, out=lambda line: None).types
        # string, set, hash, zset2, intset, hash and zset listpacks, quicklist v2
        assert set(types) == {0, 2, 4, 5, 11, 16, 17, 18}, types
        magpie = start_magpie(*options, workdir=workdir_with(path))
        assert server_contents(magpie.wait_loaded(), DBS, encodings=True) == expected
        assert f"keys loaded: {len(expected)}, keys expired: 0" in magpie.log()
    finally:
        real.stop()
        if magpie is not None:
            magpie.stop()


ASSET_FILES = ["encodings.rdb", "hash-zipmap.rdb", "list-quicklist.rdb", "zset-ziplist.rdb",
               "hash-ziplist.rdb", "corrupt_empty_keys.rdb"]  # fmt: skip


@pytest.mark.parametrize("name", ASSET_FILES)
def test_old_format_files_load_as_redis_server_loads_them(name):
    """Files written by Redis 2.4 to 6.x: zipmap, ziplists, quicklist v1, intsets of every
    width; and one with empty keys, which both skip."""
    real = start_redis("--sanitize-dump-payload", "no", workdir=workdir_with(os.path.join(ASSETS, name)))
    magpie = start_magpie(workdir=workdir_with(os.path.join(ASSETS, name)))
    try:
        expected = server_contents(real.wait_loaded(), encodings=True)
        assert server_contents(magpie.wait_loaded(), encodings=True) == expected
        if name != "corrupt_empty_keys.rdb":
            assert expected, "the fixture loaded no keys"
        else:
            assert "empty" in magpie.log() or "Done loading RDB, keys loaded: 0" in magpie.log()
    finally:
        real.stop()
        magpie.stop()


# -- DUMP and RESTORE across ---------------------------------------------------------------------------


def raw(server: ServerProcess) -> redis.Redis:
    client = server.client(protocol=2)
    client.response_callbacks.clear()
    return client


def move_by_dump(source: ServerProcess, target: ServerProcess) -> None:
    """Every key of db 0: DUMP on one, RESTORE (with its absolute expiry) on the other."""
    src, dst = raw(source), raw(target)
    for key in source.client(protocol=2).scan_iter(count=1000):
        payload = src.execute_command("DUMP", key)
        when = src.execute_command("PEXPIRETIME", key)
        args = ["RESTORE", key, max(when, 0), payload, "REPLACE"] + (["ABSTTL"] if when > 0 else [])
        assert dst.execute_command(*args) == b"OK", key


def test_dump_from_redis_restores_in_magpie():
    real, magpie = start_redis(), start_magpie()
    try:
        build_dataset(real.client(protocol=2), is_redis=True)
        move_by_dump(real, magpie)
        expected = server_contents(real.client(protocol=2), [0], encodings=True)
        assert server_contents(magpie.client(protocol=2), [0], encodings=True) == expected
    finally:
        real.stop()
        magpie.stop()


def test_dump_from_magpie_restores_in_redis():
    magpie, real = start_magpie(), start_redis()
    try:
        c = magpie.client(protocol=2)
        build_dataset(c, is_redis=False)
        move_by_dump(magpie, real)
        c.execute_command("DEBUG", "RELOAD")  # Magpie's encodings once its plain payloads are read
        expected = server_contents(c, [0], encodings=True)
        assert server_contents(real.client(protocol=2), [0], encodings=True) == expected
    finally:
        magpie.stop()
        real.stop()


def test_redis_refuses_a_damaged_magpie_payload_as_magpie_refuses_a_damaged_redis_one():
    magpie, real = start_magpie(), start_redis()
    try:
        for source, target in ((magpie, real), (real, magpie)):
            src, dst = raw(source), raw(target)
            src.execute_command("SET", "k", "value")
            payload = bytearray(src.execute_command("DUMP", "k"))
            payload[2] ^= 1
            with pytest.raises(redis.ResponseError, match="DUMP payload version or checksum are wrong"):
                dst.execute_command("RESTORE", "k2", 0, bytes(payload))
    finally:
        magpie.stop()
        real.stop()


# -- what Magpie refuses in Redis's files, by name ---------------------------------------------------


def refusal_line(real: ServerProcess) -> str:
    workdir = workdir_with(saved_file(real))
    with open(os.path.join(workdir, "dump.rdb"), "rb") as fh:
        original = fh.read()
    try:
        result = run_magpie_on(workdir)
        with open(os.path.join(workdir, "dump.rdb"), "rb") as fh:
            assert fh.read() == original, "the refused file was changed"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "Fatal error loading the DB" in line]
    assert len(lines) == 1 and "Traceback" not in result.stdout + result.stderr
    return lines[0]


def test_a_stream_in_redis_servers_file_is_refused_by_name():
    real = start_redis()
    try:
        c = real.client(protocol=2)
        c.set("before", "1")
        c.xadd("events", {"f": "v"})
        c.set("after", "2")
        line = refusal_line(real)
        assert "stream" in line and "(key 'events')" in line and "at offset" in line
        with pytest.raises(redis.ResponseError, match="Bad data format"):
            start_payload = raw(real).execute_command("DUMP", "events")
            magpie = start_magpie()
            try:
                magpie.client().restore("events", 0, start_payload)
            finally:
                magpie.stop()
    finally:
        real.stop()


def test_the_encoding_thresholds_and_persistence_defaults_are_redis_defaults():
    """They decide which encoding a loaded value gets (Magpie's hash-max-listpack-entries
    was 128; Redis 7.0's is 512)."""
    names = ["hash-max-listpack-entries", "hash-max-listpack-value", "zset-max-listpack-entries",
             "zset-max-listpack-value", "set-max-intset-entries", "list-max-listpack-size",
             "list-compress-depth", "rdbcompression", "rdbchecksum", "stop-writes-on-bgsave-error",
             "dbfilename"]  # fmt: skip
    magpie, real = start_magpie(), start_redis()
    try:
        ours, theirs = magpie.client(protocol=2), real.client(protocol=2)
        assert {n: ours.config_get(n)[n] for n in names} == {n: theirs.config_get(n)[n] for n in names}
    finally:
        magpie.stop()
        real.stop()
