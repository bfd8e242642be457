"""INFO, CLIENT, DEBUG, MONITOR, TIME, LASTSAVE, SHUTDOWN, HELLO and the scripting stubs, over sockets."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import redis
from servers import start_magpie


def error_of(client, *args) -> str:
    with pytest.raises((redis.ResponseError, redis.AuthenticationError)) as info:
        client.execute_command(*args)
    return str(info.value)


def info_text(client, *sections: str) -> str:
    """INFO's text as sent, bypassing redis-py's parsing of it (restored afterwards)."""
    callback = client.response_callbacks.pop("INFO", None)
    try:
        reply = client.execute_command("INFO", *sections)
    finally:
        if callback is not None:
            client.response_callbacks["INFO"] = callback
    return reply.decode() if isinstance(reply, bytes) else str(reply)


def section_fields(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in text.split("\r\n"):
        if line.startswith("# "):
            current = line[2:]
            out[current] = []
        elif line:
            out[current].append(line.split(":", 1)[0])
    return out


@pytest.fixture
def isolated():
    server = start_magpie()
    try:
        yield server
    finally:
        server.stop()


def raw_send(sock: socket.socket, *args: str) -> None:
    parts = [a.encode() for a in args]
    sock.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in parts))


# -- INFO ------------------------------------------------------------------------------------


def test_info_default_sections_and_fields_match_redis(r2, reference_redis):
    ours = section_fields(info_text(r2))
    theirs = section_fields(info_text(reference_redis.client(protocol=2)))
    assert list(ours) == list(theirs)
    for section in ("Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Cluster"):
        missing = [f for f in theirs[section] if f not in ours[section]]
        assert not missing, (section, missing)


def test_info_all_and_everything_section_order_matches_redis(r2, reference_redis):
    ref = reference_redis.client(protocol=2)
    for which in ("all", "everything"):
        assert list(section_fields(info_text(r2, which))) == list(section_fields(info_text(ref, which)))


def test_info_server_fields_clients_rely_on(r):
    server = r.info("server")
    assert server["redis_version"] == "7.0.15"
    assert server["arch_bits"] in (32, 64)
    assert re.fullmatch(r"[0-9a-f]{40}", server["run_id"])
    assert server["magpie_version"]
    assert server["tcp_port"] == r.connection_pool.connection_kwargs["port"]
    assert r.info("cluster")["cluster_enabled"] == 0


def test_info_selected_sections_only(r2):
    text = info_text(r2, "server", "clients")
    assert list(section_fields(text)) == ["Server", "Clients"]
    assert list(section_fields(info_text(r2, "CPU"))) == ["CPU"]
    assert info_text(r2, "nosuchsection") == ""


def test_info_commandstats_lines(r2):
    r2.execute_command("CONFIG", "RESETSTAT")
    r2.set("k", "v")
    r2.get("k")
    r2.get("k")
    with pytest.raises(redis.ResponseError):
        r2.execute_command("GET")  # rejected: arity
    with pytest.raises(redis.ResponseError):
        r2.execute_command("INCR", "k")  # failed: not an integer
    text = info_text(r2, "commandstats")
    get = re.search(r"^cmdstat_get:calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),"
                    r"rejected_calls=(\d+),failed_calls=(\d+)\r$", text, re.M)  # fmt: skip
    assert get, text
    assert int(get.group(1)) >= 2 and int(get.group(4)) >= 1
    incr = r2.info("commandstats")["cmdstat_incr"]
    assert incr["failed_calls"] >= 1
    assert "cmdstat_config|resetstat" in r2.info("commandstats")


def test_info_errorstats_counts_by_prefix(isolated):
    client = isolated.client(protocol=2)
    client.set("s", "v")
    with pytest.raises(redis.ResponseError):
        client.execute_command("NOSUCHCOMMAND")
    with pytest.raises(redis.ResponseError):
        client.execute_command("INCR", "s")
    stats = client.info("errorstats")
    assert stats["errorstat_ERR"]["count"] == 2
    assert client.info("stats")["total_error_replies"] == 2


def test_info_keyspace_with_real_avg_ttl(r2):
    r2.set("plain", "v")
    r2.set("a", "v", ex=100)
    r2.set("b", "v", ex=200)
    line = re.search(r"^db0:keys=(\d+),expires=(\d+),avg_ttl=(\d+)\r$", info_text(r2, "keyspace"), re.M)
    assert line
    keys, expires, avg_ttl = map(int, line.groups())
    assert (keys, expires) == (3, 2)
    assert 140_000 <= avg_ttl <= 150_000  # mean of ~100 s and ~200 s, in milliseconds


def test_info_keyspace_lists_only_nonempty_databases(magpie):
    client = magpie.client(protocol=2, db=5)
    client.flushall()
    try:
        client.set("k", "v")
        keyspace = client.info("keyspace")
        assert keyspace == {"db5": {"keys": 1, "expires": 0, "avg_ttl": 0}}
    finally:
        client.flushall()
        client.close()


def test_info_in_resp3_is_verbatim_and_parsed(r3, raw):
    assert r3.info("server")["redis_version"] == "7.0.15"
    raw.send(b"HELLO 3\r\n")
    raw.read_until(b"modules\r\n*0\r\n")
    raw.send(b"INFO server\r\n")
    data = raw.read_until(b"\r\n\r\n")
    assert data.startswith(b"=") and b"\r\ntxt:# Server\r\n" in data


def test_info_stats_counts_commands_and_connections(r2):
    before = r2.info("stats")
    r2.ping()
    after = r2.info("stats")
    assert after["total_commands_processed"] >= before["total_commands_processed"] + 2
    assert after["total_connections_received"] >= 1
    assert r2.info("clients")["connected_clients"] >= 1


# -- CLIENT ----------------------------------------------------------------------------------


def test_client_id_setname_getname(r):
    ident = r.client_id()
    assert isinstance(ident, int) and ident > 0
    assert r.client_getname() is None
    assert r.client_setname("worker")
    assert r.client_getname() in (b"worker", "worker")
    assert f"id={ident} " in _text(r.execute_command("CLIENT", "INFO"))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


CLIENT_ERRORS = [
    ("CLIENT", "SETNAME", "a b"), ("CLIENT", "SETNAME"), ("CLIENT", "LIST", "TYPE", "foo"),
    ("CLIENT", "LIST", "ID", "abc"), ("CLIENT", "LIST", "foo"), ("CLIENT", "KILL", "1.2.3.4:5"),
    ("CLIENT", "KILL", "ID", "abc"), ("CLIENT", "KILL", "ID", "0"), ("CLIENT", "KILL", "foo", "bar"),
    ("CLIENT", "KILL", "SKIPME", "maybe"), ("CLIENT", "KILL", "USER", "bob"), ("CLIENT", "PAUSE", "abc"),
    ("CLIENT", "PAUSE", "-1"), ("CLIENT", "PAUSE", "10", "foo"), ("CLIENT", "PAUSE", "10", "WRITE", "x"),
    ("CLIENT", "NO-EVICT", "maybe"), ("CLIENT", "REPLY", "foo"), ("CLIENT", "FOO"), ("CLIENT",),
    ("HELLO", "abc"), ("HELLO", "4"), ("HELLO", "1"), ("HELLO", "3", "AUTH"), ("HELLO", "2", "SETNAME"),
    ("HELLO", "2", "SETNAME", "a", "b"), ("HELLO", "2", "FOO"), ("HELLO", "3", "AUTH", "bob", "x"),
    ("AUTH", "x"), ("AUTH", "a", "b"), ("AUTH", "a", "b", "c"), ("SELECT", "abc"), ("SELECT", "-1"),
    ("PING", "a", "b"), ("ECHO",), ("TIME", "x"), ("SHUTDOWN", "ABORT"), ("SHUTDOWN", "foo"),
    ("SHUTDOWN", "NOSAVE", "ABORT"), ("FUNCTION", "FLUSH", "foo"), ("SCRIPT", "FLUSH", "SYNC", "x"),
    ("MONITOR", "x"), ("CONFIG", "FOO"), ("LASTSAVE", "x"),
]  # fmt: skip


@pytest.mark.parametrize("args", CLIENT_ERRORS, ids=[" ".join(a) for a in CLIENT_ERRORS])
def test_errors_match_redis(r2, reference_redis, args):
    assert error_of(r2, *args) == error_of(reference_redis.client(protocol=2), *args)


def test_client_list_fields_and_filters(magpie):
    a, b = magpie.client(protocol=2), magpie.client(protocol=2)
    try:
        a.client_setname("alpha")
        ida, idb = a.client_id(), b.client_id()
        listing = _text(a.execute_command("CLIENT", "LIST", "ID", str(ida), str(idb)))
        lines = listing.strip("\n").split("\n")
        assert len(lines) == 2
        fields = dict(item.split("=", 1) for item in lines[0].split(" "))
        for name in ("id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub",
                     "multi", "qbuf", "obl", "oll", "omem", "tot-mem", "events", "cmd", "user", "resp"):  # fmt: skip
            assert name in fields
        assert {line.split(" ")[0] for line in lines} == {f"id={ida}", f"id={idb}"}
        assert "name=alpha" in listing
        assert "cmd=client|list" in listing
        normal = _text(a.execute_command("CLIENT", "LIST", "TYPE", "normal"))
        assert f"id={ida} " in normal
        assert _text(a.execute_command("CLIENT", "LIST", "TYPE", "pubsub")) == ""
        assert _text(a.execute_command("CLIENT", "LIST", "ID", "0")) == ""
    finally:
        a.close()
        b.close()


def test_client_setinfo_shows_in_client_info(r):
    assert r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "mylib")
    assert r.execute_command("CLIENT", "SETINFO", "LIB-VER", "1.2")
    text = _text(r.execute_command("CLIENT", "INFO"))
    assert "lib-name=mylib" in text and "lib-ver=1.2" in text
    with pytest.raises(redis.ResponseError, match="Unrecognized option"):
        r.execute_command("CLIENT", "SETINFO", "FOO", "x")


def test_client_kill_old_form(magpie):
    admin = magpie.client(protocol=2)
    victim = socket.create_connection(("127.0.0.1", magpie.port), timeout=5)
    try:
        raw_send(victim, "CLIENT", "INFO")
        info = victim.recv(4096).decode()
        addr = re.search(r"addr=(\S+)", info).group(1)
        assert admin.execute_command("CLIENT", "KILL", addr)
        assert victim.recv(64) == b""
    finally:
        victim.close()
        admin.close()


def test_client_kill_filters_and_skipme(magpie):
    admin = magpie.client(protocol=2)
    victim = socket.create_connection(("127.0.0.1", magpie.port), timeout=5)
    try:
        raw_send(victim, "CLIENT", "ID")
        victim_id = int(victim.recv(64)[1:-2])
        assert admin.execute_command("CLIENT", "KILL", "ID", str(victim_id)) == 1
        assert victim.recv(64) == b""
        # SKIPME yes (the default) spares the caller; SKIPME no kills it too, after the reply.
        my_id = admin.client_id()
        assert admin.execute_command("CLIENT", "KILL", "ID", str(my_id)) == 0
        with socket.create_connection(("127.0.0.1", magpie.port), timeout=5) as me:
            raw_send(me, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no", "ADDR", "0.0.0.0:1")
            assert me.recv(64) == b":0\r\n"
            raw_send(me, "CLIENT", "ID")
            me_id = me.recv(64)[1:-2].decode()
            raw_send(me, "CLIENT", "KILL", "ID", me_id, "SKIPME", "no")
            assert me.recv(64) == b":1\r\n"
            assert me.recv(64) == b""
    finally:
        victim.close()
        admin.close()


def test_client_pause_write_holds_writes_and_lets_reads_through(magpie):
    admin, other = magpie.client(protocol=2), magpie.client(protocol=2)
    try:
        other.set("k", "before")
        assert admin.execute_command("CLIENT", "PAUSE", "1000", "WRITE")
        assert other.get("k") == b"before"  # reads continue
        started = time.monotonic()
        assert other.set("k", "after")  # held until the pause ends
        assert time.monotonic() - started >= 0.5
        assert other.get("k") == b"after"
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
        other.close()


def test_client_pause_all_resumes_on_unpause(magpie):
    admin, other = magpie.client(protocol=2), magpie.client(protocol=2)
    result = {}
    try:
        admin.execute_command("CLIENT", "PAUSE", "60000", "ALL")

        def run():
            result["get"] = other.get("missing")
            result["at"] = time.monotonic()

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.3)
        assert "at" not in result  # even a read waits under ALL
        assert admin.execute_command("CLIENT", "UNPAUSE")
        thread.join(10)
        assert result.get("get", "unset") is None
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
        other.close()


def test_quit_is_not_held_by_a_pause(magpie):
    """QUIT during CLIENT PAUSE ALL closes at once, as in Redis; a held QUIT used to be
    answered into a buffer nobody flushed, leaving the client waiting for ever (found by the
    command fuzzer)."""
    admin = magpie.client(protocol=2)
    sock = socket.create_connection(("127.0.0.1", magpie.port), timeout=5)
    try:
        admin.execute_command("CLIENT", "PAUSE", "60000", "ALL")
        sock.sendall(b"QUIT\r\n")
        assert sock.recv(100) == b"+OK\r\n"
        assert sock.recv(100) == b""
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
        sock.close()


def test_client_no_evict_and_reply_modes(raw):
    raw.send(b"CLIENT NO-EVICT on\r\nCLIENT NO-EVICT off\r\n")
    assert raw.read_until(b"+OK\r\n+OK\r\n") == b"+OK\r\n+OK\r\n"
    raw.send(b"CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nECHO a\r\n")
    assert raw.read_until(b"$1\r\na\r\n") == b"+OK\r\n$1\r\na\r\n"
    raw.send(b"CLIENT REPLY SKIP\r\nECHO skipped\r\nECHO shown\r\n")
    assert raw.read_until(b"shown\r\n") == b"$5\r\nshown\r\n"


# -- HELLO -----------------------------------------------------------------------------------


def test_hello_variants(raw):
    raw.send(b"HELLO\r\n")
    reply = raw.read_until(b"*0\r\n")
    assert reply.startswith(b"*14\r\n") and b":2\r\n" in reply
    raw.send(b"HELLO 3 SETNAME from-hello\r\n")
    reply = raw.read_until(b"*0\r\n")
    assert reply.startswith(b"%7\r\n") and b"proto\r\n:3\r\n" in reply
    raw.send(b"HELLO\r\n")
    assert raw.read_until(b"*0\r\n").startswith(b"%7\r\n")  # no version: stays on RESP3
    raw.send(b"CLIENT GETNAME\r\n")
    assert raw.read_until(b"from-hello\r\n").endswith(b"$10\r\nfrom-hello\r\n")
    raw.send(b"HELLO 2 AUTH default anything\r\n")
    assert raw.read_until(b"*0\r\n").startswith(b"*14\r\n")


def test_hello_auth_against_requirepass():
    server = start_magpie("--requirepass", "pw")
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"HELLO 3\r\n")
            assert sock.recv(1024).startswith(b"-NOAUTH HELLO must be called with the client already authenticated")
            sock.sendall(b"HELLO 3 AUTH default wrong\r\n")
            assert sock.recv(1024) == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
            sock.sendall(b"HELLO 3 AUTH default pw\r\n")
            assert sock.recv(1024).startswith(b"%7\r\n")
            sock.sendall(b"PING\r\n")
            assert sock.recv(64) == b"+PONG\r\n"
    finally:
        server.stop()


# -- DEBUG, MONITOR, TIME, LASTSAVE, FUNCTION/SCRIPT FLUSH -------------------------------------


def test_debug_subcommands(r2):
    r2.set("k", "hello")
    started = time.monotonic()
    assert r2.execute_command("DEBUG", "SLEEP", "0.2")
    assert time.monotonic() - started >= 0.15
    assert r2.execute_command("DEBUG", "LOG", "hello from the test")
    obj = _text(r2.execute_command("DEBUG", "OBJECT", "k"))
    assert obj.startswith("Value at:") and "encoding:" in obj and "serializedlength:" in obj
    with pytest.raises(redis.ResponseError, match="no such key"):
        r2.execute_command("DEBUG", "OBJECT", "nokey")
    assert r2.execute_command("DEBUG", "CHANGE-REPL-ID")
    with pytest.raises(redis.ResponseError, match="unknown subcommand"):
        r2.execute_command("DEBUG", "NOSUCH")


def test_debug_change_repl_id_changes_replid(r2):
    before = r2.info("replication")["master_replid"]
    r2.execute_command("DEBUG", "CHANGE-REPL-ID")
    assert r2.info("replication")["master_replid"] != before


def test_debug_set_active_expire(isolated):
    client = isolated.client(protocol=2)
    client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    client.set("k", "v", px=20)
    time.sleep(0.5)
    assert client.dbsize() == 1  # nobody touched it and active expiry is off
    client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    deadline = time.monotonic() + 5
    while client.dbsize() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.dbsize() == 0


def test_debug_refused_when_disabled():
    server = start_magpie("--enable-debug-command", "no")
    try:
        client = server.client(protocol=2)
        with pytest.raises(redis.ResponseError, match="DEBUG command not allowed"):
            client.execute_command("DEBUG", "SLEEP", "0")
    finally:
        server.stop()


def test_monitor_streams_other_clients_commands(magpie):
    mon = socket.create_connection(("127.0.0.1", magpie.port), timeout=5)
    writer = magpie.client(protocol=2)
    try:
        mon.sendall(b"MONITOR\r\n")
        assert mon.recv(64) == b"+OK\r\n"
        writer.set("k", "v")
        data = b""
        while b'"SET" "k" "v"' not in data:  # argv as the client sent it (redis-py: upper case)
            chunk = mon.recv(4096)
            assert chunk
            data += chunk
        line = next(li for li in data.decode().split("\r\n") if '"SET" "k" "v"' in li)
        assert re.fullmatch(r'\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "k" "v"', line), line
    finally:
        mon.close()
        writer.close()


def test_monitor_hides_admin_commands_and_redacts_credentials(magpie):
    """As Redis: ACL SETUSER and CONFIG never reach MONITOR; AUTH and HELLO AUTH do, with
    "(redacted)" in place of the user name and password."""
    admin = magpie.client(protocol=2)
    admin.execute_command("ACL", "SETUSER", "monitored", "on", ">s3cret", "+@all", "~*")
    mon = socket.create_connection(("127.0.0.1", magpie.port), timeout=5)
    other = magpie.client(protocol=2)
    try:
        mon.sendall(b"MONITOR\r\n")
        assert mon.recv(64) == b"+OK\r\n"
        other.execute_command("CONFIG", "GET", "maxmemory")
        other.execute_command("AUTH", "monitored", "s3cret")
        other.execute_command("HELLO", "2", "AUTH", "monitored", "s3cret")
        other.set("after", "1")
        data = b""
        while b'"after"' not in data:
            chunk = mon.recv(4096)
            assert chunk
            data += chunk
        assert b"s3cret" not in data and b"monitored" not in data and b"CONFIG" not in data
        assert b'"AUTH" "(redacted)" "(redacted)"' in data
        assert b'"HELLO" "2" "AUTH" "(redacted)" "(redacted)"' in data
    finally:
        mon.close()
        other.close()
        admin.execute_command("ACL", "DELUSER", "monitored")
        admin.close()


def test_monitor_shows_a_transactions_commands_before_exec(magpie):
    mon = socket.create_connection(("127.0.0.1", magpie.port), timeout=5)
    writer = socket.create_connection(("127.0.0.1", magpie.port), timeout=5)
    try:
        mon.sendall(b"MONITOR\r\n")
        assert mon.recv(64) == b"+OK\r\n"
        writer.sendall(b"MULTI\r\nSET in-tx 1\r\nINCR in-tx\r\nEXEC\r\n")
        data = b""
        while b'"EXEC"' not in data:
            chunk = mon.recv(4096)
            assert chunk
            data += chunk
        shown = [line.split("] ", 1)[1] for line in data.decode().split("\r\n") if "] " in line]
        assert shown == ['"MULTI"', '"SET" "in-tx" "1"', '"INCR" "in-tx"', '"EXEC"']  # as Redis
    finally:
        mon.close()
        writer.close()


def test_a_held_command_that_closes_its_connection_replies_and_closes_after_the_pause(magpie):
    """Regression: a command held by CLIENT PAUSE that closed its own connection when it ran
    (CLIENT KILL of itself) left its reply unsent and the connection open for ever."""
    admin = magpie.client(protocol=2)
    victim = socket.create_connection(("127.0.0.1", magpie.port), timeout=5)
    try:
        victim.sendall(b"CLIENT ID\r\n")
        own_id = int(victim.recv(64)[1:].strip())
        admin.execute_command("CLIENT", "PAUSE", "300", "ALL")
        victim.sendall(b"CLIENT KILL ID %d SKIPME no\r\n" % own_id)
        data = b""
        while chunk := victim.recv(64):  # the 5 s socket timeout is the deadline
            data += chunk
        assert data == b":1\r\n"
        assert admin.ping()
    finally:
        victim.close()
        admin.close()


def test_client_kill_user_closes_only_that_users_connections(magpie):
    admin = magpie.client(protocol=2)
    admin.execute_command("ACL", "SETUSER", "killme", "on", ">pw", "+@all", "~*")
    victim = socket.create_connection(("127.0.0.1", magpie.port), timeout=5)
    bystander = magpie.client(protocol=2)
    try:
        victim.sendall(b"AUTH killme pw\r\n")
        assert victim.recv(64) == b"+OK\r\n"
        assert bystander.ping()
        assert admin.execute_command("CLIENT", "KILL", "USER", "killme") == 1
        assert victim.recv(64) == b""  # closed by the server
        assert bystander.ping()
    finally:
        admin.execute_command("ACL", "DELUSER", "killme")
        victim.close()
        bystander.close()
        admin.close()


def test_time_and_lastsave(r):
    seconds, micros = r.time()
    assert abs(seconds - time.time()) < 60 and 0 <= micros < 1_000_000
    lastsave = r.lastsave()
    stamp = lastsave.timestamp() if hasattr(lastsave, "timestamp") else lastsave
    assert stamp <= time.time() + 1


def test_function_and_script_flush_are_accepted(r):
    for args in (("FUNCTION", "FLUSH"), ("FUNCTION", "FLUSH", "ASYNC"), ("SCRIPT", "FLUSH"), ("SCRIPT", "FLUSH", "SYNC")):
        assert r.execute_command(*args)


# -- SHUTDOWN --------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [(), ("NOSAVE",), ("SAVE",), ("NOW", "FORCE", "NOSAVE")])
def test_shutdown_exits_the_process(options):
    server = start_magpie()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            raw_send(sock, "SHUTDOWN", *options)
            assert sock.recv(64) == b""  # no reply: the connection just closes
        assert server.proc.wait(10) == 0
    finally:
        server.stop()


def test_shutdown_abort_without_shutdown_in_progress(r2):
    with pytest.raises(redis.ResponseError, match="No shutdown in progress"):
        r2.execute_command("SHUTDOWN", "ABORT")
    assert r2.ping()
