"""FUNCTION and FCALL: Lua function libraries (Redis 7.0's functions), kept and run by
``magpie.scripting.functions``.

LOAD, DELETE, FLUSH and RESTORE change the dataset (they count as changes for save points),
so the dispatcher propagates them as sent to the AOF and replicas.
"""

from __future__ import annotations

import time
from functools import partial

from magpie.commands.args import numkeys_positions
from magpie.commands.table import COMMANDS, command, container
from magpie.errors import BUSY_EVAL, CommandError
from magpie.patterns import matches
from magpie.persistence.dump_payload import BAD_VERSION_OR_CHECKSUM, payload_is_valid
from magpie.protocol.replies import OK, RespSet
from magpie.scripting.functions import ENGINE_NAME, LOAD_TIMEOUT, RESTORE_POLICIES, FunctionError
from magpie.scripting.scripts import SCRIPT_FLAGS

cmd = partial(command, "scripting")


def _c_text(raw: bytes) -> str:
    """A C string's text (Redis formats these arguments with %s: a NUL ends them)."""
    end = raw.find(b"\0")
    return (raw if end < 0 else raw[:end]).decode("utf-8", "surrogateescape")


def _syntax_error(args: list[bytes]) -> CommandError:
    """Redis's addReplySubcommandSyntaxError."""
    return CommandError(
        f"ERR unknown subcommand or wrong number of arguments for '{_c_text(args[1])[:128]}'. "
        "Try FUNCTION HELP."
    )


def _changed(client) -> None:  # noqa: ANN001 - Client
    """The libraries changed: a change to the dataset, so it is saved and propagated."""
    client.server.keyspace.signals.dirty += 1


# -- FCALL ----------------------------------------------------------------------------------


def _function_keys(argv: list[bytes]) -> list[int]:
    return numkeys_positions(argv, 2)


def _fcall(read_only: bool):  # noqa: ANN202 - a handler factory
    def handler(client, args):
        server = client.server
        if server.monitors:  # before the function's own commands, as Redis shows them
            server.feed_monitors(client, COMMANDS[args[0].lower()], args, forced=True)
        scripting = server.scripting
        return scripting.run_yielding(client, scripting.functions.call, client, args, read_only)

    return handler


# (as EVAL: the fast path is allowed, the function's flags stand in for FCALL's own)
cmd("fcall", -3, "noscript skip_monitor may_replicate no_mandatory_keys stale", keys_finder=_function_keys,
    key_access="RW", since="7.0.0", summary="Invokes a function.", script_flags=True)(_fcall(False))  # fmt: skip
cmd("fcall_ro", -3, "noscript skip_monitor no_mandatory_keys stale readonly", keys_finder=_function_keys,
    key_access="R", since="7.0.0", summary="Invokes a read-only function.", script_flags=True)(_fcall(True))  # fmt: skip


# -- FUNCTION -------------------------------------------------------------------------------

container("scripting", "function", summary="A container for function commands.", since="7.0.0")


@cmd("load", -3, "write denyoom noscript", parent="function", since="7.0.0",
     summary="Creates a library.")  # fmt: skip
def function_load(client, args):
    replace = False
    for option in args[2:-1]:
        if option.lower() != b"replace":
            raise CommandError(f"ERR Unknown option given: {_c_text(option)}")
        replace = True
    # A primary's stream (and a replayed AOF, which has no connection) loads what was
    # accepted once, however long it takes, as Redis does for clients it must obey.
    obeyed = client.is_master or client.transport is None
    try:
        name = client.server.scripting.functions.create(args[-1], replace, 0 if obeyed else LOAD_TIMEOUT)
    except FunctionError as exc:
        raise CommandError(exc.message) from None
    _changed(client)
    return name


@cmd("delete", 3, "write noscript", parent="function", since="7.0.0",
     summary="Deletes a library and its functions.")  # fmt: skip
def function_delete(client, args):
    try:
        client.server.scripting.functions.delete(args[2])
    except FunctionError as exc:
        raise CommandError(exc.message) from None
    _changed(client)
    return OK


@cmd("flush", -2, "write noscript", parent="function", since="7.0.0",
     summary="Deletes all libraries and functions.")  # fmt: skip
def function_flush(client, args):
    if len(args) > 3:
        raise _syntax_error(args)
    if len(args) == 3 and args[2].lower() not in (b"async", b"sync"):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    client.server.scripting.functions.flush()
    _changed(client)
    return OK


@cmd("list", -2, "noscript", parent="function", since="7.0.0",
     summary="Returns information about all libraries.")  # fmt: skip
def function_list(client, args):
    with_code = False
    pattern: bytes | None = None
    i = 2
    while i < len(args):
        arg = args[i]
        if not with_code and arg.lower() == b"withcode":
            with_code = True
        elif pattern is None and arg.lower() == b"libraryname":
            if i >= len(args) - 1:
                raise CommandError("ERR library name argument was not given")
            i += 1
            pattern = args[i]
        else:
            raise CommandError(f"ERR Unknown argument {_c_text(arg)}")
        i += 1
    reply = []
    for library in client.server.scripting.functions.libraries.libraries.values():
        if pattern is not None and not matches(pattern, library.name, nocase=True):
            continue
        entry: dict[bytes, object] = {
            b"library_name": library.name,
            b"engine": ENGINE_NAME,
            b"functions": [
                {
                    b"name": fn.name,
                    b"description": fn.description,
                    b"flags": RespSet(flag for flag in SCRIPT_FLAGS if flag in fn.flags),
                }
                for fn in library.functions.values()
            ],
        }
        if with_code:
            entry[b"library_code"] = library.code
        reply.append(entry)
    return reply


@cmd("dump", 2, "noscript", parent="function", since="7.0.0",
     summary="Dumps all libraries into a serialized binary payload.")  # fmt: skip
def function_dump(client, args):
    return client.server.scripting.functions.dump(bool(client.server.config["rdbcompression"]))


@cmd("restore", -3, "write denyoom noscript", parent="function", since="7.0.0",
     summary="Restores all libraries from a payload.")  # fmt: skip
def function_restore(client, args):
    if len(args) > 4:
        raise _syntax_error(args)
    policy = args[3].lower() if len(args) == 4 else b"append"
    if policy not in RESTORE_POLICIES:
        raise CommandError("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    if not payload_is_valid(args[2]):
        raise CommandError(BAD_VERSION_OR_CHECKSUM)
    try:
        client.server.scripting.functions.restore(args[2], policy)
    except FunctionError as exc:
        raise CommandError(exc.message) from None
    _changed(client)
    return OK


@cmd("stats", 2, "noscript allow_busy", parent="function", since="7.0.0",
     summary="Returns information about a function during execution.")  # fmt: skip
def function_stats(client, args):
    scripting = client.server.scripting
    run = scripting.run
    if run is not None and run.eval_mode:
        raise CommandError(BUSY_EVAL)
    functions = scripting.functions
    running = None
    if run is not None:
        running = {
            b"name": run.name.encode(),
            b"command": list(functions.running or ()),
            b"duration_ms": int((time.monotonic() - run.started) * 1000),
        }
    libraries = functions.libraries
    return {
        b"running_script": running,
        b"engines": {ENGINE_NAME: {b"libraries_count": len(libraries), b"functions_count": libraries.function_count}},
    }


@cmd("kill", 2, "noscript allow_busy", parent="function", since="7.0.0",
     summary="Terminates a function during execution.")  # fmt: skip
def function_kill(client, args):
    refusal = client.server.scripting.kill(eval_mode=False)
    if refusal is not None:
        raise CommandError(refusal)
    return OK


_HELP = (
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
)


@cmd("help", 2, "loading stale", parent="function", since="7.0.0",
     summary="Returns helpful text about the different subcommands.")  # fmt: skip
def function_help(client, args):
    """Redis's own text (it says more than the summaries the generic HELP lists)."""
    return [line.encode() for line in _HELP]
