"""DuckDB still answers the analytics over events kept on PostgreSQL: the events cross as Arrow (ADBC), the
vectorized replay over the copy equals each order folded from the server, and the seed query's read model fed in
bulk equals the one fed event by event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labkit.domain import Customer, Order
from labkit.events import EventStoreError, Repository, append_aggregates, replay_all
from labkit.events.postgres import PostgresEventStore
from labkit.views import CustomerOrdersView
from tests.pg_schemas import fresh_schema


@pytest.fixture
def orders(postgres_url: str) -> Iterator[PostgresEventStore]:
    schema = fresh_schema("analytics")
    PostgresEventStore(postgres_url, schema=schema).drop()
    store = PostgresEventStore(postgres_url, schema=schema)
    customers = [Customer.register(f"customer-{c}", f"Name {c}", 10_000) for c in range(7)]
    append_aggregates(store, customers)
    placed = []
    for i in range(120):
        order = Order.place(f"order-{i}", f"customer-{i % 7}", 50 + 13 * i)
        if i % 3:
            order.approve()
        if i % 5 == 0 and i % 3:
            order.ship()
        if i % 7 == 1 and i % 3 == 0:
            order.reject("credit")
        placed.append(order)
    append_aggregates(store, placed[:60])
    append_aggregates(store, placed[60:])
    yield store
    store.drop()
    store.close()


def test_the_vectorized_replay_over_the_copy_equals_the_fold_from_the_server(orders: PostgresEventStore) -> None:
    copy = orders.to_duckdb()
    assert copy.count() == orders.count()
    assert [e.to_dict() for e in copy.read_all(limit=10_000)] == [e.to_dict() for e in orders.read_all(limit=10_000)]
    replayed = {row["aggregate_id"]: row for row in replay_all(copy, Order).df().to_dict("records")}
    repository = Repository(orders)
    assert len(replayed) == 120
    for order_id, row in replayed.items():
        folded = repository.load(Order, order_id)
        assert (row["state"], row["order_total"], row["customer_id"], row["version"]) == (
            folded.state,
            folded.order_total,
            folded.customer_id,
            folded.version,
        )


def test_the_read_model_fed_in_bulk_equals_the_one_fed_event_by_event(orders: PostgresEventStore) -> None:
    with CustomerOrdersView() as bulk, CustomerOrdersView() as incremental:
        bulk.subscribe("store", orders)
        incremental.subscribe("store", orders)
        bulk.bulk_catch_up("store")
        incremental.catch_up()
        assert bulk.row_count() == incremental.row_count() == 120
        for customer in range(7):
            assert bulk.orders_of_customer(f"customer-{customer}").to_pylist() == (
                incremental.orders_of_customer(f"customer-{customer}").to_pylist()
            )
        assert bulk.lag() == incremental.lag() == {"store": 0}


def test_export_filters_by_position_and_type(orders: PostgresEventStore) -> None:
    head = orders.head_position()
    part = orders.export_events(after_position=3, up_to_position=10, event_types=["OrderCreated", "CustomerCreated"])
    expected = [e.position for e in orders.read_all(after_position=3, limit=7)]
    kept = [
        p
        for p, e in zip(expected, orders.read_all(after_position=3, limit=7), strict=True)
        if e.event_type in ("OrderCreated", "CustomerCreated")
    ]
    assert part.column("position").to_pylist() == kept
    assert orders.export_events(after_position=head).num_rows == 0


def test_a_store_with_gaps_is_not_copied(postgres_url: str) -> None:
    with PostgresEventStore(postgres_url, schema=fresh_schema("gappy"), positions="sequence") as store:
        store.append(Order.place("order-1", "c", 5).pending, expected_version=0)
        with pytest.raises(RuntimeError), store.transaction():  # a rolled-back append uses up a sequence number
            store.append(Order.place("order-2", "c", 5).pending, expected_version=0)
            raise RuntimeError("rolled back")
        store.append(Order.place("order-3", "c", 5).pending, expected_version=0)
        with pytest.raises(EventStoreError, match="gaps in its positions"):
            store.to_duckdb()
        store.drop()


def test_export_filters_by_aggregate_type_and_ids_on_top_of_the_positions(orders: PostgresEventStore) -> None:
    def positions(**filters) -> list[int]:
        return orders.export_events(**filters).column("position").to_pylist()

    everything = orders.read_all(limit=10_000)
    customers = [e.position for e in everything if e.aggregate_type == "Customer"]
    assert positions(aggregate_type="Customer") == customers and len(customers) == 7
    two = [e.position for e in everything if e.aggregate_id in ("order-3", "order-1")]
    assert positions(aggregate_ids=["order-3", "order-1"]) == two
    assert positions(aggregate_ids=["order-3", "order-1"], after_position=two[0]) == two[1:]
    assert positions(aggregate_type="Customer", aggregate_ids=["order-3", "customer-2"]) == [
        e.position for e in everything if e.aggregate_id == "customer-2"
    ]
    assert positions(aggregate_ids=[]) == []  # no ids: no events, not every event
    assert positions(aggregate_type="Order's") == []  # quoted as a value, not read as SQL


def test_a_copy_up_to_a_position_holds_the_events_up_to_it(orders: PostgresEventStore) -> None:
    with orders.to_duckdb(up_to_position=25) as copy:
        assert [e.to_dict() for e in copy.read_all()] == [e.to_dict() for e in orders.read_all(limit=25)]
