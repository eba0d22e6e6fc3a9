"""Snapshots: an aggregate's state saved at a version, so loading reads the snapshot and only the events after it.

A snapshot records the aggregate class's `state_version`; a snapshot of another state version is never read (the
aggregate is rebuilt from its events instead), so changing the shape of a state cannot misread old snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from labkit.events.aggregate import Aggregate
from labkit.events.store import EventStore, first_row, to_utc_naive

SNAPSHOTS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate_id   VARCHAR   NOT NULL,
    aggregate_type VARCHAR   NOT NULL,
    version        INTEGER   NOT NULL,  -- the aggregate's version the state is taken at
    position       BIGINT    NOT NULL,  -- that version's event position: the tail is read after it
    state          JSON      NOT NULL,
    state_version  INTEGER   NOT NULL,  -- the aggregate class's state_version when taken
    created_at     TIMESTAMP,
    updated_at     TIMESTAMP,
    PRIMARY KEY (aggregate_id, version, state_version)
)
"""


@dataclass(frozen=True)
class Snapshot:
    """One stored snapshot."""

    aggregate_id: str
    version: int
    position: int
    state: dict[str, Any]
    state_version: int
    created_at: datetime | None
    updated_at: datetime | None


def ensure_table(store: EventStore) -> None:
    """Create the snapshots table next to the events if it is not there."""
    with store.transaction() as connection:
        connection.execute(SNAPSHOTS_TABLE_SQL)


def save_snapshot(store: EventStore, aggregate: Aggregate) -> Snapshot:
    """Store the aggregate's current state at its current version (which must be saved already)."""
    with store.transaction() as connection:
        row = first_row(
            connection.execute(
                "SELECT position FROM events WHERE aggregate_id = ? AND version = ?", [aggregate.id, aggregate.version]
            )
        )
        if row is None:
            raise ValueError(f"{aggregate.id} version {aggregate.version} is not stored: save the aggregate first")
        snapshot = Snapshot(
            aggregate.id,
            aggregate.version,
            int(row[0]),
            aggregate.to_state(),
            aggregate.state_version,
            aggregate.created_at,
            aggregate.updated_at,
        )
        connection.execute(
            "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?::JSON, ?, ?, ?)",
            [
                snapshot.aggregate_id,
                aggregate.aggregate_type,
                snapshot.version,
                snapshot.position,
                orjson.dumps(snapshot.state).decode(),
                snapshot.state_version,
                to_utc_naive(snapshot.created_at) if snapshot.created_at else None,
                to_utc_naive(snapshot.updated_at) if snapshot.updated_at else None,
            ],
        )
    return snapshot


def latest_snapshot(
    store: EventStore, cls: type[Aggregate], aggregate_id: str, *, at_or_before: int | None = None
) -> Snapshot | None:
    """The newest snapshot of the aggregate at or before a version, taken with the class's current state version."""
    with store.locked() as connection:
        row = first_row(
            connection.execute(
                """SELECT version, position, state, state_version, created_at, updated_at FROM snapshots
               WHERE aggregate_id = ? AND aggregate_type = ? AND state_version = ? AND version <= ?
               ORDER BY version DESC LIMIT 1""",
                [
                    aggregate_id,
                    cls.aggregate_type,
                    cls.state_version,
                    at_or_before if at_or_before is not None else 2**31 - 1,
                ],
            )
        )
    if row is None:
        return None
    version, position, state, state_version, created_at, updated_at = row
    return Snapshot(
        aggregate_id,
        version,
        position,
        orjson.loads(state),
        state_version,
        created_at.replace(tzinfo=UTC) if created_at else None,
        updated_at.replace(tzinfo=UTC) if updated_at else None,
    )


def snapshot_count(store: EventStore, aggregate_id: str | None = None) -> int:
    """How many snapshots are stored (of one aggregate)."""
    with store.locked() as connection:
        sql, params = "SELECT count(*) FROM snapshots", []
        if aggregate_id is not None:
            sql, params = sql + " WHERE aggregate_id = ?", [aggregate_id]
        row = first_row(connection.execute(sql, params))
    assert row is not None
    return int(row[0])
