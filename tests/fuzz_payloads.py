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


def restore_payload_for(rng: random.Random, payloads: list[bytes] | None = None) -> bytes:
    """A payload for RESTORE: as DUMP made it (30%), damaged behind a good checksum (55%),
    with a damaged checksum (10%), or claiming RDB version 11 (5%)."""
    payload = rng.choice(payloads or PAYLOADS)
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


# -- function libraries (FUNCTION LOAD, FUNCTION RESTORE, FCALL) --------------------------------------

#: Libraries whose functions do a bounded amount of work: no loop, no function that names
#: another, so neither a load nor an FCALL can run long, even with a byte of a RESTORE
#: payload damaged (FUNCTION RESTORE runs library code without a timeout, as in Redis).
FUNCTION_LIBRARIES = [
    b"#!lua name=fuzzlib\n"
    b"redis.register_function{function_name='fz_get', callback=function(keys, args)\n"
    b"  return redis.pcall('get', keys[1] or 'str:plain') end, flags={'no-writes'}}\n"
    b"redis.register_function('fz_set', function(keys, args)\n"
    b"  return redis.pcall('set', keys[1] or 'new:1', args[1] or 'v') end)\n"
    b"redis.register_function('fz_incr', function(keys, args) return redis.pcall('incr', keys[1] or 'new:2') end)\n"
    b"redis.register_function('fz_echo', function(keys, args) return {keys, args, 1.5, true, false} end)\n"
    b"redis.register_function('fz_run', function(keys, args) return redis.pcall(unpack(args)) end)\n",
    b"#!lua name=fuzzlib2\n"
    b"redis.register_function{function_name='fz_error', callback=function() return redis.error_reply('FUZZ oops') end,"
    b" flags={'allow-oom', 'allow-stale'}, description='an error reply'}\n"
    b"redis.register_function('fz_raise', function(keys, args) error('raised ' .. tostring(args[1])) end)\n"
    b"redis.register_function('fz_resp3', function(keys, args) redis.setresp(3)\n"
    b"  return redis.pcall('hgetall', keys[1] or 'hash:small') end)\n",
]
#: Libraries FUNCTION LOAD refuses, each for another reason.
BROKEN_LIBRARIES = [
    b"#!lua name=fuzzbad\nredis.register_function('x', function() return 1 end",  # syntax
    b"redis.register_function('x', function() end)",  # no shebang
    b"#!lua name=fuzz-bad\nredis.register_function('x', function() end)",
    b"#!lua name=fuzzbad\nlocal a = 1",  # registers nothing
    b"#!lua name=fuzzbad\nredis.register_function('x', function() end)\nredis.register_function('x', function() end)",
    b"#!lua name=fuzzbad\nredis.register_function{function_name='x', callback=function() end, flags={'nope'}}",
    b"#!lua name=fuzzbad\nredis.call('set', 'k', 'v')",
    b"#!js name=fuzzbad\nfunction() {}",
]
FUNCTION_NAMES = [b"fz_get", b"fz_set", b"fz_incr", b"fz_echo", b"fz_run", b"fz_error", b"fz_raise",
                  b"fz_resp3", b"FZ_GET", b"missing_fn"]  # fmt: skip
LIBRARY_NAMES = [b"fuzzlib", b"fuzzlib2", b"FUZZLIB", b"nolib"]


def _function_payloads() -> list[bytes]:
    from magpie.persistence.rdb_format import OP_FUNCTION2, encode_string

    records = [bytes((OP_FUNCTION2,)) + encode_string(code) for code in FUNCTION_LIBRARIES]
    return [_sealed(records[0]), _sealed(records[1]), _sealed(b"".join(records)), _sealed(b"")]


FUNCTION_PAYLOADS = _function_payloads()


def function_code_for(rng: random.Random, generated: bytes) -> bytes:
    """FUNCTION LOAD's code: a good library (40%), a broken one (40%), or what the grammar
    made (random text: almost always not even a shebang)."""
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(FUNCTION_LIBRARIES)
    if roll < 0.8:
        return rng.choice(BROKEN_LIBRARIES)
    return generated


def function_payload_for(rng: random.Random) -> bytes:
    """FUNCTION RESTORE's payload: a real one, often damaged behind a good checksum."""
    return restore_payload_for(rng, FUNCTION_PAYLOADS)
