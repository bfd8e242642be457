"""Shared by the RDB tests: writing a keyspace to RDB bytes and loading it back in process,
values of every type in every encoding size class, and the dataset as plain Python data
(from a keyspace, or from a live server over the wire) so two of them compare with ``==``.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys

import redis
from servers import free_port

from magpie.config import Config
from magpie.persistence.rdb_reader import LoadStats, RdbLoad
from magpie.persistence.rdb_writer import write_rdb
from magpie.store.hashes import Hash
from magpie.store.keyspace import Keyspace
from magpie.store.lists import ListValue
from magpie.store.sets import Set, build_set
from magpie.store.types import encoding_of, type_name
from magpie.store.zsets import ZSet, build_zset

#: Far enough ahead that no test outlives it, small enough for every server's clock.
FUTURE_MS = 4_000_000_000_000  # 2096


def default_config() -> dict:
    return Config().values


def rdb_bytes(keyspace: Keyspace, aux=(), *, compress: bool = True, checksum: bool = True) -> bytes:
    out = io.BytesIO()
    write_rdb(out, keyspace, aux, compress=compress, checksum=checksum)
    return out.getvalue()


def load(data: bytes, *, now_ms: int | None = None, config: dict | None = None,
         dbs: int = 16) -> tuple[Keyspace, LoadStats]:  # fmt: skip
    staging = Keyspace(dbs)
    stats = RdbLoad(data, staging, config or default_config(), now_ms=now_ms).run()
    return staging, stats


# -- values of every type and size class, with the encoding Redis 7.0 gives each on load ---


def make_hash(pairs) -> Hash:
    value = Hash(pairs)
    value.convert_if_needed(default_config(), max((max(len(f), len(v)) for f, v in value.items()), default=0))
    return value


def make_zset(pairs) -> ZSet:
    return build_zset(list(pairs), default_config())


def make_set(members) -> Set:
    return build_set(members, default_config()["set-max-intset-entries"])


def size_classes() -> dict[str, tuple[object, str]]:
    """name -> (value, the OBJECT ENCODING Redis 7.0 reports once it has loaded the value
    with the default thresholds). Each class sits on one side of a threshold."""
    cfg = default_config()
    hashes, zsets, ints = cfg["hash-max-listpack-entries"], cfg["zset-max-listpack-entries"], cfg["set-max-intset-entries"]
    hash_value, zset_value = cfg["hash-max-listpack-value"], cfg["zset-max-listpack-value"]
    return {
        "string-int": (b"12345", "int"),
        "string-int64-max": (b"9223372036854775807", "int"),
        "string-beyond-int64": (b"9223372036854775808", "embstr"),
        "string-embstr-44": (b"e" * 44, "embstr"),
        "string-raw-45": (b"r" * 45, "raw"),
        "string-raw-compressible": (b"abc" * 1000, "raw"),
        "string-empty": (b"", "embstr"),
        "list-small": (ListValue([b"a", b"1", b""]), "quicklist"),
        "list-large": (ListValue(b"element-%d" % i for i in range(1000)), "quicklist"),
        "list-big-element": (ListValue([b"x" * 10000, b"y"]), "quicklist"),
        "set-intset-at-limit": (make_set(b"%d" % i for i in range(ints)), "intset"),
        "set-intset-negative": (make_set([b"-9223372036854775808", b"0", b"9223372036854775807"]), "intset"),
        "set-hashtable-past-limit": (make_set(b"%d" % i for i in range(ints + 1)), "hashtable"),
        "set-hashtable-strings": (make_set([b"a", b"1", b"b"]), "hashtable"),
        "set-hashtable-non-canonical-int": (make_set([b"1", b"01"]), "hashtable"),
        "hash-listpack-at-limit": (make_hash((b"f%d" % i, b"v%d" % i) for i in range(hashes)), "listpack"),
        "hash-listpack-value-at-limit": (make_hash([(b"f", b"v" * hash_value)]), "listpack"),
        "hash-hashtable-past-limit": (make_hash((b"f%d" % i, b"v%d" % i) for i in range(hashes + 1)), "hashtable"),
        "hash-hashtable-long-value": (make_hash([(b"f", b"v" * (hash_value + 1))]), "hashtable"),
        "hash-hashtable-long-field": (make_hash([(b"f" * (hash_value + 1), b"v")]), "hashtable"),
        "zset-listpack-at-limit": (make_zset((b"m%d" % i, i / 3) for i in range(zsets)), "listpack"),
        "zset-listpack-member-at-limit": (make_zset([(b"m" * zset_value, 1.0)]), "listpack"),
        "zset-skiplist-past-limit": (make_zset((b"m%d" % i, float(i)) for i in range(zsets + 1)), "skiplist"),
        "zset-skiplist-long-member": (make_zset([(b"m" * (zset_value + 1), 1.0)]), "skiplist"),
        "zset-special-scores": (make_zset([(b"inf", math.inf), (b"-inf", -math.inf), (b"tiny", 5e-324),
                                           (b"big", 1.7976931348623157e308), (b"third", 1 / 3)]), "listpack"),
        "zset-skiplist-negative-zero": (make_zset([(b"z" * 70, -0.0), (b"a", 1.0)]), "skiplist"),
    }  # fmt: skip


# -- a dataset as plain data -------------------------------------------------------------------


def _score(score: float) -> object:
    """Scores compare by value and by the sign of zero."""
    return (score, math.copysign(1.0, score)) if score == 0 else score


def plain_value(value: object) -> tuple[str, object]:
    """(TYPE, the value as plain, comparable Python data: order kept where Redis keeps it)."""
    kind = type_name(value)
    if kind == "string":
        return kind, value
    if kind == "list":
        return kind, list(value)  # type: ignore[call-overload]
    if kind == "set":
        return kind, frozenset(value)  # type: ignore[arg-type]
    if kind == "hash":
        return kind, sorted(value.items())  # type: ignore[attr-defined]
    return kind, [(member, _score(score)) for score, member in value.items()]  # type: ignore[attr-defined]


def keyspace_contents(keyspace: Keyspace, encodings: bool = False) -> dict:
    """{(db, key): (type, value, expire_ms[, encoding])} for every key."""
    out = {}
    for db in keyspace.dbs:
        for key, value in db.data.items():
            entry = (*plain_value(value), db.expires.get(key))
            out[db.index, key] = (*entry, encoding_of(value)) if encodings else entry
    return out


def server_contents(client: redis.Redis, dbs=range(16), encodings: bool = False) -> dict:
    """The same shape as ``keyspace_contents``, read from a live server (TTLs as PEXPIRETIME)."""
    out = {}
    for index in dbs:
        client.execute_command("SELECT", index)
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            if kind == "string":
                value: object = client.get(key)
            elif kind == "list":
                value = client.lrange(key, 0, -1)
            elif kind == "set":
                value = frozenset(client.smembers(key))
            elif kind == "hash":
                value = sorted(client.hgetall(key).items())
            elif kind == "zset":
                value = [(m, _score(s)) for m, s in client.zrange(key, 0, -1, withscores=True)]
            else:
                value = None
            when = client.execute_command("PEXPIRETIME", key)
            entry = (kind, value, None if when < 0 else when)
            if encodings:
                encoding = client.object("encoding", key)
                entry = (*entry, encoding.decode() if isinstance(encoding, bytes) else encoding)
            out[index, key] = entry
    client.execute_command("SELECT", 0)
    return out


def run_magpie_on(workdir: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """magpie-server on ``workdir`` to its exit (for files it must refuse): its output and status."""
    argv = [sys.executable, "-m", "magpie", "--port", str(free_port()), "--bind", "127.0.0.1",
            "--dir", workdir, "--save", ""]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


# -- one dataset for any server ------------------------------------------------------------------

FAR = 4_000_000_000  # seconds: 2096
INT_BOUNDARIES = [0, -1, 127, -128, 128, -129, 32767, -32768, 32768, -32769,
                  2**31 - 1, -(2**31), 2**31, -(2**31) - 1, 2**63 - 1, -(2**63)]  # fmt: skip


def build_dataset(c: redis.Redis, is_redis: bool) -> None:
    """Every type in every encoding size class, TTLs, three databases, binary keys."""
    if is_redis:  # elements from 2 KB up go in plain quicklist nodes (a 7.0 DEBUG knob)
        c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "2000")
    c.set("s", "hello")
    c.set("empty", "")
    c.set("embstr", "e" * 44)
    c.set("raw", bytes(range(200)))
    c.set("lzf", "abc" * 1000)
    for n in INT_BOUNDARIES:
        c.set(f"int:{n}", n)
    c.set(b"\x00\xff\r\n", bytes(range(256)))
    c.rpush("list:small", "a", 1, "", "-7")
    c.rpush("list:large", *(f"element-{i}" for i in range(3000)))
    c.rpush("list:big-elements", "x" * 3000, "y", "z" * 10000)
    c.sadd("set:int16", 1, 2, -3)
    c.sadd("set:int32", 1, 70000, -70000)
    c.sadd("set:int64", 1, 2**40, -(2**63), 2**63 - 1)
    c.sadd("set:hashtable-ints", *range(600))
    c.sadd("set:strings", "a", "b", "1")
    c.hset("hash:small", mapping={"f": "v", "n": 12, "empty": ""})
    c.hset("hash:listpack-many", mapping={f"f{i}": i for i in range(200)})
    c.hset("hash:large", mapping={f"f{i}": i for i in range(600)})
    c.hset("hash:long-value", mapping={"f": "v" * 100})
    c.zadd("zset:small", {"a": 1, "b": -2.5, "c": float("inf"), "d": float("-inf"), "e": 1 / 3})
    c.zadd("zset:large", {f"m{i}": i / 7 for i in range(200)})
    c.zadd("zset:long-member", {"m" * 100: 1})
    # built under raised thresholds: listpacks with long entries (Redis saves them so)
    c.config_set("hash-max-listpack-value", 1000)
    c.config_set("zset-max-listpack-value", 1000)
    c.hset("hash:lp-long", mapping={"f": "v" * 500})
    c.zadd("zset:lp-long", {"m" * 500: 2})
    c.config_set("hash-max-listpack-value", 64)
    c.config_set("zset-max-listpack-value", 64)
    c.set("ttl:str", "v", exat=FAR)
    c.hset("ttl:hash", "f", "v")
    c.expireat("ttl:hash", FAR + 1)
    c.execute_command("SELECT", 3)
    c.set("db3", "three")
    c.zadd("db3:z", {"x": 1})
    c.execute_command("SELECT", 15)
    c.sadd(b"\xffbinary", b"\x00")
    c.execute_command("SELECT", 0)
