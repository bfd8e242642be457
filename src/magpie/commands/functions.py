"""FUNCTION and FCALL: Lua function libraries (Redis 7.0's functions)."""

from __future__ import annotations

from functools import partial

from magpie.commands.table import command, container
from magpie.errors import CommandError
from magpie.protocol.replies import OK

cmd = partial(command, "scripting")

container("scripting", "function", summary="A container for function commands.", since="7.0.0")


@cmd("flush", -2, "write noscript", parent="function", since="7.0.0",
     summary="Deletes all libraries and functions.")  # fmt: skip
def function_flush(client, args):
    if len(args) > 3 or (len(args) == 3 and args[2].lower() not in (b"async", b"sync")):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    return OK
