"""One script run's context (Redis's scriptRunCtx), shared by the runner and redis.call."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from magpie.server.connection import Client

#: redis.set_repl's flags: where a script's writes are propagated.
REPL_AOF, REPL_REPLICA, REPL_ALL = 1, 2, 3


class ScriptRun:
    """One invocation's context (Redis's scriptRunCtx)."""

    __slots__ = ("caller", "name", "eval_mode", "read_only", "allow_oom", "oom_at_start",
                 "write_dirty", "killed", "kill_logged", "timed_out", "started", "repl", "obeyed",
                 "plain")  # fmt: skip

    def __init__(self, caller: Client, name: str, eval_mode: bool, read_only: bool, allow_oom: bool) -> None:
        self.caller = caller
        self.name = name
        self.eval_mode = eval_mode
        self.read_only = read_only
        self.allow_oom = allow_oom
        self.oom_at_start = False
        self.write_dirty = False  # a write command was run: SCRIPT KILL is refused
        self.killed = False
        self.kill_logged = False
        self.timed_out = False
        self.started = time.monotonic()
        self.repl = REPL_ALL
        self.obeyed = caller.is_master  # (Redis's mustObeyClient: its primary's stream)
        #: Nothing but arity and noscript can refuse this run's commands (set by execute).
        self.plain = False
