"""Appending to the AOF: the buffer the propagation log fills, its writes, and fsync policies.

The writer is a propagation consumer: ``feed`` only keeps the argv list (one list append on
the hot path). ``flush`` encodes what was fed since the last flush and writes it, once per
batch of requests and always before the batch's replies go out, so a client never sees a
reply to a write the operating system has not received. Then, by ``appendfsync``:

- ``always``: fsync before returning (the replies wait for the disk);
- ``everysec``: about once a second a background thread fsyncs (Redis's bio thread);
- ``no``: the kernel decides.

A failed write keeps the data in the buffer and marks the writer failed; the server then
refuses writes with ``-MISCONF`` and the cron retries the write once a second, as Redis
does. With ``always`` a failed write or fsync ends the process: the replies for those
writes may already be computed, and acknowledging them without the disk is not allowed.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import threading
import time

from magpie.persistence.aof_format import encode_commands

log = logging.getLogger("magpie")

_sync = getattr(os, "fdatasync", os.fsync)  # Redis's redis_fsync is fdatasync on Linux
#: Seconds between two logs of the same write error (Redis's AOF_WRITE_LOG_ERROR_RATE).
WRITE_ERROR_LOG_EVERY = 30


class FsyncWorker:
    """One daemon thread that fsyncs (and closes) AOF descriptors in order, off the loop.

    ``submitted`` is only touched by the loop's thread and ``done`` only by the worker,
    so ``pending`` needs no lock. An fsync failure is kept in ``error`` (an errno) for
    the loop to pick up, until an fsync succeeds or the AOF is reopened.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self.submitted = 0
        self.done = 0
        self.error: int | None = None
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        return self.submitted - self.done

    def submit(self, job: str, fd: int) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="aof-fsync", daemon=True)
            self._thread.start()
        self.submitted += 1
        self.jobs.put((job, fd))

    def _run(self) -> None:
        while True:
            job, fd = self.jobs.get()
            try:
                if job == "stop":
                    return
                _sync(fd)
                if job == "fsync":
                    self.error = None  # a later fsync that works clears the error, as in Redis
            except OSError as exc:
                if job != "close" or exc.errno != errno.EBADF:
                    self.error = exc.errno or errno.EIO
            finally:
                if job == "close":
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                self.done += 1

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for the queued jobs (shutdown, or before closing on the loop's thread)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.001)


class AofWriter:
    """The open incremental file and everything not yet written to it."""

    def __init__(self) -> None:
        self.pending: list[list[bytes]] = []  # fed since the last flush, not encoded yet
        self.buffer = bytearray()  # encoded, not written (a failed or postponed write)
        self.fd = -1
        self.policy = "everysec"
        self.timestamps = False  # aof-timestamp-enabled: "#TS:<unix time>" lines
        self._last_ts = 0
        #: Bytes in the current incremental file, and how many of them are known fsynced.
        self.incr_size = 0
        self.fsynced_size = 0
        #: What the AOF occupies in all (base + incrs): auto-rewrite compares it with its size after the last rewrite.
        self.current_size = 0
        self.last_fsync = 0  # unix second of the last fsync started
        self.write_error: int | None = None  # errno of the last failed write, None when fine
        self._error_logged = 0.0
        self.worker = FsyncWorker()
        #: Set by the owner: True while a child process runs (no-appendfsync-on-rewrite).
        self.skip_fsync = lambda: False
        self.on_fatal = lambda: os._exit(1)

    # -- the propagation consumer ------------------------------------------------------------

    def feed(self, argv: list[bytes]) -> None:
        self.pending.append(argv)

    # -- writing -----------------------------------------------------------------------------

    def buffered_bytes(self) -> int:
        """INFO's aof_buffer_length: what is waiting to be written."""
        return len(self.buffer) + (len(encode_commands(self.pending)) if self.pending else 0)

    def flush(self) -> bool:
        """Write what was fed (and fsync under ``always``); False if the write failed."""
        if self.pending:
            if self.timestamps:
                now = int(time.time())
                if now > self._last_ts:
                    self._last_ts = now
                    self.buffer += b"#TS:%d\r\n" % now
            data = encode_commands(self.pending)
            self.pending.clear()
            if self.buffer:
                self.buffer += data
                data = bytes(self.buffer)
                self.buffer.clear()
        elif self.buffer:
            data = bytes(self.buffer)
            self.buffer.clear()
        else:
            self._maybe_fsync()
            return self.write_error is None
        if self.fd < 0:
            return True  # not open (waiting for a rewrite): the rewrite will carry it
        written = self._write_all(data)
        if written < len(data):
            self._write_failed(data, written)
            return False
        if self.write_error is not None:
            log.warning("AOF write error looks solved, Redis can write again.")
            self.write_error = None
        self.incr_size += written
        self.current_size += written
        self._maybe_fsync()
        return True

    def _write_all(self, data: bytes) -> int:
        fd = self.fd
        view = memoryview(data)
        total = 0
        while total < len(data):
            try:
                n = os.write(fd, view[total:])
            except InterruptedError:
                continue
            except OSError as exc:
                self._last_errno = exc.errno or errno.EIO
                return total
            total += n
        return total

    _last_errno = 0

    def _write_failed(self, data: bytes, written: int) -> None:
        now = time.monotonic()
        can_log = now - self._error_logged > WRITE_ERROR_LOG_EVERY
        if can_log:
            self._error_logged = now
        if written == 0:
            if can_log:
                log.warning("Error writing to the AOF file: %s", os.strerror(self._last_errno))
            error = self._last_errno
        else:
            if can_log:
                log.warning("Short write while writing to the AOF file: (nwritten=%d, expected=%d)", written, len(data))
            try:
                os.ftruncate(self.fd, self.incr_size)
                written = 0  # the partial write is gone: the whole batch stays buffered
            except OSError as exc:
                if can_log:
                    log.warning("Could not remove short write from the append-only file.  Redis may refuse "
                                "to load the AOF the next time it starts.  ftruncate: %s", exc.strerror)  # fmt: skip
            error = self._last_errno or errno.ENOSPC
        if self.policy == "always":
            log.warning("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...")
            self.on_fatal()
        self.write_error = error
        self.incr_size += written
        self.current_size += written
        self.buffer[:0] = data[written:]

    def _maybe_fsync(self) -> None:
        if self.incr_size == self.fsynced_size or self.fd < 0:
            return
        if self.skip_fsync():
            return
        if self.policy == "always":
            try:
                _sync(self.fd)
            except OSError as exc:
                log.warning("Can't persist AOF for fsync error when the AOF fsync policy is 'always': %s. Exiting...",
                            exc.strerror)  # fmt: skip
                self.on_fatal()
            self.fsynced_size = self.incr_size
            self.last_fsync = int(time.time())
        elif self.policy == "everysec":
            now = int(time.time())
            if now > self.last_fsync and not self.worker.pending:
                self.worker.submit("fsync", self.fd)
                self.fsynced_size = self.incr_size
                self.last_fsync = now

    def fsync_now(self) -> None:
        """Flush and fsync on the loop's thread (shutdown, turning the AOF off)."""
        self.flush()
        if self.fd >= 0:
            self.worker.drain()
            try:
                _sync(self.fd)
                self.fsynced_size = self.incr_size
                self.last_fsync = int(time.time())
            except OSError as exc:
                log.warning("Fail to fsync the AOF file: %s.", exc.strerror)

    # -- files -------------------------------------------------------------------------------

    def attach_file(self, fd: int, size: int) -> None:
        """Append to ``fd`` from now on; the previous file is fsynced and closed in the
        background (what was fed before this call was flushed there by the caller)."""
        if self.fd >= 0:
            self.worker.submit("close", self.fd)
        self.fd = fd
        self.incr_size = self.fsynced_size = size

    def close(self) -> None:
        if self.fd >= 0:
            self.worker.submit("close", self.fd)
            self.fd = -1
        self.pending.clear()
        self.buffer.clear()
        self.incr_size = self.fsynced_size = 0

    @property
    def fsync_error(self) -> int | None:
        return self.worker.error

    def clear_errors(self) -> None:
        """Reopening the AOF forgets earlier errors, as Redis's startAppendOnly does."""
        if self.worker.error is not None:
            log.warning("AOF reopen, just ignore the AOF fsync error in bio job")
            self.worker.error = None
        if self.write_error is not None:
            log.warning("AOF reopen, just ignore the last error.")
            self.write_error = None
