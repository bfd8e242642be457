"""COMMAND and its subcommands, compared with a real redis-server where Redis is the spec."""

from __future__ import annotations

import pytest
import redis


def raw_client(server) -> redis.Redis:
    """RESP2 client without redis-py's COMMAND reply parsing, so shapes compare as sent."""
    client = server.client(protocol=2)
    client.response_callbacks.pop("COMMAND", None)
    return client


@pytest.fixture
def mine(magpie):
    client = raw_client(magpie)
    yield client
    client.close()


@pytest.fixture
def ref(reference_redis):
    client = raw_client(reference_redis)
    yield client
    client.close()


def summary(entry):
    """The first seven COMMAND INFO fields, with set-like fields sorted."""
    name, arity, flags, first, last, step, categories = entry[:7]
    return name, arity, sorted(flags), first, last, step, sorted(categories)


@pytest.mark.parametrize(
    "name",
    ["get", "set", "mset", "mget", "del", "exists", "incr", "append", "ping", "echo", "quit",
     "select", "hello", "auth", "info", "time", "lastsave", "monitor", "shutdown",
     "config|get", "config|set", "client|list", "client|kill", "command|info", "command|getkeys",
     "client", "config", "object", "memory", "script", "function", "debug",
     "keys", "flushdb", "flushall", "swapdb", "scan", "randomkey", "expire", "ttl", "incrbyfloat",
     "blpop", "brpop", "blmove", "brpoplpush", "blmpop", "multi", "exec", "watch", "unwatch", "discard"],
)  # fmt: skip
def test_command_info_matches_redis(mine, ref, name):
    ours = mine.execute_command("COMMAND", "INFO", name)[0]
    theirs = ref.execute_command("COMMAND", "INFO", name)[0]
    assert len(ours) == len(theirs) == 10
    assert summary(ours) == summary(theirs)


@pytest.mark.parametrize("name", ["get", "mget", "setrange", "getrange"])
def test_command_info_key_specs_match_redis(mine, ref, name):
    assert mine.execute_command("COMMAND", "INFO", name)[0][8] == ref.execute_command("COMMAND", "INFO", name)[0][8]


def test_command_info_unknown_is_null(mine, ref):
    assert mine.execute_command("COMMAND", "INFO", "get", "nosuch") [1] is None
    assert ref.execute_command("COMMAND", "INFO", "get", "nosuch")[1] is None


def test_command_info_container_lists_subcommands(mine):
    entry = mine.execute_command("COMMAND", "INFO", "config")[0]
    subs = {sub[0] for sub in entry[9]}
    assert {b"config|get", b"config|set", b"config|rewrite", b"config|resetstat"} <= subs


def test_command_without_args_lists_every_top_level_command(mine):
    entries = mine.execute_command("COMMAND")
    names = {e[0] for e in entries}
    assert {b"get", b"set", b"config", b"client", b"command"} <= names
    assert not any(b"|" in n for n in names)
    assert len(entries) == mine.execute_command("COMMAND", "COUNT")


def test_command_in_resp3_uses_sets_and_maps(r3):
    r3.response_callbacks.pop("COMMAND", None)
    entry = r3.execute_command("COMMAND", "INFO", "get")[0]
    assert isinstance(entry[2], (set, list)) and b"readonly" in entry[2]
    key_spec = entry[8][0]
    assert isinstance(key_spec, dict) and key_spec[b"begin_search"][b"type"] == b"index"


def test_command_count_matches_list(mine):
    top = [n for n in mine.execute_command("COMMAND", "LIST") if b"|" not in n]
    assert mine.execute_command("COMMAND", "COUNT") == len(top)


def test_command_list_filterby_pattern(mine, ref):
    ours = set(mine.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "config*"))
    theirs = set(ref.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "config*"))
    assert ours == theirs
    assert set(mine.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "GET")) == {b"get"}


def test_command_list_filterby_aclcat(mine, ref):
    ours = set(mine.execute_command("COMMAND", "LIST", "FILTERBY", "ACLCAT", "string"))
    theirs = set(ref.execute_command("COMMAND", "LIST", "FILTERBY", "ACLCAT", "string"))
    assert {b"get", b"set", b"mset", b"incr"} <= ours
    assert ours <= theirs
    assert mine.execute_command("COMMAND", "LIST", "FILTERBY", "ACLCAT", "no-such-category") == []
    assert mine.execute_command("COMMAND", "LIST", "FILTERBY", "MODULE", "search") == []


@pytest.mark.parametrize(
    "args",
    [("LIST", "FILTERBY", "X", "y"), ("LIST", "foo"), ("GETKEYS",), ("GETKEYS", "get"), ("GETKEYS", "ping"),
     ("GETKEYS", "nosuch", "a"), ("GETKEYS", "get", "a", "b"), ("FOO",), ("COUNT", "x")],
)  # fmt: skip
def test_command_errors_match_redis(mine, ref, args):
    with pytest.raises(redis.ResponseError) as ours:
        mine.execute_command("COMMAND", *args)
    with pytest.raises(redis.ResponseError) as theirs:
        ref.execute_command("COMMAND", *args)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    "target",
    [("get", "k"), ("set", "k", "v", "EX", "10"), ("mset", "a", "1", "b", "2"), ("mget", "a", "b", "c"),
     ("del", "a", "b"), ("object", "encoding", "k"), ("getrange", "k", "0", "1")],
)  # fmt: skip
def test_command_getkeys_matches_redis(mine, ref, target):
    assert mine.execute_command("COMMAND", "GETKEYS", *target) == ref.execute_command("COMMAND", "GETKEYS", *target)


def test_command_docs_shape(mine, ref):
    ours = mine.execute_command("COMMAND", "DOCS", "get")
    theirs = ref.execute_command("COMMAND", "DOCS", "get")
    assert ours[0] == theirs[0] == b"get"
    doc, ref_doc = dict(zip(ours[1][::2], ours[1][1::2], strict=False)), dict(zip(theirs[1][::2], theirs[1][1::2], strict=False))
    assert doc[b"group"] == ref_doc[b"group"] == b"string"
    assert doc[b"since"] == ref_doc[b"since"]
    assert doc[b"summary"]


def test_command_docs_subcommands_and_unknown(mine):
    docs = mine.execute_command("COMMAND", "DOCS", "config", "nosuch")
    assert docs[0] == b"config" and len(docs) == 2
    doc = dict(zip(docs[1][::2], docs[1][1::2], strict=False))
    subs = dict(zip(doc[b"subcommands"][::2], doc[b"subcommands"][1::2], strict=False))
    assert b"config|get" in subs
    assert mine.execute_command("COMMAND", "DOCS", "client|kill")[0] == b"client|kill"


def test_command_docs_all_in_resp3_is_a_map(r3):
    r3.response_callbacks.pop("COMMAND", None)
    docs = r3.execute_command("COMMAND", "DOCS")
    assert isinstance(docs, dict) and b"get" in docs and b"summary" in docs[b"get"]


def test_redis_py_command_parsing_works(r):
    commands = r.command()
    assert commands["get"]["arity"] == 2
    assert "readonly" in [f.decode() if isinstance(f, bytes) else f for f in commands["get"]["flags"]]
