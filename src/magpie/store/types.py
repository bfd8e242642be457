"""What TYPE and OBJECT ENCODING report for each kind of stored value.

Strings are ``bytes``; the other data types register their classes here as they land.
"""

from __future__ import annotations

from collections.abc import Callable

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

EMBSTR_MAX = 44  # Redis keeps strings up to 44 bytes in one allocation ("embstr")


def string_encoding(value: bytes) -> str:
    if len(value) <= 20:
        try:
            number = int(value)
        except ValueError:
            number = None
        if (
            number is not None
            and INT64_MIN <= number <= INT64_MAX
            and str(number).encode() == value
        ):
            return "int"
    return "embstr" if len(value) <= EMBSTR_MAX else "raw"


#: class -> (TYPE name, OBJECT ENCODING function)
TYPES: dict[type, tuple[str, Callable[[object], str]]] = {
    bytes: ("string", string_encoding),  # type: ignore[dict-item]
}


def register_type(
    cls: type, name: str, encoding: Callable[[object], str], copier: Callable[[object], object]
) -> None:
    """Called by each data type's module: what TYPE, OBJECT ENCODING and COPY do with it."""
    TYPES[cls] = (name, encoding)
    COPIERS[cls] = copier


def type_name(value: object) -> str:
    return TYPES[value.__class__][0]


def encoding_of(value: object) -> str:
    return TYPES[value.__class__][1](value)


#: class -> deep copy function, for COPY; immutable values are shared.
COPIERS: dict[type, Callable[[object], object]] = {bytes: lambda v: v}


def copy_value(value: object) -> object:
    return COPIERS[value.__class__](value)
