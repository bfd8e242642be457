"""Every error text a client can see, in one place.

Error strings are part of Redis's interface: clients match on them (redis-py maps
prefixes to exception classes, Sentinel clients reconnect on ``READONLY``), so each
one here is Redis 7's text to the letter. Texts carry their prefix (``ERR``,
``WRONGTYPE``, ...) and no leading ``-``.
"""

from __future__ import annotations


class CommandError(Exception):
    """A command failed; the client gets ``-<message>`` and the connection carries on."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProtocolError(Exception):
    """The request stream is malformed: reply ``-ERR Protocol error: ...`` and close."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.message = f"ERR Protocol error: {reason}"


class QueryBufferExceeded(Exception):
    """The client's unparsed input outgrew ``client-query-buffer-limit``: Redis logs it and
    closes the connection without a reply. ``head`` is the start of the buffered input."""

    def __init__(self, head: bytes) -> None:
        super().__init__("client query buffer exceeds client-query-buffer-limit")
        self.head = head


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
INCR_FLOAT_NAN = "ERR increment would produce NaN or Infinity"
NO_SUCH_KEY = "ERR no such key"
DB_OUT_OF_RANGE = "ERR DB index is out of range"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
AUTH_NOT_CONFIGURED = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
BIT_OFFSET = "ERR bit offset is not an integer or out of range"
BIT_VALUE = "ERR bit is not an integer or out of range"
OFFSET_RANGE = "ERR offset is out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
SAME_OBJECT = "ERR source and destination objects are the same"
NOT_ALLOWED_IN_PUBSUB = (
    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
    "are allowed in this context"
)
MAX_CLIENTS = "ERR max number of clients reached"
#: Sent (then the connection is closed) to a non-loopback client under protected mode.
PROTECTED_MODE = (
    "DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to Redis you may "
    "adopt one of the following solutions: 1) Just disable protected mode sending the command "
    "'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from "
    "the same host the server is running, however MAKE SURE Redis is not publicly accessible "
    "from internet if you do so. Use CONFIG REWRITE to make this change permanent. "
    "2) Alternatively you can just disable the protected mode by editing the Redis "
    "configuration file, and setting the protected mode option to 'no', and then restarting "
    "the server. 3) If you started the server manually just for testing, restart it with the "
    "'--protected-mode no' option. 4) Setup a an authentication password for the default "
    "user. NOTE: You only need to do one of the above things in order for the server to start "
    "accepting connections from the outside."
)
OOM = "OOM command not allowed when used memory > 'maxmemory'."
LOADING = "LOADING Redis is loading the dataset in memory"
MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
READONLY = "READONLY You can't write against a read only replica."
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."

# lists
MUST_BE_POSITIVE = "ERR value is out of range, must be positive"
INDEX_OUT_OF_RANGE = "ERR index out of range"
LPOS_RANK_ZERO = (
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)
LPOS_COUNT_NEGATIVE = "ERR COUNT can't be negative"
LPOS_MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative"
MPOP_NUMKEYS = "ERR numkeys should be greater than 0"  # LMPOP, ZMPOP, SINTERCARD...
MPOP_COUNT = "ERR count should be greater than 0"


def wrong_arity(name: str) -> str:
    return f"ERR wrong number of arguments for '{name}' command"


def unknown_command(name: bytes, args: list[bytes]) -> str:
    """Redis's text: the name cut to 128 bytes, then as many quoted args as fit in 128 bytes.

    Redis formats with C strings, so each value also ends at its first NUL byte.
    """
    shown = b""
    for arg in args:
        if len(shown) >= 128:
            break
        shown += b"'" + _c_string(arg)[: 128 - len(shown)] + b"' "
    return (
        f"ERR unknown command '{_text(_c_string(name)[:128])}', "
        f"with args beginning with: {_text(shown)}"
    )


def _c_string(raw: bytes) -> bytes:
    end = raw.find(b"\0")
    return raw if end < 0 else raw[:end]


def _text(raw: bytes) -> str:
    # surrogateescape round-trips arbitrary bytes back to the client unchanged.
    return raw.decode("utf-8", "surrogateescape")


def unknown_subcommand(sub: bytes, container: str) -> str:
    return f"ERR unknown subcommand '{_clip(sub)}'. Try {container.upper()} HELP."


def invalid_expire(command: str) -> str:
    return f"ERR invalid expire time in '{command}' command"


def _clip(raw: bytes, limit: int = 128) -> str:
    """``%.128s`` of a C string: at most ``limit`` bytes, ending at a NUL."""
    return _text(_c_string(raw)[:limit])

# hashes and sets
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
NAN_OR_INFINITY = "ERR value is NaN or Infinity"
INVALID_CURSOR = "ERR invalid cursor"
NUMKEYS_TOO_MANY = "ERR Number of keys can't be greater than number of args"
LIMIT_NEGATIVE = "ERR LIMIT can't be negative"

# Scripting (EVAL, FCALL and their KILL commands)
NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
NOTBUSY = "NOTBUSY No scripts in execution right now."
UNKILLABLE_MASTER = (
    "UNKILLABLE The busy script was sent by a master instance in the context of replication "
    "and cannot be killed."
)
UNKILLABLE_WRITTEN = (
    "UNKILLABLE Sorry the script already executed write commands against the dataset. You "
    "can either wait the script termination or kill the server in a hard way using the "
    "SHUTDOWN NOSAVE command."
)
