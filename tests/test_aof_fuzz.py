"""The AOF loader against truncated and bit-flipped files, in process (no sockets).

Every damaged copy must end one of two ways: refused with an AofLoadError that names a
byte offset, the server's keyspace untouched (empty); or loaded, which a torn tail allows
when aof-load-truncated is yes (then only whole commands from before the cut count), and a
flip inside a value or key allows too (an AOF has no checksum). Never another exception, a
traceback in the log or a hang. Seeded, with a bounded count and time.
"""

from __future__ import annotations

import logging
import os
import random
import time

import pytest

from magpie.commands import load_all
from magpie.config import Config
from magpie.persistence.aof_format import CommandScanner, encode_commands
from magpie.persistence.aof_loader import AofLoadError, load_sync
from magpie.persistence.aof_manifest import AofFile, Manifest, read_manifest, write_manifest
from magpie.persistence.aof_rewrite import write_base
from magpie.server.server import Server
from magpie.store.clock import CLOCK

load_all()

SEED = 20261203
CASES = 400
TIME_BUDGET = 20.0  # seconds for all cases together
PER_CASE_LIMIT = 2.0


def fresh_server() -> Server:
    return Server(Config())


def random_commands(rng: random.Random, count: int) -> list[list[bytes]]:
    commands: list[list[bytes]] = [[b"SELECT", b"0"]]
    far = b"%d" % (CLOCK.update() + 3_600_000)
    for i in range(count):
        key = b"k%d" % rng.randrange(40)
        kind = rng.randrange(9)
        if kind == 0:
            commands.append([b"SET", b"s" + key, b"v%d" % i])
        elif kind == 1:
            commands.append([b"RPUSH", b"l" + key, b"a%d" % i, b"b"])
        elif kind == 2:
            commands.append([b"SADD", b"t" + key, b"m%d" % rng.randrange(10)])
        elif kind == 3:
            commands.append([b"HSET", b"h" + key, b"f%d" % rng.randrange(5), b"x" * rng.randrange(30)])
        elif kind == 4:
            commands.append([b"ZADD", b"z" + key, b"%d.5" % rng.randrange(100), b"m%d" % i])
        elif kind == 5:
            commands.append([b"INCRBY", b"n" + key, b"%d" % rng.randrange(-5, 50)])
        elif kind == 6:
            commands.append([b"PEXPIREAT", b"s" + key, far])
        elif kind == 7:
            commands += [[b"MULTI"], [b"SET", b"tx" + key, b"1"], [b"INCR", b"tx" + key], [b"EXEC"]]
        else:
            commands += [[b"SELECT", b"1"], [b"SET", key, b"db1"], [b"SELECT", b"0"]]
    return commands


def build_dir(path: str, rng: random.Random) -> None:
    """A base RDB (from a replayed dataset) and two incremental files."""
    os.makedirs(path)
    seed_server = fresh_server()
    manifest = Manifest()
    manifest.new_base("appendonly.aof", True)
    base_cmds = encode_commands(random_commands(rng, 60))
    with open(os.path.join(path, "appendonly.aof.0.seed.aof"), "wb") as fh:
        fh.write(base_cmds)
    seed_manifest = Manifest()
    seed_manifest.incrs.append(AofFile("appendonly.aof.0.seed.aof", 1, "i"))
    load_sync(seed_server, path, seed_manifest)
    os.unlink(os.path.join(path, "appendonly.aof.0.seed.aof"))
    write_base(os.path.join(path, manifest.base.name), seed_server.keyspace,  # type: ignore[union-attr]
               seed_server.snapshots.aux_fields(), preamble=True)  # fmt: skip
    for _ in range(2):
        name = manifest.new_incr("appendonly.aof")
        with open(os.path.join(path, name), "wb") as fh:
            fh.write(encode_commands(random_commands(rng, 80)))
    write_manifest(path, "appendonly.aof", manifest)


def keys_of(server: Server) -> dict[int, set[bytes]]:
    return {db.index: set(db.data) for db in server.keyspace.dbs if db.data}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    rng = random.Random(SEED)
    root = str(tmp_path_factory.mktemp("aof-fuzz"))
    path = os.path.join(root, "pristine")
    build_dir(path, rng)
    manifest = read_manifest(os.path.join(path, "appendonly.aof.manifest"))
    server = fresh_server()
    load_sync(server, path, manifest)
    ever = set()
    for db_keys in keys_of(server).values():
        ever |= db_keys
    return root, path, manifest, ever


def copy_dir(src: str, dst: str) -> None:
    os.makedirs(dst)
    for name in os.listdir(src):
        with open(os.path.join(src, name), "rb") as fh, open(os.path.join(dst, name), "wb") as out:
            out.write(fh.read())


def whole_commands_before(data: bytes, cut: int) -> int:
    """Commands that end at or before ``cut``, a transaction counting only with its EXEC."""
    count = pending = 0
    in_multi = False
    scanner = CommandScanner(data[:cut])
    try:
        for _, argv in scanner:
            word = argv[0].lower()
            if word == b"multi":
                in_multi, pending = True, 1
            elif in_multi:
                pending += 1
                if word == b"exec":
                    count, in_multi, pending = count + pending, False, 0
            else:
                count += 1
    except Exception:  # noqa: BLE001 - the torn command itself
        pass
    return count


def test_damaged_files_are_refused_cleanly_or_loaded_with_only_whole_commands(pristine, caplog):
    root, path, manifest, _ever = pristine
    rng = random.Random(SEED + 1)
    files = [f.name for f in manifest.live_files()]
    started = time.monotonic()
    outcomes = {"refused": 0, "loaded": 0, "truncated": 0}
    caplog.set_level(logging.INFO, logger="magpie")
    for case in range(CASES):
        if time.monotonic() - started > TIME_BUDGET:
            break
        target = rng.choice(files)
        work = os.path.join(root, f"case{case}")
        copy_dir(path, work)
        victim = os.path.join(work, target)
        with open(victim, "rb") as fh:
            data = bytearray(fh.read())
        truncate_only = rng.random() < 0.5
        if truncate_only:
            cut = rng.randrange(len(data))
            del data[cut:]
        else:
            for _ in range(rng.choice([1, 1, 2, 3])):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        with open(victim, "wb") as fh:
            fh.write(data)
        server = fresh_server()
        caplog.clear()
        t0 = time.monotonic()
        try:
            load = load_sync(server, work, manifest.copy(), truncated_ok=True)
        except AofLoadError as exc:
            outcomes["refused"] += 1
            text = " ".join(exc.lines)
            assert "offset" in text or "length" in text, text
            assert not keys_of(server), f"case {case}: refused but keys were loaded ({text})"
        else:
            outcomes["loaded"] += 1
            if load.truncated is not None:
                outcomes["truncated"] += 1
                name, offset = load.truncated
                assert name == target and name == files[-1], (name, target)
                assert os.path.getsize(victim) == offset
                if truncate_only:
                    assert offset <= len(data)
                    # only the whole commands before the cut ran
                    with open(os.path.join(path, target), "rb") as fh:
                        original = fh.read()
                    assert whole_commands_before(original, len(data)) == whole_commands_before(original, offset)
        finally:
            CLOCK.update()
        assert time.monotonic() - t0 < PER_CASE_LIMIT, f"case {case} took too long"
        tracebacks = [r for r in caplog.records if r.exc_info]
        assert not tracebacks, f"case {case}: {tracebacks[0].getMessage()}"
    assert outcomes["refused"] > 10 and outcomes["loaded"] > 10 and outcomes["truncated"] > 5, outcomes


def test_a_torn_tail_with_aof_load_truncated_no_is_refused_and_nothing_loaded(pristine, tmp_path):
    _root, path, manifest, _ever = pristine
    work = str(tmp_path / "torn")
    copy_dir(path, work)
    last = os.path.join(work, manifest.incrs[-1].name)
    size = os.path.getsize(last)
    os.truncate(last, size - 3)
    server = fresh_server()
    with pytest.raises(AofLoadError) as info:
        load_sync(server, work, manifest.copy(), truncated_ok=False)
    assert "aof-load-truncated" in info.value.lines[0]
    assert not keys_of(server)
    assert os.path.getsize(last) == size - 3  # not truncated when refused


def test_a_torn_file_that_is_not_the_last_is_refused(pristine, tmp_path):
    _root, path, manifest, _ever = pristine
    work = str(tmp_path / "torn-middle")
    copy_dir(path, work)
    first_incr = os.path.join(work, manifest.incrs[0].name)
    os.truncate(first_incr, os.path.getsize(first_incr) - 5)
    server = fresh_server()
    with pytest.raises(AofLoadError) as info:
        load_sync(server, work, manifest.copy(), truncated_ok=True)
    assert "not the last file" in " ".join(info.value.lines)
    assert not keys_of(server)
