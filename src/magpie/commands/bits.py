"""Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

Bitmaps are plain strings: bit 0 is the most significant bit of the first byte. Whole
ranges are handled at C speed: BITCOUNT is ``int.from_bytes(...).bit_count()``, BITPOS
finds the first interesting byte with ``bytes.lstrip``, BITOP combines the operands as big
ints; only the two edge bytes of a bit range are masked one by one. No loop per bit or
byte runs in Python.

Argument checks and their order follow Redis 7.0 exactly, including its quirks: BITCOUNT
and BITPOS answer for a missing key before validating the range, BITCOUNT returns 0 for
``start > end`` when both are negative before it looks at BIT|BYTE, BITFIELD creates
(or grows) the key for a write even when every write fails under ``OVERFLOW FAIL``, and
``#N`` offsets and the SAT overflow check use Redis's wrapping int64 arithmetic.
Error texts specific to these commands live here; the shared ones are in ``errors``.
"""

from __future__ import annotations

from functools import partial

from magpie import errors
from magpie.commands.args import parse_int
from magpie.commands.strings import max_string_length
from magpie.commands.table import command
from magpie.errors import CommandError

cmd = partial(command, "bitmap")

BIT_ARGUMENT = "ERR The bit argument must be 1 or 0."
BITFIELD_TYPE = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
BITFIELD_OVERFLOW_TYPE = "ERR Invalid OVERFLOW type specified"
BITFIELD_RO_ONLY_GET = "ERR BITFIELD_RO only supports the GET subcommand"
BITOP_NOT_ARITY = "ERR BITOP NOT must be called with a single source key."

_UINT64 = (1 << 64) - 1


def _wrap_int64(value: int) -> int:
    """``value`` as C's int64 arithmetic would leave it after an overflow."""
    value &= _UINT64
    return value - (1 << 64) if value >> 63 else value


def parse_bit_offset(client, raw: bytes, field_bits: int = 0) -> int:
    """A bit offset below ``proto-max-bulk-len`` bytes; ``#N`` means N * field_bits (BITFIELD)."""
    by_field = field_bits > 0 and raw[:1] == b"#"
    offset = parse_int(raw[1:] if by_field else raw, errors.BIT_OFFSET)
    if by_field:
        offset = _wrap_int64(offset * field_bits)  # Redis multiplies in int64 and may wrap
    if offset < 0 or (offset >> 3) >= max_string_length(client):
        raise CommandError(errors.BIT_OFFSET)
    return offset


def _string_for_write(db, key: bytes) -> bytes | None:
    """The string at ``key`` for a bit write (no hit/miss counting), or None; WRONGTYPE otherwise."""
    value = db.lookup(key)
    if value is not None and value.__class__ is not bytes:
        raise CommandError(errors.WRONGTYPE)
    return value  # type: ignore[return-value]


def _bit_unit(raw: bytes) -> bool:
    """True for BIT, False for BYTE (any case); a syntax error otherwise."""
    unit = raw.lower()
    if unit == b"bit":
        return True
    if unit == b"byte":
        return False
    raise CommandError(errors.SYNTAX)


def _bit_span(value: bytes, first: int, last: int, fill: int) -> bytes:
    """The bytes holding bits ``first..last`` (inclusive, bit 0 = MSB of byte 0), with the bits
    of the edge bytes outside the span forced to ``fill`` (0 or 1). Only the edges are touched,
    so the middle stays one C-level slice."""
    span = value[first >> 3 : (last >> 3) + 1]
    head = 0xFF >> (first & 7)  # bits of the first byte inside the span
    tail = (0xFF << (7 - (last & 7))) & 0xFF  # bits of the last byte inside the span
    if head == 0xFF and tail == 0xFF:
        return span
    outside_value = 0xFF if fill else 0
    if len(span) == 1:
        keep = head & tail
        return bytes(((span[0] & keep) | (outside_value & ~keep & 0xFF),))
    first_byte = (span[0] & head) | (outside_value & ~head & 0xFF)
    last_byte = (span[-1] & tail) | (outside_value & ~tail & 0xFF)
    return bytes((first_byte,)) + span[1:-1] + bytes((last_byte,))


def _popcount(data: bytes) -> int:
    return int.from_bytes(data, "big").bit_count()


def _clamp_range(start: int, end: int, total: int) -> tuple[int, int]:
    """Redis's index normalisation: negatives count from the end, then clamp into the string."""
    if start < 0:
        start += total
    if end < 0:
        end += total
    start = max(start, 0)
    end = min(max(end, 0), total - 1)
    return start, end


# -- single bits --------------------------------------------------------------------------


@cmd("setbit", 4, "write denyoom", (1, 1, 1), key_access="RW", since="2.2.0",
     summary="Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.")  # fmt: skip
def setbit(client, args):
    offset = parse_bit_offset(client, args[2])
    on = parse_int(args[3], errors.BIT_VALUE)
    if on not in (0, 1):
        raise CommandError(errors.BIT_VALUE)
    db, key = client.db, args[1]
    value = _string_for_write(db, key) or b""
    index, shift = offset >> 3, 7 - (offset & 7)
    if index < len(value):
        byte = value[index]
        old = (byte >> shift) & 1
        if old == on:
            return old  # nothing changes: no write, no signal
        patched = value[:index] + bytes(((byte & ~(1 << shift)) | (on << shift),)) + value[index + 1 :]
    else:
        old = 0
        patched = value + b"\x00" * (index - len(value)) + bytes((on << shift,))
    db.set(key, patched, "setbit", keep_ttl=True)
    return old


@cmd("getbit", 3, "readonly fast", (1, 1, 1), since="2.2.0", summary="Returns a bit value by offset.")
def getbit(client, args):
    offset = parse_bit_offset(client, args[2])
    value = client.db.get_string(args[1])
    if value is None or (offset >> 3) >= len(value):
        return 0
    return (value[offset >> 3] >> (7 - (offset & 7))) & 1


# -- counting and searching ---------------------------------------------------------------


@cmd("bitcount", -2, "readonly", (1, 1, 1), since="2.6.0", summary="Counts the number of set bits (population counting) in a string.")
def bitcount(client, args):
    value = client.db.get_string(args[1])
    if value is None:
        return 0  # Redis 7.0 answers before looking at the range arguments
    argc = len(args)
    if argc == 2:
        return _popcount(value)
    if argc not in (4, 5):
        raise CommandError(errors.SYNTAX)
    start, end = parse_int(args[2]), parse_int(args[3])
    if start < 0 and end < 0 and start > end:
        return 0
    in_bits = _bit_unit(args[4]) if argc == 5 else False
    start, end = _clamp_range(start, end, len(value) * 8 if in_bits else len(value))
    if start > end:
        return 0
    if in_bits:
        return _popcount(_bit_span(value, start, end, 0))
    return _popcount(value[start : end + 1])


@cmd("bitpos", -3, "readonly", (1, 1, 1), since="2.8.7", summary="Finds the first set (1) or clear (0) bit in a string.")
def bitpos(client, args):
    bit = parse_int(args[2])
    if bit not in (0, 1):
        raise CommandError(BIT_ARGUMENT)
    value = client.db.get_string(args[1])
    if value is None:
        return -1 if bit else 0  # a missing key is an endless run of zeros
    argc = len(args)
    end_given = argc >= 5
    if argc == 3:
        first, last = 0, len(value) * 8 - 1
    elif argc in (4, 5, 6):
        start = parse_int(args[3])
        in_bits = _bit_unit(args[5]) if argc == 6 else False
        total = len(value) * 8 if in_bits else len(value)
        end = parse_int(args[4]) if end_given else total - 1
        start, end = _clamp_range(start, end, total)
        if start > end:
            return -1
        first, last = (start, end) if in_bits else (start * 8, end * 8 + 7)
    else:
        raise CommandError(errors.SYNTAX)
    if first > last:  # an empty string holds neither a 0 nor a 1
        return -1
    # Bits outside the range are filled with the value we are not looking for; then the
    # first byte that is not all "other" bits (found by lstrip, at C speed) holds the answer.
    span = _bit_span(value, first, last, 1 - bit)
    rest = span.lstrip(b"\x00" if bit else b"\xff")
    if rest:
        byte = rest[0] if bit else rest[0] ^ 0xFF
        return ((first >> 3) + len(span) - len(rest)) * 8 + 8 - byte.bit_length()
    if bit == 1 or end_given:
        return -1
    # Looking for a clear bit with no explicit end: the string is zero padded on the right.
    return last + 1


# -- BITOP --------------------------------------------------------------------------------


_BITOPS = {b"and", b"or", b"xor", b"not"}


@cmd("bitop", -4, "write denyoom", (2, -1, 1), key_access="W R", since="2.6.0",
     summary="Performs bitwise operations on multiple strings, and stores the result.")  # fmt: skip
def bitop(client, args):
    op = args[1].lower()
    if op not in _BITOPS:
        raise CommandError(errors.SYNTAX)
    if op == b"not" and len(args) != 4:
        raise CommandError(BITOP_NOT_ARITY)
    db, dest = client.db, args[2]
    sources = []
    for key in args[3:]:
        value = db.get_string(key)
        sources.append(b"" if value is None else value)
    size = max(len(s) for s in sources)
    if size == 0:
        db.delete(dest)
        return 0
    # Shorter strings are zero padded on the right: shift them up to the full width.
    numbers = [int.from_bytes(s, "big") << (8 * (size - len(s))) for s in sources]
    result = numbers[0]
    if op == b"and":
        for n in numbers[1:]:
            result &= n
    elif op == b"or":
        for n in numbers[1:]:
            result |= n
    elif op == b"xor":
        for n in numbers[1:]:
            result ^= n
    else:
        result ^= (1 << (8 * size)) - 1
    db.set(dest, result.to_bytes(size, "big"))  # a new value: the destination's TTL goes
    return size


# -- BITFIELD -----------------------------------------------------------------------------

_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2
_OVERFLOW_TYPES = {b"wrap": _WRAP, b"sat": _SAT, b"fail": _FAIL}
_SUBCOMMANDS = {b"get": (_GET, 2), b"set": (_SET, 3), b"incrby": (_INCRBY, 3)}


def parse_bitfield_type(raw: bytes) -> tuple[bool, int]:
    """``i<bits>`` (1..64) or ``u<bits>`` (1..63) as (signed, bits); the sign letter is lower case only."""
    signed = raw[:1] == b"i"
    if not signed and raw[:1] != b"u":
        raise CommandError(BITFIELD_TYPE)
    digits = raw[1:].split(b"\x00", 1)[0]  # Redis reads the width as a C string
    bits = parse_int(digits, BITFIELD_TYPE)
    if bits < 1 or bits > (64 if signed else 63):
        raise CommandError(BITFIELD_TYPE)
    return signed, bits


def _read_field(buf, offset: int, bits: int, signed: bool) -> int:
    """The ``bits``-wide integer at bit ``offset``; bytes past the end of ``buf`` read as zero."""
    first, last = offset >> 3, (offset + bits - 1) >> 3
    chunk = bytes(buf[first : last + 1])
    x = int.from_bytes(chunk, "big") << (8 * (last + 1 - first - len(chunk)))
    x = (x >> (7 - ((offset + bits - 1) & 7))) & ((1 << bits) - 1)
    if signed and x >> (bits - 1):
        x -= 1 << bits
    return x


def _write_field(buf: bytearray, offset: int, bits: int, value: int) -> None:
    """Store the low ``bits`` bits of ``value`` at bit ``offset``; ``buf`` is already long enough."""
    first, last = offset >> 3, (offset + bits - 1) >> 3
    shift = 7 - ((offset + bits - 1) & 7)
    mask = ((1 << bits) - 1) << shift
    x = int.from_bytes(buf[first : last + 1], "big")
    x = (x & ~mask) | ((value << shift) & mask)
    buf[first : last + 1] = x.to_bytes(last + 1 - first, "big")


def _fit(raw: int, signed: bool, bits: int, overflow: int, is_set: bool) -> int | None:
    """``raw`` brought into the field's range by the OVERFLOW policy; None when FAIL refuses it."""
    if signed:
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        low, high = 0, (1 << bits) - 1
    if low <= raw <= high:
        return raw
    if overflow == _FAIL:
        return None
    if overflow == _SAT:
        upward = raw > high
        if signed and is_set and bits < 64 and raw <= high - (1 << 63):
            # Redis computes ``max - value`` in int64; for a value this negative it wraps
            # and the SET is judged an overflow upwards, so SAT stores the maximum.
            upward = True
        return high if upward else low
    wrapped = raw & ((1 << bits) - 1)
    if signed and wrapped >> (bits - 1):
        wrapped -= 1 << bits
    return wrapped


def _bitfield(client, args, read_only: bool):
    # Parse every operation first: any argument error leaves the key untouched.
    ops: list[tuple[int, bool, int, int, int, int]] = []  # (opcode, signed, bits, offset, arg, overflow)
    overflow = _WRAP
    writes = False
    highest_bit = 0
    i, argc = 2, len(args)
    while i < argc:
        name = args[i].lower()
        remaining = argc - i - 1
        if name == b"overflow" and remaining >= 1:
            policy = _OVERFLOW_TYPES.get(args[i + 1].lower())
            if policy is None:
                raise CommandError(BITFIELD_OVERFLOW_TYPE)
            overflow = policy
            i += 2
            continue
        opcode, needed = _SUBCOMMANDS.get(name, (None, 0))
        if opcode is None or remaining < needed:
            raise CommandError(errors.SYNTAX)
        signed, bits = parse_bitfield_type(args[i + 1])
        offset = parse_bit_offset(client, args[i + 2], bits)
        arg = 0
        if opcode != _GET:
            writes = True
            highest_bit = max(highest_bit, offset + bits - 1)
            arg = parse_int(args[i + 3])
        ops.append((opcode, signed, bits, offset, arg, overflow))
        i += needed + 1

    db, key = client.db, args[1]
    if not writes:
        value = db.get_string(key)
        data = b"" if value is None else value
        return [_read_field(data, offset, bits, signed) for _, signed, bits, offset, _, _ in ops]
    if read_only:
        raise CommandError(BITFIELD_RO_ONLY_GET)

    value = _string_for_write(db, key)
    needed_len = (highest_bit >> 3) + 1
    # Redis creates or zero-pads the string up front, even if OVERFLOW FAIL then refuses every write.
    changed = value is None or len(value) < needed_len
    buf = bytearray(value or b"")
    if len(buf) < needed_len:
        buf.extend(bytes(needed_len - len(buf)))
    replies: list[int | None] = []
    for opcode, signed, bits, offset, arg, policy in ops:
        old = _read_field(buf, offset, bits, signed)
        if opcode == _GET:
            replies.append(old)
            continue
        if opcode == _INCRBY:
            raw = old + arg
        elif signed:
            raw = arg
        else:
            raw = arg & _UINT64  # an unsigned SET sees the value as C's uint64
        new = _fit(raw, signed, bits, policy, opcode == _SET)
        if new is None:
            replies.append(None)
            continue
        replies.append(new if opcode == _INCRBY else old)
        if new != old:
            _write_field(buf, offset, bits, new)
            changed = True
    if changed:
        db.set(key, bytes(buf), "setbit", keep_ttl=True)
    return replies


def bitfield_key_access(argv: list[bytes]) -> str:
    """BITFIELD only reads when every operation is a GET (Redis's bitfieldGetKeys)."""
    i = 2
    while i < len(argv):
        op, remaining = argv[i].lower(), len(argv) - i - 1
        if op == b"get" and remaining >= 2:
            i += 3
        elif op == b"overflow" and remaining >= 1:
            i += 2
        else:  # SET, INCRBY or a syntax error: assume a write, as Redis does
            return "RW"
    return "R"


@cmd("bitfield", -2, "write denyoom", (1, 1, 1), key_access=bitfield_key_access, since="3.2.0",
     summary="Performs arbitrary bitfield integer operations on strings.")  # fmt: skip
def bitfield(client, args):
    return _bitfield(client, args, read_only=False)


@cmd("bitfield_ro", -2, "readonly fast", (1, 1, 1), since="6.0.0",
     summary="Performs arbitrary read-only bitfield integer operations on strings.")  # fmt: skip
def bitfield_ro(client, args):
    return _bitfield(client, args, read_only=True)
