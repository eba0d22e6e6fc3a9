"""`CustomerOrdersView`: the read model in its own DuckDB database, fed by one pull subscription per event source.

Each source (a service's event feed, or an EventStore) gets a `Subscription` named "customer_orders_view:<name>"
whose checkpoint is committed with the view's writes. `catch_up()` polls every source until none has news;
`bulk_catch_up(name)` does the same for sources that can export event rows as Arrow (millions of events in SQL
instead of one Python object per event), committing the checkpoint with each chunk just the same.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
from tqdm.auto import tqdm

from labkit.events import EventSource, EventStore, Subscription
from labkit.events.checkpoints import read_checkpoint, save_checkpoint
from labkit.views import customer_orders
from labkit.views.errors import ViewError

# Events exported per transaction by `bulk_catch_up`: large enough to amortize each commit, small enough to
# keep memory flat at 10M orders.
BULK_CHUNK_POSITIONS = 2_000_000


class EventFeed(EventSource, Protocol):
    """A source whose head is known, so lag can be measured."""

    def head_position(self) -> int: ...


class EventExport(EventFeed, Protocol):
    """A source that can also export a range of its events as rows shaped like the event table."""

    def export_events(
        self, *, after_position: int, up_to_position: int, event_types: Sequence[str] | None = None
    ) -> pa.Table: ...


def export_events(
    store: EventStore, *, after_position: int, up_to_position: int, event_types: Sequence[str] | None = None
) -> pa.Table:
    """Events in positions (after_position, up_to_position] of a store as Arrow rows (event_data as JSON text)."""
    where, params = "position > ? AND position <= ?", [after_position, up_to_position]
    if event_types:
        where += f" AND event_type IN ({', '.join('?' * len(event_types))})"
        params += list(event_types)
    with store.transaction() as connection:
        return connection.sql(
            f"""SELECT position, aggregate_id, aggregate_type, version, event_type,
                       event_data::VARCHAR AS event_data, recorded_at
                FROM events WHERE {where} ORDER BY position""",
            params=params,
        ).to_arrow_table()


class CustomerOrdersView:
    """The `customer_orders_view` read model in a DuckDB file (or in memory), fed by pull subscriptions.

    One thread writes (`catch_up`, `bulk_catch_up`, `run`); queries use their own cursor, so they can run from
    another thread while it does.
    """

    def __init__(self, database: str | Path = ":memory:", *, batch_size: int = 1000) -> None:
        path = None if str(database) == ":memory:" else Path(database)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = duckdb.connect(str(path) if path else ":memory:")
        customer_orders.run(self._connection, "SET enable_progress_bar = false")
        self.batch_size = batch_size
        self.subscriptions: dict[str, Subscription] = {}
        self._sources: dict[str, EventFeed] = {}
        self._write_lock = threading.RLock()
        with self._write_lock:
            customer_orders.create_tables(self._connection)

    def close(self) -> None:
        """Close the view's database."""
        self._connection.close()

    def __enter__(self) -> CustomerOrdersView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- feeding --------------------------------------------------------------------------------------------------

    def subscribe(self, name: str, source: EventFeed) -> Subscription:
        """Follow `source` under a subscription named "customer_orders_view:<name>" (resuming its checkpoint)."""
        subscription = Subscription(
            f"{customer_orders.VIEW_TABLE}:{name}",
            source,
            self._connection,
            customer_orders.handle,
            batch_size=self.batch_size,
        )
        self.subscriptions[name] = subscription
        self._sources[name] = source
        return subscription

    def catch_up(self, *, max_events: int | None = None) -> int:
        """Poll every source until none has news (or `max_events` were handled); how many events were handled."""
        handled = 0
        with self._write_lock:
            while max_events is None or handled < max_events:
                batch = sum(subscription.poll() for subscription in self.subscriptions.values())
                handled += batch
                if batch == 0:
                    break
        return handled

    def run(self, stop: threading.Event, *, idle_seconds: float = 0.02) -> int:
        """Keep catching up until `stop` is set, sleeping `idle_seconds` when there is no news."""
        handled = 0
        while not stop.is_set():
            batch = self.catch_up(max_events=self.batch_size * max(1, len(self.subscriptions)))
            handled += batch
            if batch == 0:
                stop.wait(idle_seconds)
        return handled

    def bulk_catch_up(self, name: str, *, progress: bool = False, compact: bool = True) -> int:
        """Catch up source `name` (an EventExport) in chunks of event rows applied in SQL, each chunk committed
        with its checkpoint; then, with `compact`, rewrite the view for fast queries. How many events applied."""
        source = self._sources.get(name)
        if source is None:
            raise ViewError(
                f"no source named {name!r}; subscribe it first (known: {', '.join(self._sources) or 'none'})"
            )
        if not hasattr(source, "export_events"):
            raise ViewError(f"source {name!r} ({type(source).__name__}) cannot export events; use catch_up()")
        subscription = self.subscriptions[name]
        head = source.head_position()
        start = self.checkpoint(name)
        applied = 0
        with (
            self._write_lock,
            tqdm(total=head - start, disable=not progress, unit="event", desc=f"view <- {name}") as bar,
        ):
            for low in range(start, head, BULK_CHUNK_POSITIONS):
                high = min(low + BULK_CHUNK_POSITIONS, head)
                rows = source.export_events(
                    after_position=low, up_to_position=high, event_types=customer_orders.VIEW_EVENT_TYPES
                )
                with subscription.database.transaction() as connection:
                    applied += customer_orders.apply_event_rows(connection, rows)
                    # The same checkpoint Subscription.poll keeps, in the same transaction as the view's rows.
                    save_checkpoint(connection, subscription.name, high)
                bar.update(high - low)
            if compact:
                with subscription.database.transaction() as connection:
                    customer_orders.compact(connection)
        return applied

    # ---- lag --------------------------------------------------------------------------------------------------------

    def checkpoint(self, name: str) -> int:
        """The position up to which source `name` is applied (read with its own cursor: safe from any thread)."""
        cursor = self._connection.cursor()
        try:
            return read_checkpoint(cursor, self.subscriptions[name].name)
        finally:
            cursor.close()

    def lag(self) -> dict[str, int]:
        """Events each source holds that the view has not applied yet."""
        return {name: max(0, source.head_position() - self.checkpoint(name)) for name, source in self._sources.items()}

    def lag_seconds(self, now: datetime | None = None) -> float:
        """Age of the oldest event not applied yet, over all sources (0.0 when caught up)."""
        now = now or datetime.now(UTC)
        oldest: datetime | None = None
        for name, source in self._sources.items():
            pending = source.read_all(after_position=self.checkpoint(name), limit=1)
            if pending and (oldest is None or pending[0].recorded_at < oldest):
                oldest = pending[0].recorded_at
        return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0

    def wait_until_caught_up(self, timeout: float = 10.0) -> None:
        """Block until every source's lag is 0 (another thread runs the view); ViewError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while any(self.lag().values()):
            if time.monotonic() > deadline:
                raise ViewError(f"the view is still behind after {timeout} s: lag {self.lag()}; is a runner started?")
            time.sleep(0.005)

    # ---- queries ----------------------------------------------------------------------------------------------------

    def recent_valuable_customers(self, threshold: object, created_after: object) -> pa.Table:
        """The query, answered by one SQL statement over the view."""
        cursor = self._connection.cursor()
        try:
            return customer_orders.recent_valuable_customers(cursor, threshold, created_after)
        finally:
            cursor.close()

    def orders_of_customer(self, customer_id: str) -> pa.Table:
        """One customer's orders, newest first."""
        cursor = self._connection.cursor()
        try:
            return customer_orders.orders_of_customer(cursor, customer_id)
        finally:
            cursor.close()

    def row_count(self) -> int:
        """How many orders the view holds."""
        cursor = self._connection.cursor()
        try:
            return customer_orders.row_count(cursor)
        finally:
            cursor.close()
