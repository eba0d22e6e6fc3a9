"""An aggregate rebuilt from what a back-end's `load_stream` returns: its snapshot (if any), then the events after it.

Shared by `Repository.load` and the unit of work's loads on back-ends without DuckDB's vectorized replay.
"""

from __future__ import annotations

from typing import Any, TypeVar

from labkit.events.aggregate import Aggregate
from labkit.events.codec import as_utc
from labkit.events.recorder import Snapshot

A = TypeVar("A", bound=Aggregate)


def aggregate_from(cls: type[A], aggregate_id: str, snapshot: Snapshot | None, tail: Any) -> A:
    """The aggregate: the snapshot's state, then the tail's events folded (`tail`: Arrow columns version, position,
    event_type, event_data, recorded_at). At version 0 when neither holds anything (not stored)."""
    aggregate = cls(aggregate_id)
    if snapshot is not None:
        aggregate.restore(snapshot.state, version=snapshot.version)
        aggregate.created_at, aggregate.updated_at = snapshot.created_at, snapshot.updated_at
    if tail.num_rows:
        positions = tail.column("position")
        aggregate.fold_json(
            tail.column("event_type").to_pylist(),
            tail.column("event_data").to_pylist(),
            lambda i: positions[i].as_py(),
        )
        if aggregate.created_at is None and tail.column("version")[0].as_py() == 1:
            aggregate.created_at = as_utc(tail.column("recorded_at")[0].as_py())
        aggregate.updated_at = as_utc(tail.column("recorded_at")[-1].as_py())
    return aggregate
