"""The redis.* functions a script calls back into Python for: redis.call and redis.pcall
(Redis's scriptCall checks, in its order, then the command through the script client),
redis.log, sha1hex, setresp, set_repl, acl_check_cmd.

They are Python functions, which Lua sees as C functions: an error raised from one keeps
the calling script's line even in tail position (a Lua function there would replace the
script's frame). ``RedisApi`` is a mixin of ``Scripting``, which owns the state it uses.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from magpie.commands.table import COMMANDS, DISPATCH, CommandSpec
from magpie.errors import OOM, READONLY, CommandError
from magpie.protocol.encoder import format_double
from magpie.scripting.convert import ToLua
from magpie.scripting.engine import RaisedError
from magpie.scripting.run_context import REPL_ALL, ScriptRun
from magpie.security.rules import ACL_OK, DENIED_CHANNEL, DENIED_CMD, DENIED_KEY, user_check

if TYPE_CHECKING:
    from magpie.scripting.functions import Functions
    from magpie.server.connection import Client
    from magpie.server.server import Server

log = logging.getLogger("magpie")

_ACL_REASONS = {
    DENIED_CMD: "can't run this command or subcommand",
    DENIED_KEY: "can't access at least one of the keys mentioned in the command arguments",
    DENIED_CHANNEL: "can't publish to the channel mentioned in the command",
}
_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING)


class RedisApi:
    """The Python side of the sandbox's redis table (see the module doc)."""

    server: Server
    run: ScriptRun | None
    to_lua: ToLua
    functions: Functions
    client: Client  # (Scripting's: the script client commands run as)


    def call(self, *args: object) -> object:
        """redis.call: the reply as Lua sees it; an error reply raises it in Lua."""
        run = self.run
        if run is not None and run.plain and not run.read_only and run.repl == REPL_ALL and args:
            # The common case first: string arguments, a plain command, nothing that can refuse it.
            spec = DISPATCH.get(args[0]) if args[0].__class__ is bytes else None
            if (
                spec is not None
                and spec.script_ok
                and spec.handler is not None
                and not spec.subcommands
                and spec.min_args <= len(args) <= spec.max_args
            ):
                for arg in args:
                    if arg.__class__ is not bytes:
                        break
                else:
                    if spec.is_write:
                        run.write_dirty = True
                    client = self.client
                    reply = client.call(spec, list(args))
                    cls = reply.__class__
                    if cls is bytes or cls is int:
                        return reply
                    to_lua = self.to_lua if run.eval_mode else self.functions.to_lua  # the run's interpreter
                    if cls is CommandError:
                        self.server.count_error(reply.message)  # type: ignore[attr-defined]
                        raise RaisedError(to_lua.error(reply.message))  # type: ignore[attr-defined]
                    return to_lua.convert(reply, client.resp)
        ok, value = self._call(args)
        if ok:
            return value
        raise RaisedError(value)

    def pcall(self, *args: object) -> object:
        """redis.pcall: the reply as Lua sees it, errors as their table."""
        return self._call(args)[1]

    @staticmethod
    def unwrap(error: object) -> object:
        """The Lua value of an error a Python function raised (a Redis error table)."""
        if isinstance(error, RaisedError):
            return error.table
        log.error("error in a function called from a script: %r", error)
        return f"internal error: {type(error).__name__}".encode()

    def _call(self, args: tuple[object, ...]) -> tuple[bool, object]:
        run = self.run
        if run is None:
            return False, self._error("redis.call/pcall can only be called inside a script invocation")
        argv = _argv(args)
        if argv is None:
            if not args:
                return False, self._error("Please specify at least one argument for this redis lib call")
            return False, self._error("Lua redis lib command arguments must be strings or integers")
        to_lua = self.to_lua if run.eval_mode else self.functions.to_lua  # the run's interpreter
        spec = DISPATCH.get(argv[0])
        if spec is None or spec.subcommands:
            spec = _lookup(argv)
        if (
            run.plain
            and spec is not None
            and spec.handler is not None
            and spec.min_args <= len(argv) <= spec.max_args
            and spec.script_ok
            and not run.read_only
        ):
            refusal = None  # (the common case: nothing else can refuse it)
        else:
            refusal = self._call_refusal(run, spec, argv)
        if refusal is not None:
            message = _with_code(refusal)
            self.server.count_error(message)
            if spec is not None:
                spec.rejected_calls += 1
            return False, to_lua.error(message)
        assert spec is not None
        if spec.is_write:
            run.write_dirty = True
        client = self.client
        if run.repl != REPL_ALL:
            propagation = self.server.propagation
            propagation.targets = run.repl
            try:
                reply = client.call(spec, argv)
            finally:
                propagation.targets = REPL_ALL
        else:
            reply = client.call(spec, argv)
        cls = reply.__class__
        if cls is bytes or cls is int:
            return True, reply
        if cls is CommandError:
            self.server.count_error(reply.message)  # type: ignore[attr-defined]
            return False, to_lua.error(reply.message)  # type: ignore[attr-defined]
        return True, to_lua.convert(reply, client.resp)

    def _to_lua(self) -> ToLua:
        """The converter of the interpreter running now: EVAL's, or the functions' during an
        FCALL or a library's load (a Lua value cannot cross lupa runtimes)."""
        run = self.run
        if run is not None:
            return self.to_lua if run.eval_mode else self.functions.to_lua
        return self.functions.to_lua if self.functions.loading else self.to_lua

    def _error(self, text: str) -> object:
        return self._to_lua().error(_with_code(text))

    def _call_refusal(self, run: ScriptRun, spec: CommandSpec | None, argv: list[bytes]) -> str | None:
        """Redis's scriptCall checks, in its order."""
        if spec is None:
            return "Unknown Redis command called from script"
        if not spec.arity_ok(len(argv)) or spec.handler is None:
            return "Wrong number of args calling Redis command from script"
        if "noscript" in spec.flags:
            return "This Redis command is not allowed from script"
        server = self.server
        link = server.replication.link
        if (
            link is not None
            and not link.connected
            and not server.config["replica-serve-stale-data"]
            and "stale" not in spec.flags
        ):
            return "Can not execute the command on a stale replica"
        user = run.caller.user
        if user.fast_check is not None:
            result, index = user_check(user, spec, argv)
            if result != ACL_OK:
                server.acl.log_denied(run.caller, result, index, spec, argv, b"lua")
                return "The user executing the script " + _ACL_REASONS.get(result, "lacking the permissions for the command")
        writes = spec.is_write
        if run.read_only and (writes or "may_replicate" in spec.flags):
            return "Write commands are not allowed from read-only scripts."
        if writes and not run.write_dirty:
            if link is not None and server.config["replica-read-only"] and not run.obeyed:
                return READONLY
            if server.writes_refused is not None:
                return server.writes_refused
            if server.replication.write_denial is not None:
                return server.replication.write_denial
        if (
            not run.allow_oom
            and run.oom_at_start
            and not run.obeyed
            and not run.write_dirty
            and "denyoom" in spec.flags
        ):
            return OOM
        return None

    def log(self, *args: object) -> None:
        """redis.log(level, ...): the arguments that are strings or numbers, joined."""
        if len(args) < 2:
            raise RaisedError(self._error("redis.log() requires two arguments or more."))
        level = _lua_number(args[0])
        if level is None:
            raise RaisedError(self._error("First argument must be a number (log level)."))
        level = int(level)
        if not 0 <= level <= 3:
            raise RaisedError(self._error("Invalid debug level."))
        parts = [_lua_string(arg) for arg in args[1:]]
        text = b" ".join(part for part in parts if part is not None)
        log.log(_LOG_LEVELS[level], "%s", text.decode("utf-8", "replace"))

    def sha1hex(self, *args: object) -> bytes:
        if len(args) != 1:
            raise RaisedError(self._error("wrong number of arguments"))
        return hashlib.sha1(_lua_string(args[0]) or b"").hexdigest().encode()

    def setresp(self, *args: object) -> None:
        if self.run is None:
            raise RaisedError(self._error("redis.setresp can only be called inside a script invocation"))
        if len(args) != 1:
            raise RaisedError(self._error("redis.setresp() requires one argument."))
        resp = int(_lua_number(args[0]) or 0)
        if resp not in (2, 3):
            raise RaisedError(self._error("ERR RESP version must be 2 or 3."))  # ("RESP" is no code)
        self.client.set_protocol(resp)

    def set_repl(self, *args: object) -> None:
        run = self.run
        if run is None:
            raise RaisedError(self._error("redis.set_repl can only be called inside a script invocation"))
        if len(args) != 1:
            raise RaisedError(self._error("redis.set_repl() requires two arguments."))
        flags = int(_lua_number(args[0]) or 0)
        if flags & ~REPL_ALL:
            raise RaisedError(self._error("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."))
        run.repl = flags

    def acl_check(self, *args: object) -> bool:
        """redis.acl_check_cmd: may the caller's user run this command?"""
        run = self.run
        if run is None:
            raise RaisedError(self._error("redis.acl_check_cmd can only be called inside a script invocation"))
        argv = _argv(args)
        if argv is None:
            if not args:
                raise RaisedError(self._error("Please specify at least one argument for this redis lib call"))
            raise RaisedError(self._error("Lua redis lib command arguments must be strings or integers"))
        spec = _lookup(argv)
        if spec is None:
            raise RaisedError(self._error("Invalid command passed to redis.acl_check_cmd()"))
        user = run.caller.user
        return user.fast_check is None or user_check(user, spec, argv)[0] == ACL_OK


def _lua_number(value: object) -> float | None:
    """Lua's tonumber of a value (numeric strings count), or None."""
    cls = value.__class__
    if cls is int or cls is float:
        return value  # type: ignore[return-value]
    if cls is bytes:
        text = value.strip()  # type: ignore[attr-defined]
        try:
            return int(text, 16) if text[:2].lower() in (b"0x",) else float(text)
        except ValueError:
            return None
    return None


def _lua_string(value: object) -> bytes | None:
    """Lua's tostring for strings and numbers (numbers as ``%.14g``); None otherwise."""
    cls = value.__class__
    if cls is bytes:
        return value  # type: ignore[return-value]
    if cls is int or cls is float:
        return b"%.14g" % value  # type: ignore[str-bytes-safe]
    return None


def _with_code(text: str) -> str:
    """Redis's error texts without a code (most script-side ones) get ``ERR``."""
    code = text.partition(" ")[0]
    return text if code.isupper() else "ERR " + text


def _argv(args: tuple[object, ...]) -> list[bytes] | None:
    """redis.call's arguments as a command: strings as they are, numbers as ``%.17g``
    (Lua's own formatting would lose precision); None if empty or anything else is given."""
    if not args:
        return None
    argv: list[bytes] = []
    for arg in args:
        cls = arg.__class__
        if cls is bytes:
            argv.append(arg)  # type: ignore[arg-type]
        elif cls is int:
            argv.append(b"%.17g" % arg)  # type: ignore[str-bytes-safe]
        elif cls is float:  # (NaN as C prints it: -nan for 0/0)
            argv.append(format_double(arg) if arg != arg else b"%.17g" % arg)  # type: ignore[arg-type,str-bytes-safe]
        else:
            return None
    return argv


def _lookup(argv: list[bytes]) -> CommandSpec | None:
    """The command or subcommand ``argv`` names (Redis's lookupCommand)."""
    spec = DISPATCH.get(argv[0]) or COMMANDS.get(argv[0].lower())
    if spec is not None and spec.subcommands and len(argv) >= 2:
        return spec.subcommands.get(argv[1].lower())
    return spec
