"""hiredis readers that refuse arrays longer than ``MAX_ELEMENTS``.

hiredis allocates an array's declared length as soon as it reads the header, and freeing an
unfinished one walks every slot: ``*2147483647\\r\\n`` alone stalls the server for seconds,
where Redis grows a request's arguments as they arrive. hiredis's own guard is the reader's
``maxelements``; hiredis-py does not expose it, so ``limited_reader`` sets it in the reader's
C struct. That is done only once ``layout_confirmed`` has checked, on a probe reader, that the
struct is laid out as assumed here: the object's size, fields equal to what the Python API
reports, and the limit then refusing a longer array. Where it is not, the caller must not use
hiredis for untrusted input (the strict parser reads everything then).
"""

from __future__ import annotations

import ctypes
from types import ModuleType
from typing import Any

#: Longer requests go to the strict parser, which grows them as Redis does.
MAX_ELEMENTS = 64 * 1024
_HIREDIS_DEFAULT_MAX_ELEMENTS = 2**32 - 1
_READER_OBJECT_SIZE = 96  # hiredis-py's reader object on 64-bit CPython


class _ReaderHead(ctypes.Structure):
    """The leading fields of hiredis's C ``redisReader`` (read.h, hiredis >= 1.0)."""

    _fields_ = [
        ("err", ctypes.c_int),
        ("errstr", ctypes.c_char * 128),
        ("buf", ctypes.c_void_p),
        ("pos", ctypes.c_size_t),
        ("len", ctypes.c_size_t),
        ("maxbuf", ctypes.c_size_t),
        ("maxelements", ctypes.c_longlong),
    ]


def _head(reader: Any) -> _ReaderHead:
    """The ``redisReader`` a hiredis-py reader points to, its first field after the object header."""
    address = ctypes.c_void_p.from_address(id(reader) + object.__basicsize__).value
    return _ReaderHead.from_address(address)


def layout_confirmed(hiredis: ModuleType) -> bool:
    """Whether ``limited_reader`` may write into this hiredis's readers."""
    if hiredis.Reader.__basicsize__ != _READER_OBJECT_SIZE or ctypes.sizeof(ctypes.c_void_p) != 8:
        return False
    probe = hiredis.Reader()
    probe.feed(b"*3\r\n")
    probe.setmaxbuf(12345)
    head = _head(probe)
    fields = (head.err, head.pos, head.len, head.maxbuf, head.maxelements)
    if fields != (0, 0, probe.len(), 12345, _HIREDIS_DEFAULT_MAX_ELEMENTS):
        return False
    head.maxelements = 2
    try:
        probe.gets()
    except hiredis.ProtocolError:  # "Multi-bulk length out of range": the field is the guard
        return True
    return False


def limited_reader(hiredis: ModuleType) -> Any:
    """A new ``hiredis.Reader`` that refuses arrays longer than ``MAX_ELEMENTS``."""
    reader = hiredis.Reader()
    _head(reader).maxelements = MAX_ELEMENTS
    return reader
