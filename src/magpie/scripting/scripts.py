"""EVAL's script cache and the shebang line that declares a script's flags.

Scripts are kept by the SHA1 of their body, compiled once (``SCRIPT LOAD`` or the first
``EVAL``). A body that starts ``#!lua`` declares flags (``#!lua flags=no-writes,allow-oom``);
one without a shebang runs in Redis's compatibility mode (no flags: its writes are checked
command by command).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

NO_WRITES = "no-writes"
ALLOW_OOM = "allow-oom"
ALLOW_STALE = "allow-stale"
NO_CLUSTER = "no-cluster"
ALLOW_CROSS_SLOT = "allow-cross-slot-keys"
#: The flags a script (or a function) may declare, as Redis spells them.
SCRIPT_FLAGS = (NO_WRITES, ALLOW_OOM, ALLOW_STALE, NO_CLUSTER, ALLOW_CROSS_SLOT)


class ScriptError(Exception):
    """A script that cannot be loaded: the message is the error reply's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(eq=False)
class Script:
    sha: str
    body: bytes
    #: None: no shebang (compatibility mode); else the declared flags.
    flags: frozenset[str] | None
    function: Any


def sha1_of(body: bytes) -> str:
    return hashlib.sha1(body).hexdigest()


def parse_shebang(body: bytes) -> tuple[frozenset[str] | None, int]:
    """(flags or None without a shebang, length of the shebang line without its newline).
    Raises ScriptError with Redis's texts."""
    if not body.startswith(b"#!"):
        return None, 0
    end = body.find(b"\n")
    if end < 0:
        raise ScriptError("ERR Invalid script shebang")
    parts = body[:end].decode("utf-8", "surrogateescape").split()
    if not parts:
        raise ScriptError("ERR Invalid engine in script shebang")
    if parts[0] != "#!lua":
        raise ScriptError(f"ERR Unexpected engine in script shebang: {parts[0]}")
    flags: set[str] = set()
    for part in parts[1:]:
        if not part.startswith("flags="):
            raise ScriptError(f"ERR Unknown lua shebang option: {part}")
        for flag in part[6:].split(",") if part[6:] else ():  # ("flags=" alone: none)
            if flag not in SCRIPT_FLAGS:
                raise ScriptError(f"ERR Unexpected flag in script shebang: {flag}")
            flags.add(flag)
    return frozenset(flags), end


class ScriptCache:
    """sha -> Script, for EVAL, EVALSHA and SCRIPT LOAD/EXISTS/FLUSH."""

    def __init__(self) -> None:
        self.scripts: dict[bytes, Script] = {}  # by the hex SHA1 in lower case
        self.body_bytes = 0  # what INFO's used_memory_scripts_eval reports

    def get(self, sha: bytes) -> Script | None:
        """The script of a SHA1 in hex, in either case."""
        script = self.scripts.get(sha)
        if script is None and not sha.islower():
            script = self.scripts.get(sha.lower())
        return script

    def add(self, sha: str, body: bytes, compile_body: Any) -> Script:
        """Compile ``body`` (whose SHA1 is ``sha``) unless it is cached; ScriptError if it
        does not compile. ``compile_body(code) -> (function, message)``."""
        key = sha.encode()
        script = self.scripts.get(key)
        if script is not None:
            return script
        flags, shebang_len = parse_shebang(body)
        # The shebang is cut but its newline kept, so line numbers stay the user's.
        function, message = compile_body(body[shebang_len:])
        if function is None:
            text = message.decode("utf-8", "surrogateescape") if isinstance(message, bytes) else str(message)
            raise ScriptError(f"ERR Error compiling script (new function): {text}")
        script = Script(sha, body, flags, function)
        self.scripts[key] = script
        self.body_bytes += len(body) + 40
        return script

    def clear(self) -> None:
        self.scripts.clear()
        self.body_bytes = 0

    def __len__(self) -> int:
        return len(self.scripts)
