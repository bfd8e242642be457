"""Reading RDB files (versions 1 to 10, every encoding Redis 7.0 and its ancestors wrote)
and DUMP payloads into Magpie's values.

Loading is all or nothing: the keys go into a staging keyspace (and the function
libraries' code into ``LoadStats.functions``) that the caller installs only once the
whole file, checksum included, has been read; any problem raises
``RdbError`` naming the offset and, when known, the key. A stream or module value is
refused by name rather than skipped, so a file is never half-loaded.

``RdbLoad.steps()`` is a generator that yields after every 1024 keys, so a server can keep
answering clients (with ``-LOADING``) and log progress while a big file loads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from magpie.persistence import rdb_encodings as enc
from magpie.persistence.rdb_format import (
    MAGIC,
    MAX_READ_VERSION,
    MODULE_TYPES,
    OP_AUX,
    OP_EOF,
    OP_EXPIRETIME,
    OP_EXPIRETIME_MS,
    OP_FREQ,
    OP_FUNCTION2,
    OP_FUNCTION_PRE_GA,
    OP_IDLE,
    OP_RESIZEDB,
    OP_SELECTDB,
    QUICKLIST_NODE_PACKED,
    QUICKLIST_NODE_PLAIN,
    STREAM_TYPES,
    TYPE_HASH,
    TYPE_HASH_LISTPACK,
    TYPE_HASH_ZIPLIST,
    TYPE_HASH_ZIPMAP,
    TYPE_LIST,
    TYPE_LIST_QUICKLIST,
    TYPE_LIST_QUICKLIST_2,
    TYPE_LIST_ZIPLIST,
    TYPE_SET,
    TYPE_SET_INTSET,
    TYPE_STRING,
    TYPE_ZSET,
    TYPE_ZSET_2,
    TYPE_ZSET_LISTPACK,
    TYPE_ZSET_ZIPLIST,
    UNPACK_DOUBLE,
    UNPACK_MS,
    UNPACK_SECONDS,
    RdbError,
    crc64,
    lzf_decompress,
)
from magpie.store.hashes import Hash
from magpie.store.keyspace import Keyspace
from magpie.store.lists import ListValue
from magpie.store.sets import build_set
from magpie.store.zsets import ENTRIES_LIMIT as ZSET_ENTRIES_LIMIT
from magpie.store.zsets import VALUE_LIMIT as ZSET_VALUE_LIMIT
from magpie.store.zsets import build_zset

SHORT_READ = "Short read or OOM loading DB. Unrecoverable error, aborting now."


class _Short(Exception):
    """Internal: the data ended inside an item."""


#: The decimal text of each int8 encoding, by its unsigned byte.
_SMALL_INTS = [b"%d" % (b - 256 if b > 127 else b) for b in range(256)]


class ValueReader:
    """Reads RDB items from ``data`` (bytes or an mmap) starting at ``pos``."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def take(self, n: int) -> bytes:
        pos = self.pos
        stop = pos + n
        if stop > self.end:
            raise _Short
        self.pos = stop
        return self.data[pos:stop]

    def byte(self) -> int:
        pos = self.pos
        if pos >= self.end:
            raise _Short
        self.pos = pos + 1
        return self.data[pos]

    def length_or_encoding(self) -> tuple[int, bool]:
        """A length, or (encoding, True) for the 11xxxxxx string forms."""
        first = self.byte()
        kind = first >> 6
        if kind == 0:
            return first, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return first & 0x3F, True
        if first == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if first == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise ValueError(f"unknown length encoding 0x{first:02x}")

    def length(self) -> int:
        n, encoded = self.length_or_encoding()
        if encoded:
            raise ValueError("a length was expected, a string encoding found")
        return n

    def string(self) -> bytes:
        """An RDB string. Strings under 64 bytes (most keys and small values) take the
        first branch: this is the loader's hottest function."""
        data, pos = self.data, self.pos
        if pos < self.end:
            first = data[pos]
            if first < 0x40:
                stop = pos + 1 + first
                if stop <= self.end:
                    self.pos = stop
                    return data[pos + 1 : stop]
            elif first == 0xC0 and pos + 2 <= self.end:  # an int8
                self.pos = pos + 2
                return _SMALL_INTS[data[pos + 1]]
            elif first == 0xC3:  # LZF with both lengths under 64 bytes (small values)
                packed_len, plain_len = data[pos + 1 : pos + 3] if pos + 3 <= self.end else (255, 255)
                stop = pos + 3 + packed_len
                if packed_len < 0x40 and plain_len < 0x40 and stop <= self.end:
                    self.pos = stop
                    return lzf_decompress(data[pos + 3 : stop], plain_len)
        return self._encoded_string()

    def _encoded_string(self) -> bytes:
        n, encoded = self.length_or_encoding()
        if not encoded:
            return self.take(n)
        if n == 0:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if n == 1:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if n == 2:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if n == 3:
            packed_len = self.length()
            plain_len = self.length()
            return lzf_decompress(self.take(packed_len), plain_len)
        raise ValueError(f"unknown string encoding {n}")

    def binary_double(self) -> float:
        return UNPACK_DOUBLE(self.take(8))[0]

    def text_double(self) -> float:
        n = self.byte()
        if n == 253:
            return math.nan
        if n == 254:
            return math.inf
        if n == 255:
            return -math.inf
        try:
            return float(self.take(n))
        except ValueError:
            raise ValueError("invalid zset score") from None


def _pairs(items: list[bytes], what: str) -> list[tuple[bytes, bytes]]:
    if len(items) % 2:
        raise ValueError(f"{what} with an odd number of entries")
    return list(zip(items[::2], items[1::2], strict=True))


def _score(raw: bytes) -> float:
    try:
        score = float(raw)
    except ValueError:
        raise ValueError("invalid zset score") from None
    return score


class ValueBuilder:
    """Turns the decoded parts of a value into Magpie's value, with the encoding flags the
    configuration gives a value built that way (as Redis converts while loading)."""

    def __init__(self, config: dict) -> None:
        self.config = config

    def list(self, elements: list[bytes]) -> ListValue:
        return ListValue(elements)

    def set(self, members: list[bytes]) -> object:
        value = build_set(members, self.config["set-max-intset-entries"])
        if len(value) != len(members):
            raise ValueError("Duplicate set members detected")
        return value

    def zset(self, pairs: list[tuple[bytes, float]], lengths: bool = True) -> object:
        """``lengths=False`` for a set that was saved compact (listpack, ziplist): Redis keeps
        it compact unless it has too many members, however long they are (rdbLoadObject
        checks only the count there, as scanning every member would cost O(n))."""
        for _, score in pairs:
            if score != score:
                raise ValueError("Zset with NAN score detected")
        config = self.config
        if not lengths:
            config = {ZSET_ENTRIES_LIMIT: config[ZSET_ENTRIES_LIMIT], ZSET_VALUE_LIMIT: math.inf}
        value = build_zset(pairs, config)
        if len(value) != len(pairs):
            raise ValueError("Duplicate zset fields detected")
        return value

    def hash(self, items: list[bytes], lengths: bool = True) -> Hash:
        """A hash from its fields and values, flattened (``[f1, v1, f2, v2, ...]``).
        ``lengths=False`` for a hash saved as a listpack or ziplist: only the field count
        converts it, as in Redis (see ``zset``)."""
        if len(items) % 2:
            raise ValueError("hash with an odd number of entries")
        value = Hash(zip(items[::2], items[1::2], strict=True))
        if 2 * len(value) != len(items):
            raise ValueError("Duplicate hash fields detected")
        value.convert_if_needed(self.config, max(map(len, items), default=0) if lengths else 0)
        return value


def read_value(reader: ValueReader, kind: int, build: ValueBuilder) -> object:
    """One value of RDB type ``kind``; ValueError (or _Short) if it is malformed."""
    if kind == TYPE_STRING:
        return reader.string()
    if kind == TYPE_LIST or kind == TYPE_SET:
        string = reader.string
        items = [string() for _ in _counted(reader)]
        return build.list(items) if kind == TYPE_LIST else build.set(items)
    if kind == TYPE_ZSET_2 or kind == TYPE_ZSET:
        score = reader.binary_double if kind == TYPE_ZSET_2 else reader.text_double
        pairs = []
        for _ in _counted(reader):
            member = reader.string()
            pairs.append((member, score()))
        return build.zset(pairs)
    if kind == TYPE_HASH:
        string = reader.string
        return build.hash([string() for _ in range(2 * len(_counted(reader)))])
    if kind == TYPE_LIST_QUICKLIST or kind == TYPE_LIST_QUICKLIST_2:
        elements: list[bytes] = []
        for _ in _counted(reader):
            container = QUICKLIST_NODE_PACKED
            if kind == TYPE_LIST_QUICKLIST_2:
                container = reader.length()
                if container not in (QUICKLIST_NODE_PLAIN, QUICKLIST_NODE_PACKED):
                    raise ValueError(f"Quicklist integrity check failed: container {container}")
            blob = reader.string()
            if not blob:
                raise ValueError("Quicklist integrity check failed: empty node")
            if container == QUICKLIST_NODE_PLAIN:
                elements.append(blob)
                continue
            # a node that decodes to no entries is skipped, as Redis skips it; a list left
            # with none at all is an empty key
            elements += enc.decode_ziplist(blob) if kind == TYPE_LIST_QUICKLIST else enc.decode_listpack(blob)
        return build.list(elements)
    if kind in _BLOB_TYPES:
        decode, shape = _BLOB_TYPES[kind]
        items = decode(reader.string())
        if shape == "list":
            return build.list(items)
        if shape == "set":
            return build.set(items)
        if shape == "zset":
            return build.zset([(m, _score(s)) for m, s in _pairs(items, "zset")], lengths=False)
        # a zipmap converts on its longest entry too (rdbLoadObject measures it anyway)
        return build.hash(items, lengths=kind == TYPE_HASH_ZIPMAP)
    if kind in STREAM_TYPES:
        raise ValueError("the value is a stream, which Magpie cannot load yet")
    if kind in MODULE_TYPES:
        raise ValueError("the value is a module type, which Magpie cannot load")
    raise ValueError(f"Unknown RDB encoding type {kind}")


_BLOB_TYPES = {
    TYPE_HASH_ZIPMAP: (enc.decode_zipmap, "hash"),
    TYPE_LIST_ZIPLIST: (enc.decode_ziplist, "list"),
    TYPE_SET_INTSET: (enc.decode_intset, "set"),
    TYPE_ZSET_ZIPLIST: (enc.decode_ziplist, "zset"),
    TYPE_HASH_ZIPLIST: (enc.decode_ziplist, "hash"),
    TYPE_HASH_LISTPACK: (enc.decode_listpack, "hash"),
    TYPE_ZSET_LISTPACK: (enc.decode_listpack, "zset"),
}


def _leading_number(text: bytes) -> int:
    """The header's version as Redis's ``atoi`` reads it: the leading digits, 0 if none."""
    match = _ATOI.match(text)
    return int(match.group(1)) if match else 0


_ATOI = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)")


def _counted(reader: ValueReader) -> range:
    """The element count of a collection. Every element takes at least one byte, so a count
    beyond the bytes left is cut to one more than them: the loop still ends in a short read,
    and where that read fails is reported, as Redis reports it (not where the count was)."""
    pos = reader.pos
    if pos < reader.end and reader.data[pos] < 0x40:  # the usual one-byte count
        n = reader.data[pos]
        reader.pos = pos + 1
    else:
        n = reader.length()
    return range(min(n, reader.end - reader.pos + 1))


def read_function_record(reader: ValueReader, kind: int) -> bytes:
    """A function library's code after its opcode (Redis's rdbFunctionLoad): FUNCTION2 is
    the code itself; the 7.0 release candidates' FUNCTION wrote the name, engine and an
    optional description apart, and the code gets the shebang they stand for. ValueError
    with Redis's texts."""

    def read_field(what: str, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except (_Short, ValueError):
            raise ValueError(f"Failed loading {what}") from None

    if kind == OP_FUNCTION2:
        return read_field("library payload", reader.string)  # type: ignore[no-any-return]
    name = read_field("library name", reader.string)
    engine = read_field("engine name", reader.string)
    if read_field("library description indicator", reader.length):
        read_field("library description", reader.string)
    blob = read_field("library blob", reader.string)
    return b"#!%s name=%s\n%s" % (engine, name, blob)


def is_empty(value: object) -> bool:
    return value.__class__ is not bytes and not value  # type: ignore[truthy-function]


@dataclass
class LoadStats:
    version: int = 0
    keys_loaded: int = 0
    keys_expired: int = 0
    empty_skipped: int = 0
    #: Every aux field in file order (``magpie-`` ones carry the search indexes).
    aux: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: The code of each function library, in file order (the loader's caller loads them).
    functions: list[bytes] = field(default_factory=list)


class RdbLoad:
    """One load of an RDB image into ``staging``; drive it with ``steps()`` or ``run()``.

    ``now_ms`` is the clock keys are expired against (``None`` keeps expired keys, as a
    replica does). ``base`` is added to offsets in messages (an RDB inside an AOF).
    """

    def __init__(
        self,
        data: bytes,
        staging: Keyspace,
        config: dict,
        *,
        now_ms: int | None = None,
        base: int = 0,
        allow_trailing: bool = False,
    ) -> None:
        self.reader = ValueReader(data)
        self.data = data
        self.staging = staging
        self.build = ValueBuilder(config)
        self.now_ms = now_ms
        self.base = base
        self.allow_trailing = allow_trailing
        self.stats = LoadStats()
        #: Where the image ended (after the checksum), once loaded.
        self.end = 0

    @property
    def position(self) -> int:
        return self.reader.pos

    def run(self) -> LoadStats:
        for _ in self.steps():
            pass
        return self.stats

    def steps(self) -> Iterator[int]:
        try:
            yield from self._steps()
        except _Short:
            raise RdbError(SHORT_READ, self.base + self.reader.pos, self.failed_key()) from None
        except ValueError as exc:
            raise RdbError(str(exc), self.base + self._item_start, self.failed_key()) from None

    _item_start = 0

    def failed_key(self) -> bytes | None:
        """The key of the entry that failed, when it is one and its key could be read: read
        again from the entry's start, so the loop keeps no per-key state for errors."""
        start = self._item_start
        if start < 9 or start >= len(self.data) or self.data[start] >= OP_FUNCTION2:
            return None  # the header or an opcode: no key
        try:
            return ValueReader(self.data, start + 1, self.reader.end).string()
        except (_Short, ValueError):
            return None  # the key itself is cut short or damaged

    def _steps(self) -> Iterator[int]:
        r = self.reader
        stats = self.stats
        head = r.take(9)
        if head[:5] != MAGIC:
            raise ValueError("Wrong signature trying to load DB from file")
        version = _leading_number(head[5:])
        if not 1 <= version <= MAX_READ_VERSION:
            raise ValueError(f"Can't handle RDB format version {version}")
        stats.version = version
        dbs = self.staging.dbs
        db = dbs[0]
        expire_ms: int | None = None
        now_ms = self.now_ms
        build = self.build
        loaded = 0
        data = db.data
        string, byte = r.string, r.byte
        while True:
            self._item_start = r.pos
            kind = byte()
            if kind < OP_FUNCTION2:  # a key and its value
                key = string()
                value = string() if kind == 0 else read_value(r, kind, build)
                when, expire_ms = expire_ms, None
                if key in data:
                    raise ValueError("Duplicated key found in RDB file")
                if value.__class__ is not bytes and not value:  # an empty collection
                    stats.empty_skipped += 1
                elif when is not None and now_ms is not None and when < now_ms:
                    stats.keys_expired += 1
                else:
                    data[key] = value
                    if when is not None:
                        db.set_expire(key, when)
                    loaded += 1
                    if not loaded & 1023:
                        stats.keys_loaded = loaded
                        yield r.pos
                continue
            if kind == OP_EOF:
                break
            if kind == OP_EXPIRETIME_MS:
                expire_ms = UNPACK_MS(r.take(8))[0]
            elif kind == OP_EXPIRETIME:
                expire_ms = UNPACK_SECONDS(r.take(4))[0] * 1000
            elif kind == OP_SELECTDB:
                index = r.length()
                if index >= len(dbs):
                    raise ValueError(f"FATAL: Data file was created with a Redis server configured to handle more than {len(dbs)} databases. Exiting")
                db = dbs[index]
                data = db.data
            elif kind == OP_RESIZEDB:
                r.length(), r.length()
            elif kind == OP_AUX:
                name = r.string()
                stats.aux.append((name, r.string()))
            elif kind == OP_IDLE:
                r.length()
            elif kind == OP_FREQ:
                r.byte()
            elif kind in (OP_FUNCTION2, OP_FUNCTION_PRE_GA):
                stats.functions.append(read_function_record(r, kind))
            else:  # OP_MODULE_AUX, the last opcode
                raise ValueError("the file holds module data, which Magpie cannot load")
        stats.keys_loaded = loaded
        self._check_sum(version)
        yield r.pos

    def _check_sum(self, version: int) -> None:
        r = self.reader
        body_end = r.pos
        if version >= 5:
            stored = int.from_bytes(r.take(8), "little")
            # zero: saved with rdbchecksum no; and a server with rdbchecksum no checks nothing
            if stored and self.build.config.get("rdbchecksum", True):
                computed = crc64(memoryview(self.data)[:body_end])
                if computed != stored:
                    self._item_start = body_end
                    raise ValueError(f"Wrong RDB checksum expected: ({computed:x}) but got ({stored:x}). Aborting now.")
        self.end = r.pos
        if r.pos != len(self.data) and not self.allow_trailing:
            self._item_start = r.pos
            raise ValueError("unexpected data after the end of the RDB file")
