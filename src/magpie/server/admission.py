"""Admitting connections: maxclients, protected mode, TCP keepalive, the open-files limit.

Redis's order on accept: a connection over ``maxclients`` is refused first, then protected
mode refuses a non-loopback peer while the default user has no password; either refusal
is one error line, then the close, and counts in ``rejected_connections``. An admitted
socket gets SO_KEEPALIVE with Redis's probe timing when ``tcp-keepalive`` is non-zero.
"""

from __future__ import annotations

import logging
import resource
import socket
import sys
from typing import TYPE_CHECKING

from magpie import errors

if TYPE_CHECKING:
    from magpie.config import Config
    from magpie.server.server import Server

log = logging.getLogger("magpie")

#: The only peers protected mode lets in: Redis compares the address text, so
#: 127.0.0.2 (also loopback on Linux) is refused, as is ::ffff:127.0.0.1.
LOOPBACK_PEERS = frozenset({"127.0.0.1", "::1"})
#: File descriptors Redis keeps for itself beyond maxclients (CONFIG_MIN_RESERVED_FDS).
RESERVED_FDS = 32
_MAX_CLIENTS_LINE = b"-" + errors.MAX_CLIENTS.encode() + b"\r\n"
_PROTECTED_LINE = b"-" + errors.PROTECTED_MODE.encode() + b"\r\n"


def refusal(server: Server, peer: object) -> bytes | None:
    """What a new connection from ``peer`` (its peername) is told before being closed,
    or None to let it in."""
    config = server.config
    if len(server.clients) >= config["maxclients"]:  # type: ignore[operator]
        return _MAX_CLIENTS_LINE
    if config["protected-mode"] and default_user_has_no_password(server) and not _is_local(peer):
        return _PROTECTED_LINE
    return None


def default_user_has_no_password(server: Server) -> bool:
    """Redis's test: the default user's ``nopass`` flag (requirepass or ACL SETUSER)."""
    return server.acl.default.nopass


def _is_local(peer: object) -> bool:
    if not isinstance(peer, tuple):
        return True  # a Unix socket
    return peer[0] in LOOPBACK_PEERS


def set_keepalive(sock: object, seconds: int) -> None:
    """Redis's anetKeepAlive: first probe after ``seconds`` idle, then every third of it
    (at least 1 s), and the peer is given up after 3 unanswered probes."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)  # type: ignore[attr-defined]
    if hasattr(socket, "TCP_KEEPIDLE"):  # Linux
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, seconds)  # type: ignore[attr-defined]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, seconds // 3))  # type: ignore[attr-defined]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)  # type: ignore[attr-defined]
    elif hasattr(socket, "TCP_KEEPALIVE"):  # macOS: the idle time only
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPALIVE, seconds)  # type: ignore[attr-defined]


def adjust_open_files_limit(config: Config) -> None:
    """Redis's adjustOpenFilesLimit: raise the open-files limit to maxclients + 32, or as
    close as the system allows, and lower maxclients to fit when it falls short."""
    maxclients = int(config["maxclients"])  # type: ignore[call-overload]
    wanted = maxclients + RESERVED_FDS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    best, failure = wanted, ""
    while best > soft:
        try:
            ceiling = hard if hard == resource.RLIM_INFINITY or hard >= best else best
            resource.setrlimit(resource.RLIMIT_NOFILE, (best, ceiling))
            break
        except (ValueError, OSError) as exc:
            failure = getattr(exc, "strerror", None) or str(exc)
            best = soft if best < 16 else best - 16
    best = max(best, soft)
    if best >= wanted:
        log.info("Increased maximum number of open files to %d (it was originally set to %d).", wanted, soft)
        return
    if best <= RESERVED_FDS:
        log.warning(
            "Your current 'ulimit -n' of %d is not enough for the server to start. "
            "Please increase your open file limit to at least %d. Exiting.", soft, wanted,
        )  # fmt: skip
        sys.exit(1)
    config.values["maxclients"] = best - RESERVED_FDS
    log.warning("You requested maxclients of %d requiring at least %d max file descriptors.", maxclients, wanted)
    log.warning("Server can't set maximum open files to %d because of OS error: %s.", wanted, failure)
    log.warning(
        "Current maximum open files is %d. maxclients has been reduced to %d to compensate "
        "for low ulimit. If you need higher maxclients increase 'ulimit -n'.", best, best - RESERVED_FDS,
    )  # fmt: skip
