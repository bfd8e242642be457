"""The server: listening socket, client registry, housekeeping tick, shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import time

from magpie.commands.table import COMMANDS, CommandSpec
from magpie.config import Config
from magpie.persistence.aof import AppendOnly
from magpie.persistence.aof_loader import load_append_only, load_manifest
from magpie.persistence.children import close_in_children
from magpie.persistence.loading import load_with_progress
from magpie.persistence.rdb_format import RdbError
from magpie.persistence.snapshots import MISCONF, Snapshots
from magpie.protocol.quoting import repr_bytes
from magpie.replication.manager import Replication
from magpie.scripting.runner import Scripting
from magpie.search.persist import index_aux_fields, restore_indexes
from magpie.search.registry import SearchRegistry
from magpie.security.access import AccessControl
from magpie.security.describe import list_line
from magpie.server.admission import adjust_open_files_limit
from magpie.server.blocking import BlockingRegistry
from magpie.server.client_cron import clients_cron
from magpie.server.client_info import RecentPeaks, describe
from magpie.server.connection import Client
from magpie.server.notifications import KeyspaceNotifier
from magpie.server.output_limits import OutputLimits
from magpie.server.propagation import PropagationLog
from magpie.server.pubsub import PubSub
from magpie.server.stats import Stats
from magpie.server.transactions import WatchRegistry
from magpie.store.clock import CLOCK
from magpie.store.eviction import Evictor
from magpie.store.keyspace import Keyspace

log = logging.getLogger("magpie")

#: Share of each tick the active expiry cycle may use (Redis: 25% at effort 1).
EXPIRE_TIME_SHARE = 0.25


class Server:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.acl = AccessControl(config, describe)
        self.acl.configured = config.users
        if config["requirepass"]:
            self.acl.update_default_password(str(config["requirepass"]))
        self.keyspace = Keyspace(int(config["databases"]))  # type: ignore[arg-type]
        self.clients: dict[int, Client] = {}
        self.monitors: list[Client] = []
        self.output_limits = OutputLimits(config)
        self.client_peaks = RecentPeaks()
        self.stats = Stats()
        self.scripting = Scripting(self)
        self.propagation = PropagationLog()
        self.propagation.on_change = self.refresh_slow_path
        self.keyspace.signals.propagate = self.propagation.feed
        #: True while every command must take the dispatcher's full path (pause, propagation).
        self.slow_path = False
        self.stats.count_commands = self.total_commands
        self.pubsub = PubSub(self)
        self.watches = WatchRegistry(self.keyspace)
        self.blocking = BlockingRegistry(self)
        self.notifications = KeyspaceNotifier(self)
        self.evictor = Evictor(self.keyspace)
        self.snapshots = Snapshots(self)
        self.aof = AppendOnly(self)
        #: What the AOF was fed and has not written: connections flush it before replying.
        self.aof_pending = self.aof.writer.pending
        #: The error every write gets while persistence is failing (-MISCONF), else None.
        self.writes_refused: str | None = None
        #: True while a dataset loads: commands without the ``loading`` flag get -LOADING.
        self.loading = False
        self.search = SearchRegistry(self.keyspace, lambda callback: self.loop.call_soon(callback))  # type: ignore[union-attr]
        # FT.* indexes travel in snapshots as magpie- aux fields, their graphs saved whole.
        self.snapshots.extra_aux = lambda: index_aux_fields(self.search)
        self.snapshots.restore_extra = lambda aux: restore_indexes(self.search, aux)
        self.replication = Replication(self)
        self.snapshots.replication_child_done = self.replication.primary.snapshot_done
        self.snapshots.replication_aux = self.replication.rdb_aux
        config.on_change.append(self._config_changed)
        self.run_id = secrets.token_hex(20)
        self.error_counts: dict[str, int] = {}
        self.peak_memory = 0
        self.start_time = time.time()
        self.start_monotonic = time.monotonic()
        self.active_expire_enabled = True
        self.paused_until = 0.0  # CLIENT PAUSE deadline (monotonic), 0 when not paused
        self.pause_writes_only = False
        self.cron_loops = 0
        self._next_id = 0
        self._server: asyncio.base_events.Server | None = None
        self._stopped: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tcp_port = 0
        self.executable = ""
        self.config_file = ""

    def refresh_slow_path(self) -> None:
        """Commands skip the fast path while paused, under a memory limit or under a
        normal-class output buffer limit (the full path measures each reply). The fast
        path feeds the propagation log itself."""
        self.loading = self.snapshots.loading
        self.writes_refused = MISCONF if self.snapshots.denies_writes else self.aof.denied_message()
        self.slow_path = (
            bool(self.paused_until)
            or self.loading
            or self.writes_refused is not None
            or bool(self.evictor.maxmemory)
            or self.output_limits.normal_limited
            or self.replication.restricts_commands
            or self.scripting.busy
        )

    def configure_memory(self) -> None:
        config = self.config
        self.evictor.configure(
            int(config["maxmemory"]),  # type: ignore[arg-type]
            str(config["maxmemory-policy"]),
            int(config["maxmemory-samples"]),  # type: ignore[arg-type]
            int(config["lfu-log-factor"]),  # type: ignore[arg-type]
            int(config["lfu-decay-time"]),  # type: ignore[arg-type]
        )
        self.refresh_slow_path()

    def total_commands(self) -> int:
        total = 0
        for spec in COMMANDS.values():
            total += spec.calls
            for sub in spec.subcommands.values():
                total += sub.calls
        return total

    def next_client_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self.acl.load_configured_users()  # AclError stops the server, as it stops Redis
        self.loop = asyncio.get_running_loop()
        adjust_open_files_limit(self.config)
        self.notifications.configure()
        self.configure_memory()
        self._stopped = asyncio.Event()
        hosts = str(self.config["bind"]).split() or ["127.0.0.1"]
        hosts = [h.lstrip("-") for h in hosts]
        self._server = await self.loop.create_server(
            lambda: Client(self),
            host=hosts,
            port=int(self.config["port"]),  # type: ignore[arg-type]
            backlog=int(self.config["tcp-backlog"]),  # type: ignore[arg-type]
            reuse_address=True,
        )
        sock = self._server.sockets[0]
        self.tcp_port = sock.getsockname()[1]
        close_in_children([listener.fileno() for listener in self._server.sockets])
        self.loop.call_soon(self._tick)

    async def serve_forever(self) -> int:
        await self.start()
        assert self.loop is not None and self._stopped is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self.loop.add_signal_handler(sig, self._signal_shutdown, sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        if not await self.load_data():
            await self._close()
            return 0 if self.stopping else 1  # a shutdown asked for while loading is no failure
        log.info("Ready to accept connections tcp on port %s", self.tcp_port)
        self._start_configured_replication()
        await self._stopped.wait()
        await self._close()
        return 0

    async def load_data(self) -> bool:
        """The dataset from disk at startup, while clients get -LOADING; False (logged) if the
        file cannot be loaded, and the server must not start. With ``appendonly yes`` the
        AOF is the dataset and the RDB file is not read, as in Redis."""
        if not load_manifest(self.aof):  # read either way, as Redis does
            return False
        if self.config["appendonly"]:
            return await load_append_only(self) and not self._stopped.is_set()  # type: ignore[union-attr]
        path = self.snapshots.path
        if not os.path.exists(path):
            return True
        try:
            if not await load_with_progress(self, self.snapshots.load_steps(path), os.path.getsize(path)):
                return False
        except RdbError as exc:
            log.warning("Fatal error loading the DB: %s. Exiting.", exc.describe())
            return False
        except OSError as exc:
            log.warning("Fatal error loading the DB: %s. Exiting.", exc.strerror)
            return False
        return not self.stopping

    def _start_configured_replication(self) -> None:
        """``replicaof host port`` in the config: connect once the data is loaded, offering
        the history the RDB file recorded (repl-id, repl-offset) for a partial resync."""
        target = str(self.config["replicaof"]).split()
        if len(target) != 2 or target[0].lower() == "no":
            return
        aux = dict(self.snapshots.last_load.aux)
        replid, offset = aux.get(b"repl-id", b""), aux.get(b"repl-offset", b"")
        stream_db = 0
        has_history = False
        if not self.config["appendonly"] and len(replid) == 40 and offset.isdigit():
            self.replication.ids.replid = replid.decode()
            self.replication.offset = int(offset)
            has_history = True
            raw_db = aux.get(b"repl-stream-db", b"0")
            stream_db = int(raw_db) if raw_db.isdigit() and int(raw_db) < len(self.keyspace) else 0
        try:
            port = int(target[1])
        except ValueError:
            log.warning("Invalid replicaof port: %s", target[1])
            return
        self.replication.replicate_from(target[0], port, stream_db, has_history)

    def prepare_shutdown(self, save: bool | None = None, force: bool = False) -> bool:
        """Redis's prepareForShutdown: stop a background save, then save when save points
        are set (or SAVE asks for it) unless NOSAVE or a load is under way. False (logged)
        when the save failed and FORCE was not given: the server keeps running."""
        self.snapshots.kill_child()
        if not self.aof.prepare_shutdown(force):
            return False
        if save is None:
            save = bool(self.config["save"])
        if save and not self.loading:
            log.info("Saving the final RDB snapshot before exiting.")
            if not self.snapshots.save() and not force:
                log.warning("Error trying to save the DB, can't exit.")
                return False
        return True

    def _signal_shutdown(self, sig: int) -> None:
        log.warning("Received %s scheduling shutdown...", signal.Signals(sig).name)
        if self.prepare_shutdown():
            self.request_shutdown()
        else:
            log.warning("%s received but errors trying to shut down the server, check the logs for more information",
                        signal.Signals(sig).name)  # fmt: skip

    @property
    def stopping(self) -> bool:
        return self._stopped is not None and self._stopped.is_set()

    def request_shutdown(self) -> None:
        if self._stopped is not None:
            self._stopped.set()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for client in list(self.clients.values()):
            client.close()
        log.info("Magpie is now ready to exit, bye bye...")

    def pause_clients(self, seconds: float, writes_only: bool) -> None:
        deadline = time.monotonic() + seconds
        # A new pause extends an old one, and ALL wins over WRITE (as in Redis).
        if self.paused_until and time.monotonic() < self.paused_until:
            writes_only = writes_only and self.pause_writes_only
            deadline = max(deadline, self.paused_until)
        self.paused_until = deadline
        self.pause_writes_only = writes_only
        self.refresh_slow_path()
        assert self.loop is not None
        self.loop.call_later(seconds, self._pause_expired)

    def _pause_expired(self) -> None:
        if self.paused_until and time.monotonic() >= self.paused_until - 0.001:
            self.unpause_clients()

    def unpause_clients(self) -> None:
        self.paused_until = 0.0
        self.refresh_slow_path()
        for client in list(self.clients.values()):
            if client.postponed is not None:
                client.resume_postponed()

    def must_postpone(self, spec) -> bool:  # noqa: ANN001 - CommandSpec
        if time.monotonic() >= self.paused_until:
            return False
        if spec.name in ("client|unpause", "quit"):  # Redis answers QUIT before any pause check
            return False
        return not self.pause_writes_only or spec.is_write or "may_replicate" in spec.flags

    def rewrite_config(self) -> None:
        """CONFIG REWRITE: the parameters and, unless an aclfile holds them, the ACL users."""
        users = [list_line(user).decode(errors="surrogateescape") for user in self.acl.sorted_users()]
        self.config.rewrite(users)

    def count_error(self, message: str) -> None:
        """errorstats: errors are counted by their first word (ERR, WRONGTYPE, NOAUTH...)."""
        prefix = message.split(" ", 1)[0]
        self.error_counts[prefix] = self.error_counts.get(prefix, 0) + 1

    def _config_changed(self, name: str) -> None:
        if name == "requirepass":
            self.acl.update_default_password(str(self.config["requirepass"]))
        elif name == "notify-keyspace-events":
            self.notifications.configure()
        elif name.startswith(("maxmemory", "lfu-")):
            self.configure_memory()
        elif name in ("save", "stop-writes-on-bgsave-error"):
            self.refresh_slow_path()
        elif name.startswith(("append", "aof-", "auto-aof-", "no-appendfsync")):
            self.aof.config_changed(name)
        elif name == "client-output-buffer-limit":
            self.output_limits.reload()
            self.refresh_slow_path()

    def client_gone(self, client: Client) -> None:
        self.clients.pop(client.id, None)
        if client.is_monitor:
            self.monitors.remove(client)
        if client.subscriptions:
            self.pubsub.client_gone(client)
        if client.watched:
            self.watches.unwatch_all(client)
        if client.blocked is not None:
            self.blocking.client_gone(client)
        if client.is_replica:
            self.replication.primary.replica_gone(client)

    # -- housekeeping ------------------------------------------------------------------

    def _tick(self) -> None:
        """Once every 1/hz seconds: active expiry, client timeouts, rate samples."""
        hz = int(self.config["hz"])  # type: ignore[arg-type]
        assert self.loop is not None
        self.loop.call_later(1.0 / hz, self._tick)
        now = CLOCK.update()
        if self.scripting.busy:
            return  # a busy script owns the dataset: only sockets are served meanwhile
        self.cron_loops += 1
        # (an AOF replay expires nothing; a replica's keys expire by its primary's DELs)
        if self.active_expire_enabled and not self.loading and not self.replication.is_replica:
            self.expire_cycle(now, EXPIRE_TIME_SHARE / hz)
        self.snapshots.cron()
        self.aof.cron()
        self.replication.tick()
        if self.cron_loops % hz == 0:
            self.stats.sample()
            clients_cron(self, self.client_peaks, now)
            self.replication.cron()

    def expire_cycle(self, now_ms: int, time_budget: float) -> int:
        """Reclaim due keys in slices until none are due or the time budget is spent."""
        deadline = time.perf_counter() + time_budget
        total = 0
        for db in self.keyspace.dbs:
            if not db.expires:
                continue
            while True:
                deleted = db.expire_due(now_ms, 200)
                total += deleted
                if deleted < 200 or time.perf_counter() > deadline:
                    break
            if time.perf_counter() > deadline:
                break
        self.stats.expired_keys += total
        return total

    # -- MONITOR -----------------------------------------------------------------------

    def feed_monitors(self, client: Client, spec: CommandSpec, argv: list[bytes], forced: bool = False) -> None:
        """Show the command to MONITOR clients as Redis does: never admin commands (ACL
        SETUSER, CONFIG...), and AUTH/HELLO with their credentials redacted. ``forced``:
        a skip_monitor command that shows itself first (EVAL, before its script's commands)."""
        if "admin" in spec.flags or ("skip_monitor" in spec.flags and not forced):
            return
        now = time.time()
        quoted = " ".join(repr_bytes(a) for a in _redact_credentials(argv))
        line = f"{now:.6f} [{client.db_index} {client.addr}] {quoted}"
        for monitor in self.monitors:
            if monitor is not client:
                monitor.send(line)

    # -- info helpers ------------------------------------------------------------------

    def uptime(self) -> int:
        return int(time.monotonic() - self.start_monotonic)

    def pid(self) -> int:
        return os.getpid()


_REDACTED = b"(redacted)"


def _redact_credentials(argv: list[bytes]) -> list[bytes]:
    """AUTH's arguments, and the user and password after HELLO's AUTH option."""
    name = argv[0].lower()
    if name == b"auth":
        return [argv[0]] + [_REDACTED] * (len(argv) - 1)
    if name != b"hello":
        return argv
    shown = list(argv)
    for i in range(2, len(argv) - 2):
        if argv[i].lower() == b"auth":
            shown[i + 1] = shown[i + 2] = _REDACTED
    return shown

