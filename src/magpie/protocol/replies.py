"""Reply value types beyond Python's own.

Handlers return plain values and the encoder picks the wire form for the client's RESP
version: ``bytes`` is a bulk string, ``str`` a simple string (``+OK``), ``int`` an
integer, ``None`` a null bulk, ``list``/``tuple`` an array, ``dict`` a map (a flat array
in RESP2), ``float`` a double (a bulk string in RESP2), a ``CommandError`` an error.
The classes here cover the remaining RESP3 types.
"""

from __future__ import annotations


class RespSet(list):
    """A set reply: ``~`` in RESP3, a plain array in RESP2."""

    __slots__ = ()


class Push(list):
    """An out-of-band push (pub/sub messages, invalidations): ``>`` in RESP3."""

    __slots__ = ()


class Sequence(list):
    """Several replies to one command, sent back to back (SUBSCRIBE answers per channel)."""

    __slots__ = ()


class Verbatim(str):
    """A verbatim text (``=``, format ``txt``) in RESP3, a bulk string in RESP2 (INFO)."""

    __slots__ = ()


class Pairs(list):
    """A map given as its flat key, value sequence (keys need not be hashable: a script
    may return any value as a key): ``%`` in RESP3, a flat array in RESP2."""

    __slots__ = ()


class BigNumber(bytes):
    """A big number (``(`` in RESP3), a bulk string in RESP2 (scripts' ``{big_number=}``)."""

    __slots__ = ()


class VerbatimText:
    """A verbatim string with its three-letter format (scripts' ``{verbatim_string=}``)."""

    __slots__ = ("text", "format")

    def __init__(self, text: bytes, format: bytes) -> None:  # noqa: A002 - RESP3's own word
        self.text = text
        self.format = format


class _NullArray:
    """``*-1`` in RESP2 (timed-out blocking pops, aborted EXEC); ``_`` in RESP3."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY = _NullArray()
OK = "OK"


class NoReply:
    """Returned by handlers whose reply is sent some other way (or not at all): the
    encoder writes nothing for it."""

    __slots__ = ()


NO_REPLY = NoReply()
#: Returned by ``Client.execute`` when CLIENT PAUSE holds the command back until the pause ends.
POSTPONED = NoReply()
#: Returned when a busy script handed the event loop back mid-run (the reply comes later).
SUSPENDED = NoReply()
#: Returned by a blocking command that must wait (the reply comes later, via ``unblocked``).
BLOCKED = NoReply()

# CLIENT REPLY modes; SKIP_NEXT is what CLIENT REPLY SKIP sets, so its own reply is not the one skipped.
REPLY_ON, REPLY_OFF, REPLY_SKIP, REPLY_SKIP_NEXT = 0, 1, 2, 3
