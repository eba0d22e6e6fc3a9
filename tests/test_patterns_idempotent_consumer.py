"""Idempotent consumers against a flaky delivery of real events: duplicates skipped, gaps waited for or rejected."""

from __future__ import annotations

import duckdb
import pytest

from labkit.domain import Order
from labkit.events import EventStore, Subscription, replay_all
from labkit.patterns.delivery import DeliveryFeed, out_of_order_count, unreliable_delivery
from labkit.patterns.errors import OutOfOrderError, PatternsError
from labkit.patterns.idempotent_consumer import IdempotentConsumer
from labkit.patterns.order_views import ORDER_STATES_SQL, apply_customer_totals, apply_order_states
from labkit.workload import generate


@pytest.fixture(scope="module")
def order_events(tmp_path_factory):
    """The Order events of a small seeded workload, and the true state of every order and customer."""
    workload = generate(tmp_path_factory.mktemp("workload"), customers=30, orders=300, seed=5, progress=False)
    with EventStore(workload.store_path) as store:
        events = store.read_all(limit=100_000, aggregate_type="Order")
        states = dict(replay_all(store, Order).select("aggregate_id, state").fetchall())
        totals = {
            row[0]: (row[1], row[2])
            for row in replay_all(store, Order)
            .aggregate("customer_id, count(*)::BIGINT, sum(order_total)::BIGINT")
            .fetchall()
        }
    return events, states, totals


def consume(deliveries, handler, database=None, name="consumer"):
    """Run a pull subscriber over the deliveries with `handler`; the consumer's database."""
    database = database or duckdb.connect()
    Subscription(name, DeliveryFeed(deliveries), database, handler, batch_size=64).run()
    return database


def test_the_flaky_delivery_repeats_and_reorders_the_same_way_for_the_same_seed(order_events):
    events, _, _ = order_events
    deliveries = unreliable_delivery(events, seed=11, duplicate_rate=0.1, delay_rate=0.1)
    again = unreliable_delivery(events, seed=11, duplicate_rate=0.1, delay_rate=0.1)
    assert [e.event_id for e in deliveries] == [e.event_id for e in again]
    assert len(deliveries) > len(events)
    assert {e.event_id for e in deliveries} == {e.event_id for e in events}
    assert out_of_order_count(deliveries) > 0
    assert out_of_order_count(events) == 0
    assert [e.event_id for e in unreliable_delivery(events, seed=11, duplicate_rate=0, delay_rate=0)] == [
        e.event_id for e in events
    ]


def test_the_naive_consumer_double_counts_and_the_idempotent_one_is_exact(order_events):
    events, _, truth = order_events
    deliveries = unreliable_delivery(events, seed=3, duplicate_rate=0.2, delay_rate=0.0)
    naive = consume(deliveries, apply_customer_totals)
    exact = consume(deliveries, IdempotentConsumer("totals", apply_customer_totals))
    query = "SELECT customer_id, orders, revenue FROM customer_totals"
    naive_totals = {row[0]: (row[1], row[2]) for row in naive.execute(query).fetchall()}
    exact_totals = {row[0]: (row[1], row[2]) for row in exact.execute(query).fetchall()}
    assert exact_totals == truth
    assert naive_totals != truth
    assert sum(o for o, _ in naive_totals.values()) > sum(o for o, _ in truth.values())


def test_out_of_order_events_wait_for_the_missing_versions(order_events):
    events, truth, _ = order_events
    deliveries = unreliable_delivery(events, seed=4, duplicate_rate=0.1, delay_rate=0.2, max_delay=6)
    assert out_of_order_count(deliveries) > 0
    consumer = IdempotentConsumer("states", apply_order_states, out_of_order="wait")
    waiting = consume(deliveries, consumer)
    naive = consume(deliveries, apply_order_states)
    query = "SELECT order_id, state FROM order_states"
    assert dict(waiting.execute(query).fetchall()) == truth
    assert dict(naive.execute(query).fetchall()) != truth
    assert consumer.totals.parked > 0
    assert consumer.totals.released == consumer.totals.parked
    assert consumer.totals.applied == len(events)
    assert consumer.waiting(waiting) == []


def test_reject_mode_refuses_the_batch_and_keeps_the_checkpoint(order_events):
    events, _, _ = order_events
    order = [e for e in events if e.aggregate_id == events[0].aggregate_id]
    assert len(order) >= 2
    database = duckdb.connect()
    database.execute(ORDER_STATES_SQL)
    consumer = IdempotentConsumer("strict", apply_order_states, out_of_order="reject")
    subscription = Subscription("strict", DeliveryFeed([order[1], order[0]]), database, consumer)
    with pytest.raises(OutOfOrderError, match=f"{order[0].aggregate_id} version 2 arrived before version 1"):
        subscription.poll()
    assert subscription.position == 0
    assert database.execute("SELECT count(*) FROM order_states").fetchone() == (0,)


def test_a_restarted_consumer_resumes_with_its_parked_events(order_events, tmp_path):
    events, truth, _ = order_events
    deliveries = unreliable_delivery(events, seed=8, duplicate_rate=0.1, delay_rate=0.2)
    path = str(tmp_path / "consumer.duckdb")
    feed = DeliveryFeed(deliveries)
    with duckdb.connect(path) as database:
        first = IdempotentConsumer("states", apply_order_states)
        subscription = Subscription("states", feed, database, first, batch_size=10)
        while subscription.poll() and not first.waiting(database):
            pass  # stop the first run where a gap is open, with an event parked
        assert first.waiting(database), "the run stopped with an event parked (a gap not filled yet)"
    # A new process would start from here: a new connection, a new consumer object, the same database file.
    with duckdb.connect(path) as database:
        second = IdempotentConsumer("states", apply_order_states)
        Subscription("states", feed, database, second, batch_size=200).run()
        assert dict(database.execute("SELECT order_id, state FROM order_states").fetchall()) == truth
        assert second.waiting(database) == []
        assert first.totals.applied + second.totals.applied == len(events)


def test_without_version_checks_it_still_skips_repeats(order_events):
    events, _, truth = order_events
    created = [e for e in events if e.event_type == "OrderCreated"]
    deliveries = unreliable_delivery(created, seed=2, duplicate_rate=0.3, delay_rate=0.3)
    consumer = IdempotentConsumer("totals", apply_customer_totals, check_versions=False)
    database = consume(deliveries, consumer)
    totals = {row[0]: (row[1], row[2]) for row in database.execute("SELECT * FROM customer_totals").fetchall()}
    assert totals == truth
    assert consumer.totals.parked == 0
    assert consumer.totals.duplicates == len(deliveries) - len(created)


def test_bad_settings_are_refused_with_the_value():
    with pytest.raises(PatternsError, match="'later'"):
        IdempotentConsumer("x", apply_order_states, out_of_order="later")  # type: ignore[arg-type]
    with pytest.raises(PatternsError, match=r"duplicate_rate must be between 0 and 1, got 1\.5"):
        unreliable_delivery([], seed=1, duplicate_rate=1.5)
