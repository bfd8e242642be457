"""DEBUG CHECK-INVARIANTS: the consistency checks of the data layer and the search indexes.

In-process tests damage one structure at a time (as only a bug could) and see the check name
the damage and the key; the last tests run the command over a real server.
"""

from __future__ import annotations

import numpy as np
import pytest
import redis

from magpie.search.index import SearchIndex
from magpie.search.registry import SearchRegistry
from magpie.search.schema import parse_create
from magpie.store.hashes import Hash
from magpie.store.invariants import InvariantViolation, check_database, check_keyspace
from magpie.store.keyspace import Keyspace
from magpie.store.lists import ListValue
from magpie.store.memory import MemoryAccounting
from magpie.store.sets import Set
from magpie.store.zsets import ZSet

# -- the data layer, in process ------------------------------------------------------------


def _zset(*pairs: tuple[bytes, float]) -> ZSet:
    z = ZSet()
    for member, score in pairs:
        z.set_score(member, score)
    return z


def _keyspace_with_every_type() -> Keyspace:
    keyspace = Keyspace(2)
    db = keyspace[0]
    db.set(b"str", b"v")
    db.set(b"hash", Hash({b"f": b"v"}))
    db.set(b"list", ListValue([b"a", b"b"]))
    db.set(b"set", Set([b"1", b"2"]))
    db.set(b"zset", _zset((b"a", 1.0), (b"b", 2.0)))
    db.set_expire(b"str", 10**15)
    return keyspace


def test_a_consistent_keyspace_passes():
    keyspace = _keyspace_with_every_type()
    memory = MemoryAccounting(keyspace)
    memory.start()
    check_keyspace(keyspace, memory)


def test_zset_dict_and_tree_disagreeing_is_reported_with_its_key():
    keyspace = _keyspace_with_every_type()
    keyspace[0].data[b"zset"].scores[b"a"] = 5.0  # type: ignore[attr-defined]
    with pytest.raises(InvariantViolation, match=r"key 'zset' in db 0: member b'a' scores 5.0"):
        check_database(keyspace[0])


def test_zset_member_missing_from_the_tree_is_reported():
    z = _zset((b"a", 1.0), (b"b", 2.0))
    z.tree.delete((1.0, b"a"))
    with pytest.raises(AssertionError, match="the tree holds 1 members, the dict 2"):
        z.check_invariants()


def test_zset_broken_tree_is_reported():
    z = _zset(*((b"m%d" % i, float(i)) for i in range(10)))
    z.tree._head.left.height += 1  # noqa: SLF001 - damage on purpose
    with pytest.raises(AssertionError, match="height"):
        z.check_invariants()


def test_listpack_zset_keeping_negative_zero_is_reported():
    z = _zset((b"a", 1.0))
    z.tree.delete((1.0, b"a"))
    z.tree.insert((-0.0, b"a"))
    z.scores[b"a"] = -0.0
    with pytest.raises(AssertionError, match="keeps a -0 score"):
        z.check_invariants()


@pytest.mark.parametrize("empty", [Hash(), ListValue(), Set(), ZSet()], ids=lambda v: type(v).__name__)
def test_an_empty_container_stored_is_reported(empty):
    keyspace = Keyspace(1)
    keyspace[0].data[b"k"] = empty
    with pytest.raises(InvariantViolation, match="key 'k' in db 0: an empty"):
        check_database(keyspace[0])


def test_intset_with_a_non_integer_member_is_reported():
    s = Set([b"1", b"x"])
    with pytest.raises(AssertionError, match="intset member b'x'"):
        s.check_invariants()


def test_a_value_of_an_unknown_type_is_reported():
    keyspace = Keyspace(1)
    keyspace[0].data[b"k"] = bytearray(b"v")
    with pytest.raises(InvariantViolation, match="unknown type bytearray"):
        check_database(keyspace[0])


def test_expiry_of_a_missing_key_is_reported():
    keyspace = _keyspace_with_every_type()
    keyspace[0].expires[b"gone"] = 10**15
    with pytest.raises(InvariantViolation, match="db 0: expiry of missing key b'gone'"):
        check_database(keyspace[0])


def test_expiry_without_its_heap_entry_is_reported():
    keyspace = _keyspace_with_every_type()
    keyspace[0].expiry_heap.clear()
    with pytest.raises(InvariantViolation, match="expiry of key b'str' has no heap entry"):
        check_database(keyspace[0])


def test_stale_memory_estimate_is_reported():
    keyspace = _keyspace_with_every_type()
    memory = MemoryAccounting(keyspace)
    memory.start()
    keyspace[0].data[b"list"].append(b"x" * 1000)  # type: ignore[attr-defined]  # no change signal
    with pytest.raises(InvariantViolation, match="size estimate of key b'list' is stale"):
        check_keyspace(keyspace, memory)


def test_memory_total_drifting_from_the_sum_is_reported():
    keyspace = _keyspace_with_every_type()
    memory = MemoryAccounting(keyspace)
    memory.start()
    memory.used += 1
    with pytest.raises(InvariantViolation, match="is not the databases' sum"):
        check_keyspace(keyspace, memory)


# -- search indexes, in process ---------------------------------------------------------------

_SCHEMA = (
    b"idx PREFIX 1 d: SCHEMA t TAG n NUMERIC body TEXT v VECTOR FLAT 6 TYPE FLOAT32 DIM 2 "
    b"DISTANCE_METRIC L2"
).split()


def _indexed_registry() -> tuple[Keyspace, SearchRegistry]:
    keyspace = Keyspace(1)
    registry = SearchRegistry(keyspace, lambda callback: None)
    registry.add(SearchIndex(parse_create(_SCHEMA)), scan=False)
    vector = np.array([1, 2], dtype=np.float32).tobytes()
    for i in range(5):
        doc = Hash({b"t": b"a,b", b"n": b"%d" % i, b"body": b"hello world", b"v": vector})
        keyspace[0].set(b"d:%d" % i, doc)
    return keyspace, registry


def test_a_live_index_passes():
    _, registry = _indexed_registry()
    registry.check_invariants()


def test_a_hash_changed_without_reindexing_is_reported():
    keyspace, registry = _indexed_registry()
    keyspace[0].data[b"d:1"][b"t"] = b"c"  # type: ignore[index]
    with pytest.raises(InvariantViolation, match=r"index 'idx': document b'd:1' has stale tags in 't'"):
        registry.check_invariants()


def test_a_document_whose_hash_is_gone_is_reported():
    keyspace, registry = _indexed_registry()
    del keyspace[0].data[b"d:2"]
    with pytest.raises(InvariantViolation, match="document b'd:2' is not a covered hash"):
        registry.check_invariants()


def test_a_covered_hash_left_out_of_the_index_is_reported():
    keyspace, registry = _indexed_registry()
    keyspace[0].data[b"d:9"] = Hash({b"n": b"1"})
    with pytest.raises(InvariantViolation, match="hash b'd:9' is not indexed"):
        registry.check_invariants()


def test_a_stale_numeric_entry_is_reported():
    _, registry = _indexed_registry()
    registry.indexes["idx"].numerics["n"].add(999, 1.0)
    with pytest.raises(InvariantViolation, match="the index of 'n' keeps ids that are not documents"):
        registry.check_invariants()


def test_tag_postings_disagreeing_with_documents_are_reported():
    _, registry = _indexed_registry()
    tags = registry.indexes["idx"].tags["t"]
    tags._postings["a"].clear()  # noqa: SLF001 - damage on purpose
    with pytest.raises(InvariantViolation, match="is not in its postings"):
        registry.check_invariants()


def test_text_record_counts_drifting_are_reported():
    _, registry = _indexed_registry()
    registry.indexes["idx"].text._num_records += 1  # noqa: SLF001 - damage on purpose
    with pytest.raises(InvariantViolation, match="record or offset count"):
        registry.check_invariants()


def test_flat_vector_rows_disagreeing_with_doc_ids_are_reported():
    _, registry = _indexed_registry()
    vectors = registry.indexes["idx"].vectors["v"]
    vectors._docs[0] = 12345  # type: ignore[attr-defined]  # noqa: SLF001 - damage on purpose
    with pytest.raises(InvariantViolation, match="holds another doc"):
        registry.check_invariants()


def test_hnsw_labels_disagreeing_with_doc_ids_are_reported():
    keyspace = Keyspace(1)
    registry = SearchRegistry(keyspace, lambda callback: None)
    schema = b"h SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 2 DISTANCE_METRIC IP".split()
    registry.add(SearchIndex(parse_create(schema)), scan=False)
    keyspace[0].set(b"k", Hash({b"v": np.ones(2, dtype=np.float32).tobytes()}))
    registry.check_invariants()
    registry.indexes["h"].vectors["v"]._live[:] = False  # type: ignore[attr-defined]  # noqa: SLF001
    with pytest.raises(InvariantViolation, match="is not live for it"):
        registry.check_invariants()


def test_fields_added_by_ft_alter_are_not_expected_on_older_documents():
    keyspace, registry = _indexed_registry()
    index = registry.indexes["idx"]
    from magpie.search.schema import parse_alter_fields

    index.add_fields(parse_alter_fields(index.spec, b"SCHEMA ADD extra TAG".split()))
    keyspace[0].data[b"d:0"][b"extra"] = b"x"  # type: ignore[index]  # older doc: not expected
    registry.check_invariants()


# -- over a real server ---------------------------------------------------------------------------


def _seed_every_type(client: redis.Redis) -> None:
    client.set("s", "v", ex=100)
    client.set("n", 12)
    client.rpush("l", *range(5))
    client.hset("h", mapping={"a": 1, "b": 2})
    client.sadd("si", 1, 2, 3)
    client.sadd("ss", "a", "b")
    client.zadd("zs", {"a": 1, "b": -0.0})
    client.zadd("zl", {f"m{i}": i for i in range(300)})
    client.execute_command("FT.CREATE", *_SCHEMA)
    for i in range(20):
        vector = np.array([i, -i], dtype=np.float32).tobytes()
        client.hset(f"d:{i}", mapping={"t": f"t{i % 3}", "n": i, "body": "hello world", "v": vector})
    client.expire("d:3", 100)
    client.delete("d:4")
    client.hset("d:5", "n", "not a number")


def test_debug_check_invariants_is_ok_on_a_live_server(r):
    _seed_every_type(r)
    r.config_set("maxmemory", "1gb")
    r.config_set("maxmemory-policy", "allkeys-lru")
    try:
        assert r.execute_command("DEBUG", "CHECK-INVARIANTS") in (b"OK", "OK", True)
        r.flushall()
        assert r.execute_command("DEBUG", "CHECK-INVARIANTS") in (b"OK", "OK", True)
    finally:
        r.config_set("maxmemory", "0")
        r.config_set("maxmemory-policy", "noeviction")


def test_debug_check_invariants_is_listed_and_takes_no_arguments(r2):
    assert any(b"CHECK-INVARIANTS" in line for line in r2.execute_command("DEBUG", "HELP"))
    with pytest.raises(redis.ResponseError, match="unknown subcommand"):
        r2.execute_command("DEBUG", "CHECK-INVARIANTS", "extra")
