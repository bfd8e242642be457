"""What the protocol fuzzer sends: one ``Case`` is one connection's bytes, made from a seeded RNG.

Generation is separate from sending so that a case can be written to a file and replayed
byte for byte. Cases built only from valid requests carry the exact replies they must get
(``expected``); the rest are checked for well-formed replies only. Every key a case touches
starts with its own prefix, and no case sends a command that changes server-wide state
(FLUSHALL, CONFIG, CLIENT KILL/PAUSE, DEBUG...), so cases cannot disturb the watchdog.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

#: Server limits the fuzzed server is started with (cheap to reach).
MAX_BULK = 1024 * 1024
QUERY_BUFFER_LIMIT = 4 * 1024 * 1024
INLINE_MAX = 64 * 1024

WEIRD_NUMBERS = [
    b"2147483647", b"2147483648", b"4294967295", b"4294967296", b"9223372036854775807",
    b"9223372036854775808", b"18446744073709551615", b"18446744073709551616", b"9" * 40,
    b"-1", b"-2", b"-2147483648", b"-9223372036854775808", b"-9223372036854775809", b"-0",
    b"0", b"00", b"01", b"007", b"+1", b"+0", b"", b" 1", b"1 ", b"0x10", b"1e3", b"1.0",
    b"abc", b"\x001", b"1\x00", b"\t1", b"--1", b"1-", b"\xff", str(MAX_BULK).encode(),
    str(MAX_BULK + 1).encode(), b"65536", b"1048577",
]  # fmt: skip
LINE_ENDS = [b"\r\n"] * 6 + [b"\n", b"\r", b"", b"\r\r\n", b"\n\r", b"\r\n\r\n", b"\x00\r\n"]
STRUCTURAL = b"*$\r\n0123456789-+:%~|>(#,_!=\"' \\\x00\t"
RESP3_TYPES = b"%~|>(#,_!=+-:"
INLINE_TOKENS = [
    b"PING", b"ECHO", b"SET", b"GET", b"hello", b"x", b"", b" ", b"  ", b"\t", b'"', b"'", b"\\",
    b"\\x", b"\\x4", b"\\x41", b"\\xZZ", b"\\n", b"\\'", b'\\"', b"\x00", b"\r", b"\n", b"\r\n",
    b'""', b"''", b'"a b"', b"'a b'", b'"\\x00"', b"\xff", b"*", b"$", b"*1", b"$4", b"\x0b", b"\x0c",
]  # fmt: skip


@dataclass
class Case:
    """One connection: chunks sent in order (each with its own send), then how it ends."""

    kind: str
    chunks: list[bytes]
    #: The exact replies, in order (None: any well-formed reply); None when not known.
    expected: list[bytes | None] | None = None
    #: Pause between chunks (seconds), so the server sees them in separate reads.
    gap: float = 0.0
    #: "read": read the replies, then close; "close"/"reset": hang up (FIN or RST) at once.
    ending: str = "read"
    #: Whether replies may use RESP3 types (the bytes may switch the protocol with HELLO 3).
    resp3: bool = False
    #: The same bytes sent in one piece (on another connection) must get the same replies.
    twin: bool = False
    attacker: int = 0
    number: int = 0

    def payload(self) -> bytes:
        return b"".join(self.chunks)

    def to_json(self) -> dict:
        return {
            "kind": self.kind, "chunks": [c.hex() for c in self.chunks], "gap": self.gap,
            "ending": self.ending, "resp3": self.resp3, "twin": self.twin, "attacker": self.attacker,
            "number": self.number,
            "expected": None if self.expected is None else [None if e is None else e.hex() for e in self.expected],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> Case:
        expected = data["expected"]
        return cls(
            kind=data["kind"],
            chunks=[bytes.fromhex(c) for c in data["chunks"]],
            expected=None if expected is None else [None if e is None else bytes.fromhex(e) for e in expected],
            gap=data["gap"], ending=data["ending"], resp3=data["resp3"], twin=data["twin"],
            attacker=data["attacker"], number=data["number"],
        )  # fmt: skip


def may_switch_to_resp3(data: bytes) -> bool:
    """Whether ``data`` could hold a HELLO 3: the word itself, or quotes that could assemble it."""
    return b"hello" in data.lower() or b'"' in data or b"'" in data


# -- valid requests with known replies ------------------------------------------------------


def bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


def multibulk(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)


_BARE = re.compile(rb"[A-Za-z0-9:_.-]+")
_PLAIN_IN_QUOTES = frozenset(range(0x20, 0x7F)) - frozenset(b'"\\')


def inline_quote(arg: bytes, rng: random.Random) -> bytes:
    """One argument of an inline request that sdssplitargs reads back as ``arg``."""
    if _BARE.fullmatch(arg) and rng.random() < 0.7:
        return arg
    if not any(c in arg for c in b"'\\\n\0") and rng.random() < 0.3:  # nothing to escape
        return b"'" + arg + b"'"
    out = bytearray(b'"')
    for byte in arg:
        if byte in _PLAIN_IN_QUOTES and rng.random() < 0.9:
            out.append(byte)
        elif byte == 0x0A and rng.random() < 0.5:
            out += b"\\n"
        else:
            out += b"\\x%02x" % byte
    return bytes(out + b'"')


def inline(args: list[bytes], rng: random.Random) -> bytes:
    sep = [b" ", b"  ", b"\t", b" \t "]
    line = rng.choice(sep).join(inline_quote(a, rng) for a in args)
    return line + rng.choice([b"\r\n", b"\n"])


def payload_bytes(rng: random.Random, limit: int = 300) -> bytes:
    """Argument bytes: often short, sometimes with CRLF, NUL, '*'/'$' headers or high bytes."""
    roll = rng.random()
    if roll < 0.2:
        return rng.choice([b"", b"x", b"\r\n", b"\x00", b"*1\r\n$4\r\n"])
    if roll < 0.5:
        return bytes(rng.choice(STRUCTURAL) for _ in range(rng.randrange(1, 20)))
    return rng.randbytes(rng.randrange(1, limit))


class Session:
    """Builds a pipeline of valid requests for one connection and the replies they must get.

    A stateless session writes nothing (PING, ECHO, reads of keys nobody writes), so the
    same requests get the same replies however often they are sent."""

    def __init__(self, rng: random.Random, prefix: str, stateless: bool = False) -> None:
        self.rng = rng
        self.prefix = prefix.encode()
        self.stateless = stateless
        self.resp = 2
        self.strings: dict[bytes, bytes] = {}
        self.counters: dict[bytes, int] = {}

    def null(self) -> bytes:
        return b"$-1\r\n" if self.resp == 2 else b"_\r\n"

    def key(self, kind: str) -> bytes:
        return b"%b:%b:%d" % (self.prefix, kind.encode(), self.rng.randrange(4))

    def request(self, allow_hello: bool = True) -> tuple[list[bytes], bytes | None]:
        """One request and its exact reply (None when only its shape is known)."""
        rng = self.rng
        roll = rng.randrange(9 if allow_hello and not self.stateless else 8)
        if self.stateless and roll in (4, 6):
            roll = 5 if roll == 4 else 7
        if roll == 0:
            return [rng.choice([b"PING", b"ping", b"PiNg"])], b"+PONG\r\n"
        if roll == 1:
            msg = payload_bytes(rng)
            return [b"PING", msg], bulk(msg)
        if roll in (2, 3):
            msg = payload_bytes(rng)
            return [rng.choice([b"ECHO", b"echo"]), msg], bulk(msg)
        if roll == 4:
            key, value = self.key("s"), payload_bytes(rng)
            self.strings[key] = value
            return [b"SET", key, value], b"+OK\r\n"
        if roll == 5:
            key = self.key("s")
            value = self.strings.get(key)
            return [b"GET", key], self.null() if value is None else bulk(value)
        if roll == 6:
            key = self.key("c")
            self.counters[key] = self.counters.get(key, 0) + 1
            return [b"INCR", key], b":%d\r\n" % self.counters[key]
        if roll == 7:
            keys = [self.key(rng.choice("sc")) for _ in range(rng.randrange(1, 6))]
            present = sum(k in self.strings or k in self.counters for k in keys)
            return [b"EXISTS", *keys], b":%d\r\n" % present
        self.resp = rng.choice([2, 3])
        return [b"HELLO", b"%d" % self.resp], None

    def pipeline(self, count: int, inline_share: float = 0.3, allow_hello: bool = True):
        """``count`` requests encoded as multibulk or inline, and their replies."""
        data = []
        expected: list[bytes | None] = []
        for _ in range(count):
            args, reply = self.request(allow_hello)
            if self.rng.random() < inline_share:
                data.append(inline(args, self.rng))
            else:
                data.append(multibulk(args))
            expected.append(reply)
        return data, expected


# -- chunking and mutation ------------------------------------------------------------------


def split(rng: random.Random, data: bytes) -> list[bytes]:
    """Cut ``data`` byte by byte, at one point, or at several random points."""
    if len(data) < 2:
        return [data]
    mode = rng.randrange(3)
    if mode == 0 and len(data) <= 400:
        return [data[i : i + 1] for i in range(len(data))]
    if mode == 1:
        cut = rng.randrange(1, len(data))
        return [data[:cut], data[cut:]]
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randrange(1, 12))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """Bit flips, byte inserts/deletes/duplicates, number swaps and truncation."""
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        if not buf:
            buf.append(rng.randrange(256))
        pos = rng.randrange(len(buf))
        op = rng.randrange(7)
        if op == 0:
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf.insert(pos, rng.choice([rng.randrange(256), rng.choice(STRUCTURAL)]))
        elif op == 2:
            del buf[pos]
        elif op == 3:
            end = min(len(buf), pos + rng.randrange(1, 16))
            buf[pos:pos] = buf[pos:end] * rng.randrange(1, 4)
        elif op == 4:
            match = re.search(rb"[0-9]+", bytes(buf[pos:]))
            if match:
                buf[pos + match.start() : pos + match.end()] = rng.choice(WEIRD_NUMBERS)
        elif op == 5:
            buf[pos] = rng.choice(RESP3_TYPES)
        else:
            del buf[rng.randrange(len(buf)) :]
    return bytes(buf)


# -- generators: each returns one Case ------------------------------------------------------

Generator = Callable[[random.Random, str], Case]


def gen_random_bytes(rng: random.Random, prefix: str) -> Case:
    size = rng.choice([rng.randrange(1, 16), rng.randrange(1, 128), rng.randrange(1, 4096)])
    if rng.random() < 0.5:
        data = rng.randbytes(size)
    else:
        data = bytes(rng.choice(STRUCTURAL + b"PINGECHOab") for _ in range(size))
    return Case("random-bytes", split(rng, data) if rng.random() < 0.3 else [data])


def gen_mutated(rng: random.Random, prefix: str, stateless: bool = False) -> Case:
    session = Session(rng, prefix, stateless)
    chunks, _ = session.pipeline(rng.randrange(1, 5), allow_hello=rng.random() < 0.2)
    data = mutate(rng, b"".join(chunks))
    return Case("mutated", split(rng, data) if rng.random() < 0.3 else [data])


def gen_inline_garbage(rng: random.Random, prefix: str) -> Case:
    tokens = [
        rng.choice(INLINE_TOKENS) if rng.random() < 0.8 else rng.randbytes(3)
        for _ in range(rng.randrange(1, 12))
    ]
    lines = [b"".join(tokens) + rng.choice(LINE_ENDS)]
    if rng.random() < 0.5:
        lines.append(b"PING\r\n")
    return Case("inline-garbage", lines if rng.random() < 0.5 else [b"".join(lines)])


def _header(rng: random.Random, kind: bytes, honest: int) -> bytes:
    number = rng.choice(WEIRD_NUMBERS) if rng.random() < 0.3 else b"%d" % honest
    return kind + number + rng.choice(LINE_ENDS)


def gen_lengths(rng: random.Random, prefix: str) -> Case:
    """Multibulk requests whose counts and lengths are huge, negative, signed, zero-padded..."""
    args = [b"ECHO", payload_bytes(rng, 40)]
    data = bytearray(_header(rng, b"*", len(args)))
    for arg in args:
        data += _header(rng, b"$", len(arg)) + arg + rng.choice(LINE_ENDS)
    if rng.random() < 0.3:
        data = bytearray(multibulk([b"PING"])) + data  # hiredis reads the first one
    return Case("lengths", split(rng, bytes(data)) if rng.random() < 0.3 else [bytes(data)])


AGGREGATE_TYPES = b"*%~|>"
ELEMENTS = [
    b"+PING\r\n", b"-ERR x\r\n", b":1\r\n", b"(12345678901234567890\r\n", b"#t\r\n", b",1.5\r\n",
    b"_\r\n", b"!5\r\nerror\r\n", b"=8\r\ntxt:PING\r\n", b"$-1\r\n", b"*-1\r\n", b"*0\r\n",
    b"*1\r\n$4\r\nPING\r\n", b"%1\r\n$1\r\na\r\n$1\r\nb\r\n", b"$?\r\n;4\r\nPING\r\n;0\r\n",
]  # fmt: skip


def gen_resp3_types(rng: random.Random, prefix: str) -> Case:
    """RESP3 types no client sends: an aggregate type byte where a request starts, or any
    type in place of a bulk argument; usually after a valid request, in the same read."""
    parts = [multibulk([b"PING"])] if rng.random() < 0.8 else []
    args = [b"ECHO", payload_bytes(rng, 20)] if rng.random() < 0.5 else [b"PING"]
    if rng.random() < 0.5:
        kind = bytes([rng.choice(AGGREGATE_TYPES)])
        count = len(args) // 2 if kind == b"%" else len(args)
        parts.append(kind + multibulk(args)[1:].replace(b"%d" % len(args), b"%d" % count, 1))
    else:
        elements = [bulk(a) for a in args]
        elements[rng.randrange(len(elements))] = rng.choice(ELEMENTS)
        parts.append(b"*%d\r\n" % len(args) + b"".join(elements))
    if rng.random() < 0.5:
        parts.append(multibulk([b"PING"]))
    data = b"".join(parts)
    return Case("resp3-types", [data] if rng.random() < 0.7 else split(rng, data))


def gen_deep_nesting(rng: random.Random, prefix: str) -> Case:
    depth = rng.choice([8, 9, 100, 1000, rng.randrange(1, 20000)])
    head = multibulk([b"PING"]) if rng.random() < 0.5 else b""
    data = (
        head
        + rng.choice([b"*1\r\n", b"*2\r\n", b"%1\r\n", b"~1\r\n"]) * depth
        + multibulk([b"PING"])
    )
    return Case("deep-nesting", [data] if rng.random() < 0.7 else split(rng, data))


def gen_many_args(rng: random.Random, prefix: str) -> Case:
    """EXISTS over thousands of absent keys, as multibulk or as one inline line."""
    count = rng.choice([rng.randrange(1000, 5000), rng.randrange(1, 30000)])
    keys = [b"%b:nx:%d" % (prefix.encode(), i) for i in range(count)]
    if rng.random() < 0.3 and count < 5000:
        data = b"EXISTS " + b" ".join(keys) + b"\r\n"
        if len(data) > INLINE_MAX:  # refused, or read whole if it came in one read (as in Redis)
            return Case("many-args", split(rng, data))
    else:
        data = multibulk([b"EXISTS", *keys])
    return Case(
        "many-args", split(rng, data) if rng.random() < 0.3 else [data], expected=[b":0\r\n"]
    )


def gen_split_pipeline(rng: random.Random, prefix: str) -> Case:
    """Valid requests with known replies, cut anywhere (byte by byte, at one or many points)."""
    session = Session(rng, prefix)
    chunks, expected = session.pipeline(
        rng.randrange(1, 12), inline_share=rng.choice([0.0, 0.3, 1.0])
    )
    data = b"".join(chunks)
    chunks = split(rng, data)
    gap = rng.choice([0.0, 0.0, 0.0, 0.001, 0.002]) if len(chunks) < 50 else 0.0
    case = Case("split-pipeline", chunks, expected=expected, gap=gap)
    case.resp3 = case.resp3 or any(r is None for r in expected)  # a HELLO went by
    return case


def gen_hello_switch(rng: random.Random, prefix: str) -> Case:
    """HELLO 3 (and back to 2) in the middle of a pipeline, optionally followed by garbage."""
    session = Session(rng, prefix)
    before, expected = session.pipeline(rng.randrange(0, 4))
    session.resp = 3
    middle = [multibulk([b"HELLO", b"3"]) if rng.random() < 0.7 else b"HELLO 3\r\n"]
    after, more = session.pipeline(rng.randrange(1, 6))
    chunks = before + middle + after
    expected = [*expected, None, *more]
    if rng.random() < 0.3:
        chunks.append(mutate(rng, multibulk([b"ECHO", payload_bytes(rng)])))
        expected = None
    data = b"".join(chunks)
    return Case(
        "hello-switch",
        split(rng, data) if rng.random() < 0.5 else [data],
        expected=expected,
        resp3=True,
    )


def gen_disconnect(rng: random.Random, prefix: str) -> Case:
    """A valid pipeline cut off mid-frame, then a FIN or an RST."""
    chunks, _ = Session(rng, prefix).pipeline(rng.randrange(1, 6), allow_hello=False)
    data = b"".join(chunks)
    data = data[: rng.randrange(len(data) + 1)]
    return Case("disconnect", split(rng, data), ending=rng.choice(["close", "reset"]))


def gen_huge(rng: random.Random, prefix: str) -> Case:
    """Payloads at and just past proto-max-bulk-len, inline lines past 64 KB, big pipelines."""
    key = b"%b:big" % prefix.encode()
    roll = rng.randrange(5)
    if roll == 0:
        value = rng.randbytes(MAX_BULK - rng.randrange(3))
        data = multibulk([b"SET", key, value]) + multibulk([b"GET", key])
        return Case("huge", split(rng, data), expected=[b"+OK\r\n", bulk(value)])
    if roll == 1:
        data = b"*3\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$%d\r\n" % (len(key), key, MAX_BULK + 1)
        return Case("huge", [data], expected=[b"-ERR Protocol error: invalid bulk length\r\n"])
    if roll == 2:
        data = b"*3\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$%d\r\n" % (len(key), key, MAX_BULK)
        data += rng.randbytes(rng.randrange(MAX_BULK))
        return Case("huge", split(rng, data), ending=rng.choice(["close", "reset", "read"]))
    if roll == 3:
        line = rng.choice([b"A", b"PING ", b"\x00", b'"']) * (INLINE_MAX + rng.randrange(1, 4096))
        return Case(
            "huge", split(rng, line), expected=[b"-ERR Protocol error: too big inline request\r\n"]
        )
    value = rng.randbytes(rng.randrange(50_000, 200_000))
    count = QUERY_BUFFER_LIMIT // len(value) + rng.randrange(3)
    data = multibulk([b"SET", key, value]) * count
    return Case("huge", split(rng, data), expected=[b"+OK\r\n"] * count)


#: hiredis reads these types as arguments (or, for '~' and '|', as requests) where Redis
#: refuses them or reads an inline command; Magpie documents that leniency, so bytes holding
#: them may be answered differently depending on how they are cut.
HIREDIS_LENIENT = re.compile(rb"\r\n[+=(~|]")


def gen_rechunked(rng: random.Random, prefix: str) -> Case:
    """Garbage that writes nothing, cut into pieces the server reads one by one: it must get
    the replies the same bytes get in one piece (Redis's answer does not depend on the cuts)."""
    base = rng.choice([gen_mutated, gen_lengths, gen_resp3_types, gen_deep_nesting, gen_random_bytes,
                       gen_inline_garbage])  # fmt: skip
    case = gen_mutated(rng, prefix, stateless=True) if base is gen_mutated else base(rng, prefix)
    data = case.payload()
    eligible = 2 <= len(data) <= 32 * 1024 and not may_switch_to_resp3(data)
    if not eligible or HIREDIS_LENIENT.search(data):
        return case
    chunks = split(rng, data)  # two pieces at least
    gap = rng.choice([0.001, 0.003]) if len(chunks) < 50 else 0.0
    return Case("rechunked", chunks, gap=gap, twin=True)


GENERATORS: list[tuple[int, Generator]] = [
    (12, gen_random_bytes),
    (14, gen_mutated),
    (10, gen_inline_garbage),
    (10, gen_lengths),
    (8, gen_resp3_types),
    (3, gen_deep_nesting),
    (2, gen_many_args),
    (14, gen_split_pipeline),
    (6, gen_hello_switch),
    (6, gen_disconnect),
    (1, gen_huge),
    (10, gen_rechunked),
]


def make_case(rng: random.Random, prefix: str) -> Case:
    """One case from a generator chosen by weight; its ending is sometimes an abrupt hang-up."""
    generator = rng.choices([g for _, g in GENERATORS], weights=[w for w, _ in GENERATORS])[0]
    case = generator(rng, prefix)
    if case.expected is None and not case.twin and case.ending == "read" and rng.random() < 0.25:
        case.ending = rng.choice(["close", "reset"])
    if not case.resp3:
        case.resp3 = may_switch_to_resp3(case.payload())
    return case
