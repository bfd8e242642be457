"""Pub/sub over real sockets: several redis-py clients (RESP2 and RESP3) and raw connections."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import redis
from conftest import RawConnection
from servers import start_magpie


def next_message(pubsub, deadline: float = 5.0):
    """The next message (subscription confirmations included), waiting up to ``deadline`` s."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        message = pubsub.get_message(timeout=0.05)
        if message is not None:
            return message
    raise AssertionError("no message arrived")


def wait_for(predicate, deadline: float = 5.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached before the deadline")


def cmd(*args: bytes | str) -> bytes:
    parts = [a.encode() if isinstance(a, str) else a for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in parts)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request) -> int:
    return request.param


@pytest.fixture
def clients(magpie, protocol):
    """A factory of extra clients on the shared server, all closed at the end."""
    made: list = []

    def make(**kwargs) -> redis.Redis:
        client = magpie.client(protocol=kwargs.pop("protocol", protocol), **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


# -- SUBSCRIBE / PUBLISH ------------------------------------------------------------------


def test_subscribe_confirms_each_channel_with_running_count(raw):
    raw.send(cmd("SUBSCRIBE", "news", "sport", "news"))  # redis-py's subscribe() would dedupe
    assert raw.read_until(b"news\r\n:2\r\n") == (
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
        b"*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n"
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:2\r\n"
    )


def test_redis_py_subscribe_confirmations(clients):
    pubsub = clients().pubsub()
    pubsub.subscribe("news", "sport")
    seen = [next_message(pubsub) for _ in range(2)]
    assert [(m["type"], m["channel"], m["data"]) for m in seen] == [
        ("subscribe", b"news", 1),
        ("subscribe", b"sport", 2),
    ]
    pubsub.close()


def test_publish_reaches_every_subscriber_and_counts_them(clients):
    publisher = clients()
    subscribers = [clients(protocol=p).pubsub() for p in (2, 3, 2)]
    for pubsub in subscribers:
        pubsub.subscribe("chat")
        assert next_message(pubsub)["type"] == "subscribe"
    assert publisher.publish("chat", "hello") == 3
    assert publisher.publish("nobody-listens", "hello") == 0
    for pubsub in subscribers:
        message = next_message(pubsub)
        assert (message["type"], message["channel"], message["data"]) == (
            "message",
            b"chat",
            b"hello",
        )
        pubsub.close()


def test_messages_arrive_in_publish_order(clients):
    publisher = clients()
    pubsub = clients().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("seq")
    next_message_or_none = [pubsub.get_message(timeout=0.5)]  # consumes the confirmation
    assert next_message_or_none == [None]
    for i in range(50):
        publisher.publish("seq", str(i))
    got = [next_message(pubsub)["data"] for _ in range(50)]
    assert got == [str(i).encode() for i in range(50)]
    pubsub.close()


def test_psubscribe_delivers_pmessage_with_pattern(clients):
    publisher = clients()
    pubsub = clients().pubsub()
    pubsub.psubscribe("news.*", "h?llo")
    assert [next_message(pubsub)["data"] for _ in range(2)] == [1, 2]
    assert publisher.publish("news.tech", "x") == 1
    assert publisher.publish("hallo", "y") == 1
    assert publisher.publish("news", "z") == 0
    first, second = next_message(pubsub), next_message(pubsub)
    assert (first["type"], first["pattern"], first["channel"], first["data"]) == (
        "pmessage", b"news.*", b"news.tech", b"x",
    )  # fmt: skip
    assert (second["pattern"], second["channel"], second["data"]) == (b"h?llo", b"hallo", b"y")
    pubsub.close()


def test_channel_and_pattern_subscriptions_each_receive(clients):
    publisher = clients()
    pubsub = clients().pubsub()
    pubsub.subscribe("a.b")
    pubsub.psubscribe("a.*", "*")
    for _ in range(3):
        next_message(pubsub)
    assert publisher.publish("a.b", "m") == 3
    kinds = [next_message(pubsub) for _ in range(3)]
    assert kinds[0]["type"] == "message"  # the channel first, then the patterns
    assert sorted(m["pattern"] for m in kinds[1:]) == [b"*", b"a.*"]
    pubsub.close()


def test_unsubscribe_replies_and_stops_delivery(clients):
    publisher = clients()
    pubsub = clients().pubsub()
    pubsub.subscribe("x", "y")
    pubsub.psubscribe("z*")
    for _ in range(3):
        next_message(pubsub)
    pubsub.unsubscribe("x")
    message = next_message(pubsub)
    assert (message["type"], message["channel"], message["data"]) == ("unsubscribe", b"x", 2)
    assert publisher.publish("x", "lost") == 0
    pubsub.punsubscribe()
    message = next_message(pubsub)
    assert (message["type"], message["channel"], message["data"]) == ("punsubscribe", b"z*", 1)
    assert publisher.publish("zz", "lost") == 0
    assert publisher.publish("y", "kept") == 1
    assert next_message(pubsub)["data"] == b"kept"
    pubsub.close()


@pytest.mark.parametrize("hello", [b"", cmd("HELLO", "3")], ids=["resp2", "resp3"])
def test_unsubscribe_from_nothing_answers_with_nil_channel(magpie, hello):
    conn = RawConnection(magpie.port)
    try:
        if hello:
            conn.send(hello)
            conn.read_until(b"modules")
        conn.send(cmd("UNSUBSCRIBE") + cmd("PUNSUBSCRIBE") + cmd("SUNSUBSCRIBE") + cmd("PING"))
        data = conn.read_until(b"PONG\r\n")
        head = b">" if hello else b"*"
        nil = b"_\r\n" if hello else b"$-1\r\n"
        assert data == (
            head + b"3\r\n$11\r\nunsubscribe\r\n" + nil + b":0\r\n"
            + head + b"3\r\n$12\r\npunsubscribe\r\n" + nil + b":0\r\n"
            + head + b"3\r\n$12\r\nsunsubscribe\r\n" + nil + b":0\r\n"
            + b"+PONG\r\n"
        )  # fmt: skip
    finally:
        conn.close()


def test_unsubscribe_without_arguments_leaves_every_channel(raw):
    raw.send(cmd("SUBSCRIBE", "a", "b") + cmd("UNSUBSCRIBE") + cmd("GET", "pubsub:missing"))
    data = raw.read_until(b"$-1\r\n")
    confirmations = data.split(b"*3\r\n$11\r\nunsubscribe\r\n$1\r\n")[1:]
    # Redis leaves them in its dict's order; the counts fall to 0 either way
    assert sorted(c[:1] for c in confirmations) == [b"a", b"b"]
    assert [c[3:7] for c in confirmations] == [b":1\r\n", b":0\r\n"]
    assert data.endswith(b":0\r\n$-1\r\n")


# -- RESP2 subscribed mode and RESP3 --------------------------------------------------------


def test_resp2_subscribed_mode_allows_only_pubsub_commands(raw):
    raw.send(cmd("SUBSCRIBE", "ch"))
    raw.read_until(b":1\r\n")
    raw.send(cmd("GET", "pubsub:missing"))
    assert raw.read_until(b"\r\n") == (
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        b"are allowed in this context\r\n"
    )
    raw.send(cmd("PING"))
    assert raw.read_until(b"\r\n\r\n") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    raw.send(cmd("PING", "hi"))
    assert raw.read_until(b"hi\r\n") == b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
    raw.send(cmd("SSUBSCRIBE", "s") + cmd("UNSUBSCRIBE", "ch") + cmd("GET", "pubsub:missing"))
    data = raw.read_until(b"context\r\n")
    assert data.startswith(
        b"*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n-ERR"
    )
    raw.send(cmd("SUNSUBSCRIBE") + cmd("GET", "pubsub:missing") + cmd("PING"))
    assert raw.read_until(b"PONG\r\n").endswith(b":0\r\n$-1\r\n+PONG\r\n")


def test_resp3_client_runs_commands_while_subscribed(magpie, r):
    conn = RawConnection(magpie.port)
    try:
        conn.send(cmd("HELLO", "3") + cmd("SUBSCRIBE", "ch"))
        assert conn.read_until(b":1\r\n").endswith(b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
        conn.send(cmd("SET", "pubsub:resp3", "v") + cmd("GET", "pubsub:resp3") + cmd("PING"))
        assert conn.read_until(b"+PONG\r\n") == b"+OK\r\n$1\r\nv\r\n+PONG\r\n"
        assert r.publish("ch", "pushed") == 1
        assert (
            conn.read_until(b"pushed\r\n") == b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$6\r\npushed\r\n"
        )
    finally:
        conn.close()


def test_resp3_own_publish_is_ordered_with_replies(magpie):
    """A message caused by the client's own command comes between that command's neighbours' replies."""
    conn = RawConnection(magpie.port)
    try:
        conn.send(cmd("HELLO", "3"))
        conn.read_until(b"modules")
        conn.send(
            cmd("PING", "before")
            + cmd("SUBSCRIBE", "me")
            + cmd("PUBLISH", "me", "hi")
            + cmd("PING")
        )
        assert conn.read_until(b"+PONG\r\n") == (
            b"$6\r\nbefore\r\n"
            b">3\r\n$9\r\nsubscribe\r\n$2\r\nme\r\n:1\r\n"
            b">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$2\r\nhi\r\n"
            b":1\r\n+PONG\r\n"
        )
    finally:
        conn.close()


def test_redis_py_resp3_pubsub_with_normal_commands(clients):
    client = clients(protocol=3)
    pubsub = client.pubsub()
    pubsub.subscribe("r3")
    assert next_message(pubsub)["type"] == "subscribe"
    client.set("k", "v")  # another connection of the same client object
    assert client.publish("r3", "data") == 1
    assert next_message(pubsub)["data"] == b"data"
    pubsub.close()


# -- sharded pub/sub ---------------------------------------------------------------------


def test_ssubscribe_and_spublish(clients):
    publisher = clients()
    pubsub = clients().pubsub()
    pubsub.ssubscribe("shard-a", "shard-b")
    seen = [next_message(pubsub) for _ in range(2)]
    assert [(m["type"], m["data"]) for m in seen] == [("ssubscribe", 1), ("ssubscribe", 2)]
    pattern_listener = clients().pubsub()
    pattern_listener.psubscribe("*")
    next_message(pattern_listener)
    assert publisher.spublish("shard-a", "s-msg") == 1
    assert publisher.spublish("nobody", "s-msg") == 0
    message = next_message(pubsub)
    assert (message["type"], message["channel"], message["data"]) == (
        "smessage",
        b"shard-a",
        b"s-msg",
    )
    assert pattern_listener.get_message(timeout=0.2) is None  # patterns never see shard messages
    assert publisher.publish("shard-a", "plain") == 1  # and shard subscribers no plain ones
    assert pubsub.get_message(timeout=0.2) is None
    pubsub.close()
    pattern_listener.close()


def test_ssubscribe_counts_only_shard_channels(raw):
    raw.send(cmd("SUBSCRIBE", "a", "b") + cmd("SSUBSCRIBE", "s") + cmd("PSUBSCRIBE", "p"))
    data = raw.read_until(b"$1\r\np\r\n:3\r\n")
    assert b"$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n" in data


# -- PUBSUB introspection ---------------------------------------------------------------


def test_pubsub_introspection(clients):
    admin = clients()
    one, two = clients().pubsub(), clients().pubsub()
    one.subscribe("intro.a", "intro.b")
    two.subscribe("intro.a", "other")
    one.psubscribe("intro.*")
    two.psubscribe("intro.*", "x*")
    one.ssubscribe("intro.s")
    for pubsub, count in ((one, 4), (two, 4)):
        for _ in range(count):
            next_message(pubsub)
    assert sorted(admin.pubsub_channels("intro.*")) == [b"intro.a", b"intro.b"]
    assert set(admin.pubsub_channels()) >= {b"intro.a", b"intro.b", b"other"}
    assert admin.pubsub_numsub("intro.a", "intro.b", "none") == [
        (b"intro.a", 2),
        (b"intro.b", 1),
        (b"none", 0),
    ]
    assert admin.pubsub_numpat() >= 2  # unique patterns: intro.* and x*
    assert admin.execute_command("PUBSUB", "SHARDCHANNELS", "intro.*") == [b"intro.s"]
    assert admin.execute_command("PUBSUB", "SHARDNUMSUB", "intro.s", "no") == [
        b"intro.s",
        1,
        b"no",
        0,
    ]
    assert admin.execute_command("PUBSUB", "NUMSUB") == []
    one.close()
    two.close()
    wait_for(lambda: admin.pubsub_numsub("intro.a") == [(b"intro.a", 0)])
    assert admin.pubsub_channels("intro.*") == []
    assert admin.execute_command("PUBSUB", "SHARDCHANNELS") == []


def test_pubsub_errors_and_help(r):
    with pytest.raises(
        redis.ResponseError, match=r"unknown subcommand or wrong number of arguments for 'channels'"
    ):
        r.execute_command("PUBSUB", "channels", "a", "b")
    with pytest.raises(
        redis.ResponseError, match=r"wrong number of arguments for 'pubsub\|numpat' command"
    ):
        r.execute_command("PUBSUB", "NUMPAT", "x")
    with pytest.raises(redis.ResponseError, match=r"unknown subcommand 'nope'. Try PUBSUB HELP."):
        r.execute_command("PUBSUB", "nope")
    with pytest.raises(
        redis.ResponseError, match=r"wrong number of arguments for 'subscribe' command"
    ):
        r.execute_command("SUBSCRIBE")
    with pytest.raises(
        redis.ResponseError, match=r"wrong number of arguments for 'publish' command"
    ):
        r.execute_command("PUBLISH", "a")
    help_lines = r.execute_command("PUBSUB", "HELP")
    assert help_lines[0] in (b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                             "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")  # fmt: skip
    assert len(help_lines) == 14


def test_command_info_declares_shard_keys(r):
    info = r.execute_command("COMMAND", "INFO", "spublish", "ssubscribe", "publish")
    if isinstance(info, dict):  # redis-py parses COMMAND INFO into a dict keyed by name
        spublish, ssubscribe, publish = (info[n] for n in ("spublish", "ssubscribe", "publish"))
        assert (spublish["first_key_pos"], spublish["last_key_pos"], spublish["step_count"]) == (
            1,
            1,
            1,
        )
        assert (ssubscribe["first_key_pos"], ssubscribe["last_key_pos"]) == (1, -1)
        assert publish["first_key_pos"] == 0
    else:
        assert info[0][3:6] == [1, 1, 1]
        assert info[1][3:6] == [1, -1, 1]
        assert info[2][3:6] == [0, 0, 0]


# -- leaving ------------------------------------------------------------------------------


def test_disconnect_leaves_no_trace(clients):
    admin = clients()
    before = admin.pubsub_numpat()
    pubsub = clients().pubsub()
    pubsub.subscribe("gone.ch")
    pubsub.psubscribe("gone.pattern.*")
    pubsub.ssubscribe("gone.shard")
    for _ in range(3):
        next_message(pubsub)
    assert admin.pubsub_numsub("gone.ch") == [(b"gone.ch", 1)]
    pubsub.close()  # closes the connection
    wait_for(lambda: admin.pubsub_numsub("gone.ch") == [(b"gone.ch", 0)])
    wait_for(lambda: admin.pubsub_numpat() == before)
    assert admin.execute_command("PUBSUB", "SHARDNUMSUB", "gone.shard") == [b"gone.shard", 0]
    assert admin.publish("gone.ch", "x") == 0
    assert admin.publish("gone.pattern.1", "x") == 0


def test_reset_unsubscribes_everything(magpie, r):
    conn = RawConnection(magpie.port)
    try:
        conn.send(
            cmd("SUBSCRIBE", "reset.ch")
            + cmd("PSUBSCRIBE", "reset.p*")
            + cmd("SSUBSCRIBE", "reset.s")
        )
        conn.read_until(b"reset.s\r\n:1\r\n")
        assert r.pubsub_numsub("reset.ch") == [(b"reset.ch", 1)]
        conn.send(cmd("RESET"))
        assert conn.read_until(b"\r\n") == b"+RESET\r\n"
        assert r.pubsub_numsub("reset.ch") == [(b"reset.ch", 0)]
        assert r.execute_command("PUBSUB", "SHARDNUMSUB", "reset.s") == [b"reset.s", 0]
        assert r.publish("reset.pattern", "x") == 0
        conn.send(cmd("GET", "nothing"))  # out of subscribed mode again
        assert conn.read_until(b"\r\n") == b"$-1\r\n"
    finally:
        conn.close()


def test_client_list_shows_pubsub_client(clients):
    admin = clients()
    pubsub = clients().pubsub()
    pubsub.subscribe("listed")
    next_message(pubsub)
    lines = admin.execute_command("CLIENT", "LIST", "TYPE", "pubsub")
    text = lines.decode() if isinstance(lines, bytes) else str(lines)
    assert "flags=P" in text
    pubsub.close()


# -- slow subscribers -----------------------------------------------------------------------


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _stalled_subscriber(port: int, channel: str) -> socket.socket:
    """A subscriber that never reads, with small kernel buffers so the server's own fills."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(cmd("SUBSCRIBE", channel))
    sock.settimeout(5)
    assert sock.recv(64).endswith(b":1\r\n")
    return sock


class _Reader(threading.Thread):
    """A subscriber that keeps reading everything, counting the bytes."""

    def __init__(self, port: int, channel: str) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(cmd("SUBSCRIBE", channel))
        self.received = 0
        self.closed = False

    def run(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                return
            self.received += len(chunk)


def test_slow_subscriber_is_disconnected_at_hard_limit():
    # 8 MB: the reading subscriber (a thread of this busy process) may fall that far behind
    # on a loaded machine without being taken for a stalled one (at 1 MB it once was)
    server = start_magpie(config_text="client-output-buffer-limit pubsub 8mb 0 0\n")
    stalled = reader = None
    try:
        publisher = server.client()
        stalled = _stalled_subscriber(server.port, "firehose")
        reader = _Reader(server.port, "firehose")
        reader.start()
        wait_for(lambda: publisher.pubsub_numsub("firehose") == [(b"firehose", 2)])
        rss_before = _rss_kb(server.proc.pid)
        payload = b"x" * 65536
        counts = []
        for _ in range(1600):  # 100 MB in all: without the limit the server would hold it
            counts.append(publisher.publish("firehose", payload))
        assert counts[0] == 2
        assert counts[-1] == 1, "the stalled subscriber was never disconnected"
        rss_after = _rss_kb(server.proc.pid)
        assert rss_after - rss_before < 48 * 1024, (rss_before, rss_after)
        assert publisher.ping()
        wait_for(lambda: reader.received >= 1600 * 65536)
        assert not reader.closed
        assert "scheduled to be closed ASAP for overcoming of output buffer limits" in server.log()
        assert publisher.pubsub_numsub("firehose") == [(b"firehose", 1)]
    finally:
        if stalled is not None:
            stalled.close()
        if reader is not None:
            reader.sock.close()
        server.stop()


def test_slow_subscriber_is_disconnected_after_soft_limit_time():
    server = start_magpie(config_text="client-output-buffer-limit pubsub 0 256kb 0\n")
    stalled = None
    try:
        publisher = server.client()
        stalled = _stalled_subscriber(server.port, "soft")
        payload = b"y" * 65536
        end = time.monotonic() + 30
        while publisher.publish("soft", payload) and time.monotonic() < end:
            pass
        assert publisher.publish("soft", payload) == 0
        assert publisher.pubsub_numsub("soft") == [(b"soft", 0)]
    finally:
        if stalled is not None:
            stalled.close()
        server.stop()


def test_output_buffer_limit_can_be_changed_at_runtime():
    server = start_magpie()
    stalled = None
    try:
        publisher = server.client()
        publisher.config_set("client-output-buffer-limit", "pubsub 512kb 0 0")
        stalled = _stalled_subscriber(server.port, "runtime")
        payload = b"z" * 65536
        for _ in range(400):
            if not publisher.publish("runtime", payload):
                break
        assert publisher.publish("runtime", payload) == 0
    finally:
        if stalled is not None:
            stalled.close()
        server.stop()
