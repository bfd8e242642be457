"""Live indexing keeps every FT index exact, whatever the keyspace goes through.

The invariant: for each index, ``FT.INFO num_docs`` is the number of hashes in database 0
whose key starts with one of its prefixes and whose NUMERIC values parse and VECTOR blobs
have the right size, computed here independently (SCAN + TYPE + HGETALL); ``FT.SEARCH *``
returns exactly those keys; and each field's own query (a full numeric range, the tag
values, a KNN wider than the index) finds exactly the documents holding that field.

Indexes with different prefixes are live at once: one with prefix "" (every key), two that
share the ``doc:`` keys, one over ``item:`` only. Each write command family is checked on its
own, then hypothesis applies random sequences of them and checks the invariant after every
step. Any FLUSHDB (of whichever database) or FLUSHALL drops every index, as RediSearch's
onFlush does; the tests create them again and check the back-fill. Finally FT.CREATE over
50k existing keys back-fills while other clients are served, and stays exact under writes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from servers import start_magpie

DIM = 4
TAGS = (b"red", b"green", b"blue")


def vec(*values: float) -> bytes:
    return np.asarray(values, dtype=np.float32).tobytes()


GOOD_VECTOR = vec(1, 2, 3, 4)
BAD_VECTORS = (b"\x00" * 7, b"\x00" * 15, vec(*range(8)))  # short, one byte short, twice as long


@dataclass(frozen=True)
class Spec:
    """What the test knows of one index, to decide independently which hashes it holds."""

    name: str
    prefixes: tuple[bytes, ...]
    numeric: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    vectors: tuple[tuple[str, str], ...] = ()  # (field, algorithm)

    def create(self, client) -> None:
        schema: list[object] = []
        for name in self.numeric:
            schema += [name, "NUMERIC"]
        for name in self.tags:
            schema += [name, "TAG"]
        for name, algorithm in self.vectors:
            attrs = ["TYPE", "FLOAT32", "DIM", DIM, "DISTANCE_METRIC", "L2"]
            schema += [name, "VECTOR", algorithm, len(attrs), *attrs]
        prefixes = ["PREFIX", len(self.prefixes), *self.prefixes]
        client.execute_command("FT.CREATE", self.name, "ON", "HASH", *prefixes, "SCHEMA", *schema)

    def covers(self, key: bytes) -> bool:
        return any(key.startswith(p) for p in self.prefixes)

    def accepts(self, fields: dict[bytes, bytes]) -> bool:
        for name in self.numeric:
            raw = fields.get(name.encode())
            if raw is not None and not is_number(raw):
                return False
        for name, _ in self.vectors:
            raw = fields.get(name.encode())
            if raw is not None and len(raw) != DIM * 4:
                return False
        return True


def is_number(raw: bytes) -> bool:
    try:
        return np.isfinite(float(raw))
    except ValueError:
        return False


SPECS = (
    Spec("all", (b"",), numeric=("n",), tags=("t",)),
    Spec("docs", (b"doc:",), numeric=("n",), vectors=(("v", "FLAT"),)),
    Spec("shared", (b"doc:", b"item:"), tags=("t",), vectors=(("v", "HNSW"),)),
    Spec("items", (b"item:",), numeric=("n",)),
)
BY_NAME = {spec.name: spec for spec in SPECS}


# -- reading the server -------------------------------------------------------------------------


def ft_info(client, name: str) -> dict[str, object]:
    raw = client.execute_command("FT.INFO", name)
    pairs = raw.items() if isinstance(raw, dict) else zip(raw[::2], raw[1::2], strict=True)
    return {k.decode(): v for k, v in pairs}


def wait_indexed(client, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while int(ft_info(client, name)["indexing"]):
        assert time.monotonic() < deadline, f"{name} still indexing"
        time.sleep(0.005)


def num_docs(client, name: str) -> int:
    return int(ft_info(client, name)["num_docs"])


def failures(client, name: str) -> int:
    return int(ft_info(client, name)["hash_indexing_failures"])


def found_keys(client, name: str, query: str, *params: object) -> list[bytes]:
    """Every key a query finds (RESP2, NOCONTENT); the total must agree with the page."""
    extra = ["PARAMS", len(params), *params, "DIALECT", 2] if params else []
    reply = client.execute_command(
        "FT.SEARCH", name, query, "NOCONTENT", "LIMIT", 0, 100_000, *extra
    )
    keys = reply[1:]
    assert reply[0] == len(keys), f"{name} {query}: total {reply[0]} for {len(keys)} keys"
    return keys


def db0_hashes(client) -> dict[bytes, dict[bytes, bytes]]:
    """The hashes of database 0 (``client`` must be on db 0), read independently of FT."""
    keys = list(client.scan_iter(count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    kinds = pipe.execute()
    hashes = [key for key, kind in zip(keys, kinds, strict=True) if kind == b"hash"]
    for key in hashes:
        pipe.hgetall(key)
    return dict(zip(hashes, pipe.execute(), strict=True))


def expected_docs(
    spec: Spec, hashes: dict[bytes, dict[bytes, bytes]]
) -> dict[bytes, dict[bytes, bytes]]:
    return {k: f for k, f in hashes.items() if spec.covers(k) and spec.accepts(f)}


def assert_same_keys(found: list[bytes], expected: set[bytes], what: str) -> None:
    assert len(found) == len(set(found)), f"{what}: a key found twice"
    extra, missing = set(found) - expected, expected - set(found)
    assert not extra and not missing, (
        f"{what}: found extra {sorted(extra)}, missed {sorted(missing)}"
    )


def assert_exact(client, specs=SPECS) -> dict[str, set[bytes]]:
    """The invariant, for every index; returns each index's documents."""
    for spec in specs:
        wait_indexed(client, spec.name)
    hashes = db0_hashes(client)
    documents = {}
    for spec in specs:
        docs = expected_docs(spec, hashes)
        assert num_docs(client, spec.name) == len(docs), f"{spec.name}: num_docs"
        assert_same_keys(found_keys(client, spec.name, "*"), set(docs), f"{spec.name} *")
        for name in spec.numeric:
            holding = {k for k, f in docs.items() if name.encode() in f}
            found = found_keys(client, spec.name, f"@{name}:[-inf +inf]")
            assert_same_keys(found, holding, f"{spec.name} @{name}")
        for name in spec.tags:
            holding = {k for k, f in docs.items() if f.get(name.encode()) in TAGS}
            found = found_keys(
                client, spec.name, f"@{name}:{{{'|'.join(t.decode() for t in TAGS)}}}"
            )
            assert_same_keys(found, holding, f"{spec.name} @{name}")
        for name, _ in spec.vectors:
            holding = {k for k, f in docs.items() if name.encode() in f}
            query = f"*=>[KNN {len(holding) + 5} @{name} $B]"
            found = found_keys(client, spec.name, query, "B", vec(0, 0, 0, 0))
            assert_same_keys(found, holding, f"{spec.name} KNN @{name}")
        documents[spec.name] = set(docs)
    return documents


def expired_keys(client) -> int:
    return int(client.info("stats")["expired_keys"])


def wait_active_expiry(client, before: int, count: int) -> None:
    """Wait for the active expire cycle to reclaim ``count`` keys, touching none of them."""
    deadline = time.monotonic() + 10
    while expired_keys(client) < before + count:
        assert time.monotonic() < deadline, "the active expire cycle did not run"
        time.sleep(0.005)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    process = start_magpie()
    client = process.client(protocol=2)
    client.config_set("hz", 100)  # a quicker active expire cycle
    client.close()
    yield process
    process.stop()


def drop_all_indexes(client) -> None:
    for name in client.execute_command("FT._LIST"):
        client.execute_command("FT.DROPINDEX", name)


def assert_no_indexes(client) -> None:
    assert client.execute_command("FT._LIST") == []
    for spec in SPECS:
        with pytest.raises(redis.ResponseError, match="Unknown index name"):
            ft_info(client, spec.name)


def create_all(client) -> None:
    for spec in SPECS:
        spec.create(client)


@pytest.fixture
def c(server):
    """A db-0 client on an empty server with the four indexes of SPECS."""
    client = server.client(protocol=2)
    drop_all_indexes(client)
    client.flushall()
    create_all(client)
    yield client
    client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 1)
    client.close()


@pytest.fixture
def c1(server):
    """A client on database 1."""
    client = server.client(protocol=2, db=1)
    yield client
    client.close()


def seed(client) -> None:
    """A few documents of every kind: both shared prefixes, outside them, and non-hashes."""
    pipe = client.pipeline(transaction=False)
    for i in range(1, 5):
        pipe.hset(f"doc:{i}", mapping={"n": i, "t": TAGS[i % 3], "v": vec(i, 0, 0, 0)})
        pipe.hset(f"item:{i}", mapping={"n": 10 + i, "t": TAGS[(i + 1) % 3], "v": vec(0, i, 0, 0)})
        pipe.hset(f"other:{i}", mapping={"n": 20 + i, "t": TAGS[(i + 2) % 3]})
    pipe.set("doc:string", "not a hash")
    pipe.rpush("item:list", "a", "b")
    pipe.execute()


# -- each family of writes -----------------------------------------------------------------------


def test_hset_new_and_overwrite(c):
    assert assert_exact(c) == {spec.name: set() for spec in SPECS}
    seed(c)
    docs = assert_exact(c)
    assert len(docs["all"]) == 12 and len(docs["docs"]) == 4 and len(docs["shared"]) == 8
    c.hset("doc:1", mapping={"n": 100, "t": "green"})  # overwrite
    c.hset("doc:9", "unindexed", "field")  # a hash without schema fields is still a document
    assert assert_exact(c)["docs"] == {b"doc:1", b"doc:2", b"doc:3", b"doc:4", b"doc:9"}
    assert found_keys(c, "docs", "@n:[100 100]") == [b"doc:1"]
    assert found_keys(c, "all", "@n:[1 1]") == []
    c.hsetnx("item:5", "n", 7)
    c.hincrby("item:5", "n", 1)
    c.hincrbyfloat("item:1", "n", 0.5)
    assert_exact(c)
    assert found_keys(c, "items", "@n:[8 8]") == [b"item:5"]
    assert found_keys(c, "items", "@n:[11.5 11.5]") == [b"item:1"]


def test_hdel_of_an_indexed_field_keeps_the_document(c):
    seed(c)
    c.hdel("doc:1", "v")
    c.hdel("item:2", "n", "t")
    docs = assert_exact(c)
    assert b"doc:1" in docs["docs"] and b"item:2" in docs["items"]
    assert b"item:2" not in found_keys(c, "items", "@n:[-inf +inf]")


def test_hdel_of_the_last_field_removes_the_document(c):
    seed(c)
    c.hdel("doc:1", "n", "t", "v")
    c.hset("item:9", "n", 1)
    c.hdel("item:9", "n")
    docs = assert_exact(c)
    assert b"doc:1" not in docs["all"] and b"item:9" not in docs["all"]


def test_del_and_unlink(c):
    seed(c)
    c.delete("doc:1", "item:1", "other:1")
    c.unlink("doc:2", "item:2")
    docs = assert_exact(c)
    assert docs["docs"] == {b"doc:3", b"doc:4"} and len(docs["all"]) == 7
    c.delete("doc:missing")
    assert_exact(c)


def test_lazy_expiry(c):
    seed(c)
    c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    c.pexpire("doc:1", 1)
    c.pexpire("other:1", 1)
    time.sleep(0.02)
    assert c.exists("doc:1") == 0 and c.exists("other:1") == 0  # the lazy deletions
    docs = assert_exact(c)
    assert b"doc:1" not in docs["docs"] and len(docs["all"]) == 10
    c.expire("doc:2", 100)  # a TTL alone changes nothing
    assert_exact(c)


def test_active_expiry_without_touching_the_keys(c):
    seed(c)
    before = assert_exact(c)
    count = expired_keys(c)
    c.pexpire("doc:1", 1)
    c.pexpire("item:2", 1)
    wait_active_expiry(c, count, 2)
    # num_docs first: nothing has read the expired keys, only the expire cycle removed them
    assert num_docs(c, "all") == len(before["all"]) - 2
    assert num_docs(c, "docs") == len(before["docs"]) - 1
    assert num_docs(c, "shared") == len(before["shared"]) - 2
    assert num_docs(c, "items") == len(before["items"]) - 1
    assert_exact(c)


def test_rename_within_out_of_and_into_the_prefix(c):
    seed(c)
    c.rename("doc:1", "doc:11")  # within
    assert_exact(c)
    c.rename("doc:2", "other:12")  # out of doc: (still in "all")
    assert_exact(c)
    c.rename("other:1", "item:13")  # into item:
    assert_exact(c)
    c.rename("doc:3", "item:14")  # from one index's prefix into another's
    assert_exact(c)
    c.rename("doc:4", "item:1")  # over an existing document
    assert_exact(c)
    c.rename("doc:string", "doc:11")  # a non-hash replaces a document
    docs = assert_exact(c)
    assert docs["docs"] == set()
    c.rename("item:list", "item:list")  # onto itself
    c.rename("item:13", "item:13")
    assert_exact(c)


def test_renamenx(c):
    seed(c)
    assert c.renamenx("doc:1", "doc:2") is False  # destination exists: nothing happens
    assert_exact(c)
    assert c.renamenx("doc:1", "item:20") is True
    assert c.renamenx("other:1", "doc:21") is True
    docs = assert_exact(c)
    assert b"doc:21" in docs["docs"] and b"item:20" in docs["items"]


def test_copy_within_and_across_databases(c, c1):
    seed(c)
    assert c.copy("doc:1", "doc:7") is True
    assert c.copy("other:1", "item:7") is True
    assert c.copy("doc:1", "doc:2") is False  # exists, no REPLACE
    assert c.copy("item:1", "doc:2", replace=True) is True
    assert_exact(c)
    assert c.copy("doc:3", "doc:30", destination_db=1) is True  # into db 1: never indexed
    assert_exact(c)
    c1.hset("doc:40", mapping={"n": 40, "v": GOOD_VECTOR})
    assert c1.copy("doc:40", "doc:41", destination_db=0) is True  # from db 1 into db 0
    docs = assert_exact(c)
    assert b"doc:41" in docs["docs"] and b"doc:40" not in docs["all"]


def test_move_to_db_1_and_back(c, c1):
    seed(c)
    assert c.move("doc:1", 1) is True
    assert c.move("other:1", 1) is True
    docs = assert_exact(c)
    assert b"doc:1" not in docs["docs"]
    c1.hset("doc:1", "n", 5)  # changed while in db 1
    assert_exact(c)
    assert c1.move("doc:1", 0) is True
    docs = assert_exact(c)
    assert b"doc:1" in docs["docs"] and found_keys(c, "docs", "@n:[5 5]") == [b"doc:1"]
    c.hset("doc:2", "n", 2)
    c1.hset("doc:2", "n", 99)
    assert c1.move("doc:2", 0) is False  # the key exists in db 0: nothing moves
    assert_exact(c)


def test_swapdb(c, c1):
    seed(c)
    c1.hset("doc:50", mapping={"n": 50, "v": GOOD_VECTOR})
    c1.hset("item:51", "t", "red")
    c1.hset("other:52", "n", "not-a-number")
    c.swapdb(0, 1)
    docs = assert_exact(c)
    assert docs["all"] == {b"doc:50", b"item:51"}
    assert docs["docs"] == {b"doc:50"} and docs["shared"] == {b"doc:50", b"item:51"}
    c.swapdb(1, 0)
    docs = assert_exact(c)
    assert len(docs["all"]) == 12
    c.swapdb(1, 2)  # not database 0: nothing changes
    assert assert_exact(c) == docs


def test_flushes_drop_every_index(c, c1):
    """RediSearch's onFlush frees every index on any FLUSHDB (whatever the db) or FLUSHALL."""
    seed(c)
    c1.hset("doc:1", "n", 1)
    c1.flushdb()  # db 1: the keys of db 0 stay, the indexes go
    assert_no_indexes(c)
    create_all(c)  # created again, they back-fill what db 0 still holds
    assert len(assert_exact(c)["all"]) == 12
    c.flushdb()
    assert_no_indexes(c)
    create_all(c)
    assert assert_exact(c) == {spec.name: set() for spec in SPECS}
    seed(c)
    c.flushdb(asynchronous=True)
    assert_no_indexes(c)
    create_all(c)
    seed(c)
    c.flushall()
    assert_no_indexes(c)
    create_all(c)
    seed(c)
    assert len(assert_exact(c)["all"]) == 12


def test_type_changes_and_non_hash_keys(c):
    seed(c)
    c.set("doc:1", "now a string")  # SET over a hash
    c.delete("item:1")
    c.sadd("item:1", "a")
    c.zadd("doc:60", {"a": 1})
    c.set("item:61", "x")
    docs = assert_exact(c)
    assert b"doc:1" not in docs["docs"] and b"item:1" not in docs["items"]
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        c.hset("doc:string", "n", 1)
    assert_exact(c)
    c.delete("doc:string")
    c.hset("doc:string", "n", 1)  # a hash again
    assert b"doc:string" in assert_exact(c)["docs"]


def test_string_commands_over_a_hash(c):
    seed(c)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        c.set("doc:1", "x", get=True)  # SET ... GET on a hash fails and changes nothing
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        c.append("doc:2", "x")
    assert c.set("doc:3", "x", nx=True) is None  # NX over an existing hash: no change
    docs = assert_exact(c)
    assert {b"doc:1", b"doc:2", b"doc:3"} <= docs["docs"]
    c.mset({"doc:1": "a", "item:1": "b"})  # MSET replaces hashes with strings
    c.set("doc:2", "x", xx=True)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        c.getset("doc:3", "y")  # GETSET reads first: a hash is the wrong type
    c.set("doc:3", "y", keepttl=True)
    docs = assert_exact(c)
    assert docs["docs"] == {b"doc:4"} and b"item:1" not in docs["items"]


def test_a_hash_recreated_after_expiry_has_only_its_new_fields(c):
    seed(c)
    c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    c.pexpire("doc:1", 1)
    time.sleep(0.02)
    c.hset("doc:1", "n", 5)  # the write finds the key expired: a new hash with one field
    assert c.hgetall("doc:1") == {b"n": b"5"}
    assert_exact(c)
    assert b"doc:1" not in found_keys(c, "shared", "@t:{red|green|blue}")


def test_ttl_travels_with_rename_copy_move_and_swapdb(c, c1):
    seed(c)
    c1.hset("doc:80", mapping={"n": 80, "v": GOOD_VECTOR})
    c1.pexpire("doc:80", 150)
    for key in ("doc:1", "doc:2", "doc:3", "other:1"):
        c.pexpire(key, 150)
    c.rename("doc:1", "item:81")  # the TTL moves with the key
    assert c.copy("doc:2", "doc:82") is True  # and is copied with it
    assert c.move("doc:3", 1) is True
    assert c1.move("doc:3", 0) is True
    c.swapdb(0, 1)
    c.swapdb(0, 1)
    docs = assert_exact(c)
    assert {b"item:81", b"doc:82", b"doc:3"} <= docs["shared"]
    c.swapdb(0, 1)  # doc:80 (db 1, with its TTL) is in db 0 now
    assert b"doc:80" in assert_exact(c)["docs"]
    c.swapdb(0, 1)
    count = expired_keys(c)
    # doc:2, doc:82, item:81, doc:3, other:1 in db 0 and doc:80 in db 1, by the active cycle
    wait_active_expiry(c, count, 6)
    docs = assert_exact(c)
    assert docs["docs"] == {b"doc:4"} and docs["items"] == {
        b"item:1",
        b"item:2",
        b"item:3",
        b"item:4",
    }


def test_binary_and_empty_key_names(c):
    c.hset(b"\xff\xfe bin", "n", 1)
    c.hset(b"", "n", 2)  # an empty key name is a key like any other
    c.hset(b"doc:\x00\xff", mapping={"n": 3, "v": GOOD_VECTOR})
    docs = assert_exact(c)
    assert docs["all"] == {b"\xff\xfe bin", b"", b"doc:\x00\xff"}
    c.rename(b"doc:\x00\xff", b"doc:\xfe")
    c.delete(b"")
    assert assert_exact(c)["all"] == {b"\xff\xfe bin", b"doc:\xfe"}


def test_eviction_removes_documents(c):
    pipe = c.pipeline(transaction=False)
    for i in range(2000):
        pipe.hset(f"doc:{i}", mapping={"n": i, "t": "red", "v": vec(i, 0, 0, 0), "pad": "x" * 200})
    pipe.execute()
    assert_exact(c)
    try:
        c.config_set("maxmemory-policy", "allkeys-random")
        c.config_set("maxmemory", 1 << 30)  # with a limit, used_memory is the dataset estimate
        used = int(c.info("memory")["used_memory"])
        c.config_set("maxmemory", used * 3 // 4)
        c.hset("item:1", "n", 1)  # a write makes room first
        evicted = int(c.info("stats")["evicted_keys"])
    finally:
        c.config_set("maxmemory", 0)
        c.config_set("maxmemory-policy", "noeviction")
    assert evicted > 0
    assert len(assert_exact(c)["docs"]) == 2000 - evicted


def test_multi_exec_batches(c):
    seed(c)
    pipe = c.pipeline(transaction=True)
    pipe.hset("doc:1", "n", 42)
    pipe.delete("doc:2")
    pipe.rename("doc:3", "item:33")
    pipe.hdel("item:1", "n", "t", "v")
    pipe.hset("doc:70", mapping={"v": GOOD_VECTOR})
    pipe.set("item:2", "string now")
    pipe.execute()
    assert_exact(c)
    pipe = c.pipeline(transaction=True)
    pipe.hset("doc:71", "n", 1)
    pipe.hset("doc:string", "n", 1)  # WRONGTYPE inside EXEC; the rest still applies
    pipe.delete("doc:4")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        pipe.execute()
    docs = assert_exact(c)
    assert b"doc:71" in docs["docs"] and b"doc:4" not in docs["docs"]


def test_keys_in_db_1_are_never_indexed(c, c1):
    pipe = c1.pipeline(transaction=False)
    for i in range(20):
        pipe.hset(f"doc:{i}", mapping={"n": i, "v": GOOD_VECTOR, "t": "red"})
    pipe.execute()
    c1.rename("doc:1", "item:1")
    c1.delete("doc:2")
    assert assert_exact(c) == {spec.name: set() for spec in SPECS}


def test_bad_vectors_and_numbers_are_indexing_failures(c):
    seed(c)
    assert_exact(c)
    before = {spec.name: failures(c, spec.name) for spec in SPECS}
    c.hset("doc:1", "v", BAD_VECTORS[0])  # docs and shared have v; all and items do not
    docs = assert_exact(c)
    assert (
        b"doc:1" not in docs["docs"] and b"doc:1" not in docs["shared"] and b"doc:1" in docs["all"]
    )
    added = {spec.name: failures(c, spec.name) - before[spec.name] for spec in SPECS}
    assert added == {"all": 0, "docs": 1, "shared": 1, "items": 0}
    c.hset("item:1", "n", "not-a-number")  # all, items have n; shared does not
    docs = assert_exact(c)
    assert b"item:1" in docs["shared"] and b"item:1" not in docs["items"]
    added = {spec.name: failures(c, spec.name) - before[spec.name] for spec in SPECS}
    assert added == {"all": 1, "docs": 1, "shared": 1, "items": 1}
    for blob in BAD_VECTORS[1:]:
        c.hset("doc:2", "v", blob)
        assert b"doc:2" not in assert_exact(c)["docs"]
    c.hset("doc:1", "v", GOOD_VECTOR)  # repaired: back in
    c.hset("item:1", "n", 11)
    docs = assert_exact(c)
    assert b"doc:1" in docs["docs"] and b"item:1" in docs["items"]


# -- random sequences ----------------------------------------------------------------------------

KEYS = (b"doc:1", b"doc:2", b"doc:3", b"item:1", b"item:2", b"other:1", b"x")
keys = st.sampled_from(KEYS)
field_values = {
    b"n": st.sampled_from((b"1", b"2.5", b"-7", b"1e3", b"0", b"not-a-number")),
    b"t": st.sampled_from((*TAGS, b"purple")),
    b"v": st.sampled_from(
        (GOOD_VECTOR, vec(0, 1, 0, 0), vec(2, 2, 2, 2), vec(-1, 0, 5, 0), *BAD_VECTORS)
    ),
    b"other": st.just(b"x"),
}
mappings = st.dictionaries(st.sampled_from(tuple(field_values)), st.just(b""), min_size=1).flatmap(
    lambda d: st.fixed_dictionaries({k: field_values[k] for k in d})
)
field_lists = st.lists(st.sampled_from(tuple(field_values)), min_size=1, max_size=3)


NO_CHANGE_ERRORS = ("no such key", "WRONGTYPE", "source and destination objects are the same")


class LiveIndexing(RuleBasedStateMachine):
    """Random writes to a handful of keys in db 0 and db 1; the indexes stay exact."""

    client: redis.Redis
    client1: redis.Redis

    def __init__(self) -> None:
        super().__init__()
        self.client.flushall()
        create_all(self.client)
        self.client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 1)
        # Start from a full keyspace: every key a valid document, a few keys in db 1 too.
        for i, key in enumerate(KEYS):
            mapping = {b"n": i, b"t": TAGS[i % 3], b"v": vec(i, 1, 0, 0)}
            self.client.hset(key, mapping=mapping)
            if i % 2:
                self.client1.hset(key, mapping={**mapping, b"n": 100 + i})

    def _try(self, command, *args, **kwargs) -> None:
        try:
            command(*args, **kwargs)
        except redis.ResponseError as exc:  # no change: a missing source, a wrong type, a self-copy
            assert any(text in str(exc) for text in NO_CHANGE_ERRORS), exc

    @rule(key=keys, mapping=mappings)
    def hset(self, key, mapping):
        self._try(self.client.hset, key, mapping=mapping)

    @rule(key=keys, fields=field_lists)
    def hdel(self, key, fields):
        self._try(self.client.hdel, key, *fields)

    @rule(key=keys, unlink=st.booleans())
    def delete(self, key, unlink):
        (self.client.unlink if unlink else self.client.delete)(key)

    @rule(key=keys, active=st.booleans())
    def expire(self, key, active):
        before = expired_keys(self.client)
        if not self.client.pexpire(key, 1):
            return
        if active:
            wait_active_expiry(self.client, before, 1)
        else:
            time.sleep(0.002)
            self.client.exists(key)  # lazy (unless the cycle got there first)

    @rule(src=keys, dst=keys, nx=st.booleans())
    def rename(self, src, dst, nx):
        self._try(self.client.renamenx if nx else self.client.rename, src, dst)

    @rule(src=keys, dst=keys, replace=st.booleans(), across=st.booleans())
    def copy(self, src, dst, replace, across):
        self._try(self.client.copy, src, dst, destination_db=1 if across else None, replace=replace)

    @rule(key=keys, back=st.booleans())
    def move(self, key, back):
        (self.client1 if back else self.client).move(key, 0 if back else 1)

    @rule()
    def swapdb(self):
        self.client.swapdb(0, 1)

    @rule(which=st.sampled_from(("db0", "db1", "all")))
    def flush(self, which):
        if which == "all":
            self.client.flushall()
        else:
            (self.client1 if which == "db1" else self.client).flushdb()
        assert_no_indexes(self.client)  # any flush drops every index; create them again
        create_all(self.client)

    @rule(key=keys, kind=st.sampled_from(("string", "list")))
    def non_hash(self, key, kind):
        if kind == "string":
            self.client.set(key, "plain")
        else:
            self._try(self.client.rpush, key, "a")

    @rule(key=keys, mapping=mappings)
    def hset_in_db1(self, key, mapping):
        self._try(self.client1.hset, key, mapping=mapping)

    batch_ops = st.sampled_from(("hset", "hdel", "del", "set", "rename", "move", "swapdb"))

    @rule(batch=st.lists(st.tuples(batch_ops, keys, keys, mappings), max_size=5))
    def multi_exec(self, batch):
        pipe = self.client.pipeline(transaction=True)
        for op, key, other, mapping in batch:
            if op == "hset":
                pipe.hset(key, mapping=mapping)
            elif op == "hdel":
                pipe.hdel(key, *mapping)
            elif op == "del":
                pipe.delete(key)
            elif op == "set":
                pipe.set(key, "plain")
            elif op == "rename":
                pipe.rename(key, other)
            elif op == "move":
                pipe.move(key, 1)
            else:
                pipe.swapdb(0, 1)
        try:
            pipe.execute()
        except redis.ResponseError as exc:  # the first failed command; the others still ran
            assert any(text in str(exc) for text in NO_CHANGE_ERRORS), exc

    @rule(spec=st.sampled_from(SPECS))
    def recreate_index(self, spec):
        """Drop an index and create it again over the keys there are: a back-fill."""
        self.client.execute_command("FT.DROPINDEX", spec.name)
        spec.create(self.client)

    @invariant()
    def indexes_are_exact(self):
        assert_exact(self.client)


def test_random_write_sequences_keep_the_indexes_exact(c, c1):
    LiveIndexing.client = c
    LiveIndexing.client1 = c1
    run_state_machine_as_test(
        LiveIndexing,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )


# -- back-fill ----------------------------------------------------------------------------------

BACKFILL_KEYS = 50_000


def test_create_back_fills_existing_keys_while_serving_other_clients(server):
    client = server.client(protocol=2)
    other = server.client(protocol=3)
    try:
        drop_all_indexes(client)
        client.flushall()
        pipe = client.pipeline(transaction=False)
        for i in range(BACKFILL_KEYS):
            pipe.hset(f"bf:{i}", mapping={"n": i, "t": TAGS[i % 3]})
            if i % 5000 == 4999:
                pipe.execute()
        pipe.hset("bf:bad", "n", "not-a-number")
        pipe.set("bf:string", "x")
        pipe.hset("elsewhere:1", "n", 1)
        pipe.execute()
        spec = Spec("bf", (b"bf:",), numeric=("n",), tags=("t",))
        spec.create(client)
        assert other.ping() is True
        first = ft_info(other, "bf")
        # written while the back-fill runs: each must end up exactly as the keyspace says
        client.delete("bf:0", "bf:49999")
        client.hset("bf:new", "n", -1)
        client.hset("bf:1", "n", "bad now")
        client.set("bf:2", "string now")
        client.rename("bf:3", "elsewhere:3")
        client.move("bf:4", 1)
        progress = [(int(first["indexing"]), float(first["percent_indexed"]))]
        pings_while_indexing = 0
        deadline = time.monotonic() + 60
        while progress[-1][0]:
            assert time.monotonic() < deadline, "the back-fill did not finish"
            assert other.ping() is True
            now = ft_info(client, "bf")
            progress.append((int(now["indexing"]), float(now["percent_indexed"])))
            pings_while_indexing += progress[-1][0]
        print(
            f"back-fill: {len(progress)} polls, {pings_while_indexing} PINGs answered while indexing"
        )
        assert progress[0][0] == 1, "FT.CREATE over 50k keys returned with the back-fill done"
        assert pings_while_indexing > 0
        percents = [p for _, p in progress]
        assert percents == sorted(percents) and 0 <= percents[0] < 1 and percents[-1] == 1.0
        docs = assert_exact(client, [spec])["bf"]
        # two deleted, one new, four made bad, a string, renamed out or moved away
        assert len(docs) == BACKFILL_KEYS - 2 + 1 - 4
        assert failures(client, "bf") >= 2  # bf:bad and bf:1
    finally:
        drop_all_indexes(client)
        client.flushall()
        client.close()
        other.close()


def test_writes_during_a_back_fill_leave_the_index_exact(server):
    """Random writes and a SWAPDB there and back, all while the index back-fills."""
    client = server.client(protocol=2)
    c1 = server.client(protocol=2, db=1)
    rng = np.random.default_rng(5)
    spec = Spec("during", (b"bf:",), numeric=("n",), vectors=(("v", "HNSW"),))
    try:
        drop_all_indexes(client)
        client.flushall()
        pipe = client.pipeline(transaction=False)
        for i in range(20_000):
            pipe.hset(f"bf:{i}", mapping={"n": i, "v": vec(i % 97, i % 89, 1, 0)})
        pipe.execute()
        for i in range(100):
            c1.hset(f"bf:{i}", "n", -i)
        spec.create(client)
        for step in range(3000):
            key = f"bf:{rng.integers(0, 20_500)}"
            op = rng.integers(0, 7)
            if op == 0:
                pipe.hset(key, mapping={"n": int(rng.integers(0, 9)), "v": vec(1, 2, 3, 4)})
            elif op == 1:
                pipe.hset(key, "v", BAD_VECTORS[int(rng.integers(0, 3))])
            elif op == 2:
                pipe.delete(key)
            elif op == 3:
                pipe.rename(key, f"bf:{rng.integers(0, 20_500)}")
            elif op == 4:
                pipe.set(key, "string")
            elif op == 5:
                pipe.move(key, 1)
            else:
                pipe.hdel(key, "n")
            if step in (1000, 1001):
                pipe.swapdb(0, 1)
        pipe.execute(raise_on_error=False)
        progress = ft_info(client, "during")
        print(f"after the writes: indexing {progress['indexing']}, {progress['percent_indexed']}")
        assert_exact(client, [spec])
    finally:
        drop_all_indexes(client)
        client.flushall()
        client.close()
        c1.close()
