"""Decoders for the compact blobs Redis writes inside RDB files and DUMP payloads.

A small list, hash, set or sorted set is not saved element by element: Redis saves its
in-memory encoding whole, as one RDB string. Redis 7.0 writes listpacks (hashes, sorted sets,
quicklist v2 nodes) and intsets (sets of integers); older files also hold ziplists (lists,
hashes, sorted sets, quicklist v1 nodes) and zipmaps (hashes). Each decoder here takes that
string, already read and LZF-decompressed, and returns its entries as ``bytes``: strings as
stored, integers as Redis renders them (decimal ASCII, ``b"-12"``).

The blob comes from a file or a client (RESTORE), so it is hostile until checked. Every
decoder validates as Redis's deep integrity check does (``ziplistValidateIntegrity``,
``lpValidateIntegrity``, ``intsetValidateIntegrity``, ``zipmapValidateIntegrity``) and raises
:class:`EncodingError`, and nothing else, when the blob is malformed. Claimed lengths are
checked against the bytes actually present before anything is sliced, so a hostile length
cannot make a decoder allocate more than the blob's own size, and every loop advances by at
least one byte per entry, so a decoder's time is linear in the blob's length.

The checks are Redis's, no more and no less, so that whatever Redis loads Magpie loads and
the reverse; that includes two leniencies Redis has: a listpack back-length in a
non-canonical form that still decodes to the right size, and bytes after a zipmap's first end
byte (ignored). What the entries mean (pairs for a hash, member/score for a sorted set, no
duplicate fields, no empty value) is the RDB loader's business.
"""

from __future__ import annotations

import struct
from itertools import islice
from operator import lt

__all__ = ["EncodingError", "decode_intset", "decode_listpack", "decode_ziplist", "decode_zipmap"]


class EncodingError(ValueError):
    """A compact encoding that is malformed; the message says what and at which byte."""


# The entries the 7-bit listpack encoding holds are the commonest integers: render them once.
_SMALL_INTS: tuple[bytes, ...] = tuple(b"%d" % i for i in range(128))
_U32_U16 = struct.Struct("<IH")
_U32_U32 = struct.Struct("<II")
_U32_U32_U16 = struct.Struct("<IIH")

# ---------------------------------------------------------------------------------------------
# listpack: <total-bytes u32><num-elements u16> entries... <0xFF>
# entry = <encoding+data><back-length>; the back-length encodes the size of encoding+data
# ---------------------------------------------------------------------------------------------

_LP_HEADER_SIZE = 6
_LP_NUMELE_UNKNOWN = 0xFFFF
_LP_INT_WIDTHS = {0xF1: 2, 0xF2: 3, 0xF3: 4, 0xF4: 8}


def _listpack_backlen(size: int) -> bytes:
    """The back-length Redis writes for an entry of ``size`` bytes (``lpEncodeBacklen``).

    Read from its last byte backwards, 7 bits a byte, the high bit set on every byte but the
    first one written. The size limits are Redis's own (16383 already takes three bytes).
    """
    if size <= 127:
        return bytes((size,))
    if size < 16383:
        return bytes((size >> 7, (size & 127) | 128))
    if size < 2097151:
        return bytes((size >> 14, ((size >> 7) & 127) | 128, (size & 127) | 128))
    if size < 268435455:
        return bytes(
            (size >> 21, ((size >> 14) & 127) | 128, ((size >> 7) & 127) | 128, (size & 127) | 128)
        )
    return bytes(
        (
            size >> 28,
            ((size >> 21) & 127) | 128,
            ((size >> 14) & 127) | 128,
            ((size >> 7) & 127) | 128,
            (size & 127) | 128,
        )
    )


def _backlen_decodes_to(blob: bytes, last_byte: int, size: int) -> bool:
    """Redis's own back-length check (``lpDecodeBacklen``), for when the bytes are not the
    canonical encoding: read 7 bits a byte backwards from ``last_byte`` until a byte with the
    high bit clear, at most 5 bytes, and compare. A non-canonical form can reach into the
    entry's own data (``0x00 0x81`` reads as 1); Redis accepts it, so we do."""
    value = shift = 0
    while True:
        b = blob[last_byte]
        value |= (b & 127) << shift
        if b < 128:
            return value == size
        shift += 7
        last_byte -= 1  # 5 bytes back from byte 7 or later: still inside the blob
        if shift > 28:
            return False


def decode_listpack(blob: bytes) -> list[bytes]:
    """The entries of a listpack (RDB types 16 and 17, quicklist v2 packed nodes, streams)."""
    size = len(blob)
    if size < _LP_HEADER_SIZE + 1:
        raise EncodingError(f"listpack: {size} bytes, shorter than a header and end byte")
    total, numele = _U32_U16.unpack_from(blob, 0)
    if total != size:
        raise EncodingError(f"listpack: header says {total} bytes at byte 0, blob has {size}")
    last = size - 1
    if blob[last] != 0xFF:
        raise EncodingError(f"listpack: byte {last} should be the end byte 0xFF")
    out: list[bytes] = []
    append = out.append
    from_bytes = int.from_bytes
    pos = _LP_HEADER_SIZE
    # Invariant: pos <= last, and blob[last] is 0xFF, so an entry that does not start at the
    # end byte has at least one more byte after its first: blob[pos + 1] is always readable.
    while True:
        b = blob[pos]
        if b < 0x80:  # 7-bit unsigned integer: one byte, back-length 1
            if pos + 2 > last:
                raise EncodingError(f"listpack: entry at byte {pos} (1 byte) runs past the end")
            if blob[pos + 1] != 1 and not _backlen_decodes_to(blob, pos + 1, 1):
                raise EncodingError(f"listpack: entry at byte {pos} has a bad back-length")
            append(_SMALL_INTS[b])
            pos += 2
            continue
        if b < 0xC0:  # string, 6-bit length: at most 64 bytes, so a back-length of 1
            end = pos + 1 + (b & 0x3F)
            if end >= last:
                raise EncodingError(f"listpack: entry at byte {pos} runs past the end")
            if blob[end] != end - pos and not _backlen_decodes_to(blob, end, end - pos):
                raise EncodingError(f"listpack: entry at byte {pos} has a bad back-length")
            append(blob[pos + 1 : end])
            pos = end + 1
            continue
        value: bytes | None = None
        if b < 0xE0:  # 13-bit signed integer
            n = ((b & 0x1F) << 8) | blob[pos + 1]
            value = b"%d" % (n - 8192 if n >= 4096 else n)
            enc = 2
        elif b < 0xF0:  # string, 12-bit length
            start = pos + 2
            enc = 2 + (((b & 0x0F) << 8) | blob[pos + 1])
        elif b == 0xF0:  # string, 32-bit length
            start = pos + 5
            enc = 5 + from_bytes(blob[pos + 1 : pos + 5], "little")
        elif b == 0xFF:
            break
        else:
            width = _LP_INT_WIDTHS.get(b)
            if width is None:
                raise EncodingError(f"listpack: entry at byte {pos} has unknown encoding {b:#04x}")
            # A truncated slice yields a wrong number, but the bounds check below rejects it.
            value = b"%d" % from_bytes(blob[pos + 1 : pos + 1 + width], "little", signed=True)
            enc = 1 + width
        end = pos + enc
        if enc <= 127:
            nxt = end + 1
            if nxt > last:
                raise EncodingError(
                    f"listpack: entry at byte {pos} ({enc} bytes) runs past the end"
                )
            if blob[end] != enc and not _backlen_decodes_to(blob, end, enc):
                raise EncodingError(f"listpack: entry at byte {pos} has a bad back-length")
        else:
            backlen = _listpack_backlen(enc)
            nxt = end + len(backlen)
            if nxt > last:
                raise EncodingError(
                    f"listpack: entry at byte {pos} ({enc} bytes) runs past the end"
                )
            if blob[end:nxt] != backlen and not _backlen_decodes_to(blob, nxt - 1, enc):
                raise EncodingError(f"listpack: entry at byte {pos} has a bad back-length")
        append(blob[start:end] if value is None else value)
        pos = nxt
    if pos != last:
        raise EncodingError(f"listpack: end byte at byte {pos}, expected at byte {last}")
    if numele != _LP_NUMELE_UNKNOWN and numele != len(out):
        raise EncodingError(f"listpack: header says {numele} entries, found {len(out)}")
    return out


# ---------------------------------------------------------------------------------------------
# ziplist: <total-bytes u32><tail-offset u32><num-entries u16> entries... <0xFF>
# entry = <prevlen: 1 byte, or 0xFE + u32><encoding+length><data>
# ---------------------------------------------------------------------------------------------

_ZL_HEADER_SIZE = 10
_ZL_COUNT_UNKNOWN = 0xFFFF
# 0xC0 int16, 0xD0 int32, 0xE0 int64, 0xF0 int24, 0xFE int8 (little-endian, signed);
# 0xF1..0xFD hold 0..12 in the byte itself.
_ZL_INT_WIDTHS = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}
_ZL_IMMEDIATES = {code: b"%d" % (code - 0xF1) for code in range(0xF1, 0xFE)}


def decode_ziplist(blob: bytes) -> list[bytes]:
    """The entries of a ziplist (RDB types 10, 12, 13 and quicklist v1 nodes, type 14)."""
    size = len(blob)
    if size < _ZL_HEADER_SIZE + 1:
        raise EncodingError(f"ziplist: {size} bytes, shorter than a header and end byte")
    total, tail, count = _U32_U32_U16.unpack_from(blob, 0)
    if total != size:
        raise EncodingError(f"ziplist: header says {total} bytes at byte 0, blob has {size}")
    last = size - 1
    if blob[last] != 0xFF:
        raise EncodingError(f"ziplist: byte {last} should be the end byte 0xFF")
    if tail > last:
        raise EncodingError(f"ziplist: tail offset {tail} at byte 4 is past the end")
    out: list[bytes] = []
    append = out.append
    from_bytes = int.from_bytes
    pos = _ZL_HEADER_SIZE
    prev_size = 0
    prev_start = -1
    # Invariant as for listpacks: pos <= last, and blob[last] is the end byte.
    while True:
        b = blob[pos]
        if b == 0xFF:
            break
        if b < 0xFE:
            prevlen = b
            head = pos + 1
        else:
            prevlen = from_bytes(blob[pos + 1 : pos + 5], "little")
            head = pos + 5
            if head >= last:
                raise EncodingError(f"ziplist: entry at byte {pos} runs past the end")
        if prevlen != prev_size:
            raise EncodingError(
                f"ziplist: entry at byte {pos} says the previous entry has {prevlen} bytes, "
                f"it has {prev_size}"
            )
        # head < last here, so blob[head + 1] is readable.
        e = blob[head]
        value: bytes | None = None
        if e < 0x40:
            start = head + 1
            end = start + e
        elif e < 0x80:
            start = head + 2
            end = start + (((e & 0x3F) << 8) | blob[head + 1])
        elif e < 0xC0:
            start = head + 5
            end = start + from_bytes(blob[head + 1 : head + 5], "big")
        else:
            value = _ZL_IMMEDIATES.get(e)
            if value is not None:
                end = head + 1
            else:
                width = _ZL_INT_WIDTHS.get(e)
                if width is None:
                    raise EncodingError(
                        f"ziplist: entry at byte {pos} has unknown encoding {e:#04x}"
                    )
                end = head + 1 + width
                value = b"%d" % from_bytes(blob[head + 1 : end], "little", signed=True)
        if end > last:
            raise EncodingError(f"ziplist: entry at byte {pos} runs past the end")
        append(blob[start:end] if value is None else value)
        prev_size = end - pos
        prev_start = pos
        pos = end
    if pos != last:
        raise EncodingError(f"ziplist: end byte at byte {pos}, expected at byte {last}")
    if prev_start >= 0 and prev_start != tail:
        raise EncodingError(f"ziplist: tail offset {tail} at byte 4, last entry is at {prev_start}")
    if count != _ZL_COUNT_UNKNOWN and count != len(out):
        raise EncodingError(f"ziplist: header says {count} entries, found {len(out)}")
    return out


# ---------------------------------------------------------------------------------------------
# intset: <encoding u32: 2, 4 or 8><length u32> then length signed little-endian integers
# ---------------------------------------------------------------------------------------------

_INTSET_FORMATS = {2: "h", 4: "i", 8: "q"}


def decode_intset(blob: bytes) -> list[bytes]:
    """The members of an intset (RDB type 11), ascending, rendered in decimal."""
    size = len(blob)
    if size < 8:
        raise EncodingError(f"intset: {size} bytes, shorter than its 8-byte header")
    width, count = _U32_U32.unpack_from(blob, 0)
    code = _INTSET_FORMATS.get(width)
    if code is None:
        raise EncodingError(f"intset: encoding {width} at byte 0 is not 2, 4 or 8")
    if 8 + count * width != size:
        raise EncodingError(
            f"intset: header says {count} members of {width} bytes at byte 4, blob has {size} bytes"
        )
    if count == 0:
        raise EncodingError(
            "intset: header says 0 members at byte 4; Redis never saves an empty set"
        )
    # The size check above bounds count by the blob's length.
    values = struct.unpack_from(f"<{count}{code}", blob, 8)
    if not all(map(lt, values, islice(values, 1, None))):
        for i in range(1, count):
            if values[i] <= values[i - 1]:
                raise EncodingError(
                    f"intset: member at byte {8 + i * width} is not greater than the one before"
                )
    return [b"%d" % v for v in values]


# ---------------------------------------------------------------------------------------------
# zipmap: <count u8, 254 or more = unknown> then <len>field<len><free>value<free bytes>...<0xFF>
# <len> is one byte below 254, else 0xFE (or 0xFF in a value's place) + u32 little-endian
# ---------------------------------------------------------------------------------------------

_ZIPMAP_BIGLEN = 254
_ZIPMAP_END = 0xFF


def decode_zipmap(blob: bytes) -> list[bytes]:
    """The pairs of a zipmap (RDB type 9), flattened: ``[field, value, field, value, ...]``."""
    size = len(blob)
    if size < 2:
        raise EncodingError(f"zipmap: {size} bytes, shorter than a count and end byte")
    last = size - 1
    if blob[last] != _ZIPMAP_END:
        raise EncodingError(f"zipmap: byte {last} should be the end byte 0xFF")
    out: list[bytes] = []
    append = out.append
    from_bytes = int.from_bytes
    pos = 1
    # Invariant: pos <= last; each step below keeps it so before the next byte is read.
    while blob[pos] != _ZIPMAP_END:
        entry = pos
        b = blob[pos]
        if b < _ZIPMAP_BIGLEN:
            length, pos = b, pos + 1
        else:
            length, pos = from_bytes(blob[pos + 1 : pos + 5], "little"), pos + 5
        if pos > last:
            raise EncodingError(f"zipmap: field at byte {entry} runs past the end")
        field_end = pos + length
        if field_end > last:
            raise EncodingError(f"zipmap: field at byte {entry} runs past the end")
        append(blob[pos:field_end])
        pos = field_end
        b = blob[pos]
        if b < _ZIPMAP_BIGLEN:
            length, pos = b, pos + 1
        else:
            length, pos = from_bytes(blob[pos + 1 : pos + 5], "little"), pos + 5
        if pos > last:  # the free-space byte must be there
            raise EncodingError(f"zipmap: value at byte {field_end} runs past the end")
        value_start = pos + 1
        value_end = value_start + length
        pos = value_end + blob[pos]
        if pos > last:
            raise EncodingError(f"zipmap: value at byte {field_end} runs past the end")
        append(blob[value_start:value_end])
    # Like Redis, stop at the first end byte: what follows it (if anything) is ignored.
    pairs = len(out) // 2
    if pairs == 0:
        raise EncodingError("zipmap: no pairs; Redis never saves an empty hash")
    if blob[0] != _ZIPMAP_BIGLEN and blob[0] != pairs:
        raise EncodingError(f"zipmap: count byte 0 says {blob[0]} pairs, found {pairs}")
    return out
