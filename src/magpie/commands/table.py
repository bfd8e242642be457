"""The command table: the single declaration of every command Magpie serves.

Each command is declared once, next to its handler, with ``@command(...)``: arity
(negative means "at least"), flags, key positions, ACL categories, documentation. The
dispatcher's generic checks, ``COMMAND`` and its subcommands, MULTI queueing and (later)
replication and ACLs all read this table; no handler repeats those checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[Any, list[bytes]], object]
KeysFinder = Callable[[list[bytes]], list[int]]
#: How a command uses its keys, for ACL %R~/%W~ patterns (Redis's key-spec flags): one
#: token per key spec, the last one applying to every further key; or a function of argv
#: for commands whose access depends on their options (SET ... GET, BITFIELD).
KeyAccess = str | Callable[[list[bytes]], str]

KEY_READ = 1  # the command reads the key's value (key spec ACCESS)
KEY_WRITE = 2  # it inserts, updates or deletes (key spec INSERT, UPDATE, DELETE)
_ACCESS_TOKENS = {"-": 0, "R": KEY_READ, "W": KEY_WRITE, "RW": KEY_READ | KEY_WRITE}
#: Pub/sub channel arguments ACLs check (Redis's commands_with_channels): kind, first, count.
CHANNEL_KINDS = ("publish", "subscribe", "psubscribe")

# Redis's ACL categories implied by a command group.
_GROUP_CATEGORY = {
    "string": "@string",
    "bitmap": "@bitmap",
    "generic": "@keyspace",
    "connection": "@connection",
    "server": None,
    "hash": "@hash",
    "list": "@list",
    "set": "@set",
    "sorted-set": "@sortedset",
    "pubsub": "@pubsub",
    "transactions": "@transaction",
    "scripting": "@scripting",
}


@dataclass(eq=False)
class CommandSpec:
    name: str  # lower case; subcommands as "container|sub"
    arity: int
    flags: frozenset[str]
    first_key: int
    last_key: int
    key_step: int
    categories: tuple[str, ...]
    handler: Handler | None
    group: str
    summary: str
    since: str
    complexity: str = ""
    keys_finder: KeysFinder | None = None
    subcommands: dict[bytes, CommandSpec] = field(default_factory=dict)
    parent: CommandSpec | None = None
    changes_connection: bool = False
    key_access: KeyAccess = ""
    #: ("publish" | "subscribe" | "psubscribe", first index, count or -1 for all the rest)
    channels: tuple[str, int, int] | None = None
    #: Propagated to replicas as sent, though it writes nothing and the AOF skips it (PUBLISH).
    replicas_only: bool = False
    #: May run a script (EVAL, FCALL, EXEC): the connection runs it so that a busy script
    #: can hand the event loop back.
    runs_scripts: bool = False
    #: Its flags for the generic checks come from the script it runs (EVAL's shebang,
    #: FCALL's function): see Scripting.effective_spec.
    script_flags: bool = False
    # statistics for INFO commandstats
    calls: int = 0
    ns: int = 0  # time spent in the handler, in nanoseconds (INFO shows microseconds)
    rejected_calls: int = 0
    failed_calls: int = 0

    def __post_init__(self) -> None:
        #: The dispatcher's fast path may run this spec (no subcommands, no connection-state change).
        self.fast_ok = self.handler is not None and not self.changes_connection and not self.replicas_only
        # arity as a range, so the dispatcher checks it with one chained comparison
        self.min_args = abs(self.arity)
        self.max_args = self.arity if self.arity >= 0 else 1 << 30
        self.is_write = "write" in self.flags
        self.no_auth = "no_auth" in self.flags
        self.no_multi = "no_multi" in self.flags
        #: A script may run it without further checks (not noscript; see scripting.runner).
        self.script_ok = "noscript" not in self.flags
        #: False when the command names no keys an ACL must check (Redis's NOT_KEY specs).
        self.acl_keys = self.key_access != "not-key" and (self.first_key > 0 or self.keys_finder is not None)
        if not self.key_access or self.key_access == "not-key":
            self.key_access = "W" if self.is_write else "R" if "readonly" in self.flags else "-"

    @property
    def usec(self) -> int:
        return self.ns // 1000

    @usec.setter
    def usec(self, value: int) -> None:
        self.ns = value * 1000

    def key_positions(self, argv: list[bytes]) -> list[int]:
        """Indexes into ``argv`` that name keys (COMMAND GETKEYS, WATCH-like tracking)."""
        if self.keys_finder is not None:
            return self.keys_finder(argv)
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        return list(range(self.first_key, min(last, len(argv) - 1) + 1, self.key_step))

    def keys_with_access(self, argv: list[bytes]) -> list[tuple[int, int]]:
        """(argv index, KEY_READ/KEY_WRITE bits) for every key the command names."""
        declared = self.key_access(argv) if callable(self.key_access) else self.key_access
        access = [_ACCESS_TOKENS[token] for token in declared.split()]
        last = len(access) - 1
        return [(pos, access[min(i, last)]) for i, pos in enumerate(self.key_positions(argv))]

    def channel_positions(self, argv: list[bytes]) -> list[int]:
        """Indexes of the channel (or pattern) arguments ACLs check."""
        if self.channels is None:
            return []
        _, first, count = self.channels
        stop = len(argv) if count < 0 else min(len(argv), first + count)
        return list(range(first, stop))

    def arity_ok(self, argc: int) -> bool:
        return argc == self.arity if self.arity >= 0 else argc >= -self.arity


COMMANDS: dict[bytes, CommandSpec] = {}
#: Lookup for the dispatcher: every name in lower and upper case, so the usual spellings
#: are found without lowering the name first.
DISPATCH: dict[bytes, CommandSpec] = {}

def command(
    group: str,
    name: str,
    arity: int,
    flags: str = "",
    keys: tuple[int, int, int] = (0, 0, 0),
    *,
    acl: str = "",
    summary: str = "",
    since: str = "1.0.0",
    complexity: str = "",
    keys_finder: KeysFinder | None = None,
    parent: str | None = None,
    fast: bool = True,
    key_access: KeyAccess = "",
    channels: tuple[str, int, int] | None = None,
    replicas_only: bool = False,
    runs_scripts: bool = False,
    script_flags: bool = False,
) -> Callable[[Handler], Handler]:
    """Declare a command (or, with ``parent``, a subcommand) and register its handler.

    ``fast=False`` marks a command that changes the connection's state (protocol, auth,
    subscriptions, MULTI, MONITOR): the dispatcher then runs it on its full path, after
    which the client's eligibility for the fast path is recomputed.

    ``key_access`` says how the keys are used where it differs from the flags' default
    (readonly: "R", write: "W"): e.g. "RW" for INCR, "R W" for COPY, "-" for EXISTS,
    "not-key" for shard channels declared as keys.
    """
    flag_set = frozenset(flags.split())
    categories = _categories(group, flag_set, acl)

    def register(handler: Handler | None) -> Handler:
        spec = CommandSpec(
            name=f"{parent}|{name}" if parent else name,
            arity=arity,
            flags=flag_set,
            first_key=keys[0],
            last_key=keys[1],
            key_step=keys[2],
            categories=categories,
            handler=handler,
            group=group,
            summary=summary,
            since=since,
            complexity=complexity,
            keys_finder=keys_finder,
            changes_connection=not fast,
            key_access=key_access,
            channels=channels,
            replicas_only=replicas_only,
            runs_scripts=runs_scripts,
            script_flags=script_flags,
        )
        if parent:
            container = COMMANDS[parent.encode()]
            spec.parent = container
            container.subcommands[name.encode()] = spec
            container.fast_ok = False
        else:
            COMMANDS[name.encode()] = spec
            DISPATCH[name.encode()] = spec
            DISPATCH[name.upper().encode()] = spec
        return handler  # type: ignore[return-value]

    return register


def container(group: str, name: str, summary: str = "", since: str = "1.0.0", flags: str = "") -> None:
    """Declare a command that only dispatches to subcommands (CONFIG, CLIENT, OBJECT...).

    Every container gets ``HELP``, listing its subcommands from their summaries.
    """
    command(group, name, -2, flags, summary=summary, since=since)(None)
    COMMANDS[name.encode()].categories = ("@slow",)  # as Redis: containers carry no group category

    def help_handler(client: Any, args: list[bytes]) -> object:
        spec = COMMANDS[name.encode()]
        lines = [f"{name.upper()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
        for sub_name, sub in sorted(spec.subcommands.items()):
            lines.append(sub_name.decode().upper())
            lines.append(f"    {sub.summary or sub_name.decode()}")
        return [line.encode() for line in lines]

    command(group, "help", 2, "loading stale", summary="Returns helpful text about the different subcommands.", parent=name)(
        help_handler
    )


def _categories(group: str, flags: frozenset[str], extra: str) -> tuple[str, ...]:
    cats: list[str] = []
    if "write" in flags:
        cats.append("@write")
    if "readonly" in flags and group != "scripting":  # (Redis: EVAL_RO is not @read)
        cats.append("@read")
    if "admin" in flags:
        cats += ["@admin", "@dangerous"]
    if "pubsub" in flags:
        cats.append("@pubsub")
    cats.append("@fast" if "fast" in flags else "@slow")
    if "blocking" in flags:
        cats.append("@blocking")
    group_cat = _GROUP_CATEGORY.get(group)
    if group_cat and group_cat not in cats:
        cats.append(group_cat)
    for cat in extra.split():
        if cat not in cats:
            cats.append(cat)
    return tuple(cats)


def lookup(name: bytes) -> CommandSpec | None:
    spec = COMMANDS.get(name)
    if spec is None:
        spec = COMMANDS.get(name.lower())
    return spec


def all_commands() -> list[CommandSpec]:
    return list(COMMANDS.values())
