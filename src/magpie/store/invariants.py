"""Walking the whole dataset to check that its structures are consistent (DEBUG CHECK-INVARIANTS).

A state that no sequence of commands should produce (a sorted set whose dict and tree
disagree, a TTL on a key that is gone, a stale memory estimate) means a bug in Magpie, and
one that may only show much later. The checks themselves live with the structures they
check (``ZSet.check_invariants``, ``Database.check_invariants``, ...) and raise
AssertionError; this module walks every database and value, and reports the first failure
as an ``InvariantViolation`` that says what broke and where. O(dataset): a debugging and
test tool, not something to run on a busy server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from magpie.store.types import TYPES

if TYPE_CHECKING:
    from magpie.store.database import Database
    from magpie.store.keyspace import Keyspace
    from magpie.store.memory import MemoryAccounting


class InvariantViolation(Exception):
    """A data structure is in a state its code should never produce; the text says which."""


def check_keyspace(keyspace: Keyspace, memory: MemoryAccounting | None = None) -> None:
    """Check every database, every stored value and (if given) the memory accounting."""
    for db in keyspace.dbs:
        check_database(db)
    if memory is not None:
        try:
            memory.check_invariants()
        except AssertionError as exc:
            raise InvariantViolation(f"memory accounting: {exc}") from None


def check_database(db: Database) -> None:
    try:
        db.check_invariants()
    except AssertionError as exc:
        raise InvariantViolation(f"db {db.index}: {exc}") from None
    for key, value in db.data.items():
        try:
            check_value(value)
        except AssertionError as exc:
            raise InvariantViolation(f"key {_show(key)} in db {db.index}: {exc}") from None


def check_value(value: object) -> None:
    """Raise AssertionError unless ``value`` is of a stored type and its own checks pass."""
    cls = value.__class__
    if cls not in TYPES:
        raise AssertionError(f"a value of unknown type {cls.__name__}")
    check = getattr(value, "check_invariants", None)
    if check is not None:
        check()


def _show(key: bytes) -> str:
    text = repr(key)[2:-1]
    return f"'{text[:200]}'"
