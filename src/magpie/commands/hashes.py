"""Hash commands: HSET and friends, counters, HRANDFIELD, HSCAN."""

from __future__ import annotations

import random
from functools import partial
from itertools import islice

import numpy as np

from magpie import errors
from magpie.commands.args import INT64_MAX, INT64_MIN, parse_int
from magpie.commands.keys import SCANS, parse_scan_cursor, parse_scan_options
from magpie.commands.longdouble import format_long_double, parse_long_double
from magpie.commands.table import command
from magpie.errors import WRONGTYPE, CommandError
from magpie.protocol.replies import OK
from magpie.store.hashes import Hash

cmd = partial(command, "hash")

_HSET = b"HSET"
_VALUE_LIMIT, _ENTRIES_LIMIT = "hash-max-listpack-value", "hash-max-listpack-entries"
_LONG_MAX = INT64_MAX


def read_hash(db, key: bytes) -> Hash | None:
    """The hash at ``key`` for a read command (a counted hit or miss); WRONGTYPE otherwise."""
    return db.read_typed(key, Hash)  # type: ignore[return-value]


def write_hash(db, key: bytes) -> Hash | None:
    """The hash at ``key`` for a write command, or None when there is none."""
    return db.get_typed(key, Hash)  # type: ignore[return-value]


def _store(client, key: bytes, h: Hash, created: bool, longest: int, event: str) -> None:
    """Apply the encoding thresholds, then signal the write (creating the key if new)."""
    if h.listpack:
        h.convert_if_needed(client.server.config.values, longest)
    if created:
        client.db.set(key, h, event)
    else:
        client.db.changed(key, event)


# -- setting and getting ------------------------------------------------------------------


@cmd("hset", -4, "write denyoom fast", (1, 1, 1), since="2.0.0", summary="Creates or modifies the value of a field in a hash.")
def hset(client, args):
    # Written out in one body: HSET is on redis-benchmark's hot path.
    argc = len(args)
    if argc & 1:
        raise CommandError(errors.wrong_arity("hset"))
    db, key = client.db, args[1]
    h = db.lookup(key)
    if h is None:
        h = Hash()
        created = True
    elif h.__class__ is Hash:
        created = False
    else:
        raise CommandError(WRONGTYPE)
    before = len(h)
    if argc == 4:
        h[args[2]] = args[3]
        if h.listpack:
            limits = client.server.config.values
            value_limit = limits[_VALUE_LIMIT]
            if len(args[2]) > value_limit or len(args[3]) > value_limit or len(h) > limits[_ENTRIES_LIMIT]:
                h.listpack = False
    else:
        for i in range(2, argc, 2):
            h[args[i]] = args[i + 1]
        if h.listpack:
            h.convert_if_needed(client.server.config.values, max(map(len, args[2:])))
    if created:
        db.set(key, h, "hset")
    else:
        db.changed(key, "hset")
    return len(h) - before


@cmd("hmset", -4, "write denyoom fast", (1, 1, 1), since="2.0.0", summary="Sets the values of multiple fields.")
def hmset(client, args):
    if len(args) & 1:
        raise CommandError(errors.wrong_arity("hmset"))
    hset(client, args)
    return OK


@cmd("hsetnx", 4, "write denyoom fast", (1, 1, 1), since="2.0.0", summary="Sets the value of a field in a hash only when the field doesn't exist.")
def hsetnx(client, args):
    key, field, value = args[1], args[2], args[3]
    h = write_hash(client.db, key)
    created = h is None
    if created:
        h = Hash()
    elif field in h:  # type: ignore[operator]
        return 0
    h[field] = value  # type: ignore[index]
    _store(client, key, h, created, max(len(field), len(value)), "hset")  # type: ignore[arg-type]
    return 1


@cmd("hget", 3, "readonly fast", (1, 1, 1), since="2.0.0", summary="Returns the value of a field in a hash.")
def hget(client, args):
    h = read_hash(client.db, args[1])
    return None if h is None else h.get(args[2])


@cmd("hmget", -3, "readonly fast", (1, 1, 1), since="2.0.0", summary="Returns the values of all fields in a hash.")
def hmget(client, args):
    h = read_hash(client.db, args[1])
    if h is None:
        return [None] * (len(args) - 2)
    get = h.get
    return [get(field) for field in args[2:]]


@cmd("hgetall", 2, "readonly", (1, 1, 1), since="2.0.0", summary="Returns all fields and values in a hash.")
def hgetall(client, args):
    h = read_hash(client.db, args[1])
    return {} if h is None else dict(h)


@cmd("hkeys", 2, "readonly", (1, 1, 1), since="2.0.0", summary="Returns all fields in a hash.")
def hkeys(client, args):
    h = read_hash(client.db, args[1])
    return [] if h is None else list(h)


@cmd("hvals", 2, "readonly", (1, 1, 1), since="2.0.0", summary="Returns all values in a hash.")
def hvals(client, args):
    h = read_hash(client.db, args[1])
    return [] if h is None else list(h.values())


@cmd("hdel", -3, "write fast", (1, 1, 1), since="2.0.0", summary="Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.")
def hdel(client, args):
    db, key = client.db, args[1]
    h = write_hash(db, key)
    if h is None:
        return 0
    pop = h.pop
    deleted = 0
    for field in args[2:]:
        if pop(field, None) is not None:
            deleted += 1
    if deleted:
        db.changed(key, "hdel")
        if not h:
            db.delete(key, "del")  # Redis notifies "hdel", then "del"
    return deleted


@cmd("hexists", 3, "readonly fast", (1, 1, 1), key_access="-", since="2.0.0", summary="Determines whether a field exists in a hash.")
def hexists(client, args):
    h = read_hash(client.db, args[1])
    return 1 if h is not None and args[2] in h else 0


@cmd("hlen", 2, "readonly fast", (1, 1, 1), key_access="-", since="2.0.0", summary="Returns the number of fields in a hash.")
def hlen(client, args):
    h = read_hash(client.db, args[1])
    return 0 if h is None else len(h)


@cmd("hstrlen", 3, "readonly fast", (1, 1, 1), key_access="-", since="3.2.0", summary="Returns the length of the value of a field.")
def hstrlen(client, args):
    h = read_hash(client.db, args[1])
    value = None if h is None else h.get(args[2])
    return 0 if value is None else len(value)


# -- counters -----------------------------------------------------------------------------

@cmd("hincrby", 4, "write denyoom fast", (1, 1, 1), key_access="RW", since="2.0.0", summary="Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.")
def hincrby(client, args):
    key, field = args[1], args[2]
    delta = parse_int(args[3])
    h = write_hash(client.db, key)
    created = h is None
    if created:
        h = Hash()
    old = h.get(field)  # type: ignore[union-attr]
    current = 0 if old is None else parse_int(old, errors.HASH_NOT_INTEGER)
    result = current + delta
    if result < INT64_MIN or result > INT64_MAX:
        raise CommandError(errors.OVERFLOW)
    text = str(result).encode()
    h[field] = text  # type: ignore[index]
    _store(client, key, h, created, max(len(field), len(text)), "hincrby")  # type: ignore[arg-type]
    return result


@cmd("hincrbyfloat", 4, "write denyoom fast", (1, 1, 1), key_access="RW", since="2.6.0", summary="Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.")
def hincrbyfloat(client, args):
    key, field = args[1], args[2]
    delta = parse_long_double(args[3])
    if np.isinf(delta):
        raise CommandError(errors.NAN_OR_INFINITY)
    h = write_hash(client.db, key)
    created = h is None
    if created:
        h = Hash()
    old = h.get(field)  # type: ignore[union-attr]
    if old is None:
        current = np.longdouble(0)
    else:
        try:
            current = parse_long_double(old)
        except CommandError:
            raise CommandError(errors.HASH_NOT_FLOAT) from None
    with np.errstate(all="ignore"):
        total = current + delta
    if np.isnan(total) or np.isinf(total):
        raise CommandError(errors.INCR_FLOAT_NAN)
    text = format_long_double(total)
    h[field] = text  # type: ignore[index]
    _store(client, key, h, created, max(len(field), len(text)), "hincrbyfloat")  # type: ignore[arg-type]
    # Redis always propagates the result, so replicas never redo float arithmetic.
    client.propagate_as = [[_HSET, key, field, text]]
    return text


# -- random fields and iteration ----------------------------------------------------------

_RANGE_ERROR = f"ERR value is out of range, value must between {-_LONG_MAX} and {_LONG_MAX}"


def parse_random_count(raw: bytes) -> int:
    """A count for HRANDFIELD / SRANDMEMBER: a long in [-LONG_MAX, LONG_MAX]."""
    count = parse_int(raw)
    if count == INT64_MIN:
        raise CommandError(_RANGE_ERROR)
    return count


def random_picks(items: list, count: int) -> list:
    """``count`` distinct items in random order (all of them when there are fewer)."""
    if count >= len(items):
        return items
    return random.sample(items, count)


def random_item(collection) -> object:
    """One uniformly chosen element of a dict or set (skipping in C, without a copy)."""
    return next(islice(collection, random.randrange(len(collection)), None))


@cmd("hrandfield", -2, "readonly", (1, 1, 1), since="6.2.0", summary="Returns one or more random fields from a hash.")
def hrandfield(client, args):
    argc = len(args)
    if argc == 2:
        h = read_hash(client.db, args[1])
        return None if h is None else random_item(h)
    count = parse_random_count(args[2])
    if argc > 4 or (argc == 4 and args[3].lower() != b"withvalues"):
        raise CommandError(errors.SYNTAX)
    with_values = argc == 4
    if with_values and (count < -(_LONG_MAX // 2) or count > _LONG_MAX // 2):
        raise CommandError("ERR value is out of range")
    h = read_hash(client.db, args[1])
    if h is None or count == 0:
        return []
    if count < 0:
        fields = random.choices(list(h), k=-count)
    else:
        fields = random_picks(list(h), count)
    if not with_values:
        return fields
    if client.resp == 2:
        out = []
        for field in fields:
            out.append(field)
            out.append(h[field])
        return out
    return [[field, h[field]] for field in fields]


@cmd("hscan", -3, "readonly", (1, 1, 1), since="2.8.0", summary="Iterates over fields and values of a hash.")
def hscan(client, args):
    cursor = parse_scan_cursor(args[2])
    h = read_hash(client.db, args[1])
    if h is None:
        return [b"0", []]
    pattern, count, _ = parse_scan_options(args, 3, False)
    if h.listpack:  # Redis returns a listpack whole, whatever the COUNT
        next_cursor, fields = 0, list(h)
    else:
        next_cursor, fields = SCANS.page(h, cursor, count, lambda: list(h))
    out = []
    for field in fields:
        value = h.get(field)
        if value is None or (pattern is not None and not pattern.match(field)):
            continue
        out.append(field)
        out.append(value)
    return [str(next_cursor).encode(), out]
