"""Set commands over redis-py (RESP2 and RESP3): replies, encodings, errors, propagation."""

from __future__ import annotations

import pytest
import redis
from test_hashes import WRONGTYPE, config, encoding


def test_sadd_counts_new_members_and_srem_removed_ones(r):
    assert r.sadd("s", "a", "b", "a") == 2
    assert r.sadd("s", "b", "c") == 1
    assert r.smembers("s") == {b"a", b"b", b"c"}
    assert r.srem("s", "a", "zz", "a") == 1
    assert r.scard("s") == 2


def test_srem_of_the_last_member_deletes_the_key(r):
    r.sadd("s", "a")
    assert r.srem("s", "a") == 1
    assert r.exists("s") == 0


def test_membership(r):
    r.sadd("s", "a", "1")
    assert r.sismember("s", "a") is True or r.sismember("s", "a") == 1
    assert r.execute_command("SISMEMBER", "s", "zz") in (0, False)
    assert r.smismember("s", "a", "zz", "1") == [1, 0, 1]
    assert r.smismember("nokey", "a") == [0]


def test_reads_of_a_missing_key(r):
    assert r.smembers("nokey") == set()
    assert r.scard("nokey") == 0
    assert r.spop("nokey") is None
    assert r.srandmember("nokey") is None
    assert r.srandmember("nokey", 3) == []
    assert r.sinter("nokey") == set()
    assert r.sscan("nokey", 0) == (0, [])


def test_smembers_of_an_intset_is_in_numeric_order(r2):
    r2.response_callbacks.pop("SMEMBERS", None)
    r2.sadd("s", "10", "-3", "2")
    assert r2.execute_command("SMEMBERS", "s") == [b"-3", b"2", b"10"]


def test_set_replies_are_sets_in_resp3(raw):
    raw.send(b"HELLO 3\r\nFLUSHALL\r\n")
    raw.read_until(b"+OK\r\n")
    raw.send(b"SADD s 1\r\nSMEMBERS s\r\nSINTER s\r\nSUNION nokey\r\nSPOP s 0\r\nSRANDMEMBER s 5\r\nPING\r\n")
    replies = raw.read_until(b"+PONG\r\n")
    assert replies == b":1\r\n~1\r\n$1\r\n1\r\n~1\r\n$1\r\n1\r\n~0\r\n~0\r\n*1\r\n$1\r\n1\r\n+PONG\r\n"


def test_intset_until_a_non_integer_or_too_many_members(r):
    with config(r, set_max_intset_entries=3):
        r.sadd("s", "1", "-2", "9223372036854775807")
        assert encoding(r, "s") == b"intset"
        r.sadd("s", "4")
        assert encoding(r, "s") == b"hashtable"
        r.srem("s", "4")
        assert encoding(r, "s") == b"hashtable"  # never converts back
    for member in ["a", "01", "-0", "+1", " 1", "9223372036854775808", "1.0", ""]:
        r.delete("t")
        r.sadd("t", "5", member)
        assert encoding(r, "t") == b"hashtable", member


def test_store_results_and_spop_rebuilds_start_as_intset(r):
    r.sadd("a", "x", "1", "2")
    assert encoding(r, "a") == b"hashtable"
    r.sadd("b", "1", "2", "3")
    assert r.sinterstore("d", "a", "b") == 2
    assert encoding(r, "d") == b"intset"
    r.srem("a", "x")
    r.sadd("big", "x", *range(10))
    r.srem("big", "x")
    r.spop("big", 9)  # nine of ten: Redis builds a new set from the one that stays
    assert encoding(r, "big") == b"intset"


def test_store_forms_overwrite_any_type_and_delete_an_empty_result(r):
    r.sadd("a", "1", "2", "3")
    r.sadd("b", "2", "3", "4")
    r.set("d", "string")
    r.expire("d", 100)
    assert r.sunionstore("d", "a", "b") == 4
    assert r.type("d") == b"set" and r.ttl("d") == -1
    assert r.sdiffstore("d", "a", "b") == 1
    assert r.smembers("d") == {b"1"}
    assert r.sinterstore("d", "a", "nokey") == 0
    assert r.exists("d") == 0
    assert r.sinterstore("d", "a", "a") == 3  # a source may be the destination too
    assert r.sdiffstore("a", "a", "b") == 1 and r.smembers("a") == {b"1"}


def test_set_algebra(r):
    r.sadd("a", "1", "2", "3", "x")
    r.sadd("b", "2", "3", "y")
    assert r.sinter("a", "b") == {b"2", b"3"}
    assert r.sunion("a", "b", "nokey") == {b"1", b"2", b"3", b"x", b"y"}
    assert r.sdiff("a", "b", "nokey") == {b"1", b"x"}
    assert r.sdiff("nokey", "a") == set()
    assert r.sinter("a", "nokey") == set()


def test_sintercard_with_limit(r):
    r.sadd("a", *range(20))
    r.sadd("b", *range(10, 30))
    assert r.sintercard(2, ["a", "b"]) == 10
    assert r.sintercard(2, ["a", "b"], limit=3) == 3
    assert r.sintercard(2, ["a", "b"], limit=0) == 10
    assert r.sintercard(2, ["a", "nokey"]) == 0
    with pytest.raises(redis.ResponseError, match="^numkeys should be greater than 0$"):
        r.execute_command("SINTERCARD", "0", "a")
    with pytest.raises(redis.ResponseError, match="^Number of keys can't be greater than number of args$"):
        r.execute_command("SINTERCARD", "3", "a", "b")
    with pytest.raises(redis.ResponseError, match="^LIMIT can't be negative$"):
        r.execute_command("SINTERCARD", "1", "a", "LIMIT", "-1")


def test_command_getkeys_for_sintercard(r):
    r.response_callbacks.pop("COMMAND", None)
    assert r.execute_command("COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b", "LIMIT", "1") == [b"a", b"b"]


def test_smove(r):
    r.sadd("src", "a", "b")
    r.set("str", "v")
    assert r.smove("src", "dst", "a") == 1
    assert r.smembers("dst") == {b"a"} and r.smembers("src") == {b"b"}
    assert r.smove("src", "dst", "zz") == 0
    assert r.smove("src", "src", "b") == 1  # same key: only a membership test
    assert r.smove("nokey", "str", "a") == 0  # a missing source wins over a wrong destination type
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.smove("src", "str", "b")
    assert r.smove("src", "dst", "b") == 1
    assert r.exists("src") == 0
    assert r.smembers("dst") == {b"a", b"b"}


def test_spop_and_srandmember(r):
    members = {str(i).encode() for i in range(10)}
    r.sadd("s", *members)
    one = r.spop("s")
    assert one in members and r.scard("s") == 9
    popped = r.spop("s", 3)
    assert len(popped) == 3 and set(popped) <= members - {one} and r.scard("s") == 6
    rest = r.smembers("s")
    picked = r.srandmember("s", 4)
    assert len(set(picked)) == 4 and set(picked) <= rest
    assert sorted(r.srandmember("s", 100)) == sorted(rest)
    repeated = r.srandmember("s", -20)
    assert len(repeated) == 20 and set(repeated) <= rest
    assert r.srandmember("s", 0) == []
    assert r.spop("s", 0) in ([], set())
    assert set(r.spop("s", 100)) == rest
    assert r.exists("s") == 0


def test_spop_count_errors(r):
    r.sadd("s", "a")
    for bad in ["-1", "x"]:
        with pytest.raises(redis.ResponseError, match="^value is out of range, must be positive$"):
            r.execute_command("SPOP", "s", bad)
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SPOP", "s", "1", "2")


def test_spop_is_propagated_as_srem_and_a_whole_pop_as_del(r2):
    r2.sadd("s", "a", "b", "c", "d", "e", "f")
    r2.execute_command("DEBUG", "RECORD-PROPAGATION", "ON")
    try:
        one = r2.spop("s")
        two = r2.spop("s", 2)
        r2.spop("nokey")  # nothing changed: nothing propagated
        r2.spop("s", 10)
        log = r2.execute_command("DEBUG", "PROPAGATED")
    finally:
        r2.execute_command("DEBUG", "RECORD-PROPAGATION", "OFF")
    # As Redis 7, a command with several effects propagates them as a transaction.
    entries = log[1:]
    assert entries[0] == [b"SREM", b"s", one]
    assert entries[1] == [b"MULTI"] and entries[4] == [b"EXEC"]
    assert sorted(entries[2:4]) == sorted([[b"SREM", b"s", m] for m in two])
    assert entries[5:] == [[b"DEL", b"s"]]


def test_sscan_visits_every_member_of_a_large_set_once(r):
    members = {f"m{i}".encode() for i in range(1000)}
    r.sadd("s", *members)
    seen: list[bytes] = []
    cursor = 0
    while True:
        cursor, page = r.sscan("s", cursor, count=100, match="m1*")
        seen += page
        if cursor == 0:
            break
    assert sorted(seen) == sorted(m for m in members if m.startswith(b"m1"))


def test_sscan_of_an_intset_is_one_page(r):
    r.sadd("s", *range(50))
    cursor, page = r.sscan("s", 0, count=5)
    assert cursor == 0 and len(page) == 50


@pytest.mark.parametrize("args", [
    ["SADD", "k", "m"], ["SREM", "k", "m"], ["SMEMBERS", "k"], ["SISMEMBER", "k", "m"], ["SMISMEMBER", "k", "m"],
    ["SCARD", "k"], ["SPOP", "k"], ["SPOP", "k", "2"], ["SRANDMEMBER", "k"], ["SRANDMEMBER", "k", "2"],
    ["SMOVE", "k", "d", "m"], ["SINTER", "k"], ["SUNION", "nokey", "k"], ["SDIFF", "k"], ["SINTERSTORE", "d", "k"],
    ["SUNIONSTORE", "d", "k"], ["SDIFFSTORE", "d", "k"], ["SINTERCARD", "1", "k"], ["SSCAN", "k", "0"],
])  # fmt: skip
def test_set_commands_on_a_string_are_wrongtype(r, args):
    r.set("k", "v")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.execute_command(*args)
    assert r.get("k") == b"v"


@pytest.mark.parametrize("args", [["GET", "s"], ["INCR", "s"], ["HSET", "s", "f", "v"], ["SETRANGE", "s", "0", "x"]])
def test_other_commands_on_a_set_are_wrongtype(r, args):
    r.sadd("s", "m")
    with pytest.raises(redis.ResponseError, match=WRONGTYPE):
        r.execute_command(*args)


def test_type_and_copy_is_deep(r):
    r.sadd("s", "1", "2")
    assert r.type("s") == b"set"
    assert r.copy("s", "c") == 1
    assert encoding(r, "c") == b"intset"
    r.sadd("s", "x")
    r.srem("c", "1")
    assert r.smembers("c") == {b"2"}
    assert r.smembers("s") == {b"1", b"2", b"x"}
    assert encoding(r, "c") == b"intset"


def test_command_info_of_set_commands_matches_redis(magpie, reference_redis):
    names = ["sadd", "srem", "smembers", "sismember", "smismember", "scard", "spop", "srandmember", "smove",
             "sinter", "sunion", "sdiff", "sinterstore", "sunionstore", "sdiffstore", "sintercard", "sscan"]  # fmt: skip
    with magpie.client(protocol=2) as ours, reference_redis.client(protocol=2) as ref:
        for client in (ours, ref):
            client.response_callbacks.pop("COMMAND", None)
        for name in names:
            mine = ours.execute_command("COMMAND", "INFO", name)[0]
            theirs = ref.execute_command("COMMAND", "INFO", name)[0]
            assert mine[1] == theirs[1] and sorted(mine[2]) == sorted(theirs[2]), name
            assert mine[3:6] == theirs[3:6] and sorted(mine[6]) == sorted(theirs[6]), name
