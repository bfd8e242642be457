"""The hash value type: a field -> value dict that remembers Redis's encoding.

Redis 7.0 keeps a small hash as a listpack and converts it, once and for good, to a hash
table when it gets more than ``hash-max-listpack-entries`` fields or any field or value
longer than ``hash-max-listpack-value`` bytes. OBJECT ENCODING reports that choice, so
the value carries it; the commands apply the thresholds when they write.

A dict keeps insertion order with updates in place and deletions closing the gap, which
is exactly the order of a listpack, so HGETALL on a small hash answers in Redis's order.
"""

from __future__ import annotations

from magpie.store.types import register_type


class Hash(dict):
    """Fields and values are ``bytes``; ``listpack`` is False once converted to a hash table."""

    __slots__ = ("listpack",)

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.listpack = True

    def convert_if_needed(self, config: dict, longest: int) -> None:
        """Apply the thresholds after a write whose longest new field or value is ``longest`` bytes.

        ``config`` is the server's live configuration values.
        """
        if self.listpack and (
            longest > config["hash-max-listpack-value"] or len(self) > config["hash-max-listpack-entries"]
        ):
            self.listpack = False

    def check_invariants(self) -> None:
        """Raise AssertionError unless the hash is non-empty and its fields and values are
        bytes. (Sizes are not checked against the listpack limits: CONFIG SET lowers them
        without converting, as in Redis.)"""
        if not self:
            raise AssertionError("an empty hash is stored")
        for name, value in self.items():
            if name.__class__ is not bytes or value.__class__ is not bytes:
                raise AssertionError(f"field {name!r} or its value is not bytes")


def hash_encoding(value: Hash) -> str:
    return "listpack" if value.listpack else "hashtable"


def copy_hash(value: Hash) -> Hash:
    copy = Hash(value)
    copy.listpack = value.listpack
    return copy


register_type(Hash, "hash", hash_encoding, copy_hash)  # type: ignore[arg-type]
