"""Repository.save_all / append_aggregates: many aggregates in one transaction, with append's guarantees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from labkit.domain import Customer, Order
from labkit.errors import UsageError
from labkit.events import (
    AggregateNotFoundError,
    ConcurrencyError,
    DuplicateEventError,
    EventStore,
    MalformedEventError,
    NewEvent,
    Repository,
    Snapshot,
    WrongAggregateTypeError,
    append_aggregates,
    fold_all,
    snapshot_count,
)
from labkit.events.duckdb_schema import DROP_INDEXES_SQL


def placed(n: int, *, first: int = 1) -> list[Order]:
    return [Order.place(f"order-{i}", "customer-1", 10 * i) for i in range(first, first + n)]


def test_save_all_appends_every_aggregate_in_order_and_they_load_back():
    moments = iter(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=k) for k in range(100))
    store = EventStore(":memory:", clock=lambda: next(moments))
    repository = Repository(store)
    orders = placed(3)
    orders[1].approve()
    assert repository.save_all(orders) == 4
    assert [(e.aggregate_id, e.version, e.position) for e in store.read_all()] == [
        ("order-1", 1, 1),
        ("order-2", 1, 2),
        ("order-2", 2, 3),
        ("order-3", 1, 4),
    ]
    assert all(not o.pending and o.created_at == datetime(2025, 1, 1, tzinfo=UTC) for o in orders)
    loaded = repository.load(Order, "order-2")
    assert (loaded.state, loaded.version, loaded.order_total) == ("APPROVED", 2, 20)
    # Loaded aggregates go on from where they are: a second save_all continues their versions.
    again = [repository.load(Order, "order-1"), loaded]
    again[0].approve()
    loaded.ship()
    assert repository.save_all(again) == 2
    assert {k: o.state for k, o in fold_all(store, Order).items()} == {
        "order-1": "APPROVED",
        "order-2": "SHIPPED",
        "order-3": "PENDING",
    }


def test_a_stale_aggregate_refuses_the_whole_call_naming_it():
    store = EventStore(":memory:")
    repository = Repository(store)
    repository.save_all(placed(2))
    stale, fresh = repository.load(Order, "order-1"), repository.load(Order, "order-2")
    other = repository.load(Order, "order-1")
    other.approve()
    repository.save(other)
    stale.reject("no credit")
    fresh.approve()
    with pytest.raises(ConcurrencyError, match="order-1 is at version 2, you expected 1"):
        repository.save_all([fresh, stale])
    assert store.count() == 3 and store.stream_version("order-2") == 1


@pytest.mark.parametrize(
    ("make", "error", "text"),
    [
        (
            lambda: [Order.place("order-1", "c", 5), Order.place("order-1", "c", 6)],
            UsageError,
            "order-1 is given twice",
        ),
        (lambda: [Customer.register("order-1", "Ada", 100)], WrongAggregateTypeError, "stored as a Order"),
        (lambda: [Order.place("order-1", "c", 5)], ConcurrencyError, "order-1 is at version 1, you expected 0"),
    ],
)
def test_bad_calls_are_refused_and_nothing_is_written(make, error, text):
    store = EventStore(":memory:")
    append_aggregates(store, [Order.place("order-1", "customer-1", 5)])
    with pytest.raises(error, match=text):
        append_aggregates(store, [Order.place("order-2", "customer-1", 7), *make()])
    assert store.count() == 1


def test_malformed_event_data_is_refused_before_anything_is_written():
    store = EventStore(":memory:")
    order = Order.place("order-1", "customer-1", 5)
    order.pending[0] = NewEvent("order-1", "Order", "OrderCreated", {"customer_id": "c", "order_total": "5"})
    with pytest.raises(MalformedEventError, match="order_total"):
        append_aggregates(store, [order])
    assert store.count() == 0


@pytest.mark.parametrize("indexed", [True, False])
def test_a_stored_event_id_is_refused_with_or_without_indexes(indexed):
    store = EventStore(":memory:")
    if not indexed:
        for statement in DROP_INDEXES_SQL:
            store.connection.execute(statement)
    first = Order.place("order-1", "customer-1", 5)
    event = first.pending[0]
    append_aggregates(store, [first])
    repeat = Order.place("order-2", "customer-1", 5)
    repeat.pending[0] = NewEvent("order-2", "Order", "OrderCreated", event.event_data, event.event_id)
    with pytest.raises(DuplicateEventError, match=str(event.event_id)) as stored:
        append_aggregates(store, [repeat])
    assert "save_all" in str(stored.value)  # names the call that writes new events only
    twice = Order.place("order-3", "customer-1", 5)
    twice.approve()
    twice.pending[1] = NewEvent("order-3", "Order", "OrderApproved", {}, twice.pending[0].event_id)
    with pytest.raises(DuplicateEventError, match="appears twice"):
        append_aggregates(store, [twice])
    assert store.count() == 1


def test_save_all_takes_snapshots_by_the_policy_and_adds_metadata():
    store = EventStore(":memory:")
    repository = Repository(store, snapshot_every={Customer: 2})
    customer = Customer.register("customer-1", "Ada", 1000)
    customer.reserve_credit("order-1", 10)
    quiet = Customer.register("customer-2", "Alan", 1000)
    repository.save_all([customer, quiet], metadata={"correlation_id": "c-1"})
    assert repository.load(Customer, "customer-1").reserved_credit == 10
    snapshots = store.connection.execute("SELECT aggregate_id, version FROM snapshots").fetchall()
    assert snapshots == [("customer-1", 2)]
    assert {e.metadata["correlation_id"] for e in store.read_all()} == {"c-1"}


def clocked() -> EventStore:
    moments = iter(datetime(2025, 1, 1, 12, tzinfo=UTC) + timedelta(minutes=k) for k in range(100))
    return EventStore(":memory:", clock=lambda: next(moments))


def test_load_at_a_version_or_a_moment_but_not_both():
    repository = Repository(clocked())
    order = Order.place("order-1", "customer-1", 5)
    repository.save(order)
    order.approve()
    repository.save(order)
    order.ship()
    repository.save(order)
    at_two = repository.load(Order, "order-1", version=2)
    assert (at_two.state, at_two.version) == ("APPROVED", 2)
    assert at_two.created_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert at_two.updated_at == datetime(2025, 1, 1, 12, 1, tzinfo=UTC)
    paris = timezone(timedelta(hours=2))
    then = repository.load(Order, "order-1", as_of=datetime(2025, 1, 1, 14, 1, 30, tzinfo=paris))
    assert (then.state, then.version, then.updated_at) == ("APPROVED", 2, datetime(2025, 1, 1, 12, 1, tzinfo=UTC))
    assert repository.load(Order, "order-1", as_of=datetime(2025, 1, 1, 12, 0)).version == 1  # naive: UTC
    with pytest.raises(AggregateNotFoundError) as too_early:
        repository.load(Order, "order-1", as_of=datetime(2025, 1, 1, 11, 59, tzinfo=UTC))
    assert "order-1" in str(too_early.value) and "2025-01-01T11:59:00+00:00" in str(too_early.value)
    with pytest.raises(ValueError):
        repository.load(Order, "order-1", version=1, as_of=datetime(2025, 1, 1, 12, 0))
    with pytest.raises(AggregateNotFoundError):
        repository.load(Order, "order-1", version=4)
    assert repository.load(Order, "order-1", version=3).state == "SHIPPED"


def test_save_adds_metadata_to_each_event_and_sets_the_aggregate_times():
    store = clocked()
    repository = Repository(store)
    order = Order.place("order-1", "customer-1", 5)
    order.pending[0] = NewEvent(**{**order.pending[0].__dict__, "metadata": {"causation_id": "x"}})
    result = repository.save(order, metadata={"correlation_id": "c-1"})
    assert [e.metadata for e in result.appended] == [{"causation_id": "x", "correlation_id": "c-1"}]
    assert (order.created_at, order.updated_at, order.pending) == (
        datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
        datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
        [],
    )
    order.approve()
    repository.save(order)
    assert (order.created_at, order.updated_at) == (
        datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
        datetime(2025, 1, 1, 12, 1, tzinfo=UTC),
    )
    assert store.read_stream("order-1")[1].metadata == {}


def test_nothing_pending_saves_nothing():
    store = EventStore(":memory:")
    repository = Repository(store)
    assert repository.save_all([]) == 0
    assert repository.save_all([Order("order-1")]) == 0
    assert append_aggregates(store, [Order("order-1")]) == 0
    assert repository.save(Order("order-1")).appended == ()
    assert store.count() == 0


def test_append_aggregates_adds_metadata_and_counts_the_events():
    store = EventStore(":memory:")
    orders = placed(3)
    orders[0].approve()
    assert append_aggregates(store, orders, metadata={"correlation_id": "batch-1"}) == 4
    assert [e.metadata for e in store.read_all()] == [{"correlation_id": "batch-1"}] * 4


def test_a_snapshot_every_event_is_allowed_and_taken_at_each_save():
    repository = Repository(EventStore(":memory:"), snapshot_every={Order: 1})
    order = Order.place("order-1", "customer-1", 5)
    repository.save(order)
    order.approve()
    repository.save(order)
    assert snapshot_count(repository.store, "order-1") == 2
    assert repository.load(Order, "order-1", version=1, use_snapshots=False).state == "PENDING"


def test_what_cannot_be_stored_as_json_is_refused_naming_the_field():
    store = EventStore(":memory:")
    huge = Order.place("order-1", "customer-1", 5)
    huge.pending[0] = NewEvent("order-1", "Order", "OrderCreated", {"customer_id": "c", "order_total": 2**64})
    odd = Order.place("order-2", "customer-1", 5)
    odd.pending[0] = NewEvent(**{**odd.pending[0].__dict__, "metadata": {"at": object()}})
    for aggregate, field in ((huge, "order_total"), (odd, "metadata.at")):
        for save in (append_aggregates, lambda s, a: Repository(s).save(a[0])):
            with pytest.raises(MalformedEventError) as raised:
                save(store, [aggregate])
            assert (raised.value.event_type, raised.value.field) == ("OrderCreated", field)
    assert store.count() == 0


def test_load_uses_the_latest_snapshot_unless_told_not_to():
    store = clocked()
    repository = Repository(store)
    order = Order.place("order-1", "customer-1", 5)
    repository.save(order)
    order.approve()
    repository.save(order)
    # A snapshot whose state differs from the events shows which one a load read.
    store.write_snapshot(
        Snapshot("order-1", 1, 1, {"state": "NEW", "customer_id": "x", "order_total": 9}, 1, None, None), "Order"
    )
    from_snapshot = repository.load(Order, "order-1")
    assert (from_snapshot.state, from_snapshot.customer_id, from_snapshot.version) == ("APPROVED", "x", 2)
    assert from_snapshot.created_at is None  # the snapshot has no time, and version 1 is not in the tail
    assert from_snapshot.updated_at == datetime(2025, 1, 1, 12, 1, tzinfo=UTC)
    from_events = repository.load(Order, "order-1", use_snapshots=False)
    assert (from_events.customer_id, from_events.created_at) == ("customer-1", datetime(2025, 1, 1, 12, 0, tzinfo=UTC))
    assert repository.load(Order, "order-1", version=1).customer_id == "x"


def test_a_long_stream_loads_whole():
    store = EventStore(":memory:")
    repository = Repository(store)
    customer = Customer.register("customer-1", "Ada", 10_000)
    for i in range(80):
        customer.reserve_credit(f"order-{i}", 1)
    repository.save(customer)
    loaded = repository.load(Customer, "customer-1")
    assert (loaded.version, loaded.reserved_credit) == (81, 80)


def test_an_aggregate_at_the_largest_version_loads_from_its_snapshot_and_tail():
    store = EventStore(":memory:")
    top = 2**31 - 1
    store.connection.execute(
        "INSERT INTO events VALUES (1, 'order-1', 'Order', ?, uuid(), 'OrderShipped', '{}', '{}', now())", [top]
    )
    state = {"state": "APPROVED", "customer_id": "c", "order_total": 5}
    store.write_snapshot(Snapshot("order-1", top - 1, 0, state, 1, None, None), "Order")
    loaded = Repository(store).load(Order, "order-1")
    assert (loaded.version, loaded.state) == (top, "SHIPPED")
