"""Two small read models that consumers keep, each as a batch handler: order states, and totals per customer.

Both are written the naive way on purpose: they apply whatever they are handed. Handed a repeat, the totals count
it twice; handed version 3 before version 2, the state goes back in time. Wrapped in `IdempotentConsumer` they are
exact. Each handler writes with the connection it is given (the subscriber's transaction).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from labkit.events import RecordedEvent

ORDER_STATES_SQL = """
CREATE TABLE IF NOT EXISTS order_states (
    order_id VARCHAR PRIMARY KEY,
    state    VARCHAR NOT NULL,
    version  INTEGER NOT NULL  -- the version of the last event applied (not checked by the naive handler)
)
"""

CUSTOMER_TOTALS_SQL = """
CREATE TABLE IF NOT EXISTS customer_totals (
    customer_id VARCHAR PRIMARY KEY,
    orders      BIGINT  NOT NULL,
    revenue     BIGINT  NOT NULL  -- sum of order totals, whole currency units
)
"""

# The state each Order event moves an order to (as labkit.domain.Order applies it).
STATE_AFTER = {
    "OrderCreated": "PENDING",
    "OrderApproved": "APPROVED",
    "OrderRejected": "REJECTED",
    "OrderShipped": "SHIPPED",
    "OrderCancelled": "CANCELLED",
}


def apply_order_states(events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
    """Set each order's state from its events, in the order given (the last one handed in wins)."""
    connection.execute(ORDER_STATES_SQL)
    latest: dict[str, tuple[str, int]] = {}
    for event in events:
        if event.event_type in STATE_AFTER:
            latest[event.aggregate_id] = (STATE_AFTER[event.event_type], event.version)
    if latest:
        values = ", ".join(["(?, ?, ?)"] * len(latest))
        connection.execute(
            f"INSERT OR REPLACE INTO order_states VALUES {values}",
            [v for order_id, (state, version) in latest.items() for v in (order_id, state, version)],
        )


def apply_customer_totals(events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
    """Add each OrderCreated to its customer's order count and revenue."""
    connection.execute(CUSTOMER_TOTALS_SQL)
    sums: dict[str, list[int]] = {}
    for event in events:
        if event.event_type == "OrderCreated":
            total = sums.setdefault(event.event_data["customer_id"], [0, 0])
            total[0] += 1
            total[1] += int(event.event_data["order_total"])
    if sums:
        values = ", ".join(["(?, ?, ?)"] * len(sums))
        connection.execute(
            f"""INSERT INTO customer_totals VALUES {values}
                ON CONFLICT (customer_id) DO UPDATE
                SET orders = orders + excluded.orders, revenue = revenue + excluded.revenue""",
            [v for customer_id, (orders, revenue) in sums.items() for v in (customer_id, orders, revenue)],
        )
