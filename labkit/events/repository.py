"""Loading and saving aggregates: replay (from a snapshot when there is one), save with a snapshot policy, time travel.

Loading reads the events as Arrow columns and folds them with `Aggregate.fold_json`: no Python tuple and no
envelope per event, which is what makes Python replay fast (see `labkit bench events`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import pyarrow as pa

from labkit.errors import UsageError
from labkit.events.aggregate import Aggregate
from labkit.events.bulk import bulk_load
from labkit.events.errors import (
    AggregateNotFoundError,
    ConcurrencyError,
    DuplicateEventError,
    WrongAggregateTypeError,
)
from labkit.events.event import check_data, event_class
from labkit.events.snapshots import ensure_table, latest_snapshot, save_snapshot
from labkit.events.store import AppendResult, EventStore, first_row, to_utc_naive

A = TypeVar("A", bound=Aggregate)


class Repository:
    """Aggregates of one EventStore: `load`, `save`, and a snapshot policy "every N events" per aggregate type.

    >>> from labkit.domain import Order
    >>> repository = Repository(EventStore(":memory:"), snapshot_every={Order: 2})
    >>> order = Order.place("order-101", customer_id="customer-7", order_total=250)
    >>> order.approve()
    >>> _ = repository.save(order)
    >>> repository.load(Order, "order-101").state
    'APPROVED'
    >>> repository.load(Order, "order-101", version=1).state
    'PENDING'
    """

    def __init__(self, store: EventStore, *, snapshot_every: Mapping[type[Aggregate], int] | None = None) -> None:
        self.store = store
        self.snapshot_every = {cls.aggregate_type: every for cls, every in (snapshot_every or {}).items()}
        for every in self.snapshot_every.values():
            if every < 1:
                raise ValueError(f"snapshot_every must be 1 or more events, got {every}")
        ensure_table(store)

    def save(self, aggregate: Aggregate, *, metadata: Mapping[str, Any] | None = None) -> AppendResult:
        """Append the aggregate's pending events (expecting the version it was loaded at), snapshot per the policy.

        `metadata` (correlation and causation ids) is added to each pending event's own metadata.
        """
        pending = aggregate.pending
        if metadata:
            pending = [type(e)(**{**e.__dict__, "metadata": {**e.metadata, **metadata}}) for e in pending]
        every = self.snapshot_every.get(aggregate.aggregate_type)
        with self.store.transaction():
            result = self.store.append(pending, expected_version=aggregate.expected_version)
            if result.appended:
                first, last = result.appended[0], result.appended[-1]
                if aggregate.created_at is None and first.version == 1:
                    aggregate.created_at = first.recorded_at
                aggregate.updated_at = last.recorded_at
                if every and last.version // every > (first.version - 1) // every:
                    save_snapshot(self.store, aggregate)
        aggregate.pending = []
        return result

    def save_all(self, aggregates: Sequence[Aggregate], *, metadata: Mapping[str, Any] | None = None) -> int:
        """Save many aggregates' pending events in one transaction and a few statements (`append_aggregates`);
        snapshots follow the policy. How many events were appended."""
        changed = [a for a in aggregates if a.pending]
        if not changed:
            return 0
        before = {a.id: a.expected_version for a in changed}
        with self.store.transaction():
            count = append_aggregates(self.store, changed, metadata=metadata)
            for aggregate in changed:
                every = self.snapshot_every.get(aggregate.aggregate_type)
                if every and aggregate.version // every > before[aggregate.id] // every:
                    save_snapshot(self.store, aggregate)
        return count

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
        aggregate = cls(aggregate_id)
        after_position = 0
        snapshot = latest_snapshot(self.store, cls, aggregate_id, at_or_before=version) if use_snapshots else None
        if snapshot is not None:
            aggregate.restore(snapshot.state, version=snapshot.version)
            aggregate.created_at, aggregate.updated_at = snapshot.created_at, snapshot.updated_at
            after_position = snapshot.position
        tail = self._tail(
            aggregate_id, after_version=aggregate.version, after_position=after_position, to_version=version
        )
        if tail.num_rows:
            positions = tail.column("position")
            aggregate.fold_json(
                tail.column("event_type").to_pylist(),
                tail.column("event_data").to_pylist(),
                lambda i: positions[i].as_py(),
            )
            if aggregate.created_at is None and tail.column("version")[0].as_py() == 1:
                aggregate.created_at = tail.column("recorded_at")[0].as_py().replace(tzinfo=UTC)
            aggregate.updated_at = tail.column("recorded_at")[-1].as_py().replace(tzinfo=UTC)
        if aggregate.version == 0:
            raise AggregateNotFoundError(f"no {cls.aggregate_type} {aggregate_id} is stored; check the id")
        if version is not None and aggregate.version < version:
            raise AggregateNotFoundError(
                f"{cls.aggregate_type} {aggregate_id} has no version {version}: it is at version {aggregate.version}"
            )
        return aggregate

    def _tail(self, aggregate_id: str, *, after_version: int, after_position: int, to_version: int | None) -> pa.Table:
        # `position > p` lets DuckDB skip whole row groups by their min/max, so the tail after a snapshot costs
        # the same however long the history before it is.
        with self.store.locked() as connection:
            return connection.sql(
                """SELECT version, position, event_type, event_data::VARCHAR AS event_data, recorded_at FROM events
                   WHERE aggregate_id = ? AND position > ? AND version > ? AND version <= ? ORDER BY version""",
                params=[
                    aggregate_id,
                    after_position,
                    after_version,
                    to_version if to_version is not None else 2**31 - 1,
                ],
            ).to_arrow_table()

    def snapshot(self, aggregate: Aggregate) -> None:
        """Take a snapshot of a saved aggregate now, whatever the policy."""
        save_snapshot(self.store, aggregate)


def append_aggregates(
    store: EventStore, aggregates: Sequence[Aggregate], *, metadata: Mapping[str, Any] | None = None
) -> int:
    """Append the pending events of many aggregates atomically: a version check, an id check, one bulk insert.

    Each aggregate must still be at the version it was loaded at (ConcurrencyError naming the first that is not)
    and its events are checked as `append` checks them. Appending aggregate by aggregate costs three DuckDB
    statements each (a few ms here); this costs about as much for a hundred. Unlike `append`, an event id that is
    already stored is refused (DuplicateEventError), not skipped: this is the path for new events. Returns how many
    events were appended.
    """
    changed = [a for a in aggregates if a.pending]
    if not changed:
        return 0
    ids = [a.id for a in changed]
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise UsageError(f"{twice} is given twice: save each aggregate once (its pending events hold every change)")
    event_ids = [event.event_id for aggregate in changed for event in aggregate.pending]
    if len(set(event_ids)) != len(event_ids):
        raise DuplicateEventError(next(i for i in event_ids if event_ids.count(i) > 1), "appears twice in the call")
    columns: dict[str, list[Any]] = {k: [] for k in ("aggregate_id", "aggregate_type", "version", "event_id")}
    columns |= {"event_type": [], "event_data": [], "metadata": []}
    for aggregate in changed:
        for offset, event in enumerate(aggregate.pending, start=1):
            check_data(event_class(event.event_type), event.event_data)
            columns["aggregate_id"].append(aggregate.id)
            columns["aggregate_type"].append(aggregate.aggregate_type)
            columns["version"].append(aggregate.expected_version + offset)
            columns["event_id"].append(str(event.event_id))
            columns["event_type"].append(event.event_type)
            columns["event_data"].append(orjson.dumps(dict(event.event_data)).decode())
            columns["metadata"].append(orjson.dumps({**event.metadata, **(metadata or {})}).decode())
    with store.transaction() as connection:
        marks = ", ".join("?" * len(ids))
        stored = {
            row[0]: (row[1], row[2])
            for row in connection.execute(
                f"SELECT aggregate_id, max(version), any_value(aggregate_type) FROM events "
                f"WHERE aggregate_id IN ({marks}) GROUP BY 1",
                ids,
            ).fetchall()
        }
        for aggregate in changed:
            version, stored_type = stored.get(aggregate.id, (0, None))
            if stored_type is not None and stored_type != aggregate.aggregate_type:
                raise WrongAggregateTypeError(
                    f"{aggregate.id} is stored as a {stored_type}, not a {aggregate.aggregate_type}; "
                    "use another aggregate id"
                )
            if version != aggregate.expected_version:
                raise ConcurrencyError(aggregate.id, aggregate.expected_version, version)
        marks = ", ".join("?" * len(event_ids))
        found = first_row(
            connection.execute(f"SELECT event_id FROM events WHERE event_id IN ({marks}) LIMIT 1", event_ids)
        )
        if found is not None:
            raise DuplicateEventError(
                found[0], "is already stored: save_all appends new events only (save skips repeats)"
            )
        recorded_at = store.clock()
        n = len(columns["version"])
        table = pa.table(
            {
                **{k: pa.array(v, pa.string()) for k, v in columns.items() if k != "version"},
                "version": pa.array(columns["version"], pa.int32()),
                "recorded_at": pa.array([to_utc_naive(recorded_at)] * n, pa.timestamp("us")),
            }
        )
        count = bulk_load(store, table, validate=False)
    moment = recorded_at.astimezone(UTC) if recorded_at.tzinfo else recorded_at.replace(tzinfo=UTC)
    for aggregate in changed:
        if aggregate.expected_version == 0:
            aggregate.created_at = moment
        aggregate.updated_at = moment
        aggregate.pending = []
    return count
