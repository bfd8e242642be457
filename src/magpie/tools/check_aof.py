"""``magpie-check-aof [--fix|--truncate-to-timestamp T] FILE|DIR``: redis-check-aof for Magpie.

FILE is a manifest (every file it lists is checked, in order), an old-style AOF (with or
without an RDB preamble) or a directory holding one manifest. Like redis-check-aof it
reports the offset of the first problem and how much of the file is sound (``ok_up_to``);
``--fix`` asks, then truncates the file there (only the last file of a manifest may be
truncated: an earlier one would lose the commands after it). The checks are the loader's,
from ``persistence.aof_format``, so what this accepts Magpie loads.

Exit status: 0 when every file is valid (or was fixed), 1 otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TextIO

from magpie.persistence.aof_format import AofFormatError, AofTruncated, CommandScanner
from magpie.persistence.aof_manifest import ManifestError, read_manifest

OK, EMPTY, TRUNCATED, TIMESTAMP_TRUNCATED = "ok", "empty", "truncated", "timestamp-truncated"


class CheckFailed(Exception):
    """The check stops here; the message was printed, the exit status is 1."""


class Checker:
    def __init__(self, fix: bool = False, to_timestamp: int = 0, out: TextIO = sys.stdout,
                 ask: Callable[[], str] | None = None) -> None:  # fmt: skip
        self.fix = fix
        self.to_timestamp = to_timestamp
        self.out = out
        self.ask = ask or (lambda: sys.stdin.readline())

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # -- one file ------------------------------------------------------------------------------

    def check_file(self, name: str, path: str, last: bool, preamble: bool) -> str:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            self.say(f"Cannot open file {path}: {exc.strerror}, aborting...")
            raise CheckFailed from None
        if not data:
            return EMPTY
        start = 0
        if preamble:
            start = self._check_rdb(name, data)
        scanner = CommandScanner(data, start)
        ok_up_to = start
        multi_at: int | None = None
        error = ""
        try:
            for offset, argv in scanner:
                word = argv[0].lower()
                if word == b"multi":
                    if multi_at is not None:
                        error = self._error(offset, f"Unexpected MULTI in AOF {path}")
                        break
                    multi_at = offset
                elif word == b"exec":
                    if multi_at is None:
                        error = self._error(offset, f"Unexpected EXEC in AOF {path}")
                        break
                    multi_at = None
                if multi_at is None:
                    ok_up_to = scanner.position
        except AofTruncated as exc:
            error = self._error(exc.offset, exc.reason)
        except AofFormatError as exc:
            error = self._error(exc.offset, exc.reason)
        else:
            if multi_at is not None:
                error = self._error(len(data), "Reached EOF before reading EXEC for MULTI")
        if multi_at is None:  # the end, or where the item that failed starts
            ok_up_to = scanner.position
        if self.to_timestamp:
            cut = self._timestamp_cut(data, start, ok_up_to)
            if cut is not None:
                return self._truncate_to_timestamp(name, path, data, cut, last)
        if error:
            self.say(error)
        size = len(data)
        diff = size - ok_up_to
        if diff == 0 and self.to_timestamp:
            self.say(f"Truncate nothing in AOF {name} to timestamp {self.to_timestamp}")
            return OK
        line = data.count(b"\n", 0, ok_up_to) + 1
        self.say(f"AOF analyzed: filename={name}, size={size}, ok_up_to={ok_up_to}, "
                 f"ok_up_to_line={line}, diff={diff}")  # fmt: skip
        if diff <= 0:
            return OK
        if not self.fix:
            self.say(f"AOF {name} is not valid. Use the --fix option to try fixing it.")
            raise CheckFailed
        if not last:
            self.say(f"Failed to truncate AOF {name} because it is not the last file")
            raise CheckFailed
        self.say(f"This will shrink the AOF {name} from {size} bytes, with {diff} bytes, to {ok_up_to} bytes")
        print("Continue? [y/N]: ", end="", file=self.out, flush=True)
        if not self.ask().strip().lower().startswith("y"):
            self.say("Aborting...")
            raise CheckFailed
        try:
            os.truncate(path, ok_up_to)
        except OSError:
            self.say(f"Failed to truncate AOF {name}")
            raise CheckFailed from None
        return TRUNCATED

    @staticmethod
    def _error(offset: int, reason: str) -> str:
        return f"0x{offset:16x}: {reason}"

    def _check_rdb(self, name: str, data: bytes) -> int:
        """The RDB image at the start of ``data``; returns where it ends."""
        from magpie.config import Config
        from magpie.persistence.rdb_format import RdbError
        from magpie.persistence.rdb_reader import RdbLoad
        from magpie.store.keyspace import Keyspace

        self.say(f"[offset 0] Checking RDB file {name}")
        load = RdbLoad(data, Keyspace(16), Config().values, now_ms=None, allow_trailing=True)
        try:
            stats = load.run()
        except RdbError as exc:
            self.say(f"--- RDB ERROR DETECTED ---\n[offset {exc.offset}] {exc.reason}")
            self.say("RDB preamble of AOF file is not sane, aborting.")
            raise CheckFailed from None
        self.say(f"[offset {load.end}] \\o/ RDB looks OK! \\o/")
        self.say(f"[info] {stats.keys_loaded + stats.keys_expired} keys read")
        self.say("RDB preamble is OK, proceeding with AOF tail...")
        return load.end

    # -- --truncate-to-timestamp -----------------------------------------------------------------

    def _timestamp_cut(self, data: bytes, start: int, end: int) -> int | None:
        """The offset of the first ``#TS:`` annotation later than the timestamp, if any."""
        pos = data.find(b"#TS:", start, end)
        while pos >= 0:
            if pos == start or data[pos - 1 : pos] == b"\n":
                stop = data.find(b"\r\n", pos, end)
                try:
                    stamp = int(data[pos + 4 : stop])
                except ValueError:
                    self.say("Invalid timestamp annotation")
                    raise CheckFailed from None
                if stamp > self.to_timestamp:
                    return pos
            pos = data.find(b"#TS:", pos + 4, end)
        return None

    def _truncate_to_timestamp(self, name: str, path: str, data: bytes, cut: int, last: bool) -> str:
        if cut == 0:
            self.say(f"AOF {path} has nothing before timestamp {self.to_timestamp}, aborting...")
            raise CheckFailed
        if not last:
            self.say(f"Failed to truncate AOF {path} to timestamp {self.to_timestamp} to offset {cut} "
                     "because it is not the last file.")  # fmt: skip
            raise CheckFailed
        os.truncate(path, cut)
        return TIMESTAMP_TRUNCATED

    def report(self, kind: str, name: str, result: str) -> None:
        if result == OK:
            self.say(f"{kind}{name} is valid")
        elif result == EMPTY:
            self.say(f"{kind}{name} is empty")
        elif result == TIMESTAMP_TRUNCATED:
            self.say(f"Successfully truncated AOF {name} to timestamp {self.to_timestamp}")
        else:
            self.say(f"Successfully truncated AOF {name}")

    # -- what was asked --------------------------------------------------------------------------

    def check(self, path: str) -> None:
        if os.path.isdir(path):
            path = _manifest_in(path)
        kind = input_type(path)
        if kind == "manifest":
            self.check_manifest(path)
            return
        self.say("Start checking Old-Style AOF")
        result = self.check_file(path, path, True, kind == "rdb")
        self.report("AOF ", path, result)

    def check_manifest(self, manifest_path: str) -> None:
        self.say("Start checking Multi Part AOF")
        try:
            manifest = read_manifest(manifest_path)
        except ManifestError as exc:
            for line in exc.log_lines():
                self.say(line)
            raise CheckFailed from None
        directory = os.path.dirname(manifest_path)
        files = manifest.live_files()
        for index, entry in enumerate(files):
            path = os.path.join(directory, entry.name)
            last = index == len(files) - 1
            if entry is manifest.base:
                preamble = _is_rdb(path)
                self.say(f"Start to check BASE AOF ({'RDB' if preamble else 'RESP'} format).")
                self.report("BASE AOF ", entry.name, self.check_file(entry.name, path, last, preamble))
            else:
                if index == (1 if manifest.base is not None else 0):
                    self.say("Start to check INCR files.")
                self.report("INCR AOF ", entry.name, self.check_file(entry.name, path, last, False))
        self.say("All AOF files and manifest are valid")


def _manifest_in(directory: str) -> str:
    found = sorted(name for name in os.listdir(directory) if name.endswith(".manifest") and not name.startswith("temp-"))
    if len(found) != 1:
        raise CheckFailed(f"expected one manifest in {directory}, found {len(found)}")
    return os.path.join(directory, found[0])


def _is_rdb(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return len(head) >= 8 and head[:5] == b"REDIS"


def input_type(path: str) -> str:
    """redis-check-aof's guess: a manifest has a line starting with ``file``."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise CheckFailed(f"Cannot open file {path}: {exc.strerror}") from None
    if any(line.startswith(b"file") for line in data.split(b"\n") if not line.startswith(b"#")):
        return "manifest"
    return "rdb" if _is_rdb(path) else "resp"


USAGE = "Usage: {} [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof|directory>"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    program = os.path.basename(sys.argv[0]) or "magpie-check-aof"
    fix, stamp = False, 0
    if len(argv) == 1:
        path = argv[0]
    elif len(argv) == 2 and argv[0] == "--fix":
        fix, path = True, argv[1]
    elif len(argv) == 3 and argv[0] == "--truncate-to-timestamp":
        try:
            stamp = int(argv[1])
        except ValueError:
            print("Invalid timestamp, aborting...")
            return 1
        path = argv[2]
    else:
        print(USAGE.format(program))
        return 1
    try:
        Checker(fix, stamp).check(path)
    except CheckFailed as exc:
        if exc.args:
            print(exc.args[0])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
