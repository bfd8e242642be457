"""Generic key commands: DEL, EXISTS, TYPE, RENAME, COPY, MOVE, KEYS, SCAN, OBJECT, ..."""

from __future__ import annotations

import itertools
import random
from functools import partial

from magpie import errors
from magpie.commands.args import parse_int, parse_int32
from magpie.commands.table import command, container
from magpie.errors import CommandError
from magpie.patterns import compile_pattern
from magpie.protocol.replies import OK
from magpie.store.access import LfuCounters
from magpie.store.memory import entry_size
from magpie.store.scan import ScanCursors
from magpie.store.types import copy_value, encoding_of, type_name

cmd = partial(command, "generic")
SCANS = ScanCursors()


@cmd("del", -2, "write", (1, -1, 1), summary="Deletes one or more keys.")
def del_(client, args):
    db = client.db
    return sum(1 for key in args[1:] if db.delete(key))


@cmd("unlink", -2, "write fast", (1, -1, 1), since="4.0.0", summary="Asynchronously deletes one or more keys.")
def unlink(client, args):
    db = client.db
    return sum(1 for key in args[1:] if db.delete(key))


@cmd("exists", -2, "readonly fast", (1, -1, 1), key_access="-", summary="Determines whether one or more keys exist.")
def exists(client, args):
    db = client.db
    return sum(1 for key in args[1:] if db.lookup_read(key) is not None)


@cmd("touch", -2, "readonly fast", (1, -1, 1), key_access="-", since="3.2.1", summary="Returns the number of existing keys out of those specified after updating the time they were last accessed.")
def touch(client, args):
    db = client.db
    return sum(1 for key in args[1:] if db.lookup_read(key) is not None)


@cmd("type", 2, "readonly fast", (1, 1, 1), key_access="-", summary="Determines the type of value stored at a key.")
def type_(client, args):
    value = client.db.lookup_read(args[1])
    return "none" if value is None else type_name(value)


def _rename(client, args, nx: bool):
    db, src, dst = client.db, args[1], args[2]
    value = db.lookup(src)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else OK
    if nx and db.exists(dst):
        return 0
    when = db.get_expire(src)
    db.pop(src)
    db.pop(dst)
    db.set(dst, value, None)
    if when is not None:  # before the signals: listeners (memory accounting) see the TTL
        db.set_expire(dst, when)
    db.changed(src, "rename_from")
    db.changed(dst, "rename_to")
    return 1 if nx else OK


@cmd("rename", 3, "write", (1, 2, 1), key_access="RW W", summary="Renames a key and overwrites the destination.")
def rename(client, args):
    return _rename(client, args, False)


@cmd("renamenx", 3, "write fast", (1, 2, 1), key_access="RW W", summary="Renames a key only when the target key name doesn't exist.")
def renamenx(client, args):
    return _rename(client, args, True)


def parse_db_index(client, raw: bytes) -> int:
    index = parse_int32(raw)
    if index < 0 or index >= len(client.server.keyspace):
        raise CommandError(errors.DB_OUT_OF_RANGE)
    return index


@cmd("copy", -3, "write denyoom", (1, 2, 1), key_access="R W", since="6.2.0", summary="Copies the value of a key to a new key.")
def copy(client, args):
    src_db = client.db
    dst_db = src_db
    replace = False
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and i + 1 < len(args):
            dst_db = client.server.keyspace[parse_db_index(client, args[i + 1])]
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    src, dst = args[1], args[2]
    if src_db is dst_db and src == dst:
        raise CommandError(errors.SAME_OBJECT)
    value = src_db.lookup(src)
    if value is None:
        return 0
    if dst_db.lookup(dst) is not None:
        if not replace:
            return 0
        dst_db.pop(dst)
    when = src_db.get_expire(src)
    dst_db.set(dst, copy_value(value), None)
    if when is not None:  # before the signal: listeners (memory accounting) see the TTL
        dst_db.set_expire(dst, when)
    dst_db.changed(dst, "copy_to")
    return 1


@cmd("move", 3, "write fast", (1, 1, 1), key_access="RW", summary="Moves a key to another database.")
def move(client, args):
    src_db = client.db
    index = parse_db_index(client, args[2])
    dst_db = client.server.keyspace[index]
    if dst_db is src_db:
        raise CommandError(errors.SAME_OBJECT)
    key = args[1]
    value = src_db.lookup(key)
    if value is None or dst_db.lookup(key) is not None:
        return 0
    when = src_db.get_expire(key)
    src_db.pop(key)
    dst_db.set(key, value, None)
    if when is not None:  # before the signals: listeners (memory accounting) see the TTL
        dst_db.set_expire(key, when)
    src_db.changed(key, "move_from")
    dst_db.changed(key, "move_to")
    return 1


@cmd("swapdb", 3, "write fast", acl="@dangerous", since="4.0.0", summary="Swaps two Redis databases.")
def swapdb(client, args):
    a = parse_int32(args[1], "ERR invalid first DB index")
    b = parse_int32(args[2], "ERR invalid second DB index")
    count = len(client.server.keyspace)
    if not (0 <= a < count and 0 <= b < count):
        raise CommandError(errors.DB_OUT_OF_RANGE)
    if a != b:
        client.server.keyspace.swap(a, b)
    return OK


@cmd("dbsize", 1, "readonly fast", summary="Returns the number of keys in the database.")
def dbsize(client, args):
    return len(client.db)


def _flush_mode(args) -> None:
    if len(args) > 2 or (len(args) == 2 and args[1].lower() not in (b"async", b"sync")):
        raise CommandError(errors.SYNTAX)


@cmd("flushdb", -1, "write", acl="@dangerous", summary="Remove all keys from the current database.")
def flushdb(client, args):
    _flush_mode(args)
    client.server.keyspace.flush_db(client.db.index)
    return OK


@cmd("flushall", -1, "write", acl="@dangerous", summary="Removes all keys from all databases.")
def flushall(client, args):
    _flush_mode(args)
    removed = client.server.keyspace.flush_all()
    client.server.keyspace.signals.dirty += 0 if removed else 1
    client.server.snapshots.reset_after_flushall()
    return OK


@cmd("randomkey", 1, "readonly", summary="Returns a random key name from the database.")
def randomkey(client, args):
    db = client.db
    for _ in range(100):
        if not db.data:
            return None
        index = random.randrange(len(db.data))
        key = next(itertools.islice(iter(db.data), index, None))
        if db.lookup(key) is not None:
            return key
    return None


@cmd("keys", 2, "readonly", acl="@dangerous", summary="Returns all key names that match a pattern.")
def keys(client, args):
    db = client.db
    if args[1] == b"*":
        return list(db.keys())
    match = compile_pattern(args[1]).match
    return [key for key in db.keys() if match(key)]


def parse_scan_cursor(raw: bytes) -> int:
    """A SCAN-family cursor as Redis's strtoul reads it: an optional sign (a negative number
    wraps modulo 2**64), digits, nothing after; the empty string is 0. Like strtoul, it reads
    a C string: the cursor ends at its first NUL byte."""
    raw = raw.split(b"\0", 1)[0]
    digits = raw[1:] if raw[:1] in (b"+", b"-") else raw
    if (digits and not digits.isdigit()) or (not digits and raw):
        raise CommandError("ERR invalid cursor")
    significant = digits.lstrip(b"0")
    if len(significant) > 20:  # past 2**64 (and past what int() will read)
        raise CommandError("ERR invalid cursor")
    cursor = int(significant) if significant else 0
    if cursor >= 2**64:
        raise CommandError("ERR invalid cursor")
    return (-cursor) % 2**64 if raw[:1] == b"-" else cursor


def parse_scan_options(args: list[bytes], start: int, allow_type: bool):
    """MATCH / COUNT (/ TYPE) options shared by SCAN, HSCAN, SSCAN, ZSCAN."""
    pattern = None
    count = 10
    kind = None
    i = start
    while i < len(args):
        opt = args[i].lower()
        if i + 1 >= len(args):
            raise CommandError(errors.SYNTAX)
        if opt == b"count":
            count = parse_int(args[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX)
        elif opt == b"match":
            pattern = None if args[i + 1] == b"*" else compile_pattern(args[i + 1])
        elif opt == b"type" and allow_type:
            kind = args[i + 1].decode(errors="replace").lower()
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    return pattern, count, kind


@cmd("scan", -2, "readonly", since="2.8.0", summary="Iterates over the key names in the database.")
def scan(client, args):
    cursor = parse_scan_cursor(args[1])
    pattern, count, kind = parse_scan_options(args, 2, True)
    db = client.db
    next_cursor, candidates = SCANS.page(db.data, cursor, count, lambda: db.data)
    out = []
    for key in candidates:
        value = db.lookup(key)
        if value is None:
            continue
        if pattern is not None and not pattern.match(key):
            continue
        if kind is not None and type_name(value) != kind:
            continue
        out.append(key)
    return [str(next_cursor).encode(), out]


# -- OBJECT / MEMORY ----------------------------------------------------------------------

container("generic", "object", summary="A container for object introspection commands.", since="2.2.3")
object_sub = partial(command, "generic", parent="object")


def _lookup_or_nil(client, key: bytes):
    return client.db.peek(key)  # OBJECT does not count as an access (LRU/LFU)


@object_sub("encoding", 3, "readonly", (2, 2, 1), key_access="-", since="2.2.3", summary="Returns the internal encoding of a Redis object.")
def object_encoding(client, args):
    value = _lookup_or_nil(client, args[2])
    return None if value is None else encoding_of(value).encode()


_LFU_ERROR = (
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time to adjust."
)
_LRU_ERROR = (
    "ERR An LRU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)


@object_sub("freq", 3, "readonly", (2, 2, 1), key_access="-", since="4.0.0", summary="Returns the logarithmic access frequency counter of a Redis object.")
def object_freq(client, args):
    value = _lookup_or_nil(client, args[2])
    if value is None:
        return None
    access = client.db.access
    if not isinstance(access, LfuCounters):
        raise CommandError(_LFU_ERROR)
    return access.frequency(args[2])


@object_sub("idletime", 3, "readonly", (2, 2, 1), key_access="-", since="2.2.3", summary="Returns the time since the last access to a Redis object.")
def object_idletime(client, args):
    value = _lookup_or_nil(client, args[2])
    if value is None:
        return None
    access = client.db.access
    if isinstance(access, LfuCounters):
        raise CommandError(_LRU_ERROR)
    return 0 if access is None else access.idle_ms(args[2]) // 1000


_SHARED_REFCOUNT = 2**31 - 1


@object_sub("refcount", 3, "readonly", (2, 2, 1), key_access="-", since="2.2.3", summary="Returns the reference count of a value of a key.")
def object_refcount(client, args):
    value = _lookup_or_nil(client, args[2])
    if value is None:
        return None
    # Redis shares the integers 0..9999 and reports them with INT_MAX references.
    if value.__class__ is bytes and encoding_of(value) == "int" and 0 <= int(value) < 10000:
        return _SHARED_REFCOUNT
    return 1


container("server", "memory", summary="A container for memory diagnostics commands.", since="4.0.0")


@command("server", "usage", -3, "readonly", (2, 2, 1), key_access="-", since="4.0.0", parent="memory", summary="Estimates the memory usage of a key.")
def memory_usage(client, args):
    if len(args) not in (3, 5) or (len(args) == 5 and args[3].lower() != b"samples"):
        raise CommandError(errors.SYNTAX)
    if len(args) == 5:
        parse_int(args[4])
    db, key = client.db, args[2]
    value = db.peek(key)
    if value is None:
        return None
    return entry_size(key, value, key in db.expires)
