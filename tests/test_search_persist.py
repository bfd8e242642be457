"""FT indexes saved as ``magpie-`` aux fields and restored (search/persist.py), in process.

The RDB code is not needed: indexes are built through the real FT.* handlers over an
in-process keyspace, saved with ``index_aux_fields``, and restored into a fresh keyspace
holding copies of the same hashes, as an RDB load would leave it. What must hold: every query
answers exactly as before (KNN on the graph, filtered KNN, text, tag, numeric, sorting, the
FT.ALTER fields), every document keeps its id, the saved graphs are loaded, not rebuilt; and
whatever does not match the hashes, is missing, damaged or from a newer format is rebuilt (or
skipped) with a warning, leaving correct indexes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import zlib
from types import SimpleNamespace

import numpy as np
import pytest

from magpie.commands import search as ft
from magpie.search.persist import create_args, index_aux_fields, restore_indexes
from magpie.search.registry import SearchRegistry
from magpie.search.schema import FieldSpec, IndexSpec, parse_create
from magpie.search.vectors_base import unpack_arrays
from magpie.store.hashes import Hash
from magpie.store.keyspace import Keyspace

Aux = list[tuple[bytes, bytes]]
DIM = 128  # big enough that a k=10 query walks the HNSW graph (not the exact fallback)
N = 3000
IDX = (
    b"FT.CREATE idx PREFIX 1 doc: SCHEMA title TEXT SORTABLE tag TAG n NUMERIC SORTABLE "
    b"vec VECTOR HNSW 10 TYPE FLOAT32 DIM 128 DISTANCE_METRIC L2 M 8 EF_CONSTRUCTION 64 "
    b"flat VECTOR FLAT 6 TYPE FLOAT64 DIM 8 DISTANCE_METRIC COSINE"
).split()
COS = b"FT.CREATE cos PREFIX 1 doc: SCHEMA vec AS v VECTOR HNSW 6 TYPE FLOAT32 DIM 128 DISTANCE_METRIC COSINE".split()
ALTER = b"FT.ALTER idx SCHEMA ADD extra TAG v2 VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC IP".split()
SKIP = b"FT.CREATE skip PREFIX 1 pre: SKIPINITIALSCAN SCHEMA name TAG".split()
PEND = b"FT.CREATE pend PREFIX 1 doc: SCHEMA tag TAG".split()
WORDS = ["alpha", "beta", "gamma", "delta", "hello", "world", "magpie", "vector"]


# -- an in-process server -------------------------------------------------------------------


def new_server() -> SimpleNamespace:
    keyspace = Keyspace(1)
    return SimpleNamespace(keyspace=keyspace, search=SearchRegistry(keyspace, lambda callback: None))


def client(server: SimpleNamespace) -> SimpleNamespace:
    return SimpleNamespace(server=server, resp=2)


def run(server: SimpleNamespace, handler, *args: bytes):  # noqa: ANN001, ANN201
    return handler(client(server), list(args))


def hset(server: SimpleNamespace, key: bytes, mapping: dict[bytes, bytes]) -> None:
    """HSET as the command does it: in place, then one change signal."""
    db = server.keyspace[0]
    value = db.data.get(key)
    if value is None:
        db.set(key, Hash(mapping))
    else:
        value.update(mapping)
        db.changed(key, "hset")


def f32(rng: np.random.Generator, dim: int) -> bytes:
    return rng.standard_normal(dim).astype(np.float32).tobytes()


def build() -> SimpleNamespace:
    """Indexes of every kind over a few thousand hashes with updates, deletions and failures,
    so the HNSW graphs hold marked-deleted labels and the ids have gaps."""
    rng = np.random.default_rng(7)
    server = new_server()
    db = server.keyspace[0]
    for i in range(50):
        db.set(b"pre:%d" % i, Hash({b"name": b"p"}))  # before SKIPINITIALSCAN: never indexed
    run(server, ft.ft_create, *IDX)
    run(server, ft.ft_create, *COS)
    run(server, ft.ft_create, *SKIP)
    for i in range(N):
        if i == N // 2:
            run(server, ft.ft_alter, *ALTER)
        title = " ".join(rng.choice(WORDS, 3)).encode()
        hset(server, b"doc:%d" % i, {
            b"title": title, b"tag": b"abcd"[i % 4 : i % 4 + 1], b"n": b"%d" % i,
            b"vec": f32(rng, DIM), b"flat": rng.standard_normal(8).tobytes(),
            b"extra": b"x" if i % 3 else b"y", b"v2": f32(rng, 4),
        })  # fmt: skip
    for i in range(0, N, 7):  # updates: new ids, HNSW labels updated in place
        hset(server, b"doc:%d" % i, {b"vec": f32(rng, DIM), b"tag": b"c,e"})
    for i in range(3, N, 11):  # deletions: marked-deleted labels
        db.delete(b"doc:%d" % i)
    hset(server, b"doc:nan", {b"vec": np.full(DIM, np.nan, np.float32).tobytes(), b"tag": b"a"})
    hset(server, b"doc:bad", {b"n": b"not a number", b"tag": b"a"})  # an indexing failure
    hset(server, b"doc:short", {b"vec": b"\0" * 12})  # a failure too: wrong blob size
    for i in range(100, 120):
        hset(server, b"pre:%d" % i, {b"name": b"p"})
    server.search.fill_now()
    run(server, ft.ft_create, *PEND)  # still back-filling when saved
    return server


@pytest.fixture(scope="module")
def saved() -> tuple[SimpleNamespace, Aux]:
    server = build()
    vectors = server.search.indexes["idx"].vectors["vec"]
    assert vectors.info()["marked_deleted"] > 0  # the point of the deletions
    return server, list(index_aux_fields(server.search))


def clone_data(server: SimpleNamespace) -> SimpleNamespace:
    """A fresh server whose database 0 holds copies of ``server``'s hashes, no index."""
    fresh = new_server()
    for key, value in server.keyspace[0].data.items():
        fresh.keyspace[0].data[key] = Hash(value)
    return fresh


def restored(server: SimpleNamespace, aux: Aux) -> SimpleNamespace:
    fresh = clone_data(server)
    restore_indexes(fresh.search, aux)
    return fresh


# -- what must come back the same -------------------------------------------------------------


def queries() -> list[list[bytes]]:
    rng = np.random.default_rng(99)
    out: list[list[bytes]] = []
    for _ in range(5):
        q, f, c = f32(rng, DIM), rng.standard_normal(8).tobytes(), f32(rng, 4)
        params = [b"PARAMS", b"6", b"B", q, b"F", f, b"C", c, b"DIALECT", b"2"]
        out += [
            [b"idx", b"*=>[KNN 10 @vec $B AS d]", *params],
            [b"idx", b"*=>[KNN 10 @vec $B EF_RUNTIME 10 AS d]", b"RETURN", b"1", b"d", *params],
            [b"idx", b"(@tag:{a|b})=>[KNN 10 @vec $B AS d]", *params],
            [b"idx", b"@n:[100 900]=>[KNN 7 @flat $F AS d]", *params],
            [b"idx", b"*=>[KNN 10 @v2 $C AS d]", *params],
            [b"cos", b"*=>[KNN 10 @v $B AS d]", *params],
        ]
    out += [
        [b"idx", b"@title:alpha", b"WITHSCORES", b"LIMIT", b"0", b"50"],
        [b"idx", b"@title:(hello world)", b"WITHSCORES", b"NOCONTENT", b"LIMIT", b"0", b"100"],
        [b"idx", b"@tag:{c}", b"NOCONTENT", b"LIMIT", b"0", b"1000"],
        [b"idx", b"@tag:{e}", b"NOCONTENT", b"LIMIT", b"0", b"1000"],
        [b"idx", b"@n:[10 200]", b"SORTBY", b"n", b"DESC", b"LIMIT", b"0", b"30"],
        [b"idx", b"@extra:{x}", b"NOCONTENT", b"LIMIT", b"0", b"3000"],
        [b"idx", b"*", b"SORTBY", b"title", b"NOCONTENT", b"LIMIT", b"0", b"3000"],
        [b"skip", b"@name:{p}", b"NOCONTENT", b"LIMIT", b"0", b"100"],
    ]
    return out


def answers(server: SimpleNamespace, names: tuple[str, ...] = ("idx", "cos", "skip")) -> dict:
    """Every query's reply, each index's FT.INFO (but the vector memory estimate: a loaded
    FLAT index is allocated compactly) and document ids."""
    out: dict = {}
    for args in queries():
        if args[0].decode() in names:
            out[repr(args[:2])] = out.get(repr(args[:2]), []) + [run(server, ft.ft_search, b"FT.SEARCH", *args)]
    for name in names:
        info = run(server, ft.ft_info, b"FT.INFO", name.encode())
        at = info.index(b"vector_index_sz_mb")
        out[f"info {name}"] = info[:at] + info[at + 2 :]
        index = server.search.indexes[name]
        out[f"ids {name}"] = {key: doc.doc_id for key, doc in index.docs.items()}
        out[f"next {name}"] = index.next_id
    return out


def vectors_match_hashes(server: SimpleNamespace) -> None:
    """Every vector index holds exactly its documents' vectors (the restore's own check,
    used here as the oracle for indexes that were rebuilt)."""
    db = server.keyspace[0]
    for index in server.search.indexes.values():
        for alias, vectors in index.vectors.items():
            attribute = index.attributes[alias]
            pairs = [
                (doc_id, db.data[doc.key][attribute])
                for doc_id, doc in index.by_id.items()
                if doc_id >= index.indexed_from[alias] and attribute in db.data[doc.key]
            ]
            assert vectors.mismatch([p[0] for p in pairs], [p[1] for p in pairs]) is None, alias


def origins(server: SimpleNamespace) -> dict[tuple[str, str], str]:
    return {
        (name, alias): index.vector_origin[alias]
        for name, index in server.search.indexes.items()
        for alias in index.vectors
    }


# -- the round trip ------------------------------------------------------------------------------


def test_a_restored_index_answers_every_query_as_before(saved) -> None:
    server, aux = saved
    fresh = restored(server, aux)
    assert answers(fresh) == answers(server)
    fresh.search.check_invariants()


def test_the_saved_graphs_are_loaded_not_rebuilt(saved, caplog) -> None:
    server, aux = saved
    caplog.set_level(logging.INFO, logger="magpie")
    fresh = restored(server, aux)
    report = fresh.search.last_restore
    assert report.rebuilt == [] and report.skipped == []
    assert {(name, alias) for name, alias, _ in report.loaded} == {
        ("idx", "vec"), ("idx", "flat"), ("idx", "v2"), ("cos", "v"),
    }  # fmt: skip
    assert set(origins(fresh).values()) == {"loaded"}
    vec = server.search.indexes["idx"].vectors["vec"]
    assert ("idx", "vec", len(vec)) in report.loaded
    message = f"Loaded the HNSW graph of index 'idx' field 'vec' ({len(vec)} vectors) without rebuilding"
    assert message in caplog.messages
    debug = run(fresh, ft.ft_debug, b"FT.DEBUG", b"VECSIM_INFO", b"idx", b"vec")
    assert debug[debug.index(b"origin") + 1] == "loaded"
    loaded = fresh.search.indexes["idx"].vectors["vec"]
    assert loaded.info()["marked_deleted"] == vec.info()["marked_deleted"] > 0
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)


def test_documents_keep_their_ids_and_new_ones_continue_after_them(saved) -> None:
    server, aux = saved
    fresh = restored(server, aux)
    for name in ("idx", "cos", "skip"):
        before, after = server.search.indexes[name], fresh.search.indexes[name]
        assert {k: d.doc_id for k, d in after.docs.items()} == {k: d.doc_id for k, d in before.docs.items()}
        assert after.next_id == before.next_id and after.failures == before.failures
        assert after.indexed_from == before.indexed_from
    index = fresh.search.indexes["idx"]
    next_id = index.next_id
    hset(fresh, b"doc:new", {b"tag": b"z", b"vec": np.ones(DIM, np.float32).tobytes()})
    assert index.docs[b"doc:new"].doc_id == next_id
    reply = run(fresh, ft.ft_search, b"FT.SEARCH", b"idx", b"*=>[KNN 1 @vec $B]", b"PARAMS", b"2",
                b"B", np.ones(DIM, np.float32).tobytes(), b"DIALECT", b"2")  # fmt: skip
    assert reply[1] == b"doc:new"
    fresh.search.check_invariants()


def test_empty_indexes_and_ones_whose_documents_were_all_deleted_round_trip() -> None:
    server = new_server()
    both = b"v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 f VECTOR FLAT 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC IP"
    run(server, ft.ft_create, b"FT.CREATE", b"empty", b"PREFIX", b"1", b"e:", b"SCHEMA", *both.split())
    run(server, ft.ft_create, b"FT.CREATE", b"gone", b"PREFIX", b"1", b"g:", b"SCHEMA", *both.split())
    one = np.ones(4, np.float32).tobytes()
    for i in range(20):
        hset(server, b"g:%d" % i, {b"v": one, b"f": one})
    for i in range(20):
        server.keyspace[0].delete(b"g:%d" % i)
    fresh = restored(server, list(index_aux_fields(server.search)))
    assert len(fresh.search.last_restore.loaded) == 4 and set(origins(fresh).values()) == {"loaded"}
    hset(fresh, b"g:1", {b"v": one, b"f": one})
    index = fresh.search.indexes["gone"]
    assert index.docs[b"g:1"].doc_id == 21 and index.vectors["v"].knn(np.ones(4), 3) == [(0.0, 21)]
    fresh.search.check_invariants()


def test_an_index_still_back_filling_when_saved_is_rebuilt_by_scanning(saved) -> None:
    server, aux = saved
    assert server.search.indexes["pend"].pending is not None
    fresh = restored(server, aux)
    assert [name for name, _ in fresh.search.last_restore.scanned] == ["pend"]
    fresh.search.fill_now()
    expected = {k for k in server.keyspace[0].data if k.startswith(b"doc:")}
    assert set(fresh.search.indexes["pend"].docs) == expected
    assert list(fresh.search.indexes) == ["idx", "cos", "skip", "pend"]
    fresh.search.check_invariants()


def test_the_saved_fields_are_named_magpie_and_made_lazily(saved) -> None:
    server, aux = saved
    assert all(name.startswith(b"magpie-") for name, _ in aux)
    names = [name for name, _ in aux]
    first = [b"magpie-ft-0-docs", *(b"magpie-ft-0-vec-%d" % j for j in range(3)), b"magpie-ft-0-def"]
    assert names[:5] == first
    assert names[-1] == b"magpie-ft-3-def"  # the back-filling index: its definition alone
    pairs = index_aux_fields(server.search)
    assert next(pairs)[0] == b"magpie-ft-0-docs"  # nothing else made yet
    definition = json.loads(dict(aux)[b"magpie-ft-0-def"])
    assert definition["format"] == 1 and definition["min_reader"] == 1
    assert definition["create"][:2] == ["idx", "ON"]


def test_restoring_over_an_existing_index_replaces_it(saved, caplog) -> None:
    server, aux = saved
    fresh = clone_data(server)
    run(fresh, ft.ft_create, *IDX)
    restore_indexes(fresh.search, aux)
    assert "FT index 'idx' already exists: the saved one replaces it" in caplog.messages
    assert answers(fresh) == answers(server)


# -- data that does not match ------------------------------------------------------------------


def rebuilt_fields(server: SimpleNamespace) -> set[tuple[str, str]]:
    return {(name, alias) for name, alias, _ in server.search.last_restore.rebuilt}


def warned(caplog, *words: str) -> bool:
    return any(r.levelno == logging.WARNING and all(w in r.getMessage() for w in words) for r in caplog.records)


def test_a_vector_changed_after_the_save_rebuilds_that_field(saved, caplog) -> None:
    server, aux = saved
    fresh = clone_data(server)
    new = np.full(DIM, 9.0, np.float32)
    fresh.keyspace[0].data[b"doc:1"][b"vec"] = new.tobytes()
    restore_indexes(fresh.search, aux)
    assert rebuilt_fields(fresh) == {("idx", "vec"), ("cos", "v")}
    assert origins(fresh)[("idx", "flat")] == "loaded" and origins(fresh)[("idx", "vec")] == "rebuilt"
    assert warned(caplog, "'idx'", "'vec'", "differs")
    exact = b"*=>[KNN 1 @vec $B EF_RUNTIME 5000 AS d]"  # an outlier: ask for exact search
    reply = run(fresh, ft.ft_search, b"FT.SEARCH", b"idx", exact, b"PARAMS", b"2", b"B", new.tobytes(), b"DIALECT", b"2")
    assert reply[1] == b"doc:1" and reply[2][:2] == [b"d", b"0"]
    vectors_match_hashes(fresh)
    fresh.search.check_invariants()
    before, after = answers(server), answers(fresh)
    assert after["ids idx"] == before["ids idx"]  # the other fields were indexed as saved
    text = repr([b"idx", b"@title:alpha"])
    assert after[text] == before[text]


def test_a_hash_deleted_or_added_after_the_save_is_reflected_and_warned(saved, caplog) -> None:
    server, aux = saved
    fresh = clone_data(server)
    del fresh.keyspace[0].data[b"doc:2"]
    fresh.keyspace[0].data[b"doc:extra"] = Hash({b"tag": b"q", b"v2": np.ones(4, np.float32).tobytes()})
    restore_indexes(fresh.search, aux)
    assert warned(caplog, "'idx'", "1 saved document(s) are gone", "1 hash(es) were not in the save")
    index = fresh.search.indexes["idx"]
    assert b"doc:2" not in index.docs and index.docs[b"doc:extra"].doc_id == server.search.indexes["idx"].next_id
    assert rebuilt_fields(fresh) == {("idx", "vec"), ("idx", "flat"), ("idx", "v2"), ("cos", "v")}
    vectors_match_hashes(fresh)
    fresh.search.check_invariants()


def test_a_missing_vector_aux_rebuilds_only_that_field(saved, caplog) -> None:
    server, aux = saved
    fresh = restored(server, [(n, v) for n, v in aux if n != b"magpie-ft-0-vec-0"])
    assert rebuilt_fields(fresh) == {("idx", "vec")}
    assert warned(caplog, "'idx'", "'vec'", "magpie-ft-0-vec-0", "missing")
    assert origins(fresh)[("idx", "flat")] == origins(fresh)[("cos", "v")] == "loaded"
    vectors_match_hashes(fresh)
    exact = [b"idx", b"*=>[KNN 10 @vec $B EF_RUNTIME 5000 AS d]", b"PARAMS", b"2", b"B",
             np.zeros(DIM, np.float32).tobytes(), b"DIALECT", b"2"]  # fmt: skip
    assert run(fresh, ft.ft_search, b"FT.SEARCH", *exact) == run(server, ft.ft_search, b"FT.SEARCH", *exact)


def replace(aux: Aux, name: bytes, value: bytes, fix_crc: bool = True) -> Aux:
    """``aux`` with ``name``'s value replaced and, by default, its definition's size and CRC
    updated to match (as a buggy or hostile writer would leave it)."""
    out = [(n, value if n == name else v) for n, v in aux]
    if not fix_crc:
        return out
    def_name = name.rsplit(b"-", 2)[0] + b"-def" if b"-vec-" in name else name[: -len(b"docs")] + b"def"
    definition = json.loads(dict(aux)[def_name])
    metas = [definition["docs"], *definition["vectors"].values()]
    for meta in metas:
        if meta["aux"] == name.decode():
            meta.update(size=len(value), crc32=zlib.crc32(value))
    return [(n, json.dumps(definition).encode() if n == def_name else v) for n, v in out]


def test_a_damaged_vector_aux_is_caught_by_its_checksum(saved, caplog) -> None:
    server, aux = saved
    value = bytearray(dict(aux)[b"magpie-ft-0-vec-0"])
    value[len(value) // 2] ^= 0x10
    fresh = restored(server, replace(aux, b"magpie-ft-0-vec-0", bytes(value), fix_crc=False))
    assert rebuilt_fields(fresh) == {("idx", "vec")}
    assert warned(caplog, "'idx'", "'vec'", "damaged")
    vectors_match_hashes(fresh)


def test_a_damaged_graph_with_a_valid_checksum_is_refused_before_hnswlib_reads_it(saved, caplog) -> None:
    server, aux = saved
    value = bytearray(dict(aux)[b"magpie-ft-0-vec-0"])
    graph_at = len(value) - len(unpack_arrays(bytes(value))[2])
    value[graph_at + 96 : graph_at + 98] = b"\xff\xff"  # element 0's level-0 link count
    fresh = restored(server, replace(aux, b"magpie-ft-0-vec-0", bytes(value)))
    assert rebuilt_fields(fresh) == {("idx", "vec")}
    assert warned(caplog, "'vec'", "level-0 list is longer than 2M")
    value = bytearray(dict(aux)[b"magpie-ft-0-vec-0"])
    value[graph_at + 100 : graph_at + 104] = (10**6).to_bytes(4, "little")  # a link out of range
    fresh = restored(server, replace(aux, b"magpie-ft-0-vec-0", bytes(value)))
    assert rebuilt_fields(fresh) == {("idx", "vec")}
    vectors_match_hashes(fresh)
    fresh.search.check_invariants()


def test_a_vector_index_with_other_parameters_is_rebuilt(saved, caplog) -> None:
    server, aux = saved
    cosine_graph = dict(aux)[b"magpie-ft-1-vec-0"]  # the same vectors, under COSINE
    fresh = restored(server, replace(aux, b"magpie-ft-0-vec-0", cosine_graph))
    assert rebuilt_fields(fresh) == {("idx", "vec")}
    assert warned(caplog, "'vec'", "distance_metric 'COSINE', the field 'L2'")
    vectors_match_hashes(fresh)


def test_a_vector_index_in_a_newer_container_format_is_rebuilt(saved, caplog) -> None:
    server, aux = saved
    value = dict(aux)[b"magpie-ft-0-vec-1"].replace(b"MAGPIEVEC1", b"MAGPIEVEC2", 1)
    fresh = restored(server, replace(aux, b"magpie-ft-0-vec-1", value))
    assert rebuilt_fields(fresh) == {("idx", "flat")}
    assert warned(caplog, "'flat'", "does not load")
    vectors_match_hashes(fresh)


def test_a_damaged_document_table_rebuilds_the_index_by_scanning(saved, caplog) -> None:
    server, aux = saved
    value = dict(aux)[b"magpie-ft-0-docs"]
    for damaged in (value[:-7], b"garbage", value.replace(b"magpie-ft-docs", b"magpie-ft-xxxx")):
        caplog.clear()
        fresh = restored(server, replace(aux, b"magpie-ft-0-docs", damaged))
        assert [name for name, _ in fresh.search.last_restore.scanned] == ["idx", "pend"]
        assert warned(caplog, "Rebuilding FT index 'idx' by scanning the keyspace")
        fresh.search.fill_now()
        fresh.search.check_invariants()
        vectors_match_hashes(fresh)
        assert set(fresh.search.indexes["idx"].docs) == set(server.search.indexes["idx"].docs)


def edit_definition(aux: Aux, n: int, change) -> Aux:  # noqa: ANN001
    name = b"magpie-ft-%d-def" % n
    definition = json.loads(dict(aux)[name])
    change(definition)
    return [(k, json.dumps(definition).encode() if k == name else v) for k, v in aux]


def test_a_definition_needing_a_newer_reader_is_skipped_with_a_warning(saved, caplog) -> None:
    server, aux = saved
    fresh = restored(server, edit_definition(aux, 1, lambda d: d.update(format=2, min_reader=2)))
    assert list(fresh.search.indexes) == ["idx", "skip", "pend"]
    assert warned(caplog, "magpie-ft-1-def", "format 2", "reader of format 2")
    assert answers(fresh, ("idx", "skip")) == answers(server, ("idx", "skip"))


def test_a_newer_definition_that_old_readers_may_read_is_restored(saved) -> None:
    server, aux = saved
    fresh = restored(server, edit_definition(aux, 1, lambda d: d.update(format=3, aliases=["a"])))
    assert origins(fresh)[("cos", "v")] == "loaded"
    assert answers(fresh) == answers(server)


@pytest.mark.parametrize(
    "damage",
    [
        lambda aux: [(n, b"{not json" if n == b"magpie-ft-1-def" else v) for n, v in aux],
        lambda aux: edit_definition(aux, 1, lambda d: d.update(create=["cos", "SCHEMA"])),
        lambda aux: edit_definition(aux, 1, lambda d: d.update(create=["cos", "ON", "JSON", "SCHEMA", "a", "TAG"])),
        lambda aux: edit_definition(aux, 1, lambda d: d.update(next_id="7")),
        lambda aux: edit_definition(aux, 1, lambda d: d.update(state="paused")),
        lambda aux: edit_definition(aux, 1, lambda d: d.pop("format")),
        lambda aux: [(n, b"[1, 2]" if n == b"magpie-ft-1-def" else v) for n, v in aux],
    ],
    ids=["not-json", "refused-by-the-parser", "json-index", "bad-type", "bad-state", "no-format", "not-an-object"],
)
def test_an_undecodable_definition_is_skipped_with_a_warning(saved, caplog, damage) -> None:  # noqa: ANN001
    server, aux = saved
    fresh = restored(server, damage(aux))
    assert "cos" not in fresh.search.indexes and "idx" in fresh.search.indexes
    assert [name for name, _ in fresh.search.last_restore.skipped] == ["magpie-ft-1-def"]
    assert warned(caplog, "Skipping the FT index saved as 'magpie-ft-1-def'")
    assert answers(fresh, ("idx", "skip")) == answers(server, ("idx", "skip"))


def test_foreign_and_unknown_aux_fields_are_ignored(saved, caplog) -> None:
    server, aux = saved
    extra = [(b"magpie-vset-0", b"\x00\x01"), (b"magpie-ft-x-def", b"{}"), (b"magpie-ft-9-vec-0", b"??")]
    fresh = restored(server, extra + aux)
    assert answers(fresh) == answers(server)
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)
    assert restore_indexes(new_server().search, [(b"magpie-ft-0-def", b"\xff" * 10)]) is None


def test_no_aux_fields_restore_nothing(saved) -> None:
    fresh = restored(saved[0], [])
    assert fresh.search.indexes == {} and fresh.search.last_restore.loaded == []


# -- definitions as FT.CREATE arguments -------------------------------------------------------------

CREATES = [
    b"full ON HASH PREFIX 2 a: b: LANGUAGE german LANGUAGE_FIELD lang SCORE 0.5 SCORE_FIELD sc "
    b"PAYLOAD_FIELD pl TEMPORARY 100 NOOFFSETS NOFREQS SKIPINITIALSCAN STOPWORDS 2 foo bar SCHEMA "
    b"t AS title TEXT NOSTEM WEIGHT 2.5 PHONETIC dm:en WITHSUFFIXTRIE INDEXEMPTY INDEXMISSING "
    b"SORTABLE UNF g TAG SEPARATOR ; CASESENSITIVE WITHSUFFIXTRIE SORTABLE NOINDEX "
    b"n NUMERIC INDEXMISSING SORTABLE loc GEO shape GEOSHAPE FLAT sph GEOSHAPE "
    b"v VECTOR HNSW 12 TYPE FLOAT64 DIM 3 DISTANCE_METRIC IP INITIAL_CAP 10 M 4 EPSILON 0.25 "
    b"INDEXMISSING f VECTOR FLAT 8 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2 BLOCK_SIZE 7",
    b"wide MAXTEXTFIELDS NOHL SCHEMA a TEXT WEIGHT 1e-05 b TEXT NOINDEX",
    b"nofields NOFIELDS FILTER @a>1 STOPWORDS 0 SCHEMA a TEXT SORTABLE",
    b"json ON JSON SCHEMA $.a AS a TAG SORTABLE $.b AS b NUMERIC",
    b"many SCHEMA " + b" ".join(b"t%d TEXT" % i for i in range(40)),
]


def spec_of(line: bytes) -> IndexSpec:
    return parse_create(line.split())


ODD_BYTES = [b"\xff\xfeidx", b"PREFIX", b"1", b"\x80:", b"SCHEMA", b"\xc3(", b"AS", b"\xe9", b"TAG", b"SEPARATOR", b"\xfe"]


@pytest.mark.parametrize("spec", [*map(spec_of, CREATES), parse_create(ODD_BYTES)], ids=lambda s: s.name[:8])
def test_create_args_make_the_same_spec_again(spec: IndexSpec) -> None:
    assert parse_create(create_args(spec)) == spec


def test_the_create_examples_set_every_spec_attribute() -> None:
    """So an attribute added to IndexSpec or FieldSpec without create_args fails the test above."""
    specs = [spec_of(line) for line in CREATES]
    fields = [f for spec in specs for f in spec.fields]
    for cls, objects in ((IndexSpec, specs), (FieldSpec, fields)):
        required = [
            f.name for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]  # fmt: skip
        defaults = cls(**dict.fromkeys(required, ""))  # type: ignore[arg-type]
        for attribute in dataclasses.fields(cls):
            if attribute.name in ("name", "alias", "type", "fields"):
                continue
            default = getattr(defaults, attribute.name)
            assert any(getattr(o, attribute.name) != default for o in objects), attribute.name
