"""ACLs, Magpie against a real redis-server 7.0.15: every reply compared.

Both servers are fresh processes of this module (ACL state is global, so the session's
shared servers are left alone). Replies are read by a small RESP reader that keeps what
redis-py would blur: the exact error line (``-NOPERM ...``), RESP3 sets and doubles.

Known divergences, compared loosely on purpose:
- the single-command part of a rule description (``ACL GETUSER``'s ``commands``, ``ACL
  LIST``) is in Redis's dict hash order and in Magpie's table order: the ``+@all``/``-@all``
  start and the category rules must match in order, the single commands as a multiset.
  Rule sets are chosen so that the best-fit categories do not depend on commands Magpie
  lacks (streams, geo, HLL, scripting, cluster...);
- ``ACL CAT`` membership is compared over the commands both servers have;
- ``ACL LOG``'s ``age-seconds`` and ``client-info`` are only checked for shape.
"""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass

import pytest
from servers import redis_server_path, start_magpie, start_redis

# -- a RESP reader that keeps the reply's type ------------------------------------------------


@dataclass(frozen=True)
class Err:
    """An error reply: the whole line after '-' (``NOPERM this user ...``)."""

    line: bytes


class Status(bytes):
    """A simple-string reply (``+OK``), distinct from a bulk string with the same bytes."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Status) and bytes(self) == bytes(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = bytes.__hash__

    def __repr__(self) -> str:
        return f"+{bytes.__repr__(self)}"


OK = Status(b"OK")


class Set(tuple):
    """A RESP3 set (``~``), distinct from an array."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Set) and tuple(self) == tuple(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        return f"Set{tuple.__repr__(self)}"


@dataclass(frozen=True)
class Double:
    """A RESP3 double (``,``), kept as its text."""

    text: bytes


class Conn:
    """One connection; ``conn(*args)`` sends a command and returns its parsed reply."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, *args: bytes | str | int) -> None:
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.sock.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))

    def __call__(self, *args: bytes | str | int) -> object:
        self.send(*args)
        return self.read()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buf += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def read(self) -> object:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return Status(rest)
        if kind == b"-":
            return Err(rest)
        if kind == b":":
            return int(rest)
        if kind == b"_":
            return None
        if kind == b",":
            return Double(rest)
        if kind in (b"$", b"="):
            size = int(rest)
            return None if size < 0 else self._exactly(size)
        if kind in (b"*", b"~", b">"):
            size = int(rest)
            if size < 0:
                return None
            items = [self.read() for _ in range(size)]
            return Set(items) if kind == b"~" else items
        if kind == b"%":
            return {self.read(): self.read() for _ in range(int(rest))}
        raise AssertionError(f"unexpected reply line {line!r}")

    def closed_within(self, seconds: float) -> bool:
        """True once the server closes this connection (reading whatever comes first)."""
        self.sock.settimeout(seconds)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


class Pair:
    """The same connection on both servers; ``same`` asserts the replies are equal."""

    def __init__(self, ours: Conn, ref: Conn) -> None:
        self.ours, self.ref = ours, ref

    def both(self, *args: bytes | str | int) -> tuple[object, object]:
        return self.ours(*args), self.ref(*args)

    def same(self, *args: bytes | str | int, key=lambda reply: reply) -> object:
        ours, ref = self.both(*args)
        assert key(ours) == key(ref), f"{_show(args)}\n  magpie: {ours!r}\n  redis:  {ref!r}"
        return ref

    def close(self) -> None:
        self.ours.close()
        self.ref.close()


def _show(args) -> str:
    return " ".join(a.decode(errors="backslashreplace") if isinstance(a, bytes) else str(a) for a in args)


# -- servers and connections ------------------------------------------------------------------


def _need_redis() -> None:
    if not redis_server_path():
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI for differential tests")
        pytest.skip("redis-server is not installed")


@pytest.fixture(scope="module")
def ports():
    """(Magpie's port, redis-server's port): fresh servers, shared by the module's tests."""
    _need_redis()
    ours, ref = start_magpie(), start_redis()
    yield ours.port, ref.port
    ours.stop()
    ref.stop()


def connect(ports, user: str | None = None, password: str = "", resp: int = 2) -> Pair:
    pair = Pair(Conn(ports[0]), Conn(ports[1]))
    if user is not None:
        pair.same("AUTH", user, password)
    if resp == 3:
        pair.same("HELLO", 3, key=lambda reply: {k: v for k, v in reply.items() if k != b"id"})  # type: ignore[union-attr]
    return pair


def _reset_acl(conn: Conn) -> None:
    for name in conn("ACL", "USERS"):  # type: ignore[union-attr]
        if name != b"default":
            conn("ACL", "DELUSER", name)
    assert conn("ACL", "SETUSER", "default", "on", "nopass", "allkeys", "allchannels", "allcommands",
                "clearselectors") == OK  # fmt: skip
    assert conn("CONFIG", "SET", "acllog-max-len", "128") == OK
    assert conn("ACL", "LOG", "RESET") == OK


@pytest.fixture
def admin(ports):
    """A default-user connection on each server; the tests' users are gone after the test."""
    pair = connect(ports)
    yield pair
    pair.close()
    cleanup = connect(ports)
    for conn in (cleanup.ours, cleanup.ref):
        _reset_acl(conn)
    cleanup.close()


# -- normalising rule descriptions --------------------------------------------------------------


def command_rules_key(text: bytes) -> tuple[list[bytes], list[bytes]]:
    """``-@all +@read +get +set``: the start and categories in order, single commands as a
    multiset (their order is Redis's dict hash order)."""
    tokens = text.split()
    head = 0
    while head < len(tokens) and tokens[head][:2] in (b"+@", b"-@"):
        head += 1
    return tokens[:head], sorted(tokens[head:])


def _describe_key(part: bytes) -> tuple[list[bytes], tuple]:
    tokens = part.split()
    start = next(i for i, t in enumerate(tokens) if t in (b"+@all", b"-@all"))
    return tokens[:start], command_rules_key(b" ".join(tokens[start:]))


def list_line_key(line: bytes) -> list:
    """An ``ACL LIST`` line: flags, passwords, then the root and each ``(...)`` selector."""
    root, *selectors = line.split(b" (")
    return [_describe_key(root)] + [_describe_key(s.rstrip(b")")) for s in selectors]


def list_key(reply: object) -> object:
    if isinstance(reply, list):
        return [list_line_key(line) for line in reply]
    return reply


def _as_map(reply: object) -> dict:
    if isinstance(reply, dict):
        return dict(reply)
    assert isinstance(reply, list), reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def getuser_key(reply: object) -> object:
    """ACL GETUSER with every ``commands`` normalised; field order and types are kept."""
    if not isinstance(reply, (list, dict)):
        return reply
    fields = _as_map(reply)
    order = list(fields)
    fields[b"commands"] = command_rules_key(fields[b"commands"])
    selectors = []
    for selector in fields[b"selectors"]:
        sel = _as_map(selector)
        sel[b"commands"] = command_rules_key(sel[b"commands"])
        selectors.append((type(selector).__name__, list(sel), sel))
    fields[b"selectors"] = selectors
    return type(reply).__name__, order, fields


# -- the rule grammar ---------------------------------------------------------------------------

#: ACL SETUSER arguments (after the user name): every part of the grammar, valid or not.
RULE_SETS = [
    [],
    ["on"],
    ["off"],
    ["on", "off", "on"],
    ["on", ">secret"],
    [">one", ">two", ">one"],
    [">one", ">two", "<one"],
    ["<nosuch"],
    ["#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"],
    ["#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
     "!5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"],  # fmt: skip
    ["#abc"],
    ["#5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8"],
    ["!5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"],
    [">x", "nopass"],
    ["nopass", ">x"],
    [">x", "resetpass"],
    ["~app:*", "~app:*", "~other"],
    ["%R~ro:*", "%W~wo:*", "%RW~rw:*", "%r~lower", "%wR~both"],
    ["%R~k*", "%W~k*"],
    ["%R~*", "~*"],
    ["%R", "%W"],
    ["%R~", "%RW"],
    ["%"],
    ["%~x"],
    ["%~"],
    ["allkeys"],
    ["~*", "~*"],
    ["allkeys", "~more"],
    ["allkeys", "resetkeys", "~again"],
    ["~a b"],
    ["%X~x"],
    ["%RR~x"],
    ["%Rx"],
    ["&news", "&news", "&sport.*"],
    ["allchannels"],
    ["&*", "&more"],
    ["allchannels", "resetchannels", "&again"],
    ["&a b"],
    ["+get", "+set", "-set"],
    ["+GET", "+@String", "-@WRITE"],
    ["-@all", "+@string", "-@write"],
    ["+@all", "-@dangerous"],
    ["+@all", "-@read"],
    ["+@hash", "+@string", "+@bitmap"],
    ["+@list", "+@hash", "-@blocking"],
    ["+@all", "-@keyspace", "-@pubsub"],
    ["+@all", "-@string", "-@hash", "+get"],
    ["+@pubsub", "+@transaction", "+@connection"],
    ["+@fast"],
    ["+@all", "-@slow"],
    ["+@all", "-@admin"],
    ["+@all", "-@all"],
    ["allcommands", "-get", "+get"],
    ["nocommands", "+config|get", "+config|set"],
    ["+@all", "-config|set", "-debug"],
    ["+client", "-client|kill"],
    ["+@all", "-client", "+client|list"],
    ["-@all", "+select|0", "+select|1", "+select|0"],
    ["+@all", "-select", "+select|0"],
    ["-@all", "+select|0", "-select"],
    ["-@all", "+select|0", "+@all"],
    ["+select|0|1"],
    ["+config|get|x"],
    ["+get|"],
    ["+config|nosuch"],
    ["+nosuch"],
    ["-nosuch"],
    ["+@nosuch"],
    ["-@nosuch"],
    ["foo"],
    ["+"],
    ["-@"],
    ["on", "(~x* +get)", "(+set %W~y*)"],
    ["on", "(~x*", "+get", "&c)", "(%R~z*", "+@read)"],
    ["(~x* +get", "%R~z*", ")"],
    ["( ~x* +get )"],
    ["()"],
    ["(~x* +get)", "clearselectors", "(+set)"],
    ["(~x* +nosuch)"],
    ["(foo)"],
    ["(allkeys ~x)"],
    ["(on)"],
    ["(~x* +get"],
    ["(+ping (+select (+del )"],
    ["(+ping", "(+select", "(+del", ")"],
    ["(+ping", "(+select", "(+del"],
    ["(+ping", "(+select", "(+del", ")", ")", ")"],
    ["(~a", "+get)", "(~b", "(~c", "+set)"],
    ["on", ">pw", "~k*", "&c", "+@all", "(~x +get)", "reset"],
    ["skip-sanitize-payload"],
    ["skip-sanitize-payload", "sanitize-payload"],
    ["", "on", ""],
    ["ON", "NOPASS", "ALLKEYS", "ALLCHANNELS", "ALLCOMMANDS", "RESETKEYS", "RESETCHANNELS",
     "NOCOMMANDS", "CLEARSELECTORS", "SKIP-SANITIZE-PAYLOAD"],  # fmt: skip
    # Bytes that are not UTF-8 come back as they were; Redis reads keywords and command
    # or category names as C strings, so they end at a NUL.
    [b"~\xff*", b"&\xfe", b"%R~\xe9t\xe9", b"+select|\xff", b"(~\xfe* +get)"],
    [b"+nosuch\xff"],
    [b"foo\xff"],
    [b"<\xff"],
    [b"on\x00junk", b"~*\x00x", b"+@read\x00x", b"-get\x00", b"+select|a\x00b", b"&c\x00"],
    [b"+get\x00x", b"nopass\x00"],
    [b"foo\x00bar"],
    [b"~a\x00b"],
    [b"&a\x00b"],
    [b">a\x00b", b"#" + b"a" * 63 + b"\x00"],
    [b"(+get)\x00"],
    [b"(~a* +get\x00 +set)"],
    [b"(+get\x00x"],
    [b"(+get", b"x\x00y", b"~k*)"],
    ["foo\r\nbar"],
]


@pytest.mark.parametrize("rules", RULE_SETS, ids=lambda rules: repr(_show(rules)) if rules else "(none)")
def test_setuser_getuser_list_match(ports, admin, rules):
    """ACL SETUSER answers the same (errors word for word), and the user it leaves behind
    is described the same by ACL GETUSER (RESP2 and RESP3) and ACL LIST."""
    admin.same("ACL", "SETUSER", "u", *rules)
    admin.same("ACL", "GETUSER", "u", key=getuser_key)
    resp3 = connect(ports, resp=3)
    resp3.same("ACL", "GETUSER", "u", key=getuser_key)
    resp3.close()
    admin.same("ACL", "LIST", key=list_key)


@pytest.mark.parametrize("rules", [r for r in RULE_SETS if r], ids=lambda rules: repr(_show(rules)))
def test_magpie_descriptions_rebuild_the_same_user(ports, admin, rules):
    """Magpie's own ACL LIST text (in its table order) applied to a new user describes it
    again: the description is a faithful rule string."""
    if isinstance(admin.ours("ACL", "SETUSER", "u", *rules), Err):
        return
    line = next(line for line in admin.ours("ACL", "LIST") if line.startswith(b"user u "))  # type: ignore[union-attr]
    assert admin.ours("ACL", "SETUSER", "copy", *line.split(b" ")[2:]) == OK
    copy = next(line for line in admin.ours("ACL", "LIST") if line.startswith(b"user copy "))  # type: ignore[union-attr]
    assert copy.split(b" ")[2:] == line.split(b" ")[2:]


def test_invalid_rules_change_nothing(admin):
    admin.same("ACL", "SETUSER", "u", "on", ">pw", "~a*", "+get")
    admin.same("ACL", "SETUSER", "u", "off", "resetkeys", "~b*", "-get", "+nosuch")
    admin.same("ACL", "SETUSER", "u", "nopass", "~c*", "(+set", "~d*")
    admin.same("ACL", "GETUSER", "u", key=getuser_key)
    admin.same("ACL", "LIST", key=list_key)


@pytest.mark.parametrize("name", [b"a b", b"a\x00b", b"tab\tname", b"", b"\xff\xfe", b"x" * 300])
def test_usernames_accepted_or_refused_alike(admin, name):
    admin.same("ACL", "SETUSER", name, "on")
    admin.same("ACL", "USERS")
    admin.same("ACL", "GETUSER", name, key=getuser_key)


# -- ACL DRYRUN: users x commands -----------------------------------------------------------------

DRYRUN_USERS = {
    "ro": "%R~k* +@all",
    "wo": "%W~k* +@all",
    "rw": "~k* +@all",
    "nokeys": "+@all",
    "mixed": "%R~k* %W~w* +@all",
    "channels": "resetchannels &news.* &exact allkeys +@all",
    "selectors": "-@all +get ~a* (+set ~k*) (%R~k* +@read)",
    "firstargs": "-@all +select|0 +config|get +client|list allkeys",
    "readall": "%R~* +@all",
    "nowrite": "allkeys -@all +@all -@write",
    "nodanger": "allkeys allchannels +@all -@dangerous",
}

DRYRUN_COMMANDS = [
    "get k1", "get o1", "set k1 v", "set o1 v", "set k1 v get", "set k1 v nx get", "incr k1",
    "exists k1", "exists o1", "exists k1 o1", "del k1", "del k1 o1", "unlink k1", "touch k1",
    "copy k1 k2", "copy k1 o1", "copy o1 k1", "rename k1 k2", "renamenx k1 o2", "move k1 1",
    "lmove k1 k2 left right", "lmove o1 k1 left right", "rpoplpush k1 o1", "blmove k1 o2 left left 0",
    "brpoplpush k1 k2 0", "blpop k1 0", "blpop k1 o1 0", "lmpop 2 k1 o1 left", "blmpop 0 2 k1 k2 left",
    "zunionstore k1 2 k2 k3", "zunionstore k1 2 k2 o3", "zinterstore o1 1 k2", "zdiffstore k1 1 o1",
    "zrangestore k1 o1 0 -1", "zmpop 1 k1 min", "bzpopmin k1 0", "zunion 2 k1 k2", "zdiff 2 k1 o1",
    "sintercard 2 k1 k2", "smove k1 o1 m", "sunionstore k1 k2 o3", "sinterstore k1 k2", "sdiff k1 o1",
    "mget k1 k2", "mget k1 o1", "mset k1 v k2 v", "mset k1 v o1 v", "msetnx k1 v", "getdel k1",
    "getex k1", "getset k1 v", "append k1 x", "setrange k1 0 x", "strlen k1", "lcs k1 k2",
    "incrbyfloat k1 1", "psetex k1 10 v", "substr k1 0 1",
    "bitop and k1 k2 k3", "bitop and o1 k2", "bitcount k1", "bitfield k1 get u8 0",
    "bitfield k1 set u8 0 1", "bitfield k1 incrby u8 0 1", "bitfield_ro k1 get u8 0", "setbit k1 0 1",
    "getbit k1 0", "bitpos k1 1",
    "hset k1 f v", "hget k1 f", "hgetall k1", "hincrby k1 f 1", "hexists k1 f", "hstrlen k1 f",
    "hrandfield k1", "hscan k1 0",
    "lpush k1 a", "lpop k1", "llen k1", "lrange k1 0 -1", "lpos k1 a", "linsert k1 before a b",
    "lset k1 0 a", "ltrim k1 0 1", "rpushx k1 a", "lrem k1 0 a",
    "sadd k1 a", "sismember k1 a", "smismember k1 a", "scard k1", "smembers k1", "spop k1",
    "zadd k1 1 a", "zscore k1 a", "zincrby k1 1 a", "zrange k1 0 -1", "zremrangebyrank k1 0 1",
    "expire k1 10", "pexpireat k1 1", "ttl k1", "expiretime k1", "persist k1", "type k1",
    "object encoding k1", "object freq o1", "memory usage k1", "memory usage o1",
    "keys *", "scan 0", "randomkey", "dbsize", "flushall", "flushdb", "swapdb 0 1",
    "publish news.a m", "publish other m", "publish exact m", "spublish news.a m",
    "subscribe news.a", "subscribe other", "subscribe news.a other", "ssubscribe news.a",
    "psubscribe news.*", "psubscribe news.a", "psubscribe exact", "psubscribe *",
    "unsubscribe other", "punsubscribe other",
    "config get maxmemory", "config set maxmemory 0", "config resetstat", "select 0", "select 1",
    "SELECT 0", "client list", "client kill id 1", "client info", "debug object k1", "info",
    "ping", "echo x", "auth a b", "hello", "multi", "exec", "watch k1", "watch o1",
    "acl whoami", "acl setuser x", "function flush", "script flush",
    "getrange k1 0 1", "setnx k1 v", "setex k1 10 v", "incrby k1 1", "decr k1", "hdel k1 f",
    "hmset k1 f v", "hsetnx k1 f v", "hincrbyfloat k1 f 1", "hkeys k1", "hvals k1", "hmget k1 f",
    "hlen k1", "lindex k1 0", "lpushx k1 a", "rpop k1", "srem k1 a", "sdiffstore k1 k2", "sinter k1",
    "sunion k1 k2", "srandmember k1", "zrem k1 a", "zpopmin k1", "zcount k1 0 1", "zrank k1 a",
    "zinter 2 k1 k2", "zintercard 2 k1 k2", "zmscore k1 a", "zrandmember k1", "bzmpop 0.01 2 k1 k2 min",
    "brpop k1 0.01", "bzpopmax k1 0.01", "pexpire k1 10", "expireat k1 10", "pttl k1", "pexpiretime k1",
    "object idletime k1", "object refcount k1", "getex k1 persist", "set k1 v ex 10",
    "bitfield k1 get u8 0 set u8 0 1", "bitfield k1 overflow sat incrby u8 0 1", "bitop not k1 k2",
    "bitop or k1 k2 k3", "lpos k1 a rank 1", "linsert k1 after a b", "zadd k1 nx 1 a",
    "zrangebylex k1 - +", "zrevrangebyscore k1 1 0", "zremrangebyscore k1 0 1", "zremrangebylex k1 - +",
    "zlexcount k1 - +", "zrevrank k1 a", "zunion 1 k1 withscores", "zinterstore k1 2 k2 k3 weights 1 1",
    "zunionstore k1 1 k2 aggregate max", "smismember k1 a b", "sintercard 1 k1 limit 1",
    "copy k1 k2 replace", "lmpop 2 k1 k2 right count 1", "zmpop 2 k1 k2 max", "touch k1 k2",
    "bitcount k1 0 1", "lcs k1 k2 len", "watch k1 k2", "hrandfield k1 1",
]  # fmt: skip


def _make_user(admin: Pair, user: str) -> str:
    name = f"dry-{user}"
    admin.same("ACL", "SETUSER", name, "on", "nopass", *DRYRUN_USERS[user].split())
    return name


@pytest.mark.parametrize("user", list(DRYRUN_USERS))
def test_dryrun_matrix_matches(admin, user):
    """Every command of the matrix, with keys inside and outside the patterns, gets the
    same verdict (the refused key or channel named the same)."""
    name = _make_user(admin, user)
    mismatches = []
    for line in DRYRUN_COMMANDS:
        ours, ref = admin.both("ACL", "DRYRUN", name, *line.split())
        if ours != ref:
            mismatches.append(f"{line}\n  magpie: {ours!r}\n  redis:  {ref!r}")
    assert not mismatches, "\n".join(mismatches)


#: The matrix's commands that can run on a connection without changing its state (no
#: SUBSCRIBE, MULTI, AUTH...), blocking ones with a short timeout instead of forever.
EXEC_COMMANDS = [
    " ".join("0.01" if word == "0" and line.split()[0] in ("blpop", "brpoplpush", "blmove", "bzpopmin") else word
             for word in line.split()).replace("blmpop 0 ", "blmpop 0.01 ")
    for line in DRYRUN_COMMANDS
    if line.split()[0] not in ("subscribe", "ssubscribe", "psubscribe", "multi", "exec", "auth")
    and not line.startswith("client kill")
]  # fmt: skip


def _refusal(reply: object) -> object:
    """The -NOPERM text of a refused command; any other reply only says it ran."""
    return reply if isinstance(reply, Err) and reply.line.startswith(b"NOPERM") else "ran"


@pytest.mark.parametrize("user", list(DRYRUN_USERS))
def test_commands_run_by_the_user_are_refused_alike(ports, admin, user):
    """The same matrix actually run by a connection of the user (through the dispatcher and
    its fast path): refused with the same -NOPERM text, or run, on both servers."""
    name = _make_user(admin, user)
    conn = connect(ports, name, "any")
    mismatches = []
    for line in EXEC_COMMANDS:
        ours, ref = conn.both(*line.split())
        if _refusal(ours) != _refusal(ref):
            mismatches.append(f"{line}\n  magpie: {ours!r}\n  redis:  {ref!r}")
    conn.close()
    admin.same("FLUSHALL")
    assert not mismatches, "\n".join(mismatches)


def test_dryrun_errors_match(admin):
    admin.same("ACL", "SETUSER", "alice", "on", "nopass", "~a*", "+@all")
    for args in (["nosuch", "get", "a"], ["alice", "nosuchcmd"], ["alice", "get"],
                 ["alice", "config"], ["alice", "config", "nosuch"], ["alice", "CONFIG", "GET", "x"],
                 ["alice", "GET", "a1"], ["alice", "get", "b1"], ["alice"], ["alice", "acl", "whoami"]):  # fmt: skip
        admin.same("ACL", "DRYRUN", *args)


# -- ACL CAT ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_commands(ports):
    """Commands (and subcommands) both servers know, from ACL CAT over every category."""
    pair = connect(ports)
    categories = pair.same("ACL", "CAT")
    known = []
    for conn in (pair.ours, pair.ref):
        names: set[bytes] = set()
        for category in categories:  # type: ignore[union-attr]
            names.update(conn("ACL", "CAT", category))  # type: ignore[arg-type]
        known.append(names)
    pair.close()
    return known[0] & known[1]


def test_cat_lists_the_categories(admin):
    admin.same("ACL", "CAT")


CATEGORIES = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
              "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
              "dangerous", "connection", "transaction", "scripting"]  # fmt: skip


@pytest.mark.parametrize("category", CATEGORIES)
def test_cat_members_match_over_shared_commands(admin, shared_commands, category):
    ours, ref = admin.both("ACL", "CAT", category.upper())
    assert set(ours) & shared_commands == set(ref) & shared_commands  # type: ignore[arg-type]


def test_cat_errors_match(admin, shared_commands):
    admin.same("ACL", "CAT", "nosuch")
    admin.same("ACL", "CAT", "")
    ours, ref = admin.both("ACL", "CAT", b"read\x00junk")  # strcasecmp: the name ends at the NUL
    assert set(ref) & shared_commands and set(ours) & shared_commands == set(ref) & shared_commands  # type: ignore[arg-type]


# -- ACL WHOAMI / USERS / DELUSER / GENPASS / HELP -------------------------------------------------


def test_whoami_users_deluser_match(ports, admin):
    admin.same("ACL", "WHOAMI")
    admin.same("ACL", "WHOAMI", "x")
    for name in ("bob", "alice", "Zed", "al"):
        admin.same("ACL", "SETUSER", name, "on", "nopass", "+@all", "~*")
    admin.same("ACL", "USERS")
    alice = connect(ports, "alice", "any")
    alice.same("ACL", "WHOAMI")
    admin.same("ACL", "DELUSER", "alice", "alice", "nosuch")
    assert alice.ours.closed_within(10) and alice.ref.closed_within(10)
    admin.same("ACL", "DELUSER", "default")
    admin.same("ACL", "DELUSER", "bob", "default")
    admin.same("ACL", "USERS")
    admin.same("ACL", "DELUSER")
    admin.same("ACL", "DELUSER", "bob", "Zed", "al")
    admin.same("ACL", "USERS")


@pytest.mark.parametrize("bits", [None, 1, 3, 4, 5, 8, 64, 255, 256, 257, 4096])
def test_genpass_lengths_match(admin, bits):
    args = ("ACL", "GENPASS") if bits is None else ("ACL", "GENPASS", bits)
    ours, ref = admin.both(*args)
    assert isinstance(ours, bytes) and isinstance(ref, bytes)
    assert len(ours) == len(ref)
    assert set(ours) <= set(b"0123456789abcdef")
    if bits is None or bits >= 64:
        assert admin.ours(*args) != ours  # a new password each time


@pytest.mark.parametrize("args", [["0"], ["-1"], ["4097"], ["abc"], ["1.5"], ["99999999999999999999"], ["1", "2"]])
def test_genpass_errors_match(admin, args):
    admin.same("ACL", "GENPASS", *args)


@pytest.mark.parametrize("args", [["HELP"], ["help", "x"], ["NOSUCH"], ["CAT", "a", "b"], ["LOG", "1", "2"],
                                  ["GETUSER"], ["GETUSER", "a", "b"], ["SETUSER"], ["LIST", "x"],
                                  ["USERS", "x"], ["LOAD", "x"], ["SAVE", "x"]])  # fmt: skip
def test_subcommand_errors_and_help_match(admin, args):
    admin.same("ACL", *args)
    admin.same("ACL")


#: Arguments with NUL or non-UTF-8 bytes: Redis quotes them with %s (up to the NUL), reads
#: names as C strings, and looks users and commands up byte for byte.
BINARY_ARGUMENTS = [
    ["DRYRUN", b"n\x00o", "get", "x"],
    ["DRYRUN", b"n\xffo", "get", "x"],
    ["DRYRUN", "default", b"g\x00et", "x"],
    ["DRYRUN", "default", b"n\xffo", "x"],
    ["CAT", b"re\x00ad"],
    ["CAT", b"\xff"],
    ["CAT", b"x" * 200],
    ["GETUSER", b"\xff"],
    ["DELUSER", b"default\x00x"],
    ["DELUSER", b"nosuch", b"default\x00"],
    ["SETUSER", b"(" + b"x" * 300],
    ["LOG", b"reset\x00x"],
    ["LOG", b"1\x002"],
    ["GENPASS", b"1\x002"],
    ["CAT", b"a\x00b", "c"],
]


@pytest.mark.parametrize("args", BINARY_ARGUMENTS, ids=lambda args: repr(_show(args)))
def test_binary_arguments_handled_alike(admin, args):
    admin.same("ACL", *args)


def test_an_unknown_acl_subcommand_is_quoted_up_to_a_nul(admin):
    admin.same("ACL", b"ca\x00t")


def test_load_and_save_without_aclfile_refused_alike(admin):
    admin.same("ACL", "LOAD")
    admin.same("ACL", "SAVE")


# -- refusals: -NOPERM texts, EXEC, ACL LOG ------------------------------------------------------------

ALICE = ["on", ">pw", "~app:*", "&news", "-@all", "+get", "+set", "+publish", "+subscribe",
         "+psubscribe", "+multi", "+exec", "+discard", "+incr", "+config|get", "+acl|whoami"]  # fmt: skip


def _log_entries(reply: object) -> list[dict]:
    assert isinstance(reply, list), reply
    return [_as_map(entry) for entry in reply]


def assert_logs_match(ours: object, ref: object) -> None:
    """Same entries, same fields in the same order; exact but for the time and client info."""
    ours_entries, ref_entries = _log_entries(ours), _log_entries(ref)
    exact = [b"count", b"reason", b"context", b"object", b"username"]
    assert [[e.get(f) for f in exact] for e in ours_entries] == [[e.get(f) for f in exact] for e in ref_entries]
    for entry, ref_entry in zip(ours_entries, ref_entries, strict=True):
        assert list(entry) == list(ref_entry)
        assert type(entry[b"age-seconds"]) is type(ref_entry[b"age-seconds"])
        age = entry[b"age-seconds"]
        assert 0 <= float(age.text if isinstance(age, Double) else age) < 60
        assert entry[b"client-info"].startswith(b"id=") and b" user=" in entry[b"client-info"]


def test_refusal_texts_and_log_entries_match(ports, admin):
    admin.same("ACL", "SETUSER", "alice", *ALICE)
    alice = connect(ports, "alice", "pw")
    alice.same("GET", "app:1")
    alice.same("GET", "other")  # key
    alice.same("DEL", "app:1")  # command
    alice.same("PUBLISH", "other", "x")  # channel
    alice.same("SUBSCRIBE", "news", "other")
    alice.same("config", "set", "maxmemory", "0")  # a subcommand: logged by its full name
    alice.same("CONFIG", "GET", "maxmemory")
    alice.same("ACL", "WHOAMI")
    assert_logs_match(*admin.both("ACL", "LOG"))
    resp3 = connect(ports, resp=3)
    assert_logs_match(*resp3.both("ACL", "LOG"))
    resp3.close()
    alice.close()


def test_log_client_info_names_the_refused_command(ports, admin):
    admin.same("ACL", "SETUSER", "alice", *ALICE)
    alice = connect(ports, "alice", "pw")
    alice.same("GET", "app:1")
    alice.same("DEL", "app:1")
    for conn in (admin.ours, admin.ref):
        (entry,) = _log_entries(conn("ACL", "LOG"))
        assert b" cmd=del " in entry[b"client-info"]
    alice.close()


def test_refusals_inside_multi_abort_the_transaction_alike(ports, admin):
    admin.same("ACL", "SETUSER", "alice", *ALICE)
    alice = connect(ports, "alice", "pw")
    alice.same("MULTI")
    alice.same("GET", "other")
    alice.same("SET", "app:1", "x")
    alice.same("EXEC")
    alice.same("GET", "app:1")
    assert_logs_match(*admin.both("ACL", "LOG"))
    alice.close()


def test_exec_after_rule_change_refuses_alike(ports, admin):
    admin.same("ACL", "SETUSER", "alice", *ALICE)
    alice = connect(ports, "alice", "pw")
    alice.same("MULTI")
    alice.same("SET", "app:1", "x")
    alice.same("INCR", "app:2")
    alice.same("GET", "app:3")
    alice.same("PUBLISH", "news", "x")
    admin.same("ACL", "SETUSER", "alice", "-set", "resetkeys", "~app:2", "~app:3", "resetchannels")
    alice.same("EXEC")
    alice.same("GET", "app:1")
    assert_logs_match(*admin.both("ACL", "LOG"))
    alice.close()


def test_log_groups_similar_entries_and_counts(ports, admin):
    admin.same("ACL", "SETUSER", "alice", *ALICE)
    alice = connect(ports, "alice", "pw")
    for _ in range(3):
        alice.same("GET", "other")
    alice.same("GET", "other2")
    alice.same("GET", "other")
    alice.same("DEL", "x")
    alice.same("DEL", "y")  # same command refused: the same entry
    assert_logs_match(*admin.both("ACL", "LOG"))
    assert_logs_match(*admin.both("ACL", "LOG", "1"))
    assert_logs_match(*admin.both("ACL", "LOG", "0"))
    assert_logs_match(*admin.both("ACL", "LOG", "-5"))
    admin.same("ACL", "LOG", "x")
    admin.same("ACL", "LOG", "RESET")
    admin.same("ACL", "LOG")
    alice.close()


def test_log_keeps_acllog_max_len_entries(ports, admin):
    admin.same("ACL", "SETUSER", "alice", *ALICE)
    admin.same("CONFIG", "SET", "acllog-max-len", "2")
    alice = connect(ports, "alice", "pw")
    for key in ("o1", "o2", "o3", "o4"):
        alice.same("GET", key)
    assert_logs_match(*admin.both("ACL", "LOG"))
    admin.same("CONFIG", "SET", "acllog-max-len", "0")
    alice.same("GET", "o5")
    admin.same("ACL", "LOG")
    alice.close()


#: (channel rules, what the subscriber listens to, the ACL SETUSER change, disconnected?)
SUBSCRIBER_CASES = [
    ("&news &sport", [("SUBSCRIBE", "news")], ["resetchannels", "&news"], False),
    ("&news &sport", [("SUBSCRIBE", "sport")], ["resetchannels", "&news"], True),
    ("&news.*", [("SUBSCRIBE", "news.a")], ["resetchannels", "&news.a"], False),
    ("&news.*", [("PSUBSCRIBE", "news.*")], ["resetchannels", "&news.a"], True),
    ("&news.*", [("PSUBSCRIBE", "news.*")], ["resetchannels", "&news.*", "&x"], False),
    ("allchannels", [("SUBSCRIBE", "a")], ["resetchannels", "&a"], False),
    ("allchannels", [("SUBSCRIBE", "a")], ["resetchannels", "&b"], True),
    ("&a", [("SUBSCRIBE", "a")], ["(&a +@all)", "resetchannels"], False),
    ("&a", [("SSUBSCRIBE", "a")], ["resetchannels"], True),
    ("&a", [("SUBSCRIBE", "a"), ("UNSUBSCRIBE", "a")], ["resetchannels"], False),
]


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize(("channels", "subscriptions", "change", "killed"), SUBSCRIBER_CASES)
def test_revoking_channels_disconnects_the_same_subscribers(ports, admin, channels, subscriptions, change, killed, resp):
    admin.same("ACL", "SETUSER", "alice", "on", ">pw", "+@all", "~*", *channels.split())
    subscriber = connect(ports, "alice", "pw", resp=resp)
    for command in subscriptions:
        for conn in (subscriber.ours, subscriber.ref):
            conn.send(*command)
        for _ in command[1:]:
            ours, ref = subscriber.ours.read(), subscriber.ref.read()
            assert ours == ref
    bystander = connect(ports, "alice", "pw")  # same user, not subscribed: stays
    admin.same("ACL", "SETUSER", "alice", *change)
    bystander.same("PING")
    if killed:
        assert subscriber.ours.closed_within(10) and subscriber.ref.closed_within(10)
    else:
        subscriber.same("PING")
    subscriber.close()
    bystander.close()


def _log_objects(reply: object) -> object:
    return [[e[b"object"], e[b"count"], e[b"reason"]] for e in _log_entries(reply)]


def test_log_groups_among_the_ten_newest_and_trims_on_the_next_entry(ports, admin):
    admin.same("ACL", "SETUSER", "alice", *ALICE)
    alice = connect(ports, "alice", "pw")
    for i in range(12):
        alice.same("GET", f"o{i}")
    alice.same("GET", "o0")  # the oldest is not among the ten scanned: a new entry
    alice.same("GET", "o5")  # grouped, and moved to the front
    admin.same("ACL", "LOG", "20", key=_log_objects)
    admin.same("CONFIG", "SET", "acllog-max-len", "3")
    admin.same("ACL", "LOG", "20", key=_log_objects)  # not trimmed yet
    alice.same("GET", "o5")
    admin.same("ACL", "LOG", "20", key=_log_objects)
    alice.same("GET", "new")
    admin.same("ACL", "LOG", "20", key=_log_objects)
    alice.close()


def test_selectors_refusal_names_the_most_telling_reason(ports, admin):
    admin.same("ACL", "SETUSER", "sel", "on", "nopass", "-@all", "(+get ~a*)", "(+get ~b*)", "(+mget ~c*)")
    for args in (["mget", "a1", "b1"], ["mget", "c1", "a1"], ["mget", "c1", "c2", "d1"], ["get", "z"], ["set", "a1", "v"]):
        admin.same("ACL", "DRYRUN", "sel", *args)
    sel = connect(ports, "sel", "x")
    sel.same("MGET", "c1", "a1")
    sel.same("GET", "z")
    sel.same("MGET", "c1", "c2", "d1")
    sel.same("SET", "a1", "v")
    admin.same("ACL", "LOG", key=_log_objects)
    sel.close()


def test_acl_pubsub_default_allchannels_matches(admin):
    try:
        admin.same("CONFIG", "SET", "acl-pubsub-default", "allchannels")
        admin.same("ACL", "SETUSER", "p1", "on", "(+get)", "&x")
        admin.same("ACL", "SETUSER", "p2", "&x", "reset")
        admin.same("ACL", "SETUSER", "p3", "resetchannels", "(&*)")
        admin.same("ACL", "LIST", key=list_key)
        admin.same("ACL", "GETUSER", "p1", key=getuser_key)
        admin.same("CONFIG", "SET", "acl-pubsub-default", "resetchannels")
        admin.same("ACL", "SETUSER", "p1", "reset")
        admin.same("ACL", "SETUSER", "p4", "on")
        admin.same("ACL", "LIST", key=list_key)
    finally:
        for conn in (admin.ours, admin.ref):
            conn("CONFIG", "SET", "acl-pubsub-default", "resetchannels")


def test_a_disabled_or_password_protected_default_user_needs_auth(ports, admin):
    try:
        admin.same("ACL", "SETUSER", "default", "off")
        fresh = connect(ports)
        fresh.same("PING")
        fresh.same("AUTH", "default", "x")
        fresh.same("AUTH", "x")
        fresh.same("HELLO", "3", "AUTH", "default", "x")
        fresh.close()
        admin.same("PING")  # already authenticated: still served
        admin.same("ACL", "SETUSER", "default", "on", ">pw", "resetpass")
        fresh = connect(ports)
        fresh.same("PING")
        fresh.same("AUTH", "default", "")
        fresh.same("AUTH", "x")
        fresh.close()
        admin.same("ACL", "SETUSER", "default", ">pw")
        fresh = connect(ports)
        fresh.same("AUTH", "pw")
        fresh.same("ACL", "WHOAMI")
        fresh.close()
    finally:
        for conn in (admin.ours, admin.ref):
            conn("ACL", "SETUSER", "default", "on", "nopass")


# -- authentication ---------------------------------------------------------------------------------


def _hello_key(reply: object) -> object:
    """HELLO's reply without the client id (the servers count clients differently)."""
    if isinstance(reply, list):
        reply = _as_map(reply)
    return {k: v for k, v in reply.items() if k != b"id"} if isinstance(reply, dict) else reply


def test_auth_forms_match(ports, admin):
    admin.same("ACL", "SETUSER", "alice", "on", ">pw", "+@all", "~*")
    admin.same("ACL", "SETUSER", "dis", "off", ">pw", "+@all", "~*")
    conn = connect(ports)
    conn.same("AUTH")
    conn.same("AUTH", "pw")  # no password set for the default user
    conn.same("AUTH", "a", "b", "c")
    conn.same("AUTH", "alice", "bad")
    conn.same("AUTH", "nosuch", "pw")
    conn.same("AUTH", "dis", "pw")
    conn.same("ACL", "WHOAMI")
    conn.same("AUTH", "alice", "pw")
    conn.same("ACL", "WHOAMI")
    conn.same("AUTH", "alice", "bad")
    conn.same("ACL", "WHOAMI")  # a failed AUTH keeps the user
    conn.same("AUTH", "default", "anything")  # nopass: any password
    conn.same("ACL", "WHOAMI")
    assert_logs_match(*admin.both("ACL", "LOG"))
    conn.close()


def test_hello_auth_matches(ports, admin):
    admin.same("ACL", "SETUSER", "alice", "on", ">pw", "+@all", "~*")
    conn = connect(ports)
    conn.same("HELLO", "3", "AUTH", "alice", "bad")
    conn.same("HELLO", "3", "AUTH", "alice")
    conn.same("HELLO", "4", "AUTH", "alice", "pw")
    conn.same("HELLO", "3", "AUTH", "alice", "pw", key=_hello_key)
    conn.same("ACL", "WHOAMI")
    conn.same("HELLO", "2", "AUTH", "default", "x", "SETNAME", "named", key=_hello_key)
    conn.same("ACL", "WHOAMI")
    assert_logs_match(*admin.both("ACL", "LOG"))
    conn.close()


def test_auth_failing_inside_exec_is_logged_as_multi(ports, admin):
    admin.same("ACL", "SETUSER", "alice", "on", ">pw", "+@all", "~*")
    conn = connect(ports)
    conn.same("MULTI")
    conn.same("AUTH", "alice", "bad")
    conn.same("EXEC")
    assert_logs_match(*admin.both("ACL", "LOG"))
    conn.close()


def test_hello_without_auth_refused_alike_when_a_password_is_required(ports, admin):
    try:
        admin.same("CONFIG", "SET", "requirepass", "s3cret")
        fresh = connect(ports)
        fresh.same("HELLO", "3")
        fresh.close()
    finally:
        for conn in (admin.ours, admin.ref):
            conn("CONFIG", "SET", "requirepass", "")


def test_requirepass_sets_the_default_users_password(ports, admin):
    try:
        admin.same("CONFIG", "SET", "requirepass", "s3cret")
        admin.same("ACL", "GETUSER", "default", key=getuser_key)
        admin.same("ACL", "LIST", key=list_key)
        fresh = connect(ports)
        fresh.same("PING")
        fresh.same("GET", "x")
        fresh.same("AUTH", "wrong")
        fresh.same("AUTH", "s3cret")
        fresh.same("ACL", "WHOAMI")
        fresh.same("AUTH", "default", "s3cret")
        fresh.close()
        admin.same("CONFIG", "SET", "requirepass", "other")
        admin.same("ACL", "GETUSER", "default", key=getuser_key)
        fresh = connect(ports)
        fresh.same("AUTH", "s3cret")
        fresh.same("HELLO", "3", "AUTH", "default", "other", key=_hello_key)
        fresh.close()
        admin.same("ACL", "SETUSER", "default", ">extra")
        admin.same("CONFIG", "SET", "requirepass", "")
        admin.same("ACL", "GETUSER", "default", key=getuser_key)
        fresh = connect(ports)
        fresh.same("PING")
        fresh.same("AUTH", "x")
        fresh.close()
    finally:
        for conn in (admin.ours, admin.ref):
            conn("CONFIG", "SET", "requirepass", "")


# -- ACL LOAD / ACL SAVE with an aclfile --------------------------------------------------------------------


@pytest.fixture(scope="module")
def aclfile_ports():
    """Both servers started with the same ``aclfile`` (so error texts name the same path)."""
    _need_redis()
    workdir = tempfile.mkdtemp(prefix="acl-diff-")
    path = os.path.join(workdir, "users.acl")
    with open(path, "w") as fh:
        fh.write("user default on nopass ~* &* +@all\n")
    ours, ref = start_magpie("--aclfile", path), start_redis("--aclfile", path)
    yield ours.port, ref.port, path
    ours.stop()
    ref.stop()
    for name in os.listdir(workdir):
        os.unlink(os.path.join(workdir, name))
    os.rmdir(workdir)


ACL_FILES = {
    "valid": "user alice on >pw ~app:* &news +@all -@dangerous\nuser bob off\n",
    "selectors": "user alice on nopass (~x* +get) (+set %W~y*)\n",
    "blank lines and trailing blanks": "user x on\n\n   \n\tuser y on\t\r\n",
    "crlf": "user x on +@all\r\nuser y on\r\n",
    "tabs inside a line": "user x on\tallkeys\n",
    "default redefined": "user default on nopass ~* &* +@all -debug\nuser a\n",
    "comment": "# comment\nuser alice on\n",
    "no user keyword": "usr x on\n",
    "user alone": "user\n",
    "User capitalised": "User x on\n",
    "unknown commands and categories": "user alice on +nosuch -@nosuch foo bar\n",
    "several errors in a line": "user alice on foo ~x allkeys ~y\n",
    "duplicate user": "user alice on\nuser alice off\n",
    "unclosed selector": "user x (+get ~x\n",
    "quotes are not special": 'user x on "quoted"\n',
    "bad hash": "user x on #abc\n",
    "removing a missing password": "user x on <nopw\n",
    "first-arg errors": "user x on +select|0|1 +config|nosuch\n",
    "errors on several lines": "user a on foo\nuser b on +nosuch\nuser c on\n",
    "a key pattern without R or W": "user x on %~x\n",
    "a selector reopened": "user x on (+PING (+SELECT (+DEL )\n",
    "two spaces": "user  x on\n",
    "a tab in the user name": "user x\ton\n",
    "two spaces between rules": "user x on  ~a*  +get\n",
}


@pytest.mark.parametrize("text", list(ACL_FILES.values()), ids=list(ACL_FILES))
def test_acl_load_matches(aclfile_ports, text):
    """ACL LOAD: the same users or, for a bad file, the same error and no change."""
    *ports, path = aclfile_ports
    pair = connect(ports)
    with open(path, "w") as fh:
        fh.write("user default on nopass ~* &* +@all\nuser before on nopass ~* +@all\n")
    pair.same("ACL", "LOAD")
    with open(path, "w") as fh:
        fh.write(text)
    pair.same("ACL", "LOAD")
    pair.same("ACL", "LIST", key=list_key)
    pair.close()


def test_acl_load_of_a_missing_file_refused_alike(aclfile_ports):
    *ports, path = aclfile_ports
    pair = connect(ports)
    os.unlink(path)
    try:
        pair.same("ACL", "LOAD")
        pair.same("ACL", "LIST", key=list_key)
    finally:
        with open(path, "w") as fh:
            fh.write("user default on nopass ~* &* +@all\n")
    pair.close()


def test_acl_save_writes_what_acl_list_shows(aclfile_ports):
    *ports, path = aclfile_ports
    pair = connect(ports)
    with open(path, "w") as fh:
        fh.write("user default on nopass ~* &* +@all\n")
    pair.same("ACL", "LOAD")
    pair.same("ACL", "SETUSER", "z", "on", ">p", "%R~a", "&b", "+get", "+select|0", "(+set ~x)")
    pair.same("ACL", "SETUSER", b"\xfe", "on", b"~\xff*", b"&\xe9", b"+select|\xfe")
    pair.same("ACL", "SETUSER", "y", "off")
    saved = []
    for conn in (pair.ours, pair.ref):
        assert conn("ACL", "SAVE") == OK
        with open(path, "rb") as fh:
            saved.append(fh.read())
    assert [list_line_key(line) for line in saved[0].splitlines()] == [
        list_line_key(line) for line in saved[1].splitlines()
    ]
    assert saved[0].splitlines() == pair.ours("ACL", "LIST")
    pair.same("ACL", "LOAD")
    pair.same("ACL", "LIST", key=list_key)
    pair.close()


def test_acl_load_disconnects_clients_of_replaced_users_alike(aclfile_ports):
    *ports, path = aclfile_ports
    pair = connect(ports)
    with open(path, "w") as fh:
        fh.write("user default on nopass ~* &* +@all\nuser alice on nopass ~* +@all\n")
    pair.same("ACL", "LOAD")
    alice = connect(ports, "alice", "x")
    pair.same("ACL", "LOAD")
    assert alice.ours.closed_within(10) and alice.ref.closed_within(10)
    pair.close()


def test_acl_load_by_a_replaced_user_replies_then_disconnects(aclfile_ports):
    *ports, path = aclfile_ports
    with open(path, "w") as fh:
        fh.write("user default on nopass ~* &* +@all\nuser alice on nopass ~* +@all\n")
    pair = connect(ports)
    pair.same("ACL", "LOAD")
    alice = connect(ports, "alice", "x")
    alice.same("ACL", "LOAD")
    assert alice.ours.closed_within(10) and alice.ref.closed_within(10)
    pair.close()
