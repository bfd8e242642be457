"""Test-only readers and writers for Redis's compact encodings and the RDB strings around them.

The readers take a blob out of a DUMP payload or an RDB file; the writers build ziplists,
listpacks, zipmaps and intsets from the documented formats, choosing each entry's encoding
as Redis does (so their output is byte-equal to what Redis writes, which the tests check).
They are deliberately independent of ``magpie.persistence``: they are what it is tested
against.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import redis

ASSETS = Path(__file__).parent / "assets"

# RDB object types whose value is a compact blob (or, for quicklists, a list of them).
RDB_HASH_ZIPMAP, RDB_LIST_ZIPLIST, RDB_SET_INTSET = 9, 10, 11
RDB_ZSET_ZIPLIST, RDB_HASH_ZIPLIST, RDB_LIST_QUICKLIST = 12, 13, 14
RDB_HASH_LISTPACK, RDB_ZSET_LISTPACK, RDB_LIST_QUICKLIST_2 = 16, 17, 18
COMPACT_TYPES = {RDB_HASH_ZIPMAP, RDB_LIST_ZIPLIST, RDB_SET_INTSET, RDB_ZSET_ZIPLIST}
COMPACT_TYPES |= {RDB_HASH_ZIPLIST, RDB_LIST_QUICKLIST, RDB_HASH_LISTPACK, RDB_ZSET_LISTPACK}
COMPACT_TYPES |= {RDB_LIST_QUICKLIST_2}
# Types whose entries are field/value (hash) or member/score (zset) pairs.
PAIR_TYPES = {RDB_HASH_ZIPMAP, RDB_ZSET_ZIPLIST, RDB_HASH_ZIPLIST}
PAIR_TYPES |= {RDB_HASH_LISTPACK, RDB_ZSET_LISTPACK}

# ---------------------------------------------------------------------------------------------
# Reading RDB strings (test-only): enough to take a blob out of a DUMP payload or an RDB file
# ---------------------------------------------------------------------------------------------


def read_rdb_length(data: bytes, pos: int) -> tuple[int, bool, int]:
    """(value, is_special_encoding, next position) of the RDB length at ``pos``."""
    first = data[pos]
    kind = first >> 6
    if kind == 0:
        return first & 0x3F, False, pos + 1
    if kind == 1:
        return ((first & 0x3F) << 8) | data[pos + 1], False, pos + 2
    if kind == 3:
        return first & 0x3F, True, pos + 1
    if first == 0x80:
        return int.from_bytes(data[pos + 1 : pos + 5], "big"), False, pos + 5
    assert first == 0x81, f"bad RDB length byte {first:#04x}"
    return int.from_bytes(data[pos + 1 : pos + 9], "big"), False, pos + 9


def read_rdb_string(data: bytes, pos: int) -> tuple[bytes, int]:
    length, special, pos = read_rdb_length(data, pos)
    if special:
        # C0/C1/C2 are integers; C3 (LZF) never appears: the server runs with rdbcompression
        # off and the fixture files' blobs are stored plain.
        assert length in (0, 1, 2), "LZF-compressed string: not expected here"
        width = 1 << length
        value = int.from_bytes(data[pos : pos + width], "little", signed=True)
        return b"%d" % value, pos + width
    assert pos + length <= len(data), "RDB string runs past the data"
    return data[pos : pos + length], pos + length


def rdb_length(n: int) -> bytes:
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    return b"\x80" + n.to_bytes(4, "big")


def rdb_string(data: bytes) -> bytes:
    return rdb_length(len(data)) + data


def read_object_blobs(rdbtype: int, data: bytes, pos: int) -> list[bytes]:
    """The compact blobs of one RDB object value starting at ``pos``.

    A quicklist is a node count, then per node (v2 only) a container kind, then a string.
    """
    if rdbtype in (RDB_LIST_QUICKLIST, RDB_LIST_QUICKLIST_2):
        nodes, _, pos = read_rdb_length(data, pos)
        blobs = []
        for _ in range(nodes):
            if rdbtype == RDB_LIST_QUICKLIST_2:
                container, _, pos = read_rdb_length(data, pos)
                assert container == 2, "expected packed (listpack) quicklist nodes only"
            blob, pos = read_rdb_string(data, pos)
            blobs.append(blob)
        return blobs
    blob, _ = read_rdb_string(data, pos)
    return [blob]


def dump_blobs(client: redis.Redis, key: str) -> tuple[int, list[bytes]]:
    """DUMP ``key`` and take its blobs out: type byte, RDB value, 2-byte version, 8-byte CRC."""
    payload = client.dump(key)
    assert payload is not None
    assert int.from_bytes(payload[-10:-8], "little") == 10  # Redis 7.0 writes RDB version 10
    return payload[0], read_object_blobs(payload[0], payload[:-10], 1)


def restore_payload(rdbtype: int, blob: bytes) -> bytes:
    """A DUMP payload holding ``blob`` as the one node / whole value (CRC left zero)."""
    if rdbtype == RDB_LIST_QUICKLIST_2:
        value = rdb_length(1) + rdb_length(2) + rdb_string(blob)
    elif rdbtype == RDB_LIST_QUICKLIST:
        value = rdb_length(1) + rdb_string(blob)
    else:
        value = rdb_string(blob)
    return bytes((rdbtype,)) + value + b"\x0a\x00" + bytes(8)


def asset_blobs(filename: str, key: bytes) -> tuple[int, list[bytes]]:
    """Find ``key`` in an RDB fixture by a plain scan for <type><key length><key>."""
    data = (ASSETS / filename).read_bytes()
    needle = bytes((len(key),)) + key
    for match in re.finditer(re.escape(needle), data):
        rdbtype = data[match.start() - 1]
        if rdbtype in COMPACT_TYPES:
            return rdbtype, read_object_blobs(rdbtype, data, match.end())
    raise AssertionError(f"{key!r} with a compact encoding not found in {filename}")


# ---------------------------------------------------------------------------------------------
# Test-only encoders, written from the formats (they choose encodings as Redis does)
# ---------------------------------------------------------------------------------------------

_CANONICAL_INT = re.compile(rb"0|-?[1-9][0-9]*")


def redis_int(entry: bytes, max_len: int = 20) -> int | None:
    """The integer Redis would store ``entry`` as (string2ll: no '+', no leading zeros)."""
    if len(entry) > max_len or not _CANONICAL_INT.fullmatch(entry):
        return None
    value = int(entry)
    return value if -(2**63) <= value < 2**63 else None


def lp_backlen(size: int) -> bytes:
    """Written forward: the high 7-bit group first (high bit clear), the rest with it set."""
    if size <= 127:
        return bytes((size,))
    nbytes = 2 if size < 16383 else 3 if size < 2097151 else 4 if size < 268435455 else 5
    groups = [(size >> (7 * i)) & 127 for i in range(nbytes)]
    return bytes([groups[-1]] + [g | 128 for g in reversed(groups[:-1])])


def fits(value: int, width: int) -> bool:
    """Whether ``value`` fits a signed integer of ``width`` bytes."""
    return -(1 << (8 * width - 1)) <= value < 1 << (8 * width - 1)


LP_INT_CODES = (("int16", 0xF1, 2), ("int24", 0xF2, 3), ("int32", 0xF3, 4), ("int64", 0xF4, 8))
ZL_INT_CODES = (("int8", 0xFE, 1), ("int16", 0xC0, 2), ("int24", 0xF0, 3), ("int32", 0xD0, 4))
ZL_INT_CODES += (("int64", 0xE0, 8),)


def lp_entry(entry: bytes) -> tuple[str, bytes]:
    """(encoding name, encoded entry with back-length) as lpAppend writes it."""
    value = redis_int(entry)
    if value is None:
        n = len(entry)
        if n < 64:
            kind, enc = "str6", bytes((0x80 | n,)) + entry
        elif n < 4096:
            kind, enc = "str12", bytes((0xE0 | (n >> 8), n & 0xFF)) + entry
        else:
            kind, enc = "str32", b"\xf0" + n.to_bytes(4, "little") + entry
    elif 0 <= value <= 127:
        kind, enc = "uint7", bytes((value,))
    elif -4096 <= value <= 4095:
        u = value & 0x1FFF
        kind, enc = "int13", bytes((0xC0 | (u >> 8), u & 0xFF))
    else:
        kind, code, width = next(c for c in LP_INT_CODES if fits(value, c[2]))
        enc = bytes((code,)) + value.to_bytes(width, "little", signed=True)
    return kind, enc + lp_backlen(len(enc))


LP_KINDS = {"uint7", "int13", "int16", "int24", "int32", "int64", "str6", "str12", "str32"}


def lp_encode(entries: list[bytes], count: int | None = None) -> tuple[bytes, set[str]]:
    """A listpack and the set of entry encodings it used."""
    kinds, body = set(), bytearray()
    for entry in entries:
        kind, enc = lp_entry(entry)
        kinds.add(kind)
        body += enc
    numele = min(len(entries), 0xFFFF) if count is None else count
    return struct.pack("<IH", 6 + len(body) + 1, numele) + body + b"\xff", kinds


def zl_entry_body(entry: bytes) -> tuple[str, bytes]:
    """(encoding name, encoding + data) as ziplistPush writes it (ints only below 32 bytes)."""
    value = redis_int(entry, max_len=31)
    if value is None:
        n = len(entry)
        if n <= 0x3F:
            return "str6", bytes((n,)) + entry
        if n <= 0x3FFF:
            return "str14", bytes((0x40 | (n >> 8), n & 0xFF)) + entry
        return "str32", b"\x80" + n.to_bytes(4, "big") + entry
    if 0 <= value <= 12:
        return "imm", bytes((0xF1 + value,))
    kind, code, width = next(c for c in ZL_INT_CODES if fits(value, c[2]))
    return kind, bytes((code,)) + value.to_bytes(width, "little", signed=True)


ZL_KINDS = {"imm", "int8", "int16", "int24", "int32", "int64", "str6", "str14", "str32"}


def ziplist_encode(
    entries: list[bytes], *, big_prevlen: frozenset[int] = frozenset(), count: int | None = None
) -> tuple[bytes, set[str]]:
    """A ziplist; entries in ``big_prevlen`` keep a 5-byte prevlen even for a small previous
    entry, as a ziplist does after a cascade update shrinks its neighbour."""
    kinds, body, prev_size, tail = set(), bytearray(), 0, 10
    for i, entry in enumerate(entries):
        if prev_size < 254 and i not in big_prevlen:
            prevlen = bytes((prev_size,))
        else:
            prevlen = b"\xfe" + prev_size.to_bytes(4, "little")
        kind, enc = zl_entry_body(entry)
        kinds.add(kind)
        tail = 10 + len(body)
        body += prevlen + enc
        prev_size = len(prevlen) + len(enc)
    zllen = min(len(entries), 0xFFFF) if count is None else count
    return struct.pack("<IIH", 10 + len(body) + 1, tail, zllen) + body + b"\xff", kinds


def zipmap_encode(pairs: list[tuple[bytes, bytes]], free: dict[int, int] | None = None) -> bytes:
    """A zipmap; ``free`` gives pair index -> unused bytes left after that value."""

    def length(n: int) -> bytes:
        return bytes((n,)) if n < 254 else b"\xfe" + n.to_bytes(4, "little")

    out = bytearray((min(len(pairs), 254),))
    for i, (field, value) in enumerate(pairs):
        spare = (free or {}).get(i, 0)
        out += length(len(field)) + field + length(len(value)) + bytes((spare,))
        out += value + b"\x00" * spare
    return bytes(out + b"\xff")


def intset_encode(values: list[int]) -> bytes:
    values = sorted(values)
    width, code = next(
        c for c in ((2, "h"), (4, "i"), (8, "q")) if all(fits(v, c[0]) for v in values)
    )
    return struct.pack(f"<II{len(values)}{code}", width, len(values), *values)


def flatten(pairs: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [item for pair in pairs for item in pair]
