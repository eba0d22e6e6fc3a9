"""Read models. `customer_orders_view`: every order with its customer's name and creation time, for queries that
span the Customer and Order services ("find recent, valuable customers", a customer's order history).

Stable API (reused by the CQRS projections of labkit.patterns and the order-history service):

Functions over a DuckDB connection (pass the connection of your own transaction; the view's writes and your
checkpoint then commit together):
    `create_tables(connection)`: the view's tables and indexes (idempotent).
    `handle(events, connection)`: a `labkit.events.Subscription` handler (BatchHandler) applying Customer and
        Order events; other event types are ignored. Idempotent per order (a repeated batch changes nothing);
        customer and order events may come from two sources in any relative order.
    `apply_event_rows(connection, arrow_rows)`: the same from Arrow rows shaped like the event table (position,
        aggregate_id, event_type, event_data JSON text, recorded_at): the bulk path, vectorized in SQL.
    `clear(connection)`: empty the view before a rebuild (resetting checkpoints is the caller's part).
    `compact(connection)`: rewrite it ordered by (state, total) so the query skips most row groups.
    `recent_valuable_customers(connection, threshold, created_after)`: orders SHIPPED with a total above
        `threshold` of customers created after `created_after` (both strict), as a pyarrow Table with
        ANSWER_SCHEMA, ordered by customer_id, order_id.
    `orders_of_customer(connection, customer_id)`: one customer's orders, newest first.
    Tables: VIEW_TABLE ("customer_orders_view": order_id, customer_id, order_total, order_state,
        order_created_at, order_updated_at, order_position, customer_name, customer_created_at) and CUSTOMERS_TABLE.
    VIEW_EVENT_TYPES: the event types it reads; ORDER_STATE_AFTER: Order event type -> the state it leaves.

`CustomerOrdersView(path | ":memory:")`: the view in its own DuckDB database. `subscribe(name, source)` (a
    Subscription named "customer_orders_view:<name>"), `catch_up()`, `run(stop)` (follow in a thread),
    `bulk_catch_up(name)` (sources with `export_events`), `lag()` (events behind, per source), `lag_seconds()`,
    `checkpoint(name)`, `wait_until_caught_up()`, and the two queries.
`export_events(store, after_position=, up_to_position=, event_types=)`: an EventStore's events as Arrow rows.

Parameters: `order_threshold(value)` (a number, or a numeric string) and `creation_cutoff(value)` (datetime, date
or ISO 8601 string; naive UTC out) raise `QueryParameterError` (a `UsageError`) naming the parameter.
"""

from labkit.views.customer_orders import (
    ANSWER_ORDER,
    ANSWER_SCHEMA,
    CUSTOMERS_TABLE,
    ORDER_STATE_AFTER,
    VIEW_EVENT_TYPES,
    VIEW_TABLE,
    apply_event_rows,
    clear,
    compact,
    create_tables,
    handle,
    orders_of_customer,
    recent_valuable_customers,
)
from labkit.views.errors import QueryParameterError, ViewError
from labkit.views.parameters import creation_cutoff, order_threshold
from labkit.views.read_model import CustomerOrdersView, EventExport, EventFeed, export_events

__all__ = [
    "ANSWER_ORDER",
    "ANSWER_SCHEMA",
    "CUSTOMERS_TABLE",
    "ORDER_STATE_AFTER",
    "VIEW_EVENT_TYPES",
    "VIEW_TABLE",
    "CustomerOrdersView",
    "EventExport",
    "EventFeed",
    "QueryParameterError",
    "ViewError",
    "apply_event_rows",
    "clear",
    "compact",
    "create_tables",
    "creation_cutoff",
    "export_events",
    "handle",
    "order_threshold",
    "orders_of_customer",
    "recent_valuable_customers",
]
