"""The unit of work: one vectorized load for many aggregates, an identity map, saves with the snapshot policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from labkit.domain import Customer, Order
from labkit.errors import UsageError
from labkit.events import (
    AggregateNotFoundError,
    ConcurrencyError,
    EventStore,
    MalformedEventError,
    NewEvent,
    Repository,
    UnitOfWork,
    append_aggregates,
    snapshot_count,
)

T0 = datetime(2025, 1, 1, 12, tzinfo=UTC)


def clocked() -> EventStore:
    moments = iter(T0 + timedelta(minutes=k) for k in range(1000))
    return EventStore(":memory:", clock=lambda: next(moments))


def state(aggregate) -> tuple:
    return (aggregate.id, aggregate.version, aggregate.created_at, aggregate.updated_at, aggregate.to_state())


@pytest.fixture
def store() -> EventStore:
    store = clocked()
    repository = Repository(store)
    ada = Customer.register("customer-1", "Ada", 100)
    ada.reserve_credit("order-1", 30)
    repository.save(ada)  # 12:00
    repository.save(Customer.register("customer-2", "Alan", 50))  # 12:01
    order = Order.place("order-1", "customer-1", 30)
    repository.save(order)  # 12:02
    order.approve()
    repository.save(order)  # 12:03
    return store


def test_load_many_gives_each_existing_aggregate_as_replay_does(store):
    repository = Repository(store)
    with store.transaction():
        unit = UnitOfWork(store)
        found = unit.load_many(Customer, ["customer-2", "customer-1", "customer-9", "customer-1"])
        assert list(found) == ["customer-2", "customer-1"]
        for customer_id, customer in found.items():
            assert state(customer) == state(repository.load(Customer, customer_id))
        assert found["customer-1"].reservations == {"order-1": 30} and found["customer-2"].reservations == {}
        assert found["customer-1"].created_at == T0 and found["customer-1"].created_at.tzinfo is UTC
        order = unit.load(Order, "order-1")
        assert (order.state, order.version, order.created_at, order.updated_at) == (
            "APPROVED",
            2,
            T0 + timedelta(minutes=2),
            T0 + timedelta(minutes=3),
        )


def test_the_identity_map_hands_back_the_same_aggregate_and_remembers_what_is_missing(store):
    with store.transaction():
        unit = UnitOfWork(store)
        assert unit.peek("customer-1") is None
        first = unit.load(Customer, "customer-1")
        first.reserve_credit("order-2", 5)
        assert unit.peek("customer-1") is first
        assert unit.load(Customer, "customer-1") is first  # sees its own pending events
        assert unit.load_many(Customer, ["customer-1"]) == {"customer-1": first}
        with pytest.raises(AggregateNotFoundError) as missing:
            unit.load(Customer, "customer-9")
        assert "Customer customer-9" in str(missing.value)
        alan = unit.load(Customer, "customer-2")
        store.connection.execute("DELETE FROM events WHERE aggregate_id = 'customer-2'")
        Repository(store).save(Customer.register("customer-9", "Grace", 10))
        assert unit.load_many(Customer, ["customer-9", "customer-2"]) == {"customer-2": alan}  # no second look
        assert unit.load_many(Order, ["customer-1"]) == {}  # another type under that id is not an Order


def test_flush_saves_a_few_aggregates_one_by_one_and_skips_a_retried_event(store):
    with store.transaction():
        unit = UnitOfWork(store)
        ada = unit.load(Customer, "customer-1")
        ada.reserve_credit("order-2", 5)
        unit.add(ada)
        retried = Order.place("order-1", "customer-1", 30)
        retried.pending = list(Repository(store).load(Order, "order-1").pending)  # nothing pending
        unit.add(retried)
        assert unit.flush(metadata={"correlation_id": "c"}) == 1
        assert unit.flush() == 0  # flushed aggregates are forgotten
    assert unit.appended == 1
    assert store.read_stream("customer-1")[-1].metadata == {"correlation_id": "c"}
    assert (ada.pending, ada.updated_at, ada.created_at) == ([], T0 + timedelta(minutes=4), T0)


def test_flush_saves_many_aggregates_with_one_bulk_insert(store):
    with store.transaction():
        unit = UnitOfWork(store)
        orders = [Order.place(f"order-{i}", "customer-2", i) for i in range(2, 5)]
        for order in orders:
            unit.add(order)
        ada = unit.load(Customer, "customer-1")
        ada.release_credit("order-1")
        unit.add(ada)
        assert unit.flush(metadata={"correlation_id": "c"}) == 4
    assert unit.appended == 4
    moment = T0 + timedelta(minutes=4)
    assert [(o.version, o.created_at, o.updated_at, o.pending) for o in orders] == [(1, moment, moment, [])] * 3
    assert (ada.created_at, ada.updated_at) == (T0, moment)
    assert {e.metadata["correlation_id"] for e in store.read_all(after_position=5)} == {"c"}
    assert [e.recorded_at for e in store.read_all(after_position=5)] == [moment] * 4


def test_saves_take_snapshots_by_the_policy(store):
    with store.transaction():
        unit = UnitOfWork(store, snapshot_every={"Customer": 3, "Order": 10})
        ada = unit.load(Customer, "customer-1")
        ada.reserve_credit("order-2", 5)
        assert len(unit.save(ada).appended) == 1
        alan = unit.load(Customer, "customer-2")
        alan.reserve_credit("order-3", 5)
        assert unit.save_many([alan, Order("order-5")]) == 1
    assert (snapshot_count(store, "customer-1"), snapshot_count(store, "customer-2")) == (1, 0)
    assert unit.save_many([]) == 0


def test_an_aggregate_given_twice_is_a_usage_error(store):
    order = Order.place("order-7", "customer-1", 1)
    with store.transaction(), pytest.raises(UsageError):
        UnitOfWork(store).save_many([order, Order.place("order-8", "c", 1), order])
    assert store.stream_version("order-7") == 0


def test_flush_counts_every_aggregate_saved_one_by_one(store):
    with store.transaction():
        unit = UnitOfWork(store)
        assert unit.after_commit == [] and unit.appended == 0
        for customer_id in ("customer-1", "customer-2"):
            customer = unit.load(Customer, customer_id)
            customer.reserve_credit("order-9", 1)
            unit.add(customer)
        assert unit.flush() == 2
    assert unit.appended == 2


def test_a_stale_aggregate_is_refused_by_save_naming_the_versions(store):
    stale = Repository(store).load(Customer, "customer-2")
    moved = Repository(store).load(Customer, "customer-2")
    moved.reserve_credit("order-8", 1)
    Repository(store).save(moved)
    stale.reserve_credit("order-9", 1)
    with store.transaction(), pytest.raises(ConcurrencyError) as raised:
        UnitOfWork(store).save(stale)
    assert (raised.value.aggregate_id, raised.value.expected, raised.value.actual) == ("customer-2", 1, 2)


def test_a_save_after_version_one_does_not_invent_a_creation_time(store):
    order = Order("order-1")
    order.restore({"state": "APPROVED", "customer_id": "customer-1", "order_total": 30}, version=2)
    order.ship()
    with store.transaction():
        UnitOfWork(store).save(order)
    assert (order.version, order.created_at, order.updated_at) == (3, None, T0 + timedelta(minutes=4))


def test_an_added_aggregate_joins_the_identity_map(store):
    with store.transaction():
        unit = UnitOfWork(store)
        order = Order.place("order-7", "customer-1", 1)
        unit.add(order)
        assert unit.peek("order-7") is order
        assert unit.load(Order, "order-7") is order


def test_two_aggregates_are_still_a_small_group_whose_retried_events_are_skipped(store):
    retried = Repository(store).load(Order, "order-1")
    retried.ship()
    Repository(store).save(retried)
    again = Order("order-1")
    again.restore(retried.to_state(), version=3)
    again.pending = [pending_again(store, "order-1", 3)]  # a command retried after its save committed
    fresh = Order.place("order-8", "customer-1", 1)
    with store.transaction():
        unit = UnitOfWork(store)
        unit.add(again)
        unit.add(fresh)
        assert unit.flush() == 1  # the retried OrderShipped is skipped, as append skips it


def pending_again(store: EventStore, aggregate_id: str, version: int) -> NewEvent:
    (stored,) = store.read_stream(aggregate_id, from_version=version, to_version=version)
    return NewEvent(stored.aggregate_id, stored.aggregate_type, stored.event_type, stored.event_data, stored.event_id)


def test_save_many_counts_every_call_and_does_not_invent_a_creation_time(store):
    restored = Order("order-1")
    restored.restore({"state": "APPROVED", "customer_id": "customer-1", "order_total": 30}, version=2)
    restored.ship()
    with store.transaction():
        unit = UnitOfWork(store)
        assert unit.save_many([restored, Order.place("order-8", "customer-1", 1)]) == 2
        assert unit.save_many([Order.place("order-9", "customer-1", 1)]) == 1
    assert unit.appended == 3
    assert (restored.created_at, restored.updated_at) == (None, T0 + timedelta(minutes=4))


def test_metadata_of_a_save_that_json_cannot_hold_is_refused_naming_the_save_and_the_key() -> None:
    store = clocked()
    customers = [Customer.register(f"c-{n}", "C", 10) for n in range(3)]
    with pytest.raises(MalformedEventError) as refused:
        append_aggregates(store, customers, metadata={"bad": float("nan")})
    # Not one event's fault: the refusal names the save itself, and the key whose value JSON cannot hold.
    assert (refused.value.event_type, refused.value.field) == ("(save)", "metadata.bad")
    assert store.count() == 0


def test_a_save_keeps_the_creation_time_and_moves_the_update_time(store: EventStore) -> None:
    repository = Repository(store)
    alan = repository.load(Customer, "customer-2")
    created = alan.created_at
    alan.reserve_credit("order-9", 10)
    with store.transaction():
        unit = UnitOfWork(store)
        unit.add(alan)
        unit.flush()
    assert alan.created_at == created == T0 + timedelta(minutes=1)
    assert alan.updated_at == repository.load(Customer, "customer-2").updated_at > created
