"""String commands: GET/SET and friends, counters, ranges, LCS."""

from __future__ import annotations

from functools import partial

from magpie import errors
from magpie.commands.args import INT64_MAX, INT64_MIN, parse_int
from magpie.commands.table import command
from magpie.errors import CommandError
from magpie.protocol.replies import OK
from magpie.store.clock import CLOCK

cmd = partial(command, "string")

_SET, _PXAT, _KEEPTTL, _PEXPIREAT, _PERSIST, _DEL = b"SET", b"PXAT", b"KEEPTTL", b"PEXPIREAT", b"PERSIST", b"DEL"


def max_string_length(client) -> int:
    return int(client.server.config["proto-max-bulk-len"])


def check_length(client, length: int) -> None:
    if length > max_string_length(client):
        raise CommandError(errors.STRING_TOO_LONG)


def expire_at_ms(raw: bytes, unit_ms: int, relative: bool, command_name: str) -> int:
    """Absolute expiry in ms from an EX/PX/EXAT/PXAT argument, with Redis's checks."""
    value = parse_int(raw)
    if value <= 0 or (unit_ms == 1000 and value > INT64_MAX // 1000):
        raise CommandError(errors.invalid_expire(command_name))
    value *= unit_ms
    if relative:
        value += CLOCK.ms
    if value > INT64_MAX:
        raise CommandError(errors.invalid_expire(command_name))
    return value


# -- GET / SET ----------------------------------------------------------------------------


@cmd("get", 2, "readonly fast", (1, 1, 1), summary="Returns the string value of a key.")
def get(client, args):
    return client.db.get_string(args[1])


_EXPIRE_OPTIONS = {b"EX": (1000, True), b"PX": (1, True), b"EXAT": (1000, False), b"PXAT": (1, False)}


def set_key_access(argv: list[bytes]) -> str:
    """SET reads its key only with GET (Redis's setGetKeys)."""
    return "RW" if any(arg.lower() == b"get" for arg in argv[3:]) else "W"


@cmd("set", -3, "write denyoom", (1, 1, 1), key_access=set_key_access, summary="Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.")
def set_(client, args):
    db, key, value = client.db, args[1], args[2]
    if len(args) == 3:  # the plain SET: no options to read
        db.set(key, value)
        return OK
    nx = xx = get_old = keep_ttl = False
    expire_kind: bytes | None = None
    expire_raw = b""
    i = 3
    while i < len(args):
        opt = args[i].upper()
        has_next = i + 1 < len(args)
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"GET":
            get_old = True
        elif opt == b"KEEPTTL" and expire_kind is None:
            keep_ttl = True
        elif opt in _EXPIRE_OPTIONS and not keep_ttl and expire_kind in (None, opt) and has_next:
            expire_kind = opt
            expire_raw = args[i + 1]
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    when = None
    if expire_kind is not None:
        unit, relative = _EXPIRE_OPTIONS[expire_kind]
        when = expire_at_ms(expire_raw, unit, relative, "set")
    old = db.get_string(key) if get_old else None
    if nx or xx:
        exists = (old is not None) if get_old else db.exists(key)
        if (nx and exists) or (xx and not exists):
            return old if get_old else None
    db.set(key, value, keep_ttl=keep_ttl)
    if when is not None:
        db.set_expire(key, when)
        db.changed(key, "expire")  # Redis signals "set", then "expire"
        client.propagate_as = [[_SET, key, value, _PXAT, str(when).encode()]]
    elif get_old:  # replicas need no GET (Redis drops its first one)
        at = next(i for i in range(3, len(args)) if args[i].upper() == b"GET")
        client.propagate_as = [args[:at] + args[at + 1 :]]
    return old if get_old else OK


@cmd("setnx", 3, "write denyoom fast", (1, 1, 1), summary="Set the string value of a key only when the key doesn't exist.")
def setnx(client, args):
    db = client.db
    if db.exists(args[1]):
        return 0
    db.set(args[1], args[2])
    return 1


def _set_with_expire(client, args, unit: int, name: str):
    when = expire_at_ms(args[2], unit, True, name)
    db = client.db
    db.set(args[1], args[3])
    db.set_expire(args[1], when)
    db.changed(args[1], "expire")
    client.propagate_as = [[_SET, args[1], args[3], _PXAT, str(when).encode()]]
    return OK


@cmd("setex", 4, "write denyoom", (1, 1, 1), since="2.0.0", summary="Sets the string value and expiration time of a key. Creates the key if it doesn't exist.")
def setex(client, args):
    return _set_with_expire(client, args, 1000, "setex")


@cmd("psetex", 4, "write denyoom", (1, 1, 1), since="2.6.0", summary="Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.")
def psetex(client, args):
    return _set_with_expire(client, args, 1, "psetex")


@cmd("getset", 3, "write denyoom fast", (1, 1, 1), key_access="RW", summary="Returns the previous string value of a key after setting it to a new value.")
def getset(client, args):
    db = client.db
    old = db.get_string(args[1])
    db.set(args[1], args[2])
    client.propagate_as = [[_SET, args[1], args[2]]]
    return old


@cmd("getdel", 2, "write fast", (1, 1, 1), key_access="RW", since="6.2.0", summary="Returns the string value of a key after deleting the key.")
def getdel(client, args):
    db = client.db
    old = db.get_string(args[1])
    if old is not None:
        db.delete(args[1])
        client.propagate_as = [[_DEL, args[1]]]
    return old


@cmd("getex", -2, "write fast", (1, 1, 1), key_access="RW", since="6.2.0", summary="Returns the string value of a key after setting its expiration time.")
def getex(client, args):
    db, key = client.db, args[1]
    kind: bytes | None = None
    raw = b""
    i = 2
    while i < len(args):
        opt = args[i].upper()
        if opt == b"PERSIST" and kind in (None, opt):
            kind = opt
        elif opt in _EXPIRE_OPTIONS and kind in (None, opt) and i + 1 < len(args):
            kind, raw = opt, args[i + 1]
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    value = db.get_string(key)  # a missing key or wrong type wins over a bad expire time
    if value is None or kind is None:
        return value
    when = None
    if kind in _EXPIRE_OPTIONS:
        unit, relative = _EXPIRE_OPTIONS[kind]
        when = expire_at_ms(raw, unit, relative, "getex")
    if kind == b"PERSIST":
        if db.persist(key):
            db.changed(key, "persist")
            client.propagate_as = [[_PERSIST, key]]
    elif when is not None and db.already_expired(when):
        db.delete(key)
        client.propagate_as = [[_DEL, key]]
    else:
        db.set_expire(key, when)  # type: ignore[arg-type]
        db.changed(key, "expire")
        client.propagate_as = [[_PEXPIREAT, key, str(when).encode()]]
    return value


@cmd("mget", -2, "readonly fast", (1, -1, 1), summary="Atomically returns the string values of one or more keys.")
def mget(client, args):
    db = client.db
    out = []
    for key in args[1:]:
        value = db.lookup_read(key)
        out.append(value if value.__class__ is bytes else None)
    return out


def _check_pairs(args, name: str) -> None:
    if len(args) % 2 == 0:
        raise CommandError(errors.wrong_arity(name))


@cmd("mset", -3, "write denyoom", (1, -1, 2), since="1.0.1", summary="Atomically creates or modifies the string values of one or more keys.")
def mset(client, args):
    _check_pairs(args, "mset")
    db = client.db
    for i in range(1, len(args), 2):
        db.set(args[i], args[i + 1])
    return OK


@cmd("msetnx", -3, "write denyoom", (1, -1, 2), since="1.0.1", summary="Atomically modifies the string values of one or more keys only when all keys don't exist.")
def msetnx(client, args):
    _check_pairs(args, "msetnx")
    db = client.db
    if any(db.exists(args[i]) for i in range(1, len(args), 2)):
        return 0
    for i in range(1, len(args), 2):
        db.set(args[i], args[i + 1])
    return 1


# -- in-place edits -------------------------------------------------------------------


@cmd("append", 3, "write denyoom fast", (1, 1, 1), since="2.0.0", summary="Appends a string to the value of a key. Creates the key if it doesn't exist.")
def append(client, args):
    db, key = client.db, args[1]
    old = db.get_string_for_write(key)
    if old is None:
        db.set(key, args[2], "append")
        return len(args[2])
    check_length(client, len(old) + len(args[2]))
    new = old + args[2]
    db.set(key, new, "append", keep_ttl=True)
    return len(new)


@cmd("strlen", 2, "readonly fast", (1, 1, 1), key_access="-", since="2.2.0", summary="Returns the length of a string value.")
def strlen(client, args):
    value = client.db.get_string(args[1])
    return 0 if value is None else len(value)


@cmd("getrange", 4, "readonly", (1, 1, 1), since="2.4.0", summary="Returns a substring of the string stored at a key.")
def getrange(client, args):
    start, end = parse_int(args[2]), parse_int(args[3])
    value = client.db.get_string(args[1])
    if not value:
        return b""
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    end = min(end, n - 1)
    if start > end:
        return b""
    return value[start : end + 1]


command("string", "substr", 4, "readonly", (1, 1, 1), summary="Returns a substring from a string value.")(getrange)


@cmd("setrange", 4, "write denyoom", (1, 1, 1), since="2.2.0", summary="Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.")
def setrange(client, args):
    db, key, patch = client.db, args[1], args[3]
    offset = parse_int(args[2])
    if offset < 0:
        raise CommandError(errors.OFFSET_RANGE)
    old = db.get_string_for_write(key)
    if old is None:
        if not patch:
            return 0
        old = b""
    elif not patch:
        return len(old)
    check_length(client, offset + len(patch))
    if len(old) < offset:
        old = old + b"\x00" * (offset - len(old))
    new = old[:offset] + patch + old[offset + len(patch) :]
    db.set(key, new, "setrange", keep_ttl=True)
    return len(new)


# -- counters -----------------------------------------------------------------------------


def _incr(client, key: bytes, delta: int) -> int:
    db = client.db
    old = db.get_string_for_write(key)
    if old is None:
        current = 0
    elif old.isdigit() and (old[0] != 48 or len(old) == 1) and len(old) < 19:
        current = int(old)  # the common case: a short canonical non-negative number
    else:
        current = parse_int(old)
    result = current + delta
    if result < INT64_MIN or result > INT64_MAX:
        raise CommandError(errors.OVERFLOW)
    db.set(key, b"%d" % result, "incrby", keep_ttl=True)
    return result


@cmd("incr", 2, "write denyoom fast", (1, 1, 1), key_access="RW", summary="Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.")
def incr(client, args):
    return _incr(client, args[1], 1)


@cmd("decr", 2, "write denyoom fast", (1, 1, 1), key_access="RW", summary="Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.")
def decr(client, args):
    return _incr(client, args[1], -1)


@cmd("incrby", 3, "write denyoom fast", (1, 1, 1), key_access="RW", summary="Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.")
def incrby(client, args):
    return _incr(client, args[1], parse_int(args[2]))


@cmd("decrby", 3, "write denyoom fast", (1, 1, 1), key_access="RW", summary="Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.")
def decrby(client, args):
    delta = parse_int(args[2])
    if delta == INT64_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incr(client, args[1], -delta)


@cmd("incrbyfloat", 3, "write denyoom fast", (1, 1, 1), key_access="RW", since="2.6.0", summary="Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.")
def incrbyfloat(client, args):
    from magpie.commands.longdouble import add_long_doubles

    db, key = client.db, args[1]
    old = db.get_string_for_write(key)
    result = add_long_doubles(b"0" if old is None else old, args[2])
    check_length(client, len(result))
    db.set(key, result, "incrbyfloat", keep_ttl=True)
    client.propagate_as = [[_SET, key, result, _KEEPTTL]]
    return result
