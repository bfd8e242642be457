"""Magpie against a real redis-server: what a subscriber receives, byte for byte.

Each case runs the same commands on both servers and compares the raw bytes the
subscribing connection receives (confirmations, messages, RESP2 arrays or RESP3 pushes).
Keyspace-notification cases set ``notify-keyspace-events KEA`` on both servers with
CONFIG SET and restore the old value afterwards; their subscriber listens to one pattern
(``*``) plus a channel or two, because Redis delivers to several matching patterns in its
dict's order, which is not reproducible, while channel-before-pattern order is fixed.
"""

from __future__ import annotations

import socket
import time

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MARK = b"zz-end-of-stream"


def cmd(*args: bytes | str | int) -> bytes:
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in parts)


class Raw:
    """A raw connection that reads until a marker arrives."""

    def __init__(self, port: int, resp: int = 2) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        if resp == 3:
            self.sock.sendall(cmd("HELLO", 3))
            self.read_until(b"modules\r\n*0\r\n")

    def send(self, *commands: bytes) -> None:
        self.sock.sendall(b"".join(commands))

    def read_until(self, marker: bytes) -> bytes:
        deadline = time.monotonic() + 10
        while marker not in self.buffer:
            assert time.monotonic() < deadline, (
                f"timed out waiting for {marker!r}: {self.buffer[-300:]!r}"
            )
            chunk = self.sock.recv(65536)
            assert chunk, f"connection closed before {marker!r}: {self.buffer[-300:]!r}"
            self.buffer += chunk
        end = self.buffer.index(marker) + len(marker)
        data, self.buffer = self.buffer[:end], self.buffer[end:]
        return data

    def call(self, *args: bytes | str | int) -> bytes:
        """One command on an ordinary (non-subscribed) connection: its reply, read by a PING."""
        self.send(cmd(*args), cmd("PING", MARK))
        return self.read_until(b"$%d\r\n%b\r\n" % (len(MARK), MARK))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def servers(magpie, reference_redis):
    """(port of magpie, port of redis-server), both flushed, notifications restored after."""
    ports = (magpie.port, reference_redis.port)
    admins = [Raw(port) for port in ports]
    for admin in admins:
        admin.call("FLUSHALL")
        admin.call("CONFIG", "SET", "notify-keyspace-events", "")
    yield ports
    admins[0].call("DEBUG", "SET-ACTIVE-EXPIRE", "1")  # Magpie only: redis-server refuses DEBUG
    for admin in admins:
        admin.call("CONFIG", "SET", "notify-keyspace-events", "")
        admin.call("FLUSHALL")
        admin.close()


def message_stream(
    port: int, resp: int, subscribe: list[bytes], commands: list[list], flags: str
) -> bytes:
    """Subscribe, run ``commands`` from another connection, return what the subscriber got."""
    subscriber = Raw(port, resp)
    worker = Raw(port)
    try:
        if flags:
            worker.call("CONFIG", "SET", "notify-keyspace-events", flags)
        subscriber.send(*subscribe, cmd("SUBSCRIBE", MARK))
        received = subscriber.read_until(MARK + b"\r\n:")
        for args in commands:
            worker.call(*args)
        worker.call("PUBLISH", MARK, "done")
        received += subscriber.read_until(b"done\r\n")
        return received
    finally:
        if flags:
            worker.call("CONFIG", "SET", "notify-keyspace-events", "")
        worker.close()
        subscriber.close()


def compare(
    servers, resp: int, subscribe: list[bytes], commands: list[list], flags: str = "KEA"
) -> bytes:
    ours, ref = (message_stream(port, resp, subscribe, commands, flags) for port in servers)
    if ours != ref:
        listing = "\n".join(" ".join(map(str, c)) for c in commands)
        raise AssertionError(f"streams differ after:\n{listing}\nmagpie: {ours!r}\nredis:  {ref!r}")
    return ours


KEYSPACE_SUBSCRIPTION = [cmd("SUBSCRIBE", "__keyevent@0__:del"), cmd("PSUBSCRIBE", "*")]

SCENARIOS = {
    "set-del": [["SET", "k", "v"], ["DEL", "k"], ["DEL", "k"], ["UNLINK", "k"]],
    "strings": [
        ["INCR", "n"], ["INCRBY", "n", 5], ["DECR", "n"], ["DECRBY", "n", 2], ["INCRBYFLOAT", "n", "1.5"],
        ["APPEND", "s", "x"], ["APPEND", "s", "yz"], ["SETRANGE", "s", 5, "!"], ["GETSET", "s", "new"],
        ["MSET", "a", 1, "b", 2], ["MSETNX", "c", 1, "d", 2], ["MSETNX", "c", 1], ["SETNX", "e", 1],
        ["SETNX", "e", 2], ["GETDEL", "e"], ["GETDEL", "e"], ["SET", "k", "v", "NX"], ["SET", "k", "w", "XX"],
        ["SET", "k", "w", "GET"], ["SET", "k", "x", "KEEPTTL"], ["INCR", "s"],
    ],  # fmt: skip
    "expiry": [
        ["SET", "a", 1], ["EXPIRE", "a", 100], ["PEXPIRE", "a", 100000], ["EXPIREAT", "a", 4000000000],
        ["PERSIST", "a"], ["PERSIST", "a"], ["EXPIRE", "a", 100, "NX"], ["EXPIRE", "a", 10, "GT"],
        ["EXPIRE", "a", -1], ["EXPIRE", "missing", 10], ["SET", "b", 1], ["PEXPIREAT", "b", 1],
        ["SET", "c", 1], ["GETEX", "c", "EX", 100], ["GETEX", "c", "PERSIST"], ["GETEX", "c"],
        ["SET", "d", 1, "EX", 100], ["SET", "d", 2, "PX", 100000, "GET"], ["SETEX", "e", 100, 1],
        ["PSETEX", "e", 100000, 2],
    ],  # fmt: skip
    "keys": [
        ["SET", "a", 1], ["RENAME", "a", "b"], ["SET", "c", 2], ["RENAMENX", "b", "c"], ["RENAMENX", "b", "d"],
        ["RENAME", "d", "c"], ["COPY", "c", "e"], ["COPY", "c", "e", "REPLACE"], ["MOVE", "e", 1],
        ["DEL", "c", "missing", "e"],
    ],  # fmt: skip
    "bits": [["SETBIT", "bm", 7, 1], ["SETBIT", "bm", 7, 1], ["BITOP", "NOT", "dst", "bm"], ["BITFIELD", "bf", "SET", "u8", 0, 200]],
    "publish": [["PUBLISH", "chan", "payload"], ["PUBLISH", "__keyevent@0__:del", "forged"]],
}  # fmt: skip


@pytest.mark.parametrize("resp", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_keyspace_message_streams_match(servers, resp, scenario):
    compare(servers, resp, KEYSPACE_SUBSCRIPTION, SCENARIOS[scenario])


@pytest.mark.parametrize("flags", ["K$", "Eg", "Kgx", "E$g", "KA", "EA", "A", "Kl", "En", "KEAn"])
def test_class_filters_match(servers, flags):
    commands = [
        ["SET", "a", 1],
        ["INCR", "a"],
        ["EXPIRE", "a", 100],
        ["RENAME", "a", "b"],
        ["MOVE", "b", 1],
        ["COPY", "b", "c", "DB", 0],
        ["SELECT", 1],
        ["COPY", "b", "c", "DB", 0],
        ["DEL", "b"],
    ]
    compare(servers, 2, [cmd("PSUBSCRIBE", "*")], commands, flags)


def test_expired_events_match(servers):
    """A key that expires gives the same stream: set, expire, then expired.

    Magpie has active expiry switched off here, so its key is found expired lazily by GET;
    the reference redis-server refuses DEBUG by default (enable-debug-command no), so there
    the key may go either way. Both must end in the same ``expired`` events.
    """
    Raw(servers[0]).call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    streams = []
    for port in servers:
        subscriber, worker = Raw(port), Raw(port)
        try:
            worker.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
            subscriber.send(*KEYSPACE_SUBSCRIPTION, cmd("SUBSCRIBE", MARK))
            got = subscriber.read_until(MARK + b"\r\n:3\r\n")
            # One key: redis-server's active expiry samples keys in no fixed order.
            worker.call("SET", "gone", 1)
            worker.call("PEXPIRE", "gone", 30)
            time.sleep(0.15)  # due by now
            worker.call("GET", "gone")
            worker.call("EXISTS", "gone")
            worker.call("PUBLISH", MARK, "done")
            streams.append(got + subscriber.read_until(b"done\r\n"))
        finally:
            worker.call("CONFIG", "SET", "notify-keyspace-events", "")
            subscriber.close()
            worker.close()
    assert streams[0] == streams[1]
    assert streams[0].count(b"expired\r\n") == 2  # keyspace message and keyevent channel


def test_active_expired_events_match(servers):
    """Both servers expire the keys on their own; the subscriber must see ``expired`` for each."""
    streams = []
    for port in servers:
        subscriber, worker = Raw(port), Raw(port)
        worker.call("CONFIG", "SET", "notify-keyspace-events", "Ex")
        subscriber.send(cmd("SUBSCRIBE", "__keyevent@0__:expired"))
        subscriber.read_until(b":1\r\n")
        worker.call("SET", "soon", 1)
        worker.call("PEXPIRE", "soon", 20)
        streams.append(subscriber.read_until(b"soon\r\n"))
        worker.call("CONFIG", "SET", "notify-keyspace-events", "")
        subscriber.close()
        worker.close()
    assert (
        streams[0]
        == streams[1]
        == b"*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:expired\r\n$4\r\nsoon\r\n"
    )


# -- subscription replies -------------------------------------------------------------------

CHANNELS = [b"a", b"b", b"s1", b"a*"]
# At most one of these matches the channel PUBLISH uses ("a"): Redis delivers to several
# matching patterns in its dict's order.
PATTERNS = [b"a*", b"b?", b"x"]

subscription_op = st.one_of(
    st.tuples(
        st.sampled_from(["SUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "SUNSUBSCRIBE"]),
        st.lists(st.sampled_from(CHANNELS), max_size=3),
    ),
    st.tuples(st.sampled_from(["PSUBSCRIBE", "PUNSUBSCRIBE"]), st.lists(st.sampled_from(PATTERNS), max_size=3)),
    st.tuples(st.sampled_from(["PING", "GET", "PUBLISH", "SPUBLISH"]), st.just([])),
)  # fmt: skip


def _subscription_commands(ops, resp: int) -> list[bytes]:
    """The wire commands, with a bare unsubscribe from several names spelled out in order.

    Redis answers a bare UNSUBSCRIBE in its dict's order, which is not reproducible, so a
    bare form is sent only when it concerns at most one name.
    """
    state = {"UNSUBSCRIBE": set(), "PUNSUBSCRIBE": set(), "SUNSUBSCRIBE": set()}
    adds = {"SUBSCRIBE": "UNSUBSCRIBE", "PSUBSCRIBE": "PUNSUBSCRIBE", "SSUBSCRIBE": "SUNSUBSCRIBE"}
    out = []
    for name, args in ops:
        if name in adds:
            if not args:
                continue
            state[adds[name]].update(args)
        elif name in state:
            if not args:
                if len(state[name]) > 1:
                    args = sorted(state[name])
                state[name] = set()
            else:
                state[name].difference_update(args)
        elif name == "GET":
            args = [b"k"]
        elif name == "PUBLISH":
            args = [b"a", b"m"]
        elif name == "SPUBLISH":
            args = [b"s1", b"m"]
        out.append(cmd(name, *args))
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(subscription_op, max_size=12), resp=st.sampled_from([2, 3]))
def test_subscription_replies_match(servers, ops, resp):
    commands = _subscription_commands(ops, resp)
    replies = []
    for port in servers:
        conn = Raw(port, resp)
        try:
            conn.send(*commands, cmd("RESET"))
            replies.append(conn.read_until(b"+RESET\r\n"))
        finally:
            conn.close()
    assert replies[0] == replies[1], b"".join(commands)


def test_pubsub_introspection_matches(servers):
    """PUBSUB answers for the same subscriptions (channel lists compared as sets)."""
    answers = []
    for port in servers:
        subs = [Raw(port), Raw(port, 3)]
        subs[0].send(
            cmd("SUBSCRIBE", "x", "y"), cmd("PSUBSCRIBE", "p*", "q"), cmd("SSUBSCRIBE", "s")
        )
        subs[0].read_until(b"$1\r\ns\r\n:1\r\n")
        subs[1].send(cmd("SUBSCRIBE", "x"), cmd("PSUBSCRIBE", "p*"))
        subs[1].read_until(b"p*\r\n:2\r\n")
        admin = Raw(port)
        answer = [
            admin.call("PUBSUB", "NUMSUB", "x", "y", "z"),
            admin.call("PUBSUB", "NUMSUB"),
            admin.call("PUBSUB", "NUMPAT"),
            admin.call("PUBSUB", "SHARDNUMSUB", "s", "x"),
            admin.call("PUBSUB", "SHARDCHANNELS"),
            admin.call("PUBSUB", "CHANNELS", "[xz]"),
            sorted(admin.call("PUBSUB", "CHANNELS").split(b"\r\n")),
            admin.call("PUBLISH", "x", "m"),
            admin.call("PUBLISH", "pp", "m"),
            admin.call("SPUBLISH", "s", "m"),
            admin.call("PUBSUB", "CHANNELS", "a", "b"),
            admin.call("PUBSUB", "NUMPAT", "a"),
            admin.call("PUBSUB", "HELP"),
        ]
        admin.send(cmd("HELLO", 3))
        admin.read_until(b"modules\r\n*0\r\n")
        answer.append(admin.call("PUBSUB", "NUMSUB", "x"))
        answers.append(answer)
        for conn in (*subs, admin):
            conn.close()
    assert answers[0] == answers[1]


@pytest.mark.parametrize("resp", [2, 3], ids=["resp2", "resp3"])
def test_client_reply_off_and_skip_still_deliver_pubsub(servers, resp):
    """Redis 7.0.15 sends confirmations and messages even when replies are switched off."""
    streams = []
    for port in servers:
        conn, other = Raw(port, resp), Raw(port)
        try:
            conn.send(cmd("CLIENT", "REPLY", "OFF"), cmd("SUBSCRIBE", "quiet"), cmd("PING", "x"))
            conn.read_until(b"quiet\r\n:1\r\n")
            other.call("PUBLISH", "quiet", "heard")
            got = conn.read_until(b"heard\r\n")
            conn.send(
                cmd("UNSUBSCRIBE"), cmd("CLIENT", "REPLY", "ON"), cmd("CLIENT", "REPLY", "SKIP")
            )
            conn.send(cmd("SUBSCRIBE", "skip"), cmd("UNSUBSCRIBE", "skip"), cmd("PING", MARK))
            got += conn.read_until(MARK + b"\r\n")
            streams.append(got)
        finally:
            conn.close()
            other.close()
    assert streams[0] == streams[1]


KEYMISS_READS = [
    ["GET", "gone"], ["SET", "s", 1], ["GET", "s"], ["MGET", "s", "gone", "gone2"], ["STRLEN", "gone"],
    ["GETRANGE", "gone", 0, 1], ["HGET", "gone", "f"], ["HGETALL", "gone"], ["LRANGE", "gone", 0, -1],
    ["LINDEX", "gone", 0], ["SCARD", "gone"], ["SISMEMBER", "gone", "m"], ["ZSCORE", "gone", "m"],
    ["ZRANGE", "gone", 0, -1], ["EXISTS", "gone", "s"], ["TYPE", "gone"], ["TTL", "gone"],
    ["GETBIT", "gone", 3], ["BITCOUNT", "gone"], ["SET", "s", 1, "GET"],
    ["INCR", "gone"], ["HSET", "gone2", "f", "v"], ["DEL", "nothing"],
]  # fmt: skip


@pytest.mark.parametrize("flags", ["Km", "Em", "KEAm", "KEA"])
def test_keymiss_events_match(servers, flags):
    """Reads that miss publish "keymiss" under class m; writes and existing keys do not."""
    compare(servers, 2, [cmd("PSUBSCRIBE", "*")], KEYMISS_READS, flags)


def test_keyspace_hit_and_miss_counts_match(servers):
    """The reads that publish keymiss are the ones INFO counts; writes count neither."""
    counts = []
    for port in servers:
        client = redis.Redis(port=port)
        client.flushall()
        client.config_resetstat()
        for command in KEYMISS_READS + [["APPEND", "s", "x"], ["SETRANGE", "t", 0, "x"], ["INCRBYFLOAT", "f", 1]]:
            try:
                client.execute_command(*command)
            except redis.ResponseError:
                pass
        stats = client.info("stats")
        counts.append((stats["keyspace_hits"], stats["keyspace_misses"]))
        client.close()
    assert counts[0] == counts[1]
