"""The persistence contract: what an event store back-end records and reads, whatever database holds it.

`Recorder` is the interface every back-end implements (DuckDB's `EventStore`, `PostgresEventStore`); the repository, the unit of
work, snapshots and subscriptions use only this, and one contract test suite (`tests/events_contract.py`) runs
against every back-end and every write path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from labkit.events.event import NewEvent, RecordedEvent


@dataclass(frozen=True)
class AppendResult:
    """What one `append` did: the events it recorded, and the ones it skipped as already stored."""

    appended: tuple[RecordedEvent, ...]
    duplicates: tuple[RecordedEvent, ...]

    @property
    def version(self) -> int | None:
        """The aggregate's version after the call (None when nothing was given)."""
        last = [e.version for e in self.appended + self.duplicates]
        return max(last) if last else None


@dataclass(frozen=True)
class Snapshot:
    """An aggregate's state stored at a version; `position` is that version's event position."""

    aggregate_id: str
    version: int
    position: int
    state: dict[str, Any]
    state_version: int
    created_at: datetime | None
    updated_at: datetime | None


class Recorder(Protocol):
    """An event store back-end: atomic appends with expected versions and idempotent ids, reads, checkpoints,
    snapshots."""

    clock: Callable[[], datetime]  # the time recorded_at takes (tests pass a fixed clock)

    def append(self, events: Sequence[NewEvent], *, expected_version: int | None) -> AppendResult:
        """One aggregate's events, atomically, if it is at `expected_version`; a stored id of the same event is
        skipped."""
        ...

    def transaction(self) -> AbstractContextManager[Any]:
        """One transaction around several appends and the caller's own writes (nested calls join it)."""
        ...

    def read_stream(
        self, aggregate_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """One aggregate's events in version order."""
        ...

    def read_all(
        self, *, after_position: int = 0, limit: int = 1000, aggregate_type: str | None = None
    ) -> list[RecordedEvent]:
        """Events after a position, in position order: what a pull subscriber asks for."""
        ...

    def head_position(self) -> int:
        """The position of the last stored event (0: none)."""
        ...

    def stream_version(self, aggregate_id: str) -> int:
        """The aggregate's version (0: not stored)."""
        ...

    def version_at(self, aggregate_id: str, moment: datetime) -> int:
        """The aggregate's version as it was at `moment`."""
        ...

    def stream_heads(self, aggregate_ids: Sequence[str]) -> dict[str, Any]:
        """The stored head (version, type: a `rules.StreamHead`) of each of these aggregates that is stored."""
        ...

    def write_rows(self, rows: Any) -> int:
        """Insert Arrow rows the write rules already checked, after the head, in the open transaction."""
        ...

    def stored_ids(self, event_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these event ids are stored."""
        ...

    def read_checkpoint(self, subscription: str) -> int:
        """A subscription's checkpoint kept in this store's database (0: none)."""
        ...

    def save_checkpoint(self, subscription: str, position: int) -> None:
        """Move a subscription's checkpoint (in the open transaction, if any)."""
        ...

    def write_snapshot(self, snapshot: Snapshot, aggregate_type: str) -> None:
        """Store a snapshot (replacing one at the same version and state version)."""
        ...

    def read_snapshot(
        self, aggregate_id: str, aggregate_type: str, state_version: int, *, at_or_before: int | None = None
    ) -> Snapshot | None:
        """The newest snapshot at or before a version, of one state version."""
        ...

    def position_of(self, aggregate_id: str, version: int) -> int | None:
        """The position of one stored version of an aggregate (None: not stored)."""
        ...

    def count_snapshots(self, aggregate_id: str | None = None) -> int:
        """How many snapshots are stored (of one aggregate)."""
        ...

    def load_stream(
        self, aggregate_id: str, aggregate_type: str, state_version: int | None, *, to_version: int | None
    ) -> tuple[Snapshot | None, Any]:
        """What loading an aggregate reads: its newest snapshot of `state_version` at or before `to_version` (none
        when `state_version` is None), and the events after it as Arrow columns (`stream_tail`'s)."""
        ...

    def load_streams(
        self,
        aggregate_ids: Sequence[str],
        aggregate_type: str,
        state_version: int | None,
        *,
        to_version: int | None = None,
    ) -> dict[str, tuple[Snapshot | None, Any]]:
        """`load_stream` for many aggregates at once: aggregate id -> (snapshot, tail)."""
        ...
