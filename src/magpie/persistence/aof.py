"""The server's append-only file, as Redis 7.0 keeps it: a manifest, a base, incremental files.

States (Redis's aof_state): ``off``; ``on``; ``wait_rewrite`` after ``CONFIG SET appendonly
yes`` until the first rewrite has written a base (writes meanwhile go to a temporary
incremental file, ``temp-<appendfilename>.incr``, renamed into the manifest when the base
is ready).

A rewrite (BGREWRITEAOF, the automatic one, or the first one at runtime) forks. Before the
fork the parent writes out what it holds and opens a new incremental file, so every write
after the fork lands in a file the new manifest will list after the new base. The child
writes the base to ``temp-rewriteaof-bg-<pid>.aof``; when it exits the cron renames it into
the directory, writes the new manifest (atomically) and deletes the files it superseded.
If anything fails the old manifest stays as it was, and still describes a complete AOF.

Only one child runs at a time, BGSAVE's or ours: each side checks the other.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import time
from typing import TYPE_CHECKING

from magpie.persistence.aof_manifest import Manifest, ManifestError, write_manifest
from magpie.persistence.aof_rewrite import child_temp_name, write_base
from magpie.persistence.aof_writer import AofWriter
from magpie.persistence.children import fork_child, fsync_directory, poll_child

if TYPE_CHECKING:
    from magpie.server.connection import Client
    from magpie.server.server import Server

log = logging.getLogger("magpie")

OFF, ON, WAIT_REWRITE = "off", "on", "wait_rewrite"
#: After this many failed rewrites in a row, automatic ones back off (Redis's limit).
REWRITE_LIMIT_THRESHOLD = 3
REWRITE_LIMIT_MAX_MINUTES = 60

REWRITE_RUNNING = "ERR Background append only file rewriting already in progress"
REWRITE_FAILED = "ERR Can't execute an AOF background rewriting. Please check the server logs for more information."


class AppendOnly:
    """Owns the manifest, the writer, the rewrite child and the AOF's INFO fields."""

    def __init__(self, server: Server) -> None:
        self.server = server
        config = server.config
        self.state = ON if config["appendonly"] else OFF
        self.manifest = Manifest()
        self.writer = AofWriter()
        self.writer.skip_fsync = self._skip_fsync
        self._feeding = False
        self.child_pid: int | None = None
        self.child_started = 0.0
        self.child_preamble = True
        self.rewrite_scheduled = False
        self.rewrites = 0
        self.consecutive_failures = 0
        self.last_rewrite_ok = True
        self.last_rewrite_seconds = -1
        self.base_size = 0  # aof_rewrite_base_size: the AOF's size after the last rewrite
        self._limit_delay_minutes = 0
        self._next_rewrite_time = 0.0
        self._last_error_retry = 0.0
        self._denial: str | None = None
        self._held: list[Client] = []  # clients whose replies wait for the AOF write
        self._flush_scheduled = False
        self.configure()

    # -- configuration ------------------------------------------------------------------------

    @property
    def dirname(self) -> str:
        return str(self.server.config["appenddirname"])

    @property
    def filename(self) -> str:
        return str(self.server.config["appendfilename"])

    def path(self, name: str) -> str:
        return os.path.join(self.dirname, name)

    def ensure_dir(self) -> bool:
        """Create ``appenddirname`` if needed; False (logged as Redis logs it) if it cannot be."""
        try:
            os.makedirs(self.dirname, exist_ok=True)
        except OSError as exc:
            log.warning("Can't open or create append-only dir %s: %s", self.dirname, exc.strerror)
            return False
        return True

    @property
    def temp_incr_name(self) -> str:
        return f"temp-{self.filename}.incr"

    def configure(self) -> None:
        config = self.server.config
        self.writer.policy = str(config["appendfsync"])
        self.writer.timestamps = bool(config["aof-timestamp-enabled"])

    def config_changed(self, name: str) -> None:
        """CONFIG SET of an AOF parameter; raises ConfigError when AOF cannot be turned on."""
        if name == "appendonly":
            enabled = bool(self.server.config["appendonly"])
            if not enabled and self.state != OFF:
                self.stop()
            elif enabled and self.state == OFF and not self.start():
                from magpie.config import ConfigError

                raise ConfigError("Unable to turn on AOF. Check server logs.")
        elif name == "aof-disable-auto-gc" and not self.server.config["aof-disable-auto-gc"]:
            self.delete_history()
        self.configure()

    # -- feeding ------------------------------------------------------------------------------

    def set_feeding(self, on: bool) -> None:
        """The writer reads the propagation log while the AOF is on, and while the first
        rewrite of a runtime start runs (its writes go to the temporary incr file)."""
        if on and not self._feeding:
            self.server.propagation.attach(self.writer.pending.append)
        elif not on and self._feeding:
            self.server.propagation.detach(self.writer.pending.append)
            self.writer.pending.clear()
        self._feeding = on

    def _skip_fsync(self) -> bool:
        return bool(self.server.config["no-appendfsync-on-rewrite"]) and self.child_active()

    def child_active(self) -> bool:
        return self.child_pid is not None or self.server.snapshots.in_progress

    # -- files ----------------------------------------------------------------------------------

    def files_size(self) -> int:
        return sum(file_size(self.path(f.name)) for f in self.manifest.live_files())

    def write_base_now(self, path: str, preamble: bool) -> None:
        """Rewrite in this process (the startup base); a temp file renamed into place."""
        temp = f"temp-rewriteaof-{os.getpid()}.aof"
        self._write_base(temp, preamble)
        os.replace(temp, path)
        fsync_directory(self.dirname)

    def _write_base(self, path: str, preamble: bool) -> None:
        config, snapshots = self.server.config, self.server.snapshots
        write_base(
            path,
            self.server.keyspace,
            snapshots.aux_fields(),
            preamble=preamble,
            compress=bool(config["rdbcompression"]),
            checksum=bool(config["rdbchecksum"]),
            incremental_fsync=bool(config["aof-rewrite-incremental-fsync"]),
            timestamp=bool(config["aof-timestamp-enabled"]),
            functions=self.server.scripting.functions.libraries.codes(),
        )

    # -- turning AOF on and off at runtime ----------------------------------------------------------

    def start(self) -> bool:
        """CONFIG SET appendonly yes: the data so far goes in a base written by a rewrite."""
        self.state = WAIT_REWRITE
        if self.server.snapshots.in_progress:
            self.rewrite_scheduled = True
            log.warning("AOF was enabled but there is already another background operation. "
                        "An AOF background was scheduled to start when possible.")  # fmt: skip
        elif self.server.propagation.in_transaction:
            self.rewrite_scheduled = True
            log.warning("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.")
        else:
            if self.child_pid is not None:
                log.warning("AOF was enabled but there is already an AOF rewriting in background. "
                            "Stopping background AOF and starting a rewrite now.")  # fmt: skip
                self.kill_child()
            if not self.start_rewrite():
                self.state = OFF
                log.warning("Redis needs to enable the AOF but can't trigger a background AOF rewrite "
                            "operation. Check the above logs for more info about the error.")  # fmt: skip
                return False
        self.writer.last_fsync = int(time.time())
        self.writer.clear_errors()
        self._refresh_denial()
        return True

    def stop(self) -> None:
        """CONFIG SET appendonly no: flush, fsync and close; the files stay."""
        self.writer.fsync_now()
        self.set_feeding(False)
        self.writer.close()
        if self.state == WAIT_REWRITE:  # the first base never came: its incr file goes too
            unlink_quietly(self.path(self.temp_incr_name))
        self.state = OFF
        self.rewrite_scheduled = False
        self.kill_child()
        self._refresh_denial()

    # -- rewriting ------------------------------------------------------------------------------------

    def bgrewriteaof(self, in_exec: bool) -> str:
        """BGREWRITEAOF's reply (a status), or raise CommandError with Redis's text. Inside
        EXEC it is only scheduled: the transaction's effects are held until EXEC ends, and
        would land in the new incr file after being in the snapshot too."""
        from magpie.errors import CommandError

        if self.child_pid is not None:
            raise CommandError(REWRITE_RUNNING)
        if self.server.snapshots.in_progress or in_exec:
            self.rewrite_scheduled = True
            self.consecutive_failures = 0  # asked by hand: no back-off
            return "Background append only file rewriting scheduled"
        if self.start_rewrite():
            return "Background append only file rewriting started"
        raise CommandError(REWRITE_FAILED)

    def start_rewrite(self) -> bool:
        """Fork the rewrite child after switching to a new incr file; False (logged) if not."""
        if self.child_active():
            return False
        if not self.ensure_dir():
            self.last_rewrite_ok = False
            return False
        self.writer.flush()
        if not self._open_new_incr():
            self.last_rewrite_ok = False
            return False
        self.server.propagation.reselect()  # the new file starts with a SELECT
        self.rewrites += 1
        preamble = bool(self.server.config["aof-use-rdb-preamble"])
        try:
            pid = fork_child(lambda: self._write_base(child_temp_name(os.getpid()), preamble))
        except OSError as exc:
            self.last_rewrite_ok = False
            log.warning("Can't rewrite append only file in background: fork: %s", exc.strerror)
            return False
        self.child_pid = pid
        self.child_started = time.time()
        self.child_preamble = preamble
        self.rewrite_scheduled = False
        if self.state == WAIT_REWRITE:
            self.set_feeding(True)
        log.info("Background append only file rewriting started by pid %d", pid)
        return True

    def _open_new_incr(self) -> bool:
        """Redis's openNewIncrAofForAppend: the writes from now on go to a new file."""
        if self.state == OFF:
            return True
        new_manifest = None
        if self.state == WAIT_REWRITE:
            name = self.temp_incr_name
        else:
            new_manifest = self.manifest.copy()
            name = new_manifest.new_incr(self.filename)
        try:
            fd = os.open(self.path(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as exc:
            log.warning("Can't open the append-only file %s: %s", name, exc.strerror)
            return False
        if new_manifest is not None:
            try:
                write_manifest(self.dirname, self.filename, new_manifest)
            except OSError as exc:
                log.warning("Can't write the AOF manifest file: %s", exc.strerror)
                os.close(fd)
                return False
        log.info("Creating AOF incr file %s on background rewrite", name)
        self.writer.attach_file(fd, 0)
        self.writer.last_fsync = int(time.time())
        if new_manifest is not None:
            self.manifest = new_manifest
        return True

    def reap_child(self) -> None:
        if self.child_pid is None:
            return
        code = poll_child(self.child_pid)
        if code is not None:
            self._rewrite_done(max(code, 0), max(-code, 0))

    def _rewrite_done(self, code: int, by_signal: int) -> None:
        """Redis's backgroundRewriteDoneHandler."""
        pid = self.child_pid
        assert pid is not None
        if not by_signal and code == 0:
            log.info("Background AOF rewrite terminated with success")
            if self._install_rewrite(pid):
                self.last_rewrite_ok = True
                self.consecutive_failures = 0
                log.info("Background AOF rewrite finished successfully")
                if self.state == WAIT_REWRITE:
                    self.state = ON
            else:
                self.last_rewrite_ok = False
                self.consecutive_failures += 1
        elif not by_signal:
            self.last_rewrite_ok = False
            self.consecutive_failures += 1
            log.warning("Background AOF rewrite terminated with error")
        else:
            if by_signal != signal.SIGUSR1:  # SIGUSR1 is how the server itself stops a child
                self.last_rewrite_ok = False
                self.consecutive_failures += 1
            log.warning("Background AOF rewrite terminated by signal %d", by_signal)
        self._child_gone(pid)

    def _install_rewrite(self, pid: int) -> bool:
        temp = child_temp_name(pid)
        new_manifest = self.manifest.copy()
        base = new_manifest.new_base(self.filename, self.child_preamble)
        try:
            os.rename(temp, self.path(base))
        except OSError as exc:
            log.warning("Error trying to rename the temporary AOF base file %s into %s: %s", temp, base, exc.strerror)
            return False
        log.info("Successfully renamed the temporary AOF base file %s into %s", temp, base)
        new_incr = None
        if self.state == WAIT_REWRITE:
            new_incr = new_manifest.new_incr(self.filename)
            try:
                os.rename(self.path(self.temp_incr_name), self.path(new_incr))
            except OSError as exc:
                log.warning("Error trying to rename the temporary AOF incr file %s into %s: %s",
                            self.temp_incr_name, new_incr, exc.strerror)  # fmt: skip
                unlink_quietly(self.path(base))
                return False
            log.info("Successfully renamed the temporary AOF incr file %s into %s", self.temp_incr_name, new_incr)
        new_manifest.retire_incrs(keep_last=self.state != OFF)
        try:
            write_manifest(self.dirname, self.filename, new_manifest)
        except OSError as exc:
            log.warning("Can't write the AOF manifest file: %s", exc.strerror)
            unlink_quietly(self.path(base))
            if new_incr is not None:
                unlink_quietly(self.path(new_incr))
            return False
        self.manifest = new_manifest
        if self.state != OFF:
            self.writer.current_size = file_size(self.path(base)) + self.writer.incr_size
            self.base_size = self.writer.current_size
        self.delete_history()
        return True

    def _child_gone(self, pid: int) -> None:
        for name in (child_temp_name(pid), f"temp-rewriteaof-{pid}.aof"):
            unlink_quietly(name)
        if self.state == WAIT_REWRITE:  # the first rewrite failed: start over
            self.set_feeding(False)
            self.writer.buffer.clear()
            unlink_quietly(self.path(self.temp_incr_name))
            self.rewrite_scheduled = True
        self.last_rewrite_seconds = int(time.time() - self.child_started)
        self.child_pid = None
        gc.unfreeze()

    def kill_child(self) -> None:
        """Stop a running rewrite (SHUTDOWN, turning AOF off or on again)."""
        pid = self.child_pid
        if pid is None:
            return
        log.info("Killing running AOF rewrite child: %d", pid)
        try:
            os.kill(pid, signal.SIGUSR1)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        for name in (child_temp_name(pid), f"temp-rewriteaof-{pid}.aof"):
            unlink_quietly(name)
        self.child_pid = None
        gc.unfreeze()

    def rewrite_limited(self) -> bool:
        """Back off automatic rewrites after repeated failures: 1, 2, 4 ... 60 minutes."""
        if self.consecutive_failures < REWRITE_LIMIT_THRESHOLD:
            self._limit_delay_minutes = 0
            self._next_rewrite_time = 0.0
            return False
        now = time.time()
        if self._next_rewrite_time:
            if now < self._next_rewrite_time:
                return True
            self._next_rewrite_time = 0.0
            return False
        self._limit_delay_minutes = min(max(1, self._limit_delay_minutes * 2), REWRITE_LIMIT_MAX_MINUTES)
        self._next_rewrite_time = now + self._limit_delay_minutes * 60
        log.warning("Background AOF rewrite has repeatedly failed and triggered the limit, will retry in %d minutes",
                    self._limit_delay_minutes)  # fmt: skip
        return True

    def delete_history(self) -> None:
        """Remove the files a rewrite superseded (unless aof-disable-auto-gc)."""
        manifest = self.manifest
        if self.server.config["aof-disable-auto-gc"] or not manifest.history:
            return
        for entry in manifest.history:
            log.info("Removing the history file %s in the background", entry.name)
            unlink_quietly(self.path(entry.name))
        manifest.history = []
        try:
            write_manifest(self.dirname, self.filename, manifest)
        except OSError as exc:
            log.warning("Can't write the AOF manifest file: %s", exc.strerror)

    # -- the cron, shutdown, MISCONF ------------------------------------------------------------

    def cron(self) -> None:
        """Once a tick: reap the child, start scheduled or automatic rewrites, fsync an idle
        everysec AOF, retry a failed write once a second."""
        self.reap_child()
        if self.server.loading:
            return
        config = self.server.config
        if not self.child_active():
            if self.rewrite_scheduled and not self.rewrite_limited():
                self.start_rewrite()
            elif self.state == ON:
                percent = int(config["auto-aof-rewrite-percentage"])  # type: ignore[call-overload]
                size = self.writer.current_size
                if percent and size > int(config["auto-aof-rewrite-min-size"]):  # type: ignore[call-overload]
                    growth = size * 100 // (self.base_size or 1) - 100
                    if growth >= percent and not self.rewrite_limited():
                        log.info("Starting automatic rewriting of AOF on %d%% growth", growth)
                        self.start_rewrite()
        if self.state != OFF:
            now = time.monotonic()
            if self.writer.write_error is None or now - self._last_error_retry >= 1.0:
                self._last_error_retry = now
                self.writer.flush()
        self._refresh_denial()

    def prepare_shutdown(self, force: bool) -> bool:
        """Redis's prepareForShutdown for the AOF: stop a rewrite (unless it writes the only
        copy of the data and FORCE was not given), then flush and fsync."""
        if self.child_pid is not None:
            if self.state == WAIT_REWRITE:
                if not force:
                    log.warning("Writing initial AOF, can't exit.")
                    return False
                log.warning("Writing initial AOF. Exit anyway.")
            log.warning("There is a child rewriting the AOF. Killing it!")
            self.kill_child()
        if self.state != OFF:
            log.info("Calling fsync() on the AOF file.")
            self.writer.fsync_now()
        return True

    def denied_message(self) -> str | None:
        """-MISCONF while an AOF write or fsync is failing (Redis's DISK_ERROR_TYPE_AOF)."""
        if self.state == OFF:
            return None
        error = self.writer.write_error if self.writer.write_error is not None else self.writer.fsync_error
        if error is None:
            return None
        return f"MISCONF Errors writing to the AOF file: {os.strerror(error)}"

    def _refresh_denial(self) -> None:
        message = self.denied_message()
        if message != self._denial:
            self._denial = message
            self.server.refresh_slow_path()

    def flush_before_replies(self) -> None:
        """Called before replies are written: the writes they acknowledge go first."""
        if not self.writer.flush():
            self._refresh_denial()

    def hold_replies(self, client: Client) -> None:
        """A batch ends with writes for the AOF: its replies wait in ``client.out`` until the
        AOF has them. One write (and under ``always`` one fsync) then serves every client
        that ran commands in this turn of the event loop, as Redis's beforeSleep does."""
        self._held.append(client)
        if not self._flush_scheduled:
            loop = self.server.loop
            if loop is None:  # no event loop (in-process use): write at once
                self._flush_held()
                return
            self._flush_scheduled = True
            loop.call_soon(self._flush_held)

    def _flush_held(self) -> None:
        self._flush_scheduled = False
        self.flush_before_replies()
        held, self._held = self._held, []
        for client in held:
            if client.out and not client.closing:
                client.flush()

    # -- INFO ----------------------------------------------------------------------------------

    def info_fields(self) -> dict[str, object]:
        writer = self.writer
        running = self.child_pid is not None
        write_ok = writer.write_error is None and writer.fsync_error is None
        return {
            "aof_enabled": int(self.state != OFF),
            "aof_rewrite_in_progress": int(running),
            "aof_rewrite_scheduled": int(self.rewrite_scheduled),
            "aof_last_rewrite_time_sec": self.last_rewrite_seconds,
            "aof_current_rewrite_time_sec": int(time.time() - self.child_started) if running else -1,
            "aof_last_bgrewrite_status": "ok" if self.last_rewrite_ok else "err",
            "aof_rewrites": self.rewrites,
            "aof_rewrites_consecutive_failures": self.consecutive_failures,
            "aof_last_write_status": "ok" if write_ok else "err",
            "aof_last_cow_size": 0,
        }

    def info_extra_fields(self) -> dict[str, object]:
        """The fields Redis adds when ``appendonly`` is set."""
        if not self.server.config["appendonly"]:
            return {}
        writer = self.writer
        return {
            "aof_current_size": writer.current_size,
            "aof_base_size": self.base_size,
            "aof_pending_rewrite": int(self.rewrite_scheduled),
            "aof_buffer_length": writer.buffered_bytes(),
            "aof_pending_bio_fsync": writer.worker.pending,
            "aof_delayed_fsync": 0,
        }


def file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


__all__ = ["AppendOnly", "ManifestError", "OFF", "ON", "WAIT_REWRITE"]
