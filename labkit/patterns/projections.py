"""The read models of the CQRS notebook: orders per customer, revenue per day, and the customer orders view.

Each projection can be fed two ways, and both must give the same table:
- `apply(events, connection)`: incremental, a batch handler for a pull subscriber (set-based SQL over the batch);
- `rebuild(store, up_to_position, connection)`: from position zero in one pass of vectorized SQL over the event
  table (the aggregate's `state_sql` replay where the projection is a function of current state).
Both write unqualified table names with the connection they are given: the runner points that connection at the
schema of the generation being built (`SET schema`), so a rebuild fills new tables next to the live ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import duckdb
import pyarrow as pa

from labkit.domain import Order
from labkit.events import EventStore, RecordedEvent, state_sql
from labkit.events.codec import to_utc_naive
from labkit.events.replay import events_sql
from labkit.views import customer_orders
from labkit.views.read_model import export_events

# Positions exported per chunk when a projection rebuilds from event rows (bounded memory at 10M events).
REBUILD_CHUNK_POSITIONS = 1_000_000


class Projection(Protocol):
    """A read model: its tables, how to create them, apply a batch, and rebuild from the event table."""

    name: str
    tables: tuple[str, ...]  # what readers query (the runner publishes each in the main schema)

    def create(self, connection: duckdb.DuckDBPyConnection) -> None: ...

    def apply(self, events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None: ...

    def rebuild(self, store: EventStore, up_to_position: int, connection: duckdb.DuckDBPyConnection) -> None: ...


def _order_rows(events: Sequence[RecordedEvent]) -> pa.Table:
    """OrderCreated and OrderShipped events of a batch as typed columns."""
    rows = [e for e in events if e.event_type in ("OrderCreated", "OrderShipped")]
    return pa.table(
        {
            "order_id": pa.array([e.aggregate_id for e in rows], pa.string()),
            "event_type": pa.array([e.event_type for e in rows], pa.string()),
            "customer_id": pa.array([e.event_data.get("customer_id") for e in rows], pa.string()),
            "order_total": pa.array([e.event_data.get("order_total") for e in rows], pa.int64()),
            "recorded_at": pa.array([to_utc_naive(e.recorded_at) for e in rows], pa.timestamp("us")),
        }
    )


class OrdersPerCustomer:
    """How many orders each customer placed, and their total (from OrderCreated)."""

    name = "orders_per_customer"
    tables = ("orders_per_customer",)

    def create(self, connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute(
            """CREATE TABLE IF NOT EXISTS orders_per_customer (
                   customer_id   VARCHAR PRIMARY KEY,
                   orders        BIGINT  NOT NULL,
                   ordered_total BIGINT  NOT NULL  -- whole currency units
               )"""
        )

    def apply(self, events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        _run_over(
            connection,
            _order_rows(events),
            """INSERT INTO orders_per_customer
               SELECT customer_id, count(*), sum(order_total) FROM projection_batch
               WHERE event_type = 'OrderCreated' GROUP BY customer_id
               ON CONFLICT (customer_id) DO UPDATE
               SET orders = orders + excluded.orders, ordered_total = ordered_total + excluded.ordered_total""",
        )

    def rebuild(self, store: EventStore, up_to_position: int, connection: duckdb.DuckDBPyConnection) -> None:
        """From the vectorized replay of every Order (its state as of `up_to_position`)."""
        with store.transaction() as source:
            counts = source.sql(
                f"""SELECT customer_id, count(*)::BIGINT AS orders, sum(order_total)::BIGINT AS ordered_total
                    FROM ({state_sql(Order, up_to_position=up_to_position)}) GROUP BY customer_id"""
            ).to_arrow_table()
        _insert(connection, "orders_per_customer", counts)


class RevenuePerDay:
    """Revenue recognised per day: the totals of the orders shipped that day (UTC), and how many shipped."""

    name = "revenue_per_day"
    tables = ("revenue_per_day",)

    def create(self, connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute(
            """CREATE TABLE IF NOT EXISTS revenue_per_day (
                   day            DATE   PRIMARY KEY,
                   orders_shipped BIGINT NOT NULL,
                   revenue        BIGINT NOT NULL
               )"""
        )
        # OrderShipped carries no total: the projection remembers each order's total from its OrderCreated.
        connection.execute(
            """CREATE TABLE IF NOT EXISTS revenue_per_day_order_totals (
                   order_id    VARCHAR PRIMARY KEY,
                   order_total BIGINT  NOT NULL
               )"""
        )

    def apply(self, events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        _run_over(
            connection,
            _order_rows(events),
            """INSERT INTO revenue_per_day_order_totals
               SELECT order_id, order_total FROM projection_batch WHERE event_type = 'OrderCreated'""",
            """INSERT INTO revenue_per_day
               SELECT s.recorded_at::DATE, count(*), sum(t.order_total)
               FROM projection_batch s JOIN revenue_per_day_order_totals t USING (order_id)
               WHERE s.event_type = 'OrderShipped' GROUP BY 1
               ON CONFLICT (day) DO UPDATE
               SET orders_shipped = orders_shipped + excluded.orders_shipped, revenue = revenue + excluded.revenue""",
        )

    def rebuild(self, store: EventStore, up_to_position: int, connection: duckdb.DuckDBPyConnection) -> None:
        """One pass of SQL over the Order events up to `up_to_position`."""
        events = events_sql("Order", up_to_position=up_to_position)
        with store.transaction() as source:
            totals = source.sql(
                f"""SELECT aggregate_id AS order_id, (event_data->>'order_total')::BIGINT AS order_total
                    FROM {events} WHERE event_type = 'OrderCreated'"""
            ).to_arrow_table()
            days = source.sql(
                f"""SELECT s.recorded_at::DATE AS day, count(*)::BIGINT AS orders_shipped,
                           sum((c.event_data->>'order_total')::BIGINT)::BIGINT AS revenue
                    FROM {events} s JOIN {events} c ON c.aggregate_id = s.aggregate_id AND c.event_type = 'OrderCreated'
                    WHERE s.event_type = 'OrderShipped' GROUP BY 1"""
            ).to_arrow_table()
        _insert(connection, "revenue_per_day_order_totals", totals)
        _insert(connection, "revenue_per_day", days)


class CustomerOrdersViewProjection:
    """The `customer_orders_view` of `labkit.views` (every order with its customer), run as a projection here."""

    name = customer_orders.VIEW_TABLE
    tables = (customer_orders.VIEW_TABLE, customer_orders.CUSTOMERS_TABLE)

    def create(self, connection: duckdb.DuckDBPyConnection) -> None:
        customer_orders.create_tables(connection)

    def apply(self, events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        customer_orders.handle(events, connection)

    def rebuild(self, store: EventStore, up_to_position: int, connection: duckdb.DuckDBPyConnection) -> None:
        """The view's bulk path: event rows exported in chunks, fields extracted and applied in SQL."""
        for low in range(0, up_to_position, REBUILD_CHUNK_POSITIONS):
            rows = export_events(
                store,
                after_position=low,
                up_to_position=min(low + REBUILD_CHUNK_POSITIONS, up_to_position),
                event_types=customer_orders.VIEW_EVENT_TYPES,
            )
            customer_orders.apply_event_rows(connection, rows)


def _run_over(connection: duckdb.DuckDBPyConnection, batch: pa.Table, *statements: str) -> None:
    """Run `statements` with `batch` readable as the table `projection_batch` (nothing to do for an empty batch)."""
    if batch.num_rows == 0:
        return
    connection.register("projection_batch", batch)
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.unregister("projection_batch")


def _insert(connection: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    _run_over(connection, rows, f"INSERT INTO {table} SELECT * FROM projection_batch")


def standard_projections() -> list[Projection]:
    """The three read models of the CQRS notebook."""
    return [OrdersPerCustomer(), RevenuePerDay(), CustomerOrdersViewProjection()]
