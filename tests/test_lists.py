"""List commands through redis-py, over RESP2 and RESP3 (the ``r`` fixture runs both)."""

from __future__ import annotations

import time

import pytest
import redis

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def test_lpush_prepends_each_element_in_turn(r):
    assert r.lpush("l", "a", "b", "c") == 3
    assert r.lrange("l", 0, -1) == [b"c", b"b", b"a"]


def test_rpush_appends_and_returns_the_new_length(r):
    assert r.rpush("l", "a") == 1
    assert r.rpush("l", "b", "c") == 3
    assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"]


def test_pushx_only_pushes_onto_an_existing_list(r):
    assert r.lpushx("l", "a") == 0
    assert r.rpushx("l", "a") == 0
    assert r.exists("l") == 0
    r.rpush("l", "m")
    assert r.lpushx("l", "a", "b") == 3
    assert r.rpushx("l", "z") == 4
    assert r.lrange("l", 0, -1) == [b"b", b"a", b"m", b"z"]


def test_pop_without_count_returns_one_element_or_none(r):
    r.rpush("l", "a", "b", "c")
    assert r.lpop("l") == b"a"
    assert r.rpop("l") == b"c"
    assert r.lpop("missing") is None
    assert r.rpop("missing") is None


def test_pop_with_count_returns_a_list_in_pop_order(r):
    r.rpush("l", "a", "b", "c", "d", "e")
    assert r.lpop("l", 2) == [b"a", b"b"]
    assert r.rpop("l", 2) == [b"e", b"d"]
    assert r.lpop("l", 10) == [b"c"]
    assert r.exists("l") == 0


def test_pop_with_count_zero_is_an_empty_list_but_none_for_a_missing_key(r):
    r.rpush("l", "a")
    assert r.lpop("l", 0) == []
    assert r.lpop("missing", 0) is None
    assert r.rpop("missing", 3) is None
    assert r.llen("l") == 1


def test_pop_with_a_negative_or_non_integer_count_is_an_error(r):
    r.rpush("l", "a")
    for count in ("-1", "x"):
        with pytest.raises(redis.ResponseError, match="value is out of range, must be positive"):
            r.execute_command("LPOP", "l", count)


def test_pop_with_too_many_arguments_is_an_arity_error(r):
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'rpop' command"):
        r.execute_command("RPOP", "l", "1", "2")


def test_popping_the_last_element_deletes_the_key(r):
    r.rpush("l", "a")
    assert r.rpop("l") == b"a"
    assert r.exists("l") == 0
    assert r.type("l") == b"none"


def test_llen_of_a_missing_key_is_zero(r):
    assert r.llen("l") == 0
    r.rpush("l", "a", "b")
    assert r.llen("l") == 2


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(0, -1, "abcde"), (1, 3, "bcd"), (-2, -1, "de"), (-100, 1, "ab"), (3, 100, "de"), (3, 1, ""), (5, 10, ""),
     (-9223372036854775808, 9223372036854775807, "abcde"), (9223372036854775807, -9223372036854775808, ""),
     (4, 4, "e"), (-5, -5, "a")],
)  # fmt: skip
def test_lrange_clamps_indexes_like_redis(r, start, end, expected):
    r.rpush("l", *"abcde")
    assert r.lrange("l", start, end) == [c.encode() for c in expected]


def test_lrange_of_a_missing_key_is_empty(r):
    assert r.lrange("l", 0, -1) == []


def test_lrange_in_the_middle_of_a_long_list(r):
    r.rpush("l", *range(1000))
    assert r.lrange("l", 600, 603) == [b"600", b"601", b"602", b"603"]
    assert r.lrange("l", 200, 202) == [b"200", b"201", b"202"]


def test_lindex_with_negative_and_out_of_range_indexes(r):
    r.rpush("l", "a", "b", "c")
    assert r.lindex("l", 0) == b"a"
    assert r.lindex("l", -1) == b"c"
    assert r.lindex("l", 3) is None
    assert r.lindex("l", -4) is None
    assert r.lindex("missing", 0) is None


def test_lset_replaces_an_element(r):
    r.rpush("l", "a", "b", "c")
    assert r.lset("l", 1, "B") is True
    assert r.lset("l", -1, "C") is True
    assert r.lrange("l", 0, -1) == [b"a", b"B", b"C"]


def test_lset_errors(r):
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.lset("missing", 0, "x")
    r.rpush("l", "a")
    with pytest.raises(redis.ResponseError, match="^index out of range$"):
        r.lset("l", 1, "x")
    with pytest.raises(redis.ResponseError, match="^index out of range$"):
        r.lset("l", -2, "x")


def test_linsert_before_and_after_the_first_pivot(r):
    r.rpush("l", "a", "p", "p")
    assert r.linsert("l", "BEFORE", "p", "x") == 4
    assert r.linsert("l", "after", "p", "y") == 5
    assert r.lrange("l", 0, -1) == [b"a", b"x", b"p", b"y", b"p"]


def test_linsert_replies_minus_one_without_pivot_and_zero_without_key(r):
    assert r.linsert("missing", "BEFORE", "p", "x") == 0
    r.rpush("l", "a")
    assert r.linsert("l", "BEFORE", "p", "x") == -1
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("LINSERT", "l", "MIDDLE", "a", "x")


@pytest.mark.parametrize(
    ("count", "removed", "left"),
    [(0, 3, "bcd"), (2, 2, "bcad"), (-2, 2, "abcd"), (1, 1, "bacad"), (-1, 1, "abacd"), (10, 3, "bcd"), (-10, 3, "bcd")],
)
def test_lrem_count_sign_chooses_the_direction(r, count, removed, left):
    r.rpush("l", *"abacad")
    assert r.lrem("l", count, "a") == removed
    assert r.lrange("l", 0, -1) == [c.encode() for c in left]


def test_lrem_removing_everything_deletes_the_key(r):
    r.rpush("l", "a", "a")
    assert r.lrem("l", 0, "a") == 2
    assert r.exists("l") == 0
    assert r.lrem("l", 0, "a") == 0


@pytest.mark.parametrize(
    ("start", "end", "expected"), [(1, -2, "bcd"), (0, 0, "a"), (-2, 100, "de"), (0, -1, "abcde"), (-100, 1, "ab")]
)
def test_ltrim_keeps_the_range(r, start, end, expected):
    r.rpush("l", *"abcde")
    assert r.ltrim("l", start, end) is True
    assert r.lrange("l", 0, -1) == [c.encode() for c in expected]


def test_ltrim_to_an_empty_range_deletes_the_key(r):
    r.rpush("l", *"abc")
    r.ltrim("l", 2, 1)
    assert r.exists("l") == 0
    assert r.ltrim("missing", 0, 1) is True


def test_lpos_finds_first_match_and_honours_rank_count_maxlen(r):
    r.rpush("l", *"abcabca")
    assert r.lpos("l", "a") == 0
    assert r.lpos("l", "c") == 2
    assert r.lpos("l", "z") is None
    assert r.lpos("l", "a", rank=2) == 3
    assert r.lpos("l", "a", rank=-1) == 6
    assert r.lpos("l", "a", rank=-2) == 3
    assert r.lpos("l", "a", count=0) == [0, 3, 6]
    assert r.lpos("l", "a", count=2) == [0, 3]
    assert r.lpos("l", "a", rank=-1, count=2) == [6, 3]
    assert r.lpos("l", "a", count=0, maxlen=4) == [0, 3]
    assert r.lpos("l", "a", rank=-1, count=0, maxlen=2) == [6]
    assert r.lpos("l", "z", count=0) == []
    assert r.lpos("missing", "a") is None
    assert r.lpos("missing", "a", count=1) == []


def test_lpos_option_errors(r):
    r.rpush("l", "a")
    with pytest.raises(redis.ResponseError, match="^RANK can't be zero: use 1 to start from the first match, 2 from"):
        r.lpos("l", "a", rank=0)
    with pytest.raises(redis.ResponseError, match="^COUNT can't be negative$"):
        r.lpos("l", "a", count=-1)
    with pytest.raises(redis.ResponseError, match="^MAXLEN can't be negative$"):
        r.lpos("l", "a", maxlen=-1)
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("LPOS", "l", "a", "RANK")


def test_lmove_between_lists_and_every_direction(r):
    r.rpush("src", "a", "b", "c")
    assert r.lmove("src", "dst", "LEFT", "RIGHT") == b"a"
    assert r.lmove("src", "dst", "RIGHT", "LEFT") == b"c"
    assert r.lrange("dst", 0, -1) == [b"c", b"a"]
    assert r.lmove("src", "dst", "LEFT", "LEFT") == b"b"
    assert r.exists("src") == 0
    assert r.lmove("src", "dst", "LEFT", "LEFT") is None
    assert r.lrange("dst", 0, -1) == [b"b", b"c", b"a"]


def test_rpoplpush_on_the_same_key_rotates(r):
    r.rpush("l", "a", "b", "c")
    assert r.rpoplpush("l", "l") == b"c"
    assert r.lrange("l", 0, -1) == [b"c", b"a", b"b"]
    assert r.lmove("l", "l", "LEFT", "RIGHT") == b"c"
    assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"]


def test_rpoplpush_of_a_single_element_onto_itself_keeps_the_key(r):
    r.rpush("l", "a")
    assert r.rpoplpush("l", "l") == b"a"
    assert r.lrange("l", 0, -1) == [b"a"]


def test_lmove_with_a_bad_direction_is_a_syntax_error(r):
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("LMOVE", "a", "b", "UP", "LEFT")


def test_lmpop_pops_from_the_first_non_empty_list(r):
    r.rpush("b", "1", "2", "3")
    r.rpush("c", "x")
    assert r.lmpop(3, "a", "b", "c", direction="LEFT") == [b"b", [b"1"]]
    assert r.lmpop(2, "b", "c", direction="RIGHT", count=5) == [b"b", [b"3", b"2"]]
    assert r.exists("b") == 0
    assert r.lmpop(2, "a", "b", direction="LEFT") is None


def test_lmpop_argument_errors(r):
    with pytest.raises(redis.ResponseError, match="^numkeys should be greater than 0$"):
        r.execute_command("LMPOP", "0", "a", "LEFT")
    with pytest.raises(redis.ResponseError, match="^count should be greater than 0$"):
        r.execute_command("LMPOP", "1", "a", "LEFT", "COUNT", "0")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("LMPOP", "2", "a", "LEFT")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1")


def test_command_getkeys_finds_lmpop_keys(r):
    keys = r.command_getkeys("LMPOP", "2", "a", "b", "LEFT")  # redis-py decodes them over RESP2
    assert [k if isinstance(k, bytes) else k.encode() for k in keys] == [b"a", b"b"]


@pytest.mark.parametrize(
    "args",
    [["LPUSH", "s", "x"], ["RPUSH", "s", "x"], ["LPUSHX", "s", "x"], ["RPUSHX", "s", "x"], ["LPOP", "s"],
     ["RPOP", "s", "2"], ["LLEN", "s"], ["LRANGE", "s", "0", "-1"], ["LINDEX", "s", "0"], ["LSET", "s", "0", "x"],
     ["LINSERT", "s", "BEFORE", "a", "b"], ["LREM", "s", "0", "x"], ["LTRIM", "s", "0", "1"], ["LPOS", "s", "x"],
     ["LMOVE", "s", "l", "LEFT", "LEFT"], ["LMOVE", "l", "s", "LEFT", "LEFT"], ["RPOPLPUSH", "l", "s"],
     ["LMPOP", "1", "s", "LEFT"]],
)  # fmt: skip
def test_list_commands_on_a_string_are_wrongtype(r, args):
    r.set("s", "v")
    r.rpush("l", "a")
    with pytest.raises(redis.ResponseError, match=f"^{WRONGTYPE}$"):
        r.execute_command(*args)
    assert r.get("s") == b"v"
    assert r.lrange("l", 0, -1) == [b"a"]


@pytest.mark.parametrize("args", [["GET", "l"], ["APPEND", "l", "x"], ["INCR", "l"], ["STRLEN", "l"]])
def test_string_commands_on_a_list_are_wrongtype(r, args):
    r.rpush("l", "a")
    with pytest.raises(redis.ResponseError, match=f"^{WRONGTYPE}$"):
        r.execute_command(*args)


def test_type_and_object_encoding(r):
    r.rpush("small", "a")
    r.rpush("big", *range(1000))
    assert r.type("small") == b"list"
    assert r.object("encoding", "small") == b"quicklist"
    assert r.object("encoding", "big") == b"quicklist"


def test_copy_is_a_deep_copy(r):
    r.rpush("l", "a", "b")
    assert r.copy("l", "c") is True
    r.rpush("c", "z")
    r.lpop("l")
    assert r.lrange("l", 0, -1) == [b"b"]
    assert r.lrange("c", 0, -1) == [b"a", b"b", b"z"]
    assert r.type("c") == b"list"


def test_set_replaces_a_list(r):
    r.rpush("l", "a")
    r.set("l", "v")
    assert r.get("l") == b"v"


def test_push_onto_an_expired_list_starts_a_new_one_without_ttl(r):
    r.rpush("l", "a")
    r.pexpire("l", 1)
    time.sleep(0.02)
    assert r.rpush("l", "b") == 1
    assert r.ttl("l") == -1


def test_push_keeps_the_ttl_of_an_existing_list(r):
    r.rpush("l", "a")
    r.expire("l", 100)
    r.rpush("l", "b")
    assert 0 < r.ttl("l") <= 100


def test_binary_elements_round_trip(r):
    elements = [b"", b"\x00\xff", b"\r\n", b"x" * 5000]
    r.rpush("l", *elements)
    assert r.lrange("l", 0, -1) == elements
    assert r.lpos("l", b"\x00\xff") == 1
