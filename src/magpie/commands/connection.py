"""Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT."""

from __future__ import annotations

from functools import partial

from magpie import REDIS_VERSION, errors
from magpie.commands.args import parse_int, parse_int32
from magpie.commands.table import command
from magpie.errors import CommandError
from magpie.protocol.replies import OK

cmd = partial(command, "connection")


@cmd("ping", -1, "fast", summary="Returns the server's liveliness response.")
def ping(client, args):
    if len(args) > 2:
        raise CommandError(errors.wrong_arity("ping"))
    if client.subscriptions and client.resp == 2:
        return [b"pong", args[1] if len(args) == 2 else b""]
    return args[1] if len(args) == 2 else "PONG"


@cmd("echo", 2, "fast loading stale", summary="Returns the given string.")
def echo(client, args):
    return args[1]


@cmd("quit", -1, "allow_busy no_auth fast noscript loading stale", fast=False, summary="Closes the connection.")
def quit_(client, args):
    client.closing = True
    return OK


@cmd("reset", 1, "noscript loading stale fast no_auth allow_busy", since="6.2.0", fast=False,
     summary="Resets the connection.")  # fmt: skip
def reset(client, args):
    client.reset()
    return "RESET"


@cmd("auth", -2, "noscript loading stale fast no_auth allow_busy", fast=False, summary="Authenticates the connection.")
def auth(client, args):
    if len(args) > 3:
        raise CommandError(errors.SYNTAX)
    if len(args) == 2:
        if client.server.acl.default.nopass:
            raise CommandError(errors.AUTH_NOT_CONFIGURED)
        username, password = b"default", args[1]
    else:
        username, password = args[1], args[2]
    if not client.authenticate(username, password, args[0]):
        raise CommandError(errors.WRONGPASS)
    return OK


@cmd("hello", -1, "noscript loading stale fast no_auth allow_busy", since="6.0.0", fast=False,
     summary="Handshakes with the Redis server.")  # fmt: skip
def hello(client, args):
    version = client.resp
    i = 1
    if len(args) >= 2:
        try:
            version = parse_int(args[1])
        except CommandError:
            raise CommandError("ERR Protocol version is not an integer or out of range") from None
        i = 2
        if version < 2 or version > 3:
            raise CommandError("NOPROTO unsupported protocol version")
    new_name = credentials = None
    while i < len(args):
        option = args[i].lower()
        remaining = len(args) - i - 1
        if option == b"auth" and remaining >= 2:
            credentials = args[i + 1], args[i + 2]
            i += 3
        elif option == b"setname" and remaining >= 1:
            new_name = args[i + 1]
            validate_name(new_name, "Client names")
            i += 2
        else:
            raise CommandError(f"ERR Syntax error in HELLO option '{args[i].decode(errors='replace')}'")
    if credentials is not None and not client.authenticate(*credentials, args[0]):
        raise CommandError(errors.WRONGPASS)
    if not client.authenticated:
        raise CommandError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
            "select the RESP protocol version at the same time"
        )
    if new_name is not None:
        client.name = new_name
    client.set_protocol(version)
    return {
        b"server": b"redis",
        b"version": REDIS_VERSION.encode(),
        b"proto": version,
        b"id": client.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
    }


def validate_name(name: bytes, what: str) -> None:
    """Redis allows printable ASCII without spaces in client and library names."""
    for byte in name:
        if byte < 0x21 or byte > 0x7E:
            raise CommandError(f"ERR {what} cannot contain spaces, newlines or special characters.")


@cmd("select", 2, "loading stale fast", summary="Changes the selected database.")
def select(client, args):
    index = parse_int32(args[1])
    if index < 0 or index >= len(client.server.keyspace):
        raise CommandError(errors.DB_OUT_OF_RANGE)
    client.select(index)
    return OK
