"""Loading and saving aggregates: replay (from a snapshot when there is one), save with a snapshot policy, time travel.

Loading reads the events as Arrow columns and folds them with `Aggregate.fold_json`: no Python tuple and no
envelope per event, which is what makes Python replay fast (see `labkit bench events`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from labkit.events.aggregate import Aggregate
from labkit.events.errors import AggregateNotFoundError
from labkit.events.loading import aggregate_from
from labkit.events.recorder import AppendResult, Recorder
from labkit.events.snapshots import save_snapshot
from labkit.events.unit import UnitOfWork

A = TypeVar("A", bound=Aggregate)


class Repository:
    """Aggregates of one event store (any back-end): `load`, `save`, and a snapshot policy "every N events" per
    aggregate type.

    >>> from labkit.domain import Order
    >>> from labkit.events import EventStore
    >>> repository = Repository(EventStore(":memory:"), snapshot_every={Order: 2})
    >>> order = Order.place("order-101", customer_id="customer-7", order_total=250)
    >>> order.approve()
    >>> _ = repository.save(order)
    >>> repository.load(Order, "order-101").state
    'APPROVED'
    >>> repository.load(Order, "order-101", version=1).state
    'PENDING'
    """

    def __init__(self, store: Recorder, *, snapshot_every: Mapping[type[Aggregate], int] | None = None) -> None:
        self.store = store
        self.snapshot_every = {cls.aggregate_type: every for cls, every in (snapshot_every or {}).items()}
        for every in self.snapshot_every.values():
            if every < 1:
                raise ValueError(f"snapshot_every must be 1 or more events, got {every}")

    def save(self, aggregate: Aggregate, *, metadata: Mapping[str, Any] | None = None) -> AppendResult:
        """Append the aggregate's pending events (expecting the version it was loaded at), snapshot per the policy.

        `metadata` (correlation and causation ids) is added to each pending event's own metadata.
        """
        with self.store.transaction():
            return self.unit_of_work().save(aggregate, metadata=metadata)

    def save_all(self, aggregates: Sequence[Aggregate], *, metadata: Mapping[str, Any] | None = None) -> int:
        """Save many aggregates' pending events in one transaction and a few statements; snapshots follow the
        policy. How many events were appended."""
        if not any(a.pending for a in aggregates):
            return 0
        with self.store.transaction():
            return self.unit_of_work().save_many(aggregates, metadata=metadata)

    def unit_of_work(self) -> UnitOfWork:
        """A unit of work on this repository's store with its snapshot policy (open it in `store.transaction()`)."""
        return UnitOfWork(self.store, snapshot_every=self.snapshot_every)

    def load(
        self,
        cls: type[A],
        aggregate_id: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        use_snapshots: bool = True,
    ) -> A:
        """The aggregate at its latest version, at `version`, or as it was at time `as_of`."""
        if version is not None and as_of is not None:
            raise ValueError("give version or as_of, not both")
        if as_of is not None:
            version = self.store.version_at(aggregate_id, as_of)
            if version == 0:
                raise AggregateNotFoundError(
                    f"{cls.aggregate_type} {aggregate_id} did not exist yet at {as_of.isoformat()}"
                )
        snapshot, tail = self.store.load_stream(
            aggregate_id, cls.aggregate_type, cls.state_version if use_snapshots else None, to_version=version
        )
        aggregate = aggregate_from(cls, aggregate_id, snapshot, tail)
        if aggregate.version == 0:
            raise AggregateNotFoundError(f"no {cls.aggregate_type} {aggregate_id} is stored; check the id")
        if version is not None and aggregate.version < version:
            raise AggregateNotFoundError(
                f"{cls.aggregate_type} {aggregate_id} has no version {version}: it is at version {aggregate.version}"
            )
        return aggregate

    def snapshot(self, aggregate: Aggregate) -> None:
        """Take a snapshot of a saved aggregate now, whatever the policy."""
        save_snapshot(self.store, aggregate)


def append_aggregates(
    store: Recorder, aggregates: Sequence[Aggregate], *, metadata: Mapping[str, Any] | None = None
) -> int:
    """Append the pending events of many aggregates atomically: the write rules' check, one bulk insert.

    Each aggregate must still be at the version it was loaded at (ConcurrencyError naming the first that is not)
    and its events are checked as `append` checks them. Appending aggregate by aggregate costs three DuckDB
    statements each (a few ms here); this costs about as much for a hundred. Unlike `append`, an event id that is
    already stored is refused (DuplicateEventError), not skipped: this is the path for new events. Returns how many
    events were appended. (`UnitOfWork.save_many` without a snapshot policy.)
    """
    if not any(a.pending for a in aggregates):
        return 0
    with store.transaction():
        return UnitOfWork(store).save_many(aggregates, metadata=metadata)
