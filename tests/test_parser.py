"""The request parser and reply encoder on their own: bytes in, values out, no sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magpie.errors import CommandError, ProtocolError, QueryBufferExceeded
from magpie.protocol import encoder, hiredis_reader
from magpie.protocol.parser import PythonRequestParser, RequestParser
from magpie.protocol.replies import NULL_ARRAY, Push, RespSet, Verbatim


def drain(parser) -> list:
    out = []
    while (item := parser.gets()) is not False:
        out.append(item)
    return out


@pytest.fixture(params=["fast", "python"])
def parser(request):
    if request.param == "fast":
        return RequestParser(max_bulk_len=1024 * 1024, max_query_buffer=4 * 1024 * 1024)
    return PythonRequestParser(1024 * 1024, 4 * 1024 * 1024)


def test_pipelined_multibulk_requests_come_out_in_order(parser):
    parser.feed(b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    assert drain(parser) == [[b"PING"], [b"GET", b"k"]]


def test_request_split_at_every_byte(parser):
    data = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nxy\r\n*1\r\n$4\r\nPING\r\n"
    got = []
    for i in range(len(data)):
        parser.feed(data[i : i + 1])
        got += drain(parser)
    assert got == [[b"SET", b"k", b"v\r\nxy"], [b"PING"]]


def test_inline_commands_with_quotes(parser):
    parser.feed(b'SET k "a b\\n" \'c\\\'d\'\r\nPING\n')
    assert drain(parser) == [[b"SET", b"k", b"a b\n", b"c'd"], [b"PING"]]


def test_inline_after_multibulk_in_same_chunk(parser):
    parser.feed(b"*1\r\n$4\r\nPING\r\nECHO hi\r\n*1\r\n$4\r\nPING\r\n")
    assert drain(parser) == [[b"PING"], [b"ECHO", b"hi"], [b"PING"]]


def test_empty_lines_and_empty_multibulk_are_ignored(parser):
    parser.feed(b"\r\n*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n")
    assert drain(parser) == [[b"PING"]]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"*1\r\n+PING\r\n", None),  # hiredis reads '+' as a string; the strict parser refuses it
        (b"*1\r\nxPING\r\n", "expected '$', got 'x'"),
        (b"*abc\r\n", "invalid multibulk length"),
        (b"*1\r\n$-5\r\n", "invalid bulk length"),
        (b"*1\r\n$2000000\r\n", "invalid bulk length"),
        (b'SET "unbalanced\r\n', "unbalanced quotes in request"),
    ],
)
def test_malformed_input_raises_redis_protocol_errors(parser, data, message):
    if message is None:
        if isinstance(parser, RequestParser):
            pytest.skip("hiredis accepts simple strings inside a request; documented leniency")
        message = "expected '$', got '+'"
    parser.feed(data)
    with pytest.raises(ProtocolError) as info:
        drain(parser)
    assert info.value.message == f"ERR Protocol error: {message}"


def test_oversized_inline_request_is_refused(parser):
    parser.feed(b"A" * (70 * 1024))
    with pytest.raises(ProtocolError, match="too big inline request"):
        drain(parser)


@pytest.mark.parametrize("kind", [RequestParser, PythonRequestParser])
def test_query_buffer_limit(kind):
    """Not a protocol error (Redis sends no reply): its own exception, carrying the head of
    the buffered input for the log line."""
    parser = kind(8 * 1024 * 1024, 2 * 1024 * 1024)
    parser.feed(b"*2\r\n$3\r\nSET\r\n$5000000\r\n")
    with pytest.raises(QueryBufferExceeded) as caught:
        for _ in range(5):
            parser.feed(b"x" * 1_000_000)
            drain(parser)
    assert caught.value.head == b"x" * 64
    assert parser.partial_bytes() == 3  # SET was read; its value was still coming


def test_input_fed_while_not_read_is_bounded_by_the_query_buffer_limit():
    """A blocked or paused client's input is fed without being read: it is bounded too."""
    parser = RequestParser(8 * 1024 * 1024, 2 * 1024 * 1024)
    request = b"*2\r\n$4\r\nECHO\r\n$100\r\n" + b"e" * 100 + b"\r\n"
    with pytest.raises(QueryBufferExceeded) as caught:
        for _ in range(20_000):
            parser.feed(request * 10)
    assert caught.value.head == request[:64]
    assert parser.pending() > 2 * 1024 * 1024


def test_input_fed_twice_before_reading_is_all_served():
    parser = RequestParser()
    parser.feed(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO")
    parser.feed(b"\r\n$2\r\nhi\r\n")
    parser.feed(b"*1\r\n$4\r\nPING\r\n")
    assert drain(parser) == [[b"PING"], [b"ECHO", b"hi"], [b"PING"]]
    parser.feed(b"*1\r\n$4\r\nPING\r\n")  # and the fast path takes over again
    assert drain(parser) == [[b"PING"]]


def test_chunk_ending_between_arguments_continues(parser):
    parser.feed(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n")
    first = drain(parser)
    parser.feed(b"$2\r\nhi\r\n")
    assert first + drain(parser) == [[b"PING"], [b"ECHO", b"hi"]]


def test_unauthenticated_clients_get_tighter_limits(parser):
    parser.authenticated = False
    parser.feed(b"*20\r\n")
    with pytest.raises(ProtocolError, match="unauthenticated multibulk length"):
        drain(parser)


@pytest.mark.parametrize(
    "value, resp2, resp3",
    [
        (b"abc", b"$3\r\nabc\r\n", b"$3\r\nabc\r\n"),
        ("OK", b"+OK\r\n", b"+OK\r\n"),
        (5, b":5\r\n", b":5\r\n"),
        (None, b"$-1\r\n", b"_\r\n"),
        (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
        ([b"a", 1], b"*2\r\n$1\r\na\r\n:1\r\n", b"*2\r\n$1\r\na\r\n:1\r\n"),
        ({b"k": 1}, b"*2\r\n$1\r\nk\r\n:1\r\n", b"%1\r\n$1\r\nk\r\n:1\r\n"),
        (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
        (float("inf"), b"$3\r\ninf\r\n", b",inf\r\n"),
        (RespSet([b"a"]), b"*1\r\n$1\r\na\r\n", b"~1\r\n$1\r\na\r\n"),
        (Push([b"a"]), b"*1\r\n$1\r\na\r\n", b">1\r\n$1\r\na\r\n"),
        (Verbatim("hi"), b"$2\r\nhi\r\n", b"=6\r\ntxt:hi\r\n"),
        (CommandError("ERR bad\r\nthing"), b"-ERR bad  thing\r\n", b"-ERR bad  thing\r\n"),
        # a client's bytes decoded with surrogateescape go back as sent (strict UTF-8 raised)
        (b"\xb7x".decode("utf-8", "surrogateescape"), b"+\xb7x\r\n", b"+\xb7x\r\n"),
        ("\ud800", b"+?\r\n", b"+?\r\n"),
    ],
)
def test_encoder_picks_the_wire_form_per_protocol(value, resp2, resp3):
    assert encoder.encode_reply(value, 2) == resp2
    assert encoder.encode_reply(value, 3) == resp3


def test_doubles_use_17_significant_digits():
    assert encoder.format_double(1.1) == b"1.1000000000000001"
    assert encoder.format_double(3.0) == b"3"


def _encode(request: list[bytes]) -> bytes:
    out = b"*%d\r\n" % len(request)
    for arg in request:
        out += b"$%d\r\n%b\r\n" % (len(arg), arg)
    return out


@given(
    requests=st.lists(
        st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=6), min_size=1, max_size=25
    ),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=40),
    read_and_feed=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_pipelines_cut_anywhere_come_out_whole(requests, cuts, read_and_feed):
    """Whatever the chunking, every request comes out once and intact, also when a chunk ends
    inside a request (the strict parser takes over, then hands back to hiredis)."""
    data = b"".join(_encode(args) for args in requests)
    parser = RequestParser(max_bulk_len=1024 * 1024, max_query_buffer=4 * 1024 * 1024)
    got: list[list[bytes]] = []
    pos = 0
    for cut in [*cuts, len(data)]:
        chunk, pos = data[pos : pos + cut], pos + cut
        if not chunk:
            break
        if read_and_feed:
            got += parser.read(chunk)
            while not parser.idle and (more := parser.read()):
                got += more
        else:
            parser.feed(chunk)
            got += drain(parser)
    if pos < len(data):
        got += parser.read(data[pos:])
    while not parser.idle and (more := parser.read()):
        got += more
    assert got == requests


def test_malformed_request_after_a_split_one_errors_after_it_runs():
    parser = RequestParser(max_bulk_len=1024 * 1024, max_query_buffer=4 * 1024 * 1024)
    assert parser.read(b"*2\r\n$3\r\nGET\r\n$1\r\n") == []  # split inside the request
    assert parser.read(b"k\r\n*1\r\n$x\r\n") == [[b"GET", b"k"]]
    with pytest.raises(ProtocolError, match="expected '\\$', got 'x'|invalid bulk length"):
        parser.read()


def test_a_multibulk_count_over_int_max_alone_in_a_chunk_is_refused_at_once():
    """Regression: hiredis takes ``*2147483648`` as a header and waits for the elements; a
    chunk of that one line was taken for a request boundary, so the error never came."""
    parser = RequestParser()
    with pytest.raises(ProtocolError, match="invalid multibulk length"):
        parser.read(b"*2147483648\r\n")


def test_a_header_alone_in_a_chunk_waits_for_its_arguments():
    parser = RequestParser()
    assert parser.read(b"*2\r\n") == []
    assert parser.read(b"$4\r\nECHO\r\n$2\r\nhi\r\n") == [[b"ECHO", b"hi"]]


@pytest.mark.parametrize(
    "data",
    [
        b"*2147483647\r\n",
        b"*1\r\n$4\r\nPING\r\n*2147483647\r\n$4\r\nECHO\r\n",
        b"*2\r\n$4\r\nECHO\r\n*2147483647\r\n",  # as an element: hiredis reads nested arrays
    ],
)
def test_a_huge_multibulk_count_costs_no_memory_up_front(data):
    """Redis allocates the arguments as they come; hiredis allocates the whole list on the
    header (16 GB of address space for INT_MAX, seconds of CPU to free it). Such chunks
    must not reach hiredis."""
    import tracemalloc

    tracemalloc.start()
    try:
        parser = RequestParser()
        try:
            requests = parser.read(data)
        except ProtocolError:
            requests = []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 1024 * 1024
    assert requests in ([], [[b"PING"]])
    if data.startswith(b"*2147483647"):
        parser.read(b"$4\r\nECHO\r\n$2\r\nhi\r\n")
        assert parser.partial_bytes() == 6  # ECHO and hi, waiting for the other 2147483645


def test_requests_after_a_huge_count_request_in_one_chunk_are_all_served():
    """The strict parser keeps such a chunk to itself (one request per read, no recursion)."""
    parser = RequestParser()
    data = b"*1\r\n$4\r\nPING\r\n" * 5000 + b"*2\r\n$4\r\nECHO\r\n$8\r\n*1234567\r\n"
    parser.feed(data)
    assert drain(parser) == [[b"PING"]] * 5000 + [[b"ECHO", b"*1234567"]]
    parser.feed(b"*1\r\n$4\r\nPING\r\n")
    assert drain(parser) == [[b"PING"]]


def test_hiredis_readers_refuse_arrays_they_would_allocate_whole():
    """hiredis allocates a declared array length at once; the limit (its maxelements, set in
    the reader's C struct) must hold with the installed hiredis, or the fast path is off."""
    hiredis = pytest.importorskip("hiredis")
    assert hiredis_reader.layout_confirmed(hiredis)
    reader = hiredis_reader.limited_reader(hiredis)
    reader.feed(b"*%d\r\n" % (hiredis_reader.MAX_ELEMENTS + 1))
    with pytest.raises(hiredis.ProtocolError, match="out of range"):
        reader.gets()
