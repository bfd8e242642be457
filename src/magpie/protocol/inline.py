"""Splitting an inline command line (``SET "a b" c`` typed into telnet) into arguments.

Follows Redis's ``sdssplitargs``: double quotes understand ``\\n \\r \\t \\b \\a \\\\ \\" \\xHH``,
single quotes only ``\\'``, a quote may open in the middle of a word, and a closing quote
must be followed by white space or the end of the line.
"""

from __future__ import annotations

_SPACE = b" \n\r\t\x0b\x0c"  # isspace(): skipped between arguments and required after a quote
_ENDS_WORD = b" \n\r\t"  # only these end an unquoted argument (sdssplitargs's switch)
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = b"0123456789abcdefABCDEF"


def split_inline(line: bytes) -> list[bytes] | None:
    """Return the arguments, or None when quotes are unbalanced."""
    args: list[bytes] = []
    nul = line.find(b"\0")
    if nul >= 0:  # sdssplitargs reads a C string: a NUL ends the line
        line = line[:nul]
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    return None
                c = line[i]
                if (
                    c == 0x5C
                    and i + 3 < n
                    and line[i + 1] == ord("x")
                    and line[i + 2] in _HEX
                    and line[i + 3] in _HEX
                ):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    current.append(_ESCAPES.get(line[i], line[i]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_sq:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    current.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in _ENDS_WORD:
                    break
                if c == 0x22:
                    in_dq = True
                elif c == 0x27:
                    in_sq = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))
