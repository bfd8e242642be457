"""ACLs end to end against Magpie: redis-py's ACL API, permissions per command family,
disconnections, ACL LOAD/SAVE, users at start, and passwords kept out of sight.

The module runs its own servers (ACL state is global); each test leaves only the default
user, as a fresh server has it. Exact texts were checked against redis-server 7.0.15
(``test_acl_differential.py`` compares most of them live).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import redis
from conftest import RawConnection
from redis.backoff import NoBackoff
from redis.retry import Retry
from servers import free_port, start_magpie

PASSWORD = "Clear-Text-Pw-7f3a"  # must never show up anywhere but in what clients send
NO_RETRY = Retry(NoBackoff(), 0)  # a refused AUTH fails at once, without redis-py's retries


@pytest.fixture(scope="module")
def server():
    proc = start_magpie()
    yield proc
    proc.stop()


def _reset(client: redis.Redis) -> None:
    for name in client.acl_users():
        if name not in ("default", b"default"):
            client.acl_deluser(name)
    client.execute_command("ACL", "SETUSER", "default", "on", "nopass", "allkeys", "allchannels",
                           "allcommands", "clearselectors")  # fmt: skip
    client.acl_log_reset()
    client.flushall()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def admin(request, server) -> redis.Redis:
    """The default user, over RESP2 and RESP3, on a server with no other users."""
    client = server.client(protocol=request.param, decode_responses=True)
    _reset(client)
    yield client
    _reset(client)
    client.close()


def login(server, user: str, password: str = PASSWORD, protocol: int = 2, **kwargs) -> redis.Redis:
    """A redis-py client authenticated as ``user`` (AUTH, or HELLO 3 AUTH over RESP3),
    without CLIENT SETINFO so restricted users leave the ACL log alone."""
    kwargs.setdefault("decode_responses", True)
    client = server.client(username=user, password=password, protocol=protocol, driver_info=None,
                           single_connection_client=True, **kwargs)  # fmt: skip
    client.connection.connect()  # authenticates now: a wrong password fails here
    return client


def raw_login(port: int, user: str, password: str = PASSWORD) -> RawConnection:
    conn = RawConnection(port)
    conn.send(command("AUTH", user, password))
    assert conn.read_until(b"\r\n") == b"+OK\r\n"
    return conn


def command(*args: str | bytes) -> bytes:
    parts = [a if isinstance(a, bytes) else a.encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def is_closed(conn: RawConnection) -> bool:
    """True when the server has closed the connection (within the socket's 5 s timeout)."""
    try:
        return conn.read_all() == b""
    except TimeoutError:
        return False


def still_served(conn: RawConnection) -> bool:
    """PING answers (``+PONG``, or ``pong`` in an array for a RESP2 subscriber)."""
    conn.send(command("PING"))
    reply = conn.read_until(b"pong\r\n$0\r\n\r\n") if conn.read_until(b"\r\n") == b"*2\r\n" else b"+PONG"
    return reply.startswith((b"+PONG", b"$4"))


def nopermission(call, *args):
    with pytest.raises(redis.exceptions.NoPermissionError) as info:
        call(*args)
    return str(info.value)


KEY_REFUSED = "this user has no permissions to access one of the keys used as arguments"
CHANNEL_REFUSED = "this user has no permissions to access one of the channels used as arguments"


def command_refused(name: str) -> str:
    return f"this user has no permissions to run the '{name}' command"


# -- redis-py's ACL API ------------------------------------------------------------------------


def test_acl_setuser_keyword_arguments_show_in_acl_getuser(admin):
    digest = hashlib.sha256(b"hashed-one").hexdigest()
    assert admin.acl_setuser(
        "alice",
        enabled=True,
        passwords=[f"+{PASSWORD}", "+second"],
        hashed_passwords=[f"+{digest}"],
        categories=["+@string", "-@write"],
        commands=["+get", "-config|set", "+select|0"],
        keys=["app:*", "%R~ro:*"],
        channels=["news.*"],
        selectors=[("+set", "~sel:*")],
    )
    user = admin.acl_getuser("alice")
    assert user["enabled"] is True and user["flags"] == ["on"]
    assert user["passwords"] == [hashlib.sha256(p.encode()).hexdigest() for p in (PASSWORD, "second")] + [digest]
    assert user["categories"] == ["-@all"]  # +@string -@write leaves the read commands
    assert "+get" in user["commands"] and "+strlen" in user["commands"] and "+set" not in user["commands"]
    assert "+select|0" in user["commands"]
    assert user["keys"] == ["~app:*", "%R~ro:*"]
    assert user["channels"] == ["&news.*"]
    selector = user["selectors"][0]
    fields = selector if isinstance(selector, dict) else dict(zip(selector[::2], selector[1::2], strict=True))
    assert fields == {"commands": "-@all +set", "keys": "~sel:*", "channels": ""}


def test_acl_setuser_reset_options_and_password_removal(admin):
    admin.acl_setuser("bob", enabled=True, passwords=["+a", "+b"], keys=["x"], channels=["c"], commands=["+get"])
    admin.acl_setuser("bob", enabled=True, passwords=["-a"], reset_keys=True, reset_channels=True, keys=["y"])
    user = admin.acl_getuser("bob")
    assert user["passwords"] == [hashlib.sha256(b"b").hexdigest()]
    assert user["keys"] == ["~y"] and user["channels"] == []
    admin.acl_setuser("bob", reset_passwords=True, nopass=True, enabled=True)
    assert "nopass" in admin.acl_getuser("bob")["flags"]
    admin.acl_setuser("bob", reset=True)
    user = admin.acl_getuser("bob")
    assert user["flags"] == ["off", "sanitize-payload"] and user["keys"] == [] and user["commands"] == []
    with pytest.raises(redis.ResponseError, match="The password you are trying to remove from the user does not exist"):
        admin.acl_setuser("bob", passwords=["-never-set"])


def test_acl_getuser_of_a_missing_user_is_none(admin):
    assert admin.acl_getuser("nobody") is None


def test_acl_list_users_whoami_and_deluser(server, admin):
    admin.acl_setuser("zed", enabled=True, nopass=True)
    admin.acl_setuser("amy", enabled=False)
    assert admin.acl_users() == ["amy", "default", "zed"]
    assert admin.acl_list() == [
        "user amy off resetchannels -@all",
        "user default on nopass ~* &* +@all",
        "user zed on nopass resetchannels -@all",
    ]
    assert admin.acl_whoami() == "default"
    assert admin.acl_deluser("amy", "zed", "nobody") == 2
    assert admin.acl_users() == ["default"]
    with pytest.raises(redis.ResponseError, match="The 'default' user cannot be removed"):
        admin.acl_deluser("default")


def test_acl_cat_lists_categories_and_their_commands(admin):
    categories = admin.acl_cat()
    assert categories[:3] == ["keyspace", "read", "write"] and len(categories) == 21
    hashes = admin.acl_cat("hash")
    assert {"hset", "hget", "hgetall"} <= set(hashes) and "get" not in hashes
    assert "config|set" in admin.acl_cat("dangerous") and "config|get" in admin.acl_cat("admin")
    with pytest.raises(redis.ResponseError, match="Unknown category 'nosuch'"):
        admin.acl_cat("nosuch")


def test_acl_genpass_returns_hex_of_the_asked_size(admin):
    default = admin.acl_genpass()
    assert len(default) == 64 and int(default, 16) >= 0
    assert len(admin.acl_genpass(128)) == 32
    assert len(admin.acl_genpass(5)) == 2
    assert admin.acl_genpass() != default
    with pytest.raises(redis.ResponseError, match="a positive number up to 4096"):
        admin.acl_genpass(0)


def test_acl_dryrun_answers_ok_or_the_reason(admin):
    admin.acl_setuser("alice", enabled=True, keys=["app:*"], commands=["+get"], channels=["news"])
    assert admin.acl_dryrun("alice", "GET", "app:1") == "OK"
    assert admin.acl_dryrun("alice", "GET", "other") == "This user has no permissions to access the 'other' key"
    assert admin.acl_dryrun("alice", "SET", "app:1", "v") == "This user has no permissions to run the 'set' command"
    with pytest.raises(redis.ResponseError, match="User 'nobody' not found"):
        admin.acl_dryrun("nobody", "GET", "x")


def test_acl_log_records_refusals_and_resets(server, admin):
    admin.acl_setuser("alice", enabled=True, passwords=[f"+{PASSWORD}"], keys=["app:*"], commands=["+get", "+acl|whoami"])
    alice = login(server, "alice", protocol=admin.connection_pool.connection_kwargs.get("protocol", 2))
    assert nopermission(alice.get, "other") == KEY_REFUSED
    nopermission(alice.get, "other")
    assert nopermission(alice.set, "app:1", "v") == command_refused("set")
    wrong = RawConnection(server.port)
    wrong.send(command("AUTH", "alice", "wrong"))
    assert wrong.read_until(b"\r\n") == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    wrong.close()
    entries = admin.acl_log()
    assert [(e["reason"], e["object"], e["username"], e["count"], e["context"]) for e in entries] == [
        ("auth", "AUTH", "alice", 1, "toplevel"),
        ("command", "set", "alice", 1, "toplevel"),
        ("key", "other", "alice", 2, "toplevel"),
    ]
    for entry in entries:
        assert 0 <= entry["age-seconds"] < 60
        info = entry["client-info"]
        assert "user=" in info if isinstance(info, str) else "user" in info
    assert len(admin.acl_log(count=1)) == 1
    assert admin.acl_log_reset()
    assert admin.acl_log() == []
    alice.close()


def test_auth_switches_user_and_wrong_password_fails(server, admin):
    admin.acl_setuser("alice", enabled=True, passwords=[f"+{PASSWORD}"], commands=["+@all"], keys=["*"])
    client = server.client(single_connection_client=True, decode_responses=True, retry=NO_RETRY)
    assert client.auth(PASSWORD, "alice") is True
    assert client.acl_whoami() == "alice"
    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair or user is disabled"):
        client.auth("wrong", "alice")
    client.close()
    conn = raw_login(server.port, "alice")
    conn.send(command("AUTH", "alice", "wrong") + command("ACL", "WHOAMI"))
    assert conn.read_until(b"alice\r\n").endswith(b"$5\r\nalice\r\n")  # a failed AUTH keeps the user
    admin.acl_setuser("alice", enabled=False)
    conn.send(command("AUTH", "alice", PASSWORD) + command("GET", "x"))
    assert conn.read_until(b"$-1\r\n") == (  # disabled: no new logins, its connections keep working
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n$-1\r\n"
    )
    conn.close()


def test_hello_3_auth_logs_in(server, admin):
    admin.acl_setuser("alice", enabled=True, passwords=[f"+{PASSWORD}"], commands=["+@all"], keys=["*"])
    client = login(server, "alice", protocol=3)
    assert client.acl_whoami() == "alice"
    assert client.execute_command("HELLO")["proto"] == 3
    client.close()


# -- ACL SAVE / ACL LOAD with an aclfile -----------------------------------------------------------


@pytest.fixture(scope="module")
def aclfile_server():
    workdir = tempfile.mkdtemp(prefix="magpie-aclfile-")
    path = os.path.join(workdir, "users.acl")
    with open(path, "w") as fh:
        fh.write(f"user default on nopass ~* &* +@all\nuser alice on >{PASSWORD} ~app:* +@all\n")
    proc = start_magpie("--aclfile", path)
    proc.extra["aclfile"] = path
    yield proc
    proc.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def test_aclfile_users_are_loaded_at_start():
    workdir = tempfile.mkdtemp(prefix="magpie-aclfile-")
    path = os.path.join(workdir, "users.acl")
    _write(path, f"user alice on >{PASSWORD} ~app:* +@all\nuser bob off\n")
    proc = start_magpie("--aclfile", path)
    try:
        admin = proc.client(decode_responses=True)
        assert admin.acl_users() == ["alice", "bob", "default"]
        assert admin.acl_getuser("default")["flags"] == ["on", "nopass"]  # not in the file: as new
        alice = login(proc, "alice")
        assert alice.set("app:1", "v") and nopermission(alice.get, "other") == KEY_REFUSED
        alice.close()
        admin.close()
    finally:
        proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("protocol", [2, 3])
def test_acl_save_then_acl_load_round_trips(aclfile_server, protocol):
    path = aclfile_server.extra["aclfile"]
    _write(path, "user default on nopass ~* &* +@all\n")
    admin = aclfile_server.client(protocol=protocol, decode_responses=True)
    assert admin.acl_load()
    admin.acl_setuser("carol", enabled=True, passwords=[f"+{PASSWORD}"], keys=["c:*"], commands=["+get"],
                      selectors=[("+set", "%W~w:*")])  # fmt: skip
    before = admin.acl_list()
    assert admin.acl_save()
    with open(path) as fh:
        assert fh.read().splitlines() == before
    admin.acl_setuser("dave", enabled=True)  # not saved: gone after ACL LOAD
    assert admin.acl_load()
    assert admin.acl_list() == before
    carol = login(aclfile_server, "carol")
    assert carol.get("c:1") is None
    carol.close()
    admin.close()


def test_acl_load_replaces_users_and_disconnects_their_clients(aclfile_server):
    path = aclfile_server.extra["aclfile"]
    _write(path, f"user default on nopass ~* &* +@all\nuser alice on >{PASSWORD} ~app:* +@all\n")
    admin = aclfile_server.client(decode_responses=True)
    assert admin.acl_load()
    alice = raw_login(aclfile_server.port, "alice")
    default = RawConnection(aclfile_server.port)
    _write(path, "user default on nopass ~* &* +@all\nuser alice on >new-pw ~other:* +@all\nuser erin on nopass\n")
    assert admin.acl_load()
    assert is_closed(alice)
    assert still_served(default)
    assert admin.acl_users() == ["alice", "default", "erin"]
    with pytest.raises(redis.AuthenticationError):
        aclfile_server.client(username="alice", password=PASSWORD, retry=NO_RETRY).ping()
    assert admin.acl_getuser("alice")["keys"] == ["~other:*"]
    default.close()
    admin.close()


def test_a_bad_acl_load_changes_nothing_and_says_why(aclfile_server):
    path = aclfile_server.extra["aclfile"]
    _write(path, f"user default on nopass ~* &* +@all\nuser alice on >{PASSWORD} ~app:* +@all\n")
    admin = aclfile_server.client(decode_responses=True)
    assert admin.acl_load()
    before = admin.acl_list()
    alice = raw_login(aclfile_server.port, "alice")
    _write(path, "user default on nopass -@all\nuser alice on +nosuch\nuser bob on foo\nbad line\n")
    with pytest.raises(redis.ResponseError) as info:
        admin.acl_load()
    assert str(info.value) == (
        f"{path}:2: Error in applying operation '+nosuch': Unknown command or category name in ACL. "
        f"{path}:3: Syntax error. "
        f"{path}:4 should start with user keyword followed by the username. "
        "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
    )
    assert admin.acl_list() == before
    assert still_served(alice)
    os.unlink(path)
    try:
        with pytest.raises(redis.ResponseError, match=f"Error loading ACLs, opening file '{path}': No such file or directory"):
            admin.acl_load()
    finally:
        _write(path, "user default on nopass ~* &* +@all\n")
    assert admin.acl_list() == before
    alice.close()
    admin.close()


def test_acl_load_and_save_need_an_aclfile(admin):
    for call in (admin.acl_load, admin.acl_save):
        with pytest.raises(redis.ResponseError, match="This Redis instance is not configured to use an ACL file"):
            call()


# -- permissions, command family by command family ---------------------------------------------

#: (family, a read, a write), keys in ``app:``.
FAMILIES = [
    ("strings", ("GET", "app:s"), ("SET", "app:s", "v")),
    ("keys", ("EXISTS", "app:s"), ("DEL", "app:s")),
    ("expiry", ("TTL", "app:s"), ("EXPIRE", "app:s", "10")),
    ("lists", ("LRANGE", "app:l", "0", "-1"), ("LPUSH", "app:l", "a")),
    ("hashes", ("HGET", "app:h", "f"), ("HSET", "app:h", "f", "v")),
    ("sets", ("SMEMBERS", "app:t"), ("SADD", "app:t", "m")),
    ("zsets", ("ZRANGE", "app:z", "0", "-1"), ("ZADD", "app:z", "1", "m")),
    ("bitmaps", ("GETBIT", "app:b", "7"), ("SETBIT", "app:b", "7", "1")),
    ("search", ("FT._LIST",), ("FT.CREATE", "app:idx", "SCHEMA", "f", "TEXT")),
    ("server", ("DBSIZE",), ("FLUSHDB",)),
]


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize(("family", "read", "write"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_a_user_without_write_cannot_write(server, admin, family, read, write, protocol):
    admin.acl_setuser("reader", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], categories=["+@all", "-@write"])
    reader = login(server, "reader", protocol=protocol)
    reader.execute_command(*read)
    name = write[0].lower()
    assert nopermission(reader.execute_command, *write) == command_refused(name)
    reader.close()


#: Commands naming an allowed key and one outside ``app:*``; none may run.
OUTSIDE_THE_PATTERN = [
    ("GET", "other:1"),
    ("MSET", "app:1", "v", "other:1", "v"),
    ("MGET", "app:1", "other:1"),
    ("DEL", "app:1", "other:1"),
    ("COPY", "app:1", "other:1"),
    ("RENAME", "app:1", "other:1"),
    ("LMOVE", "app:l", "other:l", "LEFT", "RIGHT"),
    ("RPOPLPUSH", "app:l", "other:l"),
    ("LMPOP", "2", "app:l", "other:l", "LEFT"),
    ("HSET", "other:h", "f", "v"),
    ("SUNIONSTORE", "app:d", "app:t", "other:t"),
    ("SMOVE", "app:t", "other:t", "m"),
    ("SINTERCARD", "2", "app:t", "other:t"),
    ("ZUNIONSTORE", "app:d", "2", "app:z", "other:z"),
    ("ZINTERSTORE", "other:d", "1", "app:z"),
    ("ZRANGESTORE", "other:d", "app:z", "0", "-1"),
    ("ZDIFF", "2", "app:z", "other:z"),
    ("BITOP", "AND", "other:b", "app:b"),
    ("BITOP", "AND", "app:b", "other:b"),
    ("BLPOP", "app:l", "other:l", "0"),
    ("BLMOVE", "app:l", "other:l", "LEFT", "LEFT", "0"),
    ("BZPOPMIN", "other:z", "0"),
    ("WATCH", "app:1", "other:1"),
    ("OBJECT", "ENCODING", "other:1"),
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_a_key_pattern_keeps_every_command_inside_it(server, admin, protocol):
    admin.acl_setuser("app", enabled=True, passwords=[f"+{PASSWORD}"], keys=["app:*"], commands=["+@all"])
    admin.rpush("app:l", "x")
    admin.sadd("app:t", "m")
    admin.zadd("app:z", {"m": 1})
    admin.set("app:1", "v")
    app = login(server, "app", protocol=protocol)
    for args in OUTSIDE_THE_PATTERN:
        assert nopermission(app.execute_command, *args) == KEY_REFUSED, args
    assert admin.keys("other:*") == []  # nothing ran
    assert admin.lrange("app:l", 0, -1) == ["x"]
    assert app.execute_command("LMOVE", "app:l", "app:m", "LEFT", "RIGHT") == "x"
    assert app.execute_command("ZUNIONSTORE", "app:d", "1", "app:z") == 1
    assert app.mset({"app:2": "a", "app:3": "b"}) and app.mget("app:2", "app:3") == ["a", "b"]
    app.close()


def test_a_key_pattern_applies_inside_multi_exec(server, admin):
    admin.acl_setuser("app", enabled=True, passwords=[f"+{PASSWORD}"], keys=["app:*"], commands=["+@all"])
    app = login(server, "app")
    pipe = app.pipeline(transaction=True)
    pipe.set("app:1", "v").set("other:1", "v")
    with pytest.raises((redis.exceptions.ExecAbortError, redis.exceptions.NoPermissionError)):
        pipe.execute()
    assert admin.exists("app:1", "other:1") == 0  # the whole transaction was discarded
    pipe = app.pipeline(transaction=True)
    pipe.set("app:1", "v").incr("app:2")
    assert pipe.execute() == [True, 1]
    app.close()


def test_a_queued_command_refused_at_exec_after_a_rule_change(server, admin):
    admin.acl_setuser("app", enabled=True, passwords=[f"+{PASSWORD}"], keys=["app:*"], commands=["+@all"])
    conn = raw_login(server.port, "app")
    conn.send(command("MULTI") + command("SET", "app:1", "v") + command("GET", "app:2"))
    assert conn.read_until(b"+QUEUED\r\n+QUEUED\r\n").endswith(b"+QUEUED\r\n+QUEUED\r\n")
    admin.acl_setuser("app", enabled=True, keys=["app:2"], commands=["+@all"], reset_keys=True)
    conn.send(command("EXEC"))
    reply = conn.read_until(b"$-1\r\n")
    assert reply == (
        b"*2\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the "
        b"EXEC call. This command is no longer allowed for the following reason: no permission to "
        b"touch the specified keys\r\n$-1\r\n"
    )
    assert admin.get("app:1") is None
    conn.close()


def test_a_blocked_pop_on_an_allowed_key_is_served(server, admin):
    admin.acl_setuser("app", enabled=True, passwords=[f"+{PASSWORD}"], keys=["app:*"], commands=["+@all"])
    conn = raw_login(server.port, "app")
    conn.send(command("BLPOP", "app:q", "5"))
    deadline = time.monotonic() + 10
    while not any("cmd=blpop" in line for line in admin.execute_command("CLIENT", "LIST").splitlines()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    admin.rpush("app:q", "job")
    assert conn.read_until(b"job\r\n") == b"*2\r\n$5\r\napp:q\r\n$3\r\njob\r\n"
    conn.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_read_and_write_key_patterns(server, admin, protocol):
    admin.acl_setuser("split", enabled=True, passwords=[f"+{PASSWORD}"], commands=["+@all"],
                      keys=["%R~ro:*", "%W~wo:*", "%RW~rw:*"])  # fmt: skip
    admin.set("ro:1", "r")
    admin.rpush("ro:l", "x")
    split = login(server, "split", protocol=protocol)
    assert split.get("ro:1") == "r" and split.strlen("ro:1") == 1
    assert split.set("wo:1", "w") and split.append("wo:1", "x") == 2
    assert split.copy("ro:1", "wo:2") and split.exists("ro:1", "wo:1") == 2
    assert split.incr("rw:1") == 1
    refused = [
        ("SET", "ro:1", "v"),
        ("DEL", "ro:1"),
        ("INCR", "ro:1"),  # reads and writes
        ("GET", "wo:1"),
        ("SET", "wo:1", "v", "GET"),  # GET reads the old value
        ("GETDEL", "wo:1"),
        ("COPY", "wo:1", "ro:2"),
        ("LMOVE", "ro:l", "wo:l", "LEFT", "LEFT"),  # the source is read and written
    ]
    for args in refused:
        assert nopermission(split.execute_command, *args) == KEY_REFUSED, args
    assert admin.get("ro:1") == "r" and admin.get("wo:1") == "wx"
    split.close()


def test_without_dangerous_commands(server, admin):
    admin.acl_setuser("safe", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], channels=["*"],
                      categories=["+@all", "-@dangerous"])  # fmt: skip
    safe = login(server, "safe")
    for args, name in [(("FLUSHALL",), "flushall"), (("CONFIG", "SET", "maxmemory", "0"), "config|set"),
                       (("DEBUG", "SLEEP", "0"), "debug"), (("KEYS", "*"), "keys"),
                       (("CLIENT", "KILL", "ID", "999999"), "client|kill"), (("SWAPDB", "0", "1"), "swapdb"),
                       (("ACL", "SETUSER", "x"), "acl|setuser"), (("SHUTDOWN",), "shutdown")]:  # fmt: skip
        assert nopermission(safe.execute_command, *args) == command_refused(name)
    assert safe.set("k", "v") and safe.get("k") == "v" and safe.dbsize() == 1
    safe.close()


def test_subcommand_rules(server, admin):
    admin.acl_setuser("ops", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+@all", "-config|set"])
    ops = login(server, "ops")
    assert ops.config_get("maxmemory") == {"maxmemory": "0"}
    assert nopermission(ops.config_set, "maxmemory", "0") == command_refused("config|set")
    admin.acl_setuser("ops", commands=["-client", "+client|list"])
    assert "id=" in ops.execute_command("CLIENT", "LIST")
    assert nopermission(ops.execute_command, "CLIENT", "INFO") == command_refused("client|info")
    ops.close()


def test_first_argument_rules(server, admin):
    admin.acl_setuser("one", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+get", "+select|0"])
    one = login(server, "one")
    assert one.execute_command("SELECT", "0") is True
    assert nopermission(one.execute_command, "SELECT", "1") == command_refused("select")
    assert one.get("k") is None
    one.close()


def test_channel_rules_for_publish_and_subscribe(server, admin):
    admin.acl_setuser("news", enabled=True, passwords=[f"+{PASSWORD}"], channels=["news.*"],
                      commands=["+@pubsub", "+ping"])  # fmt: skip
    news = login(server, "news")
    assert news.publish("news.sport", "goal") == 0
    assert nopermission(news.publish, "weather", "rain") == CHANNEL_REFUSED
    assert nopermission(news.execute_command, "SPUBLISH", "weather", "rain") == CHANNEL_REFUSED
    pubsub = news.pubsub()
    pubsub.subscribe("news.tech")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    pubsub.psubscribe("news.*")  # a pattern must be one of the ACL patterns, literally
    assert pubsub.get_message(timeout=5)["type"] == "psubscribe"
    with pytest.raises(redis.exceptions.NoPermissionError):
        pubsub.psubscribe("news.t*")
        pubsub.get_message(timeout=5)
    pubsub.close()
    conn = raw_login(server.port, "news")
    conn.send(command("SUBSCRIBE", "news.a", "weather"))
    assert conn.read_until(b"\r\n") == b"-NOPERM " + CHANNEL_REFUSED.encode() + b"\r\n"
    conn.close()
    news.close()


def test_search_commands_follow_their_categories(server, admin):
    admin.acl_setuser("searcher", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"],
                      commands=["+ft.search", "+ft._list", "+hset"])  # fmt: skip
    admin.execute_command("FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA", "t", "TEXT")
    searcher = login(server, "searcher")
    searcher.hset("doc:1", "t", "hello")
    assert searcher.execute_command("FT.SEARCH", "idx", "hello", "NOCONTENT")[0] == 1
    assert nopermission(searcher.execute_command, "FT.DROPINDEX", "idx") == command_refused("ft.dropindex")
    admin.acl_setuser("searcher", categories=["-@write"])
    assert nopermission(searcher.hset, "doc:2", "t", "x") == command_refused("hset")
    assert searcher.execute_command("FT._LIST") == ["idx"]
    admin.execute_command("FT.DROPINDEX", "idx")
    searcher.close()


def test_selectors_add_permissions(server, admin):
    admin.acl_setuser("multi", enabled=True, passwords=[f"+{PASSWORD}"], keys=["a:*"], commands=["+get"],
                      selectors=[("+set", "~b:*")])  # fmt: skip
    multi = login(server, "multi")
    assert multi.get("a:1") is None and multi.set("b:1", "v")
    assert nopermission(multi.set, "a:1", "v") == KEY_REFUSED  # the set selector has b:* only
    assert nopermission(multi.get, "c:1") == KEY_REFUSED
    assert nopermission(multi.delete, "b:1") == command_refused("del")
    multi.close()


def test_rule_changes_apply_to_connections_at_once(server, admin):
    admin.acl_setuser("live", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+@all"])
    live = login(server, "live")
    assert live.set("k", "v")
    admin.acl_setuser("live", commands=["-set"])
    assert nopermission(live.set, "k", "v") == command_refused("set")
    admin.acl_setuser("live", reset_keys=True, keys=["x:*"])
    assert nopermission(live.get, "k") == KEY_REFUSED
    admin.acl_setuser("live", commands=["+@all"], keys=["*"])
    assert live.set("k", "w")
    live.close()


def test_commands_without_auth_are_refused_until_auth(server, admin):
    admin.acl_setuser("alice", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+@all"])
    admin.execute_command("ACL", "SETUSER", "default", "resetpass", f">{PASSWORD}")
    conn = RawConnection(server.port)
    conn.send(command("GET", "k"))
    assert conn.read_until(b"\r\n") == b"-NOAUTH Authentication required.\r\n"
    conn.send(command("AUTH", "alice", PASSWORD) + command("GET", "k"))
    assert conn.read_until(b"$-1\r\n") == b"+OK\r\n$-1\r\n"
    conn.close()


# -- disconnections -------------------------------------------------------------------------------


def test_deleting_a_user_disconnects_its_clients(server, admin):
    for name in ("alice", "bob"):
        admin.acl_setuser(name, enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+@all"])
    alices = [raw_login(server.port, "alice") for _ in range(2)]
    bob = raw_login(server.port, "bob")
    default = RawConnection(server.port)
    assert admin.acl_deluser("alice") == 1
    assert all(is_closed(conn) for conn in alices)
    assert still_served(bob) and still_served(default)
    bob.close()
    default.close()


def test_a_deleted_user_running_acl_deluser_gets_its_reply_then_is_disconnected(server, admin):
    admin.acl_setuser("alice", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+@all"])
    alice = raw_login(server.port, "alice")
    alice.send(command("ACL", "DELUSER", "alice"))
    assert alice.read_all() == b":1\r\n"
    alice.close()


def test_revoking_a_channel_disconnects_only_the_subscribers_that_lost_it(server, admin):
    admin.acl_setuser("alice", enabled=True, passwords=[f"+{PASSWORD}"], channels=["news", "sport"],
                      commands=["+@all"])  # fmt: skip
    admin.acl_setuser("bob", enabled=True, passwords=[f"+{PASSWORD}"], channels=["sport"], commands=["+@all"])
    subscribers = {}
    for name, user, channel in [("alice-news", "alice", "news"), ("alice-sport", "alice", "sport"),
                                ("bob-sport", "bob", "sport")]:  # fmt: skip
        conn = raw_login(server.port, user)
        conn.send(command("SUBSCRIBE", channel))
        conn.read_until(b":1\r\n")
        subscribers[name] = conn
    alice_plain = raw_login(server.port, "alice")
    admin.acl_setuser("alice", reset_channels=True, channels=["news"], commands=["+@all"])
    assert is_closed(subscribers["alice-sport"])
    assert still_served(subscribers["alice-news"])
    assert still_served(subscribers["bob-sport"])
    assert still_served(alice_plain)
    assert admin.publish("news", "hello") == 1
    for conn in (*subscribers.values(), alice_plain):
        conn.close()


# -- users from the config file, at start ----------------------------------------------------------


def test_config_file_user_lines_define_users():
    config = (
        f"user alice on >{PASSWORD} ~app:* &news +@all -@dangerous\n"
        "user default on nopass ~* &* +@all -debug\n"
        "user off-user\n"
    )
    proc = start_magpie(config_text=config)
    try:
        client = proc.client(decode_responses=True)
        assert client.acl_list() == [
            f"user alice on #{hashlib.sha256(PASSWORD.encode()).hexdigest()} ~app:* resetchannels &news +@all -@dangerous",
            "user default on nopass sanitize-payload ~* &* +@all -debug",  # reset first, as in Redis
            "user off-user off resetchannels -@all",
        ]
        alice = login(proc, "alice")
        assert nopermission(alice.get, "other") == KEY_REFUSED
        alice.close()
        assert "The user 'off-user' is disabled" in proc.log()
        assert PASSWORD not in proc.log()
    finally:
        proc.stop()


def _start_failure(config_text: str) -> tuple[int, str]:
    """Run magpie-server with this config file until it exits: (exit code, its output)."""
    workdir = tempfile.mkdtemp(prefix="magpie-acl-start-")
    try:
        conf = os.path.join(workdir, "magpie.conf")
        with open(conf, "w") as fh:
            fh.write(config_text.replace("$DIR", workdir))
        with open(os.path.join(workdir, "bad.acl"), "w") as fh:
            fh.write("user x on foo\n")
        with open(os.path.join(workdir, "good.acl"), "w") as fh:
            fh.write("user x on\n")
        argv = [sys.executable, "-m", "magpie", conf, "--port", str(free_port()), "--bind", "127.0.0.1",
                "--dir", workdir]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        return done.returncode, done.stdout + done.stderr
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


START_FAILURES = {
    "user lines and an aclfile": (
        "user alice on\naclfile $DIR/good.acl\n",
        "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid",
    ),
    "a syntax error in a user line": (  # Redis quotes the word two places left of the bad rule
        "user alice on >pw foo\n",
        "Error in user declaration 'on': Syntax error",
    ),
    "an unknown command in a user line": (
        "user alice on +nosuch\n",
        "Error loading ACL rule '+nosuch' for the user named 'alice': Unknown command or category name in ACL",
    ),
    "a user defined twice": (
        "user alice on\nuser alice off\n",
        "Error in user declaration 'alice': Duplicate user found. A user can only be defined once in config files",
    ),
    "an invalid aclfile": ("aclfile $DIR/bad.acl\n", "bad.acl:1: Syntax error."),
    "a missing aclfile": ("aclfile $DIR/missing.acl\n", "missing.acl': No such file or directory"),
}


@pytest.mark.parametrize(("config", "reason"), START_FAILURES.values(), ids=list(START_FAILURES))
def test_the_server_refuses_to_start_with_bad_acl_configuration(config, reason):
    code, output = _start_failure(config)
    assert code != 0
    assert reason in output
    assert "Ready to accept connections" not in output


# -- passwords stay hashed -----------------------------------------------------------------------------


def test_passwords_never_show_in_clear(server, admin):
    monitor = RawConnection(server.port)
    monitor.send(command("MONITOR"))
    assert monitor.read_until(b"+OK\r\n") == b"+OK\r\n"
    admin.acl_setuser("alice", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+@all"])
    alice = login(server, "alice")  # AUTH alice <password>
    alice3 = login(server, "alice", protocol=3)  # HELLO 3 AUTH alice <password>
    with pytest.raises(redis.AuthenticationError):
        server.client(username="alice", password=PASSWORD + "-wrong", retry=NO_RETRY).ping()
    admin.config_set("requirepass", PASSWORD + "-requirepass")
    try:
        admin.execute_command("AUTH", PASSWORD + "-requirepass")
        shown = [
            "\n".join(admin.acl_list()),
            repr(admin.acl_getuser("alice")),
            repr(admin.acl_getuser("default")),
            admin.execute_command("CLIENT", "LIST"),
            repr(admin.acl_log()),
            repr(alice.client_info()),
        ]
    finally:
        admin.config_set("requirepass", "")
    admin.execute_command("PING", "end-of-monitor")
    shown.append(monitor.read_until(b"end-of-monitor").decode(errors="replace"))
    shown.append(server.log())
    for text in shown:
        assert PASSWORD not in text
    assert '"AUTH" "(redacted)" "(redacted)"' in shown[-2]
    assert hashlib.sha256(PASSWORD.encode()).hexdigest() in shown[0]
    for client in (alice, alice3):
        client.close()
    monitor.close()


def test_passwords_never_show_in_the_aclfile_in_clear(aclfile_server):
    admin = aclfile_server.client(decode_responses=True)
    _write(aclfile_server.extra["aclfile"], "user default on nopass ~* &* +@all\n")
    admin.acl_load()
    admin.acl_setuser("alice", enabled=True, passwords=[f"+{PASSWORD}"])
    admin.acl_save()
    with open(aclfile_server.extra["aclfile"]) as fh:
        saved = fh.read()
    assert PASSWORD not in saved and hashlib.sha256(PASSWORD.encode()).hexdigest() in saved
    assert PASSWORD not in aclfile_server.log()
    admin.close()

