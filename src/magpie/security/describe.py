"""Users and selectors back as rule text: ACL LIST lines, ACL GETUSER maps, the ACL file.

The command part follows Redis 7.0's ACLDescribeSelectorCommandRules, so the same
permissions print the same rules: start from ``+@all`` (if the reserved future-commands
bit is set) or ``-@all``, repeatedly apply the category that fits the remaining
differences best, then add or remove single commands until the bitmap matches exactly.
Redis walks its command dict in hash order for that last step; Magpie walks its table.
"""

from __future__ import annotations

from magpie.commands.table import COMMANDS, CommandSpec
from magpie.protocol.replies import RespSet
from magpie.security.rules import CATEGORIES, Selector, User, acl_categories, all_commands


def command_rules(selector: Selector) -> str:
    additive = not selector.future
    rules = ["-@all" if additive else "+@all"]
    fake = Selector()
    fake.set_all(not additive)
    remaining = Selector()  # the user's bits, minus what the chosen categories explain
    remaining.allowed = set(selector.allowed)
    applied: set[str] = set()
    while True:
        best, fewest_diff, most_same = None, None, 0
        for category in CATEGORIES:
            if category in applied:
                continue
            on = off = 0
            for spec in all_commands():
                if category in acl_categories(spec):
                    if spec in remaining.allowed:
                        on += 1
                    else:
                        off += 1
            diff, same = (off, on) if additive else (on, off)
            if same > diff and (fewest_diff is None or diff < fewest_diff or (diff == fewest_diff and same > most_same)):
                best, fewest_diff, most_same = category, diff, same
        if best is None:
            break
        fake.set_category(best, additive)
        remaining.set_category(best, not additive)
        rules.append(("+@" if additive else "-@") + best)
        applied.add(best)
    for spec in COMMANDS.values():
        _single_command_rules(selector, fake, spec, rules)
        for sub in spec.subcommands.values():
            _single_command_rules(selector, fake, sub, rules)
    return " ".join(rules)


def _single_command_rules(selector: Selector, fake: Selector, spec: CommandSpec, rules: list[str]) -> None:
    wanted = spec in selector.allowed
    if wanted != (spec in fake.allowed):
        rules.append(("+" if wanted else "-") + spec.name)
        fake.set_command(spec, wanted)
    if not wanted:
        for first in selector.firstargs.get(spec, ()):
            rules.append(f"+{spec.name}|{first.decode(errors='replace')}")


def key_rules(selector: Selector) -> list[str]:
    if selector.allkeys:
        return ["~*"]
    return [p.text().decode(errors="replace") for p in selector.patterns]


def channel_rules(selector: Selector) -> list[str]:
    if selector.allchannels:
        return ["&*"]
    return ["&" + c.decode(errors="replace") for c in selector.channels]


def selector_rules(selector: Selector) -> str:
    """ACLDescribeSelector: keys, channels (after ``resetchannels``), commands."""
    parts = key_rules(selector)
    if not selector.allchannels:
        parts.append("resetchannels")
    parts += channel_rules(selector)
    parts.append(command_rules(selector))
    return " ".join(parts)


def user_flags(user: User) -> list[str]:
    flags = ["on" if user.enabled else "off"]
    if user.nopass:
        flags.append("nopass")
    if user.sanitize is not None:
        flags.append(user.sanitize)
    return flags


def user_rules(user: User) -> bytes:
    """ACLDescribeUser: what follows ``user <name>`` in ACL LIST and the ACL file."""
    cached = user._description
    if cached is None:
        parts = user_flags(user) + [f"#{digest}" for digest in user.passwords]
        parts.append(selector_rules(user.root))
        text = " ".join(parts)
        for selector in user.selectors[1:]:
            text += f" ({selector_rules(selector)})"
        cached = user._description = text.encode()
    return cached


def list_line(user: User) -> bytes:
    return b"user " + user.name + b" " + user_rules(user)


def _selector_map(selector: Selector) -> dict[bytes, bytes]:
    return {
        b"commands": command_rules(selector).encode(),
        b"keys": " ".join(key_rules(selector)).encode(),
        b"channels": " ".join(channel_rules(selector)).encode(),
    }


def getuser_reply(user: User) -> dict[bytes, object]:
    """ACL GETUSER: flags (a set under RESP3), passwords, the root selector, then all
    other selectors."""
    reply: dict[bytes, object] = {
        b"flags": RespSet(flag.encode() for flag in user_flags(user)),
        b"passwords": [digest.encode() for digest in user.passwords],
    }
    reply.update(_selector_map(user.root))
    reply[b"selectors"] = [_selector_map(selector) for selector in user.selectors[1:]]
    return reply
