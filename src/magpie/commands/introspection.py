"""COMMAND and its subcommands, generated from the command table."""

from __future__ import annotations

from functools import partial

from magpie import errors
from magpie.commands.table import COMMANDS, CommandSpec, command
from magpie.errors import CommandError
from magpie.patterns import compile_pattern
from magpie.protocol.replies import RespSet

cmd = partial(command, "server")


def _key_specs(spec: CommandSpec) -> list:
    if spec.first_key <= 0 and spec.keys_finder is None:
        return []
    flags = RespSet(["RW", "update"] if spec.is_write else ["RO", "access"])
    if spec.keys_finder is not None and spec.first_key <= 0:
        return [{b"flags": flags, b"begin_search": {b"type": b"unknown", b"spec": {}},
                 b"find_keys": {b"type": b"unknown", b"spec": {}}}]  # fmt: skip
    last = spec.last_key - spec.first_key if spec.last_key >= 0 else spec.last_key
    return [
        {
            b"flags": flags,
            b"begin_search": {b"type": b"index", b"spec": {b"index": spec.first_key}},
            b"find_keys": {
                b"type": b"range",
                b"spec": {b"lastkey": last, b"keystep": spec.key_step, b"limit": 0},
            },
        }
    ]


def command_info(spec: CommandSpec) -> list:
    """Redis 7's ten-element COMMAND INFO entry."""
    return [
        spec.name.encode(),
        spec.arity,
        RespSet(sorted(spec.flags)),
        spec.first_key,
        spec.last_key,
        spec.key_step,
        RespSet(list(spec.categories)),
        [],
        _key_specs(spec),
        [command_info(sub) for sub in spec.subcommands.values()],
    ]


def command_docs(spec: CommandSpec) -> dict:
    doc: dict = {
        b"summary": spec.summary.encode(),
        b"since": spec.since.encode(),
        b"group": spec.group.encode(),
    }
    if spec.complexity:
        doc[b"complexity"] = spec.complexity.encode()
    if spec.subcommands:
        doc[b"subcommands"] = {s.name.encode(): command_docs(s) for s in spec.subcommands.values()}
    return doc


def find_spec(name: bytes) -> CommandSpec | None:
    """A command by name, or a subcommand as ``container|sub``."""
    lowered = name.lower()
    if b"|" in lowered:
        parent, _, child = lowered.partition(b"|")
        container = COMMANDS.get(parent)
        return container.subcommands.get(child) if container else None
    return COMMANDS.get(lowered)


@cmd("command", -1, "loading stale", acl="@connection", since="2.8.13", summary="Returns detailed information about all commands.")
def command_all(client, args):
    return [command_info(spec) for spec in COMMANDS.values()]


sub = partial(command, "server", parent="command", acl="@connection")


@sub("count", 2, "loading stale", since="2.8.13", summary="Returns a count of commands.")
def command_count(client, args):
    return len(COMMANDS)


@sub("info", -2, "loading stale", since="2.8.13", summary="Returns information about one, multiple or all commands.")
def command_info_cmd(client, args):
    if len(args) == 2:
        return [command_info(spec) for spec in COMMANDS.values()]
    out = []
    for name in args[2:]:
        spec = find_spec(name)
        out.append(command_info(spec) if spec else None)
    return out


@sub("docs", -2, "loading stale", since="7.0.0", summary="Returns documentary information about one, multiple or all commands.")
def command_docs_cmd(client, args):
    names = args[2:] or [spec.name.encode() for spec in COMMANDS.values()]
    out = {}
    for name in names:
        spec = find_spec(name)
        if spec is not None:
            out[spec.name.encode()] = command_docs(spec)
    return out


@sub("list", -2, "loading stale", since="7.0.0", summary="Returns a list of command names.")
def command_list(client, args):
    specs: list[CommandSpec] = []
    for spec in COMMANDS.values():
        specs.append(spec)
        specs.extend(spec.subcommands.values())
    if len(args) > 2:
        if len(args) != 5 or args[2].lower() != b"filterby":
            raise CommandError(errors.SYNTAX)
        kind, value = args[3].lower(), args[4]
        if kind == b"module":
            specs = []
        elif kind == b"aclcat":
            wanted = "@" + value.decode(errors="replace").lower()
            specs = [s for s in specs if wanted in s.categories]
        elif kind == b"pattern":
            match = compile_pattern(value, nocase=True).match
            specs = [s for s in specs if match(s.name.encode())]
        else:
            raise CommandError(errors.SYNTAX)
    return [s.name.encode() for s in specs]


@sub("getkeys", -4, "loading stale", since="2.8.13", summary="Extracts the key names from an arbitrary command.")
def command_getkeys(client, args):
    target = args[2:]
    spec = COMMANDS.get(target[0].lower())
    if spec is None:
        raise CommandError("ERR Invalid command specified")
    if spec.subcommands and len(target) >= 2:
        spec = spec.subcommands.get(target[1].lower(), spec)
    if not spec.arity_ok(len(target)):
        raise CommandError("ERR Invalid number of arguments specified for command")
    if spec.first_key <= 0 and spec.keys_finder is None:
        raise CommandError("ERR The command has no key arguments")
    positions = spec.key_positions(target)
    if not positions:
        if "no_mandatory_keys" in spec.flags:  # EVAL, FCALL... with numkeys 0
            return []
        raise CommandError("ERR Invalid arguments specified for command")
    return [target[i] for i in positions]
