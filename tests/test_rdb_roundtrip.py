"""RDB round trips in process: Magpie's writer, then Magpie's reader, for every type and
encoding size class, TTLs, all 16 databases, binary keys, the integer and LZF string
encodings, and the checksum; plus DUMP payloads and hand-made files in the older forms.

What comes back must equal what went in, and carry the encoding Redis 7.0 gives such a value
when it loads it (the writer saves plain encodings; the loader converts by the thresholds).
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdb_helpers import (
    FUTURE_MS,
    default_config,
    keyspace_contents,
    load,
    make_hash,
    make_set,
    make_zset,
    rdb_bytes,
    size_classes,
)

from magpie.persistence.dump_payload import BAD_DATA, dump_value, load_value, payload_is_valid
from magpie.persistence.rdb_format import (
    MAGIC,
    OP_EOF,
    OP_EXPIRETIME,
    OP_SELECTDB,
    TYPE_HASH,
    TYPE_SET,
    TYPE_STRING,
    TYPE_ZSET,
    RdbError,
    crc64,
    encode_length,
    encode_string,
)
from magpie.persistence.rdb_reader import ValueReader
from magpie.store.hashes import Hash
from magpie.store.keyspace import Keyspace
from magpie.store.lists import ListValue
from magpie.store.types import encoding_of

SIZE_CLASSES = size_classes()


def one_key(value: object, key: bytes = b"k", db: int = 0, expire: int | None = None) -> Keyspace:
    keyspace = Keyspace(16)
    keyspace.dbs[db].data[key] = value
    if expire is not None:
        keyspace.dbs[db].set_expire(key, expire)
    return keyspace


def craft(body: bytes, version: int = 10, checksum: bool = True) -> bytes:
    """A file from its body (everything between the header and the EOF opcode)."""
    data = MAGIC + b"%04d" % version + body + bytes((OP_EOF,))
    if version >= 5:
        data += (crc64(data) if checksum else 0).to_bytes(8, "little")
    return data


def string_entry(key: bytes, value: bytes) -> bytes:
    return bytes((TYPE_STRING,)) + encode_string(key) + encode_string(value)


# -- types and size classes ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SIZE_CLASSES))
def test_every_size_class_comes_back_equal_with_redis_encoding(name):
    value, encoding = SIZE_CLASSES[name]
    before = one_key(value)
    staging, stats = load(rdb_bytes(before))
    assert keyspace_contents(staging) == keyspace_contents(before)
    assert encoding_of(staging.dbs[0].data[b"k"]) == encoding
    assert stats.keys_loaded == 1 and stats.version == 10


@pytest.mark.parametrize(
    "value, encoding",
    [
        (make_hash([(b"f", b"v" * 100)]), "listpack"),  # converted by a long value, then HSET shorter
        (make_set([b"a"]), "intset"),  # converted by a string member, which was then removed
        (make_zset([(b"m" * 100, 1.0)]), "listpack"),
    ],
    ids=["hash", "set", "zset"],
)
def test_a_converted_value_that_shrank_loads_compact_again_as_in_redis(value, encoding):
    """Redis never converts back in memory, but a reload rebuilds by the thresholds."""
    if isinstance(value, Hash):
        value[b"f"] = b"short"
    elif encoding == "intset":
        value.discard(b"a")
        value.add(b"7")
    else:
        value.remove(b"m" * 100)
        value.set_score(b"m", 1.0)
    assert encoding_of(value) != encoding
    staging, _ = load(rdb_bytes(one_key(value)))
    assert encoding_of(staging.dbs[0].data[b"k"]) == encoding


def test_order_of_lists_and_small_hashes_survives():
    fields = [(b"f%d" % i, b"%d" % i) for i in random.Random(1).sample(range(100), 100)]
    keyspace = Keyspace(16)
    keyspace.dbs[0].data[b"h"] = make_hash(fields)
    keyspace.dbs[0].data[b"l"] = ListValue(b"%d" % i for i in range(500, 0, -1))
    staging, _ = load(rdb_bytes(keyspace))
    assert list(staging.dbs[0].data[b"h"].items()) == fields  # HGETALL order of a listpack
    assert list(staging.dbs[0].data[b"l"]) == [b"%d" % i for i in range(500, 0, -1)]


def test_all_sixteen_databases_and_empty_ones_skipped():
    keyspace = Keyspace(16)
    for index in range(0, 16, 3):
        keyspace.dbs[index].data[b"key-in-%d" % index] = b"%d" % index
        keyspace.dbs[index].data[b"list-in-%d" % index] = ListValue([b"x"])
    data = rdb_bytes(keyspace)
    staging, stats = load(data)
    assert keyspace_contents(staging) == keyspace_contents(keyspace)
    assert stats.keys_loaded == 12
    assert data.count(bytes((OP_SELECTDB,))) == 6  # no SELECTDB for an empty database


def test_a_database_beyond_the_configured_count_is_refused():
    keyspace = Keyspace(20)
    keyspace.dbs[19].data[b"k"] = b"v"
    with pytest.raises(RdbError, match="more than 16 databases"):
        load(rdb_bytes(keyspace), dbs=16)
    staging, _ = load(rdb_bytes(keyspace), dbs=20)
    assert staging.dbs[19].data == {b"k": b"v"}


# -- TTLs -------------------------------------------------------------------------------------


def ttl_keyspace(now: int) -> Keyspace:
    keyspace = Keyspace(16)
    for db in (0, 7):
        data = keyspace.dbs[db]
        data.data[b"past"] = b"gone"
        data.set_expire(b"past", now - 1)
        data.data[b"future"] = make_zset([(b"m", 1.0)])
        data.set_expire(b"future", now + 123_456)
        data.data[b"far"] = ListValue([b"x"])
        data.set_expire(b"far", FUTURE_MS)
        data.data[b"none"] = b"forever"
    return keyspace


def test_ttls_past_future_and_none():
    now = 1_700_000_000_000
    keyspace = ttl_keyspace(now)
    staging, stats = load(rdb_bytes(keyspace), now_ms=now)
    for db in (0, 7):
        assert set(staging.dbs[db].data) == {b"future", b"far", b"none"}
        assert staging.dbs[db].expires == {b"future": now + 123_456, b"far": FUTURE_MS}
    assert stats.keys_loaded == 6 and stats.keys_expired == 2


def test_a_replica_load_keeps_keys_already_expired():
    now = 1_700_000_000_000
    keyspace = ttl_keyspace(now)
    staging, stats = load(rdb_bytes(keyspace), now_ms=None)
    assert keyspace_contents(staging) == keyspace_contents(keyspace)
    assert stats.keys_expired == 0 and staging.dbs[7].expires[b"past"] == now - 1


def test_an_expiry_in_seconds_from_old_files_is_read_as_milliseconds():
    body = bytes((OP_EXPIRETIME,)) + (2_000_000_000).to_bytes(4, "little") + string_entry(b"k", b"v")
    staging, _ = load(craft(body, version=4), now_ms=0)
    assert staging.dbs[0].expires == {b"k": 2_000_000_000_000}


# -- strings: binary, empty, integer encodings, LZF ------------------------------------------------


def test_binary_empty_and_long_keys_and_values():
    keyspace = Keyspace(16)
    data = keyspace.dbs[0].data
    for byte in range(256):
        data[bytes((byte,))] = bytes((255 - byte,)) * byte
    data[b""] = b"empty key"
    data[b"empty value"] = b""
    data[b"\r\n\x00"] = b"\x00\r\n"
    data[b"k" * 70_000] = b"v" * 70_000  # a 32-bit length (past 14 bits)
    data[b"123"] = b"-45"  # keys are int-encoded too, as Redis does
    hashed = make_hash([(b"", b""), (b"\x00", b"\xff" * 3)])
    data[b"hash"] = hashed
    staging, _ = load(rdb_bytes(keyspace))
    assert keyspace_contents(staging) == keyspace_contents(keyspace)


INT_BOUNDARIES = [
    (0, 0xC0), (-1, 0xC0), (127, 0xC0), (-128, 0xC0), (128, 0xC1), (-129, 0xC1),
    (32767, 0xC1), (-32768, 0xC1), (32768, 0xC2), (-32769, 0xC2),
    (2**31 - 1, 0xC2), (-(2**31), 0xC2), (2**31, None), (-(2**31) - 1, None),
]  # fmt: skip


@pytest.mark.parametrize("number, marker", INT_BOUNDARIES, ids=[str(n) for n, _ in INT_BOUNDARIES])
def test_int_encoded_strings_at_every_boundary(number, marker):
    text = b"%d" % number
    encoded = encode_string(text)
    if marker is None:
        assert encoded == bytes((len(text),)) + text  # beyond 32 bits: written as text
    else:
        width = {0xC0: 1, 0xC1: 2, 0xC2: 4}[marker]
        assert encoded == bytes((marker,)) + number.to_bytes(width, "little", signed=True)
    assert ValueReader(encoded).string() == text
    staging, _ = load(rdb_bytes(one_key(text, key=text)))
    assert staging.dbs[0].data == {text: text}


@pytest.mark.parametrize("text", [b"007", b"-0", b"+1", b" 1", b"1 ", b"-", b"1e3", b"0x10", b"\xd9\xa1"])
def test_strings_that_only_look_like_integers_stay_text(text):
    assert encode_string(text) == bytes((len(text),)) + text
    staging, _ = load(rdb_bytes(one_key(text)))
    assert staging.dbs[0].data[b"k"] == text


def test_lzf_compression_on_and_off():
    assert encode_string(b"a" * 21)[0] == 0xC3  # Redis tries LZF past 20 bytes
    assert encode_string(b"a" * 20) == bytes((20,)) + b"a" * 20
    noise = random.Random(5).randbytes(1000)
    assert encode_string(noise) == encode_length(1000) + noise  # LZF would not shrink it: raw
    keyspace = Keyspace(16)
    data = keyspace.dbs[0].data
    data[b"text"] = b"the same words again " * 500
    data[b"noise"] = noise
    data[b"list"] = ListValue([b"z" * 300, b"short"])
    data[b"hash"] = make_hash([(b"f" * 40, b"q" * 10_000)])
    packed, plain = rdb_bytes(keyspace), rdb_bytes(keyspace, compress=False)
    assert len(packed) < len(plain) / 10
    assert b"the same words again " * 500 in plain and b"the same words again " * 500 not in packed
    for data_file in (packed, plain):
        staging, _ = load(data_file)
        assert keyspace_contents(staging) == keyspace_contents(keyspace)


def test_corrupt_lzf_data_is_refused_naming_the_key():
    value = b"abcabcabc" * 20
    good = ValueReader(encode_string(value))
    assert good.byte() == 0xC3
    packed_len, plain_len = good.length(), good.length()
    packed = good.take(packed_len)
    bad = b"\xc3" + encode_length(packed_len) + encode_length(plain_len + 5) + packed  # claims more
    body = bytes((TYPE_STRING,)) + encode_string(b"lzfkey") + bad
    with pytest.raises(RdbError, match="LZF") as caught:
        load(craft(body))
    assert caught.value.key == b"lzfkey" and caught.value.offset == 9


# -- checksum ---------------------------------------------------------------------------------


def test_checksum_covers_everything_before_it_and_zero_means_unchecked():
    keyspace = one_key(b"checked value")
    data = rdb_bytes(keyspace)
    assert data[-8:] == crc64(data[:-8]).to_bytes(8, "little") != bytes(8)
    unchecked = rdb_bytes(keyspace, checksum=False)
    assert unchecked[:-8] == data[:-8] and unchecked[-8:] == bytes(8)
    flipped = unchecked.replace(b"checked", b"chucked")
    staging, _ = load(flipped)  # a zero checksum is not checked, as in Redis
    assert staging.dbs[0].data[b"k"] == b"chucked value"
    with pytest.raises(RdbError, match="Wrong RDB checksum") as caught:
        load(data.replace(b"checked", b"chucked"))
    assert caught.value.offset == len(data) - 8  # where the checksum is


def test_rdbchecksum_no_loads_without_checking_as_redis_does():
    data = rdb_bytes(one_key(b"checked value")).replace(b"checked", b"chucked")
    config = {**default_config(), "rdbchecksum": False}
    staging, _ = load(data, config=config)
    assert staging.dbs[0].data[b"k"] == b"chucked value"


# -- random datasets ---------------------------------------------------------------------------

binary = st.binary(max_size=80)
small_ints = st.integers(-(2**40), 2**40).map(lambda n: b"%d" % n)
strings = st.one_of(binary, small_ints, st.binary(min_size=21, max_size=300).map(lambda b: b * 3))
scores = st.floats(allow_nan=False)
values = st.one_of(
    strings,
    st.lists(strings, min_size=1, max_size=40).map(ListValue),
    st.sets(st.one_of(binary, small_ints), min_size=1, max_size=40).map(make_set),
    st.dictionaries(binary, strings, min_size=1, max_size=40).map(lambda d: make_hash(d.items())),
    st.dictionaries(binary, scores, min_size=1, max_size=40).map(lambda d: make_zset(d.items())),
)
datasets = st.dictionaries(
    st.tuples(st.integers(0, 15), binary),
    st.tuples(values, st.one_of(st.none(), st.integers(1, 2**62))),
    max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets, st.booleans(), st.booleans())
def test_random_datasets_round_trip(dataset, compress, checksum):
    keyspace = Keyspace(16)
    for (db, key), (value, expire) in dataset.items():
        keyspace.dbs[db].data[key] = value
        if expire is not None:
            keyspace.dbs[db].set_expire(key, expire)
    staging, stats = load(rdb_bytes(keyspace, compress=compress, checksum=checksum), now_ms=0)
    assert keyspace_contents(staging, encodings=True) == keyspace_contents(keyspace, encodings=True)
    assert stats.keys_loaded == len(dataset)
    for db in staging.dbs:
        db.check_invariants()


# -- DUMP payloads --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SIZE_CLASSES))
def test_dump_payload_round_trips_every_size_class(name):
    value, encoding = SIZE_CLASSES[name]
    payload = dump_value(value)
    assert payload[-10:-8] == (10).to_bytes(2, "little")
    assert payload[-8:] == crc64(payload[:-8]).to_bytes(8, "little")
    assert payload_is_valid(payload)
    restored = load_value(payload, default_config())
    assert keyspace_contents(one_key(restored)) == keyspace_contents(one_key(value))
    assert encoding_of(restored) == encoding


def test_dump_payload_footer_is_checked():
    payload = dump_value(b"value")
    newer = payload[:-10] + (11).to_bytes(2, "little")
    assert not payload_is_valid(newer + crc64(newer).to_bytes(8, "little"))
    older = payload[:-10] + (9).to_bytes(2, "little")
    assert payload_is_valid(older + crc64(older).to_bytes(8, "little"))
    assert not payload_is_valid(payload[:-1] + bytes((payload[-1] ^ 1,)))
    assert not payload_is_valid(payload[:9])


def with_footer(body: bytes) -> bytes:
    body += (10).to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


@pytest.mark.parametrize(
    "body",
    [
        bytes((TYPE_SET, 0)),  # an empty set
        bytes((TYPE_HASH, 0)),
        bytes((TYPE_SET, 2)) + encode_string(b"a") + encode_string(b"a"),  # a duplicate member
        bytes((TYPE_HASH, 1)) + encode_string(b"f"),  # a missing value
        bytes((TYPE_ZSET, 1)) + encode_string(b"m") + b"\x03nan",
        bytes((TYPE_ZSET, 1)) + encode_string(b"m") + b"\x03abc",
        bytes((0x77,)),  # no such type
        bytes((TYPE_STRING, 0xC4)),  # no such string encoding
    ],
    ids=["empty-set", "empty-hash", "dup-member", "short", "nan-score", "bad-score", "type", "enc"],
)
def test_malformed_dump_payloads_are_bad_data(body):
    payload = with_footer(body)
    assert payload_is_valid(payload)
    with pytest.raises(ValueError, match=BAD_DATA):
        load_value(payload, default_config())


# -- hand-made files in older or unusual forms ----------------------------------------------------


def test_version_1_to_4_files_have_no_checksum():
    for version in range(1, 5):
        staging, stats = load(craft(string_entry(b"k", b"v"), version=version))
        assert staging.dbs[0].data == {b"k": b"v"} and stats.version == version


def test_old_zset_with_text_scores():
    body = (bytes((TYPE_ZSET,)) + encode_string(b"z") + encode_length(4)
            + encode_string(b"a") + b"\x031.5" + encode_string(b"b") + b"\xfe"
            + encode_string(b"c") + b"\xff" + encode_string(b"d") + b"\x04-0.0")  # fmt: skip
    staging, _ = load(craft(body, version=6))
    zset = staging.dbs[0].data[b"z"]
    assert list(zset.items()) == [(-math.inf, b"c"), (0.0, b"d"), (1.5, b"a"), (math.inf, b"b")]
    assert encoding_of(zset) == "listpack"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"REDIX0010" + bytes((OP_EOF,)) + bytes(8), "Wrong signature"),
        (MAGIC + b"0011" + bytes((OP_EOF,)) + bytes(8), "Can't handle RDB format version 11"),
        (MAGIC + b"0000" + bytes((OP_EOF,)), "Can't handle RDB format version 0"),
        (MAGIC + b"00x9" + bytes((OP_EOF,)), "Can't handle RDB format version 0"),  # atoi, as Redis
        (craft(bytes((0x77,)) + encode_string(b"k") + encode_string(b"v")), "Unknown RDB encoding type 119"),
        (craft(string_entry(b"k", b"1") + string_entry(b"k", b"2")), "Duplicated key"),
        (craft(string_entry(b"k", b"v"))[:-3], "Short read"),
        (craft(string_entry(b"k", b"v")) + b"\x00", "after the end"),
        (craft(bytes((TYPE_HASH,)) + encode_string(b"h") + encode_length(2) + encode_string(b"f") * 4), "Duplicate hash fields"),
    ],
    ids=["magic", "version-11", "version-0", "version-text", "type", "dup-key", "truncated", "trailing", "dup-field"],
)
def test_bad_files_are_refused_with_a_reason(data, message):
    with pytest.raises(RdbError, match=message) as caught:
        load(data)
    assert caught.value.key in (None, b"k", b"h")


def test_the_error_names_the_key_and_the_offset_of_its_entry():
    body = string_entry(b"first", b"ok") + bytes((TYPE_SET,)) + encode_string(b"second") + encode_length(2) + encode_string(b"m") * 2
    with pytest.raises(RdbError) as caught:
        load(craft(body))
    assert caught.value.key == b"second"
    assert caught.value.offset == 9 + len(string_entry(b"first", b"ok"))
    assert "Duplicate set members" in str(caught.value) and "'second'" in str(caught.value)


def test_aux_fields_are_kept_in_order():
    data = rdb_bytes(one_key(b"v"), [(b"redis-ver", b"7.0.15"), (b"magpie-x", b"\x00" * 100)])
    _, stats = load(data)
    assert stats.aux == [(b"redis-ver", b"7.0.15"), (b"magpie-x", b"\x00" * 100)]


def test_an_error_in_reading_a_key_names_no_key_rather_than_the_one_before():
    first = string_entry(b"first", b"ok")
    second = bytes((TYPE_STRING,)) + encode_string(b"second-key-name")
    for cut in (len(first) + 1, len(first) + 5):  # inside the second key's own name
        with pytest.raises(RdbError, match="Short read") as caught:
            load((MAGIC + b"0010" + first + second)[: 9 + cut])
        assert caught.value.key is None
    expiry = bytes((OP_EXPIRETIME,)) + b"\x00\x00"  # cut inside an expiry after a key
    with pytest.raises(RdbError, match="Short read") as caught:
        load(MAGIC + b"0010" + first + expiry)
    assert caught.value.key is None
