"""CONFIG GET/SET/RESETSTAT/REWRITE, the config file and the command line, over the wire."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import redis
from servers import free_port, start_magpie, start_redis


def error_of(client: redis.Redis, *args) -> str:
    with pytest.raises(redis.ResponseError) as info:
        client.execute_command(*args)
    return str(info.value)


def config_get(client: redis.Redis, *patterns: str) -> dict[str, str]:
    reply = client.execute_command("CONFIG", "GET", *patterns)
    if isinstance(reply, list):  # RESP2 without redis-py's callback
        reply = dict(zip(reply[::2], reply[1::2], strict=False))
    return {_text(k): _text(v) for k, v in reply.items()}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.fixture
def isolated():
    """A server of its own: these tests change global configuration."""
    server = start_magpie()
    try:
        yield server
    finally:
        server.stop()


# -- CONFIG GET --------------------------------------------------------------------------


def test_config_get_exact_name(r):
    assert config_get(r, "maxmemory-policy") == {"maxmemory-policy": "noeviction"}


def test_config_get_glob_matches_like_redis(r, reference_redis):
    ref = reference_redis.client(protocol=2)
    mine, theirs = config_get(r, "maxmemory*"), config_get(ref, "maxmemory*")
    # Redis has a few parameters Magpie does not; every one Magpie reports must agree.
    assert mine and set(mine) <= set(theirs)
    for name, value in mine.items():
        assert theirs[name] == value, name


def test_config_get_several_patterns_merge_without_duplicates(r):
    result = config_get(r, "hz", "timeout", "h?", "hz")
    assert result == {"hz": "10", "timeout": "0"}


def test_config_get_aliases_answer_under_both_names(r):
    result = config_get(r, "*read-only*")
    assert result["replica-read-only"] == "yes"
    assert result["slave-read-only"] == "yes"
    assert config_get(r, "slave-priority") == {"slave-priority": "100"}


def test_config_get_exact_name_keeps_the_callers_spelling(r, reference_redis):
    ref = reference_redis.client(protocol=2)
    assert config_get(r, "MAXMEMORY") == config_get(ref, "MAXMEMORY") == {"MAXMEMORY": "0"}


def test_config_get_glob_is_case_insensitive(r):
    assert "maxclients" in config_get(r, "MAXCLI*")


def test_config_get_unknown_is_empty(r):
    assert config_get(r, "no-such-parameter") == {}


def test_config_get_without_pattern_is_arity_error(r, reference_redis):
    ref = reference_redis.client(protocol=2)
    assert error_of(r, "CONFIG", "GET") == error_of(ref, "CONFIG", "GET")


def test_config_get_everything_includes_core_parameters(r):
    everything = config_get(r, "*")
    for name in ("port", "bind", "save", "appendonly", "maxmemory", "databases", "dir", "requirepass"):
        assert name in everything


# -- CONFIG SET errors against the real Redis ----------------------------------------------

SET_ERRORS = [
    ("no-such-param", "1"),
    ("NO-SUCH-PARAM", "1"),
    ("hz", "abc"),
    ("HZ", "abc"),
    ("maxclients", "0"),
    ("timeout", "-1"),
    ("maxmemory", "-1"),
    ("maxmemory", "10xb"),
    ("maxmemory-policy", "bogus"),
    ("appendfsync", "sometimes"),
    ("appendonly", "maybe"),
    ("slave-read-only", "maybe"),
    ("save", "1 2 3"),
    ("save", "abc def"),
    ("databases", "4"),
    ("DATABASES", "4"),
    ("daemonize", "yes"),
    ("io-threads", "2"),
    ("dir", "/tmp"),
    ("dbfilename", "x.rdb"),
    ("loglevel", "chatty"),
    ("proto-max-bulk-len", "10"),
    ("notify-keyspace-events", "Q"),
    ("client-output-buffer-limit", "bogus"),
    ("client-output-buffer-limit", "foo 1 2 3"),
    ("client-output-buffer-limit", "normal 1x 2 3"),
    ("maxmemory-samples", "0"),
]


@pytest.mark.parametrize(("name", "value"), SET_ERRORS, ids=[f"{n}={v}" for n, v in SET_ERRORS])
def test_config_set_errors_match_redis(r2, reference_redis, name, value):
    ref = reference_redis.client(protocol=2)
    expected = error_of(ref, "CONFIG", "SET", name, value)
    assert error_of(r2, "CONFIG", "SET", name, value) == expected


@pytest.mark.parametrize(
    "args",
    [
        ("hz", "5", "hz", "6"),
        ("hz", "5", "HZ", "6"),
        ("hz", "5", "maxmemory-policy", "bogus"),
        ("hz", "5", "no-such", "1"),
        ("hz", "5", "maxclients"),
        ("hz",),
        ("hz", "5", "Dir", "x"),
    ],
)
def test_config_set_multi_errors_match_redis(r2, reference_redis, args):
    ref = reference_redis.client(protocol=2)
    assert error_of(r2, "CONFIG", "SET", *args) == error_of(ref, "CONFIG", "SET", *args)


def test_config_set_several_pairs_is_atomic(isolated):
    client = isolated.client(protocol=2)
    before = config_get(client, "hz", "maxmemory-policy", "timeout")
    with pytest.raises(redis.ResponseError, match="maxmemory-policy"):
        client.execute_command("CONFIG", "SET", "hz", "20", "timeout", "30", "maxmemory-policy", "bogus")
    assert config_get(client, "hz", "maxmemory-policy", "timeout") == before
    assert client.execute_command("CONFIG", "SET", "hz", "20", "timeout", "30", "maxmemory-policy", "allkeys-lru")
    assert config_get(client, "hz", "maxmemory-policy", "timeout") == {
        "hz": "20", "timeout": "30", "maxmemory-policy": "allkeys-lru",
    }  # fmt: skip


def test_config_set_values_render_like_redis(isolated, reference_redis):
    client, ref = isolated.client(protocol=2), reference_redis.client(protocol=2)
    cases = [
        ("maxmemory", "1gb"),
        ("maxmemory", "2k"),
        ("hz", "1000"),
        ("hz", "0"),
        ("save", ""),
        ("save", "100 10 5 1"),
        ("notify-keyspace-events", "KEA"),
        ("notify-keyspace-events", "Kx"),
        ("notify-keyspace-events", "Exg$"),
        ("notify-keyspace-events", ""),
        ("client-output-buffer-limit", "normal 1mb 2k 3"),
        ("client-output-buffer-limit", "pubsub 1 2 3 replica 4 5 6"),
        ("appendfsync", "ALWAYS"),
        ("maxmemory-policy", "Allkeys-LRU"),
    ]
    try:
        for name, value in cases:
            assert client.execute_command("CONFIG", "SET", name, value)
            ref.execute_command("CONFIG", "SET", name, value)
            assert config_get(client, name) == config_get(ref, name), (name, value)
    finally:
        ref.execute_command("CONFIG", "SET", "hz", "10", "maxmemory", "0", "save", "",
                            "notify-keyspace-events", "", "appendfsync", "everysec",
                            "maxmemory-policy", "noeviction",
                            "client-output-buffer-limit",
                            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")  # fmt: skip


def test_config_set_alias_changes_the_canonical_parameter(isolated):
    client = isolated.client(protocol=2)
    client.execute_command("CONFIG", "SET", "slave-read-only", "no")
    assert config_get(client, "replica-read-only") == {"replica-read-only": "no"}


# -- CONFIG SET takes effect on a running server -----------------------------------------


def test_config_set_maxclients_refuses_extra_connections(isolated):
    client = isolated.client(protocol=2)
    client.ping()
    client.execute_command("CONFIG", "SET", "maxclients", "1")
    try:
        with socket.create_connection(("127.0.0.1", isolated.port), timeout=5) as sock:
            sock.sendall(b"PING\r\n")
            data = sock.recv(1024)
        assert data == b"-ERR max number of clients reached\r\n"
        info = client.info("stats")
        assert info["rejected_connections"] >= 1
    finally:
        client.execute_command("CONFIG", "SET", "maxclients", "10000")
    with socket.create_connection(("127.0.0.1", isolated.port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(1024) == b"+PONG\r\n"


def test_config_set_timeout_closes_idle_clients(isolated):
    admin = isolated.client(protocol=2)
    admin.execute_command("CONFIG", "SET", "timeout", "1")
    idle = socket.create_connection(("127.0.0.1", isolated.port), timeout=10)
    try:
        idle.sendall(b"PING\r\n")
        assert idle.recv(64) == b"+PONG\r\n"
        # Redis closes a client idle for more than `timeout` seconds on a later cron pass.
        assert idle.recv(64) == b""
    finally:
        idle.close()
        admin.execute_command("CONFIG", "SET", "timeout", "0")


def test_config_set_hz_shows_in_info(isolated):
    client = isolated.client(protocol=2)
    client.execute_command("CONFIG", "SET", "hz", "50")
    server = client.info("server")
    assert server["hz"] == 50 and server["configured_hz"] == 50
    # The timer keeps running at the new rate: active expiry still reclaims keys.
    client.set("short", "v", px=50)
    deadline = time.monotonic() + 5
    while client.dbsize() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.dbsize() == 0


def test_config_set_requirepass_applies_to_new_connections(isolated):
    admin = isolated.client(protocol=2)
    admin.execute_command("CONFIG", "SET", "requirepass", "hunter2")
    try:
        assert admin.ping()  # an already authenticated connection stays authenticated
        with pytest.raises(redis.AuthenticationError):
            isolated.client(protocol=2).get("k")
        with pytest.raises(redis.AuthenticationError):
            isolated.client(protocol=2, password="wrong").ping()
        assert isolated.client(protocol=2, password="hunter2").ping()
        assert isolated.client(protocol=3, password="hunter2").ping()
    finally:
        admin.execute_command("CONFIG", "SET", "requirepass", "")
    assert isolated.client(protocol=2).ping()


def _bulk_request(size: int) -> bytes:
    return b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % size + b"x" * size + b"\r\n"


def test_config_set_proto_max_bulk_len_applies_to_new_connections(isolated):
    admin = isolated.client(protocol=2)
    admin.execute_command("CONFIG", "SET", "proto-max-bulk-len", "1mb")
    try:
        with socket.create_connection(("127.0.0.1", isolated.port), timeout=5) as sock:
            # The header alone is refused (sending the whole body could hit a closed socket).
            sock.sendall(_bulk_request(2 * 1024 * 1024)[:30])
            data = sock.recv(1024)
        assert data.startswith(b"-ERR Protocol error: invalid bulk length")
    finally:
        admin.execute_command("CONFIG", "SET", "proto-max-bulk-len", "512mb")
    with socket.create_connection(("127.0.0.1", isolated.port), timeout=5) as sock:
        sock.sendall(_bulk_request(2 * 1024 * 1024))
        assert sock.recv(1024) == b"+OK\r\n"


def test_config_set_proto_max_bulk_len_applies_to_open_connections(isolated):
    """Redis reads the limit on every request, so a connection opened before the change obeys it."""
    admin = isolated.client(protocol=2)
    sock = socket.create_connection(("127.0.0.1", isolated.port), timeout=5)
    try:
        sock.sendall(b"PING\r\n")
        assert sock.recv(64) == b"+PONG\r\n"
        admin.execute_command("CONFIG", "SET", "proto-max-bulk-len", "1mb")
        # A split request goes through the strict parser, which enforces the limit.
        sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n")
        time.sleep(0.05)
        sock.sendall(b"$%d\r\n" % (2 * 1024 * 1024))
        assert sock.recv(1024).startswith(b"-ERR Protocol error: invalid bulk length")
    finally:
        sock.close()
        admin.execute_command("CONFIG", "SET", "proto-max-bulk-len", "512mb")


# -- CONFIG RESETSTAT ---------------------------------------------------------------------


def test_config_resetstat_clears_counters(isolated):
    client = isolated.client(protocol=2)
    client.set("k", "v")
    client.get("k")
    client.get("missing")
    with pytest.raises(redis.ResponseError):
        client.execute_command("NOSUCHCOMMAND")
    assert client.info("commandstats")
    assert client.info("errorstats")
    assert client.execute_command("CONFIG", "RESETSTAT")
    stats = client.info("stats")
    assert stats["keyspace_hits"] == 0 and stats["keyspace_misses"] == 0
    assert stats["total_error_replies"] == 0
    assert client.info("errorstats") == {}
    commandstats = client.info("commandstats")
    # As in Redis, only the RESETSTAT itself (counted once it returns) and later calls remain.
    assert set(commandstats) <= {"cmdstat_info", "cmdstat_config|resetstat"}
    assert commandstats.get("cmdstat_config|resetstat", {"calls": 1})["calls"] == 1
    assert client.get("k") == b"v"  # data is untouched


# -- CONFIG REWRITE and the config file ------------------------------------------------------


def test_config_rewrite_without_file_fails_like_redis(r, reference_redis):
    ref = reference_redis.client(protocol=2)
    assert error_of(r, "CONFIG", "REWRITE") == error_of(ref, "CONFIG", "REWRITE")


CONF = """# my magpie
maxmemory-policy allkeys-lru
hz 20

# keep this comment
requirepass "pass word"
save 100 1
save 200 2
"""


def test_config_file_values_are_applied(tmp_path):
    server = start_magpie(config_text=CONF)
    try:
        client = server.client(protocol=2, password="pass word")
        assert config_get(client, "maxmemory-policy", "hz", "requirepass", "save") == {
            "maxmemory-policy": "allkeys-lru", "hz": "20", "requirepass": "pass word", "save": "100 1 200 2",
        }  # fmt: skip
        assert client.info("server")["config_file"].endswith("magpie.conf")
    finally:
        server.stop()


def _start_from_file(conf_path: str, port: int, cwd: str) -> subprocess.Popen:
    """A server started from a config file alone (as after a CONFIG REWRITE)."""
    return subprocess.Popen([sys.executable, "-m", "magpie", conf_path, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)  # fmt: skip


def _until_answered(call) -> None:
    """Call until the server is up (20 s at most)."""
    deadline = time.monotonic() + 20
    while True:
        try:
            call()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_config_rewrite_round_trip(tmp_path):
    server = start_magpie(config_text=CONF)
    conf_path = os.path.join(server.workdir, "magpie.conf")
    port = server.port
    try:
        client = server.client(protocol=2, password="pass word")
        client.execute_command("CONFIG", "SET", "hz", "33", "maxmemory", "100mb", "save", "",
                               "notify-keyspace-events", "Ex", "slave-read-only", "no")  # fmt: skip
        assert client.execute_command("CONFIG", "REWRITE")
        with open(conf_path) as fh:
            text = fh.read()
        lines = text.splitlines()
        assert "# my magpie" in lines and "# keep this comment" in lines
        assert "hz 33" in lines
        assert lines.index("hz 33") < lines.index("# keep this comment")  # rewritten in place
        assert 'requirepass "pass word"' in lines
        assert 'save ""' in lines and "save 200 2" not in lines
        assert "# Generated by CONFIG REWRITE" in lines
        assert "maxmemory 104857600" in lines
        assert "notify-keyspace-events xE" in lines
        assert "replica-read-only no" in lines
        # A second rewrite with no change keeps the file as it is.
        assert client.execute_command("CONFIG", "REWRITE")
        with open(conf_path) as fh:
            assert fh.read() == text
    finally:
        server.proc.terminate()
        server.proc.wait(10)
    # Restart from the rewritten file alone.
    proc = _start_from_file(conf_path, port, server.workdir)
    try:
        client = redis.Redis(port=port, password="pass word", protocol=2, socket_timeout=5)
        _until_answered(client.ping)
        assert config_get(client, "hz", "maxmemory", "save", "notify-keyspace-events", "replica-read-only") == {
            "hz": "33", "maxmemory": "104857600", "save": "", "notify-keyspace-events": "xE",
            "replica-read-only": "no",
        }  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)
        server.stop()


def test_config_rewrite_keeps_acl_users_and_a_restart_reads_them():
    """As Redis without an aclfile: every user (default included) is written as a ``user``
    line in ACL LIST form, replacing the old ``user`` lines; the rewritten file loads."""
    server = start_magpie(config_text="# acl\nuser old on nopass +@all ~*\nhz 12\nuser old2 off\n")
    conf_path = os.path.join(server.workdir, "magpie.conf")
    port = server.port
    try:
        client = server.client(protocol=2)
        client.execute_command("ACL", "SETUSER", "bob", "on", ">pw", "~app:*", "+get")
        client.execute_command("ACL", "DELUSER", "old2")
        assert client.execute_command("CONFIG", "REWRITE")
        with open(conf_path) as fh:
            lines = fh.read().splitlines()
        users = [line for line in lines if line.startswith("user ")]
        assert users == [line.decode() for line in client.execute_command("ACL", "LIST")]
        assert lines.index(users[0]) == 1  # in place of the first old user line
        assert "pw" not in "\n".join(lines)
    finally:
        server.proc.terminate()
        server.proc.wait(10)
    proc = _start_from_file(conf_path, port, server.workdir)
    try:
        bob = redis.Redis(port=port, username="bob", password="pw", protocol=2, socket_timeout=5)
        _until_answered(lambda: bob.execute_command("GET", "app:1"))
        with pytest.raises(redis.exceptions.NoPermissionError):
            bob.execute_command("SET", "app:1", "x")
    finally:
        proc.terminate()
        proc.wait(10)
        server.stop()


def _run_cli(*args: str, config_text: str | None = None, tmp_path=None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "magpie"]
    if config_text is not None:
        conf = tmp_path / "bad.conf"
        conf.write_text(config_text)
        argv.append(str(conf))
    return subprocess.run([*argv, "--port", str(free_port()), *args], capture_output=True, text=True, timeout=30)


def test_unknown_directive_refuses_to_start(tmp_path):
    result = _run_cli(config_text="port 7000\nfoo bar\n", tmp_path=tmp_path)
    assert result.returncode == 1
    assert "*** FATAL CONFIG FILE ERROR" in result.stderr
    assert "at line 2" in result.stderr
    assert ">>> 'foo bar'" in result.stderr
    assert "Bad directive or wrong number of arguments" in result.stderr


def test_bad_value_refuses_to_start_with_redis_reason(tmp_path):
    result = _run_cli(config_text="hz abc\n", tmp_path=tmp_path)
    assert result.returncode == 1
    assert "argument couldn't be parsed into an integer" in result.stderr


def test_bad_command_line_option_refuses_to_start(tmp_path):
    result = _run_cli("--no-such-option", "1")
    assert result.returncode == 1
    assert "Bad directive or wrong number of arguments" in result.stderr


def test_missing_config_file_refuses_to_start(tmp_path):
    result = subprocess.run([sys.executable, "-m", "magpie", str(tmp_path / "absent.conf")],
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 1
    assert "absent.conf" in result.stderr


def test_command_line_options_with_quotes_and_empty_save():
    server = start_magpie("--save", "", "--requirepass", "two words", "--maxmemory", "1m",
                          "--notify-keyspace-events", "KEA")  # fmt: skip
    try:
        client = server.client(protocol=2, password="two words")
        assert config_get(client, "save", "requirepass", "maxmemory", "notify-keyspace-events") == {
            "save": "", "requirepass": "two words", "maxmemory": "1000000", "notify-keyspace-events": "AKE",
        }  # fmt: skip
    finally:
        server.stop()


def test_command_line_overrides_the_config_file():
    server = start_magpie("--hz", "40", config_text="hz 20\nsave 60 1\n")
    try:
        client = server.client(protocol=2)
        assert config_get(client, "hz", "save") == {"hz": "40", "save": "60 1"}
    finally:
        server.stop()


def test_config_set_dir_is_protected_then_moves_the_working_directory(tmp_path):
    """``dir`` is a protected config (refused unless enable-protected-configs allows it);
    when allowed it moves the working directory (CONFIG GET answers the absolute path),
    and a directory that does not exist is refused with the OS's reason, as in Redis."""
    ref = start_redis()
    mine = start_magpie()
    try:
        for server in (ref, mine):
            c = server.client(protocol=2)
            assert error_of(c, "CONFIG", "SET", "dir", str(tmp_path)) == (
                "CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
            )
    finally:
        ref.stop()
        mine.stop()
    target = tmp_path / "moved"
    target.mkdir()
    ref = start_redis("--enable-protected-configs", "yes")
    mine = start_magpie("--enable-protected-configs", "yes")
    try:
        replies = []
        for server in (ref, mine):
            c = server.client(protocol=2)
            missing = error_of(c, "CONFIG", "SET", "dir", str(tmp_path / "missing"))
            assert c.config_set("dir", str(target))
            replies.append((missing, c.config_get("dir")["dir"]))
        assert replies[0] == replies[1] == (
            "CONFIG SET failed (possibly related to argument 'dir') - No such file or directory",
            str(target),
        )
    finally:
        ref.stop()
        mine.stop()
