"""Blocking list pops: BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP.

Each tries to serve at once with the list module's functions; if nothing is there (and the
client is not inside EXEC, where blocking is not allowed) it waits in the blocking registry
with a retry that does the same work later. A served blocking pop is propagated as its
non-blocking twin (LPOP, RPOPLPUSH, LMOVE), as Redis does.
"""

from __future__ import annotations

from functools import partial

from magpie.commands.args import numkeys_positions, parse_timeout
from magpie.commands.lists import move_element as lists_move
from magpie.commands.lists import mpop, mpop_propagation, parse_mpop, parse_side, pop_element
from magpie.commands.table import command
from magpie.errors import CommandError
from magpie.protocol.replies import BLOCKED, NULL_ARRAY
from magpie.store.lists import ListValue

cmd = partial(command, "list", fast=False)
_LPOP, _RPOP, _LMOVE = b"LPOP", b"RPOP", b"LMOVE"
_SIDES = {True: b"left", False: b"right"}  # (as Redis writes them when a wait is served)


def _is_list(db, key: bytes) -> bool:
    return db.lookup(key).__class__ is ListValue


def _wait(client, keys: list[bytes], timeout: float, retry, timeout_reply):
    if client.in_exec:
        return timeout_reply  # inside MULTI/EXEC a blocking command answers as if it timed out
    client.server.blocking.block(client, keys, timeout, retry, timeout_reply)
    return BLOCKED


def _bpop(client, args, left: bool):
    timeout = parse_timeout(args[-1])
    keys = args[1:-1]
    db = client.db
    for key in keys:
        element = pop_element(db, key, left)  # WRONGTYPE raised here, as in Redis
        if element is not None:
            client.propagate_as = [[_LPOP if left else _RPOP, key]]
            return [key, element]

    def retry():
        for key in keys:
            if _is_list(db, key):  # another type there now: keep waiting, as Redis does
                element = pop_element(db, key, left)
                return [key, element], [[_LPOP if left else _RPOP, key]]
        return None

    return _wait(client, keys, timeout, retry, NULL_ARRAY)


@cmd("blpop", -3, "write noscript blocking", (1, -2, 1), key_access="RW", since="2.0.0", summary="Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.")
def blpop(client, args):
    return _bpop(client, args, True)


@cmd("brpop", -3, "write noscript blocking", (1, -2, 1), key_access="RW", since="2.0.0", summary="Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.")
def brpop(client, args):
    return _bpop(client, args, False)


def _bmove(client, src: bytes, dst: bytes, src_left: bool, dst_left: bool, timeout: float, at_once: list[bytes]):
    """``at_once`` is what a move done at once propagates (Redis rewrites the command as its
    non-blocking form, arguments as sent); a served wait propagates an LMOVE."""
    db = client.db
    propagate = [_LMOVE, src, dst, _SIDES[src_left], _SIDES[dst_left]]
    element = lists_move(db, src, dst, src_left, dst_left)
    if element is not None:
        client.propagate_as = [at_once]
        return element

    def retry():
        if not _is_list(db, src):
            return None
        try:
            moved = lists_move(db, src, dst, src_left, dst_left)
        except CommandError as exc:  # the destination holds another type now
            return exc, []
        return moved, [propagate]

    return _wait(client, [src], timeout, retry, None)


@cmd("brpoplpush", 4, "write denyoom noscript blocking", (1, 2, 1), key_access="RW W", since="2.2.0", summary="Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.")
def brpoplpush(client, args):
    timeout = parse_timeout(args[3])
    return _bmove(client, args[1], args[2], False, True, timeout, [b"RPOPLPUSH", args[1], args[2]])


@cmd("blmove", 6, "write denyoom noscript blocking", (1, 2, 1), key_access="RW W", since="6.2.0", summary="Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.")
def blmove(client, args):
    src_left, dst_left = parse_side(args[3]), parse_side(args[4])
    timeout = parse_timeout(args[5])
    return _bmove(client, args[1], args[2], src_left, dst_left, timeout, [_LMOVE, *args[1:5]])


def _blmpop_keys(argv: list[bytes]) -> list[int]:
    return numkeys_positions(argv, 2)


@cmd("blmpop", -5, "write blocking movablekeys", key_access="RW", keys_finder=_blmpop_keys, since="7.0.0", summary="Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.")
def blmpop(client, args):
    timeout = parse_timeout(args[1])
    keys, left, count = parse_mpop(args, 2)
    return blocking_mpop(client, keys, left, count, timeout, ListValue, mpop, mpop_propagation)


def blocking_mpop(client, keys, side: bool, count: int, timeout: float, value_class: type, pop, propagation):  # noqa: ANN001
    """BLMPOP/BZMPOP: ``pop(db, keys, side, count)`` and ``propagation(side, key, n)`` come from
    the type's module; while waiting, keys holding another type are skipped, as Redis does."""
    db = client.db
    result = pop(db, keys, side, count)
    if result is not None:
        client.propagate_as = propagation(side, result[0], len(result[1]))
        return result

    def retry():
        ready = [key for key in keys if db.lookup(key).__class__ is value_class]
        found = pop(db, ready, side, count) if ready else None
        if found is None:
            return None
        return found, propagation(side, found[0], len(found[1]))

    return _wait(client, keys, timeout, retry, NULL_ARRAY)
