"""LCS: the longest common subsequence of two strings, with Redis 7.0's LEN and IDX replies.

Redis fills the whole (len(a)+1) x (len(b)+1) dynamic-programming table and walks it back
from the bottom-right corner. Here each table row is kept as a bit vector (Hyyrö's
bit-parallel LCS: one Python ``int`` of len(b) bits per row, updated with a few big-int
operations per character of ``a``), and any cell is recovered from its row as
``LCS(i, j) = j - popcount(row_i & (2**j - 1))``. The walk back takes exactly the steps
Redis takes (same tie-break), so the string, the match ranges and their order are Redis's.
"""

from __future__ import annotations

from functools import partial

from magpie import errors
from magpie.commands.args import parse_int
from magpie.commands.strings import max_string_length
from magpie.commands.table import command
from magpie.errors import CommandError

cmd = partial(command, "string")

NOT_STRINGS = "ERR The specified keys must contain string values"
LEN_AND_IDX = "ERR If you want both the length and indexes, please just use IDX."
TOO_LONG = "ERR String too long for LCS"
TABLE_TOO_BIG = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"

_UINT32_MAX = 2**32 - 1


class LcsTable:
    """The LCS table of ``a`` against ``b``, stored as one bit-vector row per prefix of ``a``."""

    __slots__ = ("a", "b", "rows")

    def __init__(self, a: bytes, b: bytes) -> None:
        self.a, self.b = a, b
        width = len(b)
        full = (1 << width) - 1
        masks = _match_masks(b)
        row = full  # row 0: LCS(0, j) = 0, so no column "gains" a match yet (all ones)
        rows = [row]
        for ch in a:
            matches = row & masks.get(ch, 0)
            row = ((row + matches) | (row - matches)) & full
            rows.append(row)
        self.rows = rows

    def length(self, i: int, j: int) -> int:
        """LCS of a[:i] and b[:j]."""
        return j - (self.rows[i] & ((1 << j) - 1)).bit_count()

    def walk_back(self, min_match_len: int, want_ranges: bool) -> tuple[bytes, list[tuple[int, int, int, int]]]:
        """The LCS string and its matching ranges (a_start, a_end, b_start, b_end), last first."""
        a, b = self.a, self.b
        i, j = len(a), len(b)
        chars: list[int] = []
        ranges: list[tuple[int, int, int, int]] = []
        run: list[int] | None = None  # [a_start, a_end, b_start, b_end] of the current run
        while i > 0 and j > 0:
            emit = False
            if a[i - 1] == b[j - 1]:
                chars.append(a[i - 1])
                if run is None:
                    run = [i - 1, i - 1, j - 1, j - 1]
                else:  # the walk moved diagonally, so the run extends backwards
                    run[0] -= 1
                    run[2] -= 1
                if run[0] == 0 or run[2] == 0:
                    emit = True
                i -= 1
                j -= 1
            else:
                if self.length(i - 1, j) > self.length(i, j - 1):
                    i -= 1
                else:
                    j -= 1
                emit = run is not None
            if emit and run is not None:
                if want_ranges and run[1] - run[0] + 1 >= min_match_len:
                    ranges.append((run[0], run[1], run[2], run[3]))
                run = None
        chars.reverse()
        return bytes(chars), ranges


def _match_masks(b: bytes) -> dict[int, int]:
    """For each byte value in ``b``, an int whose bit k is set where b[k] is that byte."""
    reversed_b = b[::-1]  # int(..., 2) reads the most significant digit first
    masks = {}
    for ch in set(b):
        table = bytearray(b"0" * 256)
        table[ch] = ord("1")
        masks[ch] = int(reversed_b.translate(table), 2)
    return masks


@cmd("lcs", -3, "readonly", (1, 2, 1), since="7.0.0", summary="Finds the longest common substring.")
def lcs(client, args):
    db = client.db
    first, second = db.lookup_read(args[1]), db.lookup_read(args[2])
    if (first is not None and first.__class__ is not bytes) or (second is not None and second.__class__ is not bytes):
        raise CommandError(NOT_STRINGS)
    a: bytes = first or b""  # type: ignore[assignment]
    b: bytes = second or b""  # type: ignore[assignment]

    get_len = get_idx = with_match_len = False
    min_match_len = 0
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if opt == b"idx":
            get_idx = True
        elif opt == b"len":
            get_len = True
        elif opt == b"withmatchlen":
            with_match_len = True
        elif opt == b"minmatchlen" and i + 1 < len(args):
            min_match_len = max(parse_int(args[i + 1]), 0)
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if get_idx and get_len:
        raise CommandError(LEN_AND_IDX)
    if len(a) >= _UINT32_MAX - 1 or len(b) >= _UINT32_MAX - 1:
        raise CommandError(TOO_LONG)
    # Redis refuses when its table would outgrow proto-max-bulk-len; we keep that limit.
    if (len(a) + 1) * (len(b) + 1) * 4 > max_string_length(client):
        raise CommandError(TABLE_TOO_BIG)

    table = LcsTable(a, b)
    if get_len:
        return table.length(len(a), len(b))
    common, ranges = table.walk_back(min_match_len, want_ranges=get_idx)
    if not get_idx:
        return common
    matches = []
    for a_start, a_end, b_start, b_end in ranges:
        entry: list = [[a_start, a_end], [b_start, b_end]]
        if with_match_len:
            entry.append(a_end - a_start + 1)
        matches.append(entry)
    return {b"matches": matches, b"len": len(common)}
