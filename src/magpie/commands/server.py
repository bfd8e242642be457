"""Server commands: CONFIG, TIME, SHUTDOWN, DEBUG, MONITOR, and the FUNCTION/SCRIPT stubs."""

from __future__ import annotations

import logging
import os
import time
from functools import partial

from magpie import errors
from magpie.commands.args import parse_float
from magpie.commands.table import command, container
from magpie.config import BY_NAME, ConfigError, Param
from magpie.errors import CommandError
from magpie.persistence.rdb_format import RdbError
from magpie.protocol.replies import NO_REPLY, OK
from magpie.store.invariants import InvariantViolation, check_keyspace

cmd = partial(command, "server")
log = logging.getLogger("magpie")

# -- CONFIG ----------------------------------------------------------------------------

container(
    "server", "config", summary="A container for server configuration commands.", since="2.0.0"
)
config_sub = partial(command, "server", parent="config")


@config_sub(
    "get",
    -3,
    "admin noscript loading stale",
    since="2.0.0",
    summary="Returns the effective values of configuration parameters.",
)
def config_get(client, args):
    result: dict[bytes, bytes] = {}
    for pattern in args[2:]:
        for name, value in client.server.config.matching(pattern.decode(errors="surrogateescape")):
            result.setdefault(
                name.encode(errors="surrogateescape"), value.encode(errors="surrogateescape")
            )
    return result


def _protected_allowed(client) -> bool:  # noqa: ANN001 - Client
    """``enable-protected-configs``: yes, or local for loopback and Unix-socket clients."""
    setting = client.server.config["enable-protected-configs"]
    return setting == "yes" or (setting == "local" and client.addr.startswith(("127.", "[::1]", "/")))


def _set_failed(name: str, reason: str) -> CommandError:
    return CommandError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")


#: Parameters each connection copies when it is created; CONFIG SET pushes them to live ones.
_PARSER_LIMITS = ("proto-max-bulk-len", "client-query-buffer-limit")


@config_sub(
    "set",
    -4,
    "admin noscript loading stale",
    since="2.0.0",
    summary="Sets configuration parameters in-flight.",
)
def config_set(client, args):
    """All pairs or none, with Redis 7's checks in its order: every name is looked up
    (unknown, protected, immutable, duplicate) before any value is parsed."""
    if len(args) % 2:
        raise CommandError(errors.SYNTAX)
    config = client.server.config
    pairs: list[tuple[str, Param, str]] = []
    for i in range(2, len(args), 2):
        given = args[i].decode(errors="surrogateescape")
        param = BY_NAME.get(given.lower())
        if param is None:
            raise CommandError(
                f"ERR Unknown option or number of arguments for CONFIG SET - '{given}'"
            )
        if param.protected and not _protected_allowed(client):
            raise _set_failed(given, "can't set protected config")
        if param.immutable:
            raise _set_failed(given, "can't set immutable config")
        if any(p is param for _, p, _ in pairs):
            raise _set_failed(given, "duplicate parameter")
        pairs.append((given.lower(), param, args[i + 1].decode(errors="surrogateescape")))
    previous = {param.name: config.values[param.name] for _, param, _ in pairs}
    try:
        cwd: str | None = os.getcwd()
    except FileNotFoundError:  # the data directory was removed: CONFIG SET dir is the way out
        cwd = None
    for name, param, text in pairs:
        try:
            config.set(name, text)
            if param.name == "dir":  # Redis's updateDir: the server's working directory moves
                try:
                    os.chdir(text)
                except OSError as exc:
                    raise ConfigError(exc.strerror or str(exc)) from None
                config.values["dir"] = os.getcwd()  # CONFIG GET shows the absolute path
        except ConfigError as exc:
            config.values.update(previous)  # all or nothing, as in Redis 7
            if cwd is not None:
                os.chdir(cwd)
            raise _set_failed(name, exc.message) from None
    if any(param.name in _PARSER_LIMITS for _, param, _ in pairs):
        max_bulk, max_query = (int(config[name]) for name in _PARSER_LIMITS)  # type: ignore[call-overload]
        for other in client.server.clients.values():
            other.parser.set_limits(max_bulk, max_query)
    return OK


@config_sub(
    "resetstat",
    2,
    "admin noscript loading stale",
    since="2.0.0",
    summary="Resets the server's statistics.",
)
def config_resetstat(client, args):
    server = client.server
    server.stats.reset()
    server.error_counts.clear()
    from magpie.commands.table import COMMANDS

    def clear(spec):
        spec.calls = spec.usec = spec.rejected_calls = spec.failed_calls = 0
        for child in spec.subcommands.values():
            clear(child)

    for spec in COMMANDS.values():
        clear(spec)
    for db in server.keyspace.dbs:
        db.hits = db.misses = db.expired_keys = 0
    server.evictor.evicted_keys = 0
    return OK


@config_sub(
    "rewrite",
    2,
    "admin noscript loading stale",
    since="2.8.0",
    summary="Persists the effective configuration to file.",
)
def config_rewrite(client, args):
    try:
        client.server.rewrite_config()
    except ConfigError as exc:
        raise CommandError(f"ERR {exc.message}") from None
    except OSError as exc:
        raise CommandError(f"ERR Rewriting config file: {exc.strerror}") from None
    return OK


# -- TIME, SHUTDOWN, MONITOR -------------------------------------------------------------


@cmd("time", 1, "loading stale fast", since="2.6.0", summary="Returns the server time.")
def time_(client, args):
    now = time.time_ns() // 1000
    return [str(now // 1_000_000).encode(), str(now % 1_000_000).encode()]


@cmd(
    "shutdown",
    -1,
    "admin noscript loading stale no_multi allow_busy",
    fast=False,
    summary="Synchronously saves the database(s) to disk and shuts down the Redis server.",
)
def shutdown(client, args):
    for option in args[1:]:
        if option.lower() not in (b"nosave", b"save", b"now", b"force", b"abort"):
            raise CommandError(errors.SYNTAX)
    options = {a.lower() for a in args[1:]}
    if b"nosave" in options and b"save" in options:
        raise CommandError(errors.SYNTAX)
    if b"abort" in options:
        if len(options) > 1:
            raise CommandError(errors.SYNTAX)
        raise CommandError("ERR No shutdown in progress.")
    if client.server.scripting.busy and b"nosave" not in options:
        raise CommandError(client.server.scripting.busy_error())  # only NOSAVE ends a busy script
    log.warning("User requested shutdown...")
    save = True if b"save" in options else False if b"nosave" in options else None
    if not client.server.prepare_shutdown(save, force=b"force" in options):
        raise CommandError("ERR Errors trying to SHUTDOWN. Check logs.")
    client.server.request_shutdown()
    client.closing = True
    return NO_REPLY


@cmd(
    "monitor",
    1,
    "admin noscript loading stale",
    fast=False,
    since="1.0.0",
    summary="Listens for all requests received by the server in real-time.",
)
def monitor(client, args):
    if not client.is_monitor:
        client.is_monitor = True
        client.server.monitors.append(client)
    return OK


# -- DEBUG ------------------------------------------------------------------------------

DEBUG_NOT_ALLOWED = (
    'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", '
    "you can run it from a local connection, otherwise you need to set this option in the "
    "configuration file, and then restart the server."
)


@cmd("debug", -2, "admin noscript loading stale", summary="A container for debugging commands.")
def debug(client, args):
    sub = args[1].lower()
    server = client.server
    allowed = server.config["enable-debug-command"]
    if allowed == "no" or (
        allowed == "local" and not client.addr.startswith(("127.", "[::1]", "/"))
    ):
        raise CommandError(DEBUG_NOT_ALLOWED)
    if sub == b"sleep" and len(args) == 3:
        time.sleep(max(0.0, parse_float(args[2])))  # blocks the server on purpose, as in Redis
        return OK
    if sub == b"log" and len(args) == 3:
        log.warning("DEBUG LOG: %s", args[2].decode(errors="replace"))
        return OK
    if sub == b"set-active-expire" and len(args) == 3:
        server.active_expire_enabled = args[2] != b"0"
        return OK
    if sub == b"change-repl-id" and len(args) == 2:
        server.replication.ids.change()
        server.replication.ids.clear_second()
        return OK
    if sub == b"object" and len(args) == 3:
        from magpie.persistence.rdb_writer import encode_value
        from magpie.store.types import encoding_of

        value = client.db.lookup(args[2])
        if value is None:
            raise CommandError(errors.NO_SUCH_KEY)
        size = len(encode_value(value, bool(server.config["rdbcompression"]))[1])
        return (
            f"Value at:0x{id(value):x} refcount:1 encoding:{encoding_of(value)} "
            f"serializedlength:{size} lru:0 lru_seconds_idle:0"
        )
    if sub == b"reload":
        return _reload(server, {a.lower() for a in args[2:]})
    if sub == b"record-propagation" and len(args) == 3:
        server.propagation.record(args[2].lower() == b"on")
        return OK
    if sub == b"propagated" and len(args) == 2:
        recent = server.propagation.recent
        return [list(entry) for entry in recent] if recent is not None else []
    if sub == b"check-invariants" and len(args) == 2:
        return _check_invariants(server)
    if sub == b"help":
        return [
            line.encode()
            for line in (
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "SLEEP <seconds>", "LOG <message>", "SET-ACTIVE-EXPIRE <0|1>", "CHANGE-REPL-ID",
                "OBJECT <key>", "RELOAD [NOSAVE] [NOFLUSH]", "RECORD-PROPAGATION <on|off>  (Magpie: keep the propagated stream)",
                "PROPAGATED  (Magpie: the recorded propagated stream)",
                "CHECK-INVARIANTS  (Magpie: check every data structure's consistency)",
            )
        ]  # fmt: skip
    raise CommandError(errors.unknown_subcommand(args[1], "debug"))


def _reload(server, options: set[bytes]) -> object:  # noqa: ANN001 - Server
    """DEBUG RELOAD: save (unless NOSAVE), then load the file back in place of the dataset.
    (MERGE and NOFLUSH are accepted; a load always replaces the dataset whole here, and a
    file that cannot be loaded leaves it as it was.)"""
    if options - {b"nosave", b"noflush", b"merge"}:
        raise CommandError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    snapshots = server.snapshots
    snapshots.kill_child()
    if b"nosave" not in options and not snapshots.save():
        raise CommandError("ERR")
    try:
        for _ in snapshots.load_steps(snapshots.path):
            pass
    except (RdbError, OSError) as exc:
        log.warning("Error loading the RDB dump: %s", exc)
        raise CommandError("ERR Error trying to load the RDB dump") from None
    log.info("DB reloaded by DEBUG RELOAD")
    return OK


def _check_invariants(server) -> object:  # noqa: ANN001 - Server
    """DEBUG CHECK-INVARIANTS: the dataset, the memory accounting and the search indexes."""
    try:
        check_keyspace(server.keyspace, server.evictor.memory)
        server.search.check_invariants()
    except InvariantViolation as exc:
        raise CommandError(f"ERR invariant violated: {exc}") from None
    return OK
