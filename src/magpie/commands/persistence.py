"""Persistence commands: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, DUMP and RESTORE."""

from __future__ import annotations

from functools import partial

from magpie import errors
from magpie.commands.args import parse_int
from magpie.commands.table import command
from magpie.errors import CommandError
from magpie.persistence.dump_payload import (
    BAD_VERSION_OR_CHECKSUM,
    dump_value,
    load_value,
    payload_is_valid,
)
from magpie.protocol.replies import OK
from magpie.store.clock import CLOCK

cmd = partial(command, "server")
BGSAVE_RUNNING = "ERR Background save already in progress"
OTHER_CHILD = ("ERR Another child process is active (AOF?): can't BGSAVE right now. "
               "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")  # fmt: skip
BUSYKEY = "BUSYKEY Target key name already exists."
_DEL, _ABSTTL = b"DEL", b"ABSTTL"


@cmd("save", 1, "no_async_loading admin noscript no_multi", fast=False,
     summary="Synchronously saves the database(s) to disk.")  # fmt: skip
def save(client, args):
    snapshots = client.server.snapshots
    if snapshots.in_progress:
        raise CommandError(BGSAVE_RUNNING)
    snapshots.saves += 1  # counted whatever the outcome, as Redis's saveCommand counts
    if not snapshots.save():
        client.server.refresh_slow_path()
        raise CommandError("ERR")
    client.server.refresh_slow_path()
    return OK


@cmd("bgsave", -1, "no_async_loading admin noscript", fast=False,
     summary="Asynchronously saves the database(s) to disk.")  # fmt: skip
def bgsave(client, args):
    schedule = False
    if len(args) > 1:
        if len(args) == 2 and args[1].lower() == b"schedule":
            schedule = True
        else:
            raise CommandError(errors.SYNTAX)
    server = client.server
    snapshots = server.snapshots
    if snapshots.in_progress:  # even with SCHEDULE, as in Redis
        raise CommandError(BGSAVE_RUNNING)
    if client.in_exec or server.aof.child_pid is not None:  # never fork inside a transaction
        if not schedule and not client.in_exec:
            raise CommandError(OTHER_CHILD)
        snapshots.scheduled = True  # the cron starts it once the other child is gone
        return "Background saving scheduled"
    if not snapshots.background_save():
        client.server.refresh_slow_path()
        raise CommandError("ERR")
    return "Background saving started"


@cmd("bgrewriteaof", 1, "no_async_loading admin noscript", fast=False,
     summary="Asynchronously rewrites the append-only file to disk.")  # fmt: skip
def bgrewriteaof(client, args):
    return client.server.aof.bgrewriteaof(client.in_exec)


@cmd("lastsave", 1, "loading stale fast", acl="@admin @dangerous",
     summary="Returns the Unix timestamp of the last successful save to disk.")  # fmt: skip
def lastsave(client, args):
    return client.server.snapshots.last_save_time


# -- DUMP / RESTORE ----------------------------------------------------------------------


@command("generic", "dump", 2, "readonly", (1, 1, 1), since="2.6.0",
         summary="Returns a serialized representation of the value stored at a key.")  # fmt: skip
def dump(client, args):
    value = client.db.lookup_read(args[1])
    if value is None:
        return None
    return dump_value(value, bool(client.server.config["rdbcompression"]))


@command("generic", "restore", -4, "write denyoom", (1, 1, 1), acl="@dangerous", since="2.6.0",
         key_access="W", summary="Creates a key from the serialized representation of a value.")  # fmt: skip
def restore(client, args):
    key = args[1]
    replace = absttl = False
    idle = freq = None
    i = 4
    while i < len(args):
        opt = args[i].lower()
        more = len(args) - i - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and freq is None:
            idle = parse_int(args[i + 1])
            if idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            i += 1
        elif opt == b"freq" and more >= 1 and idle is None:
            freq = parse_int(args[i + 1])
            if not 0 <= freq <= 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    db = client.db
    if not replace and db.lookup(key) is not None:
        raise CommandError(BUSYKEY)
    ttl = parse_int(args[2])
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    payload = args[3]
    if not payload_is_valid(payload):
        raise CommandError(BAD_VERSION_OR_CHECKSUM)
    try:
        value = load_value(payload, client.server.config.values)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    deleted = replace and db.pop(key) is not None
    if ttl and not absttl:
        ttl += CLOCK.ms
    if ttl and ttl <= CLOCK.ms:
        if deleted:
            db.changed(key, "del")
            client.propagate_as = [[_DEL, key]]
        return OK
    if ttl:  # before the store, so the one "restore" signal sees the key volatile (its size)
        db.set_expire(key, ttl)
    db.set(key, value, "restore", keep_ttl=True)  # the key is gone or new: no TTL to keep
    if ttl and not absttl:
        client.propagate_as = [[*args[:2], str(ttl).encode(), *args[3:], _ABSTTL]]
    return OK
