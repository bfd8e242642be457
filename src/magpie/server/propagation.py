"""The propagation log: the effects of writes, in the deterministic form replicas and the
AOF must replay.

The dispatcher feeds each write command once it has changed the dataset, either as sent or
as the handler rewrote it (relative expiry -> PXAT, INCRBYFLOAT -> SET KEEPTTL, ...); the
data layer feeds ``DEL`` for keys it expires. A ``SELECT`` is emitted whenever the database
changes. With no consumer attached the cost of a feed is one truth test.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

Consumer = Callable[[list[bytes]], None]
#: Propagation targets (Redis's PROPAGATE_AOF, PROPAGATE_REPL).
TO_AOF, TO_REPLICAS, TO_ALL = 1, 2, 3


class PropagationLog:
    def __init__(self) -> None:
        self.consumers: list[Consumer] = []
        #: The consumers that also get what only replicas see (PUBLISH): replication's.
        self.replica_consumers: list[Consumer] = []
        self.recent: deque[list[bytes]] | None = None  # DEBUG's record of the stream, for tests
        self._db = -1
        self._held: list[tuple[int, list[bytes], int]] | None = None
        self._depth = 0  # nested transactions (a script inside EXEC) go out as one
        #: Where fed entries go (a script's redis.set_repl): TO_AOF | TO_REPLICAS.
        self.targets = TO_ALL
        #: True when anything reads the log; writes then take the dispatcher's full path.
        self.active = False
        self.on_change: Callable[[], None] = lambda: None

    def _refresh(self) -> None:
        self.active = bool(self.consumers) or self.recent is not None
        self.on_change()

    def attach(self, consumer: Consumer, replicas: bool = False) -> None:
        """``replicas``: the consumer is the replication stream (it also gets PUBLISH)."""
        self.consumers.append(consumer)
        if replicas:
            self.replica_consumers.append(consumer)
        self._db = -1  # a new consumer must see a SELECT first
        self._refresh()

    def detach(self, consumer: Consumer) -> None:
        self.consumers.remove(consumer)
        if consumer in self.replica_consumers:
            self.replica_consumers.remove(consumer)
        self._refresh()

    @property
    def in_transaction(self) -> bool:
        """True while EXEC runs (its effects are held): no new AOF file may start now."""
        return self._held is not None

    @property
    def stream_db(self) -> int:
        """The database the stream is in now (-1: the next entry starts with a SELECT)."""
        return self._db

    def reselect(self) -> None:
        """The next entry goes out after a SELECT (a consumer started a new file)."""
        self._db = -1

    def begin_transaction(self) -> None:
        """EXEC or a script starts: hold what its commands propagate until
        ``end_transaction``. Nested ones (a script in EXEC) are part of the outer one."""
        self._depth += 1
        if self._held is None:
            self._held = []

    def end_transaction(self) -> None:
        """Several effects go out wrapped in MULTI/EXEC, one goes out alone."""
        self._depth -= 1
        if self._depth:
            return
        held, self._held = self._held, None
        if not held:
            return
        if len(held) > 1:
            self.feed(held[0][0], [b"MULTI"])
        for db_index, argv, targets in held:
            if targets == TO_ALL:
                self.feed(db_index, argv)
            elif targets == TO_REPLICAS:
                self.feed_replicas(db_index, argv)
            else:
                self._feed_aof(db_index, argv)
        if len(held) > 1:
            self.feed(held[-1][0], [b"EXEC"])

    def feed(self, db_index: int, argv: list[bytes]) -> None:
        if not self.active:
            return
        if self._held is not None:
            if self.targets:
                self._held.append((db_index, argv, self.targets))
            return
        if db_index != self._db:
            self._select(db_index)
        if self.recent is not None:  # (_emit inlined: this runs for every write)
            self.recent.append(argv)
        for consumer in self.consumers:
            consumer(argv)

    def feed_replicas(self, db_index: int, argv: list[bytes]) -> None:
        """An effect only replicas get (PUBLISH, which Redis replicates and does not log)."""
        if not self.replica_consumers:
            return
        if self._held is not None:
            self._held.append((db_index, argv, TO_REPLICAS))
            return
        if db_index != self._db:
            self._select(db_index)
        for consumer in self.replica_consumers:
            consumer(argv)

    def _feed_aof(self, db_index: int, argv: list[bytes]) -> None:
        """An effect only the AOF gets (a script's redis.set_repl(redis.REPL_AOF))."""
        if db_index != self._db:
            self._select(db_index)
        for consumer in self.consumers:
            if consumer not in self.replica_consumers:
                consumer(argv)

    def _select(self, db_index: int) -> None:
        """The stream moves to another database: every consumer gets the SELECT."""
        self._db = db_index
        self._emit([b"SELECT", str(db_index).encode()])

    def _emit(self, argv: list[bytes]) -> None:
        if self.recent is not None:
            self.recent.append(argv)
        for consumer in self.consumers:
            consumer(argv)

    def record(self, enabled: bool, size: int = 10000) -> None:
        """Start (or stop) keeping the latest entries; restarting re-emits SELECT."""
        self.recent = deque(maxlen=size) if enabled else None
        self._db = -1
        self._refresh()
