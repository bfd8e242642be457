"""Client limits, differentially: the same hostile or careless client against Magpie and
against a real redis-server, and the same bytes, closes and counters from both.

Every test runs its scenario on both servers of one pair (started once for the module)
and compares what a client can observe: the reply bytes, whether the connection was
closed, INFO counters, CLIENT LIST fields, the server's log line. Settings are changed
with CONFIG SET and put back afterwards.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from servers import ServerProcess, redis_server_path, start_magpie, start_redis

pytestmark = pytest.mark.skipif(not redis_server_path(), reason="redis-server is not installed")

Pair = tuple[ServerProcess, ServerProcess]


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    ours = start_magpie()
    reference = start_redis()
    yield ours, reference
    ours.stop()
    reference.stop()


def both(pair: Pair, scenario: Callable[[ServerProcess], object]) -> tuple[object, object]:
    """Run ``scenario`` on Magpie and on Redis; (Magpie's outcome, Redis's outcome)."""
    return scenario(pair[0]), scenario(pair[1])


@contextlib.contextmanager
def configured(pair: Pair, *settings: str) -> Iterator[None]:
    """CONFIG SET name value ... on both servers, restored on the way out."""
    names = settings[::2]
    saved = []
    for server in pair:
        admin = server.client(protocol=2)
        saved.append([admin.config_get(name)[name] for name in names])
        admin.execute_command("CONFIG", "SET", *settings)
        admin.close()
    try:
        yield
    finally:
        password = dict(zip(names, settings[1::2], strict=True)).get("requirepass") or None
        for server, values in zip(pair, saved, strict=True):
            admin = server.client(protocol=2, password=password)
            admin.execute_command("CONFIG", "SET", *[x for nv in zip(names, values, strict=True) for x in nv])
            admin.close()


def connect(server: ServerProcess, source: str | None = None, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket()
    if rcvbuf is not None:  # a small window, so the server's own buffers fill quickly
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source is not None:
        sock.bind((source, 0))
    sock.connect(("127.0.0.1", server.port))
    return sock


def exchange(sock: socket.socket, payload: bytes, quiet: float = 1.0) -> tuple[bytes, bool]:
    """Send ``payload``; read until the server closes the connection (True) or stays
    quiet for ``quiet`` seconds (False). A send refused by a closed socket is not an error:
    the server may close in the middle of a payload it will not read."""
    with contextlib.suppress(OSError):
        sock.sendall(payload)
    sock.settimeout(quiet)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data, False
        except OSError:  # reset: the server closed with our bytes unread
            return data, True
        if not chunk:
            return data, True
        data += chunk


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Wait for the server to close ``sock``, reading nothing (a stalled client's window
    stays shut): poll reports the peer's close even with unread bytes pending."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(seconds * 1000))


def wait_for(predicate: Callable[[], object], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def command(*args: bytes | str) -> bytes:
    parts = [a.encode() if isinstance(a, str) else a for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in parts)


def stat(server: ServerProcess, section: str, field: str) -> int:
    admin = server.client(protocol=2)
    try:
        return int(admin.info(section)[field])
    finally:
        admin.close()


def client_fields(line: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in line.split())


# -- protocol limits: the same bytes, the same error, the same close -----------------------

MALFORMED = [
    pytest.param(b"*abc\r\n", id="invalid-multibulk-length"),
    pytest.param(b"*2147483648\r\n", id="multibulk-length-over-int-max"),
    pytest.param(b"PING\r\n*1\r\n$1048577\r\n", id="proto-max-bulk-len"),
    pytest.param(b"*1\r\n$-1\r\n", id="negative-bulk-length"),
    pytest.param(b"A" * 70_000, id="too-big-inline-request"),
    pytest.param(b'SET k "v\r\n', id="unbalanced-quotes"),
    pytest.param(b"GET 'k'x\r\n", id="closing-quote-not-followed-by-space"),
    pytest.param(b"*" + b"1" * 70_000, id="too-big-mbulk-count-string"),
    pytest.param(b"*1\r\n$" + b"1" * 70_000, id="too-big-bulk-count-string"),
    pytest.param(b"*1\r\nxPING\r\n", id="expected-dollar"),
    pytest.param(b"*-1\r\n*0\r\nPING\r\n", id="empty-multibulks-are-skipped"),
]


@pytest.mark.parametrize("payload", MALFORMED)
def test_malformed_requests_get_redis_bytes_and_close(pair, payload):
    with configured(pair, "proto-max-bulk-len", "1mb"):
        ours, reference = both(pair, lambda server: exchange(connect(server), payload))
    assert ours == reference


UNAUTHENTICATED = [
    pytest.param(b"*11\r\n", id="multibulk-over-10"),
    pytest.param(command(*["ECHO"] * 10), id="multibulk-of-10-is-fine"),
    pytest.param(b"*2\r\n$4\r\nECHO\r\n$16385\r\n", id="bulk-over-16384"),
    pytest.param(command("ECHO", b"e" * 16384), id="bulk-of-16384-is-fine"),
    pytest.param(command("AUTH", "s3cret") + command("ECHO", b"e" * 20000), id="auth-lifts-the-bulk-limit"),
    pytest.param(b"AUTH s3cret\r\n" + command(*["ECHO"] * 11), id="inline-auth-lifts-the-count-limit"),
    pytest.param(command("AUTH", "wrong") + b"*11\r\n", id="failed-auth-keeps-the-limits"),
]


@pytest.mark.parametrize("payload", UNAUTHENTICATED)
def test_unauthenticated_limits_under_requirepass(pair, payload):
    with configured(pair, "requirepass", "s3cret"):
        ours, reference = both(pair, lambda server: exchange(connect(server), payload))
    assert ours == reference


def test_query_buffer_limit_closes_silently_and_logs_it(pair):
    """Over client-query-buffer-limit: no reply at all, the connection closed, Redis's log line."""
    header = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000000\r\n"

    def scenario(server: ServerProcess) -> tuple[bytes, bool]:
        return exchange(connect(server), header + b"x" * 2_500_000)

    with configured(pair, "client-query-buffer-limit", "1mb", "proto-max-bulk-len", "8mb"):
        ours, reference = both(pair, scenario)
    assert ours == reference == (b"", True)
    pattern = re.compile(
        r"Closing client that reached max query buffer length: id=\d+ addr=127\.0\.0\.1:\d+ .*"
        r"cmd=NULL .*\(qbuf initial bytes: \"x{64}\"\)"
    )
    for server in pair:
        assert wait_for(lambda server=server: pattern.search(server.log())), server.kind


def test_query_buffer_limit_holds_for_a_blocked_client(pair):
    """A blocked client's pipeline waits in its query buffer, which is still bounded."""

    def scenario(server: ServerProcess) -> tuple[bytes, bool]:
        sock = connect(server)
        sock.sendall(command("BLPOP", "never-pushed", "0"))
        return exchange(sock, command("ECHO", b"p" * 1000) * 2000)

    with configured(pair, "client-query-buffer-limit", "1mb"):
        ours, reference = both(pair, scenario)
    assert ours == reference == (b"", True)


# -- maxclients -----------------------------------------------------------------------------


def test_maxclients_refuses_with_redis_line_and_counts_it(pair):
    def scenario(server: ServerProcess) -> tuple[object, ...]:
        admin = server.client(protocol=2)
        connected = int(admin.info("clients")["connected_clients"])
        rejected = int(admin.info("stats")["rejected_connections"])
        received = int(admin.info("stats")["total_connections_received"])
        admin.config_set("maxclients", str(connected + 1))
        try:
            last = connect(server)
            admitted = exchange(last, b"PING\r\n", quiet=0.5)
            refused = exchange(connect(server), b"PING\r\n")
            counters = (
                int(admin.info("stats")["rejected_connections"]) - rejected,
                int(admin.info("stats")["total_connections_received"]) - received,
                int(admin.info("clients")["maxclients"]) - connected,
            )
            admin.config_set("maxclients", str(connected + 2))  # applies to the next connection
            again = exchange(connect(server), b"PING\r\n", quiet=0.5)
        finally:
            admin.config_set("maxclients", "10000")
            admin.close()
        return admitted, refused, counters, again

    ours, reference = both(pair, scenario)
    assert ours == reference
    assert ours[1] == (b"-ERR max number of clients reached\r\n", True)
    assert ours[2] == (1, 1, 1)


def test_a_low_open_files_limit_lowers_maxclients():
    """Redis keeps 32 descriptors for itself and lowers maxclients to fit `ulimit -n`."""
    wrapper = ("prlimit", "--nofile=128:128", "--")
    ours = start_magpie(wrapper=wrapper)
    reference = start_redis(wrapper=wrapper)
    try:
        assert stat(ours, "clients", "maxclients") == stat(reference, "clients", "maxclients") == 96
        for server in (ours, reference):
            assert "maxclients has been reduced to 96 to compensate for low ulimit" in server.log()
    finally:
        ours.stop()
        reference.stop()


# -- protected mode ---------------------------------------------------------------------------


def test_protected_mode_refuses_non_loopback_peers_like_redis(pair):
    """Redis 7.0 admits only the peer addresses 127.0.0.1 and ::1 while the default user has
    no password, whatever `bind` says; 127.0.0.2 is loopback to Linux, not to Redis."""

    def scenario(server: ServerProcess) -> tuple[object, ...]:
        rejected = stat(server, "stats", "rejected_connections")
        received = stat(server, "stats", "total_connections_received")
        denied = exchange(connect(server, source="127.0.0.2"), b"PING\r\n")
        local = exchange(connect(server, source="127.0.0.1"), b"PING\r\n", quiet=0.5)
        counters = (
            stat(server, "stats", "rejected_connections") - rejected,
            stat(server, "stats", "total_connections_received") - received,
        )
        return denied, local, counters

    ours, reference = both(pair, scenario)
    assert ours == reference
    denied, local, counters = ours
    assert denied[0].startswith(b"-DENIED Redis is running in protected mode") and denied[1]
    assert local == (b"+PONG\r\n", False)
    assert counters == (1, 3)  # the refusal, then the local client and the two INFO clients


@pytest.mark.parametrize(
    "settings, expected",
    [
        (("protected-mode", "no"), b"+PONG\r\n"),
        (("requirepass", "s3cret"), b"-NOAUTH Authentication required.\r\n"),
    ],
    ids=["protected-mode-off", "password-set"],
)
def test_protected_mode_lets_outsiders_in_when_off_or_with_a_password(pair, settings, expected):
    with configured(pair, *settings):
        ours, reference = both(pair, lambda s: exchange(connect(s, source="127.0.0.2"), b"PING\r\n", 0.5))
    assert ours == reference == (expected, False)


def test_protected_mode_follows_the_default_users_password_set_by_acl(pair):
    """What Redis checks is the default user's nopass flag, so ACL SETUSER default >pw lifts
    protected mode as requirepass does, and nopass brings it back."""

    def scenario(server: ServerProcess) -> tuple[object, ...]:
        admin = server.client(protocol=2)
        admin.execute_command("ACL", "SETUSER", "default", ">acl-pw")
        with_password = exchange(connect(server, source="127.0.0.2"), b"PING\r\n", 0.5)
        admin.execute_command("AUTH", "acl-pw")
        admin.execute_command("ACL", "SETUSER", "default", "nopass")
        without = exchange(connect(server, source="127.0.0.2"), b"PING\r\n")
        admin.close()
        return with_password, without[0][:6], without[1]

    ours, reference = both(pair, scenario)
    assert ours == reference == ((b"-NOAUTH Authentication required.\r\n", False), b"-DENIE", True)


# -- tcp-keepalive ------------------------------------------------------------------------------


def _keepalive_timer(server: ServerProcess, sock: socket.socket) -> float | None:
    """The keepalive timer ss shows on the server's side of ``sock``, in seconds, or None."""
    client_port = sock.getsockname()[1]
    shown = subprocess.run(
        ["ss", "-tnoH", "state", "established", f"( sport = :{server.port} and dport = :{client_port} )"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"timer:\(keepalive,(?:(\d+)min)?(?:(\d+)sec)?(?:(\d+)ms)?", shown)
    if match is None:
        return None
    minutes, seconds, millis = (int(g) if g else 0 for g in match.groups())
    return minutes * 60 + seconds + millis / 1000


@pytest.mark.skipif(not subprocess.run(["which", "ss"], capture_output=True).returncode == 0, reason="no ss")
@pytest.mark.parametrize("keepalive", ["300", "100", "0"])
def test_tcp_keepalive_arms_the_server_side_timer(pair, keepalive):
    def scenario(server: ServerProcess) -> float | None:
        sock = connect(server)
        assert exchange(sock, b"PING\r\n", quiet=0.3) == (b"+PONG\r\n", False)
        try:
            return _keepalive_timer(server, sock)
        finally:
            sock.close()

    with configured(pair, "tcp-keepalive", keepalive):
        ours, reference = both(pair, scenario)
    if keepalive == "0":
        assert ours is None and reference is None
    else:
        for timer in (ours, reference):
            assert timer is not None and int(keepalive) - 30 < timer <= int(keepalive)


# -- timeout ---------------------------------------------------------------------------------


def test_idle_timeout_spares_the_clients_redis_spares(pair):
    """`timeout 1`: an idle client and one inside MULTI are closed; subscribers, MONITOR and
    blocked clients (with or without their own timeout) stay."""

    def scenario(server: ServerProcess) -> tuple[list[str], bool]:
        setups = {
            "idle": [command("PING")],
            "multi": [command("MULTI"), command("PING")],
            "subscriber": [command("SUBSCRIBE", "news")],
            "monitor": [command("MONITOR")],
            "blocked": [command("BLPOP", "never-pushed", "0")],
            "blocked-for-long": [command("BLPOP", "never-pushed-either", "3600")],
        }
        socks = {}
        for name, requests in setups.items():
            sock = connect(server)
            sock.sendall(command("CLIENT", "SETNAME", name) + b"".join(requests))
            socks[name] = sock
        time.sleep(0.3)  # all of it read before the timeout is switched on
        admin = server.client(protocol=2)
        admin.config_set("timeout", "1")
        admin.close()
        try:
            closed = closed_within(socks["idle"], 15) and closed_within(socks["multi"], 15)
            time.sleep(1.5)  # another pass of the once-a-second check, for the ones that stay
            admin = server.client(protocol=2)
            names = sorted(c["name"] for c in admin.client_list() if c["name"])
        finally:
            admin.config_set("timeout", "0")
            admin.close()
            for sock in socks.values():
                sock.close()
        return names, closed

    ours, reference = both(pair, scenario)
    assert ours == reference
    assert ours == (["blocked", "blocked-for-long", "monitor", "subscriber"], True)


# -- client-output-buffer-limit -------------------------------------------------------------------


OBUF_SETTINGS = [
    "normal 1mb 512kb 10 replica 1 2 3",
    "slave 1gb 2gb 30",
    "pubsub 1k 1k",
    "master 1 2 3",
    "normal 1mb 2mb -3",
    "normal 1x 2 3",
    "normal 1mb 2mb 3.5",
    "Normal 10mb 20MB 3 PUBSUB 4kb 2KB 1",
    "",
    "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
]


def test_config_set_and_get_output_buffer_limits(pair):
    """Redis's forms: classes named in any case, `replica` for `slave`, memory units, a
    partial setting changes only the classes it names, and Redis's error texts."""

    def scenario(server: ServerProcess) -> list[object]:
        admin = server.client(protocol=2)
        seen: list[object] = [admin.config_get("client-output-buffer-limit")]
        for value in OBUF_SETTINGS:
            try:
                seen.append(admin.execute_command("CONFIG", "SET", "client-output-buffer-limit", value))
            except redis.ResponseError as exc:
                seen.append(str(exc))
            seen.append(admin.config_get("client-output-buffer-limit"))
        admin.close()
        return seen

    ours, reference = both(pair, scenario)
    assert ours == reference


def _populate(server: ServerProcess, keys: int) -> None:
    admin = server.client(protocol=2)
    pipe = admin.pipeline(transaction=False)
    for i in range(keys):
        pipe.set(f"key:{i:08d}", "v")
    pipe.execute()
    admin.close()


def _flush(pair: Pair) -> None:
    for server in pair:
        admin = server.client(protocol=2)
        admin.flushall()
        admin.close()


def _obuf_log_line(server: ServerProcess, command_name: str) -> bool:
    """Redis's line: "scheduled to be closed ASAP" when output was being added, "closed"
    from its once-a-second check."""
    pattern = (
        rf"Client id=\d+ addr=127\.0\.0\.1:\d+ .* cmd={command_name} .*"
        r"(scheduled to be closed ASAP|closed) for overcoming of output buffer limits\."
    )
    return bool(re.search(pattern, server.log()))


def test_normal_hard_limit_disconnects_a_client_pipelining_keys_without_reading(pair):
    def scenario(server: ServerProcess) -> bool:
        _populate(server, 20_000)  # KEYS * answers about 300 KB
        sock = connect(server, rcvbuf=4096)
        with contextlib.suppress(OSError):
            for _ in range(40):  # up to 120 MB of replies nobody reads
                sock.sendall(command("KEYS", "*") * 10)
                time.sleep(0.01)
        return closed_within(sock, 15)

    try:
        with configured(pair, "client-output-buffer-limit", "normal 1mb 0 0"):
            ours, reference = both(pair, scenario)
    finally:
        _flush(pair)
    assert ours is True and reference is True
    for server in pair:
        assert wait_for(lambda server=server: _obuf_log_line(server, "keys")), server.kind


def test_normal_soft_limit_disconnects_after_its_seconds_over_it(pair):
    """Over the soft limit only: the client is dropped once it has stayed over it for more
    than the soft seconds (its own PINGs add output meanwhile; the cron looks too)."""

    def scenario(server: ServerProcess) -> bool:
        admin = server.client(protocol=2)
        admin.set("big", b"b" * (4 * 1024 * 1024))
        admin.close()
        sock = connect(server, rcvbuf=4096)
        sock.sendall(command("GET", "big") * 3)  # 12 MB, more than the kernel buffers hold
        deadline = time.monotonic() + 20
        with contextlib.suppress(OSError):
            while time.monotonic() < deadline:
                sock.sendall(command("PING"))
                if closed_within(sock, 0.25):
                    return True
        return closed_within(sock, 1)

    try:
        with configured(pair, "client-output-buffer-limit", "normal 0 1mb 1"):
            ours, reference = both(pair, scenario)
    finally:
        _flush(pair)
    assert ours is True and reference is True
    for server in pair:
        assert wait_for(lambda server=server: _obuf_log_line(server, "ping")), server.kind


class _Publisher(threading.Thread):
    """Publishes 64 KB messages until told to stop or nobody receives them."""

    def __init__(self, server: ServerProcess, channel: str) -> None:
        super().__init__(daemon=True)
        self.client = server.client(protocol=2)
        self.channel = channel
        self.receivers: list[int] = []
        self.stop = False

    def run(self) -> None:
        payload = b"m" * 65536
        while not self.stop:
            receivers = self.client.publish(self.channel, payload)
            self.receivers.append(receivers)
            if not receivers:
                return


def _stalled_subscriber(server: ServerProcess, channel: str, name: str) -> socket.socket:
    sock = connect(server, rcvbuf=4096)
    sock.sendall(command("CLIENT", "SETNAME", name) + command("SUBSCRIBE", channel))
    reply, closed = exchange(sock, b"", quiet=0.5)
    assert reply == b"+OK\r\n*3\r\n$9\r\nsubscribe\r\n$%d\r\n%b\r\n:1\r\n" % (len(channel), channel.encode())
    assert not closed
    return sock


def test_pubsub_hard_limit_disconnects_a_stalled_subscriber(pair):
    def scenario(server: ServerProcess) -> tuple[int, int]:
        sock = _stalled_subscriber(server, "firehose", "stalled")
        publisher = _Publisher(server, "firehose")
        publisher.start()
        publisher.join(60)
        publisher.stop = True
        sock.close()
        return publisher.receivers[0], publisher.receivers[-1]

    with configured(pair, "client-output-buffer-limit", "pubsub 1mb 0 0"):
        ours, reference = both(pair, scenario)
    assert ours == reference == (1, 0)
    for server in pair:
        assert wait_for(lambda server=server: "name=stalled" in server.log()), server.kind


def test_a_stalled_subscriber_shows_growing_output_memory(pair):
    """CLIENT LIST omem/oll grow while a subscriber does not read (under the default pubsub
    limits, well below them), events=rw, and INFO clients reports the recent peak."""

    def scenario(server: ServerProcess) -> tuple[bool, bool, str, bool]:
        sock = _stalled_subscriber(server, "slow", "slow-reader")
        admin = server.client(protocol=2)

        def fields() -> dict[str, str]:
            (line,) = [c for c in admin.client_list() if c["name"] == "slow-reader"]
            return line

        try:
            payload = b"s" * 65536
            for _ in range(200):  # until the kernel buffers are full and the server's fill
                admin.publish("slow", payload)
                if int(fields()["omem"]) > 0:
                    break
            first = fields()
            for _ in range(8):
                admin.publish("slow", payload)
            later = fields()
            grew = int(later["omem"]) >= int(first["omem"]) + 8 * 65536 and int(later["oll"]) > int(first["oll"])
            peak = wait_for(
                lambda: int(admin.info("clients")["client_recent_max_output_buffer"]) >= int(later["omem"]), 5
            )
            return int(first["omem"]) > 0, grew, later["events"], peak
        finally:
            sock.close()
            admin.close()

    ours, reference = both(pair, scenario)
    assert ours == reference == (True, True, "rw", True)


# -- INFO clients and CLIENT LIST ---------------------------------------------------------------


def test_info_clients_has_redis_fields_in_redis_order(pair):
    def scenario(server: ServerProcess) -> list[str]:
        admin = server.client(protocol=2)
        fields = list(admin.info("clients"))
        admin.close()
        return fields

    ours, reference = both(pair, scenario)
    assert ours == reference


def test_info_clients_counts_blocked_clients_and_their_timeouts(pair):
    def scenario(server: ServerProcess) -> tuple[int, int]:
        waiting = [connect(server) for _ in range(3)]
        waiting[0].sendall(command("BLPOP", "nothing", "0"))
        waiting[1].sendall(command("BLPOP", "nothing", "100"))
        waiting[2].sendall(command("BRPOP", "nothing", "0.5"))  # times out meanwhile
        admin = server.client(protocol=2)
        try:
            assert wait_for(lambda: int(admin.info("clients")["blocked_clients"]) == 2)
            info = admin.info("clients")
            return info["blocked_clients"], info["clients_in_timeout_table"]
        finally:
            admin.close()
            for sock in waiting:
                sock.close()

    ours, reference = both(pair, scenario)
    assert ours == reference == (2, 1)


MEMORY_FIELDS = ("qbuf", "argv-mem", "multi-mem", "obl", "oll", "omem", "multi", "flags")


def test_client_info_memory_fields_match_redis(pair):
    """The caller's own request in qbuf/argv-mem, queued MULTI arguments in multi-mem, an
    incomplete request's arguments in argv-mem and its unread bytes in qbuf."""

    def scenario(server: ServerProcess) -> list[dict[str, str]]:
        admin = server.client(protocol=2)
        partial = connect(server)
        partial.sendall(command("CLIENT", "SETNAME", "partial"))
        partial.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + b"x" * 5000)
        queued = connect(server)
        queued.sendall(command("CLIENT", "SETNAME", "queued") + command("MULTI"))
        queued.sendall(command("SET", "a", "bbbbbbbbbb") + command("GET", "a"))
        try:
            time.sleep(0.3)
            own = client_fields(admin.execute_command("CLIENT", "INFO").decode())
            raw = admin.execute_command("CLIENT", "LIST").decode()
            rows = sorted(
                (r for r in map(client_fields, raw.splitlines()) if r["name"] in ("partial", "queued")),
                key=lambda r: r["name"],
            )
            return [{k: row[k] for k in MEMORY_FIELDS} for row in [own, *rows]]
        finally:
            partial.close()
            queued.close()
            admin.close()

    ours, reference = both(pair, scenario)
    assert ours == reference


def test_client_list_fields_are_redis_fields_in_redis_order(pair):
    def scenario(server: ServerProcess) -> list[str]:
        admin = server.client(protocol=2)
        line = admin.execute_command("CLIENT", "INFO").decode()
        admin.close()
        return [item.split("=", 1)[0] for item in line.split()]

    ours, reference = both(pair, scenario)
    # Magpie adds Redis 7.2's lib-name and lib-ver at the end (docs/compatibility.md).
    assert ours[: len(reference)] == reference
