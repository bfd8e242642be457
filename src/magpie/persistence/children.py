"""What the saving processes share: the forked child's exit status, collected without
blocking, and the directory fsync that makes a rename durable."""

from __future__ import annotations

import os


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
