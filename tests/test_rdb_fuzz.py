"""Truncated and bit-flipped RDB files, and damaged DUMP payloads, fed to the loader.

The files are real: one Magpie wrote (every type and size class, TTLs, several databases,
LZF and integer strings), one redis-server wrote (listpacks, intsets, quicklists) when it
is installed, and the old-format fixtures. Each damaged file goes through the server's own
load path (``Snapshots.load_bytes``) onto a server holding other data. It must be refused
with RdbError and leave that data untouched, or, for a flip the format cannot notice (the
checksum zeroed, a byte inside a value), load whole with every invariant holding. Any other
exception, or a load taking more than a second, fails. Seeded (``MAGPIE_RDB_FUZZ_SEED``)
and bounded in time (``MAGPIE_RDB_FUZZ_SECONDS``, about 12 s in all by default).
"""

from __future__ import annotations

import gc
import os
import random
import shutil
import time

import pytest
from rdb_helpers import FUTURE_MS, build_dataset, keyspace_contents, rdb_bytes, size_classes
from servers import redis_server_path, start_redis

from magpie.config import Config
from magpie.persistence.dump_payload import BAD_DATA, dump_value, load_value
from magpie.persistence.rdb_format import RdbError, crc64
from magpie.server.server import Server
from magpie.store.invariants import check_keyspace
from magpie.store.keyspace import Keyspace

SEED = int(os.environ.get("MAGPIE_RDB_FUZZ_SEED", 20260312))
SECONDS = float(os.environ.get("MAGPIE_RDB_FUZZ_SECONDS", 10.0))  # in all, shared by the tests below
SLOW = 1.0
ASSETS = os.path.join(os.path.dirname(__file__), "assets")


def magpie_file() -> bytes:
    keyspace = Keyspace(16)
    for i, (name, (value, _)) in enumerate(size_classes().items()):
        db = keyspace.dbs[i % 3 * 7]
        db.data[name.encode()] = value
        if i % 4 == 0:
            db.set_expire(name.encode(), FUTURE_MS + i)
    return rdb_bytes(keyspace, [(b"redis-ver", b"7.0.15"), (b"ctime", b"1700000000")])


@pytest.fixture(scope="module")
def base_files():
    files = {"magpie": magpie_file()}
    if redis_server_path():
        real = start_redis()
        try:
            build_dataset(real.client(protocol=2), is_redis=True)
            real.client().save()
            with open(os.path.join(real.workdir, "dump.rdb"), "rb") as fh:
                files["redis"] = fh.read()
        finally:
            real.stop()
    for name in ("encodings.rdb", "hash-zipmap.rdb", "list-quicklist.rdb", "zset-ziplist.rdb"):
        with open(os.path.join(ASSETS, name), "rb") as fh:
            files[name] = fh.read()
    yield files
    gc.unfreeze()  # every load freezes what it loaded, as a server does


SENTINEL = {(0, b"sentinel"): ("string", b"held before the load", None)}


class Loader:
    """One in-process server whose dataset every load replaces (or must leave alone)."""

    def __init__(self) -> None:
        self.server = Server(Config())
        self.loads = self.refused = 0

    def reset(self) -> None:
        self.server.keyspace.flush_all()
        self.server.keyspace.dbs[0].data[b"sentinel"] = b"held before the load"

    def load(self, data: bytes, what: str) -> bool:
        """True if ``data`` loaded; asserts the all-or-nothing and no-other-exception rules."""
        self.reset()
        started = time.monotonic()
        try:
            for _ in self.server.snapshots.load_bytes(data):
                pass
        except RdbError as exc:
            assert exc.offset is not None and 0 <= exc.offset <= len(data), f"{what}: {exc}"
            assert keyspace_contents(self.server.keyspace) == SENTINEL, f"{what}: half-loaded after {exc}"
            self.refused += 1
            return False
        except Exception as exc:  # noqa: BLE001 - the failure this test exists for
            raise AssertionError(f"{what}: {type(exc).__name__}: {exc} (seed {SEED})") from exc
        finally:
            elapsed = time.monotonic() - started
            assert elapsed < SLOW, f"{what}: the load took {elapsed:.1f} s"
        assert (0, b"sentinel") not in keyspace_contents(self.server.keyspace), f"{what}: merged, not replaced"
        check_keyspace(self.server.keyspace)
        self.loads += 1
        return True


def with_zero_checksum(data: bytes) -> bytes:
    return data[:-8] + bytes(8) if data[5:9] >= b"0005" else data


def test_the_base_files_load(base_files):
    loader = Loader()
    for name, data in base_files.items():
        assert loader.load(data, name), name
        assert loader.load(with_zero_checksum(data), name), name


def cut_points(rng: random.Random, size: int) -> list[int]:
    points = list(range(min(size, 64)))  # the header and the first aux fields, every byte
    points += rng.sample(range(64, size), min(size - 64, 400)) if size > 64 else []
    return points


def test_every_truncation_is_refused(base_files):
    rng = random.Random(SEED)
    loader = Loader()
    for name, data in base_files.items():
        deadline = time.monotonic() + 0.15 * SECONDS / len(base_files)
        for size in cut_points(rng, len(data)):
            assert not loader.load(data[:size], f"{name} cut at {size}")
            if time.monotonic() > deadline:
                break
    assert loader.refused > 100 and loader.loads == 0


def flipped(data: bytes, position: int, bit: int) -> bytes:
    damaged = bytearray(data)
    damaged[position] ^= 1 << bit
    return bytes(damaged)


def test_every_bit_flip_under_a_checksum_is_refused(base_files):
    """CRC-64 catches every single-bit error; a flip in the header is a bad magic or version."""
    rng = random.Random(SEED + 1)
    loader = Loader()
    for name, data in base_files.items():
        if data[5:9] < b"0005":
            continue  # no checksum before RDB 5
        deadline = time.monotonic() + 0.2 * SECONDS / len(base_files)
        while time.monotonic() < deadline:
            position, bit = rng.randrange(len(data)), rng.randrange(8)
            assert not loader.load(flipped(data, position, bit), f"{name} bit {bit} of byte {position}")
    assert loader.refused > 100 and loader.loads == 0


def test_bit_flips_without_a_checksum_are_refused_or_load_whole(base_files):
    rng = random.Random(SEED + 2)
    loader = Loader()
    for name, data in base_files.items():
        data = with_zero_checksum(data)
        deadline = time.monotonic() + 0.45 * SECONDS / len(base_files)
        while time.monotonic() < deadline:
            damaged = bytearray(data)
            for _ in range(rng.choice((1, 1, 2, 8))):
                damaged[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            loader.load(bytes(damaged), f"{name} damaged (seed {SEED + 2})")
    print(f"damaged files: {loader.refused} refused, {loader.loads} loaded")
    assert loader.refused > 50 and loader.loads > 10  # both outcomes were exercised


def test_damaged_dump_payloads_are_bad_data_or_a_whole_value():
    """RESTORE's path: a damaged value behind a valid footer (the checksum recomputed)."""
    rng = random.Random(SEED + 3)
    config = Config().values
    payloads = [dump_value(value) for value, _ in size_classes().values()]
    deadline = time.monotonic() + 0.2 * SECONDS
    refused = restored = 0
    while time.monotonic() < deadline:
        body = bytearray(rng.choice(payloads)[:-10])
        if rng.random() < 0.3:
            del body[rng.randrange(1, len(body) + 1):]
        else:
            for _ in range(rng.choice((1, 2, 5))):
                body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
        body += (10).to_bytes(2, "little")
        payload = bytes(body) + crc64(bytes(body)).to_bytes(8, "little")
        try:
            value = load_value(payload, config)
        except ValueError as exc:
            assert str(exc) == BAD_DATA
            refused += 1
            continue
        keyspace = Keyspace(1)
        keyspace.dbs[0].data[b"k"] = value
        check_keyspace(keyspace)
        restored += 1
    assert refused > 50 and restored > 10


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_the_fuzz_used_a_file_from_redis_server(base_files):
    assert "redis" in base_files
