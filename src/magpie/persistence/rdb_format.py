"""The RDB file format's building blocks, shared by the writer, the reader, DUMP/RESTORE,
the AOF preamble and replication: opcodes, type bytes, length and string encodings, the
CRC-64 checksum and LZF compression, all as Redis 7.0 writes them.

Facts (Redis's rdb.h / rdb.c): lengths are ``00xxxxxx`` (6 bits), ``01xxxxxx yyyyyyyy``
(14 bits, big-endian), ``0x80`` + u32 BE or ``0x81`` + u64 BE; ``11xxxxxx`` marks a special
string encoding: C0/C1/C2 an int8/16/32 little-endian, C3 an LZF block (compressed length,
plain length, data). Redis tries LZF only on strings longer than 20 bytes.
"""

from __future__ import annotations

import struct

import crcmod
import lzf

RDB_VERSION = 10
#: Redis 7.0 loads every version up to its own.
MAX_READ_VERSION = 10
MAGIC = b"REDIS"

# -- opcodes -----------------------------------------------------------------------------
OP_FUNCTION2 = 245
OP_FUNCTION_PRE_GA = 246
OP_MODULE_AUX = 247
OP_IDLE = 248
OP_FREQ = 249
OP_AUX = 250
OP_RESIZEDB = 251
OP_EXPIRETIME_MS = 252
OP_EXPIRETIME = 253
OP_SELECTDB = 254
OP_EOF = 255

# -- value types -------------------------------------------------------------------------
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_MODULE_PRE_GA = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19

STREAM_TYPES = frozenset({TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2})
MODULE_TYPES = frozenset({TYPE_MODULE_PRE_GA, TYPE_MODULE_2})

# quicklist v2 node containers
QUICKLIST_NODE_PLAIN = 1
QUICKLIST_NODE_PACKED = 2

# special string encodings (the low 6 bits after the 11 marker)
ENC_INT8 = 0
ENC_INT16 = 1
ENC_INT32 = 2
ENC_LZF = 3

LZF_MIN_LENGTH = 21
#: A 3-byte LZF back-reference copies at most 264 bytes: no block expands more than ~90x.
LZF_MAX_RATIO = 100  # rdbSaveRawString: compression is tried when len > 20

_PACK_U32 = struct.Struct(">I").pack
_PACK_U64 = struct.Struct(">Q").pack
PACK_DOUBLE = struct.Struct("<d").pack
UNPACK_DOUBLE = struct.Struct("<d").unpack_from
PACK_MS = struct.Struct("<q").pack
UNPACK_MS = struct.Struct("<q").unpack_from
UNPACK_SECONDS = struct.Struct("<i").unpack_from


class RdbError(Exception):
    """A file or payload that cannot be loaded: ``reason`` says what, ``offset`` where (a
    byte offset into the file), ``key`` which key was being read when one was."""

    def __init__(self, reason: str, offset: int | None = None, key: bytes | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.key = key
        super().__init__(self.describe())

    def describe(self) -> str:
        text = self.reason
        if self.key is not None:
            text += f" (key '{self.key.decode('utf-8', 'backslashreplace')}')"
        if self.offset is not None:
            text += f" at offset {self.offset}"
        return text


# -- checksum ----------------------------------------------------------------------------

#: CRC-64/Jones as Redis computes it: reflected, init 0, no final xor.
_CRC64_POLY = 0x1AD93D23594C935A9


def new_crc64() -> crcmod.Crc:
    """An incremental CRC-64 (``update(data)``, ``crcValue``)."""
    return crcmod.Crc(_CRC64_POLY, initCrc=0, rev=True, xorOut=0)


crc64 = crcmod.mkCrcFun(_CRC64_POLY, initCrc=0, rev=True, xorOut=0)


# -- encoding ----------------------------------------------------------------------------


def encode_length(n: int) -> bytes:
    if n < 0x40:
        return bytes((n,))
    if n < 0x4000:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + _PACK_U32(n)
    return b"\x81" + _PACK_U64(n)


def _int_encoding(value: bytes) -> bytes | None:
    """The C0/C1/C2 form of a string that is a canonical integer fitting 32 bits."""
    if not value or len(value) > 11:
        return None
    first = value[0]
    if not (48 <= first <= 57 or first == 45):  # a digit or '-'
        return None
    try:
        n = int(value)
    except ValueError:
        return None
    if str(n).encode() != value:
        return None
    if -128 <= n <= 127:
        return b"\xc0" + n.to_bytes(1, "little", signed=True)
    if -32768 <= n <= 32767:
        return b"\xc1" + n.to_bytes(2, "little", signed=True)
    if -(2**31) <= n < 2**31:
        return b"\xc2" + n.to_bytes(4, "little", signed=True)
    return None


def encode_string(value: bytes, compress: bool = True) -> bytes:
    """An RDB string: int-encoded when it is a small canonical integer, LZF-compressed when
    that saves space (and ``compress``), raw otherwise."""
    n = len(value)
    if n <= 11:
        encoded = _int_encoding(value)
        if encoded is not None:
            return encoded
    elif compress and n >= LZF_MIN_LENGTH:
        packed = lzf.compress(value, n - 4)
        if packed is not None:
            return b"\xc3" + encode_length(len(packed)) + encode_length(n) + packed
    return encode_length(n) + value if n >= 0x40 else bytes((n,)) + value


def lzf_decompress(packed: bytes, length: int) -> bytes:
    """Undo LZF; raise ValueError unless exactly ``length`` bytes come out."""
    if length == 0:
        return b""
    if length > LZF_MAX_RATIO * len(packed) + 64:  # never allocate what no LZF block expands to
        raise ValueError("invalid LZF data: impossible decompressed length")
    try:
        plain = lzf.decompress(packed, length)
    except ValueError as exc:
        raise ValueError(f"invalid LZF data: {exc}") from None
    if plain is None or len(plain) != length:
        raise ValueError("invalid LZF data: wrong decompressed length")
    return plain


def format_score_text(score: float) -> bytes:
    """The old RDB_TYPE_ZSET score: a one-byte length then ASCII; 253-255 for nan/+inf/-inf."""
    if score != score:
        return b"\xfd"
    if score == float("inf"):
        return b"\xfe"
    if score == float("-inf"):
        return b"\xff"
    text = repr(score).encode()
    return bytes((len(text),)) + text
