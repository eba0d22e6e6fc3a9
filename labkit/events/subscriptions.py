"""Pull subscriptions: read the event table after a checkpoint, hand batches to a handler, save the checkpoint.

The checkpoint lives in the handler's database (table `subscription_checkpoints`) and is saved in the same
DuckDB transaction as the handler's writes: a crash before the commit loses both, a crash after keeps both, so
each event's effect is applied exactly once and a restart resumes where the last commit left off. The source can
be any object with `read_all(after_position=, limit=)`: an EventStore in this process, or an HTTP event feed.

Handlers whose effects cannot join that transaction (an HTTP call, an append to another event store) are
delivered each event at least once; they make it harmless with `ProcessedEvents` (ids seen, kept with their own
writes) or by appending with `derived_event_id` (the event store then skips the repeat).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Protocol

import duckdb

from labkit.events import inputs
from labkit.events.checkpoints import create_checkpoints_table, read_checkpoint, save_checkpoint
from labkit.events.codec import utc_now
from labkit.events.event import RecordedEvent
from labkit.events.store import EventStore

PROCESSED_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS processed_events (
    consumer VARCHAR NOT NULL,
    event_id UUID    NOT NULL,
    PRIMARY KEY (consumer, event_id)
)
"""


class EventSource(Protocol):
    """Where a subscriber pulls events from."""

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]: ...


# A handler gets a batch and the open connection of the subscriber's transaction, and writes with that connection.
ConnectionHandler = Callable[[Sequence[RecordedEvent], duckdb.DuckDBPyConnection], None]


# One lock per plain connection, shared by every subscriber writing through it: a DuckDB connection runs one call
# at a time and refuses a second one from another thread (ResourceInUseException) instead of waiting for it.
_CONNECTION_LOCKS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, threading.RLock] = weakref.WeakKeyDictionary()
_CONNECTION_LOCKS_GUARD = threading.Lock()


def connection_lock(connection: duckdb.DuckDBPyConnection) -> threading.RLock:
    """The lock every subscriber in this process takes around its transaction on `connection`."""
    with _CONNECTION_LOCKS_GUARD:
        lock = _CONNECTION_LOCKS.get(connection)
        if lock is None:
            lock = _CONNECTION_LOCKS[connection] = threading.RLock()
        return lock


class Database:
    """A DuckDB connection with a lock and a transaction block (an EventStore's, or a plain connection's)."""

    def __init__(self, target: EventStore | duckdb.DuckDBPyConnection) -> None:
        self.store = target if isinstance(target, EventStore) else None
        self.connection = target.connection if isinstance(target, EventStore) else target
        self._lock = connection_lock(self.connection)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.store is not None:
            with self.store.transaction() as connection:
                yield connection
            return
        with self._lock:
            self.connection.execute("BEGIN TRANSACTION")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")


class Subscription:
    """A named pull subscriber whose checkpoint is committed with its handler's writes.

    >>> from labkit.domain import Order
    >>> from labkit.events import Repository
    >>> store = EventStore(":memory:")
    >>> Repository(store).save(Order.place("order-101", "customer-7", 250)).version
    1
    >>> def count_orders(events, connection):
    ...     connection.execute("CREATE TABLE IF NOT EXISTS placed (n INTEGER)")
    ...     connection.execute("INSERT INTO placed VALUES (?)", [len(events)])
    >>> subscription = Subscription("order-counter", store, store, count_orders)
    >>> subscription.run(), subscription.position
    (1, 1)
    """

    def __init__(
        self,
        name: str,
        source: EventSource,
        target: EventStore | duckdb.DuckDBPyConnection,
        handler: ConnectionHandler,
        *,
        batch_size: int = 500,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.name, self.source, self.handler, self.clock = inputs.text(name, "name"), source, handler, clock
        self.batch_size = inputs.whole(batch_size, "batch_size", minimum=1)
        self.database = Database(target)
        with self.database.transaction() as connection:
            create_checkpoints_table(connection)

    @property
    def position(self) -> int:
        """The checkpoint: every event up to this position has been handled and committed."""
        with self.database.transaction() as connection:
            return read_checkpoint(connection, self.name)

    def poll(self) -> int:
        """Handle one batch after the checkpoint; how many events it handled (0: caught up)."""
        events = self.source.read_all(after_position=self.position, limit=self.batch_size)
        if not events:
            return 0
        with self.database.transaction() as connection:
            if read_checkpoint(connection, self.name) >= events[0].position:
                return 0  # another runner of this subscription committed these events meanwhile
            self.handler(events, connection)
            save_checkpoint(connection, self.name, events[-1].position, at=self.clock())
        return len(events)

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        follow: bool = False,
        idle_seconds: float = 0.05,
        max_events: int | None = None,
    ) -> int:
        """Poll until caught up (or, with `follow`, until `stop` is set); how many events were handled.

        Following a source with `wait_for_news` (the PostgreSQL store), an idle subscriber sleeps until the next append
        commits, `idle_seconds` at most, instead of polling."""
        # A source that announces appends (PostgreSQL's LISTEN/NOTIFY) wakes the subscriber at once; others are
        # polled every `idle_seconds`.
        wait_for_news = getattr(self.source, "wait_for_news", None) if follow else None
        if wait_for_news is not None:
            self.source.listen()  # type: ignore[attr-defined]  # before the first poll, so no news falls between
        handled = 0
        while not (stop is not None and stop.is_set()):
            if max_events is not None and handled >= max_events:
                break
            count = self.poll()
            handled += count
            if count == 0:
                if not follow:
                    break
                if wait_for_news is not None:
                    wait_for_news(idle_seconds)
                else:
                    time.sleep(idle_seconds)
        return handled

    def lag(self) -> int:
        """How many positions the checkpoint is behind the source's head (sources with `head_position`)."""
        head = getattr(self.source, "head_position", None)
        if head is None:
            raise TypeError(f"{type(self.source).__name__} has no head_position(): lag is unknown")
        return max(0, head() - self.position)


class ProcessedEvents:
    """Ids of the events a consumer has handled, in the consumer's own database: its duplicate filter.

    Call `unseen(events, connection)` and `record(events, connection)` inside the transaction of the consumer's
    writes, so an event is marked handled exactly when its effects are committed.
    """

    def __init__(self, consumer: str, connection: duckdb.DuckDBPyConnection) -> None:
        self.consumer = consumer
        connection.execute(PROCESSED_TABLE_SQL)

    def unseen(self, events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> list[RecordedEvent]:
        """The events not handled before (and each only once, if a batch repeats one)."""
        if not events:
            return []
        marks = ", ".join("?" * len(events))
        seen = {
            row[0]
            for row in connection.execute(
                f"SELECT event_id FROM processed_events WHERE consumer = ? AND event_id IN ({marks})",
                [self.consumer, *(e.event_id for e in events)],
            ).fetchall()
        }
        fresh = []
        for event in events:
            if event.event_id not in seen:
                seen.add(event.event_id)
                fresh.append(event)
        return fresh

    def record(self, events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        """Mark events as handled (in the caller's transaction)."""
        if events:
            values = ", ".join(["(?, ?)"] * len(events))
            params = [v for e in events for v in (self.consumer, e.event_id)]
            connection.execute(f"INSERT OR IGNORE INTO processed_events VALUES {values}", params)
