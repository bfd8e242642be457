"""INFO: Redis's sections and field names, filled from the server's state."""

from __future__ import annotations

import itertools
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from functools import partial

from magpie import REDIS_VERSION, __version__
from magpie.commands.table import COMMANDS, CommandSpec, command
from magpie.protocol.replies import Verbatim
from magpie.search.module import info_modules_line

cmd = partial(command, "server")

DEFAULT_SECTIONS = (
    "server", "clients", "memory", "persistence", "stats", "replication", "cpu",
    "modules", "errorstats", "cluster", "keyspace",
)  # fmt: skip
#: ``INFO all`` in Redis's order (``everything`` adds the module-provided sections).
ALL_SECTIONS = (
    "server", "clients", "memory", "persistence", "stats", "replication", "cpu",
    "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace",
)  # fmt: skip
_UNAME = platform.uname()
# platform.architecture() may run `file` on the interpreter: ask once, not on every INFO.
_ARCH_BITS = 64 if sys.maxsize > 2**32 else 32


def human_bytes(n: float) -> str:
    """Redis's bytesToHuman: B, K, M, G... with two decimals."""
    for unit in ("B", "K", "M", "G", "T", "P"):
        if abs(n) < 1024 or unit == "P":
            return f"{int(n)}B" if unit == "B" else f"{n:.2f}{unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # pragma: no cover - not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def total_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # pragma: no cover
        return 0


def _server(server) -> dict[str, object]:
    uptime = server.uptime()
    uname = _UNAME
    return {
        "redis_version": REDIS_VERSION,
        "magpie_version": __version__,
        "redis_git_sha1": "00000000",
        "redis_git_dirty": 0,
        "redis_build_id": "0",
        "redis_mode": "standalone",
        "os": f"{uname.system} {uname.release} {uname.machine}",
        "arch_bits": _ARCH_BITS,
        "monotonic_clock": "POSIX clock_gettime",
        "multiplexing_api": "epoll" if uname.system == "Linux" else "kqueue",
        "atomicvar_api": "c11-builtin",
        "gcc_version": "0.0.0",
        "python_version": platform.python_version(),
        "process_id": os.getpid(),
        "process_supervised": "no",
        "run_id": server.run_id,
        "tcp_port": server.tcp_port,
        "server_time_usec": time.time_ns() // 1000,
        "uptime_in_seconds": uptime,
        "uptime_in_days": uptime // 86400,
        "hz": server.config["hz"],
        "configured_hz": server.config["hz"],
        "lru_clock": int(time.time()) & ((1 << 24) - 1),
        "executable": server.executable,
        "config_file": server.config_file,
        "io_threads_active": 0,
    }


def _clients(server) -> dict[str, object]:
    recent_input, recent_output = server.client_peaks.recent_max()
    replicas = sum(1 for c in server.clients.values() if c.is_replica)
    return {
        "connected_clients": len(server.clients) - replicas,
        "cluster_connections": 0,
        "maxclients": server.config["maxclients"],
        "client_recent_max_input_buffer": recent_input,
        "client_recent_max_output_buffer": recent_output,
        "blocked_clients": server.blocking.count,
        "tracking_clients": 0,
        "clients_in_timeout_table": server.blocking.with_timeout,
    }


def _memory(server) -> dict[str, object]:
    rss = rss_bytes()
    server.peak_memory = max(getattr(server, "peak_memory", 0), rss)
    maxmemory = int(server.config["maxmemory"])
    system = total_memory()
    # Under maxmemory, used_memory is the dataset estimate that the limit is checked against.
    used = server.evictor.memory.used if server.evictor.memory.active else rss
    scripts = server.scripting
    lua_memory = scripts.memory()
    return {
        "used_memory": used,
        "used_memory_human": human_bytes(used),
        "used_memory_rss": rss,
        "used_memory_rss_human": human_bytes(rss),
        "used_memory_peak": server.peak_memory,
        "used_memory_peak_human": human_bytes(server.peak_memory),
        "used_memory_peak_perc": f"{100.0 * rss / server.peak_memory:.2f}%",
        "used_memory_overhead": 0,
        "used_memory_startup": 0,
        "used_memory_dataset": used,
        "used_memory_dataset_perc": "100.00%",
        "allocator_allocated": rss,
        "allocator_active": rss,
        "allocator_resident": rss,
        "total_system_memory": system,
        "total_system_memory_human": human_bytes(system),
        "used_memory_lua": lua_memory,
        "used_memory_vm_eval": lua_memory,
        "used_memory_lua_human": human_bytes(lua_memory),
        "used_memory_scripts_eval": scripts.cache.body_bytes,
        "number_of_cached_scripts": len(scripts.cache),
        "number_of_functions": 0,
        "number_of_libraries": 0,
        "used_memory_vm_functions": 32768,
        "used_memory_vm_total": lua_memory + 32768,
        "used_memory_vm_total_human": human_bytes(lua_memory + 32768),
        "used_memory_functions": 0,
        "used_memory_scripts": scripts.cache.body_bytes,
        "used_memory_scripts_human": human_bytes(scripts.cache.body_bytes),
        "maxmemory": maxmemory,
        "maxmemory_human": human_bytes(maxmemory),
        "maxmemory_policy": server.config["maxmemory-policy"],
        "allocator_frag_ratio": "1.00",
        "allocator_frag_bytes": 0,
        "allocator_rss_ratio": "1.00",
        "allocator_rss_bytes": 0,
        "rss_overhead_ratio": "1.00",
        "rss_overhead_bytes": 0,
        "mem_fragmentation_ratio": "1.00",
        "mem_fragmentation_bytes": 0,
        "mem_not_counted_for_evict": 0,
        "mem_replication_backlog": server.replication.backlog_bytes(),
        "mem_total_replication_buffers": server.replication.backlog_bytes() + server.replication.replica_buffer_bytes(),
        "mem_clients_slaves": server.replication.replica_buffer_bytes(),
        "mem_clients_normal": 0,
        "mem_cluster_links": 0,
        "mem_aof_buffer": 0,
        "mem_allocator": "pymalloc",
        "active_defrag_running": 0,
        "lazyfree_pending_objects": 0,
        "lazyfreed_objects": 0,
    }


def _persistence(server) -> dict[str, object]:
    snap = server.snapshots
    running = snap.in_progress
    fields: dict[str, object] = {
        "loading": int(snap.loading),
        "async_loading": 0,
        "current_cow_peak": 0,
        "current_cow_size": 0,
        "current_cow_size_age": 0,
        "current_fork_perc": "0.00",
        "current_save_keys_processed": 0,
        "current_save_keys_total": 0,
        "rdb_changes_since_last_save": snap.changes_since_save,
        "rdb_bgsave_in_progress": int(running),
        "rdb_last_save_time": snap.last_save_time,
        "rdb_last_bgsave_status": "ok" if snap.last_bgsave_ok else "err",
        "rdb_last_bgsave_time_sec": snap.last_bgsave_seconds,
        "rdb_current_bgsave_time_sec": int(time.monotonic() - snap.child_started) if running else -1,
        "rdb_saves": snap.saves,
        "rdb_last_cow_size": 0,
        "rdb_last_load_keys_expired": snap.last_load.keys_expired,
        "rdb_last_load_keys_loaded": snap.last_load.keys_loaded,
        **server.aof.info_fields(),
        "module_fork_in_progress": 0,
        "module_fork_last_cow_size": 0,
        **server.aof.info_extra_fields(),  # only with appendonly yes, as Redis
    }
    if snap.loading:
        elapsed = max(time.time() - snap.loading_started, 1e-9)
        done, total = snap.loading_done, snap.loading_total
        rate = done / elapsed
        fields.update({
            "loading_start_time": snap.loading_started,
            "loading_total_bytes": total,
            "loading_rdb_used_mem": 0,
            "loading_loaded_bytes": done,
            "loading_loaded_perc": f"{100 * done / max(total, 1):.2f}",
            "loading_eta_seconds": int((total - done) / rate) if rate else 1,
        })  # fmt: skip
    return fields


def _stats(server) -> dict[str, object]:
    st = server.stats
    ops, in_kbps, out_kbps = st.instantaneous()
    dbs = server.keyspace.dbs
    return {
        "total_connections_received": st.total_connections_received,
        "total_commands_processed": st.commands_processed,
        "instantaneous_ops_per_sec": ops,
        "total_net_input_bytes": st.net_input_bytes,
        "total_net_output_bytes": st.net_output_bytes,
        "total_net_repl_input_bytes": st.net_repl_input_bytes,
        "total_net_repl_output_bytes": st.net_repl_output_bytes,
        "instantaneous_input_kbps": f"{in_kbps:.2f}",
        "instantaneous_output_kbps": f"{out_kbps:.2f}",
        "instantaneous_input_repl_kbps": "0.00",
        "instantaneous_output_repl_kbps": "0.00",
        "rejected_connections": st.rejected_connections,
        "sync_full": st.sync_full,
        "sync_partial_ok": st.sync_partial_ok,
        "sync_partial_err": st.sync_partial_err,
        "expired_keys": sum(db.expired_keys for db in dbs),
        "expired_stale_perc": "0.00",
        "expired_time_cap_reached_count": 0,
        "expire_cycle_cpu_milliseconds": 0,
        "evicted_keys": server.evictor.evicted_keys,
        "evicted_clients": 0,
        "total_eviction_exceeded_time": 0,
        "current_eviction_exceeded_time": 0,
        "keyspace_hits": sum(db.hits for db in dbs),
        "keyspace_misses": sum(db.misses for db in dbs),
        "pubsub_channels": len(server.pubsub.channels),
        "pubsub_patterns": len(server.pubsub.patterns),
        "pubsubshard_channels": len(server.pubsub.shard_channels),
        "latest_fork_usec": 0,
        "total_forks": 0,
        "migrate_cached_sockets": 0,
        "slave_expires_tracked_keys": 0,
        "active_defrag_hits": 0,
        "active_defrag_misses": 0,
        "active_defrag_key_hits": 0,
        "active_defrag_key_misses": 0,
        "total_active_defrag_time": 0,
        "current_active_defrag_time": 0,
        "tracking_total_keys": 0,
        "tracking_total_items": 0,
        "tracking_total_prefixes": 0,
        "unexpected_error_replies": 0,
        "total_error_replies": sum(server.error_counts.values()),
        "dump_payload_sanitizations": 0,
        "total_reads_processed": 0,
        "total_writes_processed": 0,
        "io_threaded_reads_processed": 0,
        "io_threaded_writes_processed": 0,
        "reply_buffer_shrinks": 0,
        "reply_buffer_expands": 0,
    }


def _replication(server) -> dict[str, object]:
    return server.replication.info_fields()


def _cpu(server) -> dict[str, object]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "used_cpu_sys": f"{me.ru_stime:.6f}",
        "used_cpu_user": f"{me.ru_utime:.6f}",
        "used_cpu_sys_children": f"{kids.ru_stime:.6f}",
        "used_cpu_user_children": f"{kids.ru_utime:.6f}",
        "used_cpu_sys_main_thread": f"{me.ru_stime:.6f}",
        "used_cpu_user_main_thread": f"{me.ru_utime:.6f}",
    }


def _modules(server) -> dict[str, object]:
    return {"module": info_modules_line()}


def _errorstats(server) -> dict[str, object]:
    return {f"errorstat_{name}": f"count={n}" for name, n in sorted(server.error_counts.items())}


def _cluster(server) -> dict[str, object]:
    return {"cluster_enabled": 0}


#: avg_ttl looks at this many keys with a TTL at most (Redis also estimates it by sampling).
AVG_TTL_SAMPLE = 1000


def average_ttl(db, now_ms: int) -> int:
    """Mean remaining time to live, in ms, of keys with a TTL (0 when there are none)."""
    total = count = 0
    for when in itertools.islice(db.expires.values(), AVG_TTL_SAMPLE):
        if when > now_ms:
            total += when - now_ms
            count += 1
    return total // count if count else 0


def _keyspace(server) -> dict[str, object]:
    out: dict[str, object] = {}
    now_ms = time.time_ns() // 1_000_000
    for db in server.keyspace.dbs:
        if len(db):
            out[f"db{db.index}"] = (
                f"keys={len(db)},expires={len(db.expires)},avg_ttl={average_ttl(db, now_ms)}"
            )
    return out


def _commandstats(server) -> dict[str, object]:
    out: dict[str, object] = {}

    def add(spec: CommandSpec) -> None:
        if spec.calls or spec.rejected_calls or spec.failed_calls:
            per_call = spec.usec / spec.calls if spec.calls else 0.0
            out[f"cmdstat_{spec.name}"] = (
                f"calls={spec.calls},usec={spec.usec},usec_per_call={per_call:.2f},"
                f"rejected_calls={spec.rejected_calls},failed_calls={spec.failed_calls}"
            )
        for child in spec.subcommands.values():
            add(child)

    for spec in COMMANDS.values():
        add(spec)
    return out


def _latencystats(server) -> dict[str, object]:
    return {}


SECTIONS: dict[str, Callable[..., dict[str, object]]] = {
    "server": _server,
    "clients": _clients,
    "memory": _memory,
    "persistence": _persistence,
    "stats": _stats,
    "replication": _replication,
    "cpu": _cpu,
    "modules": _modules,
    "errorstats": _errorstats,
    "cluster": _cluster,
    "keyspace": _keyspace,
    "commandstats": _commandstats,
    "latencystats": _latencystats,
}

#: Other families (search, replication) may add or replace sections here.
EXTRA_SECTIONS: dict[str, Callable[..., dict[str, object]]] = {}


def render_info(server, requested: list[str]) -> str:
    names: list[str] = []
    for raw in requested or ["default"]:
        name = raw.lower()
        if name == "default":
            names += DEFAULT_SECTIONS
        elif name == "all":
            names += ALL_SECTIONS
        elif name == "everything":
            names += ALL_SECTIONS + tuple(EXTRA_SECTIONS)
        else:
            names.append(name)
    seen: list[str] = []
    for name in names:
        if name not in seen and (name in SECTIONS or name in EXTRA_SECTIONS):
            seen.append(name)
    blocks = []
    for name in seen:
        fields = (EXTRA_SECTIONS.get(name) or SECTIONS[name])(server)
        title = "CPU" if name == "cpu" else name.capitalize()
        lines = [f"# {title}"] + [f"{k}:{v}" for k, v in fields.items()]
        blocks.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(blocks)


@cmd("info", -1, "loading stale", acl="@dangerous", summary="Returns information and statistics about the server.")
def info(client, args):
    text = render_info(client.server, [a.decode(errors="replace") for a in args[1:]])
    return Verbatim(text) if client.resp == 3 else text.encode()
