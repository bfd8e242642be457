"""Replication commands: PSYNC/SYNC and REPLCONF (the replica's side of the wire), WAIT,
ROLE, REPLICAOF/SLAVEOF, FAILOVER. The work is in ``replication/``; these read their
arguments and answer as Redis 7.0 does."""

from __future__ import annotations

import logging
from functools import partial

from magpie import errors
from magpie.commands.args import parse_int
from magpie.commands.table import command
from magpie.errors import CommandError
from magpie.protocol.replies import NO_REPLY, OK, REPLY_OFF
from magpie.replication.primary import ONLINE, Replica

cmd = partial(command, "server")
log = logging.getLogger("magpie")

_NOT_CONNECTED = "NOMASTERLINK Can't SYNC while not connected with my master"


def _sync_checks(client) -> None:  # noqa: ANN001 - Client
    replication = client.server.replication
    if replication.link is not None and not replication.link.connected:
        raise CommandError(_NOT_CONNECTED)
    transport = client.transport
    if client.out or (transport is not None and transport.get_write_buffer_size()):
        raise CommandError("ERR SYNC and PSYNC are invalid with pending output")


def _replica_state(client) -> Replica:  # noqa: ANN001 - Client
    if client.repl is None:
        client.repl = Replica(client)
    return client.repl


@cmd("psync", -3, "no_async_loading admin noscript no_multi", fast=False, since="2.8.0",
     summary="An internal command used in replication.")  # fmt: skip
def psync(client, args):
    if client.is_replica:
        return NO_REPLY  # a replica asking again is ignored, as in Redis
    offset = parse_int(args[2])
    server = client.server
    replication = server.replication
    if len(args) > 3 and args[3].lower() == b"failover":
        if args[1].decode(errors="replace") != replication.ids.replid:
            raise CommandError("ERR PSYNC FAILOVER replid must match my replid.")
        replication.promote()
        log.info("MASTER MODE enabled (failover request from '%s')", client.info_line())
    _sync_checks(client)
    if replication.failover.in_progress:
        raise CommandError("NOMASTERLINK Can't SYNC while failing over")
    replica = _replica_state(client)
    log.info("Replica %s asks for synchronization", replica.ip + ":" + str(replica.listening_port))
    replid = args[1].decode(errors="replace")
    client.reply_mode = REPLY_OFF
    if replication.primary.try_partial(replica, replid, offset):
        server.stats.sync_partial_ok += 1
        return NO_REPLY
    if replid != "?":
        server.stats.sync_partial_err += 1
    replication.primary.full_sync(replica)
    return NO_REPLY


@cmd("sync", 1, "no_async_loading admin noscript no_multi", fast=False, summary="An internal command used in replication.")
def sync(client, args):
    if client.is_replica:
        return NO_REPLY
    _sync_checks(client)
    replica = _replica_state(client)
    replica.old_sync = True
    client.reply_mode = REPLY_OFF
    client.server.replication.primary.full_sync(replica)
    return NO_REPLY


@cmd("replconf", -1, "admin noscript loading stale allow_busy", fast=False, since="3.0.0",
     summary="An internal command for configuring the replication stream.")  # fmt: skip
def replconf(client, args):
    if len(args) % 2 == 0:
        raise CommandError(errors.SYNTAX)
    replication = client.server.replication
    for i in range(1, len(args), 2):
        option, value = args[i].lower(), args[i + 1]
        if option == b"listening-port":
            _replica_state(client).listening_port = parse_int(value)
        elif option == b"ip-address":
            _replica_state(client).announced_ip = value.decode(errors="replace")
        elif option == b"capa":
            capa = value.lower()
            if capa == b"eof":
                _replica_state(client).capa_eof = True
            elif capa == b"psync2":
                _replica_state(client).capa_psync2 = True
        elif option == b"ack":
            # only a replica's ACK counts; ACKs get no reply either way
            try:
                offset = int(value)
            except ValueError:
                return NO_REPLY
            if client.is_replica and client.repl is not None:
                replication.primary.acked(client.repl, offset)
            return NO_REPLY
        elif option == b"getack":
            if replication.link is not None:
                replication.link.send_ack()
            return NO_REPLY
        elif option == b"rdb-only":
            pass
        else:
            raise CommandError(f"ERR Unrecognized REPLCONF option: {args[i].decode(errors='replace')}")
    return OK


@cmd("wait", 3, "noscript", acl="@connection", since="3.0.0", fast=False,
     summary="Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.")  # fmt: skip
def wait(client, args):
    replication = client.server.replication
    if replication.link is not None:
        raise CommandError("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 "
                           "if a replica is configured to be writable (which is not the default) writes to replicas "
                           "are just local and are not propagated.")  # fmt: skip
    wanted = parse_int(args[1])
    timeout = parse_int(args[2], "ERR timeout is not an integer or out of range")
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    return replication.primary.wait(client, wanted, timeout)


@cmd("role", 1, "noscript loading stale fast sentinel", acl="@admin @dangerous", since="2.8.12",
     summary="Returns the replication role.")  # fmt: skip
def role(client, args):
    return client.server.replication.role_reply()


def _replicaof(client, args):
    server = client.server
    replication = server.replication
    if replication.failover.active:
        raise CommandError("ERR REPLICAOF not allowed while failing over.")
    if args[1].lower() == b"no" and args[2].lower() == b"one":
        if replication.link is not None:
            replication.promote()
            log.info("MASTER MODE enabled (user request from '%s')", client.info_line())
        return OK
    if client.is_replica:
        raise CommandError("ERR Command is not valid when client is a replica.")
    port = parse_int(args[2], "ERR Invalid master port")
    if not 0 <= port <= 65535:
        raise CommandError("ERR Invalid master port")
    host = args[1].decode(errors="replace")
    link = replication.link
    if link is not None and link.host == host and link.port == port:
        log.info("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.")
        return "OK Already connected to specified master"
    replication.replicate_from(host, port)
    log.info("REPLICAOF %s:%d enabled (user request from '%s')", host, port, client.info_line())
    return OK


cmd("replicaof", 3, "no_async_loading admin noscript stale", since="5.0.0", fast=False,
    summary="Configures a server as replica of another, or promotes it to a master.")(_replicaof)  # fmt: skip
cmd("slaveof", 3, "no_async_loading admin noscript stale", since="1.0.0", fast=False,
    summary="Sets a Redis server as a replica of another, or promotes it to being a master.")(_replicaof)  # fmt: skip


@cmd("failover", -1, "admin noscript stale", since="6.2.0", fast=False,
     summary="Starts a coordinated failover from a server to one of its replicas.")  # fmt: skip
def failover(client, args):
    replication = client.server.replication
    state = replication.failover
    if len(args) == 2 and args[1].lower() == b"abort":
        if not state.active:
            raise CommandError("ERR No failover in progress.")
        state.abort("Failover manually aborted")
        return OK
    timeout = 0
    force = False
    target: tuple[str, int] | None = None
    i = 1
    while i < len(args):
        option = args[i].lower()
        if option == b"timeout" and i + 1 < len(args) and timeout == 0:
            timeout = parse_int(args[i + 1])
            if timeout <= 0:
                raise CommandError("ERR FAILOVER timeout must be greater than 0")
            i += 2
        elif option == b"to" and i + 2 < len(args) and target is None:
            target = (args[i + 1].decode(errors="replace"), parse_int(args[i + 2]))
            i += 3
        elif option == b"force" and not force:
            force = True
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
    if state.active:
        raise CommandError("ERR FAILOVER already in progress.")
    if replication.link is not None:
        raise CommandError("ERR FAILOVER is not valid when server is a replica.")
    if not replication.primary.replicas:
        raise CommandError("ERR FAILOVER requires connected replicas.")
    if force and (not timeout or target is None):
        raise CommandError("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
    if target is not None:
        replica = state.find_target(*target)
        if replica is None:
            raise CommandError("ERR FAILOVER target HOST and PORT is not a replica.")
        if replica.state != ONLINE:
            raise CommandError("ERR FAILOVER target replica is not online.")
    state.begin(target, timeout, force)
    return OK
