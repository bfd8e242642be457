"""DUMP payloads for the command fuzzer's RESTORE: real ones of every type and encoding
(Magpie's plain encodings and Redis's compact blobs: listpack, intset, quicklist, ziplist,
zipmap), often damaged behind a recomputed checksum so the value loader itself is fuzzed,
now and then with a wrong checksum or a newer RDB version. All from the caller's rng."""

from __future__ import annotations

import random

from compact_blobs import intset_encode, lp_encode, restore_payload, ziplist_encode, zipmap_encode
from rdb_helpers import make_hash, make_set, make_zset

from magpie.persistence.dump_payload import dump_value
from magpie.persistence.rdb_format import crc64
from magpie.store.lists import ListValue

_ENTRIES = [b"a", b"1", b"-7", b"", b"x" * 70, b"12345678901", b"f", b"v2"]


def _sealed(body: bytes, version: int = 10) -> bytes:
    body += version.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def _payloads() -> list[bytes]:
    plain = [dump_value(v) for v in (
        b"plain", b"12345", b"abc" * 50, ListValue([b"a", b"b", b"1"]), make_set([b"1", b"2"]),
        make_set([b"a", b"b"]), make_hash([(b"f", b"v"), (b"n", b"1")]), make_zset([(b"m", 1.5), (b"n", -2.0)]),
    )]  # fmt: skip
    blobs = [
        (16, lp_encode([b"f", b"v", b"n", b"1"])[0]),  # hash listpack
        (17, lp_encode([b"m", b"1.5", b"n", b"2"])[0]),  # zset listpack
        (18, lp_encode(_ENTRIES)[0]),  # quicklist v2, one packed node
        (11, intset_encode([1, 2, 70000])),
        (10, ziplist_encode(_ENTRIES)[0]),  # list ziplist
        (12, ziplist_encode([b"m", b"1", b"n", b"2.5"])[0]),  # zset ziplist
        (13, ziplist_encode([b"f", b"v", b"g", b"12"])[0]),  # hash ziplist
        (14, ziplist_encode(_ENTRIES)[0]),  # quicklist v1
        (9, zipmap_encode([(b"f", b"v"), (b"g", b"w")])),
    ]
    compact = [_sealed(restore_payload(kind, blob)[:-10]) for kind, blob in blobs]
    return plain + compact


PAYLOADS = _payloads()


def restore_payload_for(rng: random.Random) -> bytes:
    """A payload for RESTORE: as DUMP made it (30%), damaged behind a good checksum (55%),
    with a damaged checksum (10%), or claiming RDB version 11 (5%)."""
    payload = rng.choice(PAYLOADS)
    roll = rng.random()
    if roll < 0.3:
        return payload
    body = bytearray(payload[:-10])
    if roll < 0.85:
        for _ in range(rng.choice((1, 1, 2, 4))):
            action = rng.random()
            if action < 0.6 and body:
                body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
            elif action < 0.8 and len(body) > 1:
                del body[rng.randrange(1, len(body)):]
            else:
                body.insert(rng.randrange(len(body) + 1), rng.randrange(256))
        return _sealed(bytes(body))
    if roll < 0.95:
        damaged = bytearray(payload)
        damaged[-1 - rng.randrange(8)] ^= 1 << rng.randrange(8)
        return bytes(damaged)
    return _sealed(bytes(body), version=11)
