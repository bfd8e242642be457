"""FT indexes through replication, Magpie to Magpie: a replica's full sync brings the
primary's indexes whole in the snapshot (the magpie-ft-* aux fields), so its HNSW and FLAT
vector indexes are restored as they were (FT.DEBUG VECSIM_INFO origin "loaded", not rebuilt)
and answer every query as the primary does: the same ids, the same scores. Then the stream:
documents written, changed, deleted and expired, and FT.CREATE / FT.ALTER / FT.DROPINDEX run
on the primary, reach the replica's indexes; queries, FT._LIST and num_docs still match. A
replica refuses FT.* writes (-READONLY) and serves FT.SEARCH.

(JSON documents are not covered: Magpie indexes hashes only.) Every wait polls with a
deadline.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import redis
from replication_helpers import wait_until
from servers import ServerProcess, start_magpie

DIM = 32
DOCS = 3000
WORDS = ["apple", "banana", "cherry", "delta", "echo", "foxtrot", "golf"]


# -- servers and waiting ----------------------------------------------------------------------


def magpie(mode: str) -> ServerProcess:
    return start_magpie("--repl-diskless-sync", "yes" if mode == "diskless" else "no",
                        "--repl-diskless-sync-delay", "0")  # fmt: skip


@pytest.fixture
def pair(request):
    mode = request.param
    primary, replica = magpie(mode), magpie(mode)
    yield primary, replica
    replica.stop()
    primary.stop()



def client(server: ServerProcess) -> redis.Redis:
    return server.client(protocol=2, socket_timeout=30)


def in_sync(primary: ServerProcess, replica: ServerProcess) -> bool:
    info = client(replica).info("replication")
    return (info.get("master_link_status") == "up"
            and info["slave_repl_offset"] == client(primary).info("replication")["master_repl_offset"])  # fmt: skip


def wait_in_sync(primary: ServerProcess, replica: ServerProcess) -> None:
    wait_until(lambda: in_sync(primary, replica), "the replica to catch up")


def pairs(reply) -> dict:  # noqa: ANN001 - a flat RESP2 map
    return dict(zip(reply[::2], reply[1::2], strict=True))


def ft_info(server: ServerProcess, index: str) -> dict:
    return pairs(client(server).execute_command("FT.INFO", index))


def wait_indexed(server: ServerProcess) -> None:
    c = client(server)
    for name in c.execute_command("FT._LIST"):
        wait_until(lambda n=name: float(ft_info(server, n)[b"percent_indexed"]) >= 1, f"{name!r} to be indexed")


def origin(server: ServerProcess, index: str, field: str) -> bytes:
    return pairs(client(server).execute_command("FT.DEBUG", "VECSIM_INFO", index, field))[b"origin"]


# -- the documents, the indexes, the queries --------------------------------------------------

RNG = np.random.default_rng(7)


def vector(rng: np.random.Generator) -> bytes:
    return rng.standard_normal(DIM, dtype=np.float32).tobytes()


def doc(i: int, rng: np.random.Generator) -> dict:
    return {
        "v": vector(rng),            # HNSW (L2) in idx:h, FLAT (L2) in idx:f
        "w": vector(rng),            # HNSW (COSINE) in idx:h, FLAT (IP) in idx:f
        "tag": ["red", "green", "blue", "black"][i % 4] + ("," + "shiny" if i % 5 == 0 else ""),
        "n": i,
        "price": f"{(i * 37) % 1000 / 10:.1f}",
        "body": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(i % 3 + 1)),
    }  # fmt: skip


def fill(server: ServerProcess, start: int, stop: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pipe = client(server).pipeline(transaction=False)
    for i in range(start, stop):
        pipe.hset(f"doc:{i}", mapping=doc(i, rng))
    pipe.execute()


def create_indexes(server: ServerProcess) -> None:
    c = client(server)
    c.execute_command(
        "FT.CREATE", "idx:h", "ON", "HASH", "PREFIX", 1, "doc:", "SCHEMA",
        "tag", "TAG", "SEPARATOR", ",", "n", "NUMERIC", "SORTABLE", "price", "NUMERIC", "body", "TEXT",
        "v", "VECTOR", "HNSW", 10, "TYPE", "FLOAT32", "DIM", DIM, "DISTANCE_METRIC", "L2", "M", 8, "EF_CONSTRUCTION", 100,
        "w", "VECTOR", "HNSW", 8, "TYPE", "FLOAT32", "DIM", DIM, "DISTANCE_METRIC", "COSINE", "EF_RUNTIME", 50,
    )  # fmt: skip
    c.execute_command(
        "FT.CREATE", "idx:f", "ON", "HASH", "PREFIX", 1, "doc:", "SCHEMA",
        "tag", "TAG", "n", "NUMERIC", "body", "TEXT", "SORTABLE",
        "v", "VECTOR", "FLAT", 6, "TYPE", "FLOAT32", "DIM", DIM, "DISTANCE_METRIC", "L2",
        "w", "VECTOR", "FLAT", 8, "TYPE", "FLOAT32", "DIM", DIM, "DISTANCE_METRIC", "IP", "BLOCK_SIZE", 256,
    )  # fmt: skip


QUERIES = [
    "*=>[KNN 10 @v $q AS d]",
    "*=>[KNN 10 @w $q AS d]",
    "@tag:{red}=>[KNN 8 @v $q AS d]",
    "@tag:{shiny}=>[KNN 5 @w $q AS d]",
    "@n:[100 1500]=>[KNN 7 @v $q AS d]",
    "(@body:banana @tag:{blue|green})=>[KNN 6 @v $q AS d]",
    "(-@tag:{black})=>[KNN 12 @w $q EF_RUNTIME 100 AS d]",
    "@v:[VECTOR_RANGE 40 $q]=>{$YIELD_DISTANCE_AS: d}",
]


def answers(server: ServerProcess) -> dict:
    """Every index's answers to every query (ids and scores), and a few without vectors."""
    c = client(server)
    rng = np.random.default_rng(99)
    probes = [vector(rng) for _ in range(3)]
    out: dict = {}
    for name in sorted(c.execute_command("FT._LIST")):
        fields = {a[1] for a in pairs(c.execute_command("FT.INFO", name))[b"attributes"]}
        for text in QUERIES:
            if not {name.encode() for name in re.findall(r"@(\w+)", text)} <= fields:
                continue
            if "EF_RUNTIME" in text and name != b"idx:h":  # an HNSW query option
                continue
            for k, probe in enumerate(probes):
                out[name, text, k] = c.execute_command(
                    "FT.SEARCH", name, text, "PARAMS", 2, "q", probe, "SORTBY", "d", "RETURN", 1, "d",
                    "LIMIT", 0, 50, "DIALECT", 2)  # fmt: skip
        if b"body" in fields:
            out[name, "text"] = c.execute_command("FT.SEARCH", name, "@body:cherry", "NOCONTENT", "SORTBY", "n",
                                                  "LIMIT", 0, 10000)  # fmt: skip
        if b"n" in fields:
            out[name, "numeric"] = c.execute_command("FT.SEARCH", name, "@n:[10 20]", "SORTBY", "n", "RETURN", 1, "n")
        info = pairs(c.execute_command("FT.INFO", name))
        # (not max_doc_id: a Magpie replica deletes a key whose PEXPIREAT has passed when it
        # arrives, where the primary re-indexed it under a new id; see test_replication_interop
        # test_a_replica_keeps_a_key_whose_expire_time_passed_in_transit)
        for stat in (b"num_docs", b"hash_indexing_failures", b"num_terms", b"num_records"):
            out[name, stat.decode()] = info[stat]
    return out


def assert_same_answers(primary: ServerProcess, replica: ServerProcess) -> dict:
    wait_indexed(primary)
    wait_indexed(replica)
    expected, got = answers(primary), answers(replica)
    assert client(replica).execute_command("FT._LIST") == client(primary).execute_command("FT._LIST")
    assert set(got) == set(expected)
    differ = [key for key in expected if got[key] != expected[key]]
    assert not differ, f"{len(differ)} answers differ, first: {differ[0]}:\n{expected[differ[0]]}\n{got[differ[0]]}"
    # the answers are not empty: every vector query found something
    empty = [key for key, value in expected.items() if len(key) == 3 and value[0] == 0]
    assert not empty, empty
    return expected


# -- the test -----------------------------------------------------------------------------------


@pytest.mark.parametrize("pair", ["disk", "diskless"], indirect=True)
def test_indexes_replicate_with_their_graphs(pair):
    primary, replica = pair
    p = client(primary)
    fill(primary, 0, DOCS, seed=1)
    create_indexes(primary)
    wait_indexed(primary)
    p.delete(*(f"doc:{i}" for i in range(0, DOCS, 17)))  # marked deleted in the HNSW graphs
    fill(primary, DOCS, DOCS + 100, seed=2)  # and some after the back-fill
    # the full sync: the indexes come whole with the snapshot
    assert client(replica).execute_command("REPLICAOF", "127.0.0.1", primary.port) == b"OK"
    wait_in_sync(primary, replica)
    for index, field in (("idx:h", "v"), ("idx:h", "w"), ("idx:f", "v"), ("idx:f", "w")):
        assert origin(replica, index, field) == b"loaded", (index, field, replica.log()[-3000:])
        assert origin(primary, index, field) == b"built"
    assert "Loaded the HNSW graph of index 'idx:h' field 'v'" in replica.log()
    assert "Rebuilding" not in replica.log()
    assert_same_answers(primary, replica)

    # the stream: documents added, changed, deleted, expired
    fill(primary, DOCS + 100, DOCS + 400, seed=3)
    fill(primary, 1, 300, seed=4)  # new vectors and fields for existing documents
    p.delete(*(f"doc:{i}" for i in range(300, 600, 3)))
    p.hdel("doc:601", "v")  # drops out of the indexes on v only
    p.hset("doc:602", "v", b"short")  # a bad vector: an indexing failure
    pipe = p.pipeline(transaction=True)
    for i in range(700, 720):
        pipe.pexpire(f"doc:{i}", 1)
    pipe.execute()
    p.expire("doc:721", 100_000)  # expires later: stays
    wait_until(lambda: not p.exists(*(f"doc:{i}" for i in range(700, 720))), "the expired documents to go")
    p.rename("doc:800", "doc:renamed")  # leaves the prefix: leaves the indexes
    p.rename("doc:801", "doc:801b")  # stays under the prefix
    # and the index commands
    p.execute_command(
        "FT.CREATE", "idx:new", "PREFIX", 2, "doc:1", "doc:2", "SCHEMA", "tag", "TAG", "n", "NUMERIC",
        "v", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32", "DIM", DIM, "DISTANCE_METRIC", "IP",
    )  # fmt: skip
    p.execute_command("FT.ALTER", "idx:h", "SCHEMA", "ADD", "extra", "TAG")
    p.execute_command("FT.ALTER", "idx:f", "SCHEMA", "ADD", "price", "NUMERIC")
    p.execute_command("FT.CREATE", "idx:gone", "PREFIX", 1, "doc:", "SCHEMA", "n", "NUMERIC")
    p.execute_command("FT.DROPINDEX", "idx:gone")
    for i in range(0, 50):
        p.hset(f"doc:{i}", "extra", "x" if i % 2 else "y")
    wait_in_sync(primary, replica)
    # (HNSW answers match here although later inserts may build the graphs differently,
    # see test_hnsw_answers_match_after_many_inserts_on_a_loaded_graph: few inserts, ample ef)
    after = assert_same_answers(primary, replica)
    assert after[b"idx:h", "hash_indexing_failures"] == 1  # doc:602's short vector
    assert {name for name, *_ in after} == {b"idx:f", b"idx:h", b"idx:new"}
    for name in (b"idx:h", b"idx:f", b"idx:new"):
        assert ft_info(replica, name.decode())[b"num_docs"] == ft_info(primary, name.decode())[b"num_docs"] > 0
    # the fields FT.ALTER added work on the replica too
    for c in (p, client(replica)):
        assert c.execute_command("FT.SEARCH", "idx:h", "@extra:{x}", "NOCONTENT", "LIMIT", 0, 0)[0] == 25

    # a replica serves FT.SEARCH and refuses the FT.* writes
    r = client(replica)
    assert r.execute_command("FT.SEARCH", "idx:f", "*", "LIMIT", 0, 0)[0] == ft_info(primary, "idx:f")[b"num_docs"]
    for argv in (("FT.CREATE", "idx:x", "SCHEMA", "n", "NUMERIC"), ("FT.ALTER", "idx:h", "SCHEMA", "ADD", "y", "TAG"),
                 ("FT.DROPINDEX", "idx:h")):  # fmt: skip
        with pytest.raises(redis.ReadOnlyError):
            r.execute_command(*argv)
    assert r.execute_command("FT._LIST") == p.execute_command("FT._LIST")
    assert in_sync(primary, replica)


def graph_answers(primary: ServerProcess, replica: ServerProcess, load_first: bool) -> tuple[list, list]:
    """KNN answers of a small, low-recall HNSW index (M 4, EF_RUNTIME 4) on both servers, its
    6000 documents written with the replica attached after the first 2000 (``load_first``:
    the graph then reaches it in the snapshot) or before the index exists."""
    p = client(primary)
    rng = np.random.default_rng(5)
    if not load_first:  # the FT.CREATE too comes through the stream
        client(replica).execute_command("REPLICAOF", "127.0.0.1", primary.port)
        wait_in_sync(primary, replica)
    p.execute_command("FT.CREATE", "g", "PREFIX", 1, "g:", "SCHEMA", "v", "VECTOR", "HNSW", 10, "TYPE", "FLOAT32",
                      "DIM", DIM, "DISTANCE_METRIC", "L2", "M", 4, "EF_CONSTRUCTION", 20)  # fmt: skip
    pipe = p.pipeline(transaction=False)
    for i in range(2000):
        pipe.hset(f"g:{i}", "v", vector(rng))
    pipe.execute()
    if load_first:
        client(replica).execute_command("REPLICAOF", "127.0.0.1", primary.port)
        wait_in_sync(primary, replica)
        assert origin(replica, "g", "v") == b"loaded"
    for i in range(2000, 6000):
        pipe.hset(f"g:{i}", "v", vector(rng))
    pipe.execute()
    wait_in_sync(primary, replica)
    probes = [vector(rng) for _ in range(20)]

    def knn(server: ServerProcess) -> list:
        return [client(server).execute_command("FT.SEARCH", "g", "*=>[KNN 10 @v $q EF_RUNTIME 4 AS d]", "PARAMS", 2,
                                               "q", q, "SORTBY", "d", "RETURN", 1, "d", "DIALECT", 2)  # fmt: skip
                for q in probes]

    return knn(primary), knn(replica)


@pytest.mark.parametrize("pair", ["diskless"], indirect=True)
def test_hnsw_graphs_built_from_the_stream_answer_alike(pair):
    """The control for the next test: a replica that gets the FT.CREATE and every insert
    through the stream builds the primary's graph exactly (same order, same seed), so even a
    low-recall search answers alike."""
    expected, got = graph_answers(*pair, load_first=False)
    assert got == expected


@pytest.mark.xfail(strict=True, reason=(
    "HNSW graphs diverge once a replica inserts into a graph it loaded from the snapshot: hnswlib "
    "draws each new point's level from a generator whose state the saved graph does not hold "
    "(load_index starts a fresh, differently seeded one; the primary's was seeded by init_index "
    "and advanced by every insert), so the same inserts build different graphs and approximate "
    "KNN answers differ. A DEBUG RELOAD on one server changes later graphs the same way, even of "
    "an empty index. Deterministic here: fixed vectors, seed, single-threaded hnswlib"))  # fmt: skip
@pytest.mark.parametrize("pair", ["disk"], indirect=True)
def test_hnsw_answers_match_after_many_inserts_on_a_loaded_graph(pair):
    expected, got = graph_answers(*pair, load_first=True)
    assert got == expected
