"""The `customer_orders_view` read model: every order with its customer's name and creation time, in one table.

It is fed by Customer events (CustomerCreated) and Order events (OrderCreated, then each state change), which
may come from two services and arrive in any relative order: an order whose customer is not seen yet is stored
with NULL customer columns and filled in when the customer arrives. Every function here takes the connection of
the caller's transaction, so a pull subscriber commits the view's writes and its checkpoint together.

Applying is idempotent per order: each row remembers the position of the last event applied to it, an order is
inserted once and a state change older than the row is ignored, so a batch delivered twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from labkit.events import RecordedEvent
from labkit.events.codec import to_utc_naive
from labkit.views.parameters import creation_cutoff, order_threshold

VIEW_TABLE = "customer_orders_view"
CUSTOMERS_TABLE = "customer_orders_view_customers"

# The state each Order event leaves the order in (the Order aggregate's transitions, as the view needs them).
ORDER_STATE_AFTER: dict[str, str] = {
    "OrderCreated": "PENDING",
    "OrderApproved": "APPROVED",
    "OrderRejected": "REJECTED",
    "OrderShipped": "SHIPPED",
    "OrderCancelled": "CANCELLED",
}
CUSTOMER_EVENT_TYPES = ("CustomerCreated",)
VIEW_EVENT_TYPES: tuple[str, ...] = CUSTOMER_EVENT_TYPES + tuple(ORDER_STATE_AFTER)

_VIEW_COLUMNS_SQL = """(
        order_id            VARCHAR   NOT NULL,
        customer_id         VARCHAR   NOT NULL,
        order_total         BIGINT    NOT NULL,
        order_state         VARCHAR   NOT NULL,  -- PENDING, APPROVED, REJECTED, SHIPPED, CANCELLED
        order_created_at    TIMESTAMP NOT NULL,  -- UTC
        order_updated_at    TIMESTAMP NOT NULL,
        order_position      BIGINT    NOT NULL,  -- position of the last event applied to this row
        customer_name       VARCHAR,             -- NULL until the customer's CustomerCreated is seen
        customer_created_at TIMESTAMP
    )"""
TABLES_SQL = (
    f"CREATE TABLE IF NOT EXISTS {VIEW_TABLE} {_VIEW_COLUMNS_SQL}",
    f"""CREATE TABLE IF NOT EXISTS {CUSTOMERS_TABLE} (
        customer_id VARCHAR   NOT NULL,
        name        VARCHAR   NOT NULL,
        created_at  TIMESTAMP NOT NULL
    )""",
)
# Index name -> statement. Point lookups by order (state changes) and by customer (order history).
VIEW_INDEXES = {
    f"{VIEW_TABLE}_order_id": f"CREATE UNIQUE INDEX IF NOT EXISTS {VIEW_TABLE}_order_id ON {VIEW_TABLE} (order_id)",
    f"{VIEW_TABLE}_customer_id": f"CREATE INDEX IF NOT EXISTS {VIEW_TABLE}_customer_id ON {VIEW_TABLE} (customer_id)",
}
INDEXES_SQL = (
    *VIEW_INDEXES.values(),
    f"CREATE UNIQUE INDEX IF NOT EXISTS {CUSTOMERS_TABLE}_customer_id ON {CUSTOMERS_TABLE} (customer_id)",
)

# The answer of "find recent, valuable customers", whichever way it is computed: one row per qualifying order.
ANSWER_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("customer_name", pa.string()),
        ("customer_created_at", pa.timestamp("us")),
        ("order_id", pa.string()),
        ("order_total", pa.int64()),
    ]
)
ANSWER_ORDER = ("customer_id", "order_id")

# A batch in typed columns: what the apply statements read (registered as `view_batch`).
BATCH_SCHEMA = pa.schema(
    [
        ("position", pa.int64()),
        ("aggregate_id", pa.string()),
        ("event_type", pa.string()),
        ("customer_id", pa.string()),
        ("order_total", pa.int64()),
        ("name", pa.string()),
        ("recorded_at", pa.timestamp("us")),
    ]
)

_STATE_CASE = "CASE event_type " + " ".join(f"WHEN '{t}' THEN '{s}'" for t, s in ORDER_STATE_AFTER.items()) + " END"
_ORDER_TYPES = ", ".join(f"'{t}'" for t in ORDER_STATE_AFTER)

_APPLY_CUSTOMERS_SQL = (
    """CREATE OR REPLACE TEMP TABLE view_batch_customers AS
        SELECT aggregate_id AS customer_id, arg_min(name, position) AS name, min(recorded_at) AS created_at
        FROM view_batch WHERE event_type = 'CustomerCreated' GROUP BY aggregate_id""",
    f"""INSERT INTO {CUSTOMERS_TABLE}
        SELECT b.* FROM view_batch_customers b ANTI JOIN {CUSTOMERS_TABLE} c USING (customer_id)""",
    # Orders that arrived before their customer get the customer's columns now.
    f"""UPDATE {VIEW_TABLE} AS v SET customer_name = b.name, customer_created_at = b.created_at
        FROM view_batch_customers b
        WHERE v.customer_id = b.customer_id AND v.customer_created_at IS NULL""",
    "DROP TABLE view_batch_customers",
)
_APPLY_ORDERS_SQL = (
    f"""CREATE OR REPLACE TEMP TABLE view_batch_orders AS
        SELECT aggregate_id AS order_id,
               arg_min(customer_id, position) FILTER (WHERE event_type = 'OrderCreated') AS customer_id,
               arg_min(order_total, position) FILTER (WHERE event_type = 'OrderCreated') AS order_total,
               min(recorded_at) FILTER (WHERE event_type = 'OrderCreated') AS created_at,
               arg_max({_STATE_CASE}, position) AS order_state,
               arg_max(recorded_at, position) AS updated_at,
               max(position) AS last_position
        FROM view_batch WHERE event_type IN ({_ORDER_TYPES}) GROUP BY aggregate_id""",
    f"""INSERT INTO {VIEW_TABLE}
        SELECT o.order_id, o.customer_id, o.order_total, o.order_state, o.created_at, o.updated_at,
               o.last_position, c.name, c.created_at
        FROM view_batch_orders o
        LEFT JOIN {CUSTOMERS_TABLE} c USING (customer_id)
        ANTI JOIN {VIEW_TABLE} v USING (order_id)
        WHERE o.created_at IS NOT NULL""",
    f"""UPDATE {VIEW_TABLE} AS v SET order_state = o.order_state, order_updated_at = o.updated_at,
               order_position = o.last_position
        FROM view_batch_orders o
        WHERE v.order_id = o.order_id AND v.order_position < o.last_position""",
    "DROP TABLE view_batch_orders",
)

# The same typed batch from rows shaped like the event table (event_data as JSON text): the bulk path.
_TYPED_FROM_EVENT_ROWS_SQL = f"""
    SELECT position::BIGINT AS position, aggregate_id, event_type,
           json_extract_string(event_data, '$.customer_id') AS customer_id,
           json_extract(event_data, '$.order_total')::BIGINT AS order_total,
           json_extract_string(event_data, '$.name') AS name,
           recorded_at::TIMESTAMP AS recorded_at
    FROM view_event_rows
    WHERE event_type IN ({", ".join(f"'{t}'" for t in VIEW_EVENT_TYPES)})
"""

RECENT_VALUABLE_CUSTOMERS_SQL = f"""
    SELECT customer_id, customer_name, customer_created_at, order_id, order_total
    FROM {VIEW_TABLE}
    WHERE order_state = 'SHIPPED' AND order_total > $threshold AND customer_created_at > $created_after
    ORDER BY customer_id, order_id
"""


def run(connection: duckdb.DuckDBPyConnection, statement: str, params: object = None) -> list[tuple]:
    """Execute one statement and fetch its result, so the connection is free for the next call (DuckDB 2 refuses
    new work on a connection whose last result is unread)."""
    return connection.execute(statement, params).fetchall()


def create_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the view's tables and indexes if they are not there yet."""
    for statement in TABLES_SQL + INDEXES_SQL:
        run(connection, statement)


def clear(connection: duckdb.DuckDBPyConnection) -> None:
    """Empty the view (before a rebuild from position 0); checkpoints are the caller's to reset."""
    run(connection, f"DELETE FROM {VIEW_TABLE}")
    run(connection, f"DELETE FROM {CUSTOMERS_TABLE}")


def typed_batch(events: Sequence[RecordedEvent]) -> pa.Table:
    """The events the view reads, as typed columns (other event types are left out)."""
    columns: dict[str, list] = {name: [] for name in BATCH_SCHEMA.names}
    for event in events:
        if event.event_type not in VIEW_EVENT_TYPES:
            continue
        data = event.event_data
        columns["position"].append(event.position)
        columns["aggregate_id"].append(event.aggregate_id)
        columns["event_type"].append(event.event_type)
        columns["customer_id"].append(data.get("customer_id"))
        columns["order_total"].append(data.get("order_total"))
        columns["name"].append(data.get("name"))
        columns["recorded_at"].append(to_utc_naive(event.recorded_at))
    return pa.table(columns, schema=BATCH_SCHEMA)


def apply_typed(connection: duckdb.DuckDBPyConnection, batch: pa.Table) -> None:
    """Apply a typed batch (BATCH_SCHEMA) to the view, with set-based statements."""
    if batch.num_rows == 0:
        return
    types = set(batch.column("event_type").unique().to_pylist())
    connection.register("view_batch", batch)
    try:
        if types & set(CUSTOMER_EVENT_TYPES):
            for statement in _APPLY_CUSTOMERS_SQL:
                run(connection, statement)
        if types & set(ORDER_STATE_AFTER):
            for statement in _APPLY_ORDERS_SQL:
                run(connection, statement)
    finally:
        connection.unregister("view_batch")


def handle(events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
    """The pull subscriber's handler: apply a batch of Customer and Order events (a `BatchHandler`)."""
    apply_typed(connection, typed_batch(events))


def apply_event_rows(connection: duckdb.DuckDBPyConnection, rows: pa.Table | pa.RecordBatch) -> int:
    """Apply rows shaped like the event table (position, aggregate_id, event_type, event_data JSON text,
    recorded_at), extracting the fields in SQL: the bulk path for catching up millions of events; how many applied."""
    connection.register("view_event_rows", rows)
    try:
        typed = connection.sql(_TYPED_FROM_EVENT_ROWS_SQL).to_arrow_table()
    finally:
        connection.unregister("view_event_rows")
    apply_typed(connection, typed.cast(BATCH_SCHEMA))
    return typed.num_rows


def compact(connection: duckdb.DuckDBPyConnection) -> None:
    """Rewrite the view ordered by (order_state, order_total): each row group then holds a narrow range of
    totals, so DuckDB's min/max zone maps skip most of the table for "SHIPPED and total > X" (call after a bulk
    catch-up; rows added later are appended unordered, which only costs speed)."""
    # A new table swapped in: DuckDB refuses to delete and re-insert the same unique keys in one transaction,
    # and building the indexes once over sorted rows is faster than maintaining them row by row.
    run(connection, f"CREATE TABLE {VIEW_TABLE}_compacted {_VIEW_COLUMNS_SQL}")
    run(
        connection,
        f"INSERT INTO {VIEW_TABLE}_compacted SELECT * FROM {VIEW_TABLE} ORDER BY order_state, order_total",
    )
    run(connection, f"DROP TABLE {VIEW_TABLE}")
    run(connection, f"ALTER TABLE {VIEW_TABLE}_compacted RENAME TO {VIEW_TABLE}")
    for statement in VIEW_INDEXES.values():
        run(connection, statement)


def recent_valuable_customers(
    connection: duckdb.DuckDBPyConnection, threshold: object, created_after: object
) -> pa.Table:
    """Orders SHIPPED with a total above `threshold` of customers created after `created_after`, one SQL statement
    over the view (ANSWER_SCHEMA, ordered by customer_id, order_id)."""
    parameters = {"threshold": order_threshold(threshold), "created_after": creation_cutoff(created_after)}
    return connection.sql(RECENT_VALUABLE_CUSTOMERS_SQL, params=parameters).to_arrow_table().cast(ANSWER_SCHEMA)


def orders_of_customer(connection: duckdb.DuckDBPyConnection, customer_id: str) -> pa.Table:
    """One customer's orders, newest first (order history)."""
    return connection.sql(
        f"""SELECT order_id, order_total, order_state, order_created_at, order_updated_at
            FROM {VIEW_TABLE} WHERE customer_id = ? ORDER BY order_created_at DESC, order_id""",
        params=[customer_id],
    ).to_arrow_table()


def row_count(connection: duckdb.DuckDBPyConnection) -> int:
    """How many orders the view holds."""
    return int(run(connection, f"SELECT count(*) FROM {VIEW_TABLE}")[0][0])
