"""The set value type: a set of ``bytes`` members that remembers Redis's encoding.

Redis 7.0 keeps a set whose members are all 64-bit integers in canonical form as an
intset while it has at most ``set-max-intset-entries`` members, and converts it to a hash
table otherwise. A write never converts back; only a set built afresh (the STORE
commands, SPOP's rebuild of a nearly emptied set) starts again from an intset.
"""

from __future__ import annotations

from collections.abc import Iterable

from magpie.store.types import register_type

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def is_intset_member(member: bytes) -> bool:
    """Redis's string2ll: an int64 written canonically (no sign on 0, no leading zeros, no spaces)."""
    if not member or len(member) > 20:
        return False
    try:
        number = int(member)
    except ValueError:
        return False
    return _INT64_MIN <= number <= _INT64_MAX and str(number).encode() == member


def all_intset_members(members: Iterable[bytes]) -> bool:
    for member in members:
        if not is_intset_member(member):
            return False
    return True


class Set(set):
    """Members are ``bytes``; ``intset`` is False once converted to a hash table."""

    __slots__ = ("intset",)

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.intset = True

    def after_add(self, added: Iterable[bytes], max_entries: int) -> None:
        """Apply the intset rules after ``added`` members were written."""
        if self.intset and (len(self) > max_entries or not all_intset_members(added)):
            self.intset = False

    def check_invariants(self) -> None:
        """Raise AssertionError unless the set is non-empty, its members are bytes, and an
        intset holds only canonical 64-bit integers. (Its size may exceed
        ``set-max-intset-entries``: CONFIG SET lowers the limit without converting.)"""
        if not self:
            raise AssertionError("an empty set is stored")
        for member in self:
            if member.__class__ is not bytes:
                raise AssertionError(f"member {member!r} is not bytes")
            if self.intset and not is_intset_member(member):
                raise AssertionError(f"intset member {member!r} is not a canonical integer")

    def ordered(self) -> list[bytes]:
        """Members in Redis's iteration order where it has one (an intset is sorted)."""
        if self.intset:
            return sorted(self, key=int)
        return list(self)


def build_set(members: Iterable[bytes], max_entries: int) -> Set:
    """A new set with the encoding Redis gives a set built member by member from empty."""
    result = Set(members)
    result.intset = len(result) <= max_entries and all_intset_members(result)
    return result


def set_encoding(value: Set) -> str:
    return "intset" if value.intset else "hashtable"


def copy_set(value: Set) -> Set:
    copy = Set(value)
    copy.intset = value.intset
    return copy


register_type(Set, "set", set_encoding, copy_set)  # type: ignore[arg-type]
