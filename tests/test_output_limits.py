"""Client limits inside Magpie: the output-limit classes and their bookkeeping on real
``Client`` objects without sockets, the once-a-second client checks, and what only Magpie
can show over a socket (its memory stays bounded, its own CLIENT LIST fields).

The behaviour a client can compare with Redis is in ``test_differential_limits.py``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import time

import pytest
from servers import start_magpie

from magpie.commands import load_all
from magpie.config import Config
from magpie.server.client_cron import clients_cron
from magpie.server.client_info import RecentPeaks, client_class, describe
from magpie.server.connection import Client
from magpie.server.server import Server
from magpie.store.clock import CLOCK

load_all()


class FakeTransport:
    """What a Client asks of its transport, with a write buffer the test controls."""

    def __init__(self) -> None:
        self.buffered = 0
        self.aborted = False
        self.reading = True

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def write(self, data: bytes) -> None:
        self.buffered += len(data)

    def is_reading(self) -> bool:
        return self.reading

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.aborted = True


def make_server(limits: str = "") -> Server:
    config = Config()
    if limits:
        config.set("client-output-buffer-limit", limits)
    return Server(config)


def make_client(server: Server) -> tuple[Client, FakeTransport]:
    client = Client(server)
    transport = FakeTransport()
    client.transport = transport  # type: ignore[assignment]
    server.clients[client.id] = client
    return client, transport


@pytest.fixture
def clock():
    saved = CLOCK.ms
    yield CLOCK
    CLOCK.ms = saved


# -- classes ----------------------------------------------------------------------------


def test_client_class_follows_redis_rules():
    server = make_server()
    client, _ = make_client(server)
    assert client_class(client) == "normal"
    client.subscriptions = 1
    assert client_class(client) == "pubsub"
    client.is_replica = True  # a replica's link is a replica whatever else it does
    assert client_class(client) == "slave"
    client.is_monitor = True  # MONITOR clients are replicas to Redis, shown as normal
    client.subscriptions = 0
    assert client_class(client) == "normal"


def test_each_class_gets_its_own_limit():
    server = make_server("normal 1000 0 0 slave 5000000 0 0 pubsub 2000 0 0")
    client, transport = make_client(server)
    limits = server.output_limits
    assert limits.limit_for(client) == (1000, 0, 0)
    client.subscriptions = 1
    assert limits.limit_for(client) == (2000, 0, 0)
    client.subscriptions = 0
    client.is_replica = True
    assert limits.limit_for(client) == (5000000, 0, 0)
    assert not limits.enforce(client, 4_999_999)
    assert limits.enforce(client, 5_000_000) and transport.aborted


def test_a_replica_hard_limit_below_the_backlog_size_uses_the_backlog_size():
    server = make_server("slave 1000 500 10")
    server.config.set("repl-backlog-size", "1mb")
    client, _ = make_client(server)
    client.is_replica = True
    assert server.output_limits.limit_for(client) == (1024 * 1024, 500, 10)


def test_default_limits_leave_normal_clients_unlimited_and_on_the_fast_path():
    server = make_server()
    client, _ = make_client(server)
    assert not server.output_limits.applies(client)
    assert not server.slow_path
    client.subscriptions = 1
    assert server.output_limits.limit_for(client) == (33554432, 8388608, 60)


def test_a_normal_limit_takes_normal_clients_off_the_fast_path():
    server = make_server()
    server.config.set("client-output-buffer-limit", "normal 1mb 0 0")
    server._config_changed("client-output-buffer-limit")
    assert server.slow_path
    server.config.set("client-output-buffer-limit", "normal 0 0 0")
    server._config_changed("client-output-buffer-limit")
    assert not server.slow_path


# -- enforcement ------------------------------------------------------------------------


def test_hard_limit_closes_at_once_and_logs_redis_line(caplog):
    server = make_server("normal 1000 0 0")
    client, transport = make_client(server)
    client.out.append(b"pending")
    expected = f"Client {describe(client)} scheduled to be closed ASAP for overcoming of output buffer limits."
    with caplog.at_level(logging.WARNING, logger="magpie"):
        assert not server.output_limits.enforce(client, 999)
        assert server.output_limits.enforce(client, 1000)
    assert transport.aborted and client.closing and not client.out  # unsent output dropped
    assert [record.getMessage() for record in caplog.records] == [expected]
    assert " obl=7 " in expected


def test_soft_limit_needs_more_than_its_seconds_over_it(clock):
    server = make_server("normal 0 100 2")
    client, transport = make_client(server)
    limits = server.output_limits
    clock.ms = 1_000_000_000
    assert not limits.enforce(client, 150)  # the clock starts
    clock.ms += 2000
    assert not limits.enforce(client, 150)  # 2 s over: not more than 2
    clock.ms += 1000
    assert limits.enforce(client, 150) and transport.aborted


def test_dropping_under_the_soft_limit_restarts_its_clock(clock):
    server = make_server("normal 0 100 1")
    client, transport = make_client(server)
    limits = server.output_limits
    clock.ms = 1_000_000_000
    assert not limits.enforce(client, 150)
    clock.ms += 5000
    assert not limits.enforce(client, 50)  # under again
    assert not limits.enforce(client, 150)  # over: a new start
    clock.ms += 1000
    assert not limits.enforce(client, 150)
    clock.ms += 1000
    assert limits.enforce(client, 150)


def test_nothing_pending_is_never_over_for_a_normal_client_but_checked_for_a_replica():
    server = make_server("normal 0 0 0 slave 1 0 0")
    client, transport = make_client(server)
    client.is_replica = True
    server.config.set("repl-backlog-size", "1")
    assert server.output_limits.enforce(client, 0) is False  # 0 < 1 byte: not over
    assert server.output_limits.reached(client, 1)


def test_push_is_held_to_the_limit():
    """Out-of-band output (pub/sub, MONITOR) goes through the same check."""
    server = make_server("pubsub 100 0 0")
    client, transport = make_client(server)
    client.subscriptions = 1
    client.push(b"x" * 99)
    assert not transport.aborted
    client.push(b"x")
    assert transport.aborted and client.closing
    client.push(b"more")  # a closed client takes nothing
    assert transport.buffered == 100


def test_a_limited_client_keeps_being_read_when_its_output_backs_up():
    """Redis reads on and lets the limit decide; without a limit Magpie stops reading."""
    server = make_server()
    unlimited, unlimited_transport = make_client(server)
    unlimited.pause_writing()
    assert not unlimited_transport.reading
    unlimited.resume_writing()
    assert unlimited_transport.reading
    subscriber, subscriber_transport = make_client(server)
    subscriber.subscriptions = 1
    subscriber.pause_writing()
    assert subscriber_transport.reading


# -- the once-a-second checks -------------------------------------------------------------


def test_idle_timeout_counts_output_making_progress_as_interaction(clock):
    server = make_server()
    server.config.set("timeout", "2")
    reading, reading_transport = make_client(server)
    stuck, stuck_transport = make_client(server)
    idle, idle_transport = make_client(server)
    peaks = RecentPeaks()
    clock.ms = start = 1_000_000_000
    for client in (reading, stuck, idle):
        client.last_interaction = start
    reading_transport.buffered = stuck_transport.buffered = 10_000_000
    for second in range(1, 6):
        clock.ms = start + second * 1000
        reading_transport.buffered -= 100_000  # the client takes a little every second
        clients_cron(server, peaks, clock.ms)
    assert not reading_transport.aborted
    assert stuck_transport.aborted and idle_transport.aborted


def test_idle_timeout_spares_waiting_clients(clock):
    server = make_server()
    server.config.set("timeout", "1")
    paused, paused_transport = make_client(server)
    paused.postponed = [b"SET", b"k", b"v"]  # held by CLIENT PAUSE
    clock.ms = paused.last_interaction + 10_000
    clients_cron(server, RecentPeaks(), clock.ms)
    assert not paused_transport.aborted


def test_the_cron_drops_a_client_that_stays_over_its_soft_limit(clock):
    """Redis's clientsCron also checks the limits, so no new output is needed."""
    server = make_server("normal 0 100 1")
    client, transport = make_client(server)
    transport.buffered = 500
    peaks = RecentPeaks()
    clock.ms = 1_000_000_000
    for _ in range(3):
        clock.ms += 1000
        clients_cron(server, peaks, clock.ms)
    assert transport.aborted


def test_recent_peaks_remember_eight_seconds(clock):
    server = make_server()
    client, transport = make_client(server)
    peaks = RecentPeaks()
    transport.buffered = 5000
    now = 1_000_000_000
    peaks.sample(peaks.start_second(now), client)
    transport.buffered = 0
    for second in range(1, 7):
        peaks.sample(peaks.start_second(now + second), client)
    assert peaks.recent_max()[1] == 5000
    peaks.sample(peaks.start_second(now + 7), client)  # the slot of `now` is cleared
    assert peaks.recent_max()[1] == 0


# -- over a socket ----------------------------------------------------------------------


def _vm_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _command(*args: bytes | str) -> bytes:
    parts = [a.encode() if isinstance(a, str) else a for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in parts)


def _stalled(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


def test_pipelined_big_gets_cannot_grow_the_server_past_the_normal_limit():
    """2000 GETs of a 1 MB value in one packet would be 2 GB of replies in one batch: the
    limit is held per reply, not once the batch is done."""
    server = start_magpie(config_text="client-output-buffer-limit normal 4mb 0 0\n")
    sock = None
    try:
        admin = server.client(protocol=2)
        admin.set("big", b"v" * (1024 * 1024))
        rss_before = _vm_kb(server.proc.pid, "VmRSS")
        sock = _stalled(server.port)
        with contextlib.suppress(OSError):
            sock.sendall(_command("CLIENT", "SETNAME", "greedy") + _command("GET", "big") * 2000)
        line = "name=greedy .*scheduled to be closed ASAP for overcoming of output buffer limits"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not re.search(line, server.log()):
            time.sleep(0.05)
        assert re.search(line, server.log()), "the client was never disconnected"
        assert _vm_kb(server.proc.pid, "VmRSS") - rss_before < 64 * 1024
        assert [c["name"] for c in admin.client_list()] == [""]
    finally:
        if sock is not None:
            sock.close()
        server.stop()


def test_a_stalled_unlimited_client_is_no_longer_read_and_shows_it():
    """Without a normal-class limit (the default) Magpie stops reading a client whose
    replies back up: CLIENT LIST shows its output in omem and events=w (not read)."""
    server = start_magpie()
    sock = None
    try:
        admin = server.client(protocol=2)
        admin.set("big", b"v" * (4 * 1024 * 1024))
        sock = _stalled(server.port)
        sock.sendall(_command("CLIENT", "SETNAME", "stalled") + _command("GET", "big") * 4)

        def row() -> dict:
            return next((c for c in admin.client_list() if c["name"] == "stalled"), {"events": "?"})

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and row()["events"] != "w":
            time.sleep(0.05)
        fields = row()
        assert fields["events"] == "w"
        assert int(fields["omem"]) > 1024 * 1024
        assert int(fields["oll"]) == -(-int(fields["omem"]) // 16384)
        assert int(fields["tot-mem"]) > int(fields["omem"])
    finally:
        if sock is not None:
            sock.close()
        server.stop()


def test_query_buffer_limit_is_logged_and_the_server_carries_on():
    server = start_magpie("--client-query-buffer-limit", "1mb", "--proto-max-bulk-len", "8mb")
    try:
        sock = socket.create_connection(("127.0.0.1", server.port))
        with contextlib.suppress(OSError):
            sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000000\r\n" + b"\x00\r\n\"" * 700_000)
        sock.settimeout(10)
        with contextlib.suppress(OSError):
            assert sock.recv(100) == b""
        sock.close()
        log = server.log()
        assert "Closing client that reached max query buffer length: id=" in log
        assert '(qbuf initial bytes: "' + '\\x00\\r\\n\\"' * 16 + '")' in log
        assert server.client().ping()
    finally:
        server.stop()
