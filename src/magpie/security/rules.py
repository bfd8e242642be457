"""ACL users and selectors, and the ACL SETUSER rule grammar that builds them (Redis 7.0).

A ``Selector`` is one set of permissions: the commands it may run (a set of command-table
entries standing for Redis's command bitmap, plus Redis's reserved "future commands" bit
that only ``+@all`` sets), first arguments allowed for otherwise blocked commands
(``+select|0``), key patterns with read/write flags and channel patterns. A ``User`` has
flags, SHA-256 password hashes, a root selector and any number of ``(...)`` selectors; a
command is allowed when one selector allows it.

Rules are applied to a copy and copied back only when all of them are valid, so a bad
ACL SETUSER changes nothing; the ``User`` object itself stays the same, so connections
authenticated as it see the change at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from magpie.commands.table import COMMANDS, KEY_READ, KEY_WRITE, CommandSpec
from magpie.patterns import compile_pattern
from magpie.protocol.inline import split_inline
from magpie.security.passwords import hash_password, is_valid_hash

# Redis's ACL check results; the numbers matter: with several selectors the highest wins.
ACL_OK, DENIED_CMD, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 0, 1, 2, 3, 4

#: Redis's category list, in the order ACL CAT and the rule descriptions use.
CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
    "dangerous", "connection", "transaction", "scripting",
)  # fmt: skip
_CATEGORY_NAMES = {name.encode(): name for name in CATEGORIES}

# ACLSetUserStringError's texts, by the errno Redis uses internally.
_ERRORS = {
    "ENOENT": "Unknown command or category name in ACL",
    "EINVAL": "Syntax error",
    "EEXIST": "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and "
    "does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
    "EISDIR": "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and "
    "does not have any effect. Try 'resetchannels' to start with an empty list of channels",
    "ENODEV": "The password you are trying to remove from the user does not exist",
    "EBADMSG": "The password hash must be exactly 64 characters and contain only lowercase "
    "hexadecimal characters",
    "EALREADY": "Duplicate user found. A user can only be defined once in config files",
    "ECHILD": "Allowing first-arg of a subcommand is not supported",
}


class RuleError(Exception):
    """An ACL rule was refused; ``reason`` is Redis's text, ``unknown`` marks ENOENT."""

    def __init__(self, code: str) -> None:
        super().__init__(_ERRORS[code])
        self.reason = _ERRORS[code]
        self.unknown = code == "ENOENT"


# -- the command universe ACL rules range over ------------------------------------------------


def all_commands() -> Iterator[CommandSpec]:
    """Every command and subcommand of the table, containers before their subcommands."""
    for spec in COMMANDS.values():
        yield spec
        yield from spec.subcommands.values()


def acl_categories(spec: CommandSpec) -> frozenset[str]:
    """The command table's categories (what COMMAND INFO shows), without the '@'. FT.*
    commands have theirs too (``@read``/``@write``, ``@slow``), as in Redis 8; Redis 7.0
    with RediSearch left module commands out of every category."""
    return frozenset(cat[1:] for cat in spec.categories)


def lookup_command(name: bytes) -> CommandSpec | None:
    """Redis's ACLLookupCommand: ``cmd`` or ``container|sub``, case-insensitive."""
    parts = name.lower().split(b"|")
    if len(parts) > 2:
        return None
    spec = COMMANDS.get(parts[0])
    if spec is None or len(parts) == 1:
        return spec
    return spec.subcommands.get(parts[1]) if spec.subcommands else None


def has_space(text: bytes) -> bool:
    """ACLStringHasSpaces: white space or NUL anywhere."""
    return any(c in b" \t\n\r\x0b\x0c\x00" for c in text)


def c_string(raw: bytes) -> bytes:
    """What C string functions see of ``raw``: the bytes before the first NUL. Redis
    compares rule keywords with strcasecmp, looks command and category names up from C
    strings and prints arguments with ``%s``: to it ``+get\\0x`` is ``+get``."""
    end = raw.find(b"\0")
    return raw if end < 0 else raw[:end]


def quoted(raw: bytes) -> str:
    """An argument as Redis's ``%s`` quotes it in an error reply: up to a NUL, and byte
    for byte (surrogateescape, which the reply encoder turns back into the same bytes)."""
    return c_string(raw).decode("utf-8", "surrogateescape")


# -- selectors ----------------------------------------------------------------------------------


def plain_prefix(pattern: bytes) -> bytes | None:
    """The prefix of a ``prefix*`` glob with no other special characters (the usual
    ``app:*``), else None."""
    body = pattern[:-1]
    if not pattern.endswith(b"*") or not body or any(c in b"*?[\\" for c in body):
        return None
    return body


def _key_matcher(pattern: bytes) -> Callable[[bytes], bool]:
    """Redis's glob match for one key pattern; a plain prefix becomes a startswith test,
    which the hot path can afford."""
    prefix = plain_prefix(pattern)
    if prefix is not None:
        return lambda key: key.startswith(prefix)
    if pattern == b"*":
        return bool  # stringmatchlen never matches the empty string
    match = compile_pattern(pattern).match
    return lambda key: match(key) is not None


class KeyPattern:
    __slots__ = ("pattern", "flags", "match")

    def __init__(self, pattern: bytes, flags: int) -> None:
        self.pattern = pattern
        self.flags = flags
        self.match = _key_matcher(pattern)

    def text(self) -> bytes:
        prefix = {KEY_READ | KEY_WRITE: b"~", KEY_READ: b"%R~", KEY_WRITE: b"%W~"}[self.flags]
        return prefix + self.pattern


class Selector:
    """One set of permissions (Redis's aclSelector)."""

    __slots__ = ("allowed", "future", "allcommands", "firstargs", "patterns", "allkeys",
                 "channels", "allchannels")  # fmt: skip

    def __init__(self, allchannels: bool = False) -> None:
        self.allowed: set[CommandSpec] = set()
        self.future = False  # Redis's reserved bit: set by +@all, never by single commands
        self.allcommands = False  # every bit is set: the check can skip the lookup
        self.firstargs: dict[CommandSpec, list[bytes]] = {}
        self.patterns: list[KeyPattern] = []
        self.allkeys = False
        self.channels: list[bytes] = []
        self.allchannels = allchannels  # acl-pubsub-default

    def copy(self) -> Selector:
        other = Selector()
        other.allowed = set(self.allowed)
        other.future = self.future
        other.allcommands = self.allcommands
        other.firstargs = {spec: list(args) for spec, args in self.firstargs.items()}
        other.patterns = [KeyPattern(p.pattern, p.flags) for p in self.patterns]
        other.allkeys = self.allkeys
        other.channels = list(self.channels)
        other.allchannels = self.allchannels
        return other

    # -- changing it (ACLSetSelector) -------------------------------------------------------

    def set_command(self, spec: CommandSpec, allow: bool) -> None:
        """Allow or block a command; a container takes its subcommands along."""
        self._set_bit(spec, allow)
        self.firstargs.pop(spec, None)
        for sub in spec.subcommands.values():
            self._set_bit(sub, allow)

    def _set_bit(self, spec: CommandSpec, allow: bool) -> None:
        if allow:
            self.allowed.add(spec)
        else:
            self.allowed.discard(spec)
            self.allcommands = False

    def set_category(self, category: str, allow: bool) -> None:
        for spec in COMMANDS.values():
            if category in acl_categories(spec):
                self.set_command(spec, allow)
            for sub in spec.subcommands.values():
                if category in acl_categories(sub):
                    self.set_command(sub, allow)

    def set_all(self, allow: bool) -> None:
        self.allowed = set(all_commands()) if allow else set()
        self.future = self.allcommands = allow
        self.firstargs = {}

    def apply(self, op: bytes) -> None:
        """One selector rule; raises ``RuleError`` as Redis's ACLSetSelector fails.

        Keywords and command or category names are read as C strings (see ``c_string``);
        key and channel patterns keep every byte (a NUL in one is a syntax error)."""
        lowered = c_string(op).lower()
        if lowered in (b"allkeys", b"~*"):
            self.allkeys = True
            self.patterns = []
        elif lowered == b"resetkeys":
            self.allkeys = False
            self.patterns = []
        elif lowered in (b"allchannels", b"&*"):
            self.allchannels = True
            self.channels = []
        elif lowered == b"resetchannels":
            self.allchannels = False
            self.channels = []
        elif lowered in (b"allcommands", b"+@all"):
            self.set_all(True)
        elif lowered in (b"nocommands", b"-@all"):
            self.set_all(False)
        elif op[:1] in (b"~", b"%"):
            self._add_key_pattern(op)
        elif op[:1] == b"&":
            if self.allchannels:
                raise RuleError("EISDIR")
            if has_space(op[1:]):
                raise RuleError("EINVAL")
            if op[1:] not in self.channels:
                self.channels.append(op[1:])
            self.allchannels = False
        elif op[:1] == b"+" and op[1:2] != b"@":
            self._allow(c_string(op)[1:])
        elif op[:1] == b"-" and op[1:2] != b"@":
            spec = lookup_command(c_string(op)[1:])
            if spec is None:
                raise RuleError("ENOENT")
            self.set_command(spec, False)
        elif op[:2] in (b"+@", b"-@"):
            category = _CATEGORY_NAMES.get(lowered[2:])
            if category is None:
                raise RuleError("ENOENT")
            self.set_category(category, op[:1] == b"+")
        else:
            raise RuleError("EINVAL")

    def _add_key_pattern(self, op: bytes) -> None:
        if self.allkeys:
            raise RuleError("EEXIST")
        flags, offset = 0, 1
        if op[:1] == b"%":
            while offset < len(op):
                c = op[offset : offset + 1].upper()
                if c == b"R" and not flags & KEY_READ:
                    flags |= KEY_READ
                elif c == b"W" and not flags & KEY_WRITE:
                    flags |= KEY_WRITE
                elif c == b"~":
                    offset += 1
                    break
                else:
                    raise RuleError("EINVAL")
                offset += 1
            if not flags:
                # ``%~x`` (and a bare ``%``) would make a pattern that grants nothing and
                # that no description can print: refused, as since CVE-2024-31227's fix
                # (the Debian 7.0.15 build we compare against refuses a bare ``%`` too).
                raise RuleError("EINVAL")
        else:
            flags = KEY_READ | KEY_WRITE
        pattern = op[offset:]
        if has_space(pattern):
            raise RuleError("EINVAL")
        for existing in self.patterns:
            if existing.pattern == pattern:
                existing.flags |= flags
                break
        else:
            self.patterns.append(KeyPattern(pattern, flags))
        self.allkeys = False

    def _allow(self, name: bytes) -> None:
        if b"|" not in name:
            spec = lookup_command(name)
            if spec is None:
                raise RuleError("ENOENT")
            self.set_command(spec, True)
            return
        base, _, first = name.rpartition(b"|")
        spec = lookup_command(base)
        if spec is None:
            raise RuleError("ENOENT")
        if spec.parent is not None:
            raise RuleError("ECHILD")
        if not first:
            raise RuleError("EINVAL")
        if spec.subcommands:
            sub = lookup_command(name)
            if sub is None:
                raise RuleError("ENOENT")
            self.set_command(sub, True)
            return
        # A first argument of a command without subcommands (SELECT|0): Redis warns that
        # this form is deprecated but still honours it.
        allowed = self.firstargs.setdefault(spec, [])
        if first.lower() not in (arg.lower() for arg in allowed):
            allowed.append(first)

    # -- checking a command (ACLSelectorCheckCmd) ------------------------------------------------

    def check(self, spec: CommandSpec, argv: list[bytes]) -> tuple[int, int]:
        """(ACL_OK or DENIED_*, the argv index of the key or channel refused)."""
        if not self.allcommands and not spec.no_auth and spec not in self.allowed:
            firsts = self.firstargs.get(spec)
            index = 2 if spec.parent is not None else 1
            if not firsts or len(argv) <= index:
                return DENIED_CMD, 0
            wanted = argv[index].lower()
            if not any(arg.lower() == wanted for arg in firsts):
                return DENIED_CMD, 0
        if not self.allkeys and spec.acl_keys:
            for pos, needed in spec.keys_with_access(argv):
                if not self.key_allowed(argv[pos], needed):
                    return DENIED_KEY, pos
        if not self.allchannels and spec.channels is not None:
            is_pattern = spec.channels[0] == "psubscribe"
            for pos in spec.channel_positions(argv):
                if not self.channel_allowed(argv[pos], is_pattern):
                    return DENIED_CHANNEL, pos
        return ACL_OK, 0

    def key_allowed(self, key: bytes, needed: int) -> bool:
        if self.allkeys:
            return True
        return any(p.flags & needed == needed and p.match(key) for p in self.patterns)

    def channel_allowed(self, channel: bytes, is_pattern: bool) -> bool:
        """A PSUBSCRIBE pattern must equal an ACL pattern; a channel must match one."""
        if self.allchannels:
            return True
        if is_pattern:
            return channel in self.channels
        return any(compile_pattern(p).match(channel) is not None for p in self.channels)


# -- users --------------------------------------------------------------------------------------


class User:
    """An ACL user (Redis's user struct). New users are off, with no permissions."""

    __slots__ = ("name", "enabled", "nopass", "sanitize", "passwords", "selectors", "fast_check",
                 "_description")  # fmt: skip

    def __init__(self, name: bytes, allchannels: bool = False) -> None:
        self.name = name
        self.enabled = False
        self.nopass = False
        self.sanitize: str | None = None  # "skip-sanitize-payload" / "sanitize-payload"
        self.passwords: list[str] = []
        self.selectors = [Selector(allchannels)]  # the root selector first
        #: The dispatcher's per-command verdicts (see ``_fast_check``), None when the user
        #: may run anything anywhere.
        self.fast_check: dict[CommandSpec, bool | bytes] | None = None
        self._description: bytes | None = None  # ACL LIST's cached line

    @property
    def root(self) -> Selector:
        return self.selectors[0]

    def copy(self, name: bytes | None = None) -> User:
        other = User(self.name if name is None else name)
        other.copy_from(self)
        return other

    def copy_from(self, source: User) -> None:
        """Take ``source``'s rules (ACLCopyUser): this object stays, so its clients follow."""
        self.enabled = source.enabled
        self.nopass = source.nopass
        self.sanitize = source.sanitize
        self.passwords = list(source.passwords)
        self.selectors = [selector.copy() for selector in source.selectors]
        self.rules_changed()

    def rules_changed(self) -> None:
        self._description = None
        self.fast_check = _fast_check(self)

    # -- ACLSetUser ------------------------------------------------------------------------------

    def apply(self, op: bytes, pubsub_default: bool) -> None:
        """One rule; raises ``RuleError``. Call ``rules_changed`` after a batch."""
        if not op:
            return
        lowered = c_string(op).lower()  # strcasecmp: the keyword ends at a NUL
        if lowered == b"on":
            self.enabled = True
        elif lowered == b"off":
            self.enabled = False
        elif lowered in (b"skip-sanitize-payload", b"sanitize-payload"):
            self.sanitize = lowered.decode()
        elif lowered == b"nopass":
            self.nopass = True
            self.passwords = []
        elif lowered == b"resetpass":
            self.nopass = False
            self.passwords = []
        elif op[:1] in (b">", b"#"):
            digest = self._hash_of(op)
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.nopass = False
        elif op[:1] in (b"<", b"!"):
            digest = self._hash_of(op)
            if digest not in self.passwords:
                raise RuleError("ENODEV")
            self.passwords.remove(digest)
        elif op[:1] == b"(" and op[-1:] == b")":
            selector = Selector(pubsub_default)
            # sdssplitargs: unbalanced quotes make no rules at all, a NUL ends the text
            for rule in split_inline(c_string(op[1:-1])) or []:
                selector.apply(rule)
            self.selectors.append(selector)
        elif lowered == b"clearselectors":
            del self.selectors[1:]
        elif lowered == b"reset":
            self.nopass = False
            self.passwords = []
            root = self.root
            root.apply(b"resetkeys")
            root.apply(b"resetchannels")
            if pubsub_default:
                root.apply(b"allchannels")
            self.enabled = False
            self.sanitize = "sanitize-payload"
            del self.selectors[1:]
            root.set_all(False)
        else:
            self.root.apply(op)

    @staticmethod
    def _hash_of(op: bytes) -> str:
        if op[:1] in (b">", b"<"):
            return hash_password(op[1:])
        if not is_valid_hash(op[1:]):
            raise RuleError("EBADMSG")
        return op[1:].decode()

    def apply_all(self, rules: list[bytes], pubsub_default: bool) -> None:
        """Stage every rule on a copy and keep them only if all are valid; raises
        ``SetUserError`` with Redis's ACL SETUSER message otherwise."""
        merged = merge_selector_arguments(rules)
        staged = self.copy()
        for rule in merged:
            try:
                staged.apply(rule, pubsub_default)
            except RuleError as exc:
                raise SetUserError(
                    f"Error in ACL SETUSER modifier '{quoted(rule)}': {exc.reason}"
                ) from None
        self.copy_from(staged)


class SetUserError(Exception):
    """ACL SETUSER refused the rules; the message is the reply's text after ``ERR``."""


def merge_selector_arguments(rules: list[bytes]) -> list[bytes]:
    """Join a selector spread over several arguments (``(~x*`` ``+get)``) into one, as
    Redis's ACLMergeSelectorArguments does; an unclosed one is an error.

    As in Redis 7.0, an argument opening another selector before the current one closes
    starts it again: ``(+ping (+select (+del )`` is the selector ``(+del )`` (Redis 7.2
    refuses it instead)."""
    merged: list[bytes] = []
    current: bytes | None = None
    opened_at = b""
    for rule in rules:
        if rule[:1] == b"(" and rule[-1:] != b")":
            current, opened_at = rule, rule
            continue
        if current is not None:
            current += b" " + c_string(rule)  # sdscatfmt's %s: up to a NUL
            if rule[-1:] == b")":
                merged.append(current)
                current = None
            continue
        merged.append(rule)
    if current is not None:
        raise SetUserError(
            f"Unmatched parenthesis in acl selector starting at '{quoted(opened_at)}'."
        )
    return merged


def _fast_check(user: User) -> dict[CommandSpec, bool | bytes] | None:
    """What the dispatcher's fast path consults per command: None when nothing needs
    checking (``+@all ~* &*``), else a verdict for every command of the table: True (the
    user may run it and there are no keys or channels to check), the prefix ``argv[1]``
    must start with (one key, one ``~prefix*`` pattern: the usual ``~app:*``), or False:
    the full path decides, checking everything, logging refusals and building the error."""
    root = user.root
    if len(user.selectors) == 1 and root.allcommands and root.allkeys and root.allchannels:
        return None
    verdicts: dict[CommandSpec, bool | bytes] = dict.fromkeys(all_commands(), False)
    if len(user.selectors) > 1:
        return verdicts
    single = root.patterns[0] if len(root.patterns) == 1 else None
    prefix = plain_prefix(single.pattern) if single is not None and single.flags == KEY_READ | KEY_WRITE else None
    for spec in all_commands():
        if not (root.allcommands or spec in root.allowed):
            continue
        if spec.channels is not None and not root.allchannels:
            continue
        if root.allkeys or not spec.acl_keys:
            verdicts[spec] = True
        elif (
            prefix is not None
            and spec.first_key == 1
            and spec.last_key == 1
            and spec.keys_finder is None
        ):
            verdicts[spec] = prefix
    return verdicts


def user_check(user: User, spec: CommandSpec, argv: list[bytes]) -> tuple[int, int]:
    """ACLCheckAllUserCommandPerm: OK if any selector allows; else the most telling refusal
    (a channel over a key over the command; among keys, the last position)."""
    worst, worst_index = DENIED_CMD, 0
    for selector in user.selectors:
        result, index = selector.check(spec, argv)
        if result == ACL_OK:
            return ACL_OK, 0
        if result > worst or (result == worst and index > worst_index):
            worst, worst_index = result, index
    return worst, worst_index
