"""Notebook 06's exercise checker: two different correct projections pass, wrong ones fail on the case that shows it."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from labkit.events import EventStore, RecordedEvent
from labkit.lab.messaging.projection_exercises import PROJECTION_CASES, check_projection, order_history, shipped_totals


class RowByRow:
    """The notebook's solution: each order's customer and total kept in a table, revenue added as orders ship."""

    name = "shipped_revenue"
    tables = ("shipped_revenue",)

    def create(self, connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute(
            """CREATE TABLE IF NOT EXISTS shipped_revenue (
                   customer_id VARCHAR PRIMARY KEY, orders_shipped BIGINT NOT NULL, revenue BIGINT NOT NULL)"""
        )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS shipped_revenue_orders (order_id VARCHAR PRIMARY KEY, customer_id VARCHAR, total BIGINT)"
        )

    def apply(self, events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        for event in events:
            if event.event_type == "OrderCreated":
                connection.execute(
                    "INSERT INTO shipped_revenue_orders VALUES (?, ?, ?)",
                    [event.aggregate_id, event.event_data["customer_id"], event.event_data["order_total"]],
                )
            elif event.event_type == "OrderShipped":
                connection.execute(
                    """INSERT INTO shipped_revenue SELECT customer_id, 1, total FROM shipped_revenue_orders
                       WHERE order_id = ? ON CONFLICT (customer_id) DO UPDATE
                       SET orders_shipped = orders_shipped + 1, revenue = revenue + excluded.revenue""",
                    [event.aggregate_id],
                )


class SetBased:
    """Another correct answer: the batch as a data frame, the totals recomputed by SQL from a table of orders."""

    name = "revenue_by_customer"
    tables = ("shipped_revenue", "revenue_orders")

    def create(self, connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS revenue_orders (order_id VARCHAR, customer_id VARCHAR, total INT, shipped BOOL)"
        )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS shipped_revenue (customer_id VARCHAR, orders_shipped BIGINT, revenue BIGINT)"
        )

    def apply(self, events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        batch = pd.DataFrame(
            [
                (e.aggregate_id, e.event_type, e.event_data.get("customer_id"), e.event_data.get("order_total"))
                for e in events
            ],
            columns=["order_id", "event_type", "customer_id", "total"],
        )
        connection.register("batch", batch)
        connection.execute(
            """INSERT INTO revenue_orders SELECT order_id, customer_id, total, false FROM batch
               WHERE event_type = 'OrderCreated'"""
        )
        connection.execute(
            """UPDATE revenue_orders SET shipped = true
               WHERE order_id IN (SELECT order_id FROM batch WHERE event_type = 'OrderShipped')"""
        )
        connection.unregister("batch")
        connection.execute("DELETE FROM shipped_revenue")
        connection.execute(
            """INSERT INTO shipped_revenue SELECT customer_id, count(*), sum(total) FROM revenue_orders
               WHERE shipped GROUP BY customer_id"""
        )


def test_two_different_correct_answers_pass_every_case():
    for answer in (RowByRow, SetBased, RowByRow()):
        verdict = check_projection(answer)
        assert verdict.ok, str(verdict)
        assert len(verdict.passed) == len(PROJECTION_CASES) == 3


def test_the_story_ships_orders_on_both_sides_of_the_restart():
    with EventStore(":memory:") as store:
        order_history(store, 0)
        before = shipped_totals(store)
        order_history(store, 1)
        after = shipped_totals(store)
    assert before == {"customer-1": (1, 120), "customer-2": (1, 250)}
    assert after == {"customer-1": (3, 1185), "customer-2": (1, 250)}


def test_counting_ordered_totals_fails_on_the_first_case():
    class Ordered(RowByRow):
        def apply(self, events, connection):
            for event in events:
                if event.event_type == "OrderCreated":
                    connection.execute(
                        """INSERT INTO shipped_revenue VALUES (?, 1, ?) ON CONFLICT (customer_id) DO UPDATE
                           SET orders_shipped = orders_shipped + 1, revenue = revenue + excluded.revenue""",
                        [event.event_data["customer_id"], event.event_data["order_total"]],
                    )

    verdict = check_projection(Ordered)
    assert verdict.failed == PROJECTION_CASES[0].name
    assert "customer-2 has 1 shipped orders worth 250; your read model says 2 worth 280" in (verdict.hint or "")


def test_remembering_orders_within_one_batch_fails_on_small_batches():
    class PerBatch(RowByRow):
        def apply(self, events, connection):
            orders = {e.aggregate_id: e.event_data for e in events if e.event_type == "OrderCreated"}
            for event in events:
                if event.event_type == "OrderShipped" and event.aggregate_id in orders:
                    data = orders[event.aggregate_id]
                    connection.execute(
                        """INSERT INTO shipped_revenue VALUES (?, 1, ?) ON CONFLICT (customer_id) DO UPDATE
                           SET orders_shipped = orders_shipped + 1, revenue = revenue + excluded.revenue""",
                        [data["customer_id"], data["order_total"]],
                    )

    verdict = check_projection(PerBatch)
    assert verdict.failed == PROJECTION_CASES[1].name
    assert "keep each order's customer and total in a table" in (verdict.hint or "")
    assert len(verdict.passed) == 1


def test_remembering_orders_in_the_object_fails_on_the_restart():
    class InMemory(RowByRow):
        def __init__(self) -> None:
            self.orders: dict[str, dict] = {}

        def apply(self, events, connection):
            for event in events:
                if event.event_type == "OrderCreated":
                    self.orders[event.aggregate_id] = event.event_data
                elif event.event_type == "OrderShipped":
                    data = self.orders[event.aggregate_id]
                    connection.execute(
                        """INSERT INTO shipped_revenue VALUES (?, 1, ?) ON CONFLICT (customer_id) DO UPDATE
                           SET orders_shipped = orders_shipped + 1, revenue = revenue + excluded.revenue""",
                        [data["customer_id"], data["order_total"]],
                    )

    for answer in (InMemory, InMemory()):
        verdict = check_projection(answer)
        assert verdict.failed == (
            "given a restart between an order's creation and its shipping, when caught up, then the same read model"
        )
        assert (verdict.hint or "").startswith("your code raised KeyError: 'order-3'")
        assert len(verdict.passed) == 2


def test_a_missing_table_and_a_non_projection_are_named():
    class NoTable(RowByRow):
        def create(self, connection):
            pass

    verdict = check_projection(NoTable)
    assert verdict.failed == PROJECTION_CASES[0].name
    assert "your code raised CatalogException" in (verdict.hint or "")
    assert "it lacks name, tables, create, apply" in (check_projection(object()).hint or "")
    assert "list the table readers query" in (check_projection(type("T", (RowByRow,), {"tables": ()})).hint or "")
