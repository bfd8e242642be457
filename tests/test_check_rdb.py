"""magpie-check-rdb (magpie.tools.check_rdb) against redis-check-rdb: the same lines for a
good file from redis-server and for that file cut at every offset or with its checksum
broken, and the errors where Magpie's loader is stricter (a stream, a duplicated key)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from servers import redis_server_path, start_magpie, start_redis

from magpie.persistence.rdb_format import MAGIC, OP_EOF, TYPE_STRING, crc64, encode_string
from magpie.tools.check_rdb import check_file

CHECK_RDB = shutil.which("redis-check-rdb")
needs_redis = pytest.mark.skipif(redis_server_path() is None or CHECK_RDB is None,
                                 reason="redis-server and redis-check-rdb are needed")  # fmt: skip


def ours(path: str) -> tuple[int, list[str]]:
    result = subprocess.run([sys.executable, "-m", "magpie.tools.check_rdb", path],
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    return result.returncode, result.stdout.splitlines()


def ours_in_process(path: str) -> tuple[int, list[str]]:
    lines: list[str] = []
    report = check_file(path, out=lines.append)
    return (0 if report.ok else 1), lines


def theirs(path: str) -> tuple[int, list[str]]:
    result = subprocess.run([CHECK_RDB, path], capture_output=True, text=True, timeout=30)
    return result.returncode, result.stdout.splitlines()


@pytest.fixture(scope="module")
def redis_file(tmp_path_factory):
    """A dump.rdb from redis-server with every type, compact and not, LZF and int strings."""
    server = start_redis()
    try:
        c = server.client(protocol=2)
        c.set("s", "hello")
        c.set("n", 12345)
        c.set("lzf", "abc" * 100)
        c.set("ttl", "v", px=10**9)
        c.rpush("list", *range(20))
        c.sadd("ints", 1, 2, 3)
        c.sadd("strs", "a", "b", "c")
        c.hset("h", mapping={"a": "1", "b": "2"})
        c.hset("bigh", mapping={f"f{i}": "x" * 70 for i in range(3)})
        c.zadd("z", {"a": 1, "b": 2.5})
        c.zadd("bigz", {f"m{i}": i for i in range(130)})
        c.execute_command("SELECT", 2)
        c.set("db2", "x")
        c.save()
        path = str(tmp_path_factory.mktemp("check") / "dump.rdb")
        shutil.copy(os.path.join(server.workdir, "dump.rdb"), path)
    finally:
        server.stop()
    return path


@needs_redis
def test_a_good_file_reads_as_redis_check_rdb_reads_it(redis_file):
    code, lines = ours(redis_file)
    assert (code, lines) == theirs(redis_file)
    assert code == 0 and "\\o/ RDB looks OK! \\o/" in lines[-4] and lines[-3] == "[info] 12 keys read"
    report = check_file(redis_file, out=lambda line: None)
    assert report.ok and report.types[16] == 1 and report.types[18] == 1 and report.types[11] == 1


@needs_redis
def test_every_truncation_is_reported_at_redis_check_rdbs_offset(redis_file, tmp_path):
    with open(redis_file, "rb") as fh:
        data = fh.read()
    cut = str(tmp_path / "cut.rdb")
    for size in [*range(100), *range(100, len(data), max(1, len(data) // 250))]:
        with open(cut, "wb") as fh:
            fh.write(data[:size])
        code, lines = ours_in_process(cut)
        assert code == 1 and (code, lines) == theirs(cut), f"cut at {size}"


@needs_redis
def test_a_broken_checksum_is_a_crc_error(redis_file, tmp_path):
    with open(redis_file, "rb") as fh:
        data = bytearray(fh.read())
    data[-1] ^= 0x40
    path = str(tmp_path / "crc.rdb")
    with open(path, "wb") as fh:
        fh.write(data)
    code, lines = ours(path)
    assert (code, lines) == theirs(path)
    assert "--- RDB ERROR DETECTED ---" in lines and any("RDB CRC error" in line for line in lines)


def craft(body: bytes) -> bytes:
    data = MAGIC + b"0010" + body + bytes((OP_EOF,))
    return data + crc64(data).to_bytes(8, "little")


def test_errors_name_the_offset_and_the_key(tmp_path):
    entry = bytes((TYPE_STRING,)) + encode_string(b"k") + encode_string(b"v")
    path = str(tmp_path / "dup.rdb")
    with open(path, "wb") as fh:
        fh.write(craft(entry + entry))
    code, lines = ours(path)
    assert code == 1
    assert lines[1:] == [
        "--- RDB ERROR DETECTED ---",
        f"[offset {9 + 2 * len(entry)}] Duplicated key found in RDB file",
        "[additional info] While doing: read-object-value",
        "[additional info] Reading key 'k'",
        "[additional info] Reading type 0 (string)",
        "[info] 2 keys read", "[info] 0 expires", "[info] 0 already expired",
    ]  # fmt: skip


@needs_redis
def test_a_stream_is_reported_by_key(tmp_path):
    server = start_redis()
    try:
        c = server.client(protocol=2)
        c.set("a", "1")
        c.xadd("events", {"f": "v"})
        c.save()
        code, lines = ours(os.path.join(server.workdir, "dump.rdb"))
    finally:
        server.stop()
    assert code == 1
    assert "[additional info] Reading key 'events'" in lines
    assert any("stream" in line for line in lines if line.startswith("[offset"))


def test_magpies_own_file_checks_ok_and_the_entry_point_is_installed():
    server = start_magpie()
    try:
        c = server.client(protocol=2)
        c.set("k", "v", px=10**9)
        c.hset("h", "f", "v")
        c.save()
        path = os.path.join(server.workdir, "dump.rdb")
        code, lines = ours(path)
        assert code == 0 and lines[-3:] == ["[info] 2 keys read", "[info] 1 expires", "[info] 0 already expired"]
        script = shutil.which("magpie-check-rdb", path=os.path.dirname(sys.executable))
        assert script is not None, "pip install -e . to get the magpie-check-rdb script"
        assert subprocess.run([script, path], capture_output=True, timeout=30).returncode == 0
    finally:
        server.stop()


def test_usage_and_a_missing_file(tmp_path):
    result = subprocess.run([sys.executable, "-m", "magpie.tools.check_rdb"], capture_output=True, text=True)
    assert result.returncode == 1 and "Usage: magpie-check-rdb <rdb-file-name>" in result.stderr
    code, lines = ours(str(tmp_path / "missing.rdb"))
    assert code == 1
