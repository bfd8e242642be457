"""Lua values <-> reply values, by Redis's documented conversion rules.

A command's reply reaches Lua as Redis would parse it off the wire in the script's RESP
version (``redis.setresp``): RESP2 turns nil into ``false``, doubles into strings and maps
into flat arrays; RESP3 keeps them as ``nil``, ``{double=}``, ``{map=}``, ``{set=}``...
A script's result goes the other way: numbers are truncated to integers, arrays stop at the
first nil, ``{err=}``/``{ok=}`` are error and status replies, and under RESP3 booleans,
doubles, maps, sets, big numbers and verbatim strings keep their types.
"""

from __future__ import annotations

import math
from typing import Any

from magpie.errors import CommandError
from magpie.protocol.encoder import format_double
from magpie.protocol.replies import (
    BigNumber,
    NoReply,
    Pairs,
    RespSet,
    Verbatim,
    VerbatimText,
    _NullArray,
)
from magpie.scripting.engine import lua_type

_LLONG_MIN = -(1 << 63)
_LLONG_MAX = (1 << 63) - 1
#: Nesting beyond this is refused, as Redis refuses it when the Lua stack runs out.
MAX_DEPTH = 200


def lua_integer(value: float) -> int:
    """C's (long long) cast, as Redis applies it: out of range (or NaN) gives LLONG_MIN."""
    if value.__class__ is int:
        return value  # type: ignore[return-value]
    if math.isnan(value) or not _LLONG_MIN <= value < 2.0**63:
        return _LLONG_MIN
    return int(value)


# -- replies to Lua ----------------------------------------------------------------------


class ToLua:
    """Converts reply values into Lua values for one interpreter."""

    def __init__(self, table_from: Any) -> None:
        self.table_from = table_from

    def status(self, text: str) -> Any:
        return self.table_from({b"ok": text.encode("utf-8", "surrogateescape")})

    def error(self, message: str) -> Any:
        return self.table_from({b"err": message.encode("utf-8", "surrogateescape")})

    def convert(self, value: object, resp: int) -> object:
        cls = value.__class__
        if cls is bytes or cls is int:
            return value
        if cls is list or cls is tuple:
            return self._array(value, resp)  # type: ignore[arg-type]
        if value is None or cls is _NullArray:
            return None if resp == 3 else False
        if cls is str:
            return self.status(value)  # type: ignore[arg-type]
        if cls is CommandError:
            return self.error(value.message)  # type: ignore[attr-defined]
        if cls is bool:
            return value if resp == 3 else int(value)  # type: ignore[call-overload]
        if cls is float:
            if resp == 3:
                return self.table_from({b"double": value})
            return format_double(value)  # type: ignore[arg-type]
        if cls is dict or cls is Pairs:
            items = value.items() if cls is dict else _pairs(value)  # type: ignore[attr-defined,arg-type]
            if resp == 3:
                mapping = {self._key(k, resp): self.convert(v, resp) for k, v in items}
                return self.table_from({b"map": self.table_from(mapping)})
            flat: list[object] = []
            for k, v in items:
                flat.append(self.convert(k, resp))
                flat.append(self.convert(v, resp))
            return self.table_from(flat)
        if cls is RespSet:
            if resp == 3:
                members = {self._key(k, resp): True for k in value}  # type: ignore[attr-defined]
                return self.table_from({b"set": self.table_from(members)})
            return self._array(value, resp)  # type: ignore[arg-type]
        if cls is Verbatim or cls is VerbatimText:
            text, fmt = _verbatim(value)
            if resp == 3:
                inner = self.table_from({b"format": fmt, b"string": text})
                return self.table_from({b"verbatim_string": inner})
            return text
        if cls is BigNumber:
            if resp == 3:
                return self.table_from({b"big_number": bytes(value)})  # type: ignore[call-overload]
            return bytes(value)  # type: ignore[call-overload]
        if isinstance(value, CommandError):
            return self.error(value.message)
        if isinstance(value, NoReply):
            return None
        if isinstance(value, list):  # Sequence and other list-shaped replies
            return self._array(value, resp)
        return value

    def _array(self, items: list | tuple, resp: int) -> Any:
        convert = self.convert
        return self.table_from([item if item.__class__ is bytes else convert(item, resp) for item in items])

    def _key(self, value: object, resp: int) -> object:
        """A map or set key: Lua tables are keyed by value, so a table key stays a table."""
        return self.convert(value, resp)


def _pairs(flat: list) -> list[tuple[object, object]]:
    return list(zip(flat[::2], flat[1::2], strict=False))


def _verbatim(value: object) -> tuple[bytes, bytes]:
    if isinstance(value, VerbatimText):
        return value.text, value.format
    return str(value).encode("utf-8", "surrogateescape"), b"txt"


# -- a script's result to a reply ---------------------------------------------------------


def reply_from_lua(value: object, resp: int, depth: int = 0) -> object:
    """The reply for a Lua value; ``resp`` is the script's RESP version (redis.setresp)."""
    cls = value.__class__
    if cls is bytes:
        return value
    if cls is int:
        return value
    if cls is float:
        return lua_integer(value)  # type: ignore[arg-type]
    if cls is bool:
        if resp == 3:
            return value
        return 1 if value else None
    if value is None:
        return None
    if lua_type(value) != "table":
        return None  # functions, userdata, threads
    if depth > MAX_DEPTH:
        return CommandError("ERR reached lua stack limit")
    return _table_reply(value, resp, depth)


def _field(table: Any, name: bytes) -> object:
    try:
        return table[name]
    except Exception:  # a metatable's __index may raise
        return None


def _table_reply(table: Any, resp: int, depth: int) -> object:
    err = _field(table, b"err")
    if err.__class__ is bytes:
        return CommandError(err.decode("utf-8", "surrogateescape"))  # type: ignore[attr-defined]
    ok = _field(table, b"ok")
    if ok.__class__ is bytes:
        return ok.decode("utf-8", "surrogateescape")  # type: ignore[attr-defined]
    double = _field(table, b"double")
    if double.__class__ in (int, float):
        return float(double)  # type: ignore[arg-type]
    big = _field(table, b"big_number")
    if big.__class__ is bytes:
        return BigNumber(big.replace(b"\r", b" ").replace(b"\n", b" "))  # type: ignore[attr-defined]
    verbatim = _field(table, b"verbatim_string")
    if verbatim is not None and lua_type(verbatim) == "table":
        fmt, text = _field(verbatim, b"format"), _field(verbatim, b"string")
        if fmt.__class__ is bytes and text.__class__ is bytes:
            return VerbatimText(text, fmt[:3])  # type: ignore[arg-type]
    mapping = _field(table, b"map")
    if mapping is not None and lua_type(mapping) == "table":
        flat: list[object] = []
        for key, item in mapping.items():
            flat.append(reply_from_lua(key, resp, depth + 1))
            flat.append(reply_from_lua(item, resp, depth + 1))
        return Pairs(flat)
    members = _field(table, b"set")
    if members is not None and lua_type(members) == "table":
        return RespSet(reply_from_lua(key, resp, depth + 1) for key in members.keys())
    items: list[object] = []
    index = 1
    while True:
        item = table[index]
        if item is None:
            return items
        items.append(reply_from_lua(item, resp, depth + 1))
        index += 1
