"""Consumers side by side on one delivery: what a naive consumer computes, what an idempotent one computes, and
the truth read from the producer's database.

Each consumer is a real pull subscriber (`labkit.events.Subscription`) with its own DuckDB database, fed the
same deliveries (`DeliveryFeed`): repeats from an at-least-once relay, or a flaky transport's delays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pandas as pd

from labkit.events import RecordedEvent, Subscription
from labkit.patterns.broker import read_messages
from labkit.patterns.delivery import DeliveryFeed
from labkit.patterns.designs import STATE_FILE
from labkit.patterns.dualwrite import broker_settings
from labkit.patterns.errors import OutOfOrderError
from labkit.patterns.idempotent_consumer import BatchHandler, IdempotentConsumer, OutOfOrder
from labkit.patterns.order_views import ORDER_STATES_SQL, apply_customer_totals, apply_order_states

Totals = Mapping[str, tuple[int, int]]  # customer_id -> (orders, revenue)


def broker_messages(folder: Path | str, *, durable: str = "replay") -> list[RecordedEvent]:
    """Every message of a dual-write run's stream, in stream order (repeats included), as a durable consumer named
    `durable` receives them (the first time it reads: a consumer that read before gets only what came since)."""
    return read_messages(broker_settings(folder), durable)


def stored_customer_totals(folder: Path | str) -> dict[str, tuple[int, int]]:
    """Orders and revenue per customer from the `orders` table of a dual-write run (the producer's truth)."""
    with duckdb.connect(str(Path(folder) / STATE_FILE), read_only=True) as connection:
        rows = connection.execute(
            "SELECT customer_id, count(*), sum(order_total) FROM orders GROUP BY customer_id"
        ).fetchall()
    return {customer: (int(orders), int(revenue)) for customer, orders, revenue in rows}


def _consume(deliveries: Sequence[RecordedEvent], name: str, handler: BatchHandler) -> duckdb.DuckDBPyConnection:
    """A fresh consumer database fed every delivery (in batches of 100) by a pull subscriber."""
    database = duckdb.connect()
    Subscription(name, DeliveryFeed(deliveries), database, handler, batch_size=100).run()
    return database


def count_with_consumers(deliveries: Sequence[RecordedEvent], truth: Totals) -> pd.DataFrame:
    """Orders and revenue as a naive and an idempotent consumer count them from `deliveries`, against `truth`."""
    true_orders = sum(orders for orders, _ in truth.values())
    true_revenue = sum(revenue for _, revenue in truth.values())
    rows = []
    for label, handler in (
        ("naive", apply_customer_totals),
        ("idempotent", IdempotentConsumer("customer-totals", apply_customer_totals)),
    ):
        database = _consume(deliveries, "customer-totals", handler)
        counted = {
            customer: (int(orders), int(revenue))
            for customer, orders, revenue in database.execute("SELECT * FROM customer_totals").fetchall()
        }
        orders = sum(o for o, _ in counted.values())
        revenue = sum(r for _, r in counted.values())
        rows.append(
            {
                "consumer": label,
                "deliveries": len(deliveries),
                "orders counted": orders,
                "orders stored": true_orders,
                "revenue counted": revenue,
                "revenue stored": true_revenue,
                "customers wrong": sum(counted.get(c) != t for c, t in truth.items()) + len(set(counted) - set(truth)),
            }
        )
    return pd.DataFrame(rows).set_index("consumer")


def track_states_with_consumers(deliveries: Sequence[RecordedEvent], truth: Mapping[str, str]) -> pd.DataFrame:
    """Order states as a naive consumer and idempotent ones ("wait", "reject") track them from `deliveries`."""
    rows = []
    consumers: list[tuple[str, BatchHandler, OutOfOrder | None]] = [
        ("naive", apply_order_states, None),
        ("idempotent, wait", apply_order_states, "wait"),
        ("idempotent, reject", apply_order_states, "reject"),
    ]
    for label, apply, mode in consumers:
        consumer = IdempotentConsumer("order-states", apply, out_of_order=mode) if mode else None
        database = duckdb.connect()
        database.execute(ORDER_STATES_SQL)
        subscription = Subscription(
            "order-states", DeliveryFeed(deliveries), database, consumer or apply, batch_size=100
        )
        refused = ""
        try:
            subscription.run()
        except OutOfOrderError as exc:
            # Nothing redelivers here, so a rejecting consumer stays stuck before this batch.
            refused = f"stuck at checkpoint {subscription.position}: {str(exc).split(';')[0]}"
        states = dict(database.execute("SELECT order_id, state FROM order_states").fetchall())
        rows.append(
            {
                "consumer": label,
                "orders right": sum(states.get(order) == state for order, state in truth.items()),
                "orders wrong": sum(order in states and states[order] != state for order, state in truth.items()),
                "repeats skipped": consumer.totals.duplicates if consumer else 0,
                "parked, then applied": consumer.totals.released if consumer else 0,
                "refused": refused,
            }
        )
    return pd.DataFrame(rows).set_index("consumer")
