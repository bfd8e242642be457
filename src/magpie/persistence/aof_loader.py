"""The AOF at startup: the manifest (read whether or not AOF is on, as Redis does), an
old-style ``appendonly.aof`` moved into the directory, the load, then the incr file opened
for appending (``open_on_start``). The load replays the base (an RDB image or commands) and
every incremental file through the command table, by a client with no connection.

All or nothing. The base's RDB image loads into a staging keyspace; then every command of
every file is checked (the format, a known command with the right number of arguments, a
SELECT the server has the database for) before anything touches the server's data. Only
then is the staging keyspace installed and the commands replayed, so a file that is
refused leaves no key behind, and the server (which exits) never half-loads.

A torn last command (the data ends inside it: a crash during a write) is dropped with a
warning, and the file truncated there, when ``aof-load-truncated`` is yes, as in Redis; a
transaction without its EXEC at the end counts as torn from its MULTI. Anything else is
refused with the file name and byte offset.

While commands replay, nothing expires: the clock reads 0 (Redis does not expire keys
while loading), so a key whose TTL passed since it was written still takes the commands
that followed it, and expires once the load is over. The replay runs the handlers directly,
as Redis's loader calls the command procedures: nothing is propagated, counted or shown
to MONITOR.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from magpie.commands.table import COMMANDS, DISPATCH, CommandSpec
from magpie.errors import CommandError
from magpie.persistence.aof import ON, AppendOnly, file_size
from magpie.persistence.aof_format import AofFormatError, AofTruncated, CommandScanner
from magpie.persistence.aof_manifest import (
    BASE,
    AofFile,
    Manifest,
    ManifestError,
    read_manifest,
    write_manifest,
)
from magpie.persistence.loading import PROGRESS_EVERY_SECONDS, SLICE_SECONDS
from magpie.persistence.rdb_format import RdbError
from magpie.persistence.rdb_reader import RdbLoad
from magpie.server.connection import Client
from magpie.store.clock import CLOCK
from magpie.store.keyspace import Keyspace

if TYPE_CHECKING:
    from magpie.server.server import Server

log = logging.getLogger("magpie")

#: What the clock reads while commands replay: before every TTL, so nothing expires.
LOADING_CLOCK_MS = 0
#: Commands checked or replayed between two yields to the event loop.
STEP = 1024
_TX_CONTROL = frozenset({"multi", "exec", "discard", "watch"})
_RUN_ALWAYS = frozenset({"select", "multi", "exec", "discard"})
_FIX_HINT = "make a backup of your AOF file, then use magpie-check-aof --fix <filename.manifest>"


class AofLoadError(Exception):
    """The AOF cannot be loaded; ``lines`` are what the log says (Redis's words first)."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0])
        self.lines = list(lines)


class _AofClient(Client):
    """The replaying client: no connection, never blocks, and EXEC runs what MULTI queued
    without ACL checks (as Redis's AOF client, which has no user)."""

    __slots__ = ()

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.in_exec = True  # blocking commands answer at once instead of blocking

    def call_queued(self, spec: CommandSpec, argv: list[bytes]) -> object:
        return _run(self, spec, argv)


def lookup(argv: list[bytes]) -> CommandSpec | None:
    """The command (or subcommand) ``argv`` names, as the dispatcher finds it."""
    spec = DISPATCH.get(argv[0]) or COMMANDS.get(argv[0].lower())
    if spec is not None and spec.subcommands and len(argv) >= 2:
        return spec.subcommands.get(argv[1].lower())
    return spec


def _run(client: _AofClient, spec: CommandSpec, argv: list[bytes]) -> object:
    """Run a handler, keeping nothing of it but its effect on the data. Commands that do
    not write (none that Redis or Magpie log; a hand-edited file may have them) are
    skipped, so a replay cannot shut the server down or change its configuration."""
    if not spec.is_write and spec.name not in _RUN_ALWAYS:
        return None
    try:
        reply = spec.handler(client, argv)  # type: ignore[misc]
    except CommandError as exc:
        reply = exc
    except Exception as exc:  # a bug in a handler: say so, carry on as Redis would
        log.exception("error replaying %s from the AOF", spec.name)
        reply = CommandError(f"ERR {type(exc).__name__}")
    client.propagate_as = None
    client.in_exec = True
    return reply


class _Part:
    """One file of the load: its bytes and where its commands start and stop."""

    def __init__(self, entry: AofFile, path: str, data: bytes) -> None:
        self.entry = entry
        self.path = path
        self.data = data
        self.start = 0  # after an RDB image, if the file starts with one
        self.end = len(data)  # a torn tail is cut off here


class AofLoad:
    """One load of the files ``manifest`` lists from ``dirname`` into ``server``; drive
    ``steps()`` to the end (it yields now and then). Raises AofLoadError, server untouched."""

    def __init__(self, server: Server, dirname: str, manifest: Manifest, *, truncated_ok: bool) -> None:
        self.server = server
        self.dirname = dirname
        self.manifest = manifest
        self.truncated_ok = truncated_ok
        self.total_bytes = 0
        self.done_bytes = 0
        self.commands = 0
        self.truncated: tuple[str, int] | None = None  # (file, offset) of a dropped tail
        self.base_stats = None

    def sizes(self) -> list[tuple[AofFile, str, int]]:
        """Every file with its size; AofLoadError if one is missing."""
        out = []
        for entry in self.manifest.live_files():
            path = os.path.join(self.dirname, entry.name)
            try:
                out.append((entry, path, os.path.getsize(path)))
            except OSError as exc:
                raise AofLoadError(f"Unable to obtain the AOF file {entry.name} length. stat: {exc.strerror}") from None
        return out

    def steps(self) -> Iterator[None]:
        files = self.sizes()
        self.total_bytes = sum(size for _, _, size in files)
        if not self.total_bytes:
            return
        parts: list[_Part] = []
        staging: Keyspace | None = None
        for index, (entry, path, _) in enumerate(files):
            try:
                with open(path, "rb") as fh:
                    part = _Part(entry, path, fh.read())
            except OSError as exc:
                raise AofLoadError(f"Fatal error: can't open the append log file {entry.name} for reading: {exc.strerror}") from None
            parts.append(part)
            if part.data[:5] == b"REDIS":
                if index or entry is not self.manifest.base:
                    raise AofLoadError(f"Bad file format reading the append only file {entry.name}: "
                                       "an RDB image in an incremental file")  # fmt: skip
                staging = Keyspace(len(self.server.keyspace))
                yield from self._load_rdb(part, staging)
        yield from self._check(parts)
        yield from self._replay(parts, staging)

    # -- the RDB image of a base -----------------------------------------------------------------

    def _load_rdb(self, part: _Part, staging: Keyspace) -> Iterator[None]:
        old_style = part.entry.name == str(self.server.config["appendfilename"])
        log.info("Reading RDB preamble from AOF file..." if old_style else "Reading RDB base file on AOF loading...")
        # Expired keys stay: the commands after the image may still name them (Redis too).
        load = RdbLoad(part.data, staging, self.server.config.values, now_ms=None, allow_trailing=True)
        try:
            for position in load.steps():
                self.done_bytes = position
                yield
        except RdbError as exc:
            what = "RDB preamble of the AOF file" if old_style else "RDB base file"
            raise AofLoadError(f"Error reading the {what} {part.entry.name}, AOF loading aborted",
                               f"{exc.describe()} (in {part.entry.name})") from None  # fmt: skip
        part.start = load.end
        self.base_stats = load.stats
        if old_style and load.end < len(part.data):
            log.info("Reading the remaining AOF tail...")

    # -- checking every command before any runs --------------------------------------------------

    def _check(self, parts: list[_Part]) -> Iterator[None]:
        databases = len(self.server.keyspace)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            name = part.entry.name
            multi_at: int | None = None
            scanner = CommandScanner(part.data, part.start)
            torn_at: int | None = None
            try:
                for offset, argv in scanner:
                    spec = lookup(argv)
                    if spec is None:
                        shown = argv[0].decode(errors="replace")
                        raise AofLoadError(f"Unknown command '{shown}' reading the append only file {name}",
                                           f"(the command at offset {offset})")  # fmt: skip
                    if not spec.arity_ok(len(argv)):
                        raise AofLoadError(f"Bad file format reading the append only file {name}: wrong number of "
                                           f"arguments for '{spec.name}' at offset {offset}: {_FIX_HINT}")  # fmt: skip
                    command = spec.name
                    if command == "multi":
                        if multi_at is not None:
                            raise self._format_error(name, AofFormatError("unexpected MULTI", offset))
                        multi_at = offset
                    elif command == "exec":
                        if multi_at is None:
                            raise self._format_error(name, AofFormatError("unexpected EXEC", offset))
                        multi_at = None
                    elif command == "select" and not _valid_db(argv[1], databases):
                        raise AofLoadError(f"Bad file format reading the append only file {name}: SELECT of a database "
                                           f"this server does not have (databases {databases}) at offset {offset}")  # fmt: skip
                    self.commands += 1
                    if not self.commands % STEP:
                        yield
            except AofFormatError as exc:
                raise self._format_error(name, exc) from None
            except AofTruncated as exc:
                torn_at = exc.offset if multi_at is None else multi_at
            else:
                if multi_at is not None:
                    log.warning("Revert incomplete MULTI/EXEC transaction in AOF file %s", name)
                    torn_at = multi_at
            if torn_at is not None:
                self._torn(part, torn_at, last)

    @staticmethod
    def _format_error(name: str, exc: AofFormatError) -> AofLoadError:
        return AofLoadError(f"Bad file format reading the append only file {name}: {_FIX_HINT}",
                            f"{exc.reason} at offset {exc.offset} of {name}")  # fmt: skip

    def _torn(self, part: _Part, offset: int, last: bool) -> None:
        name = part.entry.name
        if not last:
            raise AofLoadError(f"Unexpected end of file reading the append only file {name} (at offset {offset})",
                               "Fatal error: the truncated file is not the last file")  # fmt: skip
        if not self.truncated_ok:
            raise AofLoadError(
                f"Unexpected end of file reading the append only file {name}. You can: "
                f"1) Make a backup of your AOF file, then use magpie-check-aof --fix <filename.manifest>. "
                f"2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                f"(the last complete command ends at offset {offset} of {len(part.data)} bytes)",
            )
        log.warning("!!! Warning: short read while loading the AOF file %s!!!", name)
        log.warning("!!! Truncating the AOF %s at offset %d !!!", name, offset)
        try:
            os.truncate(part.path, offset)
        except OSError as exc:
            raise AofLoadError(f"Error truncating the AOF file {name}: {exc.strerror}") from None
        log.warning("AOF %s loaded anyway because aof-load-truncated is enabled", name)
        part.end = offset
        self.truncated = (name, offset)

    # -- replaying -----------------------------------------------------------------------------------

    def _replay(self, parts: list[_Part], staging: Keyspace | None) -> Iterator[None]:
        server = self.server
        snapshots = server.snapshots
        functions = self.base_stats.functions if staging is not None and self.base_stats is not None else []
        try:
            snapshots.install(staging if staging is not None else Keyspace(len(server.keyspace)), functions)
        except RdbError as exc:
            raise AofLoadError("Error reading the RDB base of the AOF, AOF loading aborted", exc.describe()) from None
        if staging is not None and self.base_stats is not None:
            extra = [(k, v) for k, v in self.base_stats.aux if k.startswith(b"magpie-")]
            snapshots.restore_extra(extra)
            snapshots.last_load = self.base_stats
        client = _AofClient(server)
        done_before = 0
        count = 0
        try:
            CLOCK.ms = LOADING_CLOCK_MS
            for part in parts:
                started = time.monotonic()
                queue = client.multi_queue
                for offset, argv in CommandScanner(part.data, part.start, part.end):
                    spec = lookup(argv)
                    if client.in_multi and spec.name not in _TX_CONTROL:  # type: ignore[union-attr]
                        queue.append((spec, argv))  # type: ignore[arg-type]
                    else:
                        _run(client, spec, argv)  # type: ignore[arg-type]
                        queue = client.multi_queue
                    count += 1
                    if not count % STEP:
                        self.done_bytes = done_before + offset
                        yield
                        CLOCK.ms = LOADING_CLOCK_MS
                done_before += len(part.data)
                self.done_bytes = done_before
                kind = "base" if part.entry is self.manifest.base else "incr"
                log.info("DB loaded from %s file %s: %.3f seconds", kind, part.entry.name, time.monotonic() - started)
        finally:
            CLOCK.update()
            server.evictor.dataset_replaced()  # access times start now, not at clock 0


def _valid_db(raw: bytes, databases: int) -> bool:
    return raw.isdigit() and int(raw) < databases


# -- startup: the manifest, an old-style file, the load, the file to append to ------------------


def load_manifest(aof: AppendOnly) -> bool:
    """Read the manifest if the directory has one (always, as Redis does, so the
    sequence numbers carry on when AOF is turned on later). False (logged) if it is bad."""
    path = aof.path(f"{aof.filename}.manifest")
    if not os.path.isdir(aof.dirname) or not os.path.exists(path):
        return True
    try:
        aof.manifest = read_manifest(path)
    except ManifestError as exc:
        for line in exc.log_lines():
            log.warning("%s", line)
        return False
    except OSError as exc:
        log.warning("Fatal error: can't open the AOF manifest file %s for reading: %s", path, exc.strerror)
        return False
    return True


def upgrade_old_style(aof: AppendOnly) -> bool:
    """An ``appendonly.aof`` in ``dir`` from Redis < 7 (or Magpie before): move it into
    the directory as the base, under a new manifest, as Redis 7 does at startup."""
    name, manifest = aof.filename, aof.manifest
    if not os.path.isfile(name):
        return True
    if os.path.isdir(aof.dirname) and not manifest.empty:
        only_old_base = (
            manifest.base is not None and not manifest.incrs and manifest.base.name == name
            and not os.path.exists(aof.path(name))
        )  # fmt: skip
        if not only_old_base:
            return True
    if not aof.ensure_dir():
        return False
    upgraded = Manifest()
    upgraded.base = AofFile(name, 1, BASE)
    upgraded.base_seq = 1
    try:
        write_manifest(aof.dirname, name, upgraded)
        os.rename(name, aof.path(name))
    except OSError as exc:
        log.warning("Error trying to move the old AOF file %s into dir %s: %s", name, aof.dirname, exc.strerror)
        return False
    aof.manifest = upgraded
    log.info("Successfully migrated an old-style AOF file (%s) into the AOF directory (%s).", name, aof.dirname)
    return True


def open_on_start(aof: AppendOnly) -> bool:
    """After the load: write a base if there is no AOF at all, open the last incr file
    (or a new one) for appending and persist the manifest. False (logged) on failure."""
    if aof.state != ON:
        return True
    if not aof.ensure_dir():
        return False
    manifest = aof.manifest
    had_incr = bool(manifest.incrs)
    if manifest.empty:
        preamble = bool(aof.server.config["aof-use-rdb-preamble"])
        name = manifest.new_base(aof.filename, preamble)
        try:
            aof.write_base_now(aof.path(name), preamble)
        except OSError as exc:
            log.warning("Write error writing append only file on disk: %s", exc.strerror)
            return False
        log.info("Creating AOF base file %s on server start", name)
    name = manifest.last_incr() or manifest.new_incr(aof.filename)
    try:
        fd = os.open(aof.path(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        log.warning("Can't open the append-only file %s: %s", name, exc.strerror)
        return False
    try:
        write_manifest(aof.dirname, aof.filename, manifest)
    except OSError as exc:
        os.close(fd)
        log.warning("Can't write the AOF manifest file: %s", exc.strerror)
        return False
    aof.writer.attach_file(fd, os.fstat(fd).st_size)
    aof.writer.current_size = aof.files_size()
    aof.writer.last_fsync = int(time.time())
    if manifest.base is not None:
        aof.base_size = file_size(aof.path(manifest.base.name))
    aof.set_feeding(True)
    log.info("%s AOF incr file %s on server start", "Opening" if had_incr else "Creating", name)
    aof.delete_history()
    return True


async def load_append_only(server: Server) -> bool:
    """The startup load with ``appendonly yes``, then the file to append to is opened;
    False (logged) when the server must exit."""
    aof = server.aof
    if not upgrade_old_style(aof):
        return False
    manifest = aof.manifest
    if manifest.empty:
        return open_on_start(aof)
    load = AofLoad(server, aof.dirname, manifest, truncated_ok=bool(server.config["aof-load-truncated"]))
    snapshots = server.snapshots
    started = time.monotonic()
    collecting = gc.isenabled()
    try:
        total = sum(size for _, _, size in load.sizes())
        if not total:
            return open_on_start(aof)
        snapshots.loading, snapshots.loading_total, snapshots.loading_done = True, total, 0
        snapshots.loading_started = int(time.time())
        server.refresh_slow_path()
        gc.disable()  # a load makes millions of objects and no garbage (as the RDB load)
        if not await _run_in_slices(server, load, total):
            return False
    except AofLoadError as exc:
        for line in exc.lines:
            log.warning("%s", line)
        log.warning("Fatal error loading the AOF from %s. Exiting.", aof.dirname)
        return False
    finally:
        snapshots.loading = False
        server.refresh_slow_path()
        if collecting:
            gc.enable()
    gc.freeze()  # the loaded dataset is long-lived: keep it out of the collector's scans
    log.info("DB loaded from append only file: %.3f seconds", time.monotonic() - started)
    return open_on_start(aof)


async def _run_in_slices(server: Server, load: AofLoad, total: int) -> bool:
    """Drive the load, serving clients (-LOADING) every SLICE_SECONDS and logging progress
    every few seconds, as the RDB load does; False if a shutdown was asked for meanwhile
    (the load is abandoned)."""
    snapshots = server.snapshots
    stopped = server._stopped  # noqa: SLF001 - set by SIGTERM/SHUTDOWN
    steps = load.steps()
    started = last_slice = last_log = time.monotonic()
    for _ in steps:
        snapshots.loading_done = load.done_bytes
        now = time.monotonic()
        if now - last_slice >= SLICE_SECONDS:
            await asyncio.sleep(0)
            last_slice = time.monotonic()
            if stopped is not None and stopped.is_set():
                steps.close()
                log.warning("Shutdown asked for while loading: the load is abandoned")
                return False
        if now - last_log >= PROGRESS_EVERY_SECONDS:
            last_log = now
            done = load.done_bytes
            log.info("Loading the dataset: %.2f%% (%d of %d bytes, %.1f MB/s)",
                     100 * done / max(total, 1), done, total, done / (now - started) / 1e6)  # fmt: skip
    return True


def load_sync(server: Server, dirname: str, manifest: Manifest, truncated_ok: bool = True) -> AofLoad:
    """Run a load to the end without an event loop (tests and tools)."""
    load = AofLoad(server, dirname, manifest, truncated_ok=truncated_ok)
    for _ in load.steps():
        pass
    return load
