"""RDB snapshots of a running server: SAVE, BGSAVE in a forked child, save points, the
startup load, and the status INFO persistence reports.

Every save writes ``temp-<pid>.rdb`` in the working directory (``dir``), fsyncs it and
renames it over ``dbfilename``, then fsyncs the directory: a crash or a full disk in the
middle leaves the previous snapshot as it was.

A background save forks. ``gc.freeze()`` just before the fork moves every object out of
the collector's sight, so neither process's collections write to the pages they share;
the parent unfreezes once the child is gone. The child never logs through ``logging``
(another thread may hold its lock at the fork); the parent logs the outcome.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from magpie import REDIS_VERSION
from magpie.persistence.children import fork_child, fsync_directory, poll_child
from magpie.persistence.rdb_format import RdbError
from magpie.persistence.rdb_reader import LoadStats, RdbLoad
from magpie.persistence.rdb_writer import write_rdb
from magpie.scripting.functions import FunctionError
from magpie.store.clock import CLOCK
from magpie.store.keyspace import Keyspace

if TYPE_CHECKING:
    from magpie.server.server import Server

log = logging.getLogger("magpie")

#: After a failed background save, save points wait this long before trying again (Redis).
BGSAVE_RETRY_DELAY = 5

MISCONF = (
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
    "to disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the "
    "RDB error."
)


def debug_delay(usec: int, keys: int = 1024) -> None:
    """Redis's debugDelay for ``keys`` keys at once (rdb-key-save-delay, key-load-delay):
    ``usec`` microseconds a key, or for a negative -n one microsecond every n keys."""
    if usec:
        time.sleep((usec * keys if usec > 0 else keys / -usec) / 1e6)


class Snapshots:
    """The server's RDB state and operations (one per server)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.last_save_time = int(time.time())
        self.dirty_at_last_save = 0
        self.last_bgsave_ok = True
        self.last_bgsave_try = 0.0
        self.last_bgsave_seconds = -1
        #: INFO's rdb_saves: SAVE commands and background saves started, as Redis counts
        #: (stat_rdb_saves), whatever their outcome; SHUTDOWN's and DEBUG RELOAD's saves not.
        self.saves = 0
        self.child_pid: int | None = None
        self.child_started = 0.0
        self.child_temp = ""
        self.child_dirty = 0  # the change counter when the child forked
        #: "disk" (a file) or "socket" (diskless replication: a pipe to the primary's relay)
        self.child_kind = "disk"
        self.child_for_replication = False
        #: Called with (kind, ok) when a child started for replicas ends.
        self.replication_child_done: Callable[[str, bool], None] = lambda kind, ok: None
        #: The history a snapshot belongs to (replication's repl-id/repl-offset aux fields).
        self.replication_aux: Callable[[], Iterable[tuple[bytes, bytes]]] = lambda: ()
        self.scheduled = False
        self.last_load = LoadStats()
        #: What else a snapshot carries (the search indexes): ``magpie-`` aux fields out,
        #: and the loaded ones back in once the keys are in place.
        self.extra_aux: Callable[[], Iterable[tuple[bytes, bytes]]] = lambda: ()
        self.restore_extra: Callable[[list[tuple[bytes, bytes]]], None] = lambda aux: None
        # -- loading, for INFO and -LOADING
        self.loading = False
        self.loading_started = 0
        self.loading_total = 0
        self.loading_done = 0

    # -- what goes in a file --------------------------------------------------------------

    def aux_fields(self) -> Iterator[tuple[bytes, bytes]]:
        """Redis's aux fields, then ``extra_aux``'s ``magpie-`` ones."""
        server = self.server
        yield b"redis-ver", REDIS_VERSION.encode()
        yield b"redis-bits", b"64"
        yield b"ctime", str(int(time.time())).encode()
        yield b"used-mem", str(server.evictor.memory.used).encode()
        yield from self.replication_aux()
        yield b"aof-base", b"0"
        yield from self.extra_aux()

    @property
    def path(self) -> str:
        return str(self.server.config["dbfilename"])

    def write_file(self, path: str) -> int:
        """Write the dataset to ``path`` through a temp file, fsync and rename; return keys."""
        temp = f"temp-{os.getpid()}.rdb"
        try:
            with open(temp, "wb") as out:
                keys = self.write_stream(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
            fsync_directory(os.path.dirname(path))
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
        return keys

    # -- SAVE ----------------------------------------------------------------------------

    def save(self) -> bool:
        """A synchronous save (SAVE, SHUTDOWN, DEBUG RELOAD, FLUSHALL); False if it failed
        (logged). A failure leaves rdb_last_bgsave_status alone, as Redis's rdbSave does:
        only a background save (or a successful save) sets it."""
        try:
            self.write_file(self.path)
        except OSError as exc:
            log.warning("Write error saving DB on disk (temp-%d.rdb -> %s in server root dir %s): %s",
                        os.getpid(), self.path, os.getcwd(), exc.strerror)  # fmt: skip
            return False
        log.info("DB saved on disk")
        self.dirty_at_last_save = self.server.keyspace.signals.dirty
        self.last_save_time = int(time.time())
        self.last_bgsave_ok = True
        return True

    @property
    def changes_since_save(self) -> int:
        return self.server.keyspace.signals.dirty - self.dirty_at_last_save

    # -- BGSAVE --------------------------------------------------------------------------

    @property
    def in_progress(self) -> bool:
        return self.child_pid is not None

    def background_save(self, for_replication: bool = False) -> bool:
        """Fork a child that writes the snapshot; False if the fork failed."""
        self.last_bgsave_try = time.time()
        self.saves += 1
        dirty = self.server.keyspace.signals.dirty
        try:
            pid = fork_child(lambda: self.write_file(self.path))
        except OSError as exc:
            self.last_bgsave_ok = False
            log.warning("Can't save in background: fork: %s", exc.strerror)
            return False
        self._child_started(pid, "disk", for_replication)
        self.child_temp = f"temp-{pid}.rdb"
        self.child_dirty = dirty
        log.info("Background saving started by pid %d", pid)
        return True

    def background_save_to_pipe(self, eof_mark: bytes) -> int:
        """Diskless replication: fork a child that writes the snapshot into a pipe, framed
        as ``$EOF:<mark>\r\n<rdb><mark>``; return the pipe's read end (non-blocking),
        or -1 if the pipe or the fork failed (logged)."""
        try:
            read_fd, write_fd = os.pipe()
        except OSError as exc:
            log.warning("Can't save in background: pipe: %s", exc.strerror)
            return -1

        def work() -> None:
            os.close(read_fd)
            with os.fdopen(write_fd, "wb", buffering=1 << 16) as out:
                out.write(b"$EOF:" + eof_mark + b"\r\n")
                self.write_stream(out)
                out.write(eof_mark)

        try:
            pid = fork_child(work)
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            log.warning("Can't save in background: fork: %s", exc.strerror)
            return -1
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self._child_started(pid, "socket", True)
        self.child_temp = ""
        log.info("Background RDB transfer started by pid %d", pid)
        return read_fd

    def write_stream(self, out: BinaryIO) -> int:
        """The snapshot into ``out`` as it stands (in a child: the fork's copy)."""
        config = self.server.config
        delay = int(config["rdb-key-save-delay"])  # type: ignore[call-overload]
        return write_rdb(
            out,
            self.server.keyspace,
            self.aux_fields(),
            compress=bool(config["rdbcompression"]),
            checksum=bool(config["rdbchecksum"]),
            progress=(lambda _: debug_delay(delay)) if delay else None,
            functions=self.server.scripting.functions.libraries.codes(),
        )

    def _child_started(self, pid: int, kind: str, for_replication: bool) -> None:
        self.child_pid = pid
        self.child_started = time.monotonic()
        self.child_kind = kind
        self.child_for_replication = for_replication
        self.scheduled = False

    def reap_child(self, wait: bool = False) -> None:
        """Called from the cron: collect a finished child and record its outcome (``wait``:
        the child is known to be ending, block until it has)."""
        if self.child_pid is None:
            return
        if wait:
            try:
                _, status = os.waitpid(self.child_pid, 0)
                code: int | None = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                code = 1
        else:
            code = poll_child(self.child_pid)
        if code is not None:
            self._child_done(code)

    def _child_done(self, code: int) -> None:
        self.child_pid = None
        gc.unfreeze()
        kind, for_replication = self.child_kind, self.child_for_replication
        self.child_for_replication = False
        if kind == "socket":  # a diskless transfer: no file, no save to account for
            if code > 0:
                log.warning("Background transfer error")
            elif code < 0:
                log.warning("Background transfer terminated by signal %d", -code)
            else:
                log.info("Background RDB transfer terminated with success")
            self.replication_child_done(kind, code == 0)
            self.server.refresh_slow_path()
            return
        self.last_bgsave_seconds = int(time.monotonic() - self.child_started)
        if code == 0:
            log.info("Background saving terminated with success")
            self.dirty_at_last_save = self.child_dirty
            self.last_save_time = int(time.time())
            self.last_bgsave_ok = True
        else:
            if code < 0:
                log.warning("Background saving terminated by signal %d", -code)
            else:
                log.warning("Background saving error")
            # SIGUSR1 is how a child is stopped on purpose: no error (Redis's rule)
            if code != -signal.SIGUSR1:
                self.last_bgsave_ok = False
            try:
                os.unlink(self.child_temp)
            except OSError:
                pass
        self.server.refresh_slow_path()
        if for_replication:
            self.replication_child_done(kind, code == 0)

    def kill_child(self) -> None:
        """SHUTDOWN, DEBUG RELOAD and FLUSHALL stop a background save (its file is removed)."""
        if self.child_pid is None:
            return
        try:
            os.kill(self.child_pid, signal.SIGUSR1)
            os.waitpid(self.child_pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self.child_pid = None
        gc.unfreeze()
        if self.child_temp:
            try:
                os.unlink(self.child_temp)
            except OSError:
                pass
        if self.child_for_replication:
            self.child_for_replication = False
            self.replication_child_done(self.child_kind, False)

    def reset_after_flushall(self) -> None:
        """FLUSHALL, as Redis's flushAllDataAndResetRDB: a running background save is
        stopped, and with save points set the (now empty) dataset is saved at once, so a
        restart cannot bring the flushed keys back."""
        self.kill_child()
        if self.server.config["save"]:
            self.save()
            self.server.refresh_slow_path()

    # -- the cron ------------------------------------------------------------------------

    def cron(self) -> None:
        """Once a tick: reap the child, run a scheduled BGSAVE, fire save points."""
        self.reap_child()
        if self.child_pid is not None or self.loading or self.server.aof.child_pid is not None:
            return
        now = time.time()
        retry_ok = self.last_bgsave_ok or now - self.last_bgsave_try > BGSAVE_RETRY_DELAY
        if self.scheduled:
            if retry_ok:
                self.background_save()
            return
        changes = self.changes_since_save
        if not changes:
            return
        elapsed = now - self.last_save_time
        for seconds, needed in self.server.config["save"]:  # type: ignore[attr-defined]
            if changes >= needed and elapsed > seconds and retry_ok:
                log.info("%d changes in %d seconds. Saving...", needed, seconds)
                self.background_save()
                return

    # -- MISCONF -------------------------------------------------------------------------

    @property
    def denies_writes(self) -> bool:
        """Redis's writeCommandsDeniedByDiskError for RDB: a failed save with save points set."""
        config = self.server.config
        return not self.last_bgsave_ok and bool(config["stop-writes-on-bgsave-error"]) and bool(config["save"])

    # -- loading -------------------------------------------------------------------------

    def load_steps(self, path: str) -> Iterator[None]:
        """Load ``path`` into the server (all or nothing), yielding now and then so the
        event loop can answer clients; raise RdbError (the server's data untouched)."""
        with open(path, "rb") as fh:
            data = fh.read()
        yield from self.load_bytes(data)

    def load_bytes(self, data: bytes, keep_expired: bool = False) -> Iterator[None]:
        """``load_steps`` of a snapshot in memory; ``keep_expired`` (a replica) keeps keys
        already past their time, for the primary's DEL."""
        server = self.server
        staging = Keyspace(len(server.keyspace))
        self.loading, self.loading_total, self.loading_done = True, len(data), 0
        self.loading_started = int(time.time())
        server.refresh_slow_path()
        collecting = gc.isenabled()
        gc.disable()  # a load makes millions of objects and no garbage: collections only cost
        try:
            load = RdbLoad(data, staging, server.config.values, now_ms=None if keep_expired else CLOCK.update())
            delay = int(server.config["key-load-delay"])  # type: ignore[call-overload]
            for position in load.steps():  # a step every 1024 keys
                self.loading_done = position
                debug_delay(delay)
                yield
            self.install(staging, load.stats.functions)
            self.restore_extra([(k, v) for k, v in load.stats.aux if k.startswith(b"magpie-")])
            self.last_load = load.stats
        finally:
            self.loading = False
            server.refresh_slow_path()
            if collecting:
                gc.enable()
        gc.freeze()  # the loaded dataset is long-lived: keep it out of the collector's scans

    def install(self, staging: Keyspace, functions: Iterable[bytes] = ()) -> None:
        """Replace the server's databases and function libraries with the loaded ones
        (``functions``: each library's code). The libraries are loaded first: one that
        fails raises RdbError with nothing replaced."""
        try:
            libraries = self.server.scripting.functions.load_all(functions)
        except FunctionError as exc:
            raise RdbError(f"Failed loading library, {exc.message.removeprefix('ERR ')}") from None
        self.server.scripting.functions.install(libraries)
        keyspace = self.server.keyspace
        dirty = keyspace.signals.dirty
        keyspace.flush_all()  # WATCHed keys are touched and the search indexes dropped
        for db, loaded in zip(keyspace.dbs, staging.dbs, strict=True):
            db.data, db.expires, db.expiry_heap = loaded.data, loaded.expires, loaded.expiry_heap
        self.server.evictor.dataset_replaced()
        # a load is not a change to save: the changes counted before it still count (DEBUG
        # RELOAD NOSAVE keeps rdb_changes_since_last_save, as Redis does)
        self.dirty_at_last_save += keyspace.signals.dirty - dirty


__all__ = ["MISCONF", "RdbError", "Snapshots"]
