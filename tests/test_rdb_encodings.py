"""The compact RDB encodings (ziplist, listpack, intset, zipmap) decode as Redis wrote them.

Golden blobs come from three places: a real redis-server 7.0 (``DUMP`` of values it stores
as listpacks and intsets), RDB files written by old Redis versions (``tests/assets``, for the
ziplists and zipmaps Redis 7 no longer writes), and small test-only encoders written from
the documented formats. Hostile input (every truncation, every single-bit flip, random
bytes, hostile lengths, Redis's own corrupt-payload regressions) must either decode or raise
``EncodingError``, quickly; and for the small goldens, whether a mutated blob is refused is
checked against the real server's ``RESTORE`` with deep sanitization.
"""

from __future__ import annotations

import os
import re
import struct
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis
from compact_blobs import (
    COMPACT_TYPES,
    LP_KINDS,
    PAIR_TYPES,
    RDB_HASH_LISTPACK,
    RDB_HASH_ZIPLIST,
    RDB_HASH_ZIPMAP,
    RDB_LIST_QUICKLIST,
    RDB_LIST_QUICKLIST_2,
    RDB_LIST_ZIPLIST,
    RDB_SET_INTSET,
    RDB_ZSET_LISTPACK,
    RDB_ZSET_ZIPLIST,
    ZL_KINDS,
    asset_blobs,
    dump_blobs,
    flatten,
    intset_encode,
    lp_backlen,
    lp_encode,
    restore_payload,
    ziplist_encode,
    zipmap_encode,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import redis_server_path, start_redis

from magpie.persistence.rdb_encodings import (
    EncodingError,
    decode_intset,
    decode_listpack,
    decode_ziplist,
    decode_zipmap,
)

Decoder = Callable[[bytes], list[bytes]]

# The decoder for each RDB type that holds a compact blob.
DECODERS: dict[int, Decoder] = {
    RDB_HASH_ZIPMAP: decode_zipmap,
    RDB_LIST_ZIPLIST: decode_ziplist,
    RDB_SET_INTSET: decode_intset,
    RDB_ZSET_ZIPLIST: decode_ziplist,
    RDB_HASH_ZIPLIST: decode_ziplist,
    RDB_LIST_QUICKLIST: decode_ziplist,
    RDB_HASH_LISTPACK: decode_listpack,
    RDB_ZSET_LISTPACK: decode_listpack,
    RDB_LIST_QUICKLIST_2: decode_listpack,
}


# ---------------------------------------------------------------------------------------------
# Golden values
# ---------------------------------------------------------------------------------------------

# One or more integers of every listpack width (7-bit, 13-bit, 16, 24, 32, 64) and every
# ziplist width (immediate 0..12, 8, 16, 24, 32, 64), each range's ends, negatives included.
INTEGERS = [0, 1, 5, 12, 13, 100, 127, 128, 255, 4095, -1, -12, -128, -4096, 4096, -4097]
INTEGERS += [32767, -32768, 32768, -32769, 8388607, -8388608, 8388608, -8388609]
INTEGERS += [2147483647, -2147483648, 2147483648, -2147483649, 2**63 - 1, -(2**63)]
INT_ENTRIES = [b"%d" % v for v in INTEGERS]
# Strings of 6-bit, 12/14-bit and 32-bit length, and strings that look like integers but
# are not canonical (Redis keeps them as strings).
STRING_ENTRIES = [b"", b"a", b"x" * 63, b"y" * 64, b"z" * 200, b"w" * 4095, b"v" * 4096]
STRING_ENTRIES += [b"007", b"+1", b"-0", b"1.5", b" 1", b"9223372036854775808"]
STRING_ENTRIES += [b"-9223372036854775809", b"\x00\xff\x80binary\r\n", "caf\u00e9".encode()]

HASH_PAIRS = [(b"name", b"magpie"), (b"1", b"-1"), (b"big", b"q" * 5000), (b"", b"")]
HASH_PAIRS += [(b"n%d" % i, b"%d" % v) for i, v in enumerate(INTEGERS)]
HASH_PAIRS += [(b"long" * 20, b"12x"), (b"mid", b"m" * 20000)]
HUGE_VALUE = b"h" * 2_100_000  # a back-length of 4 bytes (3 from 16383, 4 from 2097151)

ZSET_SCORES = [("h", "-inf"), ("c", "-3"), ("d", "0"), ("j", "1.5e-7"), ("f", "0.1")]
ZSET_SCORES += [("a", "1"), ("b", "2.5"), ("e", "1000000"), ("k", "123456789012")]
ZSET_SCORES += [("g", "1e20"), ("i", "inf")]
# What the listpack holds: members in score order; integral scores as integers, the rest
# as Redis's %.17g rendering.
ZSET_STORED = [b"h", b"-inf", b"c", b"-3", b"d", b"0", b"j", b"1.4999999999999999e-07"]
ZSET_STORED += [b"f", b"0.10000000000000001", b"a", b"1", b"b", b"2.5", b"e", b"1000000"]
ZSET_STORED += [b"k", b"123456789012", b"g", b"1e+20", b"i", b"inf"]

INTSETS = {
    "set16": [3, 1, 2, -5, 32767, -32768],
    "set32": [1, 70000, -70000, 2147483647, -2147483648],
    "set64": [1, 2**40, -(2**63), 2**63 - 1, -1],
}


@dataclass
class Golden:
    name: str
    rdbtype: int
    blob: bytes
    expected: list[bytes]

    @property
    def decoder(self) -> Decoder:
        return DECODERS[self.rdbtype]


@pytest.fixture(scope="module")
def real_redis() -> Iterator[redis.Redis]:
    """A redis-server of our own: its settings must not leak into other tests' servers."""
    if not redis_server_path():
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI")
        pytest.skip("redis-server is not installed")
    server = start_redis()
    client = server.client(socket_timeout=60)
    try:
        # Plain strings in DUMP (no LZF), and room for long values in hash listpacks.
        client.config_set("rdbcompression", "no")
        client.config_set("hash-max-listpack-value", 3_000_000)
        client.config_set("sanitize-dump-payload", "yes")
        client.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")
        yield client
    finally:
        client.close()
        server.stop()


@pytest.fixture(scope="module")
def redis_goldens(real_redis: redis.Redis) -> list[Golden]:
    """Blobs real Redis 7.0 wrote for values we know, each with the entries put in."""
    r = real_redis
    r.rpush("ints", *INT_ENTRIES)
    r.rpush("strings", *STRING_ENTRIES)
    r.hset("hash", mapping=dict(HASH_PAIRS))
    r.execute_command("ZADD", "zset", *[part for m, s in ZSET_SCORES for part in (s, m)])
    for key, members in INTSETS.items():
        r.sadd(key, *members)
    goldens = []
    for key, expected in (("ints", INT_ENTRIES), ("strings", STRING_ENTRIES)):
        rdbtype, blobs = dump_blobs(r, key)
        assert rdbtype == RDB_LIST_QUICKLIST_2
        start = 0
        for i, blob in enumerate(blobs):
            count = struct.unpack_from("<H", blob, 4)[0]  # the node's share of the entries
            goldens.append(Golden(f"{key}[{i}]", rdbtype, blob, expected[start : start + count]))
            start += count
        assert start == len(expected)
    rdbtype, [blob] = dump_blobs(r, "hash")
    assert (rdbtype, r.object("encoding", "hash")) == (RDB_HASH_LISTPACK, b"listpack")
    goldens.append(Golden("hash", rdbtype, blob, flatten(HASH_PAIRS)))
    rdbtype, [blob] = dump_blobs(r, "zset")
    assert rdbtype == RDB_ZSET_LISTPACK
    goldens.append(Golden("zset", rdbtype, blob, ZSET_STORED))
    for key, members in INTSETS.items():
        rdbtype, [blob] = dump_blobs(r, key)
        assert rdbtype == RDB_SET_INTSET
        goldens.append(Golden(key, rdbtype, blob, [b"%d" % v for v in sorted(members)]))
    return goldens


ZIPLIST_ENTRIES = INT_ENTRIES + STRING_ENTRIES + [b"s" * 16383, b"t" * 16384, b"0" * 31]
ZIPMAP_PAIRS = [(b"f1", b"v1"), (b"", b""), (b"k" * 253, b"v" * 254), (b"k" * 300, b"12")]


def handmade_goldens() -> list[Golden]:
    """Ziplists and zipmaps, which Redis 7 no longer writes, built from the format."""
    small = [b"a", b"1", b"bb", b"-300", b"c" * 260, b"x", b"70000"]
    zl_small, _ = ziplist_encode(small)
    zl_all, kinds = ziplist_encode(ZIPLIST_ENTRIES)
    assert kinds == ZL_KINDS
    # Entry 2's predecessor is 2 bytes, yet its prevlen keeps the 5-byte form.
    zl_wide_prevlen, _ = ziplist_encode(small, big_prevlen=frozenset({2, 6}))
    zl_unknown_count, _ = ziplist_encode(small, count=0xFFFF)
    lp_unknown_count, _ = lp_encode(small, count=0xFFFF)
    pairs = [(b"f%d" % i, b"v" * i) for i in range(10)]
    return [
        Golden("ziplist-small", RDB_LIST_ZIPLIST, zl_small, small),
        Golden("ziplist-all-widths", RDB_LIST_QUICKLIST, zl_all, ZIPLIST_ENTRIES),
        Golden("ziplist-5-byte-prevlen", RDB_LIST_ZIPLIST, zl_wide_prevlen, small),
        Golden("ziplist-unknown-count", RDB_LIST_ZIPLIST, zl_unknown_count, small),
        Golden("listpack-unknown-count", RDB_LIST_QUICKLIST_2, lp_unknown_count, small),
        Golden("zipmap-small", RDB_HASH_ZIPMAP, zipmap_encode(pairs[:3]), flatten(pairs[:3])),
        Golden(
            "zipmap-free-bytes",
            RDB_HASH_ZIPMAP,
            zipmap_encode(pairs, free={0: 3, 4: 1, 9: 4}),
            flatten(pairs),
        ),
        Golden("zipmap-long", RDB_HASH_ZIPMAP, zipmap_encode(ZIPMAP_PAIRS), flatten(ZIPMAP_PAIRS)),
    ]


# (file, key, entries) for the blobs old Redis versions wrote into tests/assets.
ASSET_GOLDENS = [
    ("encodings.rdb", b"list_zipped", [b"1", b"2", b"3", b"a", b"b", b"c", b"100000", b"6000000000"]),
    ("encodings.rdb", b"set_zipped_1", [b"1", b"2", b"3", b"4"]),
    ("encodings.rdb", b"set_zipped_2", [b"100000", b"200000", b"300000", b"400000"]),
    ("encodings.rdb", b"set_zipped_3", [b"%d000000000" % i for i in range(1, 7)]),
    ("encodings.rdb", b"hash_zipped", [b"a", b"1", b"b", b"2", b"c", b"3"]),
    ("encodings.rdb", b"zset_zipped", [b"a", b"1", b"b", b"2", b"c", b"3"]),
    ("hash-zipmap.rdb", b"hash", [b"f1", b"v1", b"f2", b"v2"]),
    ("list-quicklist.rdb", b"list", [b"7"]),
    ("zset-ziplist.rdb", b"zset", [b"one", b"1", b"two", b"2"]),
    ("hash-ziplist.rdb", b"hash", [b"f1", b"v1", b"f2", b"v2"]),
]  # fmt: skip


def asset_goldens() -> list[Golden]:
    goldens = []
    for filename, key, expected in ASSET_GOLDENS:
        rdbtype, [blob] = asset_blobs(filename, key)
        goldens.append(Golden(f"{filename}:{key.decode()}", rdbtype, blob, expected))
    return goldens


@pytest.fixture(scope="module")
def all_goldens(redis_goldens: list[Golden]) -> list[Golden]:
    return redis_goldens + handmade_goldens() + asset_goldens()


# ---------------------------------------------------------------------------------------------
# Decoding what Redis wrote
# ---------------------------------------------------------------------------------------------


def test_every_rdb_type_with_a_compact_blob_has_a_decoder():
    assert DECODERS.keys() == COMPACT_TYPES


def test_redis_listpacks_and_intsets_decode_to_the_entries_put_in(redis_goldens):
    for golden in redis_goldens:
        assert golden.decoder(golden.blob) == golden.expected, golden.name


def test_redis_listpacks_use_every_entry_encoding_and_match_the_test_encoder(redis_goldens):
    """Byte-equality with an encoder that picks widths by value proves every width is there."""
    kinds_seen: set[str] = set()
    for golden in redis_goldens:
        if golden.rdbtype == RDB_SET_INTSET:
            assert intset_encode([int(v) for v in golden.expected]) == golden.blob, golden.name
            continue
        blob, kinds = lp_encode(golden.expected)
        assert blob == golden.blob, golden.name
        kinds_seen |= kinds
    assert kinds_seen == LP_KINDS


def test_redis_intsets_come_in_all_three_widths(redis_goldens):
    widths = {g.name: g.blob[0] for g in redis_goldens if g.rdbtype == RDB_SET_INTSET}
    assert widths == {"set16": 2, "set32": 4, "set64": 8}


def test_a_multi_megabyte_listpack_value_decodes(real_redis):
    """A value of 2.1 MB has a 4-byte back-length; 20000 bytes one of 3."""
    pairs = [(b"small", b"1"), (b"huge", HUGE_VALUE), (b"mid", b"m" * 20000)]
    real_redis.hset("hash-huge", mapping=dict(pairs))
    rdbtype, [blob] = dump_blobs(real_redis, "hash-huge")
    assert rdbtype == RDB_HASH_LISTPACK
    assert decode_listpack(blob) == flatten(pairs)
    assert lp_encode(flatten(pairs))[0] == blob


def test_a_list_spread_over_several_quicklist_nodes_decodes_node_by_node(real_redis):
    entries = [b"e%d" % i for i in range(300)] + [b"x" * 5000, b"y" * 5000] + INT_ENTRIES
    real_redis.rpush("long-list", *entries)
    rdbtype, blobs = dump_blobs(real_redis, "long-list")
    assert rdbtype == RDB_LIST_QUICKLIST_2 and len(blobs) > 1
    assert [e for blob in blobs for e in decode_listpack(blob)] == entries


@pytest.mark.parametrize(("filename", "key", "expected"), ASSET_GOLDENS)
def test_blobs_written_by_old_redis_versions_decode(filename, key, expected):
    rdbtype, [blob] = asset_blobs(filename, key)
    assert DECODERS[rdbtype](blob) == expected


def test_handmade_ziplists_and_zipmaps_decode():
    for golden in handmade_goldens():
        assert golden.decoder(golden.blob) == golden.expected, golden.name


def test_an_empty_ziplist_and_an_empty_listpack_decode_to_nothing():
    """Redis skips empty quicklist nodes on load, so the decoder must accept them."""
    assert decode_ziplist(ziplist_encode([])[0]) == []
    assert decode_listpack(lp_encode([])[0]) == []


def test_zipmap_count_byte_254_means_unknown():
    pairs = [(b"%d" % i, b"v") for i in range(300)]
    blob = zipmap_encode(pairs)
    assert blob[0] == 254
    assert decode_zipmap(blob) == flatten(pairs)


def test_ziplist_and_listpack_over_65534_entries_carry_the_unknown_count():
    entries = [b"%d" % (i % 7) for i in range(70000)]
    assert decode_ziplist(ziplist_encode(entries)[0]) == entries
    assert decode_listpack(lp_encode(entries)[0]) == entries


@pytest.mark.parametrize("size", [1, 127, 128, 16382, 16383, 2097150, 2097151, 268435454])
def test_listpack_back_length_boundaries(size):
    """Redis's thresholds: 16383 already takes 3 bytes, 2097151 takes 4, 268435455 takes 5."""
    from magpie.persistence.rdb_encodings import _listpack_backlen

    assert _listpack_backlen(size) == lp_backlen(size)
    assert _listpack_backlen(size + 1) == lp_backlen(size + 1)


# ---------------------------------------------------------------------------------------------
# Malformed input
# ---------------------------------------------------------------------------------------------


def decode_or_refuse(decoder: Decoder, blob: bytes) -> list[bytes] | None:
    """The entries, or None when refused: any exception but EncodingError fails the test,
    and so does a decode slower than half a second."""
    started = time.perf_counter()
    try:
        return decoder(blob)
    except EncodingError as exc:
        assert str(exc), "an EncodingError must say what is wrong"
        return None
    finally:
        assert time.perf_counter() - started < 0.5, f"{decoder.__name__} took too long"


def positions_worth_mutating(blob: bytes) -> list[int]:
    """Every byte, except the middles of long runs of one byte value (the payloads of long
    test strings such as b"s" * 16383): there, only each run's first and last 8 bytes. It
    keeps every header, length and back-length, and the test fast on 40 kB blobs."""
    keep = []
    run_start = 0
    for pos in range(len(blob) + 1):
        if pos == len(blob) or blob[pos] != blob[run_start]:
            run = range(run_start, pos)
            keep += run if len(run) <= 16 else [*run[:8], *run[-8:]]
            run_start = pos
    return keep


def mutations(blob: bytes) -> Iterator[tuple[str, bytes]]:
    """Every truncation (and a one-byte extension) and every single-bit flip, at the
    positions worth mutating."""
    positions = positions_worth_mutating(blob)
    for cut in positions:
        yield f"cut at {cut}", blob[:cut]
    yield "one byte more", blob + b"\xff"
    for pos in positions:
        for bit in range(8):
            mutated = bytearray(blob)
            mutated[pos] ^= 1 << bit
            yield f"bit {bit} of byte {pos}", bytes(mutated)


def test_positions_worth_mutating_skip_only_the_middles_of_long_runs():
    blob = b"ab" + b"s" * 100 + b"cd"
    assert positions_worth_mutating(blob) == [0, 1, *range(2, 10), *range(94, 102), 102, 103]
    assert positions_worth_mutating(b"aabbb") == [0, 1, 2, 3, 4]


def test_every_truncation_and_bit_flip_of_every_golden_decodes_or_raises(all_goldens):
    for golden in all_goldens:
        for how, mutated in mutations(golden.blob):
            result = decode_or_refuse(golden.decoder, mutated)
            if how.startswith("cut") or (how == "one byte more" and golden.rdbtype != 9):
                assert result is None, f"{golden.name}: {how} was accepted"


def redis_refuses_for_its_own_reasons(rdbtype: int, entries: list[bytes]) -> bool:
    """The loader checks beyond the blob's encoding that RESTORE also applies: no empty key,
    pairs for hashes and sorted sets, no duplicate field or member."""
    if not entries:
        return True
    if rdbtype in PAIR_TYPES:
        fields = entries[0::2]
        return len(entries) % 2 == 1 or len(set(fields)) != len(fields)
    return False


def read_back(pipe: redis.client.Pipeline, rdbtype: int) -> None:
    """Queue the command that reads a restored value back whole."""
    if rdbtype in (RDB_LIST_ZIPLIST, RDB_LIST_QUICKLIST, RDB_LIST_QUICKLIST_2):
        pipe.lrange("restored", 0, -1)
    elif rdbtype in (RDB_HASH_ZIPMAP, RDB_HASH_ZIPLIST, RDB_HASH_LISTPACK):
        pipe.hgetall("restored")
    elif rdbtype in (RDB_ZSET_ZIPLIST, RDB_ZSET_LISTPACK):
        pipe.zrange("restored", 0, -1)  # a listpack zset is read in stored order
    else:
        pipe.smembers("restored")


def as_read_back(rdbtype: int, entries: list[bytes]) -> object:
    """What ``read_back`` returns for a value holding ``entries``."""
    if rdbtype in (RDB_HASH_ZIPMAP, RDB_HASH_ZIPLIST, RDB_HASH_LISTPACK):
        return dict(zip(entries[0::2], entries[1::2], strict=True))
    if rdbtype in (RDB_ZSET_ZIPLIST, RDB_ZSET_LISTPACK):
        return entries[0::2]
    if rdbtype == RDB_SET_INTSET:
        return set(entries)
    return entries


def test_mutated_blobs_are_refused_exactly_when_redis_refuses_them(real_redis, all_goldens):
    """Differential: RESTORE with deep sanitization (checksum skipped) is the oracle, and
    what it accepts must read back as the entries we decoded."""
    small = [g for g in all_goldens if len(g.blob) <= 700]
    assert len(small) >= 15
    disagreements = []
    verdicts = {True: 0, False: 0}
    for golden in small:
        cases = list(mutations(golden.blob))
        ours = [decode_or_refuse(golden.decoder, blob) for _, blob in cases]
        pipe = real_redis.pipeline(transaction=False)
        for _, blob in cases:
            pipe.delete("restored")
            pipe.restore("restored", 0, restore_payload(golden.rdbtype, blob))
            read_back(pipe, golden.rdbtype)
        replies = pipe.execute(raise_on_error=False)
        for i, ((how, _), entries) in enumerate(zip(cases, ours, strict=True)):
            restored, content = replies[3 * i + 1], replies[3 * i + 2]
            redis_accepts = not isinstance(restored, Exception)
            verdicts[redis_accepts] += 1
            if not redis_accepts:
                assert "Bad data format" in str(restored), restored
            we_accept = entries is not None and not redis_refuses_for_its_own_reasons(
                golden.rdbtype, entries
            )
            if we_accept != redis_accepts:
                disagreements.append(f"{golden.name}: {how}: redis {restored!r}, ours {entries!r}")
            elif we_accept and content != as_read_back(golden.rdbtype, entries):
                disagreements.append(
                    f"{golden.name}: {how}: redis has {content!r}, ours {entries!r}"
                )
    assert real_redis.ping()
    assert not disagreements, "\n".join(disagreements[:20])
    # Not vacuous: many mutations are refused, and many still load (bit flips in data).
    assert verdicts[False] > 3000 and verdicts[True] > 3000, verdicts


# Corrupt payloads from Redis's own regression suite (tests/integration/corrupt-dump.tcl in
# Redis 7.0.15), reduced to the blob; Redis refuses each for the blob's encoding.
REDIS_CORRUPT_BLOBS = [
    # #7445
    (RDB_LIST_QUICKLIST, "1d000000160000000300000443434343060442424242063f41414141ff"),
    # hash with valid zip list header, invalid entry len
    (RDB_HASH_ZIPLIST, "1b00000016000000040000026100040262000414630004026400ff"),
    # invalid zlbytes header
    (RDB_HASH_ZIPLIST, "2500000016000000040000026100040262000402630004026400ff"),
    # quicklist big ziplist prev len
    (RDB_LIST_QUICKLIST, "130000000e0000000200000261000e026200ff"),
    # quicklist small ziplist prev len
    (RDB_LIST_QUICKLIST, "130000000e00000002000002610002026200ff"),
    # quicklist ziplist wrong count
    (RDB_LIST_QUICKLIST, "130000000e00000003000002610004026200ff"),
    # #3080 - quicklist
    (RDB_LIST_QUICKLIST, "41414141414141410200008041414141"),
    # quicklist listpack entry start with EOF
    (RDB_LIST_QUICKLIST_2, "0b0000000100816102ffff"),
    # #3080 - ziplist
    (RDB_LIST_ZIPLIST, "41414141414141410200008041414141"),
    # hash empty zipmap
    (RDB_HASH_ZIPMAP, "00ff"),
    # fuzzer findings - encoded entry header reach outside the allocation
    (RDB_HASH_ZIPLIST, "1900000016000000060000f102f102f202025f31049902f3ff"),
    # fuzzer findings - zset ziplist entry lensize is 0
    (
        RDB_ZSET_ZIPLIST,
        "3d0000003a000000140000f102f102025f3104f202f302f302025f3304f402ee02f502025f3504f6"
        "02f702f702025f3704f802f902f902025f3904faff",
    ),
    # fuzzer findings - valgrind ziplist prev too big
    (RDB_LIST_QUICKLIST, "1300000010000000030000f302025f31c1f1ff"),
    # fuzzer findings - hash ziplist too long entry len
    (
        RDB_HASH_ZIPLIST,
        "3d0000003a000000141300f502f502f202535f3104f302f302f702f702f802025f3704f102f102f6"
        "02025f3504f402025f3304fa02025f3904f902f9ff",
    ),
    # fuzzer findings - zset ziplist invalid tail offset
    (RDB_ZSET_ZIPLIST, "1900000002000000060000f102f102025f3104f202f302f3ff"),
    # fuzzer findings - quicklist ziplist tail followed by extra data which start with 0xff
    (RDB_LIST_QUICKLIST, "110000000a000000010000f6ffb06c9cff"),
    # fuzzer findings - hash listpack first element too long entry len
    (RDB_HASH_LISTPACK, "150000000600f00100010101825f310302010201ff"),
    # fuzzer findings - gcc asan reports false leak on assert
    (RDB_LIST_QUICKLIST_2, "1300000010000000030000f3fe025f3104f1ff"),
    # fuzzer findings - lpFind invalid access
    (
        RDB_HASH_LISTPACK,
        "390000001400060106010301825f33030701825f370300010001040104010901825f39030501825f"
        "3503080108010101825f31030201f001ff",
    ),
]


@pytest.mark.parametrize(("rdbtype", "hexblob"), REDIS_CORRUPT_BLOBS)
def test_redis_regression_suite_corrupt_blobs_are_refused(rdbtype, hexblob):
    blob = bytes.fromhex(hexblob.replace(" ", ""))
    with pytest.raises(EncodingError):
        DECODERS[rdbtype](blob)


def refused_without_allocating(decoder: Decoder, blob: bytes) -> str:
    """The error message; the decode must not have allocated more than 1 MB on the way."""
    tracemalloc.start()
    try:
        with pytest.raises(EncodingError) as info:
            decoder(blob)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"peak allocation {peak} bytes"
    return str(info.value)


def test_an_intset_claiming_four_billion_members_is_refused_at_once():
    for count in (2**32 - 1, 2**31, 2**30 + 1):
        for width in (2, 4, 8):
            blob = struct.pack("<II", width, count) + bytes(16)
            assert "members" in refused_without_allocating(decode_intset, blob)
    # 8 + (2**30 + 1) * 4 is 12 modulo 2**32: a 32-bit size computation would accept this.
    blob = struct.pack("<IIi", 4, 2**30 + 1, 7)
    refused_without_allocating(decode_intset, blob)


def test_huge_string_lengths_are_refused_without_allocating():
    # listpack: a 32-bit string length of 4 GiB - 1
    body = b"\xf0" + (2**32 - 1).to_bytes(4, "little") + b"abc\x01"
    lp = struct.pack("<IH", 6 + len(body) + 1, 1) + body + b"\xff"
    assert "past the end" in refused_without_allocating(decode_listpack, lp)
    # ziplist: a 32-bit string length (big-endian) and a 4 GiB prevlen
    for body in (b"\x00\x80\xff\xff\xff\xffabc", b"\xfe\xff\xff\xff\xff\x01a"):
        zl = struct.pack("<IIH", 10 + len(body) + 1, 10, 1) + body + b"\xff"
        refused_without_allocating(decode_ziplist, zl)
    # zipmap: a 4 GiB field length, and a 4 GiB value length
    for blob in (b"\x01\xfe\xff\xff\xff\xffab\xff", b"\x01\x01a\xfe\xff\xff\xff\xff\x00b\xff"):
        refused_without_allocating(decode_zipmap, blob)
    # a 14-bit ziplist string and a 12-bit listpack string longer than the blob
    zl = struct.pack("<IIH", 14, 10, 1) + b"\x00\x7f\xff" + b"\xff"
    refused_without_allocating(decode_ziplist, zl)
    lp = struct.pack("<IH", 10, 1) + b"\xef\xff\x01" + b"\xff"
    refused_without_allocating(decode_listpack, lp)


@pytest.mark.parametrize(
    ("decoder", "blob", "what"),
    [
        (decode_listpack, b"", "shorter"),
        (decode_listpack, struct.pack("<IH", 8, 0) + b"\x01\xff", "past the end"),
        (decode_listpack, struct.pack("<IH", 9, 1) + b"\x01\x02\xff", "back-length"),
        (decode_listpack, struct.pack("<IH", 10, 1) + b"\x81a\x01\xff", "back-length"),
        (decode_listpack, struct.pack("<IH", 9, 2) + b"\x01\x01\xff", "2 entries, found 1"),
        (decode_listpack, struct.pack("<IH", 9, 1) + b"\xf5\x01\xff", "unknown encoding"),
        (decode_listpack, struct.pack("<IH", 9, 1) + b"\x01\x01\x00", "end byte"),
        (decode_listpack, struct.pack("<IH", 10, 1) + b"\x01\x01\xff\xff", "end byte"),
        (decode_ziplist, struct.pack("<IIH", 11, 11, 0) + b"\xff", "tail offset"),
        (decode_ziplist, struct.pack("<IIH", 13, 10, 2) + b"\x00\xf1\xff", "2 entries, found 1"),
        (decode_ziplist, struct.pack("<IIH", 13, 11, 1) + b"\x00\xf1\xff", "tail offset"),
        (decode_ziplist, struct.pack("<IIH", 13, 10, 1) + b"\x00\xc1\xff", "unknown encoding"),
        (decode_ziplist, struct.pack("<IIH", 13, 10, 1) + b"\x00\xff\xff", "unknown encoding"),
        (decode_ziplist, struct.pack("<IIH", 13, 10, 1) + b"\x01\xf1\xff", "previous entry"),
        (decode_intset, struct.pack("<IIhh", 2, 2, 5, 5), "not greater"),
        (decode_intset, struct.pack("<IIhh", 2, 2, 5, 4), "not greater"),
        (decode_intset, struct.pack("<II", 3, 0), "not 2, 4 or 8"),
        (decode_intset, struct.pack("<II", 2, 0), "0 members"),
        (decode_intset, struct.pack("<IIh", 2, 1, 1) + b"\x00", "blob has 11"),
        (decode_zipmap, b"\x02\x01a\x01\x00b\xff", "count"),
        (decode_zipmap, b"\x01\x01a\x01\x02b\xff", "past the end"),
        (decode_zipmap, b"\x01\x01a\x01\x00b\x00", "end byte"),
    ],
)
def test_each_malformation_is_named(decoder, blob, what):
    with pytest.raises(EncodingError, match=re.escape(what)):
        decoder(blob)


def test_redis_leniencies_are_kept():
    """What Redis's checks let through, we let through, so a file either server loads the
    other loads too: a zipmap's bytes after its first end byte are ignored, and a listpack
    back-length may take a non-canonical form if it reads back as the right size."""
    assert decode_zipmap(b"\x01\x01a\x01\x00b\xff\x07\xff") == [b"a", b"b"]
    # the entry 0x00 with back-length 0x81: read backwards, 0x81 then 0x00 make 1
    assert decode_listpack(struct.pack("<IH", 9, 1) + b"\x00\x81\xff") == [b"0"]
    # a 12-bit string of 200 bytes (202 with its header): canonical back-length 01 CA
    entry = b"\xe0\xc8" + b"\x00" * 199 + b"\x80"  # ends 0x80 0x81 0xca: reads 202 too
    blob = struct.pack("<IH", 6 + len(entry) + 2 + 1, 1) + entry + b"\x81\xca\xff"
    assert decode_listpack(blob) == [b"\x00" * 199 + b"\x80"]


def test_the_error_names_the_byte():
    blob, _ = lp_encode([b"abc", b"1", b"x" * 100])
    broken = bytearray(blob)
    broken[6 + 5 + 2 + 102] ^= 0x01  # the third entry's back-length
    with pytest.raises(EncodingError, match=r"at byte 13\b"):
        decode_listpack(bytes(broken))


# ---------------------------------------------------------------------------------------------
# Random input
# ---------------------------------------------------------------------------------------------

ALL_DECODERS = [decode_ziplist, decode_listpack, decode_intset, decode_zipmap]
FUZZ = settings(max_examples=400, deadline=500, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_decode_or_raise(blob):
    for decoder in ALL_DECODERS:
        decode_or_refuse(decoder, blob)


def _framed(kind: str, body: bytes, count: int) -> bytes:
    """Random entries behind a header that is right about the size, so checks go deeper."""
    if kind == "listpack":
        return struct.pack("<IH", 6 + len(body) + 1, count & 0xFFFF) + body + b"\xff"
    if kind == "ziplist":
        return struct.pack("<IIH", 10 + len(body) + 1, 10, count & 0xFFFF) + body + b"\xff"
    if kind == "intset":
        width = (2, 4, 8)[count % 3]
        return struct.pack("<II", width, len(body) // width) + body[: len(body) // width * width]
    return bytes((count & 0xFF,)) + body + b"\xff"


_FRAMED_DECODERS = {"listpack": decode_listpack, "ziplist": decode_ziplist}
_FRAMED_DECODERS |= {"intset": decode_intset, "zipmap": decode_zipmap}


@FUZZ
@given(st.sampled_from(sorted(_FRAMED_DECODERS)), st.binary(max_size=200), st.integers(0, 0xFFFF))
def test_random_entries_in_a_valid_frame_decode_or_raise(kind, body, count):
    decode_or_refuse(_FRAMED_DECODERS[kind], _framed(kind, body, count))


_entries = st.lists(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1).map(lambda v: b"%d" % v),
        st.integers(-70000, 70000).map(lambda v: b"%d" % v),
        st.binary(max_size=80),
        st.integers(60, 5000).map(lambda n: b"s" * n),
    ),
    max_size=30,
)


@FUZZ
@given(_entries)
def test_random_entries_round_trip_through_each_format(entries):
    assert decode_listpack(lp_encode(entries)[0]) == entries
    assert decode_ziplist(ziplist_encode(entries)[0]) == entries
    pairs = list(zip(entries[0::2], entries[1::2], strict=False))
    if pairs:
        assert decode_zipmap(zipmap_encode(pairs)) == flatten(pairs)


@FUZZ
@given(st.sets(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=50))
def test_random_intsets_round_trip(values):
    assert decode_intset(intset_encode(list(values))) == [b"%d" % v for v in sorted(values)]


@FUZZ
@given(_entries.filter(bool), st.sampled_from(["listpack", "ziplist"]), st.data())
def test_random_overwrites_of_a_valid_blob_decode_or_raise(entries, kind, data):
    encode, decoder = (
        (lp_encode, decode_listpack) if kind == "listpack" else (ziplist_encode, decode_ziplist)
    )
    blob = bytearray(encode(entries)[0])
    for _ in range(data.draw(st.integers(1, 4))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    decode_or_refuse(decoder, bytes(blob))


def _valid_blob(rdbtype: int, entries: list[bytes], numbers: list[int]) -> bytes:
    if rdbtype == RDB_LIST_QUICKLIST_2:
        return lp_encode(entries)[0]
    if rdbtype == RDB_LIST_QUICKLIST:
        return ziplist_encode(entries)[0]
    if rdbtype == RDB_SET_INTSET:
        return intset_encode(numbers)
    pairs = dict(zip(entries[0::2], entries[1::2], strict=False)) or {b"f": b"v"}
    return zipmap_encode(list(pairs.items()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([RDB_LIST_QUICKLIST_2, RDB_LIST_QUICKLIST, RDB_SET_INTSET, RDB_HASH_ZIPMAP]),
    _entries.filter(bool),
    st.sets(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=20).map(sorted),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=3),
)
def test_random_damage_is_refused_exactly_when_redis_refuses_it(
    real_redis, rdbtype, entries, numbers, overwrites
):
    blob = bytearray(_valid_blob(rdbtype, entries, numbers))
    for where, byte in overwrites:
        blob[where % len(blob)] = byte
    ours = decode_or_refuse(DECODERS[rdbtype], bytes(blob))
    pipe = real_redis.pipeline(transaction=False)
    pipe.delete("restored")
    pipe.restore("restored", 0, restore_payload(rdbtype, bytes(blob)))
    read_back(pipe, rdbtype)
    _, restored, content = pipe.execute(raise_on_error=False)
    redis_accepts = not isinstance(restored, Exception)
    we_accept = ours is not None and not redis_refuses_for_its_own_reasons(rdbtype, ours)
    assert we_accept == redis_accepts, (bytes(blob).hex(), restored, ours)
    if we_accept:
        assert content == as_read_back(rdbtype, ours)
