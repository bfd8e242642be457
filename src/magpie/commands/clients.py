"""CLIENT and its subcommands: naming, listing, killing, pausing clients, reply modes."""

from __future__ import annotations

import time
from functools import partial

from magpie import errors
from magpie.commands.args import parse_int
from magpie.commands.connection import validate_name
from magpie.commands.table import command, container
from magpie.errors import CommandError
from magpie.protocol.replies import NO_REPLY, OK, REPLY_OFF, REPLY_ON, REPLY_SKIP_NEXT, Verbatim

container("connection", "client", summary="A container for client connection commands.", since="2.4.0")
sub = partial(command, "connection", parent="client")


@sub("id", 2, "noscript loading stale", since="5.0.0", summary="Returns the unique client ID of the connection.")
def client_id(client, args):
    return client.id


@sub("setname", 3, "noscript loading stale", since="2.6.9", summary="Sets the connection name.")
def client_setname(client, args):
    validate_name(args[2], "Client names")
    client.name = args[2]
    return OK


@sub("getname", 2, "noscript loading stale", since="2.6.9", summary="Returns the name of the connection.")
def client_getname(client, args):
    return client.name or None


@sub("setinfo", 4, "noscript loading stale", since="7.2.0", summary="Sets information specific to the client or connection.")
def client_setinfo(client, args):
    attr = args[2].lower()
    if attr == b"lib-name":
        validate_name(args[3], "lib-name")
        client.lib_name = args[3]
    elif attr == b"lib-ver":
        validate_name(args[3], "lib-ver")
        client.lib_ver = args[3]
    else:
        raise CommandError(f"ERR Unrecognized option '{args[2].decode(errors='replace')}'")
    return OK


def client_type(c) -> str:
    """CLIENT LIST/KILL TYPE names: Redis's classes, with ``slave`` spelled ``replica``."""
    kind = c.client_class()
    return "replica" if kind == "slave" else kind


@sub("list", -2, "admin noscript loading stale", since="2.4.0", summary="Lists open connections.")
def client_list(client, args):
    clients = list(client.server.clients.values())
    i = 2
    while i < len(args):
        option = args[i].lower()
        if option == b"type" and i + 1 < len(args):
            wanted = args[i + 1].lower().decode(errors="replace")
            wanted = {"slave": "replica"}.get(wanted, wanted)
            if wanted not in ("normal", "master", "replica", "pubsub"):
                raise CommandError(f"ERR Unknown client type '{args[i + 1].decode(errors='replace')}'")
            clients = [c for c in clients if client_type(c) == wanted]
            i += 2
        elif option == b"id" and i + 1 < len(args):
            ids = set()
            for raw in args[i + 1 :]:
                try:
                    ids.add(parse_int(raw))
                except CommandError:
                    raise CommandError("ERR Invalid client ID") from None
            clients = [c for c in clients if c.id in ids]
            i = len(args)
        else:
            raise CommandError(errors.SYNTAX)
    return Verbatim("".join(c.info_line(args if c is client else None) + "\n" for c in clients))


@sub("info", 2, "noscript loading stale", since="6.2.0", summary="Returns information about the connection.")
def client_info(client, args):
    return Verbatim(client.info_line(args) + "\n")


@sub("kill", -3, "admin noscript loading stale", since="2.4.0", summary="Terminates open connections.")
def client_kill(client, args):
    server = client.server
    if len(args) == 3:  # old form: CLIENT KILL addr:port
        for other in list(server.clients.values()):
            if other.addr == args[2].decode(errors="replace"):
                other.close() if other is not client else setattr(other, "closing", True)
                return OK
        raise CommandError("ERR No such client")
    if len(args) % 2:
        raise CommandError(errors.SYNTAX)
    filters = []
    skipme = True
    for i in range(2, len(args), 2):
        option, value = args[i].lower(), args[i + 1]
        text = value.decode(errors="replace")
        if option == b"id":
            try:
                ident = parse_int(value)
            except CommandError:
                raise CommandError("ERR client-id should be greater than 0") from None
            if ident <= 0:
                raise CommandError("ERR client-id should be greater than 0")
            filters.append(lambda c, ident=ident: c.id == ident)
        elif option == b"addr":
            filters.append(lambda c, text=text: c.addr == text)
        elif option == b"laddr":
            filters.append(lambda c, text=text: c.laddr == text)
        elif option == b"type":
            kind = {"slave": "replica"}.get(text.lower(), text.lower())
            if kind not in ("normal", "master", "replica", "pubsub"):
                raise CommandError(f"ERR Unknown client type '{text}'")
            filters.append(lambda c, kind=kind: client_type(c) == kind)
        elif option == b"user":
            user = server.acl.get(value)
            if user is None:
                raise CommandError(f"ERR No such user '{text}'")
            filters.append(lambda c, user=user: c.user is user)
        elif option == b"skipme":
            if value.lower() not in (b"yes", b"no"):
                raise CommandError(errors.SYNTAX)
            skipme = value.lower() == b"yes"
        elif option == b"maxage":
            age = parse_int(value, errors.SYNTAX)
            filters.append(lambda c, age=age: time.time() - c.created >= age)
        else:
            raise CommandError(errors.SYNTAX)
    killed = 0
    for other in list(server.clients.values()):
        if other is client and skipme:
            continue
        if all(f(other) for f in filters):
            killed += 1
            if other is client:
                client.closing = True
            else:
                other.close()
    return killed


@sub("pause", -3, "admin noscript loading stale", since="3.0.0", summary="Suspends commands processing.")
def client_pause(client, args):
    try:
        millis = parse_int(args[2])
    except CommandError:
        raise CommandError("ERR timeout is not an integer or out of range") from None
    if millis < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    if len(args) > 4:
        raise CommandError(
            "ERR unknown subcommand or wrong number of arguments for "
            f"'{args[1].decode(errors='replace')}'. Try CLIENT HELP."
        )
    writes_only = False
    if len(args) == 4:
        mode = args[3].lower()
        if mode == b"write":
            writes_only = True
        elif mode != b"all":
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    client.server.pause_clients(millis / 1000.0, writes_only)
    return OK


@sub("unpause", 2, "admin noscript loading stale", since="6.2.0", summary="Resumes processing of clients that were paused.")
def client_unpause(client, args):
    client.server.unpause_clients()
    return OK


def _on_off(args, attr: str, client) -> str:
    value = args[2].lower()
    if value not in (b"on", b"off"):
        raise CommandError(errors.SYNTAX)
    setattr(client, attr, value == b"on")
    return OK


@sub("no-evict", 3, "admin noscript loading stale", since="7.0.0", summary="Sets the client eviction mode of the connection.")
def client_no_evict(client, args):
    return _on_off(args, "no_evict", client)


@sub("no-touch", 3, "noscript loading stale", since="7.2.0", summary="Controls whether commands sent by the client affect the LRU/LFU of accessed keys.")
def client_no_touch(client, args):
    return _on_off(args, "no_touch", client)


@sub("reply", 3, "noscript loading stale", since="3.2.0", summary="Instructs the server whether to reply to commands.")
def client_reply(client, args):
    mode = args[2].lower()
    if mode == b"on":
        client.reply_mode = REPLY_ON
        return OK
    if mode == b"off":
        client.reply_mode = REPLY_OFF
        return NO_REPLY
    if mode == b"skip":
        client.reply_mode = REPLY_SKIP_NEXT
        return NO_REPLY
    raise CommandError(errors.SYNTAX)


@sub("unblock", -3, "admin noscript loading stale", since="5.0.0", summary="Unblocks a client blocked by a blocking command from a different connection.")
def client_unblock(client, args):
    target = parse_int(args[2])
    with_error = False
    if len(args) == 4:
        reason = args[3].lower()
        if reason not in (b"timeout", b"error"):
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        with_error = reason == b"error"
    elif len(args) > 4:
        raise CommandError(errors.SYNTAX)
    other = client.server.clients.get(target)
    if other is None:
        return 0
    return 1 if client.server.blocking.unblock(other, with_error) else 0
