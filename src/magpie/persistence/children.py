"""What the saving processes share: forking the child that writes, its exit status
collected without blocking, and the directory fsync that makes a rename durable."""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Callable

#: Descriptors a child closes first: the listening sockets, so a server killed while a
#: child saves frees its port at once, as Redis's closeChildUnusedResourceAfterFork does.
_CLOSED_IN_CHILDREN: list[int] = []


def close_in_children(fds: list[int]) -> None:
    _CLOSED_IN_CHILDREN[:] = fds


def fork_child(work: Callable[[], object]) -> int:
    """Fork a child that runs ``work`` and exits 0 (1 if it raised), without any cleanup;
    return its pid. ``gc.freeze()`` first keeps both processes' collections off the pages
    they share (the parent unfreezes when the child is gone). The child never logs through
    ``logging``: another thread may have held its lock at the fork. OSError if the fork
    fails (the freeze is undone)."""
    gc.freeze()
    try:
        pid = os.fork()
    except OSError:
        gc.unfreeze()
        raise
    if pid == 0:
        code = 1
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            signal.signal(sig, signal.SIG_DFL)  # the parent's loop handlers do not run here
        for fd in _CLOSED_IN_CHILDREN:
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            work()
            code = 0
        except BaseException:  # noqa: BLE001 - the parent reports the failure
            pass
        os._exit(code)
    return pid


def poll_child(pid: int) -> int | None:
    """None while ``pid`` runs; else its exit code (negative: the signal that ended it).
    A child already reaped elsewhere counts as failed (1)."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 1
    return None if done == 0 else os.waitstatus_to_exitcode(status)


def fsync_directory(path: str) -> None:
    """After a rename into ``path``: without this a crash may forget the rename."""
    fd = os.open(path or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
