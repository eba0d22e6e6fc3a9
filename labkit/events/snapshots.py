"""Snapshots: an aggregate's state saved at a version, so loading reads the snapshot and only the events after it.

A snapshot records the aggregate class's `state_version`; a snapshot of another state version is never read (the
aggregate is rebuilt from its events instead), so changing the shape of a state cannot misread old snapshots.
The back-end stores them (`Recorder.write_snapshot`, `read_snapshot`); this module is the policy on top.
"""

from __future__ import annotations

from labkit.events.aggregate import Aggregate
from labkit.events.errors import AggregateNotFoundError
from labkit.events.recorder import Recorder, Snapshot

__all__ = ["Snapshot", "is_due", "latest_snapshot", "save_snapshot", "snapshot_count"]


def is_due(every: int | None, before: int, after: int) -> bool:
    """Whether saving from version `before` to `after` crossed a multiple of `every` (the "every N events" policy)."""
    return bool(every) and after // every > before // every  # type: ignore[operator]


def save_snapshot(store: Recorder, aggregate: Aggregate) -> Snapshot:
    """Store the aggregate's current state at its current version (which must be saved already)."""
    with store.transaction():
        position = store.position_of(aggregate.id, aggregate.version)
        if position is None:
            raise AggregateNotFoundError(
                f"{aggregate.id} version {aggregate.version} is not stored: save the aggregate first"
            )
        snapshot = Snapshot(
            aggregate.id,
            aggregate.version,
            position,
            aggregate.to_state(),
            aggregate.state_version,
            aggregate.created_at,
            aggregate.updated_at,
        )
        store.write_snapshot(snapshot, aggregate.aggregate_type)
    return snapshot


def latest_snapshot(
    store: Recorder, cls: type[Aggregate], aggregate_id: str, *, at_or_before: int | None = None
) -> Snapshot | None:
    """The newest snapshot of the aggregate at or before a version, taken with the class's current state version."""
    return store.read_snapshot(aggregate_id, cls.aggregate_type, cls.state_version, at_or_before=at_or_before)


def snapshot_count(store: Recorder, aggregate_id: str | None = None) -> int:
    """How many snapshots are stored (of one aggregate)."""
    return store.count_snapshots(aggregate_id)
