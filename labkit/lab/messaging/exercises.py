"""Notebook 03's exercise: an idempotent consumer that counts orders per customer, each event at most once.

The learner writes a batch handler `count_orders(events, connection)`, as a pull subscriber calls it: the events of
one batch and the connection of the transaction that will also commit the subscriber's checkpoint. It keeps
`customer_totals(customer_id, orders, revenue)` from OrderCreated events and skips any event whose id it applied
before. `check_consumer` feeds it real deliveries through a real `Subscription` into a DuckDB database (a file for
the restart): given what the broker delivers (repeats in one batch, redeliveries in a later one, a batch rolled back
by a crash, a restart), then the totals are exactly the orders stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from labkit.domain import OrderApproved, OrderCreated, OrderShipped
from labkit.events import EventStore, NewEvent, RecordedEvent, Subscription
from labkit.lab.exercises import Case, Failed, Verdict, check, expect, refuse
from labkit.patterns import DeliveryFeed

Consumer = Callable[[Sequence[RecordedEvent], duckdb.DuckDBPyConnection], None]
Totals = dict[str, tuple[int, int]]  # customer_id -> (orders, revenue)

# Six orders of three customers; orders 1 and 2 are approved, order 1 shipped (events that carry no total).
ORDERS = (
    ("order-1", "customer-1", 120),
    ("order-2", "customer-2", 250),
    ("order-3", "customer-1", 75),
    ("order-4", "customer-3", 400),
    ("order-5", "customer-2", 30),
    ("order-6", "customer-1", 990),
)


class _Crash(Exception):
    """The subscriber dies after the handler ran and before its transaction committed."""


@functools.cache
def _recorded() -> tuple[RecordedEvent, ...]:
    """The orders' events as an event store records them, in position order (written once per process)."""
    with EventStore(":memory:") as store:
        for order_id, customer_id, total in ORDERS:
            store.append([NewEvent.of(order_id, "Order", OrderCreated(customer_id, total))], expected_version=0)
        store.append([NewEvent.of("order-1", "Order", OrderApproved())], expected_version=1)
        store.append([NewEvent.of("order-2", "Order", OrderApproved())], expected_version=1)
        store.append([NewEvent.of("order-1", "Order", OrderShipped())], expected_version=2)
        return tuple(store.read_all())


def order_events() -> list[RecordedEvent]:
    """The orders' events, with fresh event ids on every call (so no case can lean on ids an earlier one saw)."""
    return [dataclasses.replace(event, event_id=uuid.uuid4()) for event in _recorded()]


def true_totals(events: Sequence[RecordedEvent]) -> Totals:
    """Orders and revenue per customer, each OrderCreated once: what the consumer must end with."""
    totals: Totals = {}
    for event in {e.event_id: e for e in events if e.event_type == "OrderCreated"}.values():
        orders, revenue = totals.get(event.event_data["customer_id"], (0, 0))
        totals[event.event_data["customer_id"]] = (orders + 1, revenue + int(event.event_data["order_total"]))
    return totals


def _counted(connection: duckdb.DuckDBPyConnection) -> Totals:
    try:
        rows = connection.execute("SELECT customer_id, orders, revenue FROM customer_totals").fetchall()
    except duckdb.Error as error:
        raise Failed(
            "there is no table customer_totals(customer_id, orders, revenue) to read: create it with `connection` "
            f"({type(error).__name__})"
        ) from None
    return {str(customer): (int(orders), int(revenue)) for customer, orders, revenue in rows}


def _expect_totals(counted: Totals, truth: Totals, hint: str) -> None:
    for customer in sorted(set(truth) | set(counted)):
        want, got = truth.get(customer, (0, 0)), counted.get(customer, (0, 0))
        expect(
            got == want,
            f"{customer} should have {want[0]} orders for {want[1]}, you counted {got[0]} for {got[1]}: {hint}",
        )


def _consume(answer: Consumer, database: str, deliveries: Sequence[RecordedEvent], batch_size: int) -> Totals:
    """Run a pull subscriber with the answer as its handler over `deliveries`, into a DuckDB database (a file, or
    ":memory:" where no case needs a second process)."""
    with duckdb.connect(database) as connection:
        Subscription("order-counter", DeliveryFeed(deliveries), connection, answer, batch_size=batch_size).run()
        return _counted(connection)


def _case(name: str, pick: Callable[[list[RecordedEvent]], list[RecordedEvent]], batch_size: int, hint: str) -> Case:
    """A case: these deliveries (picked from fresh events), in batches of `batch_size`, must give the true totals."""

    def run(answer: Consumer) -> None:
        events = order_events()
        counted = _consume(answer, ":memory:", pick(events), batch_size)
        _expect_totals(counted, true_totals(events), hint)

    return Case(name, run)


def _crash_then_redeliver(answer: Consumer) -> None:
    events = order_events()

    def crashing(batch: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        answer(batch, connection)
        raise _Crash

    with duckdb.connect() as connection:
        feed = DeliveryFeed(events)
        with contextlib.suppress(_Crash):  # rolled back: the counts, the ids and the checkpoint as before the batch
            Subscription("order-counter", feed, connection, crashing, batch_size=4).poll()
        Subscription("order-counter", feed, connection, answer, batch_size=4).run()
        counted = _counted(connection)
    _expect_totals(
        counted,
        true_totals(events),
        "the first batch was rolled back by a crash and delivered again, so it must count now; keep the ids in a "
        "table written with `connection` (rolled back with the counts), not in Python memory",
    )


def _restart(answer: Consumer) -> None:
    events = order_events()
    deliveries = [*events, *events[:3]]  # after the restart, the broker redelivers the first three
    with tempfile.TemporaryDirectory(prefix="labkit-exercise-") as folder:
        path = Path(folder) / "consumer.duckdb"
        with duckdb.connect(str(path)) as connection:  # the first process reads the first nine, then stops
            Subscription("order-counter", DeliveryFeed(deliveries), connection, answer, batch_size=3).run(
                max_events=len(events)
            )
        counted = _consume(answer, str(path), deliveries, 3)  # a new process on the same database file
    _expect_totals(
        counted,
        true_totals(events),
        "after a restart the consumer must still know which ids it applied: keep them in its database, in a table",
    )


CONSUMER_CASES = (
    _case(
        "given each event delivered once, then the totals per customer",
        lambda events: events,
        100,
        "each OrderCreated adds one order and its order_total to its customer; other events add nothing",
    ),
    _case(
        "given an OrderCreated redelivered in a later batch, then it counts once",
        lambda events: [*events, events[1], events[3]],
        3,
        "an event id applied in an earlier batch must be skipped: record the ids you apply, with `connection`",
    ),
    _case(
        "given an OrderCreated repeated inside one batch, then it counts once",
        lambda events: [events[0], events[0], *events[1:4], events[2], *events[4:]],
        100,
        "a batch can hold the same event twice: skip the second one too (ids not yet recorded included)",
    ),
    Case("given a batch rolled back by a crash and redelivered, then it counts once", _crash_then_redeliver),
    Case("given a restart on the same database and redeliveries, then they count once", _restart),
)


def check_consumer(answer: Consumer) -> Verdict:
    """Judge a batch handler `count_orders(events, connection)`: passed, or the first case it fails with a hint."""
    if not callable(answer):
        return refuse(f"give the function itself, count_orders(events, connection) (got {answer!r})")
    return check(answer, CONSUMER_CASES)
