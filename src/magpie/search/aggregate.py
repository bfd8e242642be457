"""FT.AGGREGATE's pipeline (LOAD, GROUPBY/REDUCE, SORTBY, LIMIT) and FT.CURSOR's cursors.

Rows start as the documents the query matches, in document-id order (or by distance for a
KNN query); each step turns a list of rows (dicts of property -> value) into another, as
RediSearch's aggregation plan does. Values are bytes as stored, or floats that reducers
computed; replies print numbers as RediSearch does (integers plainly, else %.12g).

Magpie implements the steps clients use for batch work and simple analytics (redisvl's
bulk operations: ``LOAD 1 @__key WITHCURSOR``); ``APPLY`` and ``FILTER`` expressions are
refused with an error rather than ignored.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from magpie.search.executor import (
    SearchError,
    SearchRequest,
    count_then_items,
    execute,
    number_text,
)
from magpie.search.index import SearchIndex

Row = dict[str, object]

#: RediSearch's CURSOR_MAXIDLE default (ms) and default COUNT per read.
CURSOR_MAX_IDLE_MS = 300_000
CURSOR_DEFAULT_COUNT = 1000
MAX_CURSORS = 128


@dataclass(slots=True)
class AggregateRequest:
    query: str = "*"
    verbatim: bool = False
    params: dict[str, bytes] = field(default_factory=dict)
    steps: list[Callable[[list[Row], SearchIndex, dict], list[Row]]] = field(default_factory=list)
    load: list[str] | None = None  # None: nothing; ["*"]: every field
    cursor: bool = False
    cursor_count: int = CURSOR_DEFAULT_COUNT
    cursor_max_idle_ms: int = CURSOR_MAX_IDLE_MS


def _prop(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape").removeprefix("@")


def _uint(raw: bytes, what: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SearchError(f"Bad arguments for {what}: Could not convert argument to expected type") from None
    if value < 0:
        raise SearchError(f"Bad arguments for {what}: Value is outside acceptable bounds")
    return value


def parse_aggregate_args(args: list[bytes]) -> AggregateRequest:
    """The arguments after ``FT.AGGREGATE idx query``."""
    req = AggregateRequest()
    i, n = 0, len(args)
    while i < n:
        word = args[i].upper()
        i += 1
        if word == b"VERBATIM":
            req.verbatim = True
        elif word in (b"ADDSCORES", b"NOSTOPWORDS"):
            pass
        elif word == b"LOAD":
            if i < n and args[i] == b"*":
                req.load = ["*"]
                i += 1
            else:
                items, i = count_then_items(args, i, "LOAD")
                req.load = (req.load or []) + [_prop(p) for p in items if p.upper() != b"AS"]
        elif word == b"GROUPBY":
            props, i = count_then_items(args, i, "GROUPBY")
            reducers = []
            while i < n and args[i].upper() == b"REDUCE":
                if i + 1 >= n:
                    raise SearchError("Bad arguments for REDUCE: Expected an argument, but none provided")
                name = args[i + 1].upper().decode("utf-8", "surrogateescape")
                rargs, i = count_then_items(args, i + 2, name)
                alias = None
                if i + 1 < n and args[i].upper() == b"AS":
                    alias = args[i + 1].decode("utf-8", "surrogateescape")
                    i += 2
                reducers.append(_reducer(name, [_prop(a) for a in rargs], alias))
            req.steps.append(_group_step([_prop(p) for p in props], reducers))
        elif word == b"SORTBY":
            items, i = count_then_items(args, i, "SORTBY")
            keys: list[tuple[str, bool]] = []
            for item in items:
                if item.upper() in (b"ASC", b"DESC") and keys:
                    keys[-1] = (keys[-1][0], item.upper() == b"ASC")
                else:
                    keys.append((_prop(item), True))
            limit = None
            if i + 1 < n and args[i].upper() == b"MAX":
                limit = _uint(args[i + 1], "MAX")
                i += 2
            req.steps.append(_sort_step(keys, limit))
        elif word == b"LIMIT":
            if i + 2 > n:
                raise SearchError("LIMIT requires two arguments")
            offset, count = _uint(args[i], "LIMIT"), _uint(args[i + 1], "LIMIT")
            req.steps.append(lambda rows, index, ctx, o=offset, c=count: rows[o : o + c])
            i += 2
        elif word == b"WITHCURSOR":
            req.cursor = True
            while i + 1 < n and args[i].upper() in (b"COUNT", b"MAXIDLE"):
                value = _uint(args[i + 1], args[i].upper().decode())
                if value < 1:
                    raise SearchError(f"Bad arguments for {args[i].upper().decode()}: Value is outside acceptable bounds")
                if args[i].upper() == b"COUNT":
                    req.cursor_count = value
                else:
                    req.cursor_max_idle_ms = min(value, CURSOR_MAX_IDLE_MS)
                i += 2
        elif word == b"PARAMS":
            items, i = count_then_items(args, i, "PARAMS")
            if len(items) % 2:
                raise SearchError("Parameters must be specified in PARAM VALUE pairs")
            req.params.update({items[j].decode("utf-8", "surrogateescape"): items[j + 1] for j in range(0, len(items), 2)})
        elif word in (b"DIALECT", b"TIMEOUT", b"SCORER"):
            if i >= n:
                raise SearchError(f"Need an argument for {word.decode()}")
            i += 1
        elif word in (b"APPLY", b"FILTER"):
            raise SearchError(f"{word.decode()} expressions are not supported by Magpie")
        else:
            raise SearchError(f"Unknown argument `{args[i - 1].decode('utf-8', 'replace')}`")
    return req


# -- reducers and steps ---------------------------------------------------------------------


def _number(value: object) -> float | None:
    if isinstance(value, float):
        return value
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


Reducer = tuple[str, str, Callable[[list[Row]], object]]  # (output name, argument, function)


def _reducer(name: str, args: list[str], alias: str | None) -> Reducer:
    arg = args[0] if args else ""
    out = alias or f"__generated_alias{name.lower()}{arg.lower()}"

    def numbers(rows: list[Row]) -> list[float]:
        return [v for v in (_number(r.get(arg)) for r in rows) if v is not None]

    def average(rows: list[Row]) -> float:
        values = numbers(rows)
        return sum(values) / len(values) if values else 0.0

    functions: dict[str, Callable[[list[Row]], object]] = {
        "COUNT": lambda rows: float(len(rows)),
        "COUNT_DISTINCT": lambda rows: float(len({r[arg] for r in rows if arg in r})),
        "COUNT_DISTINCTISH": lambda rows: float(len({r[arg] for r in rows if arg in r})),
        "SUM": lambda rows: float(sum(numbers(rows))),
        "AVG": average,
        "MIN": lambda rows: min(numbers(rows), default=float("inf")),
        "MAX": lambda rows: max(numbers(rows), default=float("-inf")),
        "TOLIST": lambda rows: list(dict.fromkeys(r[arg] for r in rows if arg in r)),
        "FIRST_VALUE": lambda rows: next((r[arg] for r in rows if arg in r), None),
    }
    if name not in functions:
        raise SearchError(f"No such reducer: {name}")
    return out, arg, functions[name]


def _group_step(props: list[str], reducers: list[Reducer]) -> Callable:
    def step(rows: list[Row], index: SearchIndex, ctx: dict) -> list[Row]:
        _ensure_loaded(rows, props + [arg for _, arg, _ in reducers if arg], index, ctx)
        groups: dict[tuple, list[Row]] = {}
        for row in rows:
            groups.setdefault(tuple(row.get(p) for p in props), []).append(row)
        out = []
        for values, members in groups.items():
            grouped: Row = dict(zip(props, values, strict=True))
            for name, _, fn in reducers:
                grouped[name] = fn(members)
            out.append(grouped)
        return out

    return step


def _sort_step(keys: list[tuple[str, bool]], limit: int | None) -> Callable:
    def step(rows: list[Row], index: SearchIndex, ctx: dict) -> list[Row]:
        _ensure_loaded(rows, [k for k, _ in keys], index, ctx)
        for name, ascending in reversed(keys):
            rows.sort(key=lambda r, n=name: _sort_key(r.get(n)), reverse=not ascending)
        return rows[:limit] if limit is not None else rows

    return step


def _sort_key(value: object) -> tuple[int, float, bytes]:
    number = _number(value)
    if number is not None:
        return (0, number, b"")
    if value is None:
        return (2, 0.0, b"")
    return (1, 0.0, value if isinstance(value, bytes) else str(value).encode())


def _ensure_loaded(rows: list[Row], props: list[str], index: SearchIndex, ctx: dict) -> None:
    """Properties a step reads come from the hash when the row does not carry them yet."""
    db = ctx["db"]
    for row in rows:
        key = row.get("__key")
        missing = [p for p in props if p not in row]
        if key is None or not missing:
            continue
        value = db.peek(key)
        if value is None:
            continue
        for p in missing:
            f = index.fields.get(p)
            raw = value.get((f.name if f else p).encode("utf-8", "surrogateescape"))
            if raw is not None:
                row[p] = raw


# -- running --------------------------------------------------------------------------------


def run_aggregate(index: SearchIndex, req: AggregateRequest, db) -> list[Row]:  # noqa: ANN001
    result = execute(index, SearchRequest(query=req.query, verbatim=req.verbatim, params=req.params), db)
    rows: list[Row] = []
    for doc in result.docs:
        row: Row = {"__key": doc.key}
        row.update(result.computed.get(doc.doc_id, {}))
        rows.append(row)
    ctx = {"db": db}
    if req.load is not None:
        for row in rows:
            value = db.peek(row["__key"])
            if value is None:
                continue
            if req.load == ["*"]:
                row.update({k.decode("utf-8", "surrogateescape"): v for k, v in value.items()})
            else:
                _ensure_loaded([row], [p for p in req.load if p != "__key"], index, ctx)
    for step in req.steps:
        rows = step(rows, index, ctx)
    loaded = set(req.load or ())
    return [_visible(row, loaded) for row in rows]


def _visible(row: Row, loaded: set[str]) -> Row:
    """``__key`` shows only when LOADed, as in RediSearch."""
    if "__key" in row and "__key" not in loaded and "*" not in loaded:
        row = dict(row)
        del row["__key"]
    return row


def row_pairs(row: Row) -> list[object]:
    out: list[object] = []
    for name, value in row.items():
        out.append(name.encode("utf-8", "surrogateescape"))
        out.append(format_value(value))
    return out


def format_value(value: object) -> object:
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, list):
        return [format_value(v) for v in value]
    return value


# -- cursors --------------------------------------------------------------------------------


@dataclass(slots=True)
class Cursor:
    index: str
    rows: list[Row]
    count: int
    max_idle_ms: int
    last_used: float = field(default_factory=time.monotonic)


class Cursors:
    """Open FT.AGGREGATE cursors: the rows not read yet, by cursor id."""

    def __init__(self) -> None:
        self.open: dict[int, Cursor] = {}
        self._ids = itertools.count(1)

    def create(self, index: str, rows: list[Row], count: int, max_idle_ms: int) -> tuple[list[Row], int]:
        """The first chunk and the cursor id (0 when everything fit in it)."""
        self.expire()
        if len(self.open) >= MAX_CURSORS:
            raise SearchError("Too many cursors allocated for index")
        cursor = Cursor(index, rows, count, max_idle_ms)
        cid = next(self._ids) * 7919 % (2**31 - 1) or 1
        self.open[cid] = cursor
        return self.read(index, cid, None)

    def read(self, index: str, cid: int, count: int | None) -> tuple[list[Row], int]:
        cursor = self.open.get(cid)
        if cursor is None or cursor.index != index:
            raise SearchError("Cursor not found")
        take = count or cursor.count
        chunk, cursor.rows = cursor.rows[:take], cursor.rows[take:]
        cursor.last_used = time.monotonic()
        if not cursor.rows:
            del self.open[cid]
            return chunk, 0
        return chunk, cid

    def delete(self, index: str, cid: int) -> None:
        cursor = self.open.get(cid)
        if cursor is None or cursor.index != index:
            raise SearchError("Cursor does not exist")
        del self.open[cid]

    def drop_index(self, index: str) -> None:
        for cid in [c for c, cur in self.open.items() if cur.index == index]:
            del self.open[cid]

    def expire(self) -> None:
        now = time.monotonic()
        for cid in [c for c, cur in self.open.items() if (now - cur.last_used) * 1000 > cur.max_idle_ms]:
            del self.open[cid]
