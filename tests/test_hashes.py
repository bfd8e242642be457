"""Hash commands over redis-py (RESP2 and RESP3): replies, encodings, errors, propagation."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import redis

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


@contextmanager
def config(client, **settings):
    """CONFIG SET for the duration of a block (the server is shared by the whole session)."""
    names = {name.replace("_", "-"): str(v) for name, v in settings.items()}
    saved = {name: client.config_get(name)[name] for name in names}
    try:
        for name, v in names.items():
            client.config_set(name, v)
        yield
    finally:
        for name, v in saved.items():
            client.config_set(name, v)


def encoding(client, key) -> bytes:
    return client.object("encoding", key)


def test_hset_counts_only_new_fields_and_updates_old_ones(r):
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hset("h", mapping={"a": "10", "c": "3"}) == 1
    assert r.hgetall("h") == {b"a": b"10", b"b": b"2", b"c": b"3"}
    assert r.execute_command("HMSET", "h", "d", "4") in (True, b"OK")
    assert r.hlen("h") == 4


def test_hset_with_an_unpaired_field_is_an_arity_error(r):
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'hset' command"):
        r.execute_command("HSET", "h", "a", "1", "b")
    assert r.exists("h") == 0


def test_hsetnx_sets_only_a_missing_field(r):
    assert r.hsetnx("h", "f", "1") == 1
    assert r.hsetnx("h", "f", "2") == 0
    assert r.hget("h", "f") == b"1"


def test_reads_of_a_missing_key(r):
    assert r.hget("nokey", "f") is None
    assert r.hmget("nokey", "a", "b") == [None, None]
    assert r.hgetall("nokey") == {}
    assert r.hkeys("nokey") == []
    assert r.hvals("nokey") == []
    assert r.hlen("nokey") == 0
    assert r.hstrlen("nokey", "f") == 0
    assert r.hexists("nokey", "f") is False
    assert r.hdel("nokey", "f") == 0
    assert r.hrandfield("nokey") is None
    assert r.hrandfield("nokey", 3) == []


def test_field_reads(r):
    r.hset("h", mapping={"a": "hello", "b": ""})
    assert r.hmget("h", "a", "zz", "b") == [b"hello", None, b""]
    assert r.hstrlen("h", "a") == 5
    assert r.hexists("h", "b") is True
    assert r.hkeys("h") == [b"a", b"b"]  # a listpack keeps insertion order, as Redis's does
    assert r.hvals("h") == [b"hello", b""]


def test_hdel_of_the_last_field_deletes_the_key(r):
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.hdel("h", "a", "zz", "a") == 1
    assert r.exists("h") == 1
    assert r.hdel("h", "b") == 1
    assert r.exists("h") == 0


def test_hgetall_is_a_map_in_resp3(raw):
    raw.send(b"HELLO 3\r\nFLUSHALL\r\n")
    raw.read_until(b"+OK\r\n")
    raw.send(b"HSET h a 1\r\nHGETALL h\r\nHGETALL nokey\r\n")
    assert raw.read_until(b"%0\r\n").endswith(b":1\r\n%1\r\n$1\r\na\r\n$1\r\n1\r\n%0\r\n")


def test_hincrby(r):
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    r.hset("h", "s", "abc")
    with pytest.raises(redis.ResponseError, match="^hash value is not an integer$"):
        r.hincrby("h", "s", 1)
    r.hset("h", "max", str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="^increment or decrement would overflow$"):
        r.hincrby("h", "max", 1)
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.hincrby("h", "n", "1.5")


def test_hincrbyfloat_uses_long_double_arithmetic(r):
    r.response_callbacks.pop("HINCRBYFLOAT", None)  # compare the text sent, not a float
    assert r.execute_command("HINCRBYFLOAT", "h", "f", "0.1") == b"0.1"
    assert r.execute_command("HINCRBYFLOAT", "h", "f", "0.2") == b"0.3"
    assert r.execute_command("HINCRBYFLOAT", "h", "f", "-0.3") == b"0"
    r.hset("h", "s", "abc")
    with pytest.raises(redis.ResponseError, match="^hash value is not a float$"):
        r.hincrbyfloat("h", "s", 1)
    with pytest.raises(redis.ResponseError, match="^value is NaN or Infinity$"):
        r.execute_command("HINCRBYFLOAT", "h", "f", "inf")
    with pytest.raises(redis.ResponseError, match="^value is not a valid float$"):
        r.execute_command("HINCRBYFLOAT", "h", "f", "x")


def test_small_hash_is_listpack_until_it_has_too_many_fields(r):
    with config(r, hash_max_listpack_entries=3):
        r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
        assert encoding(r, "h") == b"listpack"
        r.hset("h", "d", "4")
        assert encoding(r, "h") == b"hashtable"
        r.hdel("h", "a", "b", "c")
        assert encoding(r, "h") == b"hashtable"  # never converts back


@pytest.mark.parametrize("write", [
    lambda r, big: r.hset("h", "f", big),
    lambda r, big: r.hset("h", big, "v"),
    lambda r, big: r.hsetnx("h", big, "v"),
    lambda r, big: r.hincrby("h", "f" * 10, 1),
])  # fmt: skip
def test_a_long_field_or_value_converts_to_hashtable(r, write):
    with config(r, hash_max_listpack_value=8):
        r.hset("h", "x", "1")
        assert encoding(r, "h") == b"listpack"
        write(r, "y" * 9)
        assert encoding(r, "h") == b"hashtable"


def test_hincrbyfloat_result_length_counts_for_the_encoding(r):
    with config(r, hash_max_listpack_value=3):
        r.hset("h", "f", "1")
        r.hincrbyfloat("h", "f", "0.25")
        assert encoding(r, "h") == b"hashtable"


def test_zero_entries_threshold_means_hashtable_at_once(r):
    with config(r, hash_max_listpack_entries=0):
        r.hset("h", "f", "v")
        assert encoding(r, "h") == b"hashtable"


@pytest.mark.parametrize("args", [
    ["HSET", "k", "f", "v"], ["HMSET", "k", "f", "v"], ["HSETNX", "k", "f", "v"], ["HGET", "k", "f"],
    ["HMGET", "k", "f"], ["HGETALL", "k"], ["HDEL", "k", "f"], ["HEXISTS", "k", "f"], ["HLEN", "k"],
    ["HSTRLEN", "k", "f"], ["HKEYS", "k"], ["HVALS", "k"], ["HINCRBY", "k", "f", "1"],
    ["HINCRBYFLOAT", "k", "f", "1"], ["HRANDFIELD", "k"], ["HRANDFIELD", "k", "2"], ["HSCAN", "k", "0"],
])  # fmt: skip
def test_hash_commands_on_a_string_are_wrongtype(r, args):
    r.set("k", "v")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.execute_command(*args)
    assert r.get("k") == b"v"


@pytest.mark.parametrize("args", [["GET", "h"], ["APPEND", "h", "x"], ["INCR", "h"], ["STRLEN", "h"], ["SADD", "h", "m"]])
def test_other_commands_on_a_hash_are_wrongtype(r, args):
    r.hset("h", "f", "v")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.execute_command(*args)


def test_type_and_copy_is_deep(r):
    with config(r, hash_max_listpack_entries=1):
        r.hset("h", mapping={"a": "1", "b": "2"})
        assert r.type("h") == b"hash"
        assert r.copy("h", "c") == 1
        assert encoding(r, "c") == b"hashtable"
    r.hset("h", "a", "changed")
    r.hdel("c", "b")
    assert r.hgetall("c") == {b"a": b"1"}
    assert r.hgetall("h") == {b"a": b"changed", b"b": b"2"}


def test_set_on_a_hash_replaces_it(r):
    r.hset("h", "f", "v")
    r.set("h", "s")
    assert r.type("h") == b"string"


def test_hrandfield_counts(r):
    fields = {b"a": b"1", b"b": b"2", b"c": b"3"}
    r.hset("h", mapping=fields)
    assert r.hrandfield("h") in fields
    picked = r.hrandfield("h", 2)
    assert len(picked) == len(set(picked)) == 2 and set(picked) <= set(fields)
    assert sorted(r.hrandfield("h", 10)) == sorted(fields)
    repeated = r.hrandfield("h", -7)
    assert len(repeated) == 7 and set(repeated) <= set(fields)
    assert r.hrandfield("h", 0) == []


def test_hrandfield_withvalues_shape(r2, r3):
    for client in (r2, r3):
        client.hset("h", mapping={"a": "1", "b": "2"})
        client.response_callbacks.pop("HRANDFIELD", None)
    # RESP2: a flat field/value array; RESP3: an array of [field, value] pairs
    flat = r2.execute_command("HRANDFIELD", "h", "-3", "WITHVALUES")
    assert len(flat) == 6 and all(flat[i + 1] == {b"a": b"1", b"b": b"2"}[flat[i]] for i in range(0, 6, 2))
    nested = r3.execute_command("HRANDFIELD", "h", "2", "WITHVALUES")
    assert sorted(map(tuple, nested)) == [(b"a", b"1"), (b"b", b"2")]


def test_hrandfield_withvalues_count_limit(r):
    r.hset("h", "a", "1")
    with pytest.raises(redis.ResponseError, match="^value is out of range$"):
        r.execute_command("HRANDFIELD", "h", str(2**62), "WITHVALUES")


def test_hscan_visits_every_field_of_a_large_hash_once(r):
    mapping = {f"f{i}": str(i) for i in range(1000)}
    r.hset("h", mapping=mapping)
    assert encoding(r, "h") == b"hashtable"
    seen: dict[bytes, bytes] = {}
    cursor = 0
    pages = 0
    while True:
        cursor, page = r.hscan("h", cursor, count=50)
        for f, v in page.items():
            assert f not in seen
            seen[f] = v
        pages += 1
        if cursor == 0:
            break
    assert pages > 1
    assert seen == {k.encode(): v.encode() for k, v in mapping.items()}


def test_hscan_of_a_listpack_is_one_page_and_honours_match(r):
    r.hset("h", mapping={"a1": "1", "a2": "2", "b1": "3"})
    assert r.hscan("h", 0, match="a*", count=1) == (0, {b"a1": b"1", b"a2": b"2"})
    assert r.hscan("nokey", 0) == (0, {})


def test_hincrbyfloat_is_propagated_as_hset_of_the_result(r2):
    r2.execute_command("DEBUG", "RECORD-PROPAGATION", "ON")
    try:
        r2.hincrbyfloat("h", "f", 1.5)
        r2.hincrbyfloat("h", "f", "0.25")
        r2.hincrby("h", "n", 2)
        log = r2.execute_command("DEBUG", "PROPAGATED")
    finally:
        r2.execute_command("DEBUG", "RECORD-PROPAGATION", "OFF")
    assert log[1:] == [[b"HSET", b"h", b"f", b"1.5"], [b"HSET", b"h", b"f", b"1.75"], [b"HINCRBY", b"h", b"n", b"2"]]


def test_command_info_of_hash_commands_matches_redis(magpie, reference_redis):
    names = ["hset", "hsetnx", "hget", "hmget", "hmset", "hgetall", "hdel", "hexists", "hlen", "hstrlen",
             "hkeys", "hvals", "hincrby", "hincrbyfloat", "hrandfield", "hscan"]  # fmt: skip
    with magpie.client(protocol=2) as ours, reference_redis.client(protocol=2) as ref:
        for client in (ours, ref):
            client.response_callbacks.pop("COMMAND", None)
        for name in names:
            mine = ours.execute_command("COMMAND", "INFO", name)[0]
            theirs = ref.execute_command("COMMAND", "INFO", name)[0]
            assert mine[1] == theirs[1] and sorted(mine[2]) == sorted(theirs[2]), name
            assert mine[3:6] == theirs[3:6] and sorted(mine[6]) == sorted(theirs[6]), name
