"""Replay three ways agree: Repository.load (Python fold), fold_all (Python, every aggregate), replay_all (SQL).

Hypothesis writes random valid command sequences (the rules pick which commands are valid), at random times,
then compares every aggregate's state, now and as of random moments in the past.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.domain import APPROVED, PENDING, Customer, Order
from labkit.events import (
    Aggregate,
    EventStore,
    Repository,
    UnknownEventTypeError,
    bulk_load,
    fold_all,
    replay_all,
    state_sql,
)
from tests.budget import examples

START = datetime(2025, 1, 1, tzinfo=UTC)


class Clock:
    """A clock that moves on by a chosen step each time it is read."""

    def __init__(self) -> None:
        self.now, self.step = START, timedelta(minutes=1)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def play(store: EventStore, clock: Clock, script: list[tuple[int, int, int, int]]) -> Repository:
    """Run a script of (command, target, amount, minutes) steps; invalid ones are skipped as the rules say."""
    repository = Repository(store)
    customers = [f"customer-{i}" for i in range(3)]
    orders: list[str] = []
    for command, target, amount, minutes in script:
        clock.step = timedelta(minutes=minutes)
        if command == 0 or not orders:
            customer_id = customers[target % len(customers)]
            if store.stream_version(customer_id) == 0:
                repository.save(Customer.register(customer_id, f"Customer {target}", amount * 10))
                continue
            order = Order.place(f"order-{len(orders) + 1}", customer_id, amount)
            repository.save(order)
            orders.append(order.id)
            continue
        order = repository.load(Order, orders[target % len(orders)])
        customer = repository.load(Customer, order.customer_id) if store.stream_version(order.customer_id) else None
        if order.state == PENDING and customer is not None:
            if customer.reserve_credit(order.id, order.order_total):
                order.approve()
            else:
                order.reject("credit limit exceeded")
            repository.save(customer)
        elif order.state == APPROVED and command == 2 and customer is not None:
            order.cancel("changed my mind")
            customer.release_credit(order.id)
            repository.save(customer)
        elif order.state == APPROVED:
            order.ship()
        repository.save(order)
    return repository


def python_state(aggregate: Aggregate) -> dict[str, Any]:
    return {
        "aggregate_id": aggregate.id,
        "version": aggregate.version,
        "created_at": aggregate.created_at,
        "updated_at": aggregate.updated_at,
        **aggregate.to_state(),
    }


def sql_states(store: EventStore, cls: type[Aggregate], **when: Any) -> dict[str, dict[str, Any]]:
    relation = replay_all(store, cls, **when)
    states = {}
    for row in relation.fetchall():
        state = dict(zip(relation.columns, row, strict=True))
        state["created_at"] = state["created_at"].replace(tzinfo=UTC)
        state["updated_at"] = state["updated_at"].replace(tzinfo=UTC)
        states[state["aggregate_id"]] = state
    return states


scripts = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 50), st.integers(1, 400), st.integers(0, 90)), min_size=1, max_size=40
)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=scripts, cut=st.floats(0, 1))
def test_python_fold_and_vectorized_sql_agree_now_and_in_the_past(script, cut):
    clock = Clock()
    store = EventStore(":memory:", clock=clock)
    repository = play(store, clock, script)
    moment = START + (clock.now - START) * cut
    for cls in (Order, Customer):
        folded = fold_all(store, cls)
        in_sql = sql_states(store, cls)
        assert set(folded) == set(in_sql)
        for aggregate_id, aggregate in folded.items():
            loaded = repository.load(cls, aggregate_id)
            assert python_state(loaded) == python_state(aggregate) == in_sql[aggregate_id]
        past_sql = sql_states(store, cls, as_of=moment)
        past_folded = fold_all(store, cls, as_of=moment)
        assert set(past_sql) == set(past_folded)
        for aggregate_id, aggregate in past_folded.items():
            assert python_state(aggregate) == past_sql[aggregate_id]
            assert python_state(repository.load(cls, aggregate_id, as_of=moment)) == past_sql[aggregate_id]


def test_every_order_as_of_a_moment_and_up_to_a_position():
    clock = Clock()
    store = EventStore(":memory:", clock=clock)
    play(store, clock, [(0, 0, 100, 1), (0, 0, 50, 1), (1, 0, 0, 60), (1, 0, 0, 60)])
    states = [(r[0], r[1]) for r in replay_all(store, Order).project("aggregate_id, state").fetchall()]
    assert states == [("order-1", "SHIPPED")]
    before_shipping = clock.now - timedelta(minutes=30)
    assert replay_all(store, Order, as_of=before_shipping).project("state").fetchall() == [("APPROVED",)]
    assert replay_all(store, Order, up_to_position=2).project("state").fetchall() == [("PENDING",)]
    assert replay_all(store, Order, as_of=START).fetchall() == []


def orders_store() -> EventStore:
    store = EventStore(":memory:", clock=Clock())
    repository = Repository(store)
    for i, total in enumerate((100, 50, 70), start=1):
        order = Order.place(f"order-{i}", "customer-1", total)
        repository.save(order)
        if i != 2:
            order.approve()
            repository.save(order)
    return store  # positions: order-1 1, 2; order-2 3; order-3 4, 5


def test_fold_all_up_to_a_position_and_as_of_a_moment_in_any_zone():
    store = orders_store()
    states = {k: (o.state, o.version) for k, o in fold_all(store, Order, up_to_position=3).items()}
    assert states == {"order-1": ("APPROVED", 2), "order-2": ("PENDING", 1)}
    paris = timezone(timedelta(hours=2))
    moment = (START + timedelta(minutes=2)).astimezone(paris)
    assert {k: o.version for k, o in fold_all(store, Order, as_of=moment).items()} == {"order-1": 2}
    assert fold_all(store, Order, as_of=START) == {}
    both = fold_all(store, Order, as_of=START + timedelta(minutes=5), up_to_position=4)
    assert {k: o.version for k, o in both.items()} == {"order-1": 2, "order-2": 1, "order-3": 1}


def test_fold_all_is_quiet_unless_asked_and_then_counts_every_event(capsys):
    store = orders_store()
    Repository(store).save(Customer.register("customer-1", "Ada", 10))  # not an Order: not counted
    fold_all(store, Order)
    assert capsys.readouterr().err == ""
    fold_all(store, Order, progress=True)
    err = capsys.readouterr().err
    assert "5/5" in err and "fold Order" in err


def test_fold_all_folds_an_aggregate_whose_events_span_two_batches():
    store = EventStore(":memory:")
    n = 100_001
    bulk_load(
        store,
        pa.table(
            {
                "aggregate_id": ["order-1"] * n,
                "aggregate_type": ["Order"] * n,
                "version": pa.array(range(1, n + 1), pa.int32()),
                "event_type": ["OrderCreated"] + ["OrderApproved"] * (n - 1),
                "event_data": ['{"customer_id": "c", "order_total": 1}'] + ["{}"] * (n - 1),
            }
        ),
        indexes=False,
    )
    (order,) = fold_all(store, Order).values()
    assert (order.id, order.version, order.state) == ("order-1", n, APPROVED)


def unknown_event(store: EventStore, aggregate_id: str, version: int) -> int:
    position = store.head_position() + 1
    store.connection.execute(
        "INSERT INTO events VALUES (?, ?, 'Order', ?, uuid(), 'OrderTeleported', '{}', '{}', now())",
        [position, aggregate_id, version],
    )
    return position


def test_an_unknown_stored_event_type_is_named_with_its_aggregate_and_position():
    store = orders_store()
    position = unknown_event(store, "order-3", 3)
    for replay in (replay_all, fold_all):
        with pytest.raises(UnknownEventTypeError) as raised:
            replay(store, Order)
        message = str(raised.value)
        assert "'OrderTeleported'" in message and "order-3" in message and f"position {position}" in message
    assert len(replay_all(store, Order, check_types=False).fetchall()) == 3


def test_state_sql_needs_a_vectorized_replay_and_quotes_the_aggregate_type():
    class Plain(Aggregate):
        pass

    with pytest.raises(TypeError) as refused:
        state_sql(Plain)
    assert str(refused.value).startswith("Plain ")  # names the class

    class QuotedOrder(Order):
        aggregate_type = "Order's"

    store = EventStore(":memory:")
    Repository(store).save(QuotedOrder.place("order-1", "customer-1", 5))
    assert [row[0] for row in replay_all(store, QuotedOrder).project("aggregate_id").fetchall()] == ["order-1"]
    assert replay_all(store, Order).fetchall() == []
    assert "'Order''s'" in state_sql(QuotedOrder)


def test_an_aggregate_without_handlers_finds_every_stored_event_unknown():
    class Bare(Aggregate):
        aggregate_type = "Order"
        state_sql: ClassVar[str] = "SELECT aggregate_id, max(version) AS version FROM {events} GROUP BY 1"

    with pytest.raises(UnknownEventTypeError):
        replay_all(orders_store(), Bare)
    assert replay_all(EventStore(":memory:"), Bare).fetchall() == []
