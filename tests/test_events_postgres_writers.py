"""Writers in other sessions of the same PostgreSQL store: the database refuses the second of two that race, the
insert lock orders positions by commit, and subscribers hear of each commit.

A race is staged without threads where it can be: the store reads its clock between checking the stream and
inserting, so a clock that lets another session append at that moment puts the other writer exactly in between.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from labkit.events import (
    ConcurrencyError,
    DuplicateEventError,
    EventStore,
    NewEvent,
    Subscription,
    append_aggregates,
)
from labkit.events.postgres import PostgresEventStore
from tests.events_contract import Ticker, ticks
from tests.pg_schemas import fresh_schema
from tests.polling import wait_until

NOON = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Meddler:
    """A clock that, the first time it is read, runs `meddle` (another session's write) and then tells the time."""

    def __init__(self) -> None:
        self.meddle: Callable[[], object] = lambda: None

    def __call__(self) -> datetime:
        meddle, self.meddle = self.meddle, lambda: None
        meddle()
        return NOON


@pytest.fixture
def two_sessions(postgres_url: str) -> Iterator[tuple[PostgresEventStore, PostgresEventStore, Meddler]]:
    """Two stores on one schema (positions from the sequence: no insert lock to keep the other one waiting)."""
    schema, clock = fresh_schema("race"), Meddler()
    first = PostgresEventStore(postgres_url, schema=schema, positions="sequence", clock=clock)
    second = PostgresEventStore(postgres_url, schema=schema, positions="sequence")
    yield first, second, clock
    second.close()
    first.drop()
    first.close()


def test_the_database_refuses_the_second_writer_of_a_version(two_sessions) -> None:
    first, second, clock = two_sessions
    theirs = ticks("a", 1)
    clock.meddle = lambda: second.append(theirs, expected_version=0)
    with pytest.raises(ConcurrencyError) as refused:
        first.append(ticks("a", 1), expected_version=0)
    assert (refused.value.aggregate_id, refused.value.expected, refused.value.actual) == ("a", 0, 1)
    assert [e.event_id for e in first.read_stream("a")] == [theirs[0].event_id]
    assert first.in_transaction is False


def test_the_refusal_names_the_event_of_a_later_version_that_lost(two_sessions) -> None:
    first, second, clock = two_sessions
    second.append(ticks("a", 2), expected_version=0)
    clock.meddle = lambda: second.append(ticks("a", 1, start=3), expected_version=2)
    with pytest.raises(ConcurrencyError) as refused:
        first.append(ticks("a", 2, start=3), expected_version=2)
    assert (refused.value.aggregate_id, refused.value.expected, refused.value.actual) == ("a", 2, 3)


def test_an_id_another_writer_stored_meanwhile_is_refused_by_name(two_sessions) -> None:
    first, second, clock = two_sessions
    mine = ticks("a", 2)
    stolen = NewEvent("b", "Ticker", "ContractTicked", {"n": 1, "note": None}, mine[1].event_id)
    clock.meddle = lambda: second.append([stolen], expected_version=0)
    with pytest.raises(DuplicateEventError) as refused:
        first.append(mine, expected_version=0)
    assert refused.value.event_id == mine[1].event_id
    assert first.read_stream("a") == [] and [e.aggregate_id for e in first.read_all()] == ["b"]


def test_a_second_writer_waits_for_the_first_to_commit_and_its_positions_come_after(postgres_url: str) -> None:
    schema = fresh_schema("locked")
    first = PostgresEventStore(postgres_url, schema=schema)
    second = PostgresEventStore(postgres_url, schema=schema)
    done = threading.Event()

    def append_second() -> None:
        second.append(ticks("b", 2), expected_version=0)
        done.set()

    writer = threading.Thread(target=append_second, daemon=True)
    try:
        with first.transaction():
            first.append(ticks("a", 1), expected_version=0)
            writer.start()
            waiting = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation " \
                      "WHERE NOT l.granted AND c.relname = 'events' AND c.relnamespace = %s::regnamespace"  # fmt: skip
            wait_until(
                lambda: first.connection.execute(waiting, [schema]).fetchone()[0],  # another connection: outside
                timeout=10,
                what="the second writer to wait for the insert lock",
            )
            assert not done.is_set()
            first.append(ticks("a", 1, start=2), expected_version=1)  # the lock is held to the commit
        writer.join(10)
        assert done.is_set()
        assert [(e.aggregate_id, e.position) for e in first.read_all()] == [("a", 1), ("a", 2), ("b", 3), ("b", 4)]
    finally:
        writer.join(10)
        second.close()
        first.drop()
        first.close()


def test_a_subscriber_hears_the_head_each_commit_reached(postgres_url: str) -> None:
    schema = fresh_schema("news")
    with (
        PostgresEventStore(postgres_url, schema=schema) as writer,
        PostgresEventStore(postgres_url, schema=schema) as reader,
    ):
        assert reader.channel == f"{schema}_events"
        reader.listen()
        assert reader.wait_for_news(0.05) is None  # nothing committed
        writer.append(ticks("a", 3), expected_version=0)
        assert reader.wait_for_news(10) == 3
        with writer.transaction():
            writer.append(ticks("b", 1), expected_version=0)
            assert reader.wait_for_news(0.2) is None  # not before the commit
        assert reader.wait_for_news(10) == 4
        writer.drop()


def test_with_sequence_positions_a_later_writer_does_not_wait_and_its_position_shows_first(two_sessions) -> None:
    """The naive design the lab measures: nothing orders commits, so a reader can see position 2 before 1."""
    first, second, _ = two_sessions
    with first.transaction():
        first.append(ticks("a", 1), expected_version=0)
        writer = threading.Thread(target=lambda: second.append(ticks("b", 1), expected_version=0), daemon=True)
        writer.start()
        writer.join(10)
        assert not writer.is_alive()  # it did not wait for the open transaction
        assert [(e.aggregate_id, e.position) for e in second.read_all()] == [("b", 2)]  # 1 is not visible yet
    assert [(e.aggregate_id, e.position) for e in second.read_all()] == [("a", 1), ("b", 2)]
    # The unit of work's path (append_aggregates, write_rows) takes no lock either.
    with first.transaction():
        ticker = Ticker("c")
        ticker.pending, ticker.version = ticks("c", 1), 1
        append_aggregates(first, [ticker])
        writer = threading.Thread(target=lambda: second.append(ticks("d", 1), expected_version=0), daemon=True)
        writer.start()
        writer.join(10)
        assert not writer.is_alive()
    assert [(e.aggregate_id, e.position) for e in second.read_all(after_position=2)] == [("c", 3), ("d", 4)]


def test_a_following_subscription_wakes_on_a_commit_and_still_stops_when_no_news_comes(postgres_url: str) -> None:
    schema = fresh_schema("follow")
    with PostgresEventStore(postgres_url, schema=schema) as source, EventStore(":memory:") as target:
        seen: list[int] = []
        subscription = Subscription(
            "follower", source, target, lambda events, _: seen.extend(e.position for e in events)
        )
        stop = threading.Event()
        # Idle for 30 s between polls unless told of news: the append below must wake it long before.
        runner = threading.Thread(target=lambda: subscription.run(stop=stop, follow=True, idle_seconds=30), daemon=True)
        runner.start()
        wait_until(lambda: source._listener is not None, timeout=10, what="the subscription to listen")
        source.append(ticks("a", 2), expected_version=0)
        wait_until(lambda: seen == [1, 2], timeout=10, what="the follower to handle the new events")
        stop.set()
        source.append(ticks("a", 1, start=3), expected_version=2)  # news, so it looks at `stop` now
        runner.join(10)
        assert not runner.is_alive()
        # No news at all: it wakes every `idle_seconds` and sees `stop`.
        stop = threading.Event()
        runner = threading.Thread(
            target=lambda: subscription.run(stop=stop, follow=True, idle_seconds=0.05), daemon=True
        )
        runner.start()
        wait_until(lambda: subscription.position == 3, timeout=10, what="the follower to catch up")
        stop.set()
        runner.join(10)
        assert not runner.is_alive()
        source.drop()
