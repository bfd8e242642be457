"""Redis's math.random for scripts: its own lrand48 (48-bit linear congruential generator),
so every build gives the same sequence. One state per server, never reseeded per script
and kept across SCRIPT FLUSH, as Redis's is a C static outside Lua."""

from __future__ import annotations

import math

from magpie.scripting.engine import RaisedError

_A, _C, _MASK = 0x5DEECE66D, 0xB, (1 << 48) - 1
_INITIAL = 0x1234ABCD330E
LRAND48_MAX = 2147483647


class Random48:
    def __init__(self) -> None:
        self.state = _INITIAL

    def seed(self, value: int) -> None:
        """redisSrand48: the seed's 32 bits above Redis's fixed low half."""
        self.state = ((value & 0xFFFFFFFF) << 16) | 0x330E

    def next(self) -> int:
        self.state = (_A * self.state + _C) & _MASK
        return self.state >> 17

    def random(self, *args: object) -> float:
        """math.random([m [, n]]), Lua 5.1's argument checks and texts."""
        r = (self.next() % LRAND48_MAX) / LRAND48_MAX
        if not args:
            return r
        if len(args) == 1:
            upper = _check_int(args[0], 1, "random")
            if upper < 1:
                raise _bad_argument(1, "random", "interval is empty")
            return float(math.floor(r * upper) + 1)
        if len(args) == 2:
            lower, upper = _check_int(args[0], 1, "random"), _check_int(args[1], 2, "random")
            if lower > upper:
                raise _bad_argument(2, "random", "interval is empty")
            return float(math.floor(r * (upper - lower + 1)) + lower)
        raise RaisedError(b"wrong number of arguments")

    def randomseed(self, *args: object) -> None:
        self.seed(_check_int(args[0] if args else None, 1, "randomseed", given=bool(args)))


def _bad_argument(position: int, name: str, why: str) -> RaisedError:
    return RaisedError(f"bad argument #{position} to '{name}' ({why})".encode())


def _check_int(value: object, position: int, name: str, given: bool = True) -> int:
    """luaL_checkint: a number or numeric string, truncated toward zero."""
    number: float | None = None
    if value.__class__ in (int, float):
        number = value  # type: ignore[assignment]
    elif value.__class__ is bytes:
        try:
            number = float(value)  # type: ignore[arg-type]
        except ValueError:
            number = None
    if number is None or math.isnan(number):
        got = "no value" if not given else "nil" if value is None else _type_name(value)
        raise _bad_argument(position, name, f"number expected, got {got}")
    # (lua_Integer, 64 bits, then C's cast to int: the low 32 bits)
    wide = int(number) if -(2.0**63) <= number < 2.0**63 else -(2**63)
    return ((wide + 2**31) & 0xFFFFFFFF) - 2**31


def _type_name(value: object) -> str:
    if value.__class__ is bool:
        return "boolean"
    if value.__class__ is bytes:
        return "string"
    return "table"
