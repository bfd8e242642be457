"""Sorted-set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms, and ZINTERCARD.

Sources may be sorted sets or plain sets (members scored 1), weighted and combined with
SUM, MIN or MAX, with Redis's rules for NaN (a SUM of +inf and -inf is 0) and for the
order of the reply (by score, then member).
"""

from __future__ import annotations

import math

from magpie import errors
from magpie.commands.args import parse_int
from magpie.commands.zsets import (
    WEIGHT_NOT_FLOAT,
    cmd,
    numkeys_at_1,
    scored_reply,
    store_numkeys_keys,
    store_result,
)
from magpie.errors import WRONGTYPE, CommandError
from magpie.numbers import parse_score
from magpie.store.sets import Set
from magpie.store.zsets import ZSet

# -- set algebra --------------------------------------------------------------------------

_UNION, _INTER, _DIFF = 0, 1, 2
_OP_NAMES = {_UNION: "union", _INTER: "inter", _DIFF: "diff"}


def _source_scores(value) -> dict[bytes, float]:
    if value.__class__ is ZSet:
        return value.scores  # type: ignore[no-any-return]
    return dict.fromkeys(value, 1.0)


def _aggregate(op: int, sources: list, weights: list[float], how: bytes) -> dict[bytes, float]:
    """zunionInterDiffGenericCommand's arithmetic: weights (NaN products become 0), then
    SUM (a NaN sum becomes 0), MIN or MAX; sources smallest first, as Redis sorts them."""
    if op == _DIFF:
        first = sources[0]
        if first is None:
            return {}
        result = dict(_source_scores(first))
        for other in sources[1:]:
            if other is not None:
                for member in other if other.__class__ is Set else other.scores:
                    result.pop(member, None)
        return result
    pairs = sorted(
        ((len(s) if s is not None else 0, n) for n, s in enumerate(sources)),
        key=lambda t: t[0],
    )
    ordered = [(_source_scores(sources[n]) if sources[n] is not None else None, weights[n]) for _, n in pairs]

    def combine(acc: float, value: float) -> float:
        if how == b"sum":
            total = acc + value
            return 0.0 if math.isnan(total) else total
        if how == b"min":
            return value if value < acc else acc
        return value if value > acc else acc

    def weighted(score: float, weight: float) -> float:
        value = score * weight
        return 0.0 if math.isnan(value) else value

    result: dict[bytes, float] = {}
    if op == _INTER:
        if any(s is None for s, _ in ordered):
            return {}
        (smallest, w0), rest = ordered[0], ordered[1:]
        for member, score in smallest.items():  # type: ignore[union-attr]
            value = weighted(score, w0)
            for other, weight in rest:
                other_score = other.get(member)  # type: ignore[union-attr]
                if other_score is None:
                    break
                value = combine(value, weighted(other_score, weight))
            else:
                result[member] = value
        return result
    for scores, weight in ordered:
        if scores is None:
            continue
        for member, score in scores.items():
            value = weighted(score, weight)
            current = result.get(member)
            result[member] = value if current is None else combine(current, value)
    return result


def _algebra(client, args, op: int, numkeys_index: int, dst: bytes | None, cardinality: bool = False):
    argc = len(args)
    setnum = parse_int(args[numkeys_index])
    if setnum < 1:
        name = args[0].decode(errors="replace").lower()
        raise CommandError(f"ERR at least 1 input key is needed for '{name}' command")
    if setnum > argc - numkeys_index - 1:
        raise CommandError(errors.SYNTAX)
    db = client.db
    sources = []
    j = numkeys_index + 1
    for key in args[j : j + setnum]:
        value = db.lookup_read(key)
        if value is not None and value.__class__ is not ZSet and value.__class__ is not Set:
            raise CommandError(WRONGTYPE)
        sources.append(value)
    j += setnum
    weights = [1.0] * setnum
    how = b"sum"
    with_scores = False
    limit = 0
    while j < argc:
        remaining = argc - j
        opt = args[j].lower()
        if op != _DIFF and not cardinality and remaining >= setnum + 1 and opt == b"weights":
            weights = [parse_score(raw, WEIGHT_NOT_FLOAT) for raw in args[j + 1 : j + 1 + setnum]]
            j += setnum + 1
        elif op != _DIFF and not cardinality and remaining >= 2 and opt == b"aggregate":
            how = args[j + 1].lower()
            if how not in (b"sum", b"min", b"max"):
                raise CommandError(errors.SYNTAX)
            j += 2
        elif cardinality and remaining >= 2 and opt == b"limit":
            try:
                limit = parse_int(args[j + 1])
            except CommandError:
                limit = -1
            if limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            j += 2
        elif dst is None and not cardinality and opt == b"withscores":
            with_scores = True
            j += 1
        else:
            raise CommandError(errors.SYNTAX)
    if cardinality:
        return _intercard(sources, limit)
    result = _aggregate(op, sources, weights, how)
    if dst is not None:
        return store_result(client, dst, result.items(), f"z{_OP_NAMES[op]}store")
    items = sorted((score, member) for member, score in result.items())
    return scored_reply(client, items, with_scores)


def _intercard(sources: list, limit: int) -> int:
    if any(s is None for s in sources):
        return 0
    ordered = sorted((_source_scores(s) for s in sources), key=len)
    smallest, others = ordered[0], ordered[1:]
    count = 0
    for member in smallest:
        if all(member in other for other in others):
            count += 1
            if limit and count >= limit:
                break
    return count


@cmd("zunion", -3, "readonly movablekeys", (0, 0, 0), since="6.2.0", keys_finder=numkeys_at_1, summary="Returns the union of multiple sorted sets.")
def zunion(client, args):
    return _algebra(client, args, _UNION, 1, None)


@cmd("zinter", -3, "readonly movablekeys", (0, 0, 0), since="6.2.0", keys_finder=numkeys_at_1, summary="Returns the intersect of multiple sorted sets.")
def zinter(client, args):
    return _algebra(client, args, _INTER, 1, None)


@cmd("zdiff", -3, "readonly movablekeys", (0, 0, 0), since="6.2.0", keys_finder=numkeys_at_1, summary="Returns the difference between multiple sorted sets.")
def zdiff(client, args):
    return _algebra(client, args, _DIFF, 1, None)


@cmd("zunionstore", -4, "write denyoom movablekeys", (1, 1, 1), key_access="W R", since="2.0.0", keys_finder=store_numkeys_keys, summary="Stores the union of multiple sorted sets in a key.")
def zunionstore(client, args):
    return _algebra(client, args, _UNION, 2, args[1])


@cmd("zinterstore", -4, "write denyoom movablekeys", (1, 1, 1), key_access="W R", since="2.0.0", keys_finder=store_numkeys_keys, summary="Stores the intersect of multiple sorted sets in a key.")
def zinterstore(client, args):
    return _algebra(client, args, _INTER, 2, args[1])


@cmd("zdiffstore", -4, "write denyoom movablekeys", (1, 1, 1), key_access="W R", since="6.2.0", keys_finder=store_numkeys_keys, summary="Stores the difference of multiple sorted sets in a key.")
def zdiffstore(client, args):
    return _algebra(client, args, _DIFF, 2, args[1])


@cmd("zintercard", -3, "readonly movablekeys", (0, 0, 0), since="7.0.0", keys_finder=numkeys_at_1, summary="Returns the number of members of the intersect of multiple sorted sets.")
def zintercard(client, args):
    return _algebra(client, args, _INTER, 1, None, cardinality=True)


