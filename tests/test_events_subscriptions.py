"""Pull subscriptions: checkpoint committed with the handler's writes; interrupted runs skip nothing, repeat nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from labkit.domain import OrderApproved, OrderCreated
from labkit.events import EventStore, NewEvent, ProcessedEvents, StoreArgumentError, Subscription


def fill(store: EventStore, orders: int) -> None:
    with store.transaction():
        for i in range(1, orders + 1):
            event = NewEvent.of(f"order-{i}", "Order", OrderCreated(customer_id="customer-1", order_total=i))
            store.append([event], expected_version=0)


def record_totals(events, connection):
    connection.execute("CREATE TABLE IF NOT EXISTS totals (order_id VARCHAR, total INTEGER)")
    for event in events:
        connection.execute("INSERT INTO totals VALUES (?, ?)", [event.aggregate_id, event.event_data["order_total"]])


def test_a_subscriber_catches_up_in_batches_and_keeps_its_checkpoint(tmp_path):
    store = EventStore(tmp_path / "events.duckdb")
    fill(store, 25)
    subscription = Subscription("totals", store, store, record_totals, batch_size=10)
    assert subscription.database.connection is store.connection  # callers close it through here
    assert subscription.poll() == 10
    assert (subscription.position, subscription.lag()) == (10, 15)
    assert subscription.run() == 15
    assert subscription.run() == 0
    fill_more = NewEvent.of("order-26", "Order", OrderCreated(customer_id="customer-1", order_total=26))
    store.append([fill_more], expected_version=0)
    assert Subscription("totals", store, store, record_totals).run() == 1  # a new runner resumes at the checkpoint
    assert store.connection.execute("SELECT count(*), sum(total) FROM totals").fetchall() == [(26, 351)]


def test_a_crash_in_the_middle_of_a_batch_rolls_back_its_writes_and_the_checkpoint(tmp_path):
    store = EventStore(tmp_path / "events.duckdb")
    fill(store, 30)
    calls = {"n": 0}

    def crashing(events, connection):
        record_totals(events[:5], connection)  # half the batch is written...
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")  # ...then the process dies
        record_totals(events[5:], connection)

    subscription = Subscription("totals", store, store, crashing, batch_size=10)
    with pytest.raises(RuntimeError):
        subscription.run()
    assert subscription.position == 10
    assert subscription.run() == 20
    rows = store.connection.execute("SELECT order_id, count(*) FROM totals GROUP BY 1 HAVING count(*) != 1").fetchall()
    assert rows == []
    assert store.connection.execute("SELECT count(*) FROM totals").fetchall() == [(30,)]


def test_the_checkpoint_can_live_in_another_duckdb_file_with_the_consumers_writes(tmp_path):
    store = EventStore(tmp_path / "orders.duckdb")
    fill(store, 12)
    view = duckdb.connect(str(tmp_path / "history.duckdb"))
    subscription = Subscription("history", store, view, record_totals, batch_size=5)
    assert subscription.run() == 12
    view.close()
    view = duckdb.connect(str(tmp_path / "history.duckdb"))
    assert view.execute("SELECT position FROM subscription_checkpoints").fetchall() == [(12,)]
    assert view.execute("SELECT count(*) FROM totals").fetchall() == [(12,)]


def test_processed_events_filter_duplicates_for_at_least_once_consumers(tmp_path):
    store = EventStore(":memory:")
    fill(store, 3)
    events = store.read_all()
    consumer_db = duckdb.connect(str(tmp_path / "consumer.duckdb"))
    processed = ProcessedEvents("mailer", consumer_db)
    assert [e.position for e in processed.unseen([*events, events[0]], consumer_db)] == [1, 2, 3]
    processed.record(events[:2], consumer_db)
    assert [e.position for e in processed.unseen(events, consumer_db)] == [3]


SUBSCRIBER = textwrap.dedent(
    """
    import sys, time
    from labkit.events import EventStore, Subscription

    def slow(events, connection):
        connection.execute("CREATE TABLE IF NOT EXISTS seen (position BIGINT)")
        for event in events:
            connection.execute("INSERT INTO seen VALUES (?)", [event.position])
            if event.position == 37:
                print("mid-batch", flush=True)
                time.sleep(60)  # killed here, in the middle of its third batch

    store = EventStore(sys.argv[1])
    Subscription("seen", store, store, slow, batch_size=15).run()
    """
)


@pytest.mark.slow
def test_kill_9_in_the_middle_of_a_batch_then_restart_skips_nothing_and_repeats_nothing(tmp_path):
    path = tmp_path / "events.duckdb"
    with EventStore(path) as store:
        fill(store, 50)
    process = subprocess.Popen(
        [sys.executable, "-c", SUBSCRIBER, str(path)], stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "mid-batch"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)  # reaped: its lock on the file is gone with it
    with EventStore(path) as store:
        subscription = Subscription("seen", store, store, lambda e, c: None)
        assert subscription.position == 30  # two batches committed, the third died with its writes
        seen_before = store.connection.execute("SELECT count(*) FROM seen").fetchall()[0][0]
        assert seen_before == 30

        def finish(events, connection):
            for event in events:
                connection.execute("INSERT INTO seen VALUES (?)", [event.position])

        assert Subscription("seen", store, store, finish, batch_size=15).run() == 20
        positions = [row[0] for row in store.connection.execute("SELECT position FROM seen ORDER BY 1").fetchall()]
    assert positions == list(range(1, 51))


def test_a_handler_may_append_to_the_store_it_reads_in_the_same_transaction():
    store = EventStore(":memory:")
    fill(store, 2)

    def approve(events, connection):
        for event in events:
            store.append([NewEvent.of(event.aggregate_id, "Order", OrderApproved())], expected_version=1)

    subscription = Subscription("approver", store, store, approve, batch_size=2)
    assert subscription.poll() == 2
    assert [(e.aggregate_id, e.event_type, e.position) for e in store.read_all(after_position=2)] == [
        ("order-1", "OrderApproved", 3),
        ("order-2", "OrderApproved", 4),
    ]
    assert subscription.position == 2


def test_a_crashing_handler_on_a_plain_connection_rolls_back_its_writes_and_keeps_the_checkpoint(tmp_path):
    store = EventStore(":memory:")
    fill(store, 3)
    view = duckdb.connect(str(tmp_path / "view.duckdb"))

    def crashing(events, connection):
        record_totals(events, connection)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        Subscription("totals", store, view, crashing).poll()
    assert Subscription("totals", store, view, record_totals).position == 0
    assert view.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'totals'").fetchall() == [(0,)]
    assert Subscription("totals", store, view, record_totals).run() == 3


def test_a_batch_another_runner_already_committed_is_skipped():
    store = EventStore(":memory:")
    fill(store, 3)
    seen = []
    first = Subscription("totals", store, store, lambda events, connection: seen.extend(events))
    second = Subscription("totals", store, store, lambda events, connection: seen.extend(events))
    stale = store.read_all

    def read_all(*, after_position=0, limit=1000):
        return stale(after_position=0, limit=limit)  # a runner that read before the other committed

    assert first.run() == 3
    second.source = type("Stale", (), {"read_all": staticmethod(read_all)})()
    assert second.poll() == 0
    assert [e.position for e in seen] == [1, 2, 3]
    boundary = type("AtCheckpoint", (), {"read_all": staticmethod(lambda **kw: stale(after_position=2))})()
    second.source = boundary
    assert second.poll() == 0  # its first event is at the checkpoint already: handled once


def test_run_stops_when_asked_and_after_max_events(tmp_path):
    store = EventStore(":memory:")
    fill(store, 10)
    subscription = Subscription("totals", store, store, record_totals, batch_size=3)
    stop = threading.Event()
    stop.set()
    assert subscription.run(stop=stop, follow=True) == 0
    assert subscription.run(max_events=0) == 0
    assert subscription.run(max_events=3) == 3
    assert subscription.run(max_events=4) == 6  # whole batches: stops at the first batch boundary past it
    assert subscription.run(stop=threading.Event()) == 1


def test_following_waits_for_new_events_until_stopped():
    store = EventStore(":memory:")
    fill(store, 1)
    stop = threading.Event()
    polls = []

    def handler(events, connection):
        polls.extend(events)
        if len(polls) == 2:
            stop.set()

    subscription = Subscription("follower", store, store, handler)
    runner = threading.Thread(
        target=lambda: polls.append(subscription.run(stop=stop, follow=True, idle_seconds=0.01)), daemon=True
    )  # daemon: a runner that never stops fails this test, it does not hang the process
    runner.start()
    time.sleep(0.1)
    assert runner.is_alive()  # caught up, but following
    store.append([NewEvent.of("order-9", "Order", OrderCreated(customer_id="c", order_total=9))], expected_version=0)
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert polls[-1] == 2


def test_lag_is_zero_when_caught_up_and_unknown_without_a_head():
    store = EventStore(":memory:")
    fill(store, 2)
    subscription = Subscription("totals", store, store, record_totals)
    assert subscription.lag() == 2
    subscription.run()
    assert subscription.lag() == 0
    feed = type("Feed", (), {"read_all": staticmethod(store.read_all)})()
    with pytest.raises(TypeError) as unknown:
        Subscription("feed", feed, store, record_totals).lag()
    assert str(unknown.value).startswith("Feed ")  # names the source that cannot say


def test_the_checkpoint_records_when_it_moved_by_the_subscription_clock(tmp_path):
    store = EventStore(":memory:")
    fill(store, 1)
    paris = datetime(2025, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    Subscription("totals", store, store, record_totals, clock=lambda: paris).run()
    assert store.connection.execute(
        "SELECT subscription, position, updated_at FROM subscription_checkpoints"
    ).fetchall() == [("totals", 1, datetime(2025, 3, 1, 12, 30))]


def test_processed_events_handle_empty_batches_and_consumers_apart(tmp_path):
    store = EventStore(":memory:")
    fill(store, 2)
    events = store.read_all()
    db = duckdb.connect(":memory:")
    mailer, billing = ProcessedEvents("mailer", db), ProcessedEvents("billing", db)
    assert mailer.unseen([], db) == []
    mailer.record([], db)
    mailer.record(events, db)
    mailer.record(events[:1], db)  # recording again is harmless
    assert mailer.unseen(events, db) == []
    assert billing.unseen(events, db) == events


def test_a_poll_handles_at_most_500_events_unless_told():
    store = EventStore(":memory:")
    fill(store, 501)
    assert Subscription("totals", store, store, record_totals).poll() == 500


@pytest.mark.parametrize(
    ("arguments", "parameter", "value"),
    [({"name": ""}, "name", ""), ({"batch_size": 0}, "batch_size", 0), ({"batch_size": 1.5}, "batch_size", 1.5)],
)
def test_a_subscription_refuses_a_bad_name_or_batch_size_naming_it(arguments, parameter, value):
    store = EventStore(":memory:")
    given = {"name": "totals", "batch_size": 500, **arguments}
    with pytest.raises(StoreArgumentError) as refused:
        Subscription(given.pop("name"), store, store, lambda events, connection: None, **given)
    assert (refused.value.parameter, refused.value.value) == (parameter, value)
    assert Subscription("totals", store, store, lambda events, connection: None, batch_size=1).batch_size == 1
