"""``magpie-check-rdb FILE``: check an RDB file the way ``redis-check-rdb`` does, and with
Magpie's loader's rules, without starting a server.

The output has redis-check-rdb's shape: ``[offset N] Checking RDB file F``, a line per aux
field and per database selected, then either ``[offset N] \\o/ RDB looks OK! \\o/`` or
``--- RDB ERROR DETECTED ---`` with the offset of the first problem, what was being read
and which key, then the key counts; the exit status is 0 or 1.

Every value is decoded and validated by the loader's own code (``read_value``), so a file
this tool passes is one ``magpie-server`` loads. Where Magpie is stricter than Redis the
tool says so as an error: a stream, module value or function library (Magpie cannot load
them), a duplicated key, bytes after the checksum. Offsets count bytes successfully read,
as redis-check-rdb's do: an error at offset N means the read that failed started at N.
"""

from __future__ import annotations

import mmap
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from magpie import __version__
from magpie.config import Config
from magpie.persistence.rdb_format import (
    MAGIC,
    MAX_READ_VERSION,
    OP_AUX,
    OP_EOF,
    OP_EXPIRETIME,
    OP_EXPIRETIME_MS,
    OP_FREQ,
    OP_FUNCTION2,
    OP_FUNCTION_PRE_GA,
    OP_IDLE,
    OP_MODULE_AUX,
    OP_RESIZEDB,
    OP_SELECTDB,
    UNPACK_MS,
    UNPACK_SECONDS,
    crc64,
)
from magpie.persistence.rdb_reader import (
    ValueBuilder,
    ValueReader,
    _leading_number,
    _Short,
    read_function_record,
    read_value,
)

#: redis-check-rdb's names for the type bytes (rdb_type_string).
TYPE_NAMES = {
    0: "string", 1: "list-linked", 2: "set-hashtable", 3: "zset-v1", 4: "hash-hashtable",
    5: "zset-v2", 6: "module-value", 7: "module-value", 9: "hash-zipmap", 10: "list-ziplist",
    11: "set-intset", 12: "zset-ziplist", 13: "hash-ziplist", 14: "quicklist", 15: "stream",
    16: "hash-listpack", 17: "zset-listpack", 18: "quicklist-v2", 19: "stream",
}  # fmt: skip


class CheckFailed(Exception):
    pass


@dataclass
class Report:
    """What a check found: the key counts, and the type bytes seen (for tests and tools)."""

    keys: int = 0
    expires: int = 0
    already_expired: int = 0
    types: Counter = field(default_factory=Counter)
    functions: int = 0  # function libraries
    ok: bool = False


class RdbChecker:
    def __init__(self, data: bytes, name: str, out=print) -> None:  # noqa: ANN001 - a print-like callable
        self.data = data
        self.name = name
        self.out = out
        self.reader = ValueReader(data)
        self.report = Report()
        self.doing = "start"
        self.key: bytes | None = None
        # redis-check-rdb's state starts zeroed and is reset to -1 only after a key: an error
        # before the first key says "Reading type 0 (string)"; the same lines are printed here
        self.key_type = 0

    def info(self, message: str) -> None:
        self.out(f"[offset {self.reader.pos}] {message}")

    def generic_info(self) -> None:
        report = self.report
        self.out(f"[info] {report.keys} keys read")
        self.out(f"[info] {report.expires} expires")
        self.out(f"[info] {report.already_expired} already expired")

    def error(self, message: str) -> None:
        self.out("--- RDB ERROR DETECTED ---")
        self.info(message)
        self.out(f"[additional info] While doing: {self.doing}")
        if self.key is not None:
            self.out(f"[additional info] Reading key '{self.key.decode('utf-8', 'backslashreplace')}'")
        if self.key_type != -1:
            self.out(f"[additional info] Reading type {self.key_type} ({TYPE_NAMES.get(self.key_type, 'unknown')})")
        self.generic_info()

    def run(self) -> Report:
        self.info(f"Checking RDB file {self.name}")
        try:
            self._check()
        except _Short:
            self.error("Unexpected EOF reading RDB file")
        except (ValueError, CheckFailed) as exc:
            self.error(str(exc))
        else:
            self.report.ok = True
            self.info("\\o/ RDB looks OK! \\o/")
            self.generic_info()
        return self.report

    def _check(self) -> None:
        r = self.reader
        report = self.report
        head = r.take(9)
        if head[:5] != MAGIC:
            raise CheckFailed("Wrong signature trying to load DB from file")
        version = _leading_number(head[5:])
        if not 1 <= version <= MAX_READ_VERSION:
            raise CheckFailed(f"Can't handle RDB format version {version}")
        build = ValueBuilder(Config().values)
        now = int(time.time() * 1000)
        expire: int | None = None
        db = 0
        seen: set[tuple[int, bytes]] = set()
        while True:
            self.doing = "read-type"
            kind = r.byte()
            if kind in (OP_EXPIRETIME_MS, OP_EXPIRETIME):
                self.doing = "read-expire"
                expire = UNPACK_MS(r.take(8))[0] if kind == OP_EXPIRETIME_MS else UNPACK_SECONDS(r.take(4))[0] * 1000
                continue
            if kind == OP_FREQ:
                r.byte()
                continue
            if kind == OP_IDLE:
                r.length()
                continue
            if kind == OP_EOF:
                break
            if kind == OP_SELECTDB:
                self.doing = "read-len"
                db = r.length()
                self.info(f"Selecting DB ID {db}")
                continue
            if kind == OP_RESIZEDB:
                self.doing = "read-len"
                r.length(), r.length()
                continue
            if kind == OP_AUX:
                self.doing = "read-aux"
                name, value = r.string(), r.string()
                self.info(f"AUX FIELD {_text(name)} = '{_text(value)}'")
                continue
            if kind == OP_MODULE_AUX:
                self.doing = "read-module-aux"
                raise CheckFailed("the file holds module data, which Magpie cannot load")
            if kind in (OP_FUNCTION2, OP_FUNCTION_PRE_GA):
                self.doing = "read-functions"
                try:
                    read_function_record(r, kind)  # its structure only, as redis-check-rdb
                except ValueError as exc:
                    raise CheckFailed(f"Failed loading library, {exc}") from None
                report.functions += 1
                continue
            if kind not in TYPE_NAMES:
                raise CheckFailed(f"Invalid object type: {kind}")
            self.key_type = kind
            report.types[kind] += 1
            self.doing = "read-key"
            self.key = r.string()
            report.keys += 1
            self.doing = "read-object-value"
            read_value(r, kind, build)
            if (db, self.key) in seen:
                raise CheckFailed("Duplicated key found in RDB file")
            seen.add((db, self.key))
            if expire is not None:
                report.expires += 1
                if expire < now:
                    report.already_expired += 1
            self.key, self.key_type, expire = None, -1, None
        if version >= 5:
            self.doing = "check-sum"
            body_end = r.pos
            stored = int.from_bytes(r.take(8), "little")
            if stored == 0:
                self.info("RDB file was saved with checksum disabled: no check performed.")
            elif crc64(memoryview(self.data)[:body_end]) != stored:
                raise CheckFailed("RDB CRC error")
            else:
                self.info("Checksum OK")
        if r.pos != len(self.data):
            raise CheckFailed("unexpected data after the end of the RDB file (Magpie refuses it)")


def _text(value: bytes) -> str:
    return value.decode("utf-8", "backslashreplace")


def check_file(path: str, out=print) -> Report:  # noqa: ANN001 - a print-like callable
    """Check ``path``, writing redis-check-rdb's lines to ``out``; OSError if unreadable."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        if size == 0:
            return RdbChecker(b"", path, out).run()
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return RdbChecker(data, path, out).run()  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("Usage: magpie-check-rdb <rdb-file-name>", file=sys.stderr)
        return 1
    if argv[0] in ("-v", "--version"):
        print(f"magpie-check-rdb {__version__}")
        return 0
    try:
        open(argv[0], "rb").close()
    except OSError as exc:
        print(f"[offset 0] Checking RDB file {argv[0]}")
        print(f"Cannot open {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        report = check_file(argv[0])
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as C tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
