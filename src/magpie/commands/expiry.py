"""Key expiry: EXPIRE and friends, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST."""

from __future__ import annotations

from functools import partial

from magpie import errors
from magpie.commands.args import INT64_MAX, INT64_MIN, parse_int
from magpie.commands.table import command
from magpie.errors import CommandError
from magpie.store.clock import CLOCK

cmd = partial(command, "generic")
_PEXPIREAT, _DEL = b"PEXPIREAT", b"DEL"


def _expire(client, args, unit_ms: int, relative: bool, name: str) -> int:
    key = args[1]
    nx = xx = gt = lt = False
    for raw in args[3:]:
        opt = raw.lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt == b"gt":
            gt = True
        elif opt == b"lt":
            lt = True
        else:
            raise CommandError(f"ERR Unsupported option {raw.decode(errors='replace')}")
    if nx and (xx or gt or lt):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if gt and lt:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    when = parse_int(args[2])  # after the options, as Redis checks them
    if unit_ms == 1000:
        if when > INT64_MAX // 1000 or when < -(-INT64_MIN // 1000):  # C division truncates
            raise CommandError(errors.invalid_expire(name))
        when *= 1000
    if relative:
        if when > INT64_MAX - CLOCK.ms:
            raise CommandError(errors.invalid_expire(name))
        when += CLOCK.ms
    db = client.db
    if db.lookup(key) is None:
        return 0
    current = db.get_expire(key)
    if nx and current is not None:
        return 0
    if xx and current is None:
        return 0
    if gt and (current is None or when <= current):
        return 0
    if lt and current is not None and when >= current:
        return 0
    if db.already_expired(when):
        db.delete(key)
        client.propagate_as = [[_DEL, key]]
        return 1
    db.set_expire(key, when)
    db.changed(key, "expire")
    client.propagate_as = [[_PEXPIREAT, key, str(when).encode(), *args[3:]]]  # the flags as sent
    return 1


@cmd("expire", -3, "write fast", (1, 1, 1), summary="Sets the expiration time of a key in seconds.")
def expire(client, args):
    return _expire(client, args, 1000, True, "expire")


@cmd("pexpire", -3, "write fast", (1, 1, 1), since="2.6.0", summary="Sets the expiration time of a key in milliseconds.")
def pexpire(client, args):
    return _expire(client, args, 1, True, "pexpire")


@cmd("expireat", -3, "write fast", (1, 1, 1), since="1.2.0", summary="Sets the expiration time of a key to a Unix timestamp.")
def expireat(client, args):
    return _expire(client, args, 1000, False, "expireat")


@cmd("pexpireat", -3, "write fast", (1, 1, 1), since="2.6.0", summary="Sets the expiration time of a key to a Unix milliseconds timestamp.")
def pexpireat(client, args):
    return _expire(client, args, 1, False, "pexpireat")


def _ttl(client, key: bytes, in_ms: bool, absolute: bool) -> int:
    db = client.db
    if db.lookup_read(key) is None:
        return -2
    when = db.get_expire(key)
    if when is None:
        return -1
    if absolute:
        return when if in_ms else when // 1000
    remaining = max(when - CLOCK.ms, 0)
    return remaining if in_ms else (remaining + 500) // 1000


@cmd("ttl", 2, "readonly fast", (1, 1, 1), summary="Returns the expiration time in seconds of a key.")
def ttl(client, args):
    return _ttl(client, args[1], False, False)


@cmd("pttl", 2, "readonly fast", (1, 1, 1), since="2.6.0", summary="Returns the expiration time in milliseconds of a key.")
def pttl(client, args):
    return _ttl(client, args[1], True, False)


@cmd("expiretime", 2, "readonly fast", (1, 1, 1), since="7.0.0", summary="Returns the expiration time of a key as a Unix timestamp.")
def expiretime(client, args):
    return _ttl(client, args[1], False, True)


@cmd("pexpiretime", 2, "readonly fast", (1, 1, 1), since="7.0.0", summary="Returns the expiration time of a key as a Unix milliseconds timestamp.")
def pexpiretime(client, args):
    return _ttl(client, args[1], True, True)


@cmd("persist", 2, "write fast", (1, 1, 1), since="2.2.0", summary="Removes the expiration time of a key.")
def persist(client, args):
    db, key = client.db, args[1]
    if db.lookup(key) is None or not db.persist(key):
        return 0
    db.changed(key, "persist")
    return 1
