"""Running scripts: the run context, redis.call, and a busy script handing the loop back.

A script runs atomically, on the event loop, like any command. Its commands go through
``Client.call`` on one script client (Redis's fake Lua client) after Redis's checks for
commands run from scripts; their effects reach the AOF and replicas wrapped in
MULTI/EXEC, so nothing downstream ever runs Lua.

A script that runs past ``busy-reply-threshold`` keeps running, but from then on the
instruction hook hands the event loop back (the command runs in a greenlet, which the
hook switches out of) so other clients are answered ``-BUSY`` and SCRIPT KILL, FUNCTION
KILL and SHUTDOWN NOSAVE can be served: Redis's processEventsWhileBlocked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from greenlet import getcurrent, greenlet

from magpie.commands.args import parse_int
from magpie.commands.table import CommandSpec
from magpie.errors import (
    BUSY_EVAL,
    BUSY_FUNCTION,
    MASTERDOWN,
    NOREPLICAS,
    NOSCRIPT,
    NOTBUSY,
    UNKILLABLE_MASTER,
    UNKILLABLE_WRITTEN,
    CommandError,
)
from magpie.protocol.replies import SUSPENDED
from magpie.scripting.convert import ToLua, reply_from_lua
from magpie.scripting.engine import LuaEngine, lua_type
from magpie.scripting.functions import Functions
from magpie.scripting.random48 import Random48
from magpie.scripting.redis_api import RedisApi
from magpie.scripting.run_context import ScriptRun
from magpie.scripting.scripts import (
    ALLOW_OOM,
    ALLOW_STALE,
    NO_WRITES,
    Script,
    ScriptCache,
    ScriptError,
    parse_shebang,
    sha1_of,
)
from magpie.server.connection import Client

if TYPE_CHECKING:
    from magpie.server.server import Server

log = logging.getLogger("magpie")

_MISCONF_RDB = (
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
    "to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts."
)
_MISCONF_AOF = (
    "MISCONF Redis is configured to persist data to AOF, but it's currently unable to persist "
    "to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts. AOF error: "
)


class ScriptClient(Client):
    """The client a script's commands run as (Redis's Lua client): no connection, never
    blocks; each run takes the caller's database and user."""

    __slots__ = ()

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.in_exec = True  # blocking commands answer at once instead of blocking
        self.addr = "lua"  # what MONITOR shows


class CommandGreenlet(greenlet):
    """A worker that runs a command (or a script) so that a script inside it can hand the
    loop back (see module doc). Workers are kept and reused: creating a greenlet costs far
    more than switching to one."""

    def __init__(self) -> None:
        super().__init__(self._work)
        self.caller: Client | None = None

    def _work(self, caller: Client, function: Callable[..., object], args: tuple[object, ...]) -> None:
        while True:
            self.caller = caller
            reply = function(*args)
            self.caller = None
            caller, function, args = self.parent.switch(reply)


class Scripting(RedisApi):
    """The server's scripting: the interpreter, EVAL's cache, the running script."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cache = ScriptCache()
        self.run: ScriptRun | None = None
        #: True once the running script passed busy-reply-threshold: others get -BUSY.
        self.busy = False
        self._when_idle: list[Callable[[], None]] = []
        self._client: ScriptClient | None = None
        self._variants: dict[tuple[str, frozenset[str]], CommandSpec] = {}
        self._workers: list[CommandGreenlet] = []  # idle ones
        self.rng = Random48()
        self.engine = LuaEngine(self)
        self.to_lua = ToLua(self.engine.table_from)
        #: FUNCTION libraries, in their own interpreter (as Redis keeps them).
        self.functions = Functions(self)

    @property
    def client(self) -> ScriptClient:
        if self._client is None:
            self._client = ScriptClient(self.server)
        return self._client

    # -- EVAL ----------------------------------------------------------------------------------

    def load(self, body: bytes) -> Script:
        """SCRIPT LOAD and EVAL's first run of a body; ScriptError if it does not compile."""
        return self.cache.add(sha1_of(body), body, self.engine.compile)

    def flush(self) -> None:
        """SCRIPT FLUSH: forget every script and start a new interpreter (math.random's
        state, ``rng``, carries over, as Redis's is outside Lua)."""
        self.cache.clear()
        self.engine = LuaEngine(self)
        self.to_lua = ToLua(self.engine.table_from)

    def eval(self, caller: Client, argv: list[bytes], evalsha: bool, read_only: bool) -> object:
        """EVAL, EVALSHA and their _RO forms."""
        target = argv[1]
        if evalsha and len(target) != 40:
            return CommandError(NOSCRIPT)
        raw = argv[2]
        numkeys = int(raw) if raw.isdigit() and len(raw) < 10 else parse_int(raw)
        if numkeys > len(argv) - 3:
            return CommandError("ERR Number of keys can't be greater than number of args")
        if numkeys < 0:
            return CommandError("ERR Number of keys can't be negative")
        if evalsha:
            script = self.cache.get(target)
            if script is None:
                return CommandError(NOSCRIPT)
        else:
            try:
                script = self.load(target)
            except ScriptError as exc:
                return CommandError(exc.message)
        flags = script.flags
        if flags is None:
            if self.server.replication.link is not None:  # (only a stale replica refuses)
                refusal = self.start_refusal(caller, flags, read_only)
                if refusal is not None:
                    return CommandError(refusal)
            run = ScriptRun(caller, script.sha, True, read_only, False)
        else:
            refusal = self.start_refusal(caller, flags, read_only)
            if refusal is not None:
                return CommandError(refusal)
            run = ScriptRun(caller, script.sha, True, read_only or NO_WRITES in flags, ALLOW_OOM in flags)
        return self.execute(run, self.engine.run_eval, script.function, numkeys, *argv[3:])

    def start_refusal(self, caller: Client, flags: frozenset[str] | None, read_only: bool) -> str | None:
        """Redis's scriptPrepareForRun: what a script's declared flags forbid right now."""
        server = self.server
        replication = server.replication
        link = replication.link
        stale = link is not None and not link.connected and not server.config["replica-serve-stale-data"]
        if flags is None:  # compatibility mode: each command is checked as it runs
            return MASTERDOWN if stale else None
        obeyed = caller.is_master
        if stale and ALLOW_STALE not in flags:
            return (
                "MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' "
                "and 'allow-stale' flag is not set on the script."
            )
        if NO_WRITES not in flags:
            if link is not None and server.config["replica-read-only"] and not obeyed:
                return "READONLY Can not run script with write flag on readonly replica"
            if server.writes_refused is not None and not obeyed:
                refused = server.writes_refused
                if "AOF" in refused:
                    return _MISCONF_AOF + refused.rsplit(": ", 1)[-1]
                return _MISCONF_RDB
            if read_only:
                return "ERR Can not execute a script with write flag using *_ro command."
            if replication.write_denial is not None:
                return NOREPLICAS
        evictor = server.evictor
        if evictor.maxmemory and evictor.over_limit and not (flags & {ALLOW_OOM, NO_WRITES}):
            return (
                "OOM allow-oom flag is not set on the script, can not run it when used memory "
                "> 'maxmemory'"
            )
        return None

    def effective_spec(self, spec: CommandSpec, argv: list[bytes]) -> CommandSpec:
        """The command as the dispatcher's checks should see it: for a script with a
        shebang, its declared flags replace EVAL's (no-writes: not a write; else a write,
        denied under OOM unless allow-oom; allow-stale: runs on a stale replica)."""
        if len(argv) < 2:
            return spec
        flags = self.declared_flags(spec, argv[1])
        if flags is None:
            return spec
        key = (spec.name, flags)
        variant = self._variants.get(key)
        if variant is None:
            cmd_flags = set(spec.flags) - {"stale", "denyoom", "write", "may_replicate"}
            if not flags & {ALLOW_OOM, NO_WRITES}:
                cmd_flags.add("denyoom")
            if NO_WRITES not in flags:
                cmd_flags.add("write")
            if ALLOW_STALE in flags:
                cmd_flags.add("stale")
            variant = self._variants[key] = replace(spec, flags=frozenset(cmd_flags))
        return variant

    def declared_flags(self, spec: CommandSpec, target: bytes) -> frozenset[str] | None:
        """The flags the script EVAL names declares (None: none, or not known yet)."""
        if spec.name.startswith("evalsha"):
            script = self.cache.get(target) if len(target) == 40 else None
            return script.flags if script is not None else None
        if spec.name.startswith("eval"):
            script = self.cache.get(sha1_of(target).encode())
            if script is not None:
                return script.flags
            try:
                return parse_shebang(target)[0]
            except ScriptError:
                return None
        return self.function_flags(target)

    def function_flags(self, name: bytes) -> frozenset[str] | None:
        """FCALL's function's declared flags (functions always declare theirs)."""
        return self.functions.flags_of(name)

    # -- a run ---------------------------------------------------------------------------------

    def execute(self, run: ScriptRun, invoke: Callable[..., tuple[bool, object]], *args: object) -> object:
        """Run ``invoke(*args)`` (a call into the sandbox answering (ok, result)) as ``run``;
        the reply for the caller."""
        server = self.server
        caller = run.caller
        client = self.client
        if client.db is not caller.db:
            client.select(caller.db_index)
        client.user = caller.user
        if client.resp != 2:
            client.set_protocol(2)  # scripts start in RESP2; redis.setresp changes it
        evictor = server.evictor
        if evictor.maxmemory:
            run.oom_at_start = evictor.over_limit
        # (slow_path: a replica link, min-replicas, -MISCONF, maxmemory, a pause...)
        run.plain = not server.slow_path and caller.user.fast_check is None
        propagation = server.propagation
        replication = server.replication
        fed = replication.fed
        self.run = run
        held = propagation.active  # (nothing reads the log: nothing to hold)
        if held:
            propagation.begin_transaction()
        try:
            ok, result = invoke(*args)
        finally:
            if held:
                propagation.end_transaction()
            self.run = None
            if run.timed_out:
                self._busy_over()
            if run.killed:
                (self.engine if run.eval_mode else self.functions.engine).internals.reset_hook()
        if replication.fed != fed:
            caller.woff = replication.fed  # what WAIT waits for: the script's effects
        if ok:
            cls = result.__class__
            if cls is int or cls is bytes:
                return result
            return reply_from_lua(result, client.resp)
        return self._error_reply(result, run.name)

    def _error_reply(self, error: object, name: str) -> CommandError:
        """``-<err> script: <name>, on <source>:<line>.`` from the error handler's table."""
        if lua_type(error) != "table":
            text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
            return CommandError(f"ERR Error running script {name}, {text[:100]}")
        message = error[b"err"]
        if isinstance(message, bytes):
            text = message.decode("utf-8", "surrogateescape")
        else:  # error({}): redis-server 7.0 crashes on it
            text = "ERR " + (str(message) if message is not None else "unknown error")
        source, line = error[b"source"], error[b"line"]
        if source is not None and line is not None:
            text += f" script: {name}, on {source.decode('utf-8', 'replace')}:{line}."
        return CommandError(text)

    # -- busy scripts ---------------------------------------------------------------------------

    def hook(self) -> bytes | None:
        """Every 100,000 instructions: past the threshold, hand the loop back; answer the
        text that ends the script once it is killed."""
        run = self.run
        if run is None:
            return None
        if not run.timed_out and not run.killed:
            elapsed = int((time.monotonic() - run.started) * 1000)
            threshold = int(self.server.config["busy-reply-threshold"])  # type: ignore[call-overload]
            if threshold <= 0 or elapsed < threshold:
                return None
            log.warning(
                "Slow script detected: still in execution after %d milliseconds. You can try "
                "killing the script using the %s command. Script name is: %s.",
                elapsed, "SCRIPT KILL" if run.eval_mode else "FUNCTION KILL", run.name,
            )  # fmt: skip
            run.timed_out = True
            self.busy = True
            self.server.refresh_slow_path()
        if not run.killed:
            self._hand_back_loop()
        if run.killed:
            if not run.kill_logged:
                run.kill_logged = True
                log.warning("Lua script killed by user with SCRIPT KILL.")
            # (Redis 7.0's Lua hook says SCRIPT KILL whichever command killed it, functions too)
            return b"Script killed by user with SCRIPT KILL..."
        return None

    def _hand_back_loop(self) -> None:
        current = getcurrent()
        loop = self.server.loop
        if not isinstance(current, CommandGreenlet) or loop is None:
            return  # (a replica's stream, the AOF): nothing to serve meanwhile
        loop.call_soon(self._resume, current)
        current.parent.switch(SUSPENDED)

    def _resume(self, worker: CommandGreenlet) -> None:
        caller = worker.caller
        reply = worker.switch()
        if reply is not SUSPENDED:  # the command ended: its worker is free again
            self._workers.append(worker)
            assert caller is not None
            caller.suspended_done(reply)

    def run_yielding(self, caller: Client, function: Callable[..., object], *args: object) -> object:
        """``function(*args)`` for ``caller``, run so that a script inside can hand the loop
        back: SUSPENDED if it did (the reply comes by ``caller.suspended_done``). Inside a
        worker already (EVAL in EXEC), or while busy (refused anyway), it just runs."""
        if self.busy or getcurrent().parent is not None:
            return function(*args)
        workers = self._workers
        worker = workers.pop() if workers else CommandGreenlet()
        reply = worker.switch(caller, function, args)
        if reply is not SUSPENDED:
            workers.append(worker)
        return reply

    def execute_yielding(self, client: Client, argv: list[bytes]) -> object:
        """A command that runs scripts inside its own loop (EXEC), through every check."""
        return self.run_yielding(client, client.execute, argv)

    def _busy_over(self) -> None:
        self.busy = False
        self.server.refresh_slow_path()
        waiting, self._when_idle = self._when_idle, []
        loop = self.server.loop
        for callback in waiting:
            if loop is not None:
                loop.call_soon(callback)
            else:
                callback()

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once no script is busy (a replica's stream waits for it)."""
        if callback not in self._when_idle:
            self._when_idle.append(callback)

    def busy_error(self) -> str:
        run = self.run
        return BUSY_EVAL if run is None or run.eval_mode else BUSY_FUNCTION

    def kill(self, eval_mode: bool) -> str | None:
        """SCRIPT KILL / FUNCTION KILL: None if the script will stop, else the refusal."""
        run = self.run
        if run is None:
            return NOTBUSY
        if run.obeyed:
            return UNKILLABLE_MASTER
        if run.write_dirty:
            return UNKILLABLE_WRITTEN
        if eval_mode and not run.eval_mode:
            return BUSY_FUNCTION
        if not eval_mode and run.eval_mode:
            return BUSY_EVAL
        run.killed = True
        return None

    def memory(self) -> int:
        return self.engine.memory()
