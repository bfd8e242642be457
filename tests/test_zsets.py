"""Sorted set commands over redis-py (RESP2 and RESP3): replies, encodings, errors, propagation.

redis-py shapes scored replies differently per protocol (tuples in RESP2, lists in RESP3),
so scored replies are compared through ``pairs``; the raw wire shapes are pinned in
``test_wire_shapes_of_scored_replies``.
"""

from __future__ import annotations

import math
import random

import pytest
import redis
from conftest import RawConnection
from differential import raw_client
from test_hashes import WRONGTYPE, config, encoding


def pairs(reply) -> list[tuple[bytes, float]]:
    """A scored reply as ``[(member, score)]``: nested pairs or a flat member/score list."""
    if reply and not isinstance(reply[0], (list, tuple)):
        reply = list(zip(reply[::2], reply[1::2], strict=True))
    return [(m, float(s)) for m, s in reply]


def ranged(r, *args) -> list[tuple[bytes, float]]:
    return pairs(r.execute_command("ZRANGE", *args, "WITHSCORES"))


# -- adding, scores, counting -------------------------------------------------------------


def test_zadd_counts_new_members_and_ch_counts_changed_ones(r):
    assert r.zadd("z", {"a": 1, "b": 2}) == 2
    assert r.zadd("z", {"a": 5, "c": 3}) == 1
    assert r.zadd("z", {"a": 6, "b": 2, "d": 0}, ch=True) == 2
    assert ranged(r, "z", 0, -1) == [(b"d", 0), (b"b", 2), (b"c", 3), (b"a", 6)]


def test_zadd_nx_xx_gt_lt(r):
    r.zadd("z", {"a": 5})
    assert r.zadd("z", {"a": 1, "b": 1}, nx=True) == 1
    assert r.zscore("z", "a") == 5
    assert r.zadd("z", {"a": 2, "c": 1}, xx=True) == 0
    assert r.zscore("z", "a") == 2 and r.zscore("z", "c") is None
    assert r.zadd("z", {"a": 1, "b": 9}, gt=True, ch=True) == 1
    assert (r.zscore("z", "a"), r.zscore("z", "b")) == (2, 9)
    assert r.zadd("z", {"a": 1, "b": 10}, lt=True, ch=True) == 1
    assert (r.zscore("z", "a"), r.zscore("z", "b")) == (1, 9)
    assert r.zadd("z", {"new": 3}, gt=True) == 1  # GT/LT never stop a new member


def test_zadd_xx_on_a_missing_key_creates_nothing(r):
    assert r.zadd("z", {"a": 1}, xx=True) == 0
    assert r.execute_command("ZADD", "z", "XX", "INCR", "1", "a") is None
    assert r.exists("z") == 0


def test_zadd_incr_and_zincrby(r):
    assert r.zadd("z", {"a": 1.5}, incr=True) == 1.5
    assert r.zincrby("z", 2, "a") == 3.5
    assert r.zincrby("z", -10, "b") == -10
    assert r.zadd("z", {"a": 1}, nx=True, incr=True) is None
    assert r.zadd("z", {"a": -1}, gt=True, incr=True) is None
    assert r.zadd("z", {"a": -1}, lt=True, incr=True) == 2.5


def test_zadd_errors_have_redis_text(r):
    r.set("str", "v")
    cases = [
        (["ZADD", "z", "XX", "NX", "1", "a"], "XX and NX options at the same time are not compatible"),
        (["ZADD", "z", "GT", "LT", "1", "a"], "GT, LT, and/or NX options at the same time are not compatible"),
        (["ZADD", "z", "NX", "GT", "1", "a"], "GT, LT, and/or NX options at the same time are not compatible"),
        (["ZADD", "z", "INCR", "1", "a", "2", "b"], "INCR option supports a single increment-element pair"),
        (["ZADD", "z", "1", "a", "2"], "syntax error"),
        (["ZADD", "z", "NX", "1"], "syntax error"),
        (["ZADD", "z", "nan", "a"], "value is not a valid float"),
        (["ZADD", "z", "1e400", "a"], "value is not a valid float"),
        (["ZADD", "z", " 1", "a"], "value is not a valid float"),
        (["ZADD", "z", "1 ", "a"], "value is not a valid float"),
        (["ZINCRBY", "z", "abc", "a"], "value is not a valid float"),
    ]
    for args, message in cases:
        with pytest.raises(redis.ResponseError, match=f"^{message}$"):
            r.execute_command(*args)
    assert r.exists("z") == 0
    r.zadd("z", {"a": math.inf})
    with pytest.raises(redis.ResponseError, match=r"^resulting score is not a number \(NaN\)$"):
        r.zincrby("z", -math.inf, "a")
    with pytest.raises(redis.ResponseError, match=r"^resulting score is not a number \(NaN\)$"):
        r.execute_command("ZADD", "z", "INCR", "-inf", "a")
    assert r.zscore("z", "a") == math.inf


def test_scores_are_parsed_like_strtod_and_formatted_with_17_digits(r, magpie):
    r.execute_command("ZADD", "z", "0x10", "hex", "0.1", "tenth", "+inf", "top", "-INF", "bottom", "4.9e-324", "tiny")
    assert r.execute_command("ZSCORE", "z", "hex") in (b"16", 16.0)
    raw = RawConnection(magpie.port)
    raw.send(b"ZSCORE z tenth\r\nZSCORE z top\r\nZSCORE z tiny\r\n")
    assert raw.read_until(b"e-324\r\n").endswith(
        b"$19\r\n0.10000000000000001\r\n$3\r\ninf\r\n$23\r\n4.9406564584124654e-324\r\n"
    )
    raw.sock.close()
    assert ranged(r, "z", 0, -1)[0] == (b"bottom", -math.inf)


def test_zscore_zmscore_zcard(r):
    r.zadd("z", {"a": 1, "b": 2})
    assert r.zscore("z", "b") == 2.0
    assert r.zscore("z", "nope") is None
    assert r.zmscore("z", ["a", "nope", "b"]) == [1.0, None, 2.0]
    assert r.zmscore("nokey", ["a"]) == [None]
    assert r.zcard("z") == 2 and r.zcard("nokey") == 0


def test_zcount_with_inclusive_exclusive_and_infinite_bounds(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "inf": math.inf, "-inf": -math.inf})
    assert r.zcount("z", 1, 3) == 3
    assert r.zcount("z", "(1", "3") == 2
    assert r.zcount("z", "(1", "(3") == 1
    assert r.zcount("z", "-inf", "+inf") == 5
    assert r.zcount("z", "(-inf", "(inf") == 3
    assert r.zcount("z", 3, 1) == 0
    assert r.zcount("z", "(2", "2") == 0
    assert r.zcount("nokey", 0, 1) == 0
    for bad in ("nan", "x", "((1"):
        with pytest.raises(redis.ResponseError, match="^min or max is not a float$"):
            r.zcount("z", bad, 1)


def test_zlexcount_and_lex_ranges(r):
    r.zadd("z", {m: 0 for m in "abcdefg"})
    assert r.zlexcount("z", "-", "+") == 7
    assert r.zlexcount("z", "[b", "(e") == 3
    assert r.zlexcount("z", "(b", "[e") == 3
    assert r.zlexcount("z", "+", "-") == 0
    assert r.zrangebylex("z", "[c", "+") == [b"c", b"d", b"e", b"f", b"g"]
    assert r.zrangebylex("z", "-", "[c", start=1, num=5) == [b"b", b"c"]
    assert r.zrevrangebylex("z", "(e", "[b") == [b"d", b"c", b"b"]
    assert r.zrevrangebylex("z", "+", "-", start=2, num=2) == [b"e", b"d"]
    for bad in ("a", "", "++"):
        with pytest.raises(redis.ResponseError, match="^min or max not valid string range item$"):
            r.zlexcount("z", bad, "+")


def test_zrank_and_zrevrank(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 2, "d": 3})
    assert [r.zrank("z", m) for m in "abcd"] == [0, 1, 2, 3]
    assert [r.zrevrank("z", m) for m in "abcd"] == [3, 2, 1, 0]
    assert r.zrank("z", "nope") is None and r.zrank("nokey", "a") is None
    # WITHSCORE is Redis 7.2's; the issue asks for it although 7.0.15 answers an arity error.
    rank, score = r.execute_command("ZRANK", "z", "c", "WITHSCORE")
    assert rank == 2 and float(score) == 2.0
    rank, score = r.execute_command("ZREVRANK", "z", "d", "withscore")
    assert rank == 0 and float(score) == 3.0
    assert r.execute_command("ZRANK", "z", "nope", "WITHSCORE") is None
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("ZRANK", "z", "a", "WITHSCORES")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'zrank' command"):
        r.execute_command("ZRANK", "z", "a", "WITHSCORE", "x")


# -- ranges -------------------------------------------------------------------------------


def test_zrange_by_rank_with_negative_and_out_of_range_indexes(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.zrange("z", 0, -1) == [b"a", b"b", b"c", b"d"]
    assert r.zrange("z", -2, 100) == [b"c", b"d"]
    assert r.zrange("z", 2, 1) == []
    assert r.zrange("z", 5, 10) == []
    assert r.zrevrange("z", 0, 1) == [b"d", b"c"]
    assert pairs(r.zrevrange("z", -1, -1, withscores=True)) == [(b"a", 1.0)]
    assert r.execute_command("ZRANGE", "z", "0", "1", "REV") == [b"d", b"c"]
    assert r.zrange("nokey", 0, -1) == []


def test_zrange_by_score_with_limit_and_rev(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert r.zrangebyscore("z", "(1", 4) == [b"b", b"c", b"d"]
    assert r.zrangebyscore("z", "-inf", "+inf", start=1, num=2) == [b"b", b"c"]
    assert r.zrangebyscore("z", "-inf", "+inf", start=1, num=-1) == [b"b", b"c", b"d", b"e"]
    assert r.zrangebyscore("z", "-inf", "+inf", start=-1, num=2) == []
    assert r.zrangebyscore("z", "-inf", "+inf", start=5, num=2) == []
    assert r.zrevrangebyscore("z", 4, "(1") == [b"d", b"c", b"b"]
    assert r.zrevrangebyscore("z", "+inf", "-inf", start=1, num=2) == [b"d", b"c"]
    assert pairs(r.zrangebyscore("z", 2, 2, withscores=True)) == [(b"b", 2.0)]
    assert r.execute_command("ZRANGE", "z", "(5", "3", "BYSCORE", "REV", "LIMIT", "0", "1") == [b"d"]


def test_zrange_option_errors(r):
    r.zadd("z", {"a": 1})
    cases = [
        (["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
         "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
        (["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"], "syntax error, WITHSCORES not supported in combination with BYLEX"),
        (["ZRANGEBYSCORE", "z", "0", "1", "BYSCORE"], "syntax error"),
        (["ZRANGEBYSCORE", "z", "0", "1", "REV"], "syntax error"),
        (["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"], "syntax error"),
        (["ZRANGE", "z", "a", "1"], "value is not an integer or out of range"),
        (["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "x", "1"], "value is not an integer or out of range"),
        (["ZRANGESTORE", "d", "z", "0", "-1", "WITHSCORES"], "syntax error"),
    ]  # fmt: skip
    for args, message in cases:
        with pytest.raises(redis.ResponseError, match=f"^{message}$"):
            r.execute_command(*args)
    assert r.execute_command("ZRANGE", "z", "0", "-1", "LIMIT", "0", "-1") == [b"a"]  # count -1 is "no limit"


def test_zrangestore_stores_or_deletes_the_destination(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    r.set("dst", "a string")
    assert r.zrangestore("dst", "z", 1, -1) == 2
    assert ranged(r, "dst", 0, -1) == [(b"b", 2.0), (b"c", 3.0)]
    assert r.zrangestore("dst", "z", 2, 1, byscore=True, desc=True) == 2
    assert r.zrangestore("dst", "z", "[x", "+", bylex=True) == 0
    assert r.exists("dst") == 0
    assert r.zrangestore("dst", "nokey", 0, -1) == 0


def test_zremrangebyrank_score_and_lex(r):
    r.zadd("z", {m: i for i, m in enumerate("abcdefgh")})
    assert r.zremrangebyrank("z", 0, 1) == 2
    assert r.zremrangebyrank("z", -1, -1) == 1
    assert r.zremrangebyrank("z", 10, 20) == 0
    assert r.zremrangebyscore("z", "(2", 4) == 2
    assert r.zrange("z", 0, -1) == [b"c", b"f", b"g"]
    r.zadd("l", {m: 0 for m in "abcde"})
    assert r.zremrangebylex("l", "[b", "(d") == 2
    assert r.zrange("l", 0, -1) == [b"a", b"d", b"e"]
    assert r.zremrangebylex("l", "-", "+") == 3
    assert r.exists("l") == 0
    assert r.zremrangebyscore("z", "-inf", "+inf") == 3
    assert r.exists("z") == 0
    with pytest.raises(redis.ResponseError, match="^min or max is not a float$"):
        r.zremrangebyscore("z", "x", 1)
    with pytest.raises(redis.ResponseError, match="^min or max not valid string range item$"):
        r.zremrangebylex("z", "x", "+")


# -- removing and popping -----------------------------------------------------------------


def test_zrem_of_the_last_member_deletes_the_key(r):
    r.zadd("z", {"a": 1, "b": 2})
    assert r.zrem("z", "a", "nope", "a") == 1
    assert r.zrem("z", "b") == 1
    assert r.exists("z") == 0
    assert r.zrem("nokey", "a") == 0


def test_zpopmin_and_zpopmax(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert pairs(r.zpopmin("z")) == [(b"a", 1.0)]
    assert pairs(r.zpopmax("z", 2)) == [(b"d", 4.0), (b"c", 3.0)]
    assert r.zpopmin("z", 0) == []
    assert pairs(r.zpopmin("z", 10)) == [(b"b", 2.0)]
    assert r.exists("z") == 0
    assert r.zpopmin("nokey") == [] and r.zpopmax("nokey", 3) == []
    with pytest.raises(redis.ResponseError, match="^value is out of range, must be positive$"):
        r.zpopmin("z", -1)
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("ZPOPMIN", "z", "1", "2")


def test_zmpop_takes_from_the_first_non_empty_key(r):
    r.zadd("b", {"x": 1, "y": 2, "z": 3})
    key, popped = r.zmpop(2, ["a", "b"], max=True, count=2)
    assert key == b"b" and pairs(popped) == [(b"z", 3.0), (b"y", 2.0)]
    assert r.zmpop(1, ["nokey"], min=True) is None
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        r.zmpop(2, ["nokey", "s"], min=True)
    for args, message in [
        (["ZMPOP", "0", "b", "MIN"], "numkeys should be greater than 0"),
        (["ZMPOP", "1", "b", "FOO"], "syntax error"),
        (["ZMPOP", "1", "b", "MIN", "COUNT", "0"], "count should be greater than 0"),
        (["ZMPOP", "2", "b", "MIN"], "syntax error"),
    ]:
        with pytest.raises(redis.ResponseError, match=f"^{message}$"):
            r.execute_command(*args)


def test_zmpop_and_zpopmin_propagation(r2):
    r2.zadd("z", {"a": 1, "b": 2, "c": 3})
    r2.execute_command("DEBUG", "RECORD-PROPAGATION", "ON")
    try:
        r2.zmpop(2, ["nokey", "z"], min=True, count=2)
        r2.zmpop(1, ["nokey"], min=True)  # nothing changed: nothing propagated
        r2.zpopmax("z", 5)
        log = r2.execute_command("DEBUG", "PROPAGATED")
    finally:
        r2.execute_command("DEBUG", "RECORD-PROPAGATION", "OFF")
    assert log[1:] == [[b"ZPOPMIN", b"z", b"2"], [b"ZPOPMAX", b"z", b"5"]]


def test_zrandmember(r):
    members = {b"a": 1.0, b"b": 2.0, b"c": 3.0}
    r.zadd("z", members)
    assert r.zrandmember("z") in members
    picked = r.zrandmember("z", 2)
    assert len(picked) == 2 == len(set(picked)) and set(picked) <= set(members)
    assert sorted(r.zrandmember("z", 10)) == sorted(members)
    repeated = r.zrandmember("z", -10)
    assert len(repeated) == 10 and set(repeated) <= set(members)
    for member, score in pairs(r.zrandmember("z", -5, withscores=True)):
        assert members[member] == score
    assert r.zrandmember("nokey") is None and r.zrandmember("nokey", 3) == []
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("ZRANDMEMBER", "z", "1", "WITHSCORES", "x")


# -- set algebra --------------------------------------------------------------------------


def test_zunion_zinter_zdiff_with_weights_and_aggregates(r):
    r.zadd("a", {"x": 1, "y": 2, "z": 3})
    r.zadd("b", {"y": 10, "z": 20, "w": 30})
    r.sadd("s", "z", "v")  # a plain set counts as scores of 1
    assert pairs(r.zunion(["a", "b"], withscores=True)) == [(b"x", 1), (b"y", 12), (b"z", 23), (b"w", 30)]
    assert pairs(r.zinter(["a", "b"], aggregate="MIN", withscores=True)) == [(b"y", 2), (b"z", 3)]
    assert pairs(r.zinter({"a": 2, "b": 1}, aggregate="MAX", withscores=True)) == [(b"y", 10), (b"z", 20)]
    assert pairs(r.zinter(["a", "s"], withscores=True)) == [(b"z", 4)]
    assert r.zdiff(["a", "b"]) == [b"x"]
    assert pairs(r.zdiff(["a", "s"], withscores=True)) == [(b"x", 1), (b"y", 2)]
    assert r.zinter(["a", "nokey"]) == []
    assert pairs(r.zunion({"a": math.inf, "s": 0}, withscores=True))[0] == (b"v", 0)  # 0 * 1: 0


def test_nan_from_weights_or_sums_becomes_zero(r):
    r.zadd("a", {"m": math.inf})
    r.zadd("b", {"m": -math.inf})
    assert pairs(r.zunion(["a", "b"], withscores=True)) == [(b"m", 0.0)]
    assert pairs(r.zunion({"a": 0}, withscores=True)) == [(b"m", 0.0)]


def test_store_forms_replace_or_delete_the_destination(r):
    r.zadd("a", {"x": 1, "y": 2})
    r.zadd("b", {"y": 3})
    r.set("dst", "v")
    assert r.zunionstore("dst", ["a", "b"]) == 2
    assert ranged(r, "dst", 0, -1) == [(b"x", 1.0), (b"y", 5.0)]
    assert r.zinterstore("dst", {"a": 1, "b": -1}) == 1
    assert ranged(r, "dst", 0, -1) == [(b"y", -1.0)]
    assert r.zdiffstore("dst", ["a", "b"]) == 1
    assert r.zinterstore("dst", ["a", "nokey"]) == 0
    assert r.exists("dst") == 0


def test_zintercard(r):
    r.zadd("a", {"x": 1, "y": 2, "z": 3})
    r.sadd("s", "y", "z", "w")
    assert r.zintercard(2, ["a", "s"]) == 2
    assert r.zintercard(2, ["a", "s"], limit=1) == 1
    assert r.zintercard(2, ["a", "nokey"]) == 0
    with pytest.raises(redis.ResponseError, match="^LIMIT can't be negative$"):
        r.execute_command("ZINTERCARD", "1", "a", "LIMIT", "-1")


def test_algebra_errors(r):
    r.zadd("a", {"x": 1})
    r.set("str", "v")
    cases = [
        (["ZUNION", "0", "a"], "at least 1 input key is needed for 'zunion' command"),
        (["ZINTERSTORE", "d", "0", "a"], "at least 1 input key is needed for 'zinterstore' command"),
        (["ZINTERCARD", "0", "a"], "at least 1 input key is needed for 'zintercard' command"),
        (["ZUNION", "x", "a"], "value is not an integer or out of range"),
        (["ZUNION", "2", "a"], "syntax error"),
        (["ZUNION", "1", "a", "WEIGHTS", "x"], "weight value is not a float"),
        (["ZUNION", "1", "a", "AGGREGATE", "avg"], "syntax error"),
        (["ZDIFF", "1", "a", "WEIGHTS", "1"], "syntax error"),
        (["ZUNIONSTORE", "d", "1", "a", "WITHSCORES"], "syntax error"),
        (["ZINTERCARD", "1", "a", "WITHSCORES"], "syntax error"),
    ]
    for args, message in cases:
        with pytest.raises(redis.ResponseError, match=f"^{message}$"):
            r.execute_command(*args)
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        r.execute_command("ZUNION", "1", "str", "BADOPTION")  # the type is checked first


def test_key_positions_of_numkeys_commands(magpie):
    r = raw_client(magpie.client, protocol=2)
    assert r.execute_command("COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "2", "a", "b") == [b"d", b"a", b"b"]
    assert r.execute_command("COMMAND", "GETKEYS", "ZINTER", "2", "a", "b") == [b"a", b"b"]
    assert r.execute_command("COMMAND", "GETKEYS", "ZMPOP", "2", "a", "b", "MIN") == [b"a", b"b"]
    assert r.execute_command("COMMAND", "GETKEYS", "ZRANGESTORE", "d", "s", "0", "1") == [b"d", b"s"]
    r.close()


# -- iteration ----------------------------------------------------------------------------


def test_zscan_returns_members_with_scores_as_strings(r, magpie):
    r.zadd("z", {"a": 1.5, "b": 2})
    cursor, items = r.zscan("z", 0)
    assert cursor == 0 and pairs(items) == [(b"a", 1.5), (b"b", 2.0)]
    unparsed = raw_client(magpie.client, protocol=r.get_connection_kwargs()["protocol"])
    assert unparsed.execute_command("ZSCAN", "z", "0")[1] == [b"a", b"1.5", b"b", b"2"]  # bulk strings even in RESP3
    unparsed.close()
    assert r.zscan("nokey", 0) == (0, [])


def test_zscan_visits_every_member_of_a_large_zset_once(r):
    r.zadd("z", {f"m{i}": i for i in range(1000)})
    seen: list[bytes] = []
    cursor = 0
    while True:
        cursor, page = r.zscan("z", cursor, count=100, match="m1*")
        seen += [m for m, _ in page]
        if cursor == 0:
            break
    assert sorted(seen) == sorted(f"m{i}".encode() for i in range(1000) if str(i).startswith("1"))


# -- encodings, types, deletion -----------------------------------------------------------


def test_encoding_converts_once_by_entries(r):
    with config(r, zset_max_listpack_entries=3):
        r.zadd("z", {"a": 1, "b": 2, "c": 3})
        assert encoding(r, "z") == b"listpack"
        r.zadd("z", {"d": 4})
        assert encoding(r, "z") == b"skiplist"
        r.zrem("z", "a", "b", "c")
        assert encoding(r, "z") == b"skiplist"  # never converts back


def test_encoding_converts_by_member_length(r):
    with config(r, zset_max_listpack_value=4):
        r.zadd("z", {"abcd": 1})
        assert encoding(r, "z") == b"listpack"
        r.zincrby("z", 1, "abcde")
        assert encoding(r, "z") == b"skiplist"
        r.zadd("big", {"abcdef": 1})
        assert encoding(r, "big") == b"skiplist"


def test_store_results_start_from_the_encoding_their_size_calls_for(r):
    with config(r, zset_max_listpack_entries=2):
        r.zadd("z", {"a": 1, "b": 2, "c": 3})
        assert r.zrangestore("small", "z", 0, 1) == 2
        assert encoding(r, "small") == b"listpack"
        r.zunionstore("all", ["z"])
        assert encoding(r, "all") == b"skiplist"


def test_copy_is_deep_and_keeps_the_encoding(r):
    with config(r, zset_max_listpack_entries=1):
        r.zadd("z", {"a": 1, "b": 2})
        assert r.copy("z", "c") == 1
        r.zadd("c", {"a": 10})
        assert r.zscore("z", "a") == 1
        assert encoding(r, "c") == b"skiplist"
        assert r.type("c") == b"zset"


def test_wrongtype_both_ways(r):
    r.set("str", "v")
    r.zadd("z", {"a": 1})
    for args in (["ZADD", "str", "1", "a"], ["ZSCORE", "str", "a"], ["ZRANGE", "str", "0", "-1"],
                 ["ZPOPMIN", "str"], ["ZCARD", "str"], ["ZINCRBY", "str", "1", "a"], ["ZRANK", "str", "a"],
                 ["ZREMRANGEBYRANK", "str", "0", "1"], ["ZSCAN", "str", "0"], ["ZRANDMEMBER", "str"]):  # fmt: skip
        with pytest.raises(redis.ResponseError, match=f"^{WRONGTYPE}$"):
            r.execute_command(*args)
    for args in (["GET", "z"], ["SADD", "z", "a"], ["HSET", "z", "f", "v"], ["LPUSH", "z", "x"]):
        with pytest.raises(redis.ResponseError, match=f"^{WRONGTYPE}$"):
            r.execute_command(*args)


def test_wire_shapes_of_scored_replies(magpie):
    raw = RawConnection(magpie.port)
    raw.send(b"HELLO 3\r\nSELECT 9\r\nDEL k\r\nZADD k 1.5 a 2 b\r\n")
    assert raw.read_until(b":2\r\n").endswith(b"+OK\r\n:0\r\n:2\r\n")
    raw.send(b"ZSCORE k a\r\nZRANGE k 0 0 WITHSCORES\r\nZPOPMIN k\r\nZPOPMIN k 1\r\nZPOPMIN k\r\n")
    assert raw.read_until(b"*0\r\n") == (
        b",1.5\r\n*1\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\na\r\n,1.5\r\n*1\r\n*2\r\n$1\r\nb\r\n,2\r\n*0\r\n"
    )
    raw.sock.close()


# -- leaderboard scale --------------------------------------------------------------------


def test_leaderboard_rank_queries_on_10k_members(r):
    rng = random.Random(7)
    scores = {f"player{i}": rng.randrange(1_000_000) for i in range(10_000)}
    for start in range(0, 10_000, 1000):
        chunk = dict(list(scores.items())[start : start + 1000])
        r.zadd("board", chunk)
    ordered = sorted(scores.items(), key=lambda kv: (kv[1], kv[0].encode()))
    assert r.zcard("board") == 10_000
    assert encoding(r, "board") == b"skiplist"
    for index in (0, 1, 4999, 9998, 9999):
        name, score = ordered[index]
        assert r.zrank("board", name) == index
        assert r.zrevrank("board", name) == 9999 - index
        assert r.zscore("board", name) == score
    top = pairs(r.zrevrange("board", 0, 9, withscores=True))
    assert top == [(n.encode(), float(s)) for n, s in reversed(ordered[-10:])]
    page = r.zrange("board", 5000, 5009)
    assert page == [n.encode() for n, _ in ordered[5000:5010]]
    lo, hi = 250_000, 260_000
    assert r.zcount("board", lo, f"({hi}") == sum(1 for s in scores.values() if lo <= s < hi)
    window = r.zrangebyscore("board", lo, f"({hi}", start=3, num=4)
    assert window == [n.encode() for n, s in ordered if lo <= s < hi][3:7]
    # moving a player changes the ranks around it
    name, score = ordered[0]
    r.zincrby("board", 2_000_000, name)
    assert r.zrevrank("board", name) == 0
    assert r.zrank("board", ordered[1][0]) == 0
    assert r.zremrangebyrank("board", 0, 4999) == 5000
    assert r.zcard("board") == 5000


# -- keyspace events, checked against redis-server ----------------------------------------

EVENT_SEQUENCE = [
    ["ZADD", "z", "1", "a", "2", "b", "3", "c"],
    ["ZADD", "z", "1", "a"],  # no change: no event
    ["ZADD", "z", "INCR", "5", "a"],
    ["ZINCRBY", "z", "0", "a"],  # no change: no event
    ["ZINCRBY", "z", "1", "new"],
    ["ZREM", "z", "new", "nope"],
    ["ZPOPMIN", "z"],
    ["ZPOPMAX", "z", "1"],
    ["ZRANGESTORE", "d", "z", "0", "-1"],
    ["ZUNIONSTORE", "u", "2", "z", "d"],
    ["ZINTERSTORE", "i", "2", "z", "d"],
    ["ZDIFFSTORE", "i", "2", "z", "d"],  # empty: deletes i
    ["ZREMRANGEBYSCORE", "u", "-inf", "+inf"],
    ["ZADD", "l", "0", "a", "0", "b"],
    ["ZREMRANGEBYLEX", "l", "[a", "[a"],
    ["ZREMRANGEBYRANK", "l", "0", "-1"],
    ["ZMPOP", "1", "d", "MAX", "COUNT", "5"],
    ["SET", "end", "x"],
]


def _keyevents(server) -> list[tuple[bytes, bytes]]:
    client = server.client()
    client.flushall()
    client.config_set("notify-keyspace-events", "KEA")
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe("__keyevent@0__:*")
    while pubsub.get_message(timeout=0.1) is not None:
        pass
    try:
        for args in EVENT_SEQUENCE:
            client.execute_command(*args)
        got: list[tuple[bytes, bytes]] = []
        while not got or got[-1] != (b"__keyevent@0__:set", b"end"):
            message = pubsub.get_message(timeout=5)
            assert message is not None, got
            got.append((message["channel"], message["data"]))
        return got
    finally:
        client.config_set("notify-keyspace-events", "")
        pubsub.close()
        client.close()


def test_keyspace_events_match_redis(magpie, reference_redis):
    expected = _keyevents(reference_redis)
    assert (b"__keyevent@0__:zincr", b"z") in expected  # the sequence does exercise the events
    assert _keyevents(magpie) == expected


@pytest.mark.parametrize("args", [["ZADD", "z", "nx"], ["ZADD", "z", "NX", "m"], ["ZADD", "z", "incr", "m"],
                                  ["ZADD", "z", "inf", "m"], ["ZADD", "z", "0", "m"], ["ZADD", "z", "x1", "m"],
                                  ["ZADD", "z", "", "m"]])
def test_zadd_short_forms_match_redis(r2, reference_redis, args):
    ref = reference_redis.client(protocol=2)
    replies = []
    for client in (r2, ref):
        client.delete("z")
        try:
            replies.append(client.execute_command(*args))
        except redis.ResponseError as exc:
            replies.append(str(exc))
    assert replies[0] == replies[1]


@pytest.mark.parametrize("bounds", [(b"\x00junk", b"1"), (b"(\x00", b"1"), (b"1\x00x", b"+inf"), (b"\x00(", b"(2\x00")])
def test_score_bounds_end_at_a_nul_byte_as_in_redis(r2, reference_redis, bounds):
    """zslParseRange reads the bound as a C string: strtod stops at the first NUL, and an
    empty bound is 0 (found by the command fuzzer's comparison with redis-server)."""
    ref = reference_redis.client(protocol=2)
    counts = []
    for client in (r2, ref):
        client.delete("z")
        client.zadd("z", {"a": 0, "b": 1, "c": 2})
        counts.append(client.zcount("z", *bounds))
    assert counts[0] == counts[1]
