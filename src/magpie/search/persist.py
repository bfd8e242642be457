"""FT indexes in a snapshot: the ``magpie-`` aux fields the RDB code saves, and their restore.

RediSearch rebuilds every index from the hashes when Redis loads an RDB; for HNSW that is most
of a restart (a million vectors of dim 128 take many minutes to insert again). Magpie saves
each index whole beside the keys. On load the cheap fields (TEXT, TAG, NUMERIC, sortables)
are indexed again from the hashes, each document under the SAME id it had, and the saved
vector indexes are put back as they were, once checked to be the ones the hashes would build.
This module knows nothing of RDB bytes: it turns the registry into (name, value) pairs and back.

Aux fields, per index number ``n`` (0, 1, ... in the registry's order), in file order:

    magpie-ft-<n>-docs     the documents, a ``pack_arrays`` container (vectors_base): "ids"
                           int64, "key_ends" int64 (cumulative key lengths), "keys" uint8
    magpie-ft-<n>-vec-<j>  the j-th VECTOR field's index: ``VectorIndex.to_bytes`` (for HNSW,
                           hnswlib's own file inside), stored as it is, not copied
    magpie-ft-<n>-def      JSON, written last so it can carry the others' sizes and CRC-32s:
        {"format": 1, "min_reader": 1,
         "create": [the FT.CREATE arguments after the command name],
         "state": "ready" | "scanning", "next_id": int, "failures": int,
         "indexed_from": {alias: the first doc id indexed with the field},
         "docs": {"aux": name, "count": int, "size": int, "crc32": int} | null,
         "vectors": {alias: {"aux": name, "size": int, "crc32": int}}}

Byte strings in the JSON are ``str`` decoded with surrogateescape (exact for any bytes).

The definition is the FT.CREATE command that makes the index as it now is (fields FT.ALTER
added included), replayed through the real parser on load: a damaged or foreign definition is
refused by the checks a client's command gets, and loading never runs code (no pickle).
``min_reader`` is the oldest format able to read the definition: a later Magpie that only adds
keys keeps it at 1; one that changes a meaning raises it, and this reader skips the index with
a warning. Unknown keys are ignored.

On load (``restore_indexes``), per definition: an index that was still back-filling when saved,
or whose document table is missing or damaged, is rebuilt by scanning the keyspace. Otherwise
every saved document still present is indexed under its saved id (``SearchIndex.index(...,
doc_id=..., skip_vectors=True)``), covered hashes the save did not know get new ids, and each
vector field gets its saved index if that loads (HNSW graphs are checked before hnswlib reads
them, vectors_hnsw_file), has the field's parameters and holds exactly the documents' vectors
(``VectorIndex.mismatch``); if not, the field is rebuilt from the hashes and a warning names the
index, the field and why. Nothing here raises on bad data: it logs, then rebuilds or skips.

Observing it: ``FT.DEBUG VECSIM_INFO <index> <field>`` reports ``origin`` (``loaded``,
``rebuilt`` or ``built``, from ``SearchIndex.vector_origin``), ``registry.last_restore`` holds
the ``RestoreReport`` of the last load, and the log says
``Loaded the HNSW graph of index 'idx' field 'vec' (N vectors) without rebuilding``.
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from magpie.search.index import SearchIndex
from magpie.search.schema import FieldSpec, IndexSpec, SchemaError, parse_create
from magpie.search.vectors import VectorIndex, load_vector_index
from magpie.search.vectors_base import pack_arrays, unpack_arrays
from magpie.store.hashes import Hash

if TYPE_CHECKING:
    from magpie.search.registry import SearchRegistry

__all__ = ["AUX_PREFIX", "FORMAT", "RestoreReport", "create_args", "index_aux_fields", "restore_indexes"]

log = logging.getLogger("magpie")

AUX_PREFIX = b"magpie-"
#: What this module writes and the newest definition format it reads.
FORMAT = 1
_FT_PREFIX = AUX_PREFIX + b"ft-"
_DEFINITION = re.compile(rb"magpie-ft-(\d{1,9})-def")
_DOCS_KIND = "magpie-ft-docs"
#: Parameters a loaded vector index must share with the field's definition (FT.DEBUG names).
_VECTOR_PARAMS = (
    "algorithm", "data_type", "dim", "distance_metric", "initial_cap", "block_size", "M",
    "ef_construction", "ef_runtime", "epsilon",
)  # fmt: skip


@dataclass
class RestoreReport:
    """What the last ``restore_indexes`` did, for tests and introspection."""

    #: (index, field, vectors): vector indexes put back from their saved bytes.
    loaded: list[tuple[str, str, int]] = field(default_factory=list)
    #: (index, field, why): vector indexes rebuilt from the hashes.
    rebuilt: list[tuple[str, str, str]] = field(default_factory=list)
    #: (index, why): indexes rebuilt by scanning the keyspace (new document ids).
    scanned: list[tuple[str, str]] = field(default_factory=list)
    #: (index or aux name, why): definitions that could not be used at all.
    skipped: list[tuple[str, str]] = field(default_factory=list)


class _Unusable(Exception):
    """A saved part cannot be used; ``str(self)`` says why (it goes into the warning)."""


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# -- the definition as FT.CREATE arguments -------------------------------------------------


def create_args(spec: IndexSpec) -> list[bytes]:
    """FT.CREATE arguments (after the command name) that ``parse_create`` turns into ``spec``."""
    args = [_bytes(spec.name), b"ON", spec.on.encode()]
    args += [b"PREFIX", b"%d" % len(spec.prefixes), *spec.prefixes]
    for option, value in (
        (b"FILTER", spec.filter), (b"LANGUAGE", spec.language),
        (b"LANGUAGE_FIELD", spec.language_field), (b"SCORE_FIELD", spec.score_field),
        (b"PAYLOAD_FIELD", spec.payload_field),
    ):  # fmt: skip
        if value is not None:
            args += [option, _bytes(value)]
    args += [b"SCORE", repr(float(spec.score)).encode()]
    if spec.temporary is not None:
        args += [b"TEMPORARY", b"%d" % int(spec.temporary)]
    for flag, on in (
        (b"MAXTEXTFIELDS", spec.max_text_fields), (b"NOOFFSETS", spec.no_offsets),
        (b"NOHL", spec.no_hl), (b"NOFIELDS", spec.no_fields), (b"NOFREQS", spec.no_freqs),
        (b"SKIPINITIALSCAN", spec.skip_initial_scan),
    ):  # fmt: skip
        if on:
            args.append(flag)
    if spec.stopwords is not None:
        args += [b"STOPWORDS", b"%d" % len(spec.stopwords), *map(_bytes, spec.stopwords)]
    args.append(b"SCHEMA")
    for f in spec.fields:
        args += _field_args(f)
    return args


def _field_args(f: FieldSpec) -> list[bytes]:
    """One field, its type's options first: the parser reads SORTABLE/NOINDEX only after them."""
    args = [_bytes(f.name)] + ([b"AS", _bytes(f.alias)] if f.alias != f.name else [])
    args.append(f.type.encode())
    flags = [(b"INDEXEMPTY", f.index_empty), (b"INDEXMISSING", f.index_missing)]
    if f.type == "TEXT":
        args += [b"WEIGHT", repr(float(f.weight)).encode()]
        if f.phonetic is not None:
            args += [b"PHONETIC", _bytes(f.phonetic)]
        flags += [(b"NOSTEM", f.nostem), (b"WITHSUFFIXTRIE", f.withsuffixtrie)]
    elif f.type == "TAG":
        args += [b"SEPARATOR", _bytes(f.separator)]
        flags += [(b"CASESENSITIVE", f.case_sensitive), (b"WITHSUFFIXTRIE", f.withsuffixtrie)]
    elif f.type == "GEOSHAPE":
        args.append((f.coord_system or "SPHERICAL").encode())
    elif f.type == "VECTOR":
        params = [
            (k.encode(), repr(v).encode() if isinstance(v, float) else str(v).encode())
            for k, v in f.vector_params.items()
        ]
        args += [str(f.algorithm).encode(), b"%d" % (2 * len(params))]
        args += [word for pair in params for word in pair]
        return args + ([b"INDEXMISSING"] if f.index_missing else [])
    args += [flag for flag, on in flags if on]
    if f.sortable:
        args += [b"SORTABLE", b"UNF"] if f.unf else [b"SORTABLE"]
    if f.noindex:
        args.append(b"NOINDEX")
    return args


# -- saving --------------------------------------------------------------------------------


def index_aux_fields(registry: SearchRegistry) -> Iterator[tuple[bytes, bytes]]:
    """(aux name, aux value) pairs describing every FT index (see the module docstring).

    Lazy: each big value (a document table, a vector index) is made when the writer asks for
    it and dropped before the next, so an index is never held twice over. The registry must
    not change while this runs (the RDB child of a fork, or one synchronous save, ensures it).
    """
    for n, index in enumerate(list(registry.indexes.values())):
        yield from _index_fields(b"magpie-ft-%d-" % n, index)


def _index_fields(prefix: bytes, index: SearchIndex) -> Iterator[tuple[bytes, bytes]]:
    definition: dict[str, Any] = {
        "format": FORMAT,
        "min_reader": 1,
        "create": [_text(word) for word in create_args(index.spec)],
        "state": "ready" if index.pending is None else "scanning",
        "next_id": index.next_id,
        "failures": index.failures,
        "indexed_from": dict(index.indexed_from),
        "docs": None,
        "vectors": {},
    }
    if index.pending is None:  # a back-fill in progress is redone on load: nothing else to save
        name, value = prefix + b"docs", _docs_table(index)
        definition["docs"] = {"aux": _text(name), "count": len(index.docs), **_check(value)}
        yield name, value
        del value
        for j, (alias, vectors) in enumerate(index.vectors.items()):
            name, value = prefix + b"vec-%d" % j, vectors.to_bytes()
            definition["vectors"][alias] = {"aux": _text(name), **_check(value)}
            yield name, value
            del value
    yield prefix + b"def", json.dumps(definition, separators=(",", ":")).encode()


def _check(value: bytes) -> dict[str, int]:
    return {"size": len(value), "crc32": zlib.crc32(value)}


def _docs_table(index: SearchIndex) -> bytes:
    """Every document's key and id, in id order (the order ``index.docs`` keeps)."""
    keys = list(index.docs)
    count = len(keys)
    ids = np.fromiter((doc.doc_id for doc in index.docs.values()), dtype=np.int64, count=count)
    ends = np.cumsum(np.fromiter(map(len, keys), dtype=np.int64, count=count))
    blob = np.frombuffer(b"".join(keys), dtype=np.uint8)
    return pack_arrays({"kind": _DOCS_KIND, "format": FORMAT}, {"ids": ids, "key_ends": ends, "keys": blob})


# -- loading ---------------------------------------------------------------------------------


def restore_indexes(registry: SearchRegistry, aux: list[tuple[bytes, bytes]]) -> None:
    """Recreate every index saved in ``aux`` once the keys of database 0 are loaded (see the
    module docstring). ``aux`` holds the ``magpie-`` aux pairs in file order; pairs of other
    Magpie subsystems are ignored. Never raises on bad or foreign data: logs and rebuilds, or
    skips a definition it cannot use. The result is in ``registry.last_restore``."""
    report = RestoreReport()
    registry.last_restore = report
    values: dict[bytes, bytes] = {}
    definitions: list[tuple[int, bytes]] = []
    for name, value in aux:
        if not name.startswith(_FT_PREFIX):
            continue
        values[name] = value
        match = _DEFINITION.fullmatch(name)
        if match is not None:
            definitions.append((int(match.group(1)), name))
    for _, name in sorted(set(definitions)):
        try:
            _restore_index(registry, values, name, report)
        except Exception as exc:  # a bug here must not fail the whole load
            log.exception("Could not restore the FT index saved as %r", name)
            report.skipped.append((_text(name), f"internal error: {exc!r}"))


def _restore_index(
    registry: SearchRegistry, values: dict[bytes, bytes], def_name: bytes, report: RestoreReport
) -> None:
    try:
        definition, spec = _definition(values[def_name])
        index = SearchIndex(spec)
    except (_Unusable, SchemaError, ValueError) as exc:
        why = exc.message if isinstance(exc, SchemaError) else str(exc)
        log.warning("Skipping the FT index saved as %r: %s", _text(def_name), why)
        report.skipped.append((_text(def_name), why))
        return
    name = spec.name
    if definition["state"] == "scanning":
        why = "its back-fill had not finished when it was saved"
        log.info("Rebuilding FT index %r by scanning the keyspace: %s", name, why)
        report.scanned.append((name, why))
        _register(registry, index, scan=True)
        return
    try:
        _restore_documents(registry, index, definition, values)
    except Exception as exc:
        if not isinstance(exc, _Unusable):
            log.exception("Restoring FT index %r failed", name)
        log.warning("Rebuilding FT index %r by scanning the keyspace: %s", name, exc)
        report.scanned.append((name, str(exc)))
        _register(registry, SearchIndex(spec), scan=True)
        return
    _restore_vectors(registry, index, definition, values, report)
    _register(registry, index, scan=False)


def _register(registry: SearchRegistry, index: SearchIndex, scan: bool) -> None:
    if index.name in registry.indexes:
        log.warning("FT index %r already exists: the saved one replaces it", index.name)
        registry.drop(index.name)
    registry.add(index, scan=scan)


def _definition(value: bytes) -> tuple[dict[str, Any], IndexSpec]:
    """The decoded definition and the spec its FT.CREATE arguments make; _Unusable if not."""
    try:
        definition = json.loads(value)
    except ValueError as exc:
        raise _Unusable(f"its definition is not JSON ({exc})") from None
    if not isinstance(definition, dict):
        raise _Unusable("its definition is not a JSON object")
    format_, min_reader = definition.get("format"), definition.get("min_reader")
    if type(format_) is not int or type(min_reader) is not int:
        raise _Unusable("its definition has no format version")
    if min_reader > FORMAT:
        raise _Unusable(
            f"it was saved in format {format_}, which needs a reader of format {min_reader} "
            f"(this is {FORMAT})"
        )
    create = definition.get("create")
    if not isinstance(create, list) or not all(isinstance(word, str) for word in create):
        raise _Unusable("its definition has no FT.CREATE arguments")
    for key, kind in (
        ("state", str), ("next_id", int), ("failures", int), ("indexed_from", dict), ("vectors", dict),
    ):  # fmt: skip
        if type(definition.get(key)) is not kind:
            raise _Unusable(f"its definition's {key!r} is missing or of the wrong type")
    if definition["state"] not in ("ready", "scanning"):
        raise _Unusable(f"its definition's state {definition['state']!r} is unknown")
    spec = parse_create([_bytes(word) for word in create])
    if spec.on != "HASH" or spec.filter is not None:
        raise _Unusable("Magpie indexes hashes only, without FILTER")
    return definition, spec


def _saved_value(values: dict[bytes, bytes], meta: object, what: str) -> bytes:
    """The aux value ``meta`` (from the definition) points at, its size and CRC checked."""
    if not isinstance(meta, dict) or not isinstance(meta.get("aux"), str):
        raise _Unusable(f"its definition does not name the saved {what}")
    value = values.get(_bytes(meta["aux"]))
    if value is None:
        raise _Unusable(f"the saved {what} ({meta['aux']}) is missing")
    if len(value) != meta.get("size") or zlib.crc32(value) != meta.get("crc32"):
        raise _Unusable(f"the saved {what} ({meta['aux']}) is damaged (size or CRC-32 differs)")
    return value


def _load_docs(value: bytes) -> tuple[list[bytes], list[int]]:
    """Keys and ids of a saved document table, in id order; _Unusable unless it is sound."""
    try:
        header, arrays, _ = unpack_arrays(value)
        ids, ends, keys = arrays["ids"], arrays["key_ends"], arrays["keys"]
    except (ValueError, KeyError) as exc:
        raise _Unusable(f"the saved document table does not decode ({exc})") from None
    if header.get("kind") != _DOCS_KIND or header.get("format") != FORMAT:
        raise _Unusable("the saved document table is of another kind or format")
    kinds = (ids.dtype, ends.dtype, keys.dtype, ids.ndim, ends.ndim, keys.ndim)
    if kinds != (np.int64, np.int64, np.uint8, 1, 1, 1) or len(ids) != len(ends):
        raise _Unusable("the saved document table's arrays are malformed")
    starts = np.concatenate(([0], ends[:-1])).astype(np.int64)
    if len(ends) and (ends[-1] != len(keys) or (ends < starts).any()):
        raise _Unusable("the saved document table's keys are malformed")
    order = np.argsort(ids, kind="stable")
    ids, starts, ends = ids[order], starts[order], ends[order]
    if len(ids) and (ids[0] < 1 or (np.diff(ids) <= 0).any()):
        raise _Unusable("the saved document ids are not distinct positive numbers")
    raw = keys.tobytes()
    return [raw[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)], ids.tolist()


def _restore_documents(
    registry: SearchRegistry, index: SearchIndex, definition: dict[str, Any], values: dict[bytes, bytes]
) -> None:
    """Index every saved document still in database 0 under its saved id (vectors aside),
    then the covered hashes the save did not know; _Unusable when the table cannot be used."""
    keys, ids = _load_docs(_saved_value(values, definition.get("docs"), "document table"))
    for alias, first in definition["indexed_from"].items():
        if alias in index.indexed_from and type(first) is int and first >= 1:
            index.indexed_from[alias] = first
    data = registry.keyspace[0].data
    prefixes = tuple(index.spec.prefixes)
    gone = 0
    for key, doc_id in zip(keys, ids, strict=True):
        value = data.get(key)
        if value.__class__ is not Hash or not key.startswith(prefixes):
            gone += 1
        elif not index.index(key, value, doc_id=doc_id, skip_vectors=True):
            gone += 1  # counted in index.failures too
    failed_now = index.failures
    index.next_id = max(index.next_id, definition["next_id"])
    new = 0
    if not index.spec.skip_initial_scan:  # those keys were never indexed: leave them out
        docs = index.docs
        for key, value in data.items():
            if value.__class__ is Hash and key not in docs and key.startswith(prefixes):
                new += index.index(key, value, skip_vectors=True)
    # the failures counted when the hashes were written, plus saved documents failing now;
    # other hashes failing here failed when they were written, and were counted then
    index.failures = max(definition["failures"], 0) + failed_now
    if gone or new:
        log.warning(
            "FT index %r: %d saved document(s) are gone or no longer index, %d hash(es) were "
            "not in the save; those are indexed as the hashes are now", index.name, gone, new,
        )  # fmt: skip


def _restore_vectors(
    registry: SearchRegistry,
    index: SearchIndex,
    definition: dict[str, Any],
    values: dict[bytes, bytes],
    report: RestoreReport,
) -> None:
    """Each VECTOR field: its saved index when it is the one the hashes build, else rebuilt."""
    data = registry.keyspace[0].data
    saved = definition["vectors"]
    for alias, fresh in list(index.vectors.items()):
        attribute, first = index.attributes[alias], index.indexed_from[alias]
        ids: list[int] = []
        blobs: list[bytes] = []
        for doc_id, doc in index.by_id.items():
            if doc_id >= first:
                raw = data[doc.key].get(attribute)  # type: ignore[attr-defined]
                if raw is not None:
                    ids.append(doc_id)
                    blobs.append(raw)
        loaded: VectorIndex | None = None
        try:
            loaded = _loaded_vectors(_saved_value(values, saved.get(alias), "vector index"), fresh)
            why = loaded.mismatch(ids, blobs)
        except _Unusable as exc:
            why = str(exc)
        except Exception as exc:  # damage that got past the checks: rebuild all the same
            why = f"the saved vector index is unusable ({exc!r})"
        if why is None and loaded is not None:
            index.vectors[alias] = loaded
            index.vector_origin[alias] = "loaded"
            report.loaded.append((index.name, alias, len(loaded)))
            what = "HNSW graph" if loaded.algorithm == "HNSW" else f"{loaded.algorithm} vectors"
            log.info(
                "Loaded the %s of index %r field %r (%d vectors) without rebuilding",
                what, index.name, alias, len(loaded),
            )  # fmt: skip
            continue
        log.warning(
            "Rebuilding the vector index of FT index %r field %r from the hashes (%d vectors): %s",
            index.name, alias, len(ids), why,
        )  # fmt: skip
        report.rebuilt.append((index.name, alias, why))
        for doc_id, blob in zip(ids, blobs, strict=True):
            fresh.add(doc_id, fresh.decode(blob))
        index.vector_origin[alias] = "rebuilt"


def _loaded_vectors(value: bytes, fresh: VectorIndex) -> VectorIndex:
    """The saved vector index, if it loads and has the field's parameters; _Unusable if not."""
    try:
        loaded = load_vector_index(value)
    except Exception as exc:  # ValueError for what we detect; anything from a damaged file
        raise _Unusable(f"the saved vector index does not load ({exc})") from None
    want, have = fresh.info(), loaded.info()
    for key in _VECTOR_PARAMS:
        if want.get(key) != have.get(key):
            raise _Unusable(
                f"the saved vector index has {key} {have.get(key)!r}, the field {want.get(key)!r}"
            )
    return loaded
