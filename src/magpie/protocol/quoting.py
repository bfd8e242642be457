"""Redis's ``sdscatrepr``: binary strings shown as quoted text (MONITOR lines, log lines)."""

from __future__ import annotations

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b"}


def repr_bytes(raw: bytes) -> str:
    """Printable ASCII as is, C escapes for the usual controls, ``\\xHH`` for the rest,
    all in double quotes."""
    out = ['"']
    for byte in raw:
        ch = chr(byte)
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)
