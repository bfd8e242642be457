"""List commands: pushes, pops, ranges, LPOS, LMOVE and LMPOP (the blocking forms build on these).

Every change goes through the database so it is signalled once per keyspace event, with
Redis's event names: a pop signals ``lpop``/``rpop`` and then, if the list became empty,
deletes the key with ``del``, exactly as Redis notifies.

The functions the blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) reuse:

* ``push_elements(db, key, elements, left, create=True) -> int`` - LPUSH/RPUSH(X), new length.
* ``pop_element(db, key, left) -> bytes | None`` - one element, or None for a missing key.
* ``pop_elements(db, key, left, count) -> list[bytes] | None`` - up to ``count`` elements.
* ``move_element(db, src, dst, src_left, dst_left) -> bytes | None`` - LMOVE's effect.
* ``mpop(db, keys, left, count) -> [key, elements] | None`` - LMPOP's effect on the first
  non-empty key (the caller sets the propagation, see ``mpop_propagation``).
* ``parse_side(raw) -> bool`` (LEFT/RIGHT) and ``parse_mpop(args, numkeys_index)``.

All of them raise ``CommandError(WRONGTYPE)`` when a key holds another type.
"""

from __future__ import annotations

from functools import partial

from magpie import errors
from magpie.commands.args import INT64_MAX, INT64_MIN, numkeys_positions, parse_int
from magpie.commands.table import command
from magpie.errors import WRONGTYPE, CommandError
from magpie.protocol.replies import NULL_ARRAY, OK
from magpie.store.lists import ListValue

cmd = partial(command, "list")

_LEFT, _RIGHT = b"LEFT", b"RIGHT"
_LPOP, _RPOP = b"LPOP", b"RPOP"


# -- shared building blocks (also used by the blocking commands) -----------------------


def parse_side(raw: bytes) -> bool:
    """LEFT -> True, RIGHT -> False (any case); anything else is a syntax error."""
    word = raw.upper()
    if word == _LEFT:
        return True
    if word == _RIGHT:
        return False
    raise CommandError(errors.SYNTAX)


def _get_list(db, key: bytes) -> ListValue | None:
    return db.get_typed(key, ListValue)  # type: ignore[return-value]


def _read_list(db, key: bytes) -> ListValue | None:
    """The list for a read command (counted as a keyspace hit or miss)."""
    return db.read_typed(key, ListValue)  # type: ignore[return-value]


def _removed(db, key: bytes, value: ListValue, event: str) -> None:
    """Signal a removal; a list left empty is deleted, as Redis deletes empty aggregates."""
    db.changed(key, event)
    if not value:
        db.delete(key, "del")


def push_elements(db, key: bytes, elements, left: bool, create: bool = True) -> int:
    """LPUSH/RPUSH (``create=False``: LPUSHX/RPUSHX). Returns the new length (0: nothing done)."""
    value = _get_list(db, key)
    if value is None:
        if not create:
            return 0
        value = ListValue()
        if left:
            value.extendleft(elements)
            db.set(key, value, "lpush")
        else:
            value.extend(elements)
            db.set(key, value, "rpush")
        return len(value)
    if left:
        value.extendleft(elements)
        db.changed(key, "lpush")
    else:
        value.extend(elements)
        db.changed(key, "rpush")
    return len(value)


def pop_element(db, key: bytes, left: bool) -> bytes | None:
    """Pop one element from the head (``left``) or tail; None when the key is missing."""
    value = _get_list(db, key)
    if value is None:
        return None
    if left:
        element = value.popleft()
        _removed(db, key, value, "lpop")
    else:
        element = value.pop()
        _removed(db, key, value, "rpop")
    return element


def pop_elements(db, key: bytes, left: bool, count: int) -> list[bytes] | None:
    """Pop up to ``count`` (> 0) elements, in pop order; None when the key is missing."""
    value = _get_list(db, key)
    if value is None:
        return None
    return _pop_many(db, key, value, left, count)


def _pop_many(db, key: bytes, value: ListValue, left: bool, count: int) -> list[bytes]:
    if count >= len(value):
        out = list(value) if left else list(reversed(value))
        value.clear()
    else:
        take = value.popleft if left else value.pop
        out = [take() for _ in range(count)]
    _removed(db, key, value, "lpop" if left else "rpop")
    return out


def move_element(db, src: bytes, dst: bytes, src_left: bool, dst_left: bool) -> bytes | None:
    """LMOVE: pop from ``src``, push onto ``dst``; None (and no change) if ``src`` is missing.

    As in Redis the destination's type is checked before anything moves, the push is
    signalled before the pop, and ``src == dst`` rotates the list in place.
    """
    source = _get_list(db, src)
    if source is None:
        return None
    target = _get_list(db, dst)
    element = source.popleft() if src_left else source.pop()
    push_event = "lpush" if dst_left else "rpush"
    if target is None:
        db.set(dst, ListValue((element,)), push_event)
    else:
        if dst_left:
            target.appendleft(element)
        else:
            target.append(element)
        db.changed(dst, push_event)
    _removed(db, src, source, "lpop" if src_left else "rpop")
    return element


def parse_mpop(args: list[bytes], numkeys_index: int) -> tuple[list[bytes], bool, int]:
    """LMPOP/BLMPOP arguments from ``numkeys``: (keys, left, count), with Redis's errors."""
    numkeys = parse_int(args[numkeys_index], errors.MPOP_NUMKEYS)
    if numkeys < 1:
        raise CommandError(errors.MPOP_NUMKEYS)
    side_index = numkeys_index + numkeys + 1
    if side_index >= len(args):
        raise CommandError(errors.SYNTAX)
    left = parse_side(args[side_index])
    count = -1
    i = side_index + 1
    while i < len(args):
        if count == -1 and args[i].upper() == b"COUNT" and i + 1 < len(args):
            count = parse_int(args[i + 1], errors.MPOP_COUNT)
            if count < 1:
                raise CommandError(errors.MPOP_COUNT)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    return args[numkeys_index + 1 : side_index], left, (1 if count == -1 else count)


def mpop(db, keys: list[bytes], left: bool, count: int) -> list | None:
    """Pop up to ``count`` from the first non-empty list among ``keys``: ``[key, elements]``.

    Keys are checked in order and a wrong type stops the search only when reached
    (a list before it is popped instead). None when every key is missing.
    """
    for key in keys:
        value = _get_list(db, key)
        if value is not None:
            return [key, _pop_many(db, key, value, left, count)]
    return None


def mpop_propagation(left: bool, key: bytes, popped: int) -> list[list[bytes]]:
    """How Redis replicates an (B)LMPOP that popped ``popped`` elements: ``LPOP key n``."""
    return [[_LPOP if left else _RPOP, key, str(popped).encode()]]


def _mpop_keys(argv: list[bytes]) -> list[int]:
    """COMMAND GETKEYS for LMPOP: Redis reads numkeys with atoi and gives up when out of range."""
    return numkeys_positions(argv, 1)


# -- pushes ----------------------------------------------------------------------------


@cmd("lpush", -3, "write denyoom fast", (1, 1, 1), summary="Prepends one or more elements to a list. Creates the key if it doesn't exist.")
def lpush(client, args):
    db, key = client.db, args[1]
    value = db.lookup(key)
    if value is None:
        value = ListValue()
        value.extendleft(args[2:])
        db.set(key, value, "lpush")
        return len(value)
    if value.__class__ is not ListValue:
        raise CommandError(WRONGTYPE)
    if len(args) == 3:
        value.appendleft(args[2])  # type: ignore[attr-defined]
    else:
        value.extendleft(args[2:])  # type: ignore[attr-defined]
    db.changed(key, "lpush")
    return len(value)  # type: ignore[arg-type]


@cmd("rpush", -3, "write denyoom fast", (1, 1, 1), summary="Appends one or more elements to a list. Creates the key if it doesn't exist.")
def rpush(client, args):
    db, key = client.db, args[1]
    value = db.lookup(key)
    if value is None:
        value = ListValue(args[2:])
        db.set(key, value, "rpush")
        return len(value)
    if value.__class__ is not ListValue:
        raise CommandError(WRONGTYPE)
    if len(args) == 3:
        value.append(args[2])  # type: ignore[attr-defined]
    else:
        value.extend(args[2:])  # type: ignore[attr-defined]
    db.changed(key, "rpush")
    return len(value)  # type: ignore[arg-type]


@cmd("lpushx", -3, "write denyoom fast", (1, 1, 1), since="2.2.0", summary="Prepends one or more elements to a list only when the list exists.")
def lpushx(client, args):
    return push_elements(client.db, args[1], args[2:], True, create=False)


@cmd("rpushx", -3, "write denyoom fast", (1, 1, 1), since="2.2.0", summary="Appends an element to a list only when the list exists.")
def rpushx(client, args):
    return push_elements(client.db, args[1], args[2:], False, create=False)


# -- pops ------------------------------------------------------------------------------


def _pop_with_count(client, args, left: bool, name: str):
    if len(args) > 3:
        raise CommandError(errors.wrong_arity(name))
    count = parse_int(args[2], errors.MUST_BE_POSITIVE)
    if count < 0:
        raise CommandError(errors.MUST_BE_POSITIVE)
    db, key = client.db, args[1]
    value = _get_list(db, key)
    if value is None:
        return NULL_ARRAY
    if count == 0:
        return []
    return _pop_many(db, key, value, left, count)


@cmd("lpop", -2, "write fast", (1, 1, 1), key_access="RW", summary="Returns the first elements in a list after removing it. Deletes the list if the last element was popped.")
def lpop(client, args):
    if len(args) != 2:
        return _pop_with_count(client, args, True, "lpop")
    return pop_element(client.db, args[1], True)


@cmd("rpop", -2, "write fast", (1, 1, 1), key_access="RW", summary="Returns and removes the last elements of a list. Deletes the list if the last element was popped.")
def rpop(client, args):
    if len(args) != 2:
        return _pop_with_count(client, args, False, "rpop")
    return pop_element(client.db, args[1], False)


@cmd("lmpop", -4, "write movablekeys", (0, 0, 0), key_access="RW", since="7.0.0", keys_finder=_mpop_keys, summary="Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.")
def lmpop(client, args):
    keys, left, count = parse_mpop(args, 1)
    db = client.db
    result = mpop(db, keys, left, count)
    if result is None:
        return NULL_ARRAY
    client.propagate_as = mpop_propagation(left, result[0], len(result[1]))
    return result


@cmd("lmove", 5, "write denyoom", (1, 2, 1), key_access="RW W", since="6.2.0", summary="Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.")
def lmove(client, args):
    src_left = parse_side(args[3])
    dst_left = parse_side(args[4])
    return move_element(client.db, args[1], args[2], src_left, dst_left)


@cmd("rpoplpush", 3, "write denyoom", (1, 2, 1), key_access="RW W", since="1.2.0", summary="Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.")
def rpoplpush(client, args):
    return move_element(client.db, args[1], args[2], False, True)


# -- reading ---------------------------------------------------------------------------


@cmd("llen", 2, "readonly fast", (1, 1, 1), key_access="-", summary="Returns the length of a list.")
def llen(client, args):
    value = _read_list(client.db, args[1])
    return 0 if value is None else len(value)


def _clamp_range(start: int, end: int, size: int) -> tuple[int, int]:
    """Redis's inclusive [start, end] with negative indexes, as a half-open (start, stop)."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    if start < 0:
        start = 0
    if start > end or start >= size:
        return 0, 0
    return start, min(end, size - 1) + 1


@cmd("lrange", 4, "readonly", (1, 1, 1), summary="Returns a range of elements from a list.")
def lrange(client, args):
    start, end = parse_int(args[2]), parse_int(args[3])
    value = _read_list(client.db, args[1])
    if value is None:
        return []
    first, stop = _clamp_range(start, end, len(value))
    return value.range(first, stop) if stop else []


@cmd("lindex", 3, "readonly", (1, 1, 1), summary="Returns an element from a list by its index.")
def lindex(client, args):
    value = _read_list(client.db, args[1])
    if value is None:
        return None
    index = parse_int(args[2])
    if index < 0:
        index += len(value)
    if 0 <= index < len(value):
        return value[index]
    return None


@cmd("lpos", -3, "readonly", (1, 1, 1), since="6.0.6", summary="Returns the index of matching elements in a list.")
def lpos(client, args):
    element = args[2]
    rank, count, maxlen = 1, -1, 0
    i = 3
    while i < len(args):
        option = args[i].upper()
        if i + 1 >= len(args):
            raise CommandError(errors.SYNTAX)
        raw = args[i + 1]
        if option == b"RANK":
            rank = parse_int(raw)
            if rank == 0:
                raise CommandError(errors.LPOS_RANK_ZERO)
        elif option == b"COUNT":
            count = parse_int(raw, errors.LPOS_COUNT_NEGATIVE)
            if count < 0:
                raise CommandError(errors.LPOS_COUNT_NEGATIVE)
        elif option == b"MAXLEN":
            maxlen = parse_int(raw, errors.LPOS_MAXLEN_NEGATIVE)
            if maxlen < 0:
                raise CommandError(errors.LPOS_MAXLEN_NEGATIVE)
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    value = _read_list(client.db, args[1])
    if value is None:
        return [] if count != -1 else None
    matches = _positions(value, element, rank, count if count != -1 else 1, maxlen)
    if count != -1:
        return matches
    return matches[0] if matches else None


def _positions(value: ListValue, element: bytes, rank: int, count: int, maxlen: int) -> list[int]:
    """LPOS's matches: skip ``rank - 1`` matches (from the tail when rank < 0), then take
    up to ``count`` (0: all), looking at no more than ``maxlen`` elements (0: all).

    Redis negates a negative rank in a C long: RANK -9223372036854775808 stays negative
    there, so every match qualifies and COUNT never ends the scan. That is reproduced.
    """
    size = len(value)
    scan = size if maxlen == 0 else min(maxlen, size)
    if rank == INT64_MIN:
        skip, count = 0, 0
    else:
        skip = abs(rank) - 1
    if count == 0:
        count = INT64_MAX
    out: list[int] = []
    if rank > 0:
        index = 0
        while len(out) < count:
            try:
                index = value.index(element, index, scan)
            except ValueError:
                break
            if skip:
                skip -= 1
            else:
                out.append(index)
            index += 1
        return out
    last = size - 1
    for offset, item in enumerate(reversed(value)):
        if offset >= scan:
            break
        if item == element:
            if skip:
                skip -= 1
            else:
                out.append(last - offset)
                if len(out) >= count:
                    break
    return out


# -- changing in place -----------------------------------------------------------------


@cmd("lset", 4, "write denyoom", (1, 1, 1), summary="Sets the value of an element in a list by its index.")
def lset(client, args):
    db, key = client.db, args[1]
    value = _get_list(db, key)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    index = parse_int(args[2])
    if index < 0:
        index += len(value)
    if not 0 <= index < len(value):
        raise CommandError(errors.INDEX_OUT_OF_RANGE)
    value[index] = args[3]
    db.changed(key, "lset")
    return OK


@cmd("linsert", 5, "write denyoom", (1, 1, 1), since="2.2.0", summary="Inserts an element before or after another element in a list.")
def linsert(client, args):
    where = args[2].upper()
    if where == b"BEFORE":
        after = 0
    elif where == b"AFTER":
        after = 1
    else:
        raise CommandError(errors.SYNTAX)
    db, key = client.db, args[1]
    value = _get_list(db, key)
    if value is None:
        return 0
    try:
        index = value.index(args[3])
    except ValueError:
        return -1
    value.insert(index + after, args[4])
    db.changed(key, "linsert")
    return len(value)


@cmd("lrem", 4, "write", (1, 1, 1), summary="Removes elements from a list. Deletes the list if the last element was removed.")
def lrem(client, args):
    count = parse_int(args[2])
    db, key, element = client.db, args[1], args[3]
    value = _get_list(db, key)
    if value is None:
        return 0
    removed = _remove_matches(value, element, count)
    if removed:
        _removed(db, key, value, "lrem")
    return removed


def _remove_matches(value: ListValue, element: bytes, count: int) -> int:
    """Remove up to |count| occurrences (0: all), from the head if count >= 0, else the tail."""
    total = value.count(element)
    if not total:
        return 0
    limit = total if count == 0 else min(abs(count), total)
    if limit == 1 and count > 0:
        value.remove(element)
        return 1
    if limit == total:
        kept = [item for item in value if item != element]
    elif count > 0:
        kept, left = [], limit
        for item in value:
            if left and item == element:
                left -= 1
            else:
                kept.append(item)
    else:
        kept, left = [], limit
        for item in reversed(value):
            if left and item == element:
                left -= 1
            else:
                kept.append(item)
        kept.reverse()
    value.clear()
    value.extend(kept)
    return limit


@cmd("ltrim", 4, "write", (1, 1, 1), summary="Removes elements from both ends a list. Deletes the list if all elements were trimmed.")
def ltrim(client, args):
    start, end = parse_int(args[2]), parse_int(args[3])
    db, key = client.db, args[1]
    value = _get_list(db, key)
    if value is None:
        return OK
    first, stop = _clamp_range(start, end, len(value))
    if stop:
        value.trim(first, stop)
    else:
        value.clear()
    _removed(db, key, value, "ltrim")
    return OK
