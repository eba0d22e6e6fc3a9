"""Replay three ways agree: Repository.load (Python fold), fold_all (Python, every aggregate), replay_all (SQL).

Hypothesis writes random valid command sequences (the rules pick which commands are valid), at random times,
then compares every aggregate's state, now and as of random moments in the past.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.domain import APPROVED, PENDING, Customer, Order
from labkit.events import EventStore, Repository, fold_all, replay_all
from labkit.events.aggregate import Aggregate
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
