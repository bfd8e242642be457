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


def command_rules(selector: Selector) -> bytes:
    additive = not selector.future
    rules = [b"-@all" if additive else b"+@all"]
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
        rules.append((b"+@" if additive else b"-@") + best.encode())
        applied.add(best)
    for spec in COMMANDS.values():
        _single_command_rules(selector, fake, spec, rules)
        for sub in spec.subcommands.values():
            _single_command_rules(selector, fake, sub, rules)
    return b" ".join(rules)


def _single_command_rules(selector: Selector, fake: Selector, spec: CommandSpec, rules: list[bytes]) -> None:
    wanted = spec in selector.allowed
    if wanted != (spec in fake.allowed):
        rules.append((b"+" if wanted else b"-") + spec.name.encode())
        fake.set_command(spec, wanted)
    if not wanted:
        for first in selector.firstargs.get(spec, ()):
            rules.append(b"+" + spec.name.encode() + b"|" + first)


def key_rules(selector: Selector) -> list[bytes]:
    if selector.allkeys:
        return [b"~*"]
    return [p.text() for p in selector.patterns]


def channel_rules(selector: Selector) -> list[bytes]:
    if selector.allchannels:
        return [b"&*"]
    return [b"&" + c for c in selector.channels]


def selector_rules(selector: Selector) -> bytes:
    """ACLDescribeSelector: keys, channels (after ``resetchannels``), commands."""
    parts = key_rules(selector)
    if not selector.allchannels:
        parts.append(b"resetchannels")
    parts += channel_rules(selector)
    parts.append(command_rules(selector))
    return b" ".join(parts)


def user_flags(user: User) -> list[bytes]:
    flags = [b"on" if user.enabled else b"off"]
    if user.nopass:
        flags.append(b"nopass")
    if user.sanitize is not None:
        flags.append(user.sanitize.encode())
    return flags


def user_rules(user: User) -> bytes:
    """ACLDescribeUser: what follows ``user <name>`` in ACL LIST and the ACL file. Bytes
    throughout: patterns, channels and first arguments come back exactly as they were set."""
    cached = user._description
    if cached is None:
        parts = user_flags(user) + [b"#" + digest.encode() for digest in user.passwords]
        parts.append(selector_rules(user.root))
        text = b" ".join(parts)
        for selector in user.selectors[1:]:
            text += b" (" + selector_rules(selector) + b")"
        cached = user._description = text
    return cached


def list_line(user: User) -> bytes:
    return b"user " + user.name + b" " + user_rules(user)


def _selector_map(selector: Selector) -> dict[bytes, bytes]:
    return {
        b"commands": command_rules(selector),
        b"keys": b" ".join(key_rules(selector)),
        b"channels": b" ".join(channel_rules(selector)),
    }


def getuser_reply(user: User) -> dict[bytes, object]:
    """ACL GETUSER: flags (a set under RESP3), passwords, the root selector, then all
    other selectors."""
    reply: dict[bytes, object] = {
        b"flags": RespSet(user_flags(user)),
        b"passwords": [digest.encode() for digest in user.passwords],
    }
    reply.update(_selector_map(user.root))
    reply[b"selectors"] = [_selector_map(selector) for selector in user.selectors[1:]]
    return reply
