"""Writing RDB files (and the value part of DUMP payloads) that Redis 7.0 loads.

Values are written in the plain encodings every Redis since 2.x loads: strings (int- or
LZF-encoded where that is shorter), list, set, hash and the binary-score sorted set
(ZSET_2). Redis converts them to its compact encodings by its own thresholds as it loads,
exactly as Magpie does, so nothing is lost by not writing listpacks.

The writer streams: output is buffered in about a megabyte at a time and checksummed
incrementally, so a big dataset is never held twice in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import BinaryIO

from magpie.persistence.rdb_format import (
    MAGIC,
    OP_AUX,
    OP_EOF,
    OP_EXPIRETIME_MS,
    OP_FUNCTION2,
    OP_RESIZEDB,
    OP_SELECTDB,
    PACK_DOUBLE,
    PACK_MS,
    RDB_VERSION,
    TYPE_HASH,
    TYPE_LIST,
    TYPE_SET,
    TYPE_STRING,
    TYPE_ZSET_2,
    encode_length,
    encode_string,
    new_crc64,
)
from magpie.store.hashes import Hash
from magpie.store.keyspace import Keyspace
from magpie.store.lists import ListValue
from magpie.store.sets import Set
from magpie.store.zsets import ZSet

_FLUSH_AT = 1 << 20
_EXPIRE_MS = bytes((OP_EXPIRETIME_MS,))


def encode_value(value: object, compress: bool = True) -> tuple[int, bytes]:
    """The RDB type byte and the serialized value (without key or expiry)."""
    cls = value.__class__
    if cls is bytes:
        return TYPE_STRING, encode_string(value, compress)  # type: ignore[arg-type]
    parts: list[bytes] = [encode_length(len(value))]  # type: ignore[arg-type]
    add = parts.append
    if cls is Hash:
        for field, item in value.items():  # type: ignore[attr-defined]
            add(encode_string(field, compress))
            add(encode_string(item, compress))
        return TYPE_HASH, b"".join(parts)
    if cls is ZSet:
        for score, member in value.items():  # type: ignore[attr-defined]
            add(encode_string(member, compress))
            add(PACK_DOUBLE(score))
        return TYPE_ZSET_2, b"".join(parts)
    if cls is ListValue or cls is Set:
        for element in value:  # type: ignore[attr-defined]
            add(encode_string(element, compress))
        return (TYPE_LIST if cls is ListValue else TYPE_SET), b"".join(parts)
    raise TypeError(f"no RDB encoding for {cls.__name__}")


class RdbWriter:
    """Writes one RDB stream to ``out``: header, aux fields, databases, EOF and checksum."""

    def __init__(self, out: BinaryIO, *, compress: bool = True, checksum: bool = True) -> None:
        self.out = out
        self.compress = compress
        self.crc = new_crc64() if checksum else None
        self.buffer = bytearray()
        self.written = 0  # bytes handed to ``out`` so far

    def _flush(self) -> None:
        if self.buffer:
            data = bytes(self.buffer)
            if self.crc is not None:
                self.crc.update(data)
            self.out.write(data)
            self.written += len(data)
            self.buffer.clear()

    def header(self) -> None:
        self.buffer += MAGIC + b"%04d" % RDB_VERSION

    def aux(self, name: bytes, value: bytes) -> None:
        self.buffer += bytes((OP_AUX,)) + encode_string(name, False) + encode_string(value, self.compress)

    def function_library(self, code: bytes) -> None:
        """One function library (Redis 7.0 writes them after the aux fields, before the keys)."""
        self.buffer += bytes((OP_FUNCTION2,)) + encode_string(code, self.compress)

    def database(self, index: int, size: int, expires: int) -> None:
        self.buffer += (
            bytes((OP_SELECTDB,)) + encode_length(index)
            + bytes((OP_RESIZEDB,)) + encode_length(size) + encode_length(expires)
        )  # fmt: skip

    def entry(self, key: bytes, value: object, expire_ms: int | None) -> None:
        kind, payload = encode_value(value, self.compress)
        buf = self.buffer
        if expire_ms is not None:
            buf += _EXPIRE_MS + PACK_MS(expire_ms)
        buf.append(kind)
        buf += encode_string(key, False)
        buf += payload
        if len(buf) >= _FLUSH_AT:
            self._flush()

    def finish(self) -> None:
        self.buffer.append(OP_EOF)
        self._flush()
        checksum = self.crc.crcValue if self.crc is not None else 0
        self.out.write(checksum.to_bytes(8, "little"))
        self.written += 8


def write_rdb(
    out: BinaryIO,
    keyspace: Keyspace,
    aux: Iterable[tuple[bytes, bytes]] = (),
    *,
    compress: bool = True,
    checksum: bool = True,
    progress: Callable[[int], None] | None = None,
    functions: Iterable[bytes] = (),
) -> int:
    """Write the whole keyspace as one RDB file; return the number of keys written.
    ``functions``: the code of each function library, written before the keys.

    Keys already past their expiry are written too, as Redis writes them: a primary's
    loader drops them, a replica's keeps them for the primary's DEL. ``progress`` is called with the running key count every 1024 keys.
    """
    writer = RdbWriter(out, compress=compress, checksum=checksum)
    writer.header()
    for name, value in aux:
        writer.aux(name, value)
    for code in functions:
        writer.function_library(code)
    written = 0
    for db in keyspace.dbs:
        if not db.data:
            continue
        expires = db.expires
        writer.database(db.index, len(db.data), len(expires))
        entry = writer.entry
        for key, value in db.data.items():
            entry(key, value, expires.get(key) if expires else None)
            written += 1
            if progress is not None and not written & 1023:
                progress(written)
    writer.finish()
    return written
