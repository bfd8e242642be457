"""Redis 7.0 functions (FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL, FCALL,
FCALL_RO), Magpie against a real redis-server 7.0.15: every reply and error text compared.

Covered: the library shebang and its errors, redis.register_function in both forms with
every argument check, the restricted environment a library's code runs in when loaded (and
the 500 ms load timeout), FCALL's arguments, replies and error suffixes, the flags (no-writes
and FCALL_RO, allow-oom under maxmemory), FUNCTION LIST's shape in RESP2 and RESP3 (byte for
byte on the wire), DUMP payloads accepted by the other server, RESTORE's policies, STATS and
KILL while a function is busy, and what FLUSHALL, MULTI and scripts do with functions.

Known divergence, compared loosely on purpose: Redis lists libraries (and a library's
functions) in its dictionaries' hash order, Magpie in load order; FUNCTION LIST replies are
compared with both sorted by name.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace

import pytest
import redis
from differential import DEFAULT_RULES, Differential, Error, outcome, raw_client
from resp_reader import StrictRespReader

REGISTER = "redis.register_function('f', function(keys, args) return 1 end)"

# -- the harness --------------------------------------------------------------------------------

_MAP_KEYS = {b"library_name", b"name", b"running_script"}


def _canonical(reply: object) -> object:
    """FUNCTION LIST/STATS as sorted maps: RESP2's flat pairs become dicts, libraries and
    their functions are ordered by name (Redis gives its dictionaries' hash order)."""
    if isinstance(reply, list):
        if len(reply) % 2 == 0 and reply and isinstance(reply[0], bytes) and reply[0] in _MAP_KEYS:
            return _canonical(dict(zip(reply[::2], reply[1::2], strict=True)))
        items = [_canonical(item) for item in reply]
        if items and all(isinstance(item, dict) for item in items):
            return sorted(items, key=lambda item: repr(item.get(b"library_name", item.get(b"name"))))
        return items
    if isinstance(reply, dict):
        return {key: _canonical(value) for key, value in reply.items()}
    return reply


def _same_function_reply(cmd: list[bytes], ours: object, ref: object) -> bool:
    if isinstance(ours, Error) or isinstance(ref, Error):
        return ours == ref
    if len(cmd) > 1 and cmd[1].upper() in (b"LIST", b"STATS"):
        return _canonical(ours) == _canonical(ref)
    return ours == ref


RULES = replace(DEFAULT_RULES, equivalent={**DEFAULT_RULES.equivalent, "FUNCTION": _same_function_reply})


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def diff(request, magpie, reference_redis):
    ours = raw_client(magpie.client, protocol=request.param)
    ref = raw_client(reference_redis.client, protocol=request.param)
    d = Differential(ours, ref, RULES)
    for client in (ours, ref):
        client.execute_command("FUNCTION", "FLUSH")
    d.reset()
    yield d
    for client in (ours, ref):
        client.execute_command("FUNCTION", "FLUSH")
        client.execute_command("CONFIG", "SET", "maxmemory", "0")
    ours.close()
    ref.close()


def load(code: str, *options: str) -> list[str]:
    return ["FUNCTION", "LOAD", *options, code]


# -- FUNCTION LOAD: the shebang -----------------------------------------------------------------

SHEBANG_CASES = {
    "no shebang": REGISTER,
    "no newline after it": "#!lua name=x",
    "bare": "#!\n" + REGISTER,
    "no name": "#!lua\n" + REGISTER,
    "unknown option": "#!lua name=a foo=b\n" + REGISTER,
    "name twice": "#!lua name=a name=b\n" + REGISTER,
    "NAME in capitals": "#!lua NAME=a\n" + REGISTER,
    "name with a dash": "#!lua name=a-b\n" + REGISTER,
    "empty name": "#!lua name=\n" + REGISTER,
    "unknown engine": "#!js name=a\n" + REGISTER,
    "empty engine": "#! name=a\n" + REGISTER,
    "engine in capitals": "#!LUA name=up\n" + REGISTER,
    "quoted name with a space": '#!lua "name=q q"\n' + REGISTER,
    "quote inside a word": '#!lua name="qq"\n' + REGISTER,
    "unbalanced quote": '#!lua name="qq\n' + REGISTER,
    "tab between words": "#!lua\tname=tab\n" + REGISTER,
    "CRLF line end": "#!lua name=crlf\r\n" + REGISTER,
    "NUL before the newline": "#!lua name=n\0ul\n" + REGISTER,
}


@pytest.mark.parametrize("code", SHEBANG_CASES.values(), ids=SHEBANG_CASES.keys())
def test_load_reads_the_shebang_as_redis_does(diff, code):
    diff.run([load(code), ["FUNCTION", "LIST", "WITHCODE"]])


def test_load_options_and_missing_code(diff):
    diff.run([
        load("#!lua name=rr\n" + REGISTER, "REPLACE", "replace"),
        load("#!lua name=rr\n" + REGISTER, "FOO"),
        ["FUNCTION", "LOAD", "REPLACE"],
        ["FUNCTION", "LOAD"],
        ["FUNCTION", "LIST"],
    ])  # fmt: skip


# -- FUNCTION LOAD: what the library's code does ------------------------------------------------

LIBRARY_CASES = {
    "syntax error": "#!lua name=s\nfoo(",
    "NUL in the code": "#!lua name=s\n" + REGISTER + "\0junk",
    "nothing registered": "#!lua name=s\nlocal a = 1",
    "function name with a dash": "#!lua name=s\nredis.register_function('a-b', function() end)",
    "empty function name": "#!lua name=s\nredis.register_function('', function() end)",
    "function twice": "#!lua name=s\nredis.register_function('g', function() end)\nredis.register_function('g', function() end)",
    "names differing in case": "#!lua name=s\nredis.register_function('g', function() end)\nredis.register_function('G', function() end)",
    "number as name": "#!lua name=s\nredis.register_function(123, function() end)",
    "callback not a function": "#!lua name=s\nredis.register_function('g', 1)",
    "no arguments": "#!lua name=s\nredis.register_function()",
    "three arguments": "#!lua name=s\nredis.register_function('a', function() end, 3)",
    "one argument, not a table": "#!lua name=s\nredis.register_function('a')",
    "named arguments": "#!lua name=t\nredis.register_function{function_name='tf', callback=function() return 2 end, flags={'no-writes', 'ALLOW-OOM'}, description='hi'}",
    "every flag": "#!lua name=t\nredis.register_function{function_name='tf', callback=function() end, flags={'allow-cross-slot-keys', 'no-cluster', 'allow-stale', 'allow-oom', 'no-writes'}}",
    "empty flags": "#!lua name=t\nredis.register_function{function_name='tf', callback=function() end, flags={}}",
    "keys in capitals": "#!lua name=t\nredis.register_function{FUNCTION_NAME='tu', CallBack=function() end, Description='d'}",
    "no function_name": "#!lua name=s\nredis.register_function{callback=function() end}",
    "no callback": "#!lua name=s\nredis.register_function{function_name='x'}",
    "unknown key": "#!lua name=s\nredis.register_function{function_name='x', callback=function() end, foo=1}",
    "array item": "#!lua name=s\nredis.register_function{function_name='x', callback=function() end, 5}",
    "table key": "#!lua name=s\nredis.register_function{[{}]=1}",
    "unknown flag": "#!lua name=s\nredis.register_function{function_name='x', callback=function() end, flags={'bad'}}",
    "flags not a table": "#!lua name=s\nredis.register_function{function_name='x', callback=function() end, flags='no-writes'}",
    "number flag": "#!lua name=s\nredis.register_function{function_name='x', callback=function() end, flags={1}}",
    "table flag": "#!lua name=s\nredis.register_function{function_name='x', callback=function() end, flags={{}}}",
    "number description": "#!lua name=s\nredis.register_function{function_name='x', callback=function() end, description=5}",
    "table description": "#!lua name=s\nredis.register_function{function_name='x', callback=function() end, description={}}",
    "callback a number": "#!lua name=s\nredis.register_function{function_name='x', callback=5}",
    "number function_name": "#!lua name=s\nredis.register_function{function_name=5, callback=function() end}",
    "table function_name": "#!lua name=s\nredis.register_function{function_name={}, callback=function() end}",
    "two libraries' worth": "#!lua name=s\n" + "".join(f"redis.register_function('f{i}', function() return {i} end)\n" for i in range(20)),
}


@pytest.mark.parametrize("code", LIBRARY_CASES.values(), ids=LIBRARY_CASES.keys())
def test_register_function_checks_as_redis_does(diff, code):
    diff.run([load(code), ["FUNCTION", "LIST", "WITHCODE"], ["FUNCTION", "STATS"]])


LOAD_ENVIRONMENT = {
    "redis.call": "redis.call('set','a','b')",
    "redis.pcall": "redis.pcall('get','a')",
    "redis.setresp": "redis.setresp(3)",
    "redis.sha1hex": "redis.sha1hex('x')",
    "string library": "local x = string.len('a')",
    "math library": "local x = math.random()",
    "pcall": "pcall(function() end)",
    "error": "error('boom')",
    "type": "local t = type(1)",
    "KEYS": "local k = KEYS",
    "_G": "local g = _G",
    "writing a global": "x = 1",
    "writing into redis": "redis.x = 1",
    "reading an unknown redis field": "local y = redis.nothing",
    "runtime error": "local t = nil; local y = t.x",
    "redis.log": "redis.log(redis.LOG_WARNING, 'loading')",
    "the version": "assert_version = redis.REDIS_VERSION_NUM > 0 and redis.REDIS_VERSION",
    "log levels": "local l = redis.LOG_DEBUG + redis.LOG_VERBOSE + redis.LOG_NOTICE",
    "REPL flags": "local r = redis.REPL_ALL",
}


@pytest.mark.parametrize("line", LOAD_ENVIRONMENT.values(), ids=LOAD_ENVIRONMENT.keys())
def test_a_library_loads_with_only_the_library_api(diff, line):
    """Redis 7.0 runs a library's code with a globals table holding only ``redis``, and
    that ``redis`` has register_function, log, the versions and the log levels."""
    diff.run([load(f"#!lua name=env\n{line}\n{REGISTER}"), ["FUNCTION", "LIST"]])


def test_a_function_sees_the_full_api_when_called(diff):
    code = "\n".join([
        "#!lua name=api",
        "redis.register_function('kinds', function(keys, args)",
        "  return {type(string), type(math), type(redis.error_reply), type(redis.status_reply), type(cjson),",
        "          type(redis.register_function), type(redis.replicate_commands), type(redis.breakpoint),",
        "          type(rawget(_G, '__redis__err__handler')), type(_G), type(pcall)}",
        "end)",
    ])  # fmt: skip
    diff.run([load(code), ["FCALL", "kinds", 0]])


def test_a_load_that_runs_too_long_is_stopped_after_500_ms(diff):
    started = time.monotonic()
    diff.run([
        load("#!lua name=slow\nwhile true do end\n" + REGISTER),
        load("#!lua name=slow\nlocal i = 0 while true do i = i + 1 end"),
        load("#!lua name=fine\n" + REGISTER),
        ["FCALL", "f", 0],
    ])  # fmt: skip
    assert time.monotonic() - started >= 2.0  # both servers waited their 500 ms, twice


def test_replace_and_collisions(diff):
    diff.run([
        load("#!lua name=one\nredis.register_function('f', function() return 'one' end)"),
        load("#!lua name=one\nredis.register_function('g', function() end)"),
        load("#!lua name=two\nredis.register_function('F', function() end)"),
        load("#!lua name=two\nredis.register_function('other', function() end)\nredis.register_function('f', function() end)"),
        load("#!lua name=one\nsyntax(", "REPLACE"),
        ["FCALL", "f", 0],
        load("#!lua name=two\nredis.register_function('two', function() return 'two' end)"),
        load("#!lua name=one\nredis.register_function('two', function() end)", "REPLACE"),
        ["FCALL", "F", 0],
        load("#!lua name=one\nredis.register_function('f', function() return 'new' end)", "REPLACE"),
        ["FCALL", "f", 0],
        ["FUNCTION", "LIST"],
        ["FUNCTION", "STATS"],
    ])  # fmt: skip


# -- FCALL ---------------------------------------------------------------------------------------

LIB = r"""#!lua name=mylib
local function helper(x) return x end
redis.register_function('echo', function(keys, args) return {keys, args} end)
redis.register_function('unknown', function(keys, args) return redis.call('nosuch') end)
redis.register_function('raise', function(keys, args) error('boom') end)
redis.register_function('reply', function(keys, args) return redis.error_reply('MY bad') end)
redis.register_function('index', function(keys, args) local x = nil; return x.y end)
redis.register_function('globals', function(keys, args) return KEYS end)
redis.register_function('assign', function(keys, args) foo = 1 end)
redis.register_function('nested', function(keys, args) redis.register_function('zz', function() end) end)
redis.register_function('set', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function{function_name='get', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}}
redis.register_function{function_name='sneaky', callback=function(keys, args) return redis.call('set', keys[1], 'x') end, flags={'no-writes'}}
redis.register_function('nest', function(keys, args) return {1, 2, {3, 'x'}, redis.status_reply('FINE')} end)
redis.register_function('resp3', function(keys, args) redis.setresp(3); return redis.call('hgetall', keys[1]) end)
redis.register_function('caught', function(keys, args) return {pcall(function() error('x') end)} end)
redis.register_function('status', function(keys, args) return redis.status_reply('FINE') end)
redis.register_function('inner_eval', function(keys, args) return redis.call('eval', 'return 1', 0) end)
redis.register_function('inner_load', function(keys, args) return redis.call('function', 'list') end)
redis.register_function('badarg', function(keys, args) return redis.call('set', {}, 1) end)
redis.register_function('float', function(keys, args) return 3.99 end)
redis.register_function('bool', function(keys, args) return {true, false} end)
redis.register_function('random', function(keys, args) return {math.random(1000), math.random(1000)} end)
"""


def test_fcall_arguments_replies_and_errors(diff):
    diff.run([
        load(LIB),
        ["FCALL", "echo", 2, "a", "b", "c", "d"],
        ["FCALL", "ECHO", 0],
        ["FCALL", "echo", -1],
        ["FCALL", "echo", "x"],
        ["FCALL", "echo", "1x", "a"],
        ["FCALL", "echo", 3, "a"],
        ["FCALL", "nope", 0],
        ["FCALL", "nope", "x"],
        ["FCALL", "echo"],
        ["FCALL_RO", "echo"],
        ["FCALL", "unknown", 0],
        ["FCALL", "raise", 0],
        ["FCALL", "reply", 0],
        ["FCALL", "index", 0],
        ["FCALL", "globals", 0],
        ["FCALL", "assign", 0],
        ["FCALL", "nested", 0],
        ["FCALL", "set", 1, "k", "v"],
        ["GET", "k"],
        ["FCALL", "nest", 0],
        ["HSET", "h", "a", "1"],
        ["FCALL", "resp3", 1, "h"],
        ["FCALL", "caught", 0],
        ["FCALL", "status", 0],
        ["FCALL", "inner_eval", 0],
        ["FCALL", "inner_load", 0],
        ["FCALL", "badarg", 0],
        ["FCALL", "float", 0],
        ["FCALL", "bool", 0],
        ["EVAL", "math.randomseed(7)", 0],
        ["FCALL", "random", 0],
        ["EVAL", "return math.random(1000)", 0],
        ["FCALL", "random", 0],
        ["EVAL", "return redis.call('fcall', 'echo', 0)", 0],
        ["EVAL", "return redis.call('function', 'load', 'x')", 0],
        ["COMMAND", "GETKEYS", "FCALL", "echo", 2, "a", "b", "c"],
        ["COMMAND", "GETKEYS", "FCALL_RO", "echo", 0, "a"],
    ])  # fmt: skip
    diff.compare_keyspace([0])


def test_fcall_ro_and_the_no_writes_flag(diff):
    diff.run([
        load(LIB),
        ["FCALL_RO", "set", 1, "k", "v"],
        ["FCALL_RO", "get", 1, "k"],
        ["FCALL_RO", "sneaky", 1, "k"],
        ["FCALL", "sneaky", 1, "k"],
        ["FCALL", "get", 1, "k"],
        ["FCALL_RO", "nope", 0],
    ])  # fmt: skip


def test_allow_oom_under_maxmemory(diff):
    code = "\n".join([
        "#!lua name=oom",
        "redis.register_function('plain', function(keys) return redis.call('set', keys[1], 'v') end)",
        "redis.register_function{function_name='allowed', callback=function(keys) return redis.call('set', keys[1], 'v') end, flags={'allow-oom'}}",
        "redis.register_function{function_name='reader', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}",
        "redis.register_function{function_name='deleter', callback=function(keys) return redis.call('del', keys[1]) end, flags={'allow-oom'}}",
    ])  # fmt: skip
    diff.run([
        load(code),
        ["SET", "present", "1"],
        ["CONFIG", "SET", "maxmemory", "1"],
        ["FCALL", "plain", 1, "a"],
        ["FCALL", "allowed", 1, "b"],
        ["FCALL", "reader", 1, "b"],
        ["FCALL_RO", "reader", 1, "present"],
        ["FCALL", "deleter", 1, "present"],
        load("#!lua name=more\n" + REGISTER),
        ["CONFIG", "SET", "maxmemory", "0"],
    ])  # fmt: skip


def test_fcall_in_multi_and_function_commands_in_transactions(diff):
    diff.run([
        load(LIB),
        ["MULTI"],
        ["FCALL", "set", 1, "k", "v1"],
        ["FUNCTION", "LOAD", "#!lua name=tx\n" + REGISTER],
        ["FCALL", "f", 0],
        ["EXEC"],
        ["FUNCTION", "LIST", "LIBRARYNAME", "tx"],
    ])  # fmt: skip
    diff.compare_keyspace([0])


def test_flushall_and_flushdb_keep_the_libraries(diff):
    diff.run([
        load(LIB),
        ["SET", "k", "v"],
        ["FLUSHALL"],
        ["FLUSHDB"],
        ["FCALL", "echo", 0],
        ["FUNCTION", "STATS"],
    ])  # fmt: skip


# -- FUNCTION LIST, DELETE, FLUSH, STATS, HELP -------------------------------------------------------

SMALL = [
    "#!lua name=alpha\nredis.register_function{function_name='a1', callback=function() end, flags={'no-writes', 'allow-stale'}, description='first'}\nredis.register_function('a2', function() end)",
    "#!lua name=Beta\nredis.register_function{function_name='b1', callback=function() end, flags={'allow-oom'}}",
    "#!lua name=gamma_2\nredis.register_function('g1', function() end)",
]


def test_function_list_and_its_options(diff):
    diff.run([
        *[load(code) for code in SMALL],
        ["FUNCTION", "LIST"],
        ["FUNCTION", "LIST", "WITHCODE"],
        ["FUNCTION", "LIST", "withcode", "libraryname", "a*"],
        ["FUNCTION", "LIST", "LIBRARYNAME", "beta"],
        ["FUNCTION", "LIST", "LIBRARYNAME", "*a"],
        ["FUNCTION", "LIST", "LIBRARYNAME", "[ag]*"],
        ["FUNCTION", "LIST", "LIBRARYNAME", "nomatch"],
        ["FUNCTION", "LIST", "LIBRARYNAME"],
        ["FUNCTION", "LIST", "LIBRARYNAME", "my*", "WITHCODE", "x"],
        ["FUNCTION", "LIST", "WITHCODE", "WITHCODE"],
        ["FUNCTION", "LIST", "LIBRARYNAME", "x", "LIBRARYNAME", "y"],
        ["FUNCTION", "LIST", "bogus"],
        ["FUNCTION", "STATS"],
        ["FUNCTION", "STATS", "x"],
    ])  # fmt: skip


def test_delete_flush_and_their_errors(diff):
    diff.run([
        *[load(code) for code in SMALL],
        ["FUNCTION", "DELETE", "nope"],
        ["FUNCTION", "DELETE", "ALPHA"],
        ["FUNCTION", "DELETE"],
        ["FUNCTION", "DELETE", "alpha"],
        ["FCALL", "a1", 0],
        ["FCALL", "b1", 0],
        ["FUNCTION", "STATS"],
        ["FUNCTION", "FLUSH", "x"],
        ["FUNCTION", "FLUSH", "a", "b"],
        ["FUNCTION", "FLUSH", "async"],
        ["FUNCTION", "LIST"],
        *[load(code) for code in SMALL],
        ["FUNCTION", "FLUSH", "SYNC"],
        ["FUNCTION", "STATS"],
        ["FUNCTION", "FLUSH"],
        ["FUNCTION", "KILL"],
        ["FUNCTION", "KILL", "x"],
        ["FUNCTION", "HELP"],
        ["FUNCTION", "HELP", "x"],
        ["FUNCTION", "NOPE"],
        ["FUNCTION"],
    ])  # fmt: skip


def test_info_counts_functions_and_libraries(diff):
    diff.run([load(code) for code in SMALL])
    for client in (diff.ours, diff.ref):
        info = client.execute_command("INFO", "memory").decode()
        fields = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
        assert (fields["number_of_functions"], fields["number_of_libraries"]) == ("4", "3")
        assert int(fields["used_memory_vm_functions"]) > 0
        assert int(fields["used_memory_vm_total"]) == int(fields["used_memory_vm_eval"]) + int(fields["used_memory_vm_functions"])
        assert int(fields["used_memory_functions"]) > 0


# -- DUMP and RESTORE ---------------------------------------------------------------------------


def test_dump_payloads_are_byte_for_byte_redis_ones(diff):
    """One library (Redis writes several in its hash order), short and long enough to
    be LZF-compressed."""
    for code in ("#!lua name=short\n" + REGISTER, SMALL[0] + " " * 200):
        diff.run([["FUNCTION", "FLUSH"], load(code), ["FUNCTION", "DUMP"]])
    diff.run([["FUNCTION", "FLUSH"], ["FUNCTION", "DUMP"]])


def test_restore_policies_with_each_servers_payload(diff):
    """Each server's payload restored into both; collisions are set up so that only one
    library (or function) collides, since which one is named first follows hash order."""
    for source in (diff.ours, diff.ref):
        source.execute_command("FUNCTION", "FLUSH")
        for code in SMALL:
            source.execute_command("FUNCTION", "LOAD", code)
        payload = source.execute_command("FUNCTION", "DUMP")
        other = "#!lua name=other\nredis.register_function('o1', function() return 'o' end)"
        clash = "#!lua name=clash\nredis.register_function('a1', function() end)"
        diff.run([
            ["FUNCTION", "FLUSH"],
            ["FUNCTION", "RESTORE", payload],
            ["FUNCTION", "LIST", "WITHCODE"],
            ["FCALL", "a1", 0],
            ["FUNCTION", "DELETE", "Beta"],
            ["FUNCTION", "DELETE", "gamma_2"],
            ["FUNCTION", "RESTORE", payload],
            ["FUNCTION", "RESTORE", payload, "APPEND"],
            ["FUNCTION", "RESTORE", payload, "replace"],
            ["FUNCTION", "LIST", "WITHCODE"],
            ["FUNCTION", "FLUSH"],
            load(other),
            ["FUNCTION", "RESTORE", payload],
            ["FUNCTION", "LIST", "WITHCODE"],
            ["FUNCTION", "RESTORE", payload, "FLUSH"],
            ["FCALL", "o1", 0],
            ["FUNCTION", "STATS"],
            ["FUNCTION", "FLUSH"],
            load(clash),
            ["FUNCTION", "RESTORE", payload, "REPLACE"],
            ["FUNCTION", "LIST"],
            ["FUNCTION", "RESTORE", payload, "bad"],
            ["FUNCTION", "RESTORE", payload, "FLUSH", "x"],
            ["FUNCTION", "RESTORE", payload[:-1] + bytes([payload[-1] ^ 1])],
            ["FUNCTION", "RESTORE", b"abc"],
            ["FUNCTION", "RESTORE"],
        ])  # fmt: skip


def test_restore_refuses_payloads_that_hold_no_functions(diff):
    """A key's DUMP passes the checksum but is not a function; a function record whose
    code is no library fails as loading it would."""
    from magpie.persistence.rdb_format import OP_FUNCTION2, RDB_VERSION, crc64, encode_string

    def payload(body: bytes) -> bytes:
        body += RDB_VERSION.to_bytes(2, "little")
        return body + crc64(body).to_bytes(8, "little")

    diff.ours.execute_command("SET", "k", "v")
    diff.ref.execute_command("SET", "k", "v")
    key_dump = diff.ref.execute_command("DUMP", "k")
    bad_library = payload(bytes((OP_FUNCTION2,)) + encode_string(b"#!lua name=x\nnot lua"))
    duplicate = payload((bytes((OP_FUNCTION2,)) + encode_string(("#!lua name=d\n" + REGISTER).encode())) * 2)
    cut_short = payload(bytes((OP_FUNCTION2,)) + encode_string(b"x" * 30)[:10])
    diff.run([
        ["FUNCTION", "RESTORE", key_dump],
        ["FUNCTION", "RESTORE", bad_library],
        ["FUNCTION", "RESTORE", duplicate],
        ["FUNCTION", "RESTORE", cut_short],
        ["FUNCTION", "LIST"],
    ])  # fmt: skip


# -- the exact bytes of a few replies --------------------------------------------------------------


def _wire(port: int, commands: list[list[bytes | str]], resp3: bool) -> list[bytes]:
    """Each reply's exact bytes (after a HELLO 3 when ``resp3``)."""
    reader = StrictRespReader(resp3=resp3)
    sent = ([["HELLO", "3"]] if resp3 else []) + commands
    payload = b""
    for cmd in sent:
        parts = [p if isinstance(p, bytes) else str(p).encode() for p in cmd]
        payload += b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    replies: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        while len(replies) < len(sent):
            chunk = sock.recv(65536)
            assert chunk, "connection closed"
            replies += reader.feed(chunk)
    return replies[1:] if resp3 else replies


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_reply_bytes_match_redis(magpie, reference_redis, resp3):
    """Status-typed flags in a set, null descriptions, maps: what redis-py would blur."""
    code = "#!lua name=wire\nredis.register_function{function_name='w', callback=function() end, flags={'no-writes', 'allow-oom'}}"
    commands = [
        ["FUNCTION", "FLUSH"],
        ["FUNCTION", "LOAD", code],
        ["FUNCTION", "LIST", "WITHCODE"],
        ["FUNCTION", "STATS"],
        ["FUNCTION", "LOAD", "#!lua name=e\nredis.register_function()"],
        ["FUNCTION", "LOAD", "#!lua name=e\nfoo("],
        ["FCALL", "w", 0],
        ["FCALL", "missing", 0],
        ["FUNCTION", "FLUSH"],
    ]
    assert _wire(magpie.port, commands, resp3) == _wire(reference_redis.port, commands, resp3)


# -- a busy function --------------------------------------------------------------------------------

BUSY = "\n".join([
    "#!lua name=busy",
    "redis.register_function{function_name='spin', callback=function(keys, args)",
    "  local i = 0",
    "  while true do i = i + 1 end",
    "end, flags={'no-writes'}}",
])  # fmt: skip


def _busy_transcript(server) -> list[object]:
    """What a second client sees while a function is busy, then what the caller gets."""
    control = raw_client(server.client, protocol=3)
    control.execute_command("FUNCTION", "FLUSH")
    control.execute_command("FUNCTION", "LOAD", BUSY)
    control.execute_command("CONFIG", "SET", "busy-reply-threshold", "100")
    seen: list[object] = []
    result: dict[str, object] = {}

    def call() -> None:
        caller = raw_client(server.client, protocol=2)
        result["reply"] = outcome(caller, [b"FCALL", b"spin", b"1", b"key1", b"arg1"])
        caller.close()

    thread = threading.Thread(target=call)
    try:
        thread.start()
        deadline = time.monotonic() + 10
        while not isinstance(outcome(control, [b"GET", b"x"]), Error):
            assert time.monotonic() < deadline, "the function never became busy"
            time.sleep(0.02)
        seen.append(outcome(control, [b"GET", b"x"]))
        stats = outcome(control, [b"FUNCTION", b"STATS"])
        assert isinstance(stats, dict) and stats[b"running_script"][b"duration_ms"] >= 100
        stats[b"running_script"][b"duration_ms"] = "some"
        seen.append(stats)
        seen.append(outcome(control, [b"SCRIPT", b"KILL"]))
        seen.append(outcome(control, [b"FUNCTION", b"KILL"]))
        thread.join(10)
        seen.append(result.get("reply"))
        seen.append(outcome(control, [b"FUNCTION", b"KILL"]))
        seen.append(outcome(control, [b"FUNCTION", b"STATS"]))
    finally:
        thread.join(10)
        control.execute_command("CONFIG", "SET", "busy-reply-threshold", "5000")
        control.execute_command("FUNCTION", "FLUSH")
        control.close()
    return seen


def test_stats_and_kill_while_a_function_is_busy(magpie, reference_redis):
    ours, ref = _busy_transcript(magpie), _busy_transcript(reference_redis)
    assert ours == ref
    assert ref[-3] == Error("ResponseError", "Script killed by user with SCRIPT KILL... script: spin, on @user_function:4.")


def test_function_stats_is_refused_while_an_eval_is_busy(magpie):
    """Redis answers FUNCTION STATS with SCRIPT KILL's BUSY text during a busy EVAL."""
    control = magpie.client(protocol=2)
    control.config_set("busy-reply-threshold", 100)
    done: dict[str, object] = {}
    thread = threading.Thread(target=lambda: done.setdefault("r", outcome(magpie.client(), [b"EVAL", b"while true do end", b"0"])))
    try:
        thread.start()
        deadline = time.monotonic() + 10
        while True:
            try:
                control.get("x")
            except redis.ResponseError as exc:
                assert str(exc).startswith("BUSY")
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with pytest.raises(redis.ResponseError, match="You can only call SCRIPT KILL or SHUTDOWN NOSAVE"):
            control.execute_command("FUNCTION", "STATS")
        with pytest.raises(redis.ResponseError, match="You can only call SCRIPT KILL or SHUTDOWN NOSAVE"):
            control.execute_command("FUNCTION", "KILL")
        assert control.execute_command("SCRIPT", "KILL")
        thread.join(10)
    finally:
        thread.join(10)
        control.config_set("busy-reply-threshold", 5000)
