"""Set commands: SADD and friends, random members, set algebra and its STORE forms, SSCAN."""

from __future__ import annotations

import random
from functools import partial

from magpie import errors
from magpie.commands.args import parse_int
from magpie.commands.hashes import parse_random_count, random_item
from magpie.commands.keys import SCANS, parse_scan_cursor, parse_scan_options
from magpie.commands.table import command
from magpie.errors import WRONGTYPE, CommandError
from magpie.protocol.replies import RespSet
from magpie.store.sets import Set, build_set, is_intset_member

cmd = partial(command, "set")

_SREM, _DEL = b"SREM", b"DEL"
#: SPOP with a count rebuilds the set from the members that stay when it keeps at most
#: count / SPOP_MOVE_STRATEGY_MUL of them (Redis's t_set.c), which resets its encoding.
SPOP_MOVE_STRATEGY_MUL = 5


def read_set(db, key: bytes) -> Set | None:
    """The set at ``key`` for a read command (a counted hit or miss); WRONGTYPE otherwise."""
    return db.read_typed(key, Set)  # type: ignore[return-value]


def write_set(db, key: bytes) -> Set | None:
    return db.get_typed(key, Set)  # type: ignore[return-value]


_MAX_INTSET = "set-max-intset-entries"


def _max_intset(client) -> int:
    return client.server.config.values[_MAX_INTSET]  # type: ignore[no-any-return]


def _removed(db, key: bytes, s: Set, event: str) -> None:
    """Signal a removal from ``s``, deleting the key when the set became empty."""
    db.changed(key, event)
    if not s:
        db.delete(key, "del")  # Redis notifies the removal, then "del"


# -- members ------------------------------------------------------------------------------


@cmd("sadd", -3, "write denyoom fast", (1, 1, 1), summary="Adds one or more members to a set. Creates the key if it doesn't exist.")
def sadd(client, args):
    db, key = client.db, args[1]
    s = write_set(db, key)
    created = s is None
    if created:
        s = Set()
    before = len(s)  # type: ignore[arg-type]
    if len(args) == 3:
        member = args[2]
        s.add(member)  # type: ignore[union-attr]
        added = len(s) - before  # type: ignore[arg-type]
        if added and s.intset and (not is_intset_member(member) or len(s) > client.server.config.values[_MAX_INTSET]):  # type: ignore[union-attr]
            s.intset = False  # type: ignore[union-attr]
    else:
        members = args[2:]
        s.update(members)  # type: ignore[union-attr]
        added = len(s) - before  # type: ignore[arg-type]
        if added and s.intset:  # type: ignore[union-attr]
            s.after_add(members, _max_intset(client))  # type: ignore[union-attr]
    if added:
        if created:
            db.set(key, s, "sadd")
        else:
            db.changed(key, "sadd")
    return added


@cmd("srem", -3, "write fast", (1, 1, 1), summary="Removes one or more members from a set. Deletes the set if the last member was removed.")
def srem(client, args):
    db, key = client.db, args[1]
    s = write_set(db, key)
    if s is None:
        return 0
    before = len(s)
    if len(args) == 3:
        s.discard(args[2])
    else:
        s.difference_update(args[2:])
    removed = before - len(s)
    if removed:
        _removed(db, key, s, "srem")
    return removed


@cmd("smembers", 2, "readonly", (1, 1, 1), summary="Returns all members of a set.")
def smembers(client, args):
    s = read_set(client.db, args[1])
    return RespSet() if s is None else RespSet(s.ordered())


@cmd("sismember", 3, "readonly fast", (1, 1, 1), key_access="-", summary="Determines whether a member belongs to a set.")
def sismember(client, args):
    s = read_set(client.db, args[1])
    return 1 if s is not None and args[2] in s else 0


@cmd("smismember", -3, "readonly fast", (1, 1, 1), since="6.2.0", summary="Determines whether multiple members belong to a set.")
def smismember(client, args):
    s = read_set(client.db, args[1])
    if s is None:
        return [0] * (len(args) - 2)
    return [1 if member in s else 0 for member in args[2:]]


@cmd("scard", 2, "readonly fast", (1, 1, 1), key_access="-", summary="Returns the number of members in a set.")
def scard(client, args):
    s = read_set(client.db, args[1])
    return 0 if s is None else len(s)


@cmd("smove", 4, "write fast", (1, 2, 1), key_access="RW W", summary="Moves a member from one set to another.")
def smove(client, args):
    db, src_key, dst_key, member = client.db, args[1], args[2], args[3]
    src = db.lookup(src_key)
    dst = db.lookup(dst_key)
    if src is None:
        return 0
    if src.__class__ is not Set or (dst is not None and dst.__class__ is not Set):
        raise CommandError(WRONGTYPE)
    if src is dst:
        return 1 if member in src else 0  # type: ignore[operator]
    if member not in src:  # type: ignore[operator]
        return 0
    src.remove(member)  # type: ignore[attr-defined]
    _removed(db, src_key, src, "srem")  # type: ignore[arg-type]
    if dst is None:
        dst = Set((member,))
        dst.intset = is_intset_member(member) and _max_intset(client) >= 1
        db.set(dst_key, dst, "sadd")
    elif member not in dst:  # type: ignore[operator]
        dst.add(member)  # type: ignore[attr-defined]
        if dst.intset:  # type: ignore[attr-defined]
            dst.after_add((member,), _max_intset(client))  # type: ignore[attr-defined]
        db.changed(dst_key, "sadd")
    return 1


# -- random members -----------------------------------------------------------------------


def _parse_positive(raw: bytes) -> int:
    try:
        count = parse_int(raw)
    except CommandError:
        raise CommandError(errors.MUST_BE_POSITIVE) from None
    if count < 0:
        raise CommandError(errors.MUST_BE_POSITIVE)
    return count


@cmd("spop", -2, "write fast", (1, 1, 1), key_access="RW", summary="Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.")
def spop(client, args):
    argc = len(args)
    if argc > 3:
        raise CommandError(errors.SYNTAX)
    db, key = client.db, args[1]
    if argc == 2:
        s = write_set(db, key)
        if s is None:
            return None
        member = random_item(s)
        s.remove(member)
        _removed(db, key, s, "spop")
        client.propagate_as = [[_SREM, key, member]]
        return member
    count = _parse_positive(args[2])
    s = write_set(db, key)
    if s is None or count == 0:
        return RespSet()
    size = len(s)
    if count >= size:  # the whole set: Redis propagates it as a DEL
        members = s.ordered()
        db.changed(key, "spop")
        db.delete(key, "del")
        client.propagate_as = [[_DEL, key]]
        return RespSet(members)
    popped = random.sample(list(s), count)
    s.difference_update(popped)
    if (size - count) * SPOP_MOVE_STRATEGY_MUL <= count:
        # Redis builds a new set of the remaining members: its encoding starts over.
        rebuilt = build_set(s, _max_intset(client))
        s.intset = rebuilt.intset
    db.changed(key, "spop")
    client.propagate_as = [[_SREM, key, member] for member in popped]
    return RespSet(popped)


@cmd("srandmember", -2, "readonly", (1, 1, 1), summary="Get one or multiple random members from a set")
def srandmember(client, args):
    argc = len(args)
    if argc > 3:
        raise CommandError(errors.SYNTAX)
    if argc == 2:
        s = read_set(client.db, args[1])
        return None if s is None else random_item(s)
    count = parse_random_count(args[2])
    s = read_set(client.db, args[1])
    if s is None or count == 0:
        return []
    if count < 0:
        return random.choices(list(s), k=-count)
    return s.ordered() if count >= len(s) else random.sample(list(s), count)


# -- set algebra --------------------------------------------------------------------------


def _sources(db, keys: list[bytes]) -> list[Set | None]:
    """Every source set (None for a missing key); WRONGTYPE if any key holds another type."""
    sets = []
    for key in keys:
        value = db.lookup_read(key)
        if value is not None and value.__class__ is not Set:
            raise CommandError(WRONGTYPE)
        sets.append(value)
    return sets


def _inter(sets: list[Set | None]) -> set[bytes]:
    if any(s is None for s in sets):
        return set()
    ordered = sorted(sets, key=len)  # type: ignore[arg-type]
    return ordered[0].intersection(*ordered[1:])  # type: ignore[union-attr]


def _union(sets: list[Set | None]) -> set[bytes]:
    return set().union(*(s for s in sets if s is not None))


def _diff(sets: list[Set | None]) -> set[bytes]:
    first = sets[0]
    if first is None:
        return set()
    return first.difference(*(s for s in sets[1:] if s is not None))


def _reply(members: set[bytes]) -> RespSet:
    return RespSet(members)


def _store(client, dst: bytes, members: set[bytes], event: str) -> int:
    """The STORE forms: replace ``dst`` (of any type) with the result, or delete it if empty."""
    db = client.db
    if not members:
        db.delete(dst, "del")
        return 0
    db.set(dst, build_set(members, _max_intset(client)), event)
    return len(members)


@cmd("sinter", -2, "readonly", (1, -1, 1), summary="Returns the intersect of multiple sets.")
def sinter(client, args):
    return _reply(_inter(_sources(client.db, args[1:])))


@cmd("sunion", -2, "readonly", (1, -1, 1), summary="Returns the union of multiple sets.")
def sunion(client, args):
    return _reply(_union(_sources(client.db, args[1:])))


@cmd("sdiff", -2, "readonly", (1, -1, 1), summary="Returns the difference of multiple sets.")
def sdiff(client, args):
    return _reply(_diff(_sources(client.db, args[1:])))


@cmd("sinterstore", -3, "write denyoom", (1, -1, 1), key_access="W R", summary="Stores the intersect of multiple sets in a key.")
def sinterstore(client, args):
    return _store(client, args[1], _inter(_sources(client.db, args[2:])), "sinterstore")


@cmd("sunionstore", -3, "write denyoom", (1, -1, 1), key_access="W R", summary="Stores the union of multiple sets in a key.")
def sunionstore(client, args):
    return _store(client, args[1], _union(_sources(client.db, args[2:])), "sunionstore")


@cmd("sdiffstore", -3, "write denyoom", (1, -1, 1), key_access="W R", summary="Stores the difference of multiple sets in a key.")
def sdiffstore(client, args):
    return _store(client, args[1], _diff(_sources(client.db, args[2:])), "sdiffstore")


def _numkeys(raw: bytes) -> int:
    try:
        numkeys = parse_int(raw)
    except CommandError:
        numkeys = 0
    if numkeys < 1:
        raise CommandError(errors.MPOP_NUMKEYS)
    return numkeys


def sintercard_keys(argv: list[bytes]) -> list[int]:
    """Key positions of SINTERCARD (numkeys, then that many keys), for COMMAND GETKEYS."""
    try:
        numkeys = _numkeys(argv[1])
    except CommandError:
        return []
    if numkeys > len(argv) - 2:
        return []
    return list(range(2, 2 + numkeys))


@cmd("sintercard", -3, "readonly movablekeys", since="7.0.0", keys_finder=sintercard_keys, summary="Returns the number of members of the intersect of multiple sets.")
def sintercard(client, args):
    numkeys = _numkeys(args[1])
    if numkeys > len(args) - 2:
        raise CommandError(errors.NUMKEYS_TOO_MANY)
    limit = 0
    i = 2 + numkeys
    while i < len(args):
        if args[i].lower() == b"limit" and i + 1 < len(args):
            try:
                limit = parse_int(args[i + 1])
            except CommandError:
                limit = -1
            if limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    sets = _sources(client.db, args[2 : 2 + numkeys])
    if any(s is None for s in sets):
        return 0
    ordered = sorted(sets, key=len)  # type: ignore[arg-type]
    smallest, others = ordered[0], ordered[1:]
    if not limit:
        return len(smallest.intersection(*others))  # type: ignore[union-attr]
    count = 0
    for member in smallest:  # type: ignore[union-attr]
        if all(member in other for other in others):  # type: ignore[operator]
            count += 1
            if count >= limit:
                break
    return count


@cmd("sscan", -3, "readonly", (1, 1, 1), since="2.8.0", summary="Iterates over members of a set.")
def sscan(client, args):
    cursor = parse_scan_cursor(args[2])
    s = read_set(client.db, args[1])
    if s is None:
        return [b"0", []]
    pattern, count, _ = parse_scan_options(args, 3, False)
    if s.intset:  # Redis returns an intset whole, whatever the COUNT
        next_cursor, members = 0, s.ordered()
    else:
        next_cursor, members = SCANS.page(s, cursor, count, lambda: list(s))
    match = pattern.match if pattern is not None else None
    out = [m for m in members if m in s and (match is None or match(m))]
    return [str(next_cursor).encode(), out]

