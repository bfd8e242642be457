"""FT indexes survive a restart and DEBUG RELOAD through the RDB file, over real sockets:
the same answers, and the HNSW graph loaded from the snapshot rather than rebuilt."""

from __future__ import annotations

import numpy as np
import pytest
from servers import start_magpie

DIM = 16
COUNT = 600


def _fill(client) -> None:  # noqa: ANN001 - redis.Redis
    rng = np.random.default_rng(3)
    pipe = client.pipeline(transaction=False)
    for i in range(COUNT):
        vec = rng.standard_normal(DIM, dtype=np.float32).tobytes()
        pipe.hset(f"doc:{i}", mapping={"v": vec, "n": i, "tag": "even" if i % 2 == 0 else "odd", "body": f"word{i % 7} text"})
    pipe.execute()
    client.execute_command(
        "FT.CREATE", "idx", "PREFIX", "1", "doc:", "SCHEMA", "n", "NUMERIC", "tag", "TAG", "body", "TEXT",
        "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    for i in range(0, COUNT, 10):  # deletions leave marked-deleted labels in the graph
        client.delete(f"doc:{i}")


def _answers(client) -> list:  # noqa: ANN001 - redis.Redis
    query = np.random.default_rng(11).standard_normal(DIM, dtype=np.float32).tobytes()
    out = []
    for text in ("*=>[KNN 10 @v $q AS d]", "@tag:{even}=>[KNN 5 @v $q AS d]", "@n:[100 200]=>[KNN 7 @v $q AS d]"):
        out.append(client.execute_command("FT.SEARCH", "idx", text, "PARAMS", "2", "q", query,
                                          "SORTBY", "d", "RETURN", "1", "d", "DIALECT", "2"))  # fmt: skip
    out.append(client.execute_command("FT.SEARCH", "idx", "@body:word3", "NOCONTENT", "LIMIT", "0", "1000"))
    return out


def _origin(client) -> bytes:  # noqa: ANN001 - redis.Redis
    info = client.execute_command("FT.DEBUG", "VECSIM_INFO", "idx", "v")
    return dict(zip(info[::2], info[1::2], strict=False))[b"origin"]


def _wait_indexed(client) -> None:  # noqa: ANN001 - redis.Redis
    import time

    for _ in range(600):
        info = client.execute_command("FT.INFO", "idx")
        if float(dict(zip(info[::2], info[1::2], strict=False))[b"percent_indexed"]) >= 1:
            return
        time.sleep(0.05)
    pytest.fail("the index never finished indexing")


def test_an_hnsw_index_survives_a_restart_with_its_graph_loaded() -> None:
    server = start_magpie()
    try:
        client = server.client(protocol=2)
        _fill(client)
        _wait_indexed(client)
        before = _answers(client)
        assert _origin(client) == b"built"
        client.save()
    finally:
        server.stop(keep_dir=True)
    server = start_magpie(workdir=server.workdir)
    try:
        client = server.wait_loaded()
        assert _origin(client) == b"loaded"
        assert _answers(client) == before
        assert "without rebuilding" in server.log()
    finally:
        server.stop()


def test_debug_reload_keeps_the_index_and_its_answers() -> None:
    server = start_magpie()
    try:
        client = server.client(protocol=2)
        _fill(client)
        _wait_indexed(client)
        before = _answers(client)
        assert client.execute_command("DEBUG", "RELOAD") == b"OK"
        assert _origin(client) == b"loaded"
        assert _answers(client) == before
        assert client.execute_command("DEBUG", "CHECK-INVARIANTS") == b"OK"
    finally:
        server.stop()


def test_a_hash_changed_behind_the_snapshot_makes_the_graph_rebuild() -> None:
    """A snapshot whose hashes no longer match its saved graph (one document's vector is
    edited in the file) has that index rebuilt from the hashes: correct answers, and the
    log says so."""
    server = start_magpie()
    try:
        client = server.client(protocol=2)
        _fill(client)
        _wait_indexed(client)
        client.save()
    finally:
        server.stop(keep_dir=True)
    import os
    import shutil

    from magpie.commands import load_all
    from magpie.config import Config
    from magpie.persistence.rdb_reader import RdbLoad
    from magpie.persistence.rdb_writer import write_rdb
    from magpie.store.keyspace import Keyspace

    load_all()
    path = os.path.join(server.workdir, "dump.rdb")
    keyspace = Keyspace(16)
    with open(path, "rb") as fh:
        stats = RdbLoad(fh.read(), keyspace, Config().values).run()
    keyspace[0].data[b"doc:1"][b"v"] = np.ones(DIM, dtype=np.float32).tobytes()
    with open(path + ".new", "wb") as out:
        write_rdb(out, keyspace, stats.aux)
    shutil.move(path + ".new", path)
    server = start_magpie(workdir=server.workdir)
    try:
        client = server.wait_loaded()
        _wait_indexed(client)
        assert _origin(client) == b"rebuilt"
        query = np.ones(DIM, dtype=np.float32).tobytes()
        hit = client.execute_command("FT.SEARCH", "idx", "*=>[KNN 1 @v $q AS d]", "PARAMS", "2", "q", query,
                                     "RETURN", "1", "d", "DIALECT", "2")  # fmt: skip
        assert hit[1] == b"doc:1"
        assert "Rebuilding the vector index of FT index 'idx' field 'v'" in server.log()
    finally:
        server.stop()
