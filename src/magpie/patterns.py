"""Redis's glob patterns (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET) as compiled regexes.

The translation follows Redis's ``stringmatchlen`` case by case, including its quirks: an
unterminated ``[`` class runs to the end of the pattern, ``[^...]`` negates, a range may be
written backwards, ``\\`` escapes the next byte, a lone trailing ``\\`` is literal, and the
empty string is matched only by the empty pattern (even ``*`` does not match it).
"""

from __future__ import annotations

import re
from functools import lru_cache


def _class(pattern: bytes, i: int) -> tuple[bytes, int]:
    """Translate the class starting after '[' at index ``i``; return (regex, next index)."""
    n = len(pattern)
    negate = i < n and pattern[i] == 0x5E  # '^'
    if negate:
        i += 1
    items: list[bytes] = []
    while True:
        if i < n and pattern[i] == 0x5C and n - i >= 2:  # backslash escape
            items.append(re.escape(pattern[i + 1 : i + 2]))
            i += 2
            continue
        if i >= n:
            break
        if pattern[i] == 0x5D:  # ']'
            i += 1
            break
        if n - i >= 3 and pattern[i + 1] == 0x2D:  # a range 'a-z'
            lo, hi = pattern[i], pattern[i + 2]
            if lo > hi:
                lo, hi = hi, lo
            items.append(re.escape(bytes([lo])) + b"-" + re.escape(bytes([hi])))
            i += 3
            continue
        items.append(re.escape(pattern[i : i + 1]))
        i += 1
    body = b"".join(items)
    if not body:
        return (b"[\\s\\S]" if negate else b"(?!)"), i
    return (b"[^" if negate else b"[") + body + b"]", i


@lru_cache(maxsize=512)
def compile_pattern(pattern: bytes, nocase: bool = False) -> re.Pattern[bytes]:
    out: list[bytes] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # '*'
            while i < n and pattern[i] == 0x2A:
                i += 1
            out.append(b"[\\s\\S]*")
            continue
        if c == 0x3F:  # '?'
            out.append(b"[\\s\\S]")
        elif c == 0x5B:  # '['
            regex, i = _class(pattern, i + 1)
            out.append(regex)
            continue
        elif c == 0x5C and n - i >= 2:
            out.append(re.escape(pattern[i + 1 : i + 2]))
            i += 1
        else:
            out.append(re.escape(pattern[i : i + 1]))
        i += 1
    flags = re.IGNORECASE if nocase else 0
    # stringmatchlen's loop never starts on an empty string, so only "" matches "" (KEYS *
    # and SCAN without MATCH list the empty key because they skip matching altogether).
    head = b"(?=[\\s\\S])" if pattern else b""
    return re.compile(head + b"".join(out) + b"\\Z", flags)


def matches(pattern: bytes, value: bytes, nocase: bool = False) -> bool:
    return compile_pattern(pattern, nocase).match(value) is not None


def is_match_all(pattern: bytes) -> bool:
    return pattern == b"*"
