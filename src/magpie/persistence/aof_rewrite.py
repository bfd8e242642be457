"""What an AOF rewrite writes: the whole dataset as a new base file.

With ``aof-use-rdb-preamble yes`` (the default) the base is an RDB image, the same one
SAVE writes but with the ``aof-base`` aux field set; otherwise it is the shortest run of
commands that rebuilds every key (``SET``, ``RPUSH``, ``SADD``, ``ZADD``, ``HMSET`` with at
most 64 items each, then ``PEXPIREAT`` for keys with a TTL), as Redis 7.0 writes it.

These functions run in a forked child (BGREWRITEAOF) or, at startup with an empty
dataset, in the server itself; they never log, so a child cannot deadlock on a lock some
other thread held at the fork.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import BinaryIO

from magpie.persistence.aof_format import encode_command
from magpie.persistence.rdb_writer import write_rdb
from magpie.store.hashes import Hash
from magpie.store.keyspace import Keyspace
from magpie.store.lists import ListValue
from magpie.store.sets import Set
from magpie.store.zsets import ZSet

#: Items per variadic command in a command-form base (Redis's AOF_REWRITE_ITEMS_PER_CMD).
ITEMS_PER_COMMAND = 64
#: aof-rewrite-incremental-fsync: fsync every this many bytes, so the final fsync is short.
AUTOSYNC_BYTES = 4 * 1024 * 1024


def child_temp_name(pid: int) -> str:
    """The file a rewrite child writes in the working directory (Redis's name)."""
    return f"temp-rewriteaof-bg-{pid}.aof"


class _SyncingFile:
    """A file object that fsyncs every AUTOSYNC_BYTES written."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.unsynced = 0

    def write(self, data: bytes) -> int:
        n = self.out.write(data)
        self.unsynced += len(data)
        if self.unsynced >= AUTOSYNC_BYTES:
            self.out.flush()
            os.fsync(self.out.fileno())
            self.unsynced = 0
        return n


def write_base(
    path: str,
    keyspace: Keyspace,
    aux: Iterable[tuple[bytes, bytes]],
    *,
    preamble: bool,
    compress: bool = True,
    checksum: bool = True,
    incremental_fsync: bool = True,
    timestamp: bool = False,
    functions: Iterable[bytes] = (),
) -> None:
    """Write the dataset to ``path`` (fsynced); OSError leaves no file behind.
    ``functions`` (each library's code) go in the RDB image, or as FUNCTION LOAD commands
    ahead of the keys, as Redis's rewriteFunctions writes them."""
    try:
        with open(path, "wb") as raw:
            out: BinaryIO = _SyncingFile(raw) if incremental_fsync else raw  # type: ignore[assignment]
            if preamble:
                base_aux = [(k, b"1" if k == b"aof-base" else v) for k, v in aux]
                write_rdb(out, keyspace, base_aux, compress=compress, checksum=checksum, functions=functions)
            else:
                if timestamp:
                    out.write(b"#TS:%d\r\n" % int(time.time()))
                for code in functions:
                    out.write(encode_command([b"FUNCTION", b"LOAD", code]))
                write_commands(out, keyspace)
            raw.flush()
            os.fsync(raw.fileno())
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise


def write_commands(out: BinaryIO, keyspace: Keyspace) -> int:
    """The command form of the dataset; returns the number of keys written."""
    keys = 0
    chunk: list[bytes] = []
    size = 0
    for db in keyspace.dbs:
        if not db.data:
            continue
        chunk.append(encode_command([b"SELECT", b"%d" % db.index]))
        expires = db.expires
        for key, value in db.data.items():
            for argv in commands_for(key, value):
                data = encode_command(argv)
                chunk.append(data)
                size += len(data)
            when = expires.get(key) if expires else None
            if when is not None:
                chunk.append(encode_command([b"PEXPIREAT", key, b"%d" % when]))
            keys += 1
            if size >= 1 << 20:
                out.write(b"".join(chunk))
                chunk.clear()
                size = 0
    out.write(b"".join(chunk))
    return keys


def commands_for(key: bytes, value: object) -> Iterable[list[bytes]]:
    """The commands that rebuild one value (without its TTL)."""
    cls = value.__class__
    if cls is bytes:
        yield [b"SET", key, value]  # type: ignore[list-item]
        return
    if cls is ListValue:
        items: list[bytes] = list(value)  # type: ignore[call-overload]
        name = b"RPUSH"
    elif cls is Set:
        items = list(value)  # type: ignore[call-overload]
        name = b"SADD"
    elif cls is ZSet:
        items = []
        for score, member in value.items():  # type: ignore[attr-defined]
            items += (_score(score), member)
        name = b"ZADD"
    elif cls is Hash:
        items = []
        for field, item in value.items():  # type: ignore[attr-defined]
            items += (field, item)
        name = b"HMSET"
    else:
        raise TypeError(f"no AOF form for {cls.__name__}")
    step = ITEMS_PER_COMMAND * (2 if cls is ZSet or cls is Hash else 1)
    for i in range(0, len(items), step):
        yield [name, key, *items[i : i + step]]


def _score(score: float) -> bytes:
    """A score that reads back as the same double (repr is the shortest exact form)."""
    if score != score or score in (float("inf"), float("-inf")):
        return b"inf" if score > 0 else b"-inf"
    return repr(score).encode()
