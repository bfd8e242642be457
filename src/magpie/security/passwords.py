"""Passwords as Redis keeps them: SHA-256 hex digests, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

HASH_LEN = 64
_HEX = frozenset(b"0123456789abcdef")
GENPASS_MAX_BITS = 4096


def hash_password(clear: bytes) -> str:
    return hashlib.sha256(clear).hexdigest()


def is_valid_hash(text: bytes) -> bool:
    """Exactly 64 lower-case hex digits, as ``#<hash>`` and ``!<hash>`` require."""
    return len(text) == HASH_LEN and all(c in _HEX for c in text)


def password_matches(clear: bytes, hashes: list[str]) -> bool:
    digest = hash_password(clear)
    found = False
    for stored in hashes:  # every one compared, so timing says nothing about which matched
        found |= hmac.compare_digest(digest, stored)
    return found


def generate(bits: int) -> str:
    """ACL GENPASS: ``bits`` rounded up to whole hex digits."""
    return secrets.token_hex((bits + 7) // 8)[: (bits + 3) // 4]
