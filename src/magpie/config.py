"""redis.conf-style configuration: the parameters Magpie supports, their types and defaults.

``CONFIG GET``/``SET``/``REWRITE``, the config file and ``--name value`` command-line options
all read this one table. Values are kept typed (ints, bools, strings); ``render`` gives the
text Redis's CONFIG GET would show.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

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
    m = re.fullmatch(r"(-?\d+)([a-zA-Z]*)", text.strip())
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


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # int, memory, bool, string, enum, save, list
    default: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    immutable: bool = False
    aliases: tuple[str, ...] = field(default_factory=tuple)

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
            return value
        if self.kind == "enum":
            if text.lower() not in self.choices:
                raise ConfigError(f"argument(s) must be one of the following: {', '.join(self.choices)}")
            return text.lower()
        if self.kind == "save":
            return _parse_save(text)
        return text

    def render(self, value: object) -> str:
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind == "save":
            return " ".join(f"{s} {c}" for s, c in value)  # type: ignore[attr-defined]
        return str(value)


_MAXINT = 2**31 - 1
_MAXLL = 2**63 - 1
PARAMS: tuple[Param, ...] = (
    Param("port", "int", "6379", 0, 65535),
    Param("bind", "string", "127.0.0.1"),
    Param("dir", "string", "."),
    Param("dbfilename", "string", "dump.rdb"),
    Param("requirepass", "string", ""),
    Param("masterauth", "string", ""),
    Param("masteruser", "string", ""),
    Param("save", "save", "3600 1 300 100 60 10000"),
    Param("appendonly", "bool", "no"),
    Param("appendfilename", "string", "appendonly.aof", immutable=True),
    Param("appenddirname", "string", "appendonlydir", immutable=True),
    Param("appendfsync", "enum", "everysec", choices=("always", "everysec", "no")),
    Param("databases", "int", "16", 1, _MAXINT, immutable=True),
    Param("maxclients", "int", "10000", 1, _MAXINT),
    Param("timeout", "int", "0", 0, _MAXINT),
    Param("tcp-keepalive", "int", "300", 0, _MAXINT),
    Param("tcp-backlog", "int", "511", 0, _MAXINT, immutable=True),
    Param("hz", "int", "10", 1, 500),
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
    Param("maxmemory-samples", "int", "5", 1, 64),
    Param("proto-max-bulk-len", "memory", "536870912", 1024 * 1024, _MAXLL),
    Param("client-query-buffer-limit", "memory", "1073741824", 1024 * 1024, _MAXLL),
    Param("notify-keyspace-events", "string", ""),
    Param("loglevel", "enum", "notice", choices=("debug", "verbose", "notice", "warning", "nothing")),
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
    Param("replicaof", "string", "", aliases=("slaveof",)),
    Param("repl-backlog-size", "memory", "1048576", 1, _MAXLL),
    Param("repl-ping-replica-period", "int", "10", 1, _MAXINT, aliases=("repl-ping-slave-period",)),
    Param("repl-timeout", "int", "60", 1, _MAXINT),
    Param("repl-diskless-sync", "bool", "yes"),
    Param("min-replicas-to-write", "int", "0", 0, _MAXINT, aliases=("min-slaves-to-write",)),
    Param("min-replicas-max-lag", "int", "10", 0, _MAXINT, aliases=("min-slaves-max-lag",)),
    Param("rdbcompression", "bool", "yes"),
    Param("rdbchecksum", "bool", "yes"),
    Param("stop-writes-on-bgsave-error", "bool", "yes"),
    Param("activerehashing", "bool", "yes"),
    Param("io-threads", "int", "1", 1, 128, immutable=True),
    Param("busy-reply-threshold", "int", "5000", 0, _MAXLL, aliases=("lua-time-limit",)),
    Param("client-output-buffer-limit", "string",
          "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),  # fmt: skip
    Param("hash-max-listpack-entries", "int", "128", 0, _MAXLL, aliases=("hash-max-ziplist-entries",)),
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
        self.file: str | None = None
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
        self.values[param.name] = param.parse(text)
        if not startup:
            for callback in self.on_change:
                callback(param.name)

    def matching(self, pattern: str) -> list[tuple[str, str]]:
        """(name, rendered value) pairs for CONFIG GET; aliases match too, as in Redis."""
        pattern = pattern.lower()
        out: dict[str, str] = {}
        for name, param in BY_NAME.items():
            if fnmatch.fnmatchcase(name, pattern):
                out[name] = param.render(self.values[param.name])
        return list(out.items())

    def load_text(self, text: str) -> None:
        """Apply redis.conf syntax: one directive a line, quoted values, # comments."""
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            args = split_inline(line.encode())
            if args is None:
                raise ConfigError(f"line {lineno}: unbalanced quotes")
            name = args[0].decode().lower()
            values = [a.decode() for a in args[1:]]
            if name in ("include", "rename-command", "loadmodule", "user"):
                continue  # accepted and ignored: no modules or ACL users yet
            try:
                self.set(name, " ".join(values), startup=True)
            except KeyError:
                raise ConfigError(f"line {lineno}: Bad directive or wrong number of arguments") from None
            except ConfigError as exc:
                raise ConfigError(f"line {lineno}: {name}: {exc.message}") from None

    def rewrite(self) -> None:
        """CONFIG REWRITE: write every non-default value back to the config file."""
        if not self.file:
            raise ConfigError("The server is running without a config file")
        lines = []
        for param in PARAMS:
            value = self.values[param.name]
            if value != param.parse(param.default):
                rendered = param.render(value)
                quoted = '""' if rendered == "" else _quote(rendered)
                lines.append(f"{param.name} {quoted}")
        tmp = f"{self.file}.tmp-{os.getpid()}"
        with open(tmp, "w") as fh:
            fh.write("# Written by Magpie's CONFIG REWRITE\n")
            fh.write("\n".join(lines) + "\n")
        os.replace(tmp, self.file)


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
