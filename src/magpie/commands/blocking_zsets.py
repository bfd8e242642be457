"""Blocking sorted-set pops: BZPOPMIN, BZPOPMAX, BZMPOP (same pattern as blocking_lists)."""

from __future__ import annotations

from functools import partial

from magpie.commands.args import numkeys_positions, parse_timeout
from magpie.commands.blocking_lists import _wait, blocking_mpop
from magpie.commands.table import command
from magpie.commands.zsets import parse_zmpop, pop_from_zset, zmpop, zpop_propagation
from magpie.protocol.replies import NULL_ARRAY
from magpie.store.zsets import ZSet

cmd = partial(command, "sorted-set", fast=False)
_ZPOPMIN, _ZPOPMAX = b"ZPOPMIN", b"ZPOPMAX"


def _is_zset(db, key: bytes) -> bool:
    return db.lookup(key).__class__ is ZSet


def _bzpop(client, args, highest: bool):
    timeout = parse_timeout(args[-1])
    keys = args[1:-1]
    db = client.db
    twin = _ZPOPMAX if highest else _ZPOPMIN

    def pop(key: bytes):
        popped = pop_from_zset(db, key, highest, 1)
        if popped:
            member, score = popped[0]
            return [key, member, score]
        return None

    for key in keys:
        reply = pop(key)  # WRONGTYPE raised here, as in Redis
        if reply is not None:
            client.propagate_as = [[twin, key]]
            return reply

    def retry():
        for key in keys:
            if _is_zset(db, key):
                reply = pop(key)
                if reply is not None:
                    return reply, [[twin, key]]
        return None

    return _wait(client, keys, timeout, retry, NULL_ARRAY)


@cmd("bzpopmin", -3, "write noscript blocking fast", (1, -2, 1), key_access="RW", since="5.0.0", summary="Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.")
def bzpopmin(client, args):
    return _bzpop(client, args, False)


@cmd("bzpopmax", -3, "write noscript blocking fast", (1, -2, 1), key_access="RW", since="5.0.0", summary="Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.")
def bzpopmax(client, args):
    return _bzpop(client, args, True)


def _bzmpop_keys(argv: list[bytes]) -> list[int]:
    return numkeys_positions(argv, 2)


@cmd("bzmpop", -5, "write blocking movablekeys", key_access="RW", keys_finder=_bzmpop_keys, since="7.0.0", summary="Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.")
def bzmpop(client, args):
    timeout = parse_timeout(args[1])
    keys, highest, count = parse_zmpop(args, 2)
    return blocking_mpop(client, keys, highest, count, timeout, ZSet, zmpop, zpop_propagation)
