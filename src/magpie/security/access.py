"""The server's ACL state: its users, the ACL log, the ACL file, and the permission check.

One ``AccessControl`` per server. It knows nothing of sockets: clients are objects with
``user``, ``authenticated``, ``in_multi`` and a ``kill_for_acl()`` method; the
dispatcher calls ``check`` and ``refusal`` before a command runs.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from magpie.commands.table import CommandSpec
from magpie.security.describe import list_line
from magpie.security.passwords import password_matches
from magpie.security.rules import (
    DENIED_AUTH,
    DENIED_CHANNEL,
    DENIED_CMD,
    DENIED_KEY,
    RuleError,
    Selector,
    SetUserError,
    User,
    c_string,
    has_space,
    merge_selector_arguments,
    quoted,
)

log = logging.getLogger("magpie")

_LOG_GROUPING_MS = 60_000
_REASONS = {DENIED_CMD: b"command", DENIED_KEY: b"key", DENIED_CHANNEL: b"channel", DENIED_AUTH: b"auth"}


def refusal_text(result: int, spec: CommandSpec) -> str:
    """The -NOPERM reply for a command refused at the time it was sent."""
    if result == DENIED_CMD:
        return f"NOPERM this user has no permissions to run the '{spec.name}' command"
    if result == DENIED_KEY:
        return "NOPERM this user has no permissions to access one of the keys used as arguments"
    return "NOPERM this user has no permissions to access one of the channels used as arguments"


def exec_refusal_text(result: int) -> str:
    """The -NOPERM reply for a queued command the rules stopped allowing before EXEC."""
    reason = {
        DENIED_CMD: "no permission to execute the command or subcommand",
        DENIED_KEY: "no permission to touch the specified keys",
    }.get(result, "no permission to access one of the channels used as arguments")
    return (
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the "
        f"EXEC call. This command is no longer allowed for the following reason: {reason}"
    )


def dryrun_text(result: int, spec: CommandSpec, argv: list[bytes], index: int) -> bytes:
    """ACL DRYRUN's (non-error) reply for a refusal."""
    if result == DENIED_CMD:
        return f"This user has no permissions to run the '{spec.name}' command".encode()
    what = b"key" if result == DENIED_KEY else b"channel"
    return b"This user has no permissions to access the '" + argv[index] + b"' " + what


@dataclass
class LogEntry:
    count: int
    reason: int
    context: bytes  # toplevel, multi, lua
    object: bytes
    username: bytes
    ctime_ms: int
    client_info: bytes

    def reply(self, now_ms: int) -> dict[bytes, object]:
        return {
            b"count": self.count,
            b"reason": _REASONS.get(self.reason, b"unknown"),
            b"context": self.context,
            b"object": self.object,
            b"username": self.username,
            b"age-seconds": (now_ms - self.ctime_ms) / 1000,
            b"client-info": self.client_info,
        }


class AclError(Exception):
    """ACL LOAD / SAVE / a config ``user`` line failed; the message is Redis's text."""


class AccessControl:
    def __init__(self, config: Any, describe_client: Callable[[Any], str]) -> None:
        self.config = config
        self._describe_client = describe_client
        self.users: dict[bytes, User] = {}
        self.default = self._new_default_user()
        self.users[b"default"] = self.default
        self.log: list[LogEntry] = []  # newest first
        #: Users from ``user`` lines of the config file, applied at start (name, rules).
        self.configured: list[tuple[bytes, list[bytes]]] = []

    # -- users -----------------------------------------------------------------------------

    @property
    def pubsub_default(self) -> bool:
        """acl-pubsub-default: do new users start with allchannels?"""
        return self.config["acl-pubsub-default"] == "allchannels"

    def _new_default_user(self) -> User:
        return _unrestricted_user(b"default")

    @staticmethod
    def superuser() -> User:
        """A user that may run anything: the replica's master client is obeyed, not checked."""
        return _unrestricted_user(b"(master)")

    def get(self, name: bytes) -> User | None:
        return self.users.get(name)

    def sorted_users(self) -> list[User]:
        """In name order, as Redis's radix tree lists them."""
        return [self.users[name] for name in sorted(self.users)]

    def set_user(self, name: bytes, rules: list[bytes], clients: Iterable[Any]) -> None:
        """ACL SETUSER: create or change a user, all rules or none. Subscribers that lose
        a channel they listen to are disconnected, as in Redis."""
        if has_space(name):
            raise SetUserError("Usernames can't contain spaces or null characters")
        user = self.users.get(name)
        staged = user.copy() if user is not None else User(name, self.pubsub_default)
        staged.apply_all(rules, self.pubsub_default)
        if user is None:
            self.users[name] = staged
            return
        clients = list(clients)
        user.copy_from(staged)
        for client in clients:
            if client.user is user and client.subscriptions and not self._channels_still_allowed(client):
                client.kill_for_acl()

    @staticmethod
    def _channels_still_allowed(client: Any) -> bool:
        user = client.user
        if any(s.allchannels for s in user.selectors):
            return True
        channels = [c for s in user.selectors for c in s.channels]
        probe = Selector()
        probe.channels = channels
        return all(probe.channel_allowed(p, True) for p in client.patterns) and all(
            probe.channel_allowed(c, False) for c in (*client.channels, *client.shard_channels)
        )

    def delete_users(self, names: list[bytes], clients: Iterable[Any]) -> int:
        """ACL DELUSER: the users' connections are closed (after the current command)."""
        if any(c_string(name) == b"default" for name in names):  # strcmp, as in Redis
            raise SetUserError("The 'default' user cannot be removed")
        gone = [self.users.pop(name) for name in dict.fromkeys(names) if name in self.users]
        self._kill_clients_of(gone, clients)
        return len(gone)

    def _kill_clients_of(self, users: list[User], clients: Iterable[Any]) -> None:
        if not users:
            return
        doomed = {id(u) for u in users}
        for client in list(clients):
            if id(client.user) in doomed:
                client.kill_for_acl()

    def update_default_password(self, password: str) -> None:
        """requirepass: it sets (or, empty, removes) the default user's one password."""
        user = self.default
        user.apply(b"resetpass", False)
        if password:
            user.apply(b">" + password.encode(errors="surrogateescape"), False)
        else:
            user.apply(b"nopass", False)
        user.rules_changed()

    # -- authentication -------------------------------------------------------------------------

    def authenticate(self, username: bytes, password: bytes) -> User | None:
        user = self.users.get(username)
        if user is None or not user.enabled:
            return None
        if user.nopass or password_matches(password, user.passwords):
            return user
        return None

    def default_needs_auth(self) -> bool:
        """Redis's authRequired: new connections must AUTH unless the default user is open."""
        return not (self.default.nopass and self.default.enabled)

    # -- the ACL log ------------------------------------------------------------------------------

    def log_denied(self, client: Any, result: int, index: int, spec: CommandSpec | None,
                   argv: list[bytes], context: bytes, username: bytes | None = None) -> None:  # fmt: skip
        """addACLLogEntry: a similar entry of the last minute (among the 10 newest) is
        counted again and moved to the front instead of repeated."""
        if result == DENIED_CMD and spec is not None:
            obj = spec.name.encode()
        elif result in (DENIED_KEY, DENIED_CHANNEL):
            obj = argv[index]
        elif result == DENIED_AUTH:
            obj = argv[0]
        else:
            obj = b""
        now = time.time_ns() // 1_000_000
        name = username if username is not None else client.user.name
        info = self._describe_client(client).encode(errors="replace")
        for position, entry in enumerate(self.log[:10]):
            if (
                entry.reason == result
                and entry.context == context
                and abs(entry.ctime_ms - now) <= _LOG_GROUPING_MS
                and entry.object == obj
                and entry.username == name
            ):
                entry.count += 1
                entry.ctime_ms = now
                entry.client_info = info
                self.log.insert(0, self.log.pop(position))
                return
        self.log.insert(0, LogEntry(1, result, context, obj, name, now, info))
        del self.log[int(self.config["acllog-max-len"]) :]

    # -- the ACL file and config users ------------------------------------------------------------

    def load_configured_users(self) -> None:
        """Apply the config file's ``user`` lines, then the aclfile, at start; a failure
        stops the server as it stops Redis."""
        if self.config["aclfile"] and self.configured:
            raise AclError(
                "Configuring Redis with users defined in redis.conf and at the same setting an "
                "ACL file path is invalid. This setup is very likely to lead to configuration "
                "errors and security holes, please define either an ACL file or declare users "
                "directly in your redis.conf, but not both."
            )
        for name, rules in self.configured:
            if has_space(name):
                raise AclError("Spaces not allowed in ACL usernames")
            user = self.users.get(name)
            if user is None:
                user = self.users[name] = User(name, self.pubsub_default)
            else:  # only "default" can be declared again
                user.apply(b"reset", self.pubsub_default)
            for rule in rules:
                try:
                    user.apply(rule, self.pubsub_default)
                except RuleError as exc:
                    raise AclError(
                        f"Error loading ACL rule '{rule.decode(errors='replace')}' for the user "
                        f"named '{name.decode(errors='replace')}': {exc.reason}"
                    ) from None
            user.rules_changed()
            if not user.enabled:
                log.info(
                    "The user '%s' is disabled (there is no 'on' modifier in the user "
                    "description). Make sure this is not a configuration error.",
                    name.decode(errors="replace"),
                )
        if self.config["aclfile"]:
            self.load_file([])

    def load_file(self, clients: Iterable[Any]) -> None:
        """ACL LOAD: read the whole file into a fresh set of users and switch to it only if
        every line is valid; clients of the replaced users are disconnected."""
        path = str(self.config["aclfile"])
        try:
            with open(path, "rb") as fh:
                text = fh.read()
        except OSError as exc:
            raise AclError(f"Error loading ACLs, opening file '{path}': {exc.strerror}") from None
        users: dict[bytes, User] = {}
        errors = ""
        for lineno, raw in enumerate(text.split(b"\n"), 1):
            line = raw.strip(b" \t\r\n")
            if not line:
                continue
            # Split on single spaces like sdssplitlen: two spaces make an empty argument
            # (an empty user name, or an empty rule, which does nothing).
            args = line.split(b" ")
            if args[0] != b"user" or len(args) < 2:
                errors += f"{path}:{lineno} should start with user keyword followed by the username. "
                continue
            name = args[1]
            if has_space(name):  # a tab, say: Redis's message starts with a stray quote
                errors += f"'{path}:{lineno}: username '{quoted(name)}' contains invalid characters. "
                continue
            if name in users:
                errors += f"WARNING: Duplicate user '{quoted(name)}' found on line {lineno}. "
                continue
            user = users[name] = User(name, self.pubsub_default)
            try:
                rules = merge_selector_arguments(args[2:])
            except SetUserError:
                errors += f"{path}:{lineno}: Unmatched parenthesis in selector definition."
                continue
            syntax_error = False
            for rule in rules:
                try:
                    user.apply(rule.strip(b"\t\r\n"), self.pubsub_default)
                except RuleError as exc:
                    if exc.unknown:
                        errors += f"{path}:{lineno}: Error in applying operation '{quoted(rule)}': {exc.reason}. "
                    elif not syntax_error:
                        errors += f"{path}:{lineno}: {exc.reason}. "
                        syntax_error = True
            user.rules_changed()
        if errors:
            raise AclError(
                errors + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
            )
        new_default = users.pop(b"default", None) or self._new_default_user()
        replaced = [u for name, u in self.users.items() if name != b"default"]
        self.default.copy_from(new_default)
        self.users = {b"default": self.default, **users}
        self._kill_clients_of(replaced, clients)

    def save_file(self) -> None:
        """ACL SAVE: every user in ACL LIST form, written to a temp file then renamed."""
        path = str(self.config["aclfile"])
        body = b"".join(list_line(user) + b"\n" for user in self.sorted_users())
        tmp = f"{path}.tmp-{os.getpid()}-{time.time_ns() // 1_000_000}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(body)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("Writing ACL file for ACL SAVE: %s", exc.strerror)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise AclError(
                "There was an error trying to save the ACLs. Please check the server logs for more information"
            ) from None


def _unrestricted_user(name: bytes) -> User:
    user = User(name)
    for rule in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
        user.apply(rule, False)
    user.rules_changed()
    return user


def parse_user_directive(values: list[bytes]) -> tuple[bytes, list[bytes]]:
    """A config file ``user <name> rules...`` line, checked as Redis checks it at load
    (unknown commands are let through: they are reported when the users are applied).

    Redis names the offending word by the rule's index into the whole line, so the word
    it quotes is two to the left of the bad rule ('user', the name, ...): kept as is."""
    name = values[0]
    try:
        rules = merge_selector_arguments(values[1:])
    except SetUserError as exc:
        raise AclError(f"Error in user declaration '{name.decode(errors='replace')}': {exc}") from None
    probe = User(name)
    for index, rule in enumerate(rules):
        try:
            probe.apply(rule, False)
        except RuleError as exc:
            if not exc.unknown:
                quoted = ([b"user", name, *rules])[index].decode(errors="replace")
                raise AclError(f"Error in user declaration '{quoted}': {exc.reason}") from None
    return name, rules
