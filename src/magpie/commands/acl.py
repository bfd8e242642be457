"""ACL and its subcommands: users, rules, the ACL log and file (the logic is in security/)."""

from __future__ import annotations

import time
from functools import partial

from magpie.commands.args import parse_int
from magpie.commands.table import command, container, lookup
from magpie.errors import CommandError
from magpie.protocol.replies import OK
from magpie.security.access import AclError, dryrun_text
from magpie.security.describe import getuser_reply, list_line
from magpie.security.passwords import GENPASS_MAX_BITS, generate
from magpie.security.rules import (
    ACL_OK,
    CATEGORIES,
    SetUserError,
    acl_categories,
    all_commands,
    c_string,
    quoted,
    user_check,
)

container("server", "acl", summary="A container for Access List Control commands.", since="6.0.0")
sub = partial(command, "server", parent="acl", since="6.0.0")
_ADMIN = "admin noscript loading stale"
_NO_ACL_FILE = (
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify "
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "
    "Redis configuration file set) in order to store users in the Redis configuration."
)


def _syntax_error(args: list[bytes]) -> str:
    """addReplySubcommandSyntaxError's text (lower-case 'unknown', unlike the dispatcher's)."""
    name = quoted(c_string(args[1])[:128])
    return f"ERR unknown subcommand or wrong number of arguments for '{name}'. Try ACL HELP."


_HELP = (
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
)


@sub("help", 2, "loading stale", since="6.0.0", summary="Returns helpful text about the different subcommands.")
def acl_help(client, args):
    """Redis's own help text (status replies), in place of the table's generated one."""
    return ["ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", *_HELP, "HELP", "    Prints this help."]


@sub("setuser", -3, _ADMIN, summary="Creates and modifies an ACL user and its rules.")
def acl_setuser(client, args):
    server = client.server
    try:
        server.acl.set_user(args[2], args[3:], server.clients.values())
    except SetUserError as exc:
        raise CommandError(f"ERR {exc}") from None
    return OK


@sub("deluser", -3, _ADMIN, summary="Deletes ACL users, and terminates their connections.")
def acl_deluser(client, args):
    server = client.server
    try:
        return server.acl.delete_users(args[2:], server.clients.values())
    except SetUserError as exc:
        raise CommandError(f"ERR {exc}") from None


@sub("getuser", 3, _ADMIN, summary="Lists the ACL rules of a user.")
def acl_getuser(client, args):
    user = client.server.acl.get(args[2])
    return getuser_reply(user) if user is not None else None


@sub("list", 2, _ADMIN, summary="Dumps the effective rules in ACL file format.")
def acl_list(client, args):
    return [list_line(user) for user in client.server.acl.sorted_users()]


@sub("users", 2, _ADMIN, summary="Lists all ACL users.")
def acl_users(client, args):
    return [user.name for user in client.server.acl.sorted_users()]


@sub("whoami", 2, "noscript loading stale", summary="Returns the authenticated username of the current connection.")
def acl_whoami(client, args):
    return client.user.name


@sub("cat", -2, "noscript loading stale", summary="Lists the ACL categories, or the commands inside a category.")
def acl_cat(client, args):
    if len(args) > 3:
        raise CommandError(_syntax_error(args))
    if len(args) == 2:
        return [name.encode() for name in CATEGORIES]
    wanted = c_string(args[2]).lower().decode(errors="replace")  # strcasecmp
    if wanted not in CATEGORIES:
        raise CommandError(f"ERR Unknown category '{quoted(c_string(args[2])[:128])}'")
    return [spec.name.encode() for spec in all_commands() if wanted in acl_categories(spec)]


@sub("genpass", -2, "noscript loading stale", summary="Generates a pseudorandom, secure password that can be used to identify ACL users.")
def acl_genpass(client, args):
    if len(args) > 3:
        raise CommandError(_syntax_error(args))
    bits = parse_int(args[2]) if len(args) == 3 else 256
    if bits <= 0 or bits > GENPASS_MAX_BITS:
        raise CommandError(
            "ERR ACL GENPASS argument must be the number of bits for the output password, "
            f"a positive number up to {GENPASS_MAX_BITS}"
        )
    return generate(bits).encode()


@sub("log", -2, _ADMIN, summary="Lists recent security events generated due to ACL rules.")
def acl_log(client, args):
    if len(args) > 3:
        raise CommandError(_syntax_error(args))
    entries = client.server.acl.log
    count = 10
    if len(args) == 3:
        if c_string(args[2]).lower() == b"reset":
            entries.clear()
            return OK
        count = max(0, parse_int(args[2]))
    now = time.time_ns() // 1_000_000
    return [entry.reply(now) for entry in entries[:count]]


@sub("dryrun", -4, _ADMIN, since="7.0.0", summary="Simulates the execution of a command by a user, without executing the command.")
def acl_dryrun(client, args):
    user = client.server.acl.get(args[2])
    if user is None:
        raise CommandError(f"ERR User '{quoted(args[2])}' not found")
    argv = args[3:]
    spec = lookup(argv[0])
    if spec is not None and spec.subcommands and len(argv) > 1:
        spec = spec.subcommands.get(argv[1].lower())
    if spec is None:
        raise CommandError(f"ERR Command '{quoted(argv[0])}' not found")
    if not spec.arity_ok(len(argv)):
        raise CommandError(f"ERR wrong number of arguments for '{spec.name}' command")
    result, index = user_check(user, spec, argv)
    return OK if result == ACL_OK else dryrun_text(result, spec, argv, index)


@sub("load", 2, _ADMIN, summary="Reloads the rules from the configured ACL file.")
def acl_load(client, args):
    return _with_acl_file(client, lambda server: server.acl.load_file(server.clients.values()))


@sub("save", 2, _ADMIN, summary="Saves the effective ACL rules in the configured ACL file.")
def acl_save(client, args):
    return _with_acl_file(client, lambda server: server.acl.save_file())


def _with_acl_file(client, action) -> str:
    server = client.server
    if not server.config["aclfile"]:
        raise CommandError(_NO_ACL_FILE)
    try:
        action(server)
    except AclError as exc:
        raise CommandError(f"ERR {exc}") from None
    return OK
