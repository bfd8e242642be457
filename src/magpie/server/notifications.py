"""Keyspace notifications (``notify-keyspace-events``): change signals as pub/sub messages.

Every write already reports (db, key, event) to the keyspace's change signals. When
``notify-keyspace-events`` is non-empty the notifier listens there and, for each event
whose class is enabled, publishes ``__keyspace@<db>__:<key>`` -> ``<event>`` (flag K) and
``__keyevent@<db>__:<event>`` -> ``<key>`` (flag E) through the ordinary pub/sub registry,
so pattern subscribers see them too. When the setting is empty the listener is removed,
so a write pays nothing.

Redis passes each event's class explicitly at the call site; Magpie's signals carry only
the event name, so the class comes from the table below (Redis 7.0's names and classes).
Signals that are not Redis events (FLUSHDB's per-key "flushdb", SWAPDB, key None) have no
class and are never published.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from magpie.server.server import Server
    from magpie.store.database import Database

#: Redis 7.0 event name -> class character (see notifyKeyspaceEvent calls in src/*.c).
EVENT_CLASSES: dict[str, str] = {
    # g: generic
    "del": "g", "expire": "g", "persist": "g", "rename_from": "g", "rename_to": "g",
    "copy_to": "g", "move_from": "g", "move_to": "g", "restore": "g",
    # $: string
    "set": "$", "setrange": "$", "incrby": "$", "incrbyfloat": "$", "append": "$", "setbit": "$",
    # l: list
    "lpush": "l", "rpush": "l", "lpop": "l", "rpop": "l", "linsert": "l", "lset": "l",
    "lrem": "l", "ltrim": "l", "sortstore": "l",
    # s: set
    "sadd": "s", "srem": "s", "spop": "s", "sinterstore": "s", "sunionstore": "s", "sdiffstore": "s",
    # h: hash
    "hset": "h", "hdel": "h", "hincrby": "h", "hincrbyfloat": "h",
    # z: sorted set
    "zadd": "z", "zincr": "z", "zrem": "z", "zremrangebyscore": "z", "zremrangebyrank": "z",
    "zremrangebylex": "z", "zpopmin": "z", "zpopmax": "z", "zunionstore": "z", "zinterstore": "z",
    "zdiffstore": "z", "zrangestore": "z",
    # x, e: expired and evicted keys
    "expired": "x", "evicted": "e",
    # t: stream
    "xadd": "t", "xtrim": "t", "xdel": "t", "xsetid": "t", "xgroup-create": "t",
    "xgroup-createconsumer": "t", "xgroup-delconsumer": "t", "xgroup-destroy": "t", "xgroup-setid": "t",
    # n: a key added to the database; m: a read that missed (signalled apart, by Signals.on_miss)
    "new": "n", "keymiss": "m",
}  # fmt: skip

_ALL = "g$lshzxetd"  # what 'A' stands for


def parse_flags(setting: str) -> tuple[frozenset[str], bool, bool]:
    """(enabled classes, K, E) from a canonical ``notify-keyspace-events`` value."""
    classes = set(setting) - {"K", "E", "A"}
    if "A" in setting:
        classes |= set(_ALL)
    return frozenset(classes), "K" in setting, "E" in setting


class KeyspaceNotifier:
    def __init__(self, server: Server) -> None:
        self.server = server
        #: event name -> the name as bytes, for the enabled events only.
        self._events: dict[str, bytes] = {}
        self._keyspace = self._keyevent = False
        self._listening = False

    def configure(self) -> None:
        """Re-read ``notify-keyspace-events``; listen to change signals only when enabled."""
        setting = self.server.config["notify-keyspace-events"]
        classes, self._keyspace, self._keyevent = parse_flags(
            "".join(getattr(setting, "classes", None) or str(setting))
        )
        self._events = {
            name: name.encode() for name, cls in EVENT_CLASSES.items() if cls in classes
        }
        active = bool(self._events) and (self._keyspace or self._keyevent)
        listeners = self.server.keyspace.signals.listeners
        if active and not self._listening:
            listeners.append(self._on_change)
        elif not active and self._listening:
            listeners.remove(self._on_change)
        self._listening = active
        keymiss = self._events.get("keymiss") if active else None
        self.server.keyspace.signals.on_miss = (
            None if keymiss is None else lambda db, key: self.notify(db.index, key, keymiss)
        )

    def _on_change(self, db: Database, key: bytes | None, event: str) -> None:
        name = self._events.get(event)
        if name is None or key is None:
            return
        self.notify(db.index, key, name)

    def notify(self, db_index: int, key: bytes, event: bytes) -> None:
        """Publish one event (already known to be enabled): keyspace first, then keyevent."""
        publish = self.server.pubsub.publish
        if self._keyspace:
            publish(b"__keyspace@%d__:%b" % (db_index, key), event)
        if self._keyevent:
            publish(b"__keyevent@%d__:%b" % (db_index, event), key)
