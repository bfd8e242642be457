"""Protocol edge cases over a raw socket: what telnet users, buggy clients and attackers send."""

from __future__ import annotations

import time

import pytest
from conftest import RawConnection
from servers import start_magpie


def test_inline_ping_as_typed_in_telnet(raw):
    raw.send(b"PING\r\n")
    assert raw.read_until(b"\r\n") == b"+PONG\r\n"


def test_inline_with_quotes_and_bare_newline(raw):
    raw.send(b'SET k "hello world"\nGET k\n')
    assert raw.read_until(b"world\r\n") == b"+OK\r\n$11\r\nhello world\r\n"


def test_request_split_across_packets(raw):
    data = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
    for i in range(0, len(data), 3):
        raw.send(data[i : i + 3])
        time.sleep(0.002)
    assert raw.read_until(b"value\r\n") == b"+OK\r\n$5\r\nvalue\r\n"


def test_binary_value_containing_crlf_round_trips(raw):
    value = b"a\r\nb\r\n\x00\xff*1\r\n$4\r\n"
    raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$%d\r\n%b\r\n" % (len(value), value))
    assert raw.read_until(b"\r\n") == b"+OK\r\n"
    raw.send(b"*2\r\n$3\r\nGET\r\n$1\r\nb\r\n")
    expected = b"$%d\r\n%b\r\n" % (len(value), value)
    assert raw.read_exactly(len(expected)) == expected


def test_one_megabyte_value(raw):
    value = bytes(range(256)) * 4096
    raw.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%b\r\n" % (len(value), value))
    assert raw.read_until(b"\r\n") == b"+OK\r\n"
    raw.send(b"GET big\r\n")
    expected = b"$%d\r\n%b\r\n" % (len(value), value)
    assert raw.read_exactly(len(expected)) == expected


def test_pipeline_answers_in_order(raw):
    raw.send(b"".join(b"*2\r\n$4\r\nECHO\r\n$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(200)))
    expected = b"".join(b"$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(200))
    assert raw.read_exactly(len(expected)) == expected


@pytest.mark.parametrize(
    "payload, error",
    [
        (b"*1\r\nxPING\r\n", b"-ERR Protocol error: expected '$', got 'x'\r\n"),
        (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$600000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b'GET "k\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ],
)
def test_malformed_input_gets_protocol_error_and_close(magpie, payload, error):
    conn = RawConnection(magpie.port)
    conn.send(payload)
    assert conn.read_all() == error
    conn.close()


def test_protocol_error_does_not_disturb_other_clients(magpie):
    good = RawConnection(magpie.port)
    bad = RawConnection(magpie.port)
    good.send(b"SET shared 1\r\n")
    assert good.read_until(b"\r\n") == b"+OK\r\n"
    bad.send(b"*1\r\n$-7\r\n")
    assert bad.read_all().startswith(b"-ERR Protocol error")
    good.send(b"GET shared\r\n")
    assert good.read_until(b"1\r\n") == b"$1\r\n1\r\n"
    good.close()
    bad.close()


def test_oversized_inline_request_is_refused(raw):
    raw.send(b"A" * (80 * 1024))
    assert raw.read_all() == b"-ERR Protocol error: too big inline request\r\n"


@pytest.mark.parametrize("line", [b"PING\x00\r\n", b"\x00\n", b'PING "a\x00b"\r\n', b"SET k \x00v\r\n"])
def test_inline_nul_waits_like_redis_and_never_stalls_others(magpie, line):
    """Regression: a NUL outside quotes sent the inline splitter into an endless loop.
    Redis's strchr stops at the NUL, so the line never completes: the client waits until
    its request is too big, and every other client is served meanwhile."""
    bad = RawConnection(magpie.port)
    bad.send(line)
    good = magpie.client()
    assert good.set("nul-probe", "1") and good.incr("nul-probe") == 2
    bad.send(b"A" * (70 * 1024))
    assert bad.read_all() == b"-ERR Protocol error: too big inline request\r\n"
    assert good.get("nul-probe") == b"2"
    good.close()
    bad.close()


def test_bulk_length_limit_follows_config():
    server = start_magpie("--proto-max-bulk-len", "2mb")
    try:
        conn = RawConnection(server.port)
        conn.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        assert conn.read_all() == b"-ERR Protocol error: invalid bulk length\r\n"
        assert server.client().ping()
    finally:
        server.stop()


def test_query_buffer_limit_closes_the_client():
    server = start_magpie("--client-query-buffer-limit", "1mb", "--proto-max-bulk-len", "8mb")
    try:
        conn = RawConnection(server.port)
        conn.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000000\r\n")
        try:
            for _ in range(4):
                conn.send(b"x" * 500_000)
        except OSError:
            pass
        assert conn.read_all() == b""  # as Redis: closed without a reply
        assert "Closing client that reached max query buffer length" in server.log()
        assert server.client().ping()
    finally:
        server.stop()


@pytest.mark.parametrize(
    "request_line, reply",
    [
        (b"FOO bar baz", b"-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n"),
        (b"FOO", b"-ERR unknown command 'FOO', with args beginning with: \r\n"),
        (b"GET", b"-ERR wrong number of arguments for 'get' command\r\n"),
        (b"GET a b", b"-ERR wrong number of arguments for 'get' command\r\n"),
        (b"CONFIG", b"-ERR wrong number of arguments for 'config' command\r\n"),
        (b"CONFIG GET", b"-ERR wrong number of arguments for 'config|get' command\r\n"),
        (b"CONFIG NOPE", b"-ERR unknown subcommand 'NOPE'. Try CONFIG HELP.\r\n"),
    ],
)
def test_unknown_command_and_arity_errors_use_redis_text(raw, request_line, reply):
    raw.send(request_line + b"\r\n")
    assert raw.read_until(b"\r\n") == reply


def test_quit_replies_then_closes(raw):
    raw.send(b"QUIT\r\n")
    assert raw.read_all() == b"+OK\r\n"


@pytest.fixture(scope="module")
def pure():
    server = start_magpie(env={"MAGPIE_PURE_PYTHON_PARSER": "1"})
    yield server
    server.stop()


class TestWithoutHiredis:
    """The same server with the pure-Python parser only, as on a machine without hiredis."""

    def test_pipeline_and_split_requests(self, pure):
        conn = RawConnection(pure.port)
        data = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n" + b"GET k\r\n" * 3
        for i in range(0, len(data), 5):
            conn.send(data[i : i + 5])
        expected = b"+OK\r\n" + b"$4\r\na\r\nb\r\n" * 3
        assert conn.read_exactly(len(expected)) == expected
        conn.close()

    def test_redis_py_over_both_protocols(self, pure):
        for protocol in (2, 3):
            client = pure.client(protocol=protocol)
            assert client.set("x", "1") and client.incr("x") == 2
            client.close()

    def test_malformed_input(self, pure):
        conn = RawConnection(pure.port)
        conn.send(b"*1\r\n+PING\r\n")
        assert conn.read_all() == b"-ERR Protocol error: expected '$', got '+'\r\n"
        conn.close()


# -- found by the protocol fuzzer (tests/fuzz_protocol.py); each reply is Redis 7.0's for the same bytes


@pytest.fixture(params=["hiredis", "pure"])
def any_parser(request):
    """The shared server (hiredis in front) and the one with the pure-Python parser only."""
    return request.getfixturevalue("magpie" if request.param == "hiredis" else "pure")


def _unknown(name: bytes) -> bytes:
    return b"-ERR unknown command '%b', with args beginning with: \r\n" % name


@pytest.mark.parametrize(
    "payload, expected",
    [
        (  # hiredis read the map as a dict: data_received raised KeyError and dropped the client
            b"*1\r\n$4\r\nPING\r\n%1\r\n$1\r\na\r\n$1\r\nb\r\n",
            b"+PONG\r\n" + b"".join(_unknown(w) for w in [b"%1", b"$1", b"a", b"$1", b"b"]),
        ),
        (  # hiredis read the push as a request and ran PING
            b"*1\r\n$4\r\nPING\r\n>1\r\n$4\r\nPING\r\n",
            b"+PONG\r\n" + _unknown(b">1") + _unknown(b"$4") + b"+PONG\r\n",
        ),
    ],
)
def test_resp3_aggregate_after_a_request_is_an_inline_command(any_parser, payload, expected):
    conn = RawConnection(any_parser.port)
    conn.send(payload)
    assert conn.read_exactly(len(expected)) == expected
    conn.send(b"PING\r\n")
    assert conn.read_until(b"\r\n") == b"+PONG\r\n"
    conn.close()


def test_array_length_hiredis_cannot_allocate_is_refused_after_earlier_requests(any_parser):
    """hiredis allocates a declared array up front: MemoryError dropped the client unanswered."""
    conn = RawConnection(any_parser.port)
    conn.send(b"*1\r\n$4\r\nPING\r\n*4294967295\r\n")
    assert conn.read_all() == b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"
    conn.close()


@pytest.mark.parametrize(
    "header",
    [b"*2147483647\r\n", b"*1\r\n~2147483647\r\n", b"*1\r\n*1\r\n>2000000000\r\n", b"*1\r\n|2000000000\r\n"],
    ids=["array", "nested-set", "nested-push", "nested-attribute"],
)
def test_long_array_headers_do_not_stall_the_server(any_parser, header):
    """hiredis allocated a declared length at once and freeing it walked every slot: each of
    these headers held the server for seconds (a nested RESP3 set or push for a minute);
    Redis grows arguments as they come."""
    bombs = [RawConnection(any_parser.port) for _ in range(2)]
    for bomb in bombs:
        bomb.send(b"*1\r\n$4\r\nPING\r\n" + header)
    probe = RawConnection(any_parser.port)  # its 5 s socket timeout is the liveness deadline
    probe.send(b"PING\r\n")
    assert probe.read_until(b"\r\n") == b"+PONG\r\n"
    for conn in [*bombs, probe]:
        conn.close()


@pytest.mark.parametrize(
    "first, then",
    [
        (b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n", b"*1\r\n$4\r\nPING\r\n"),
        (b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n", b"PING\r\n"),
        (b"*1\r\n$4\r\nPING\r\n*3\r\n$4\r\nECHO\r\n", b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"),
    ],
)
def test_a_read_ending_after_an_argument_continues_that_request(any_parser, first, then):
    """hiredis took such a read for a whole one and ran the next read's requests on their own."""
    conn = RawConnection(any_parser.port)
    conn.send(first)
    assert conn.read_until(b"\r\n") == b"+PONG\r\n"  # the first read is served: two reads
    conn.send(then)
    assert conn.read_all() == b"-ERR Protocol error: expected '$', got '%b'\r\n" % then[:1]
    conn.close()


def test_a_read_holding_only_a_multibulk_header_continues_that_request(any_parser):
    conn = RawConnection(any_parser.port)
    conn.send(b"*2\r\n")
    time.sleep(0.2)  # so that the server reads the header on its own (no assertion on time)
    conn.send(b"*1\r\n$4\r\nPING\r\n")
    assert conn.read_all() == b"-ERR Protocol error: expected '$', got '*'\r\n"
    conn.close()


def test_nested_array_in_a_request_is_refused_at_once(any_parser):
    """hiredis read it as a nested array and waited for more, where Redis refuses it."""
    conn = RawConnection(any_parser.port)
    conn.send(b"*1\r\n$4\r\nPING\r\n*2\r\n*1\r\n$4\r\nPING\r\n")
    assert conn.read_all() == b"+PONG\r\n-ERR Protocol error: expected '$', got '*'\r\n"
    conn.close()


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b"*2\r!$4\r\nECHO\r\n$2\r\nhi\r\n", b"$2\r\nhi\r\n"),  # the byte after CR is skipped
        (b"*1\r\n$4\rping\xd9\r\n", _unknown(b"ing\xd9")),  # ... even where it starts the bulk
    ],
)
def test_header_lines_end_at_the_first_cr_like_redis(any_parser, payload, expected):
    conn = RawConnection(any_parser.port)
    conn.send(payload)
    assert conn.read_exactly(len(expected)) == expected
    conn.close()


@pytest.mark.parametrize(
    "header, error",
    [(b"*1\x00\r\n", b"too big mbulk count string"), (b"*1\r\n$4\x00\r\n", b"too big bulk count string")],
)
def test_nul_in_a_header_hides_its_end_until_too_big(any_parser, header, error):
    """Redis finds the CR with strchr, which stops at a NUL: the line never ends."""
    conn = RawConnection(any_parser.port)
    conn.send(header + b"PING\r\n")
    conn.send(b"x" * (70 * 1024))
    assert conn.read_all() == b"-ERR Protocol error: %b\r\n" % error
    conn.close()


@pytest.mark.parametrize(
    "count, reply",
    [
        (b"-9223372036854775808", b"+PONG\r\n"),  # a count <= 0 is skipped
        (b"-9223372036854775809", b"-ERR Protocol error: invalid multibulk length\r\n"),
    ],
)
def test_multibulk_count_must_fit_in_64_bits(any_parser, count, reply):
    """Redis reads it with string2ll, which refuses what overflows; it was skipped as <= 0."""
    conn = RawConnection(any_parser.port)
    conn.send(b"*%b\r\n*1\r\n$4\r\nPING\r\n" % count)
    assert conn.read_until(b"\r\n") == reply
    conn.close()


def test_unexpected_byte_is_quoted_as_sent(any_parser):
    conn = RawConnection(any_parser.port)
    conn.send(b"*1\r\n\xdb$4\r\nping\r\n")  # it was sent UTF-8 encoded, two bytes
    assert conn.read_all() == b"-ERR Protocol error: expected '$', got '\xdb'\r\n"
    conn.close()


def test_vertical_tab_and_form_feed_do_not_split_inline_arguments(any_parser):
    """sdssplitargs skips any isspace() between arguments but ends one only at space/tab/CR/LF."""
    conn = RawConnection(any_parser.port)
    conn.send(b"ECHO a\x0bb\r\n\x0bPING\x0c\r\n")
    expected = b"$3\r\na\x0bb\r\n" + _unknown(b"PING\x0c")
    assert conn.read_exactly(len(expected)) == expected
    conn.close()
