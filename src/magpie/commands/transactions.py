"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

Queueing happens in the dispatcher (a client in MULTI gets ``QUEUED`` for every command but
these and QUIT/RESET); EXEC runs the queue through the same ``call`` path as any command,
with propagation held so the transaction reaches replicas and the AOF as MULTI ... EXEC.
"""

from __future__ import annotations

from functools import partial

from magpie.commands.table import command
from magpie.errors import CommandError
from magpie.protocol.replies import NULL_ARRAY, OK

cmd = partial(command, "transactions", fast=False)


@cmd("multi", 1, "noscript loading stale fast allow_busy", since="1.2.0", summary="Starts a transaction.")
def multi(client, args):
    if client.in_multi:
        raise CommandError("ERR MULTI calls can not be nested")
    client.in_multi = True
    client.refresh_mode()
    return OK


@cmd("discard", 1, "noscript loading stale fast allow_busy", since="2.0.0", summary="Discards a transaction.")
def discard(client, args):
    if not client.in_multi:
        raise CommandError("ERR DISCARD without MULTI")
    client.discard_transaction()
    return OK


@cmd("exec", 1, "noscript loading stale skip_slowlog", since="1.2.0", runs_scripts=True,
     summary="Executes all commands in a transaction.")
def exec_(client, args):
    if not client.in_multi:
        raise CommandError("ERR EXEC without MULTI")
    queue, doomed, dirty = client.multi_queue, client.multi_error, client.dirty_cas
    client.discard_transaction()
    if doomed:
        raise CommandError("EXECABORT Transaction discarded because of previous errors.")
    if dirty:
        return NULL_ARRAY
    server = client.server
    replies: list[object] = []
    client.in_exec = True
    server.propagation.begin_transaction()
    try:
        for spec, argv in queue:
            reply = client.call_queued(spec, argv)
            if reply.__class__ is CommandError:
                server.count_error(reply.message)  # type: ignore[attr-defined]
            replies.append(reply)
    finally:
        client.in_exec = False
        server.propagation.end_transaction()
    if any(spec.is_write for spec, _ in queue):
        client.woff = server.replication.fed  # what WAIT waits for: the whole transaction
    client.refresh_mode()  # SELECT, SUBSCRIBE... may have run inside
    return replies


@cmd("watch", -2, "noscript loading stale fast allow_busy", (1, -1, 1), since="2.2.0", summary="Monitors changes to keys to determine the execution of a transaction.")
def watch(client, args):
    if client.in_multi:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    registry = client.server.watches
    for key in args[1:]:
        registry.watch(client, client.db_index, key)
    return OK


@cmd("unwatch", 1, "noscript loading stale fast allow_busy", since="2.2.0", summary="Forgets about watched keys of a transaction.")
def unwatch(client, args):
    client.server.watches.unwatch_all(client)
    return OK
