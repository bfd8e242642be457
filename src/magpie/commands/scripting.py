"""EVAL, EVALSHA, their _RO forms and SCRIPT: Lua scripts, run by ``magpie.scripting``."""

from __future__ import annotations

from functools import partial

from magpie.commands.args import numkeys_positions
from magpie.commands.table import COMMANDS, command, container
from magpie.errors import CommandError
from magpie.protocol.replies import OK
from magpie.scripting.scripts import ScriptError

cmd = partial(command, "scripting")


def _script_keys(argv: list[bytes]) -> list[int]:
    return numkeys_positions(argv, 2)


def _eval(evalsha: bool, read_only: bool):  # noqa: ANN202 - a handler factory
    def handler(client, args):
        server = client.server
        if server.monitors:  # before the script's own commands, as Redis shows them
            server.feed_monitors(client, COMMANDS[args[0].lower()], args, forced=True)
        scripting = server.scripting
        return scripting.run_yielding(client, scripting.eval, client, args, evalsha, read_only)

    return handler


_EVAL_FLAGS = "noscript skip_monitor may_replicate no_mandatory_keys stale"
_EVAL_RO_FLAGS = "noscript skip_monitor no_mandatory_keys stale readonly"
for _name, _sha, _ro, _flags, _since, _summary in (
    ("eval", False, False, _EVAL_FLAGS, "2.6.0", "Executes a server-side Lua script."),
    ("evalsha", True, False, _EVAL_FLAGS, "2.6.0", "Executes a server-side Lua script by SHA1 digest."),
    ("eval_ro", False, True, _EVAL_RO_FLAGS, "7.0.0", "Executes a read-only server-side Lua script."),
    ("evalsha_ro", True, True, _EVAL_RO_FLAGS, "7.0.0", "Executes a read-only server-side Lua script by SHA1 digest."),
):
    # (fast path allowed: a script cannot change its caller's connection; a busy one
    # hands back SUSPENDED, which the dispatcher knows)
    # (key specs as Redis's: RW for EVAL's keys, RO for EVAL_RO's, for ACL %R~/%W~)
    cmd(_name, -3, _flags, keys_finder=_script_keys, since=_since, summary=_summary,
        script_flags=True, key_access="R" if _ro else "RW")(_eval(_sha, _ro))  # fmt: skip


container("scripting", "script", summary="A container for Lua scripts management commands.", since="2.6.0")

#: SCRIPT HELP, as Redis words it.
_SCRIPT_HELP = (
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
)


@cmd("help", 2, "loading stale", parent="script", summary="Returns helpful text about the different subcommands.")
def script_help(client, args):
    return list(_SCRIPT_HELP)


@cmd("load", 3, "noscript stale", parent="script", since="2.6.0",
     summary="Loads a server-side Lua script to the script cache.")  # fmt: skip
def script_load(client, args):
    try:
        return client.server.scripting.load(args[2]).sha.encode()
    except ScriptError as exc:
        raise CommandError(exc.message) from None


@cmd("exists", -3, "noscript", parent="script", since="2.6.0",
     summary="Determines whether server-side Lua scripts exist in the script cache.")  # fmt: skip
def script_exists(client, args):
    cache = client.server.scripting.cache
    return [int(cache.get(sha) is not None) for sha in args[2:]]


@cmd("flush", -2, "noscript", parent="script", since="2.6.0",
     summary="Removes all server-side Lua scripts from the script cache.")  # fmt: skip
def script_flush(client, args):
    if len(args) > 3 or (len(args) == 3 and args[2].lower() not in (b"async", b"sync")):
        raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    client.server.scripting.flush()
    return OK


@cmd("kill", 2, "noscript allow_busy", parent="script", since="2.6.0",
     summary="Terminates a server-side Lua script during execution.")  # fmt: skip
def script_kill(client, args):
    refusal = client.server.scripting.kill(eval_mode=True)
    if refusal is not None:
        raise CommandError(refusal)
    return OK


@cmd("debug", 3, "noscript", parent="script", since="3.2.0",
     summary="Sets the debug mode of server-side Lua scripts.")  # fmt: skip
def script_debug(client, args):
    mode = args[2].lower()
    if mode == b"no":
        return OK
    if mode in (b"yes", b"sync"):
        raise CommandError("ERR Magpie has no Lua debugger: SCRIPT DEBUG YES|SYNC is not supported")
    raise CommandError("ERR Use SCRIPT DEBUG YES/SYNC/NO")
