"""Idempotent consumers: each event applied once, in version order per aggregate, in the transaction of its writes.

A pull subscriber whose checkpoint commits with its writes (`labkit.events.Subscription`) already makes restarts
harmless. What a checkpoint cannot catch is a source that delivers one event twice at different positions (an
outbox relay that crashed after publishing and before marking the row sent) or out of order (retries, several
partitions). `IdempotentConsumer` wraps a batch handler with both guards, all state kept in the consumer's own
database so it commits or rolls back with the handler's writes:

- duplicates: an event id already handled (`ProcessedEvents`), or a version at or below the one already applied
  for its aggregate, is skipped and counted;
- order: a version beyond the next one expected for its aggregate is a gap. With `out_of_order="wait"` the event
  is parked (table `consumer_parked`) and applied as soon as the missing versions arrive; with "reject" the call
  raises `OutOfOrderError`, so the whole batch and its checkpoint roll back and the source must redeliver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Literal

import duckdb
import orjson

from labkit.events import ProcessedEvents, RecordedEvent
from labkit.events.subscriptions import PROCESSED_TABLE_SQL
from labkit.patterns.errors import OutOfOrderError, PatternsError

# A batch handler, as `labkit.events.Subscription` calls it: the events, and the open transaction's connection.
BatchHandler = Callable[[Sequence[RecordedEvent], duckdb.DuckDBPyConnection], None]
OutOfOrder = Literal["wait", "reject"]

VERSIONS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS consumer_versions (
    consumer     VARCHAR NOT NULL,
    aggregate_id VARCHAR NOT NULL,
    version      INTEGER NOT NULL,  -- the last version applied, so version + 1 is the next one expected
    PRIMARY KEY (consumer, aggregate_id)
)
"""

PARKED_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS consumer_parked (
    consumer     VARCHAR NOT NULL,
    aggregate_id VARCHAR NOT NULL,
    version      INTEGER NOT NULL,
    event        JSON    NOT NULL,  -- RecordedEvent.to_dict(), applied when the versions before it arrive
    PRIMARY KEY (consumer, aggregate_id, version)
)
"""

# Everything an IdempotentConsumer keeps in its database; run these once (they are also run on first use).
SETUP_SQL: tuple[str, ...] = (PROCESSED_TABLE_SQL, VERSIONS_TABLE_SQL, PARKED_TABLE_SQL)


@dataclass
class ConsumeResult:
    """What one or more `handle` calls did with the events delivered to them."""

    delivered: int = 0
    applied: int = 0
    duplicates: int = 0
    parked: int = 0  # held back because an earlier version of their aggregate was missing
    released: int = 0  # parked earlier, applied once the gap was filled

    def __add__(self, other: ConsumeResult) -> ConsumeResult:
        return ConsumeResult(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


class IdempotentConsumer:
    """Wraps a batch handler so duplicates are skipped and each aggregate's events apply in version order.

    It is itself a batch handler: `Subscription(name, source, target, IdempotentConsumer(name, apply))`.

    >>> from labkit.events import EventStore, NewEvent
    >>> from labkit.domain import OrderApproved, OrderCreated
    >>> store = EventStore(":memory:")
    >>> created = store.append([NewEvent.of("order-1", "Order", OrderCreated("customer-7", 250))], expected_version=0)
    >>> approved = store.append([NewEvent.of("order-1", "Order", OrderApproved())], expected_version=1)
    >>> first, second = created.appended[0], approved.appended[0]
    >>> seen = []
    >>> consumer = IdempotentConsumer("audit", lambda events, connection: seen.extend(e.version for e in events))
    >>> connection = duckdb.connect()
    >>> consumer.handle([second, first, first, second], connection)
    ConsumeResult(delivered=4, applied=2, duplicates=2, parked=1, released=1)
    >>> seen
    [1, 2]
    """

    def __init__(
        self,
        name: str,
        apply: BatchHandler,
        *,
        out_of_order: OutOfOrder = "wait",
        check_versions: bool = True,
    ) -> None:
        if out_of_order not in ("wait", "reject"):
            raise PatternsError(f'out_of_order must be "wait" or "reject", got {out_of_order!r}')
        self.name, self.apply, self.out_of_order, self.check_versions = name, apply, out_of_order, check_versions
        # Counts of the calls that returned (a caller's transaction may still roll back after one).
        self.totals = ConsumeResult()

    def setup(self, connection: duckdb.DuckDBPyConnection) -> ProcessedEvents:
        """Create the consumer's tables if missing (cheap: `handle` calls it in every transaction)."""
        for statement in SETUP_SQL:
            connection.execute(statement)
        return ProcessedEvents(self.name, connection)

    def __call__(self, events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        self.handle(events, connection)

    def handle(self, events: Sequence[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> ConsumeResult:
        """Apply the new events of a batch in version order, park early ones, skip repeats; all with `connection`."""
        processed = self.setup(connection)
        result = ConsumeResult(delivered=len(events))
        fresh = processed.unseen(events, connection)
        result.duplicates = len(events) - len(fresh)
        to_apply = fresh
        if self.check_versions:
            to_apply = self._in_version_order(fresh, connection, result)
        else:
            result.applied = len(fresh)
        if to_apply:
            self.apply(to_apply, connection)
            processed.record(to_apply, connection)
        self.totals = self.totals + result
        return result

    def _in_version_order(
        self, events: list[RecordedEvent], connection: duckdb.DuckDBPyConnection, result: ConsumeResult
    ) -> list[RecordedEvent]:
        """The events to apply now, in order; parks those that come too early (or raises, in "reject" mode)."""
        if not events:
            return []
        aggregates = sorted({e.aggregate_id for e in events})
        marks = ", ".join("?" * len(aggregates))
        applied_version = dict(
            connection.execute(
                f"SELECT aggregate_id, version FROM consumer_versions WHERE consumer = ? AND aggregate_id IN ({marks})",
                [self.name, *aggregates],
            ).fetchall()
        )
        parked: dict[str, dict[int, RecordedEvent]] = {}
        for aggregate_id, version, event in connection.execute(
            f"SELECT aggregate_id, version, event FROM consumer_parked WHERE consumer = ? AND aggregate_id IN ({marks})",
            [self.name, *aggregates],
        ).fetchall():
            parked.setdefault(aggregate_id, {})[version] = RecordedEvent.from_dict(orjson.loads(event))
        stored_parked = {(a, v) for a, by_version in parked.items() for v in by_version}
        ready: list[RecordedEvent] = []
        for event in events:
            current = applied_version.get(event.aggregate_id, 0)
            waiting = parked.setdefault(event.aggregate_id, {})
            if event.version <= current or event.version in waiting:
                result.duplicates += 1  # a stale repeat under another id, or one already parked
                continue
            if event.version > current + 1:
                if self.out_of_order == "reject":
                    raise OutOfOrderError(self.name, event.aggregate_id, current + 1, event.version)
                waiting[event.version] = event
                result.parked += 1
                continue
            ready.append(event)
            result.applied += 1
            current = event.version
            while current + 1 in waiting:  # the gap is filled: what waited for it applies now, in order
                current += 1
                ready.append(waiting.pop(current))
                result.released += 1
                result.applied += 1
            applied_version[event.aggregate_id] = current
        self._save(connection, ready, applied_version, parked, stored_parked)
        return ready

    def _save(
        self,
        connection: duckdb.DuckDBPyConnection,
        ready: list[RecordedEvent],
        applied_version: dict[str, int],
        parked: dict[str, dict[int, RecordedEvent]],
        stored_parked: set[tuple[str, int]],
    ) -> None:
        """Write back versions and parked events (in the caller's transaction)."""
        moved = sorted({e.aggregate_id for e in ready})
        if moved:
            values = ", ".join(["(?, ?, ?)"] * len(moved))
            connection.execute(
                f"INSERT OR REPLACE INTO consumer_versions VALUES {values}",
                [v for a in moved for v in (self.name, a, applied_version[a])],
            )
        still_parked = {(a, v) for a, by_version in parked.items() for v in by_version}
        released = stored_parked - still_parked
        for aggregate_id, version in sorted(released):
            connection.execute(
                "DELETE FROM consumer_parked WHERE consumer = ? AND aggregate_id = ? AND version = ?",
                [self.name, aggregate_id, version],
            )
        new = sorted(still_parked - stored_parked)
        if new:
            values = ", ".join(["(?, ?, ?, ?::JSON)"] * len(new))
            params = [
                v
                for a, version in new
                for v in (self.name, a, version, orjson.dumps(parked[a][version].to_dict()).decode())
            ]
            connection.execute(f"INSERT INTO consumer_parked VALUES {values}", params)

    def waiting(self, connection: duckdb.DuckDBPyConnection) -> list[RecordedEvent]:
        """The events parked until earlier versions of their aggregate arrive, by aggregate and version."""
        self.setup(connection)
        rows = connection.execute(
            "SELECT event FROM consumer_parked WHERE consumer = ? ORDER BY aggregate_id, version", [self.name]
        ).fetchall()
        return [RecordedEvent.from_dict(orjson.loads(row[0])) for row in rows]
