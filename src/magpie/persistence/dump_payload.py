"""DUMP / RESTORE payloads: one value in RDB form, then the RDB version (2 bytes LE) and a
CRC-64 (8 bytes LE) of everything before it, exactly as Redis 7.0 writes them, so a
payload moves between Magpie and Redis in either direction."""

from __future__ import annotations

from magpie.persistence.rdb_format import RDB_VERSION, crc64
from magpie.persistence.rdb_reader import ValueBuilder, ValueReader, is_empty, read_value
from magpie.persistence.rdb_writer import encode_value

BAD_VERSION_OR_CHECKSUM = "ERR DUMP payload version or checksum are wrong"
BAD_DATA = "ERR Bad data format"


def dump_value(value: object, compress: bool = True) -> bytes:
    kind, payload = encode_value(value, compress)
    body = bytes((kind,)) + payload + RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def payload_is_valid(payload: bytes) -> bool:
    """Redis's verifyDumpPayload: long enough, a version it can read, the right checksum."""
    if len(payload) < 10:
        return False
    version = int.from_bytes(payload[-10:-8], "little")
    if version > RDB_VERSION:
        return False
    return crc64(payload[:-8]) == int.from_bytes(payload[-8:], "little")


def load_value(payload: bytes, config: dict) -> object:
    """The value in a verified payload; ValueError(BAD_DATA) if it cannot be read."""
    reader = ValueReader(payload, 1, len(payload) - 10)
    try:
        value = read_value(reader, payload[0], ValueBuilder(config))
    except Exception as exc:  # noqa: BLE001 - any malformed payload is "Bad data format"
        raise ValueError(BAD_DATA) from exc
    if is_empty(value):
        raise ValueError(BAD_DATA)
    return value
