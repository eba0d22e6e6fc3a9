"""customer_orders_view: fed by Customer and Order events from two sources, in any order, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from labkit.domain import Customer, Order
from labkit.events import EventStore, Repository, Subscription
from labkit.views import (
    ANSWER_SCHEMA,
    VIEW_TABLE,
    apply_event_rows,
    clear,
    compact,
    create_tables,
    export_events,
    handle,
    orders_of_customer,
    recent_valuable_customers,
)

CUTOFF = datetime(2025, 1, 1, tzinfo=UTC)


class Clock:
    """A settable clock for the event stores, so creation times are exact."""

    def __init__(self) -> None:
        self.now = datetime(2024, 6, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def customers(clock) -> EventStore:
    return EventStore(":memory:", clock=clock)


@pytest.fixture
def orders(clock) -> EventStore:
    return EventStore(":memory:", clock=clock)


@pytest.fixture
def view() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    create_tables(connection)
    return connection


def register(store: EventStore, clock: Clock, customer_id: str, at: datetime, name: str = "Ada Lovelace") -> None:
    clock.now = at
    Repository(store).save(Customer.register(customer_id, name, 10**9))


def shipped(store: EventStore, order_id: str, customer_id: str, total: int, *, ship: bool = True) -> None:
    order = Order.place(order_id, customer_id, total)
    order.approve()
    if ship:
        order.ship()
    Repository(store).save(order)


def follow(view, **sources: EventStore) -> dict[str, Subscription]:
    return {name: Subscription(f"{VIEW_TABLE}:{name}", source, view, handle) for name, source in sources.items()}


def answer(view, threshold=1000, created_after=CUTOFF) -> list[tuple[str, str, int]]:
    table = recent_valuable_customers(view, threshold, created_after)
    assert table.schema == ANSWER_SCHEMA
    return list(zip(*(table.column(c).to_pylist() for c in ("customer_id", "order_id", "order_total")), strict=True))


def edge_cases(customers: EventStore, orders: EventStore, clock: Clock) -> None:
    register(customers, clock, "customer-recent", CUTOFF + timedelta(days=30), "Grace Hopper")
    register(customers, clock, "customer-at-cutoff", CUTOFF)  # created exactly at the cutoff: not "after"
    register(customers, clock, "customer-old", CUTOFF - timedelta(days=30))
    register(customers, clock, "customer-no-orders", CUTOFF + timedelta(days=1))
    shipped(orders, "order-1", "customer-recent", 5000)
    shipped(orders, "order-2", "customer-recent", 1000)  # exactly at the threshold: not "over"
    shipped(orders, "order-3", "customer-recent", 1001)
    shipped(orders, "order-4", "customer-recent", 9000, ship=False)  # approved, not shipped
    shipped(orders, "order-5", "customer-at-cutoff", 5000)
    shipped(orders, "order-6", "customer-old", 5000)
    shipped(orders, "order-7", "customer-unknown", 5000)  # its customer is in no customer database


EXPECTED = [("customer-recent", "order-1", 5000), ("customer-recent", "order-3", 1001)]


def test_the_edge_cases_answer_only_strictly_recent_strictly_valuable_shipped_orders(customers, orders, clock, view):
    edge_cases(customers, orders, clock)
    subscriptions = follow(view, customers=customers, orders=orders)
    assert [s.run() for s in subscriptions.values()] == [customers.head_position(), orders.head_position()]
    assert answer(view) == EXPECTED
    row = recent_valuable_customers(view, 1000, CUTOFF).to_pylist()[0]
    assert row["customer_name"] == "Grace Hopper"
    assert row["customer_created_at"] == datetime(2025, 1, 31)


def test_orders_seen_before_their_customer_get_the_customer_when_it_arrives(customers, orders, clock, view):
    edge_cases(customers, orders, clock)
    subscriptions = follow(view, customers=customers, orders=orders)
    subscriptions["orders"].run()
    assert answer(view) == []  # no customer known yet: nothing is "recent"
    unknown = view.execute(f"SELECT count(*) FROM {VIEW_TABLE} WHERE customer_name IS NULL").fetchall()[0][0]
    assert unknown == 7
    subscriptions["customers"].run()
    assert answer(view) == EXPECTED
    still_unknown = view.execute(f"SELECT order_id FROM {VIEW_TABLE} WHERE customer_name IS NULL").fetchall()
    assert still_unknown == [("order-7",)]


def test_state_changes_in_later_batches_move_the_order(customers, orders, clock, view):
    register(customers, clock, "customer-1", CUTOFF + timedelta(days=2))
    repository = Repository(orders)
    repository.save(Order.place("order-1", "customer-1", 5000))
    subscriptions = follow(view, customers=customers, orders=orders)
    for s in subscriptions.values():
        s.run()
    assert answer(view) == []
    order = repository.load(Order, "order-1")
    order.approve()
    repository.save(order)
    subscriptions["orders"].run()
    assert answer(view) == []
    order.ship()
    repository.save(order)
    assert subscriptions["orders"].run() == 1
    assert answer(view) == [("customer-1", "order-1", 5000)]
    history = orders_of_customer(view, "customer-1").to_pylist()
    assert [(h["order_id"], h["order_state"]) for h in history] == [("order-1", "SHIPPED")]


def test_a_batch_applied_twice_changes_nothing(customers, orders, clock, view):
    edge_cases(customers, orders, clock)
    all_events = customers.read_all(limit=100) + orders.read_all(limit=100)
    handle(all_events, view)
    before = view.execute(f"SELECT * FROM {VIEW_TABLE} ORDER BY order_id").fetchall()
    handle(all_events, view)
    handle(orders.read_all(limit=100)[:3], view)  # an older prefix: states must not go back
    assert view.execute(f"SELECT * FROM {VIEW_TABLE} ORDER BY order_id").fetchall() == before
    assert answer(view) == EXPECTED


def test_the_bulk_path_builds_the_same_view_as_the_handler(customers, orders, clock, view):
    edge_cases(customers, orders, clock)
    for s in follow(view, customers=customers, orders=orders).values():
        s.run()
    bulk = duckdb.connect()
    create_tables(bulk)
    for store in (orders, customers):  # orders first: the customers fill them in
        rows = export_events(store, after_position=0, up_to_position=store.head_position())
        apply_event_rows(bulk, rows)
    compact(bulk)
    query = f"SELECT * FROM {VIEW_TABLE} ORDER BY order_id"
    assert bulk.execute(query).fetchall() == view.execute(query).fetchall()
    assert answer(bulk) == EXPECTED


def test_clear_empties_the_view_for_a_rebuild(customers, orders, clock, view):
    edge_cases(customers, orders, clock)
    handle(customers.read_all() + orders.read_all(), view)
    clear(view)
    assert view.execute(f"SELECT count(*) FROM {VIEW_TABLE}").fetchall() == [(0,)]
    handle(customers.read_all() + orders.read_all(), view)
    assert answer(view) == EXPECTED


def test_other_event_types_are_ignored(customers, orders, clock, view):
    register(customers, clock, "customer-1", CUTOFF + timedelta(days=2))
    repository = Repository(customers)
    customer = repository.load(Customer, "customer-1")
    customer.reserve_credit("order-1", 5000)
    repository.save(customer)
    handle(customers.read_all(), view)
    assert view.execute(f"SELECT count(*) FROM {VIEW_TABLE}").fetchall() == [(0,)]


def test_bad_parameters_are_refused_before_any_sql(view):
    from labkit.views import QueryParameterError

    with pytest.raises(QueryParameterError, match="threshold"):
        recent_valuable_customers(view, "a lot", CUTOFF)
    with pytest.raises(QueryParameterError, match="created_after"):
        recent_valuable_customers(view, 100, "last spring")
