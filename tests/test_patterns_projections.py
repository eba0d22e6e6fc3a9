"""Each read model, fed event by event and rebuilt in one vectorized pass, gives the same table and the truth."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from labkit.domain import Order
from labkit.events import EventStore, replay_all
from labkit.patterns.projection_runner import ProjectionRunner
from labkit.patterns.projections import standard_projections
from labkit.workload import generate

TABLES = {
    "orders_per_customer": "SELECT * FROM orders_per_customer ORDER BY customer_id",
    "revenue_per_day": "SELECT * FROM revenue_per_day ORDER BY day",
    "customer_orders_view": "SELECT * FROM customer_orders_view ORDER BY order_id",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    workload = generate(tmp_path_factory.mktemp("workload"), customers=40, orders=400, seed=3, progress=False)
    with EventStore(workload.store_path) as store:
        yield store


@pytest.fixture(scope="module")
def incremental(store, tmp_path_factory):
    """The three read models fed by pull subscribers in small batches, from position zero."""
    runner = ProjectionRunner(
        store, standard_projections(), tmp_path_factory.mktemp("read") / "read.duckdb", batch_size=97
    )
    runner.catch_up()
    tables = {name: runner.query(sql) for name, sql in TABLES.items()}
    runner.close()
    return tables


def test_orders_per_customer_is_the_replayed_orders_grouped(store, incremental):
    truth = (
        replay_all(store, Order)
        .aggregate("customer_id, count(*)::BIGINT AS orders, sum(order_total)::BIGINT AS ordered_total")
        .order("customer_id")
        .df()
    )
    assert incremental["orders_per_customer"].equals(truth)


def test_revenue_per_day_sums_the_totals_of_orders_shipped_each_day(store, incremental):
    events = store.read_all(limit=1_000_000, aggregate_type="Order")
    totals = {e.aggregate_id: e.event_data["order_total"] for e in events if e.event_type == "OrderCreated"}
    shipped, revenue = Counter(), defaultdict(int)
    for event in events:
        if event.event_type == "OrderShipped":
            shipped[event.recorded_at.date()] += 1
            revenue[event.recorded_at.date()] += totals[event.aggregate_id]
    table = incremental["revenue_per_day"]
    assert {row.day.date(): (row.orders_shipped, row.revenue) for row in table.itertuples()} == {
        day: (shipped[day], revenue[day]) for day in shipped
    }


def test_the_customer_orders_view_holds_every_order_with_its_customer(store, incremental):
    view = incremental["customer_orders_view"]
    states = dict(replay_all(store, Order).select("aggregate_id, state").fetchall())
    assert dict(zip(view.order_id, view.order_state, strict=True)) == states
    assert view.customer_name.notna().all()


def test_a_rebuild_from_position_zero_gives_the_incremental_tables(store, incremental, tmp_path):
    runner = ProjectionRunner(store, standard_projections(), tmp_path / "read.duckdb")
    results = [runner.rebuild(name) for name in runner.projections]
    assert [r.generation for r in results] == [2, 2, 2]
    assert all(r.events == store.head_position() and r.events_per_second > 0 for r in results)
    for name, sql in TABLES.items():
        assert runner.query(sql).equals(incremental[name]), name
    runner.close()
