"""Term positions: how close the matched words of a query lie in a document.

RediSearch's proximity rules, used by TextIndex for phrases (``slop``/``inorder``) and for
TFIDF's "minimal offset delta" (src/index_result.c ``IndexResult_MinOffsetDelta`` and its
in-order / unordered range checks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def merge(children: list[Sequence[int]]) -> Sequence[int]:
    if len(children) == 1:
        return children[0]
    return sorted(p for positions in children for p in positions)


def min_offset_delta(children: list[Sequence[int]]) -> int:
    """RediSearch's ``IndexResult_MinOffsetDelta``: for each pair of neighbouring children,
    the smallest distance between their positions (the walk stops once it is at most 1);
    the integer square root of the sum of their squares, or ``len(children) - 1`` if that
    sum is 0, or 1 for a single child."""
    num = len(children)
    if num <= 1:
        return 1
    dist = 0
    for v1, v2 in zip(children, children[1:], strict=False):
        i = j = 0
        cd = abs(v2[0] - v1[0])
        while cd > 1 and i < len(v1) and j < len(v2):
            p1, p2 = v1[i], v2[j]
            cd = min(abs(p2 - p1), cd)
            if p2 > p1:
                i += 1
            else:
                j += 1
        dist += cd * cd
    return int(math.sqrt(dist)) if dist else num - 1


def within_slop_in_order(lists: list[list[int]], max_slop: int) -> bool:
    """RediSearch's ``__indexResult_withinRangeInOrder``: positions p1 <= p2 <= ... taken
    greedily, whose gaps (``p[i] - p[i-1] - 1``) add up to at most ``max_slop``."""
    num = len(lists)
    cursors = [0] * num
    current = [0] * num
    while True:
        span = 0
        for i in range(num):
            positions = lists[i]
            if i == 0:
                if cursors[0] >= len(positions):
                    return False
                pos = positions[cursors[0]]
                cursors[0] += 1
                last = 0
            else:
                pos = current[i]
                last = current[i - 1]
                k = cursors[i]
                if k == 0:  # not read yet: take the first position
                    if not positions:
                        return False
                    pos = positions[0]
                    k = cursors[i] = 1
                while pos < last:
                    if k >= len(positions):
                        return False
                    pos = positions[k]
                    k += 1
                cursors[i] = k
            current[i] = pos
            if i > 0:
                span += pos - last - 1
                if span > max_slop:
                    break
        if span <= max_slop:
            return True


def within_slop_unordered(lists: list[list[int]], max_slop: int) -> bool:
    """RediSearch's ``__indexResult_withinRangeUnordered``: advance the smallest position
    until ``max - min - (n - 1) <= max_slop`` with max != min."""
    num = len(lists)
    cursors = [1] * num
    current = [positions[0] for positions in lists]
    high = max(current)
    while True:
        low = min(current)
        if low != high and high - low - (num - 1) <= max_slop:
            return True
        at = current.index(low)
        k = cursors[at]
        if k >= len(lists[at]):
            return False
        cursors[at] = k + 1
        current[at] = lists[at][k]
        if current[at] > high:
            high = current[at]
