"""redis.conf-style configuration: the parameters Magpie supports, their types and defaults.

``CONFIG GET``/``SET``/``REWRITE``, the config file and ``--name value`` command-line options
all read this one table. Values are kept typed (ints, bools, strings); ``render`` gives the
text Redis's CONFIG GET would show.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from magpie.patterns import compile_pattern
from magpie.protocol.inline import split_inline


class ConfigError(Exception):
    """A value was refused; ``message`` is the reason Redis would give."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1024,
    "m": 1000**2, "mb": 1024**2,
    "g": 1000**3, "gb": 1024**3,
}  # fmt: skip


def parse_memory(text: str) -> int:
    """Redis's memtoull: ``1k`` = 1000, ``1kb`` = 1024 and so on, case-insensitive."""
    m = re.fullmatch(r"(\d+)([a-zA-Z]*)", text.strip())
    if not m or m.group(2).lower() not in _UNITS:
        raise ConfigError("argument must be a memory value")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered == "yes":
        return True
    if lowered == "no":
        return False
    raise ConfigError("argument must be 'yes' or 'no'")


def _parse_save(text: str) -> list[tuple[int, int]]:
    parts = text.split()
    if len(parts) % 2:
        raise ConfigError("Invalid save parameters")
    try:
        pairs = [(int(parts[i]), int(parts[i + 1])) for i in range(0, len(parts), 2)]
    except ValueError:
        raise ConfigError("Invalid save parameters") from None
    if any(s < 1 or c < 0 for s, c in pairs):
        raise ConfigError("Invalid save parameters")
    return pairs


_EVENT_CLASSES = "g$lshzxetd"  # what 'A' stands for, in Redis's display order


class KeyspaceEvents(str):
    """notify-keyspace-events as Redis displays it, plus every class it enables.

    Redis's display drops 'n' next to 'A' ("KEAn" shows as "AKE") although new-key events
    stay on, so the display alone cannot be parsed back.
    """

    classes: frozenset[str]


def _parse_keyspace_events(text: str) -> str:
    """notify-keyspace-events: validate the classes, keep Redis's canonical spelling."""
    chars = set(text)
    if not chars <= set("Ag$lshzxeKEtmdn"):
        raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    if "A" in chars:
        chars |= set(_EVENT_CLASSES)
    if set(_EVENT_CLASSES) <= chars:
        out = "A"
    else:
        out = "".join(c for c in _EVENT_CLASSES + "n" if c in chars)
    value = KeyspaceEvents(out + "".join(c for c in "KEm" if c in chars))
    value.classes = frozenset(chars - {"A"})
    return value


_OBUF_CLASSES = {"normal": "normal", "slave": "slave", "replica": "slave", "pubsub": "pubsub"}


def _parse_output_buffer_limits(text: str) -> dict[str, tuple[int, int, int]]:
    """``<class> <hard> <soft> <soft seconds>`` groups; classes not named keep their limits."""
    parts = text.split()
    if len(parts) % 4:  # (nothing at all is accepted, and changes nothing, as in Redis)
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    limits: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(parts), 4):
        cls = _OBUF_CLASSES.get(parts[i].lower())
        if cls is None:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft = parse_memory(parts[i + 1]), parse_memory(parts[i + 2])
            seconds = int(parts[i + 3])
        except (ConfigError, ValueError):
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.") from None
        if seconds < 0:
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        limits[cls] = (hard, soft, seconds)
    return limits


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # int, memory, bool, string, basename, enum, save, events, obuf
    default: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    immutable: bool = False
    #: Redis 7 refuses CONFIG SET of these unless enable-protected-configs allows it.
    protected: bool = False
    #: Values outside [minimum, maximum] are accepted and stored clamped (Redis's hz).
    clamp: tuple[int, int] | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)
    #: Redis's HIDDEN_CONFIG: CONFIG GET finds it by its exact name only, never by a pattern.
    hidden: bool = False

    def parse(self, text: str) -> object:
        if self.kind == "bool":
            return _parse_bool(text)
        if self.kind in ("int", "memory"):
            if self.kind == "memory":
                value = parse_memory(text)
            else:
                try:
                    value = int(text)
                except ValueError:
                    raise ConfigError("argument couldn't be parsed into an integer") from None
            if self.minimum is not None and value < self.minimum or (
                self.maximum is not None and value > self.maximum
            ):
                raise ConfigError(
                    f"argument must be between {self.minimum} and {self.maximum} inclusive"
                )
            if self.clamp is not None:
                value = min(max(value, self.clamp[0]), self.clamp[1])
            return value
        if self.kind == "enum":
            if text.lower() not in self.choices:
                raise ConfigError(f"argument(s) must be one of the following: {', '.join(self.choices)}")
            return text.lower()
        if self.kind == "save":
            return _parse_save(text)
        if self.kind == "events":
            return _parse_keyspace_events(text)
        if self.kind == "obuf":
            return _parse_output_buffer_limits(text)
        if self.kind == "basename":  # a name inside ``dir`` (Redis's isValidAOFfilename/dirname)
            what = "dirname" if self.name.endswith("dirname") else "filename"
            if not text:
                raise ConfigError(f"{self.name} can't be empty")
            if "/" in text or "\\" in text:
                raise ConfigError(f"{self.name} can't be a path, just a {what}")
        return text

    def render(self, value: object) -> str:
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind == "save":
            return " ".join(f"{s} {c}" for s, c in value)  # type: ignore[attr-defined]
        if self.kind == "obuf":
            return " ".join(
                f"{cls} {hard} {soft} {secs}" for cls, (hard, soft, secs) in value.items()  # type: ignore[attr-defined]
            )
        return str(value)


_MAXINT = 2**31 - 1
_MAXLL = 2**63 - 1
PARAMS: tuple[Param, ...] = (
    # Redis rebinds on CONFIG SET port/bind; Magpie listens once, so these are fixed at start.
    Param("port", "int", "6379", 0, 65535, immutable=True),
    Param("bind", "string", "127.0.0.1", immutable=True),
    Param("dir", "string", ".", protected=True),
    Param("enable-protected-configs", "enum", "no", choices=("no", "yes", "local"), immutable=True),
    Param("dbfilename", "string", "dump.rdb", protected=True),
    Param("requirepass", "string", ""),
    Param("aclfile", "string", "", immutable=True),
    Param("acllog-max-len", "int", "128", 0, _MAXLL),
    Param("acl-pubsub-default", "enum", "resetchannels", choices=("allchannels", "resetchannels")),
    Param("masterauth", "string", ""),
    Param("masteruser", "string", ""),
    Param("save", "save", "3600 1 300 100 60 10000"),
    Param("appendonly", "bool", "no"),
    Param("appendfilename", "basename", "appendonly.aof", immutable=True),
    Param("appenddirname", "basename", "appendonlydir", immutable=True),
    Param("appendfsync", "enum", "everysec", choices=("everysec", "always", "no")),
    Param("auto-aof-rewrite-percentage", "int", "100", 0, _MAXINT),
    Param("auto-aof-rewrite-min-size", "memory", "67108864", 0, _MAXLL),
    Param("aof-load-truncated", "bool", "yes"),
    Param("aof-use-rdb-preamble", "bool", "yes"),
    Param("aof-timestamp-enabled", "bool", "no"),
    Param("aof-rewrite-incremental-fsync", "bool", "yes"),
    Param("aof-disable-auto-gc", "bool", "no"),
    Param("no-appendfsync-on-rewrite", "bool", "no"),
    Param("databases", "int", "16", 1, _MAXINT, immutable=True),
    Param("maxclients", "int", "10000", 1, 2**32 - 1),
    Param("timeout", "int", "0", 0, _MAXINT),
    Param("tcp-keepalive", "int", "300", 0, _MAXINT),
    Param("tcp-backlog", "int", "511", 0, _MAXINT, immutable=True),
    Param("hz", "int", "10", 0, _MAXINT, clamp=(1, 500)),
    Param("maxmemory", "memory", "0", 0, _MAXLL),
    Param(
        "maxmemory-policy",
        "enum",
        "noeviction",
        choices=(
            "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
            "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
        ),
    ),  # fmt: skip
    Param("maxmemory-samples", "int", "5", 1, _MAXINT),
    Param("lfu-log-factor", "int", "10", 0, _MAXINT),
    Param("lfu-decay-time", "int", "1", 0, _MAXINT),
    Param("proto-max-bulk-len", "memory", "536870912", 1024 * 1024, _MAXLL),
    Param("client-query-buffer-limit", "memory", "1073741824", 1024 * 1024, _MAXLL),
    Param("notify-keyspace-events", "events", ""),
    Param("loglevel", "enum", "notice", choices=("debug", "verbose", "notice", "warning")),
    Param("logfile", "string", "", immutable=True),
    Param("daemonize", "bool", "no", immutable=True),
    Param("pidfile", "string", "", immutable=True),
    Param("protected-mode", "bool", "yes"),
    Param("slowlog-log-slower-than", "int", "10000", -1, _MAXLL),
    Param("slowlog-max-len", "int", "128", 0, _MAXLL),
    Param("latency-monitor-threshold", "int", "0", 0, _MAXLL),
    Param("lazyfree-lazy-eviction", "bool", "no"),
    Param("lazyfree-lazy-expire", "bool", "no"),
    Param("lazyfree-lazy-server-del", "bool", "no"),
    Param("lazyfree-lazy-user-del", "bool", "no"),
    Param("lazyfree-lazy-user-flush", "bool", "no"),
    Param("replica-read-only", "bool", "yes", aliases=("slave-read-only",)),
    Param("replica-serve-stale-data", "bool", "yes", aliases=("slave-serve-stale-data",)),
    Param("replica-priority", "int", "100", 0, _MAXINT, aliases=("slave-priority",)),
    # not a CONFIG SET/GET parameter in Redis: set from the file or by REPLICAOF
    Param("replicaof", "string", "", aliases=("slaveof",), immutable=True, hidden=True),
    Param("repl-backlog-size", "memory", "1048576", 1, _MAXLL),
    Param("repl-ping-replica-period", "int", "10", 1, _MAXINT, aliases=("repl-ping-slave-period",)),
    Param("repl-timeout", "int", "60", 1, _MAXINT),
    Param("repl-diskless-sync", "bool", "yes"),
    Param("repl-diskless-sync-delay", "int", "5", 0, _MAXINT),
    Param("repl-diskless-sync-max-replicas", "int", "0", 0, _MAXINT),
    Param("repl-diskless-load", "enum", "disabled", choices=("disabled", "on-empty-db", "swapdb")),
    Param("repl-backlog-ttl", "int", "3600", 0, _MAXLL),
    Param("repl-disable-tcp-nodelay", "bool", "no"),
    Param("replica-announce-ip", "string", "", aliases=("slave-announce-ip",)),
    Param("replica-announce-port", "int", "0", 0, 65535, aliases=("slave-announce-port",)),
    Param("replica-announced", "bool", "yes"),
    Param("replica-lazy-flush", "bool", "no", aliases=("slave-lazy-flush",)),
    Param("replica-ignore-maxmemory", "bool", "yes", aliases=("slave-ignore-maxmemory",)),
    Param("min-replicas-to-write", "int", "0", 0, _MAXINT, aliases=("min-slaves-to-write",)),
    Param("min-replicas-max-lag", "int", "10", 0, _MAXINT, aliases=("min-slaves-max-lag",)),
    Param("rdbcompression", "bool", "yes"),
    Param("rdbchecksum", "bool", "yes"),
    Param("stop-writes-on-bgsave-error", "bool", "yes"),
    # Redis's test knobs (hidden): microseconds of sleep per key saved / loaded (a negative
    # -n sleeps 1 us one key in n); Magpie sleeps for 1024 keys at a time
    Param("rdb-key-save-delay", "int", "0", -(2**31), _MAXINT, hidden=True),
    Param("key-load-delay", "int", "0", -(2**31), _MAXINT, hidden=True),
    Param("activerehashing", "bool", "yes"),
    Param("io-threads", "int", "1", 1, 128, immutable=True),
    Param("busy-reply-threshold", "int", "5000", 0, _MAXLL, aliases=("lua-time-limit",)),
    Param("client-output-buffer-limit", "obuf",
          "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),  # fmt: skip
    Param("hash-max-listpack-entries", "int", "512", 0, _MAXLL, aliases=("hash-max-ziplist-entries",)),
    Param("hash-max-listpack-value", "int", "64", 0, _MAXLL, aliases=("hash-max-ziplist-value",)),
    Param("list-max-listpack-size", "int", "-2", -5, _MAXLL, aliases=("list-max-ziplist-size",)),
    Param("list-compress-depth", "int", "0", 0, _MAXINT),
    Param("set-max-intset-entries", "int", "512", 0, _MAXLL),
    Param("zset-max-listpack-entries", "int", "128", 0, _MAXLL, aliases=("zset-max-ziplist-entries",)),
    Param("zset-max-listpack-value", "int", "64", 0, _MAXLL, aliases=("zset-max-ziplist-value",)),
    Param("active-expire-effort", "int", "1", 1, 10),
    Param("always-show-logo", "bool", "no", immutable=True),
    Param("set-proc-title", "bool", "yes", immutable=True),
    Param("enable-debug-command", "enum", "yes", choices=("yes", "no", "local"), immutable=True),
)  # fmt: skip

BY_NAME: dict[str, Param] = {}
for _p in PARAMS:
    BY_NAME[_p.name] = _p
    for _alias in _p.aliases:
        BY_NAME[_alias] = _p


class Config:
    """The live configuration; attribute reads (``config.values['hz']``) are plain dict lookups."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {p.name: p.parse(p.default) for p in PARAMS}
        #: The first ``save`` line of a config replaces the default; later ones add to it.
        self._save_loaded = False
        self.file: str | None = None
        #: ``user <name> rules...`` lines, checked for syntax; applied by the ACL at start.
        self.users: list[tuple[bytes, list[bytes]]] = []
        #: Called with the canonical name after a successful CONFIG SET.
        self.on_change: list[Callable[[str], None]] = []

    def __getitem__(self, name: str) -> object:
        return self.values[name]

    def set(self, name: str, text: str, *, startup: bool = False) -> None:
        param = BY_NAME.get(name.lower())
        if param is None:
            raise KeyError(name)
        if param.immutable and not startup:
            raise ConfigError("can't set immutable config")
        value = param.parse(text)
        if param.kind == "obuf":  # a partial setting updates only the classes it names
            value = {**self.values.get(param.name, {}), **value}  # type: ignore[dict-item]
        self.values[param.name] = value
        if not startup:
            for callback in self.on_change:
                callback(param.name)

    def matching(self, pattern: str) -> list[tuple[str, str]]:
        """(name, rendered value) pairs for one CONFIG GET pattern, as Redis 7 answers.

        A pattern without glob characters is a direct lookup and the reply names the
        parameter the way it was asked for; a glob matches names and aliases, ignoring case.
        """
        if not any(ch in pattern for ch in "[*?"):
            param = BY_NAME.get(pattern.lower())
            return [(pattern, param.render(self.values[param.name]))] if param else []
        match = compile_pattern(pattern.encode(errors="surrogateescape"), nocase=True).match
        return [
            (name, param.render(self.values[param.name]))
            for name, param in BY_NAME.items()
            if not param.hidden and match(name.encode())
        ]

    def load_text(self, text: str) -> None:
        """Apply redis.conf syntax: one directive a line, quoted values, # comments.

        A bad line raises ``ConfigError`` whose message is what redis-server prints under
        its ``*** FATAL CONFIG FILE ERROR ***`` banner (line number, the line, the reason).
        """
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            args = split_inline(line.encode())
            if not args:
                raise _line_error(lineno, line, "Unbalanced quotes in configuration line")
            name = args[0].decode(errors="surrogateescape").lower()
            values = [a.decode(errors="surrogateescape") for a in args[1:]]
            if name == "user" and len(args) >= 2:
                self._add_user(lineno, line, args[1:])
                continue
            if name in ("include", "rename-command", "loadmodule"):
                continue  # accepted and ignored: no modules yet
            param = BY_NAME.get(name)
            if param is None or not values:
                raise _line_error(lineno, line, "Bad directive or wrong number of arguments")
            value = " ".join(values)
            if param.name == "save":
                if self._save_loaded and value:
                    previous = param.render(self.values["save"])
                    value = f"{previous} {value}" if previous else value
                self._save_loaded = True
            try:
                self.set(name, value, startup=True)
            except ConfigError as exc:
                raise _line_error(lineno, line, exc.message) from None

    def _add_user(self, lineno: int, line: str, values: list[bytes]) -> None:
        from magpie.security.access import AclError, parse_user_directive

        if any(name == values[0] for name, _ in self.users):
            raise _line_error(lineno, line, f"Error in user declaration '{values[0].decode(errors='replace')}': "
                              "Duplicate user found. A user can only be defined once in config files")  # fmt: skip
        try:
            self.users.append(parse_user_directive(values))
        except AclError as exc:
            raise _line_error(lineno, line, str(exc)) from None

    def rewrite(self, user_lines: list[str] | None = None) -> None:
        """CONFIG REWRITE, as Redis does it: keep the file's comments and unrelated lines,
        rewrite each directive in place with its current value (dropping repeats), and
        append the other non-default parameters after a ``# Generated by CONFIG REWRITE``
        marker. The new file replaces the old one atomically.

        ``user_lines`` are the ACL users (``user <name> <rules>``), written where the
        first ``user`` line was, or after the marker; without an aclfile every user is
        written, the default one included, as Redis does."""
        users = [] if self.values["aclfile"] else list(user_lines or [])
        if not self.file:
            raise ConfigError("The server is running without a config file")
        try:
            with open(self.file) as fh:
                old_lines = fh.read().splitlines()
        except FileNotFoundError:
            old_lines = []
        out: list[str] = []
        written: set[str] = set()
        for raw in old_lines:
            args = split_inline(raw.strip().encode()) if raw.strip() and not raw.strip().startswith("#") else None
            name = args[0].decode(errors="replace").lower() if args else ""
            param = BY_NAME.get(name)
            if name == "user":
                if "user" not in written:
                    written.add("user")
                    out.extend(users)
            elif param is None:
                out.append(raw)
            elif param.name not in written:
                written.add(param.name)
                out.extend(self._directive_lines(param))
        generated = [
            line
            for param in PARAMS
            if param.name not in written and self.values[param.name] != param.parse(param.default)
            for line in self._directive_lines(param)
        ]
        if "user" not in written:
            generated += users
        if generated:
            if _REWRITE_MARKER not in out:
                out.append(_REWRITE_MARKER)
            out.extend(generated)
        tmp = f"{self.file}.tmp-{os.getpid()}"
        with open(tmp, "w", errors="surrogateescape") as fh:
            fh.write("\n".join(out) + "\n")
        os.replace(tmp, self.file)

    def _directive_lines(self, param: Param) -> list[str]:
        value = self.values[param.name]
        if param.kind == "save":  # one line per rule, as redis.conf writes them
            rules = [f"save {s} {c}" for s, c in value]  # type: ignore[attr-defined]
            return rules or ['save ""']
        if param.kind == "obuf":
            return [f"{param.name} {cls} {h} {s} {secs}" for cls, (h, s, secs) in value.items()]  # type: ignore[attr-defined]
        rendered = param.render(value)
        if param.name == "replicaof":  # "host port", two arguments as Redis writes them
            return [f"replicaof {rendered}"] if rendered else []
        return [f"{param.name} {_quote(rendered) if rendered else chr(34) * 2}"]


_REWRITE_MARKER = "# Generated by CONFIG REWRITE"


def _line_error(lineno: int, line: str, reason: str) -> ConfigError:
    return ConfigError(f"Reading the configuration file, at line {lineno}\n>>> '{line}'\n{reason}")


def _quote(text: str) -> str:
    if re.fullmatch(r"[^\s\"'\\]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def options_to_text(argv: Iterable[str]) -> str:
    """``--port 7000 --save ""`` -> redis.conf text, the way redis-server reads its options."""
    lines: list[str] = []
    for arg in argv:
        if arg.startswith("--") and len(arg) > 2:
            lines.append(arg[2:])
        elif lines:
            lines[-1] += " " + _quote(arg) if arg else ' ""'
        else:
            raise ConfigError(f"unexpected argument {arg!r}")
    return "\n".join(lines)
