"""The codec: how an event is stored and read back, the same for every write path and back-end.

One place for the row shape (named columns), the JSON text of event_data and metadata, and the UTC policy: every
timestamp is stored as naive UTC and handed back as an aware UTC datetime.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from labkit.events.errors import MalformedEventError
from labkit.events.event import NewEvent, RecordedEvent
from labkit.events.recorder import Snapshot

# The event table's columns, in the order every back-end stores and selects them.
COLUMNS: tuple[str, ...] = (
    "position",
    "aggregate_id",
    "aggregate_type",
    "version",
    "event_id",
    "event_type",
    "event_data",
    "metadata",
    "recorded_at",
)
COLUMN_LIST = ", ".join(COLUMNS)


def utc_now() -> datetime:
    """The store's default clock: now, in UTC."""
    return datetime.now(UTC)


def to_utc_naive(moment: datetime) -> datetime:
    """A datetime as tables store it: naive UTC (a naive input is taken as UTC already)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def as_utc(moment: datetime) -> datetime:
    """A stored (naive UTC) or any aware datetime as an aware UTC datetime."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_json(event_type: str, field: str, value: Mapping[str, Any]) -> str:
    """event_data or metadata as the JSON text a row stores (MalformedEventError naming the field if it cannot be)."""
    try:
        return orjson.dumps(dict(value)).decode()
    except (TypeError, ValueError) as exc:
        raise MalformedEventError(event_type, field, f"not JSON-serializable ({exc})") from None


def new_row(event: NewEvent, *, position: int, version: int, recorded_at: datetime) -> dict[str, Any]:
    """The stored row of a new event, by column name (JSON as text, time as naive UTC)."""
    return {
        "position": position,
        "aggregate_id": event.aggregate_id,
        "aggregate_type": event.aggregate_type,
        "version": version,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "event_data": to_json(event.event_type, "event_data", event.event_data),
        "metadata": to_json(event.event_type, "metadata", event.metadata),
        "recorded_at": to_utc_naive(recorded_at),
    }


def recorded(row: Mapping[str, Any]) -> RecordedEvent:
    """The RecordedEvent of a stored row given by column name (JSON as text or already parsed)."""
    data, metadata = row["event_data"], row["metadata"]
    return RecordedEvent(
        position=int(row["position"]),
        aggregate_id=row["aggregate_id"],
        aggregate_type=row["aggregate_type"],
        version=int(row["version"]),
        event_id=row["event_id"],
        event_type=row["event_type"],
        event_data=orjson.loads(data) if isinstance(data, str | bytes) else dict(data),
        metadata=orjson.loads(metadata) if isinstance(metadata, str | bytes) else dict(metadata),
        recorded_at=as_utc(row["recorded_at"]),
    )


def records(rows: Iterable[Sequence[Any]]) -> list[RecordedEvent]:
    """RecordedEvents of rows selected as `COLUMN_LIST` (positional rows, named here once)."""
    return [recorded(dict(zip(COLUMNS, row, strict=True))) for row in rows]


def snapshot_of_row(aggregate_id: str, row: Sequence[Any]) -> Snapshot:
    """The Snapshot of a stored row (version, position, state as JSON text, state_version, created_at, updated_at)."""
    version, position, state, state_version, created_at, updated_at = row
    return Snapshot(
        aggregate_id,
        int(version),
        int(position),
        orjson.loads(state),
        int(state_version),
        as_utc(created_at) if created_at else None,
        as_utc(updated_at) if updated_at else None,
    )
