"""CustomerOrdersView: its own database, one checkpointed subscription per source, lag, bulk catch-up, restarts."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from labkit.domain import Customer, Order
from labkit.events import EventStore, Repository
from labkit.views import CustomerOrdersView, ViewError, export_events

CUTOFF = datetime(2025, 1, 1, tzinfo=UTC)


class ExportingStore(EventStore):
    """An event store that can also export event rows, as the services do."""

    def export_events(
        self, *, after_position: int, up_to_position: int, event_types: Sequence[str] | None = None
    ) -> pa.Table:
        return export_events(
            self, after_position=after_position, up_to_position=up_to_position, event_types=event_types
        )


def fill(customers: EventStore, orders: EventStore, n: int = 20, first: int = 0) -> None:
    """n recent customers with one shipped order each, of total 1000 + i."""
    for i in range(first, first + n):
        Repository(customers).save(Customer.register(f"customer-{i}", f"Name {i}", 10**6))
        order = Order.place(f"order-{i}", f"customer-{i}", 1000 + i)
        order.approve()
        order.ship()
        Repository(orders).save(order)


@pytest.fixture
def stores():
    clock = lambda: CUTOFF + timedelta(days=1)  # noqa: E731
    return ExportingStore(":memory:", clock=clock), ExportingStore(":memory:", clock=clock)


def test_catch_up_lag_and_resuming_from_the_checkpoint_after_a_restart(tmp_path, stores):
    customers, orders = stores
    fill(customers, orders)
    with CustomerOrdersView(tmp_path / "view.duckdb", batch_size=7) as view:
        view.subscribe("customers", customers)
        view.subscribe("orders", orders)
        assert view.lag() == {"customers": 20, "orders": 60}
        assert view.lag_seconds(now=CUTOFF + timedelta(days=1, seconds=3)) == 3.0
        assert view.catch_up() == 80
        assert view.lag() == {"customers": 0, "orders": 0}
        assert view.lag_seconds() == 0.0
        assert view.recent_valuable_customers(1009, CUTOFF).num_rows == 10
    order_new = Order.place("order-new", "customer-0", 5000)
    order_new.approve()
    Repository(orders).save(order_new)
    with CustomerOrdersView(tmp_path / "view.duckdb") as reopened:
        reopened.subscribe("customers", customers)
        reopened.subscribe("orders", orders)
        assert reopened.lag() == {"customers": 0, "orders": 2}
        assert reopened.catch_up() == 2  # only the new events: the checkpoint survived the restart
        assert reopened.row_count() == 21
        history = reopened.orders_of_customer("customer-0").to_pylist()
        assert [(h["order_id"], h["order_state"]) for h in history] == [
            ("order-0", "SHIPPED"),
            ("order-new", "APPROVED"),
        ]


def test_bulk_catch_up_gives_the_same_answer_as_polling(stores):
    customers, orders = stores
    fill(customers, orders)
    polled, bulk = CustomerOrdersView(), CustomerOrdersView()
    for view in (polled, bulk):
        view.subscribe("orders", orders)
        view.subscribe("customers", customers)
    polled.catch_up()
    assert bulk.bulk_catch_up("orders") == 60
    assert bulk.bulk_catch_up("customers") == 20
    assert bulk.lag() == {"orders": 0, "customers": 0}
    assert bulk.bulk_catch_up("orders") == 0
    assert bulk.recent_valuable_customers(1004, CUTOFF) == polled.recent_valuable_customers(1004, CUTOFF)
    assert bulk.recent_valuable_customers(1004, CUTOFF).num_rows == 15


def test_a_runner_thread_follows_new_events_while_another_thread_queries(stores):
    customers, orders = stores
    fill(customers, orders, n=3)
    view = CustomerOrdersView()
    view.subscribe("customers", customers)
    view.subscribe("orders", orders)
    stop = threading.Event()
    runner = threading.Thread(target=view.run, args=(stop,), daemon=True)
    runner.start()
    try:
        view.wait_until_caught_up(timeout=10)
        assert view.recent_valuable_customers(0, CUTOFF).num_rows == 3
        fill(customers, orders, n=2, first=3)
        view.wait_until_caught_up(timeout=10)
        assert view.recent_valuable_customers(0, CUTOFF).num_rows == 5
    finally:
        stop.set()
        runner.join(timeout=10)
    assert not runner.is_alive()


def test_unknown_and_non_exporting_sources_are_named():
    view = CustomerOrdersView()
    with pytest.raises(ViewError, match="no source named 'orders'"):
        view.bulk_catch_up("orders")
    view.subscribe("plain", EventStore(":memory:"))
    with pytest.raises(ViewError, match="cannot export events"):
        view.bulk_catch_up("plain")


def test_waiting_without_a_runner_times_out_with_the_lag(stores):
    customers, orders = stores
    fill(customers, orders, n=1)
    view = CustomerOrdersView()
    view.subscribe("orders", orders)
    with pytest.raises(ViewError, match="still behind"):
        view.wait_until_caught_up(timeout=0.05)
