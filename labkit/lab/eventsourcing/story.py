"""The source's example, told with the real store: customer 7 places Order 101, which is approved and shipped.

Times and event ids are fixed (ids derived from the story's step names), so notebooks show the same table each run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pandas as pd

from labkit.domain import Customer, Order
from labkit.events.aggregate import Aggregate
from labkit.events.event import derived_event_id
from labkit.events.repository import Repository
from labkit.events.store import EventStore

STORY_START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
STORY_ID = UUID("00000000-0000-4000-8000-000000000101")


class StoryClock:
    """A clock that advances by a fixed step each time the store reads it."""

    def __init__(self, start: datetime = STORY_START, step: timedelta = timedelta(minutes=7)) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        moment = self.now
        self.now += self.step
        return moment


def step_id(step: str) -> UUID:
    """The id of the first event a story step emits."""
    return derived_event_id(STORY_ID, f"{step}:0")


def save_as(repository: Repository, aggregate: Aggregate, step: str, *, caused_by: str | None = None) -> None:
    """Save with event ids derived from the step's name (so the story's ids never change) and causation metadata."""
    metadata = {"correlation_id": str(step_id("place order 101"))}
    if caused_by:
        metadata["causation_id"] = str(step_id(caused_by))
    aggregate.pending = [
        type(e)(**{**e.__dict__, "event_id": derived_event_id(STORY_ID, f"{step}:{i}"), "metadata": metadata})
        for i, e in enumerate(aggregate.pending)
    ]
    repository.save(aggregate)


def order_101(store: EventStore | None = None) -> Repository:
    """A store holding customer 7 and Order 101 (created, approved, shipped), with the saga's credit events."""
    repository = Repository(store or EventStore(":memory:", clock=StoryClock()))
    save_as(repository, Customer.register("customer-7", "Ada Lovelace", 1000), "register customer 7")
    order = Order.place("order-101", customer_id="customer-7", order_total=250)
    save_as(repository, order, "place order 101")
    customer = repository.load(Customer, "customer-7")
    customer.reserve_credit("order-101", 250)
    save_as(repository, customer, "reserve credit for order 101", caused_by="place order 101")
    order.approve()
    save_as(repository, order, "approve order 101", caused_by="reserve credit for order 101")
    order.ship()
    save_as(repository, order, "ship order 101")
    return repository


def event_table(store: EventStore, aggregate_id: str | None = None) -> pd.DataFrame:
    """The event table as the source draws it (plus version and position), for one aggregate or all."""
    events = store.read_stream(aggregate_id) if aggregate_id else _all(store)
    return pd.DataFrame(
        [
            {
                "position": e.position,
                "aggregate_id": e.aggregate_id,
                "aggregate_type": e.aggregate_type,
                "version": e.version,
                "event_id": str(e.event_id)[:8] + "…",
                "event_type": e.event_type,
                "event_data": dict(e.event_data),
            }
            for e in events
        ]
    ).set_index("position")


def audit_log(store: EventStore, aggregate_id: str | None = None) -> pd.DataFrame:
    """Who changed what and when: every event with its time and its correlation and causation ids."""
    events = store.read_stream(aggregate_id) if aggregate_id else _all(store)
    return pd.DataFrame(
        [
            {
                "recorded_at (UTC)": e.recorded_at.strftime("%Y-%m-%d %H:%M"),
                "aggregate_id": e.aggregate_id,
                "event_type": e.event_type,
                "event_data": dict(e.event_data),
                "correlation": str(e.metadata.get("correlation_id", ""))[:8],
                "caused by": str(e.metadata.get("causation_id", ""))[:8],
            }
            for e in events
        ]
    )


def _all(store: EventStore) -> Iterator:
    after = 0
    while batch := store.read_all(after_position=after, limit=1000):
        yield from batch
        after = batch[-1].position
