"""Notebook 03's exercise checker: two different correct consumers pass, wrong ones fail on the case that shows it."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from labkit.events import ProcessedEvents, RecordedEvent
from labkit.lab.messaging.exercises import CONSUMER_CASES, check_consumer
from labkit.patterns import IdempotentConsumer, apply_customer_totals


def processed_events_answer(events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
    """The notebook's solution: `ProcessedEvents` filters the batch, the counts and the ids share the transaction."""
    processed = ProcessedEvents("order-counter", connection)
    fresh = processed.unseen(events, connection)
    connection.execute(
        "CREATE TABLE IF NOT EXISTS customer_totals (customer_id VARCHAR PRIMARY KEY, orders BIGINT, revenue BIGINT)"
    )
    for event in fresh:
        if event.event_type == "OrderCreated":
            connection.execute(
                """INSERT INTO customer_totals VALUES (?, 1, ?) ON CONFLICT (customer_id) DO UPDATE
                   SET orders = orders + 1, revenue = revenue + excluded.revenue""",
                [event.event_data["customer_id"], event.event_data["order_total"]],
            )
    processed.record(fresh, connection)


def own_table_answer(events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
    """Another correct answer: its own id table, an insert that reports whether the id was new, totals recomputed."""
    connection.execute("CREATE TABLE IF NOT EXISTS applied (event_id VARCHAR PRIMARY KEY)")
    connection.execute("CREATE TABLE IF NOT EXISTS created (customer_id VARCHAR, order_total BIGINT)")
    for event in events:
        new = connection.execute(
            "INSERT OR IGNORE INTO applied VALUES (?) RETURNING event_id", [str(event.event_id)]
        ).fetchall()
        if new and event.event_type == "OrderCreated":
            connection.execute(
                "INSERT INTO created VALUES (?, ?)", [event.event_data["customer_id"], event.event_data["order_total"]]
            )
    connection.execute(
        """CREATE OR REPLACE TABLE customer_totals AS
           SELECT customer_id, count(*) AS orders, sum(order_total) AS revenue FROM created GROUP BY customer_id"""
    )


def test_two_different_correct_answers_pass_every_case():
    for answer in (processed_events_answer, own_table_answer, IdempotentConsumer("counter", apply_customer_totals)):
        verdict = check_consumer(answer)
        assert verdict.ok, str(verdict)
        assert len(verdict.passed) == len(CONSUMER_CASES) == 5


def test_the_naive_consumer_fails_on_the_redelivery_with_the_hint():
    verdict = check_consumer(apply_customer_totals)
    assert verdict.failed == "given an OrderCreated redelivered in a later batch, then it counts once"
    assert "customer-2 should have 2 orders for 280, you counted 3 for 530" in (verdict.hint or "")
    assert "record the ids you apply" in (verdict.hint or "")
    assert len(verdict.passed) == 1


def test_ids_kept_in_python_memory_fail_on_the_rolled_back_batch():
    seen: set[object] = set()

    def in_memory(events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        fresh = [e for e in events if e.event_id not in seen and not seen.add(e.event_id)]  # type: ignore[func-returns-value]
        apply_customer_totals(fresh, connection)

    verdict = check_consumer(in_memory)
    assert verdict.failed == "given a batch rolled back by a crash and redelivered, then it counts once"
    assert "not in Python memory" in (verdict.hint or "")
    assert len(verdict.passed) == 3


def test_ids_checked_only_against_earlier_batches_fail_on_a_repeat_inside_one():
    def per_batch(events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        processed = ProcessedEvents("order-counter", connection)
        seen = {e.event_id for e in events} - {e.event_id for e in processed.unseen(events, connection)}
        fresh = [e for e in events if e.event_id not in seen]  # a repeat inside the batch slips through
        apply_customer_totals(fresh, connection)
        processed.record(fresh, connection)

    verdict = check_consumer(per_batch)
    assert verdict.failed == "given an OrderCreated repeated inside one batch, then it counts once"


def test_a_consumer_that_counts_every_event_fails_on_the_first_case():
    def counts_all(events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS customer_totals (customer_id VARCHAR PRIMARY KEY, orders INT, revenue INT)"
        )
        for event in events:
            connection.execute(
                """INSERT INTO customer_totals VALUES (?, 1, ?) ON CONFLICT (customer_id) DO UPDATE
                   SET orders = orders + 1, revenue = revenue + excluded.revenue""",
                [event.event_data.get("customer_id", "?"), event.event_data.get("order_total", 0)],
            )

    verdict = check_consumer(counts_all)
    assert verdict.failed == "given each event delivered once, then the totals per customer"
    assert "other events add nothing" in (verdict.hint or "")


def test_a_missing_table_and_a_broken_answer_are_named_not_tracebacks():
    verdict = check_consumer(lambda events, connection: None)
    assert verdict.failed == "given each event delivered once, then the totals per customer"
    assert "there is no table customer_totals" in (verdict.hint or "")
    verdict = check_consumer(lambda events, connection: events[0].no_such_field)
    assert (verdict.hint or "").startswith("your code raised AttributeError")
    assert "give the function itself" in (check_consumer("count_orders").hint or "")
