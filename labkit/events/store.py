"""The event store: one DuckDB table of events, appended atomically, read by aggregate or by global position.

The table has the source's columns (aggregate_id, aggregate_type, event_id, event_type, event_data) plus
`version` (1..n per aggregate, no gaps), `position` (global, 1..n, no gaps, in commit order), `metadata` (JSON:
correlation and causation ids) and `recorded_at` (UTC).

Why a lock and not a sequence: DuckDB sequences leave gaps on rollback, and positions must have none so a pull
subscriber can trust "after position p" to mean "everything not seen yet". Appends to one database file are
serialized by a per-file lock in this process; DuckDB lets only one process write a file, so that is all writers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from uuid import UUID

import duckdb
import orjson
import pyarrow as pa

from labkit.events import inputs, rules
from labkit.events.bulk import bulk_load
from labkit.events.checkpoints import create_checkpoints_table, read_checkpoint, save_checkpoint
from labkit.events.codec import COLUMN_LIST, COLUMNS, as_utc, new_row, records, snapshot_of_row, to_utc_naive, utc_now
from labkit.events.duckdb_schema import (
    EVENTS_TABLE_SQL,
    INDEXES_SQL,
    SNAPSHOTS_TABLE_SQL,
    first_row,
)
from labkit.events.errors import StoreArgumentError, StoreOpenError
from labkit.events.event import NewEvent, RecordedEvent
from labkit.events.recorder import AppendResult, Snapshot

# Rows per INSERT statement: DuckDB binds a few thousand parameters per statement comfortably.
INSERT_CHUNK = 256

_FILE_LOCKS: dict[str, threading.RLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(key: str) -> threading.RLock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(key, threading.RLock())


def _connect(path: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the store's file; StoreOpenError saying why it cannot be opened, and what to do."""
    try:
        return duckdb.connect(path)
    except duckdb.IOException as exc:
        message = str(exc)
        if "lock" in message.lower():
            holder = re.search(r"PID (\d+)", message)
            raise StoreOpenError(
                f"{path} is open in another process{f' (pid {holder[1]})' if holder else ''}: DuckDB lets one process "
                "write a file; stop that process, or reach the data through it (a service's HTTP API)"
            ) from None
        raise StoreOpenError(f"{path} cannot be opened as a DuckDB event store: {message.splitlines()[0]}") from None


class EventStore:
    """Events of many aggregates in one DuckDB database (a file path, ":memory:", or an open connection).

    >>> from labkit.domain import OrderCreated
    >>> store = EventStore(":memory:")
    >>> created = NewEvent.of("order-101", "Order", OrderCreated(customer_id="customer-7", order_total=250))
    >>> [(e.position, e.version, e.event_type) for e in store.append([created], expected_version=0).appended]
    [(1, 1, 'OrderCreated')]
    >>> store.append([created], expected_version=0).duplicates[0].event_id == created.event_id
    True
    """

    def __init__(
        self,
        database: str | Path | duckdb.DuckDBPyConnection = ":memory:",
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if isinstance(database, duckdb.DuckDBPyConnection):
            self.connection = database
            row = self.connection.execute(
                "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
            )
            path = (first_row(row) or (None,))[0]
        else:
            if not isinstance(database, str | Path):
                raise StoreArgumentError("database", database, 'a file path, ":memory:" or a DuckDB connection')
            path = None if str(database) == ":memory:" else str(Path(database).resolve())
            if path is not None:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.connection = _connect(path or ":memory:")
        self.path = path
        self.clock = clock
        self._lock = _file_lock(path) if path else threading.RLock()
        self._in_transaction = False
        self._head: int | None = None  # the head position, known only inside a transaction after an append
        with self._lock:
            exists = first_row(
                self.connection.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'events'")
            )[0]
            if not exists:  # a store opened again keeps the indexes it has (see create_indexes)
                self.connection.execute(EVENTS_TABLE_SQL)
                self.create_indexes()
            elif not self.has_indexes() and self.count() == 0:
                self.create_indexes()  # a bulk load into it stopped after dropping them (see bulk.load_view)
            self.connection.execute(SNAPSHOTS_TABLE_SQL)  # kept beside the events (`Recorder.write_snapshot`)
            # Fetching rows one by one through the aggregate_id index costs ~10 us a row here, more than scanning:
            # use it for short streams only; longer ones scan, skipping row groups by position after a snapshot.
            self.connection.execute("SET index_scan_max_count = 64")
            self.connection.execute("SET index_scan_percentage = 0")

    def create_indexes(self) -> None:
        """Build the event_id and aggregate_id indexes if they are missing.

        A new store has them. Workloads bulk-generated above a few million events are stored without them: building
        them for 45M events takes many GB of memory. Such a store is still correct (duplicate ids and versions are
        found by scanning), only appends and stream reads are slower; call this to build them.
        """
        with self._lock:
            for statement in INDEXES_SQL:
                self.connection.execute(statement)

    def has_indexes(self) -> bool:
        """Whether the event table has its indexes."""
        with self._lock:
            row = first_row(
                self.connection.execute("SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'events'")
            )
        return bool(row and row[0] >= len(INDEXES_SQL))

    def close(self) -> None:
        """Close the DuckDB connection."""
        self.connection.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def locked(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, for reads, while no append of this process runs on the same file."""
        with self._lock:
            yield self.connection

    @property
    def in_transaction(self) -> bool:
        """Whether a `transaction()` of this store is open (appends join it)."""
        return self._in_transaction

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckDB transaction around several appends and your own writes (group commit); nested calls join it."""
        with self._lock:
            if self._in_transaction:
                yield self.connection
                return
            self.connection.execute("BEGIN TRANSACTION")
            self._in_transaction, self._head = True, None
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            else:
                self.connection.execute("COMMIT")
            finally:
                self._in_transaction, self._head = False, None

    # ---- writing -------------------------------------------------------------------------------------------------

    def append(self, events: Sequence[NewEvent], *, expected_version: int | None) -> AppendResult:
        """Append one aggregate's events atomically, after checking it is at `expected_version` (None: no check).

        Duplicates (an event id already stored for the same aggregate, type and data) are skipped and reported in
        `AppendResult.duplicates`. The rule for a batch that mixes them with new events: the stored ones are
        skipped, and the new ones are appended after the aggregate's current version, which must equal
        `expected_version`. So retrying a whole call that did commit is a no-op whatever its expected version, and a
        retry that adds events to a stream that moved on meanwhile is a ConcurrencyError. An id stored for a
        different event is a DuplicateEventError. Any error leaves the store unchanged.
        """
        events = rules.check_envelopes(events)
        rules.check_expected_version(expected_version)
        if not events:
            return AppendResult((), ())
        with self.transaction():
            stored, head, position = self._heads(events)
            fresh, duplicates, current = rules.plan_append(events, stored, head, expected_version)
            if not fresh:
                return AppendResult((), duplicates)
            recorded_at = self.clock()
            rows = [
                new_row(e, position=position + i, version=current + i, recorded_at=recorded_at)
                for i, e in enumerate(fresh, start=1)
            ]
            for begin in range(0, len(rows), INSERT_CHUNK):
                chunk = rows[begin : begin + INSERT_CHUNK]
                values = ", ".join(["(?, ?, ?, ?, ?, ?, ?::JSON, ?::JSON, ?)"] * len(chunk))
                self.connection.execute(
                    f"INSERT INTO events ({COLUMN_LIST}) VALUES {values}", [r[c] for r in chunk for c in COLUMNS]
                )
            self._head = rows[-1]["position"]
        appended = tuple(
            RecordedEvent(
                **{**row, "event_data": e.event_data, "metadata": e.metadata, "recorded_at": as_utc(recorded_at)}
            )
            for row, e in zip(rows, fresh, strict=True)
        )
        return AppendResult(appended, duplicates)

    def _heads(self, events: list[NewEvent]) -> tuple[dict[UUID, RecordedEvent], rules.StreamHead | None, int]:
        """(the already stored events among `events`, by id; the stream's head; the store's head position)."""
        # Two small queries (each DuckDB query costs a few tenths of a millisecond here, a commit a few ms); inside
        # one transaction the head position is known after the first append (group commit).
        head = "(SELECT coalesce(max(position), 0) FROM events)" if self._head is None else "NULL"
        version, stored_type, position = self.connection.execute(
            f"SELECT coalesce(max(version), 0), any_value(aggregate_type), {head} FROM events WHERE aggregate_id = ?",
            [events[0].aggregate_id],
        ).fetchall()[0]
        marks = ", ".join("?" * len(events))
        ids = [e.event_id for e in events]
        rows = self.connection.execute(f"SELECT {COLUMN_LIST} FROM events WHERE event_id IN ({marks})", ids).fetchall()
        stored = {r.event_id: r for r in records(rows)}
        stream = rules.StreamHead(int(version), stored_type) if stored_type is not None else None
        return stored, stream, int(position if position is not None else self._head)

    def _stream_head(self, aggregate_id: str) -> tuple[int, str | None]:
        row = first_row(
            self.connection.execute(
                "SELECT coalesce(max(version), 0), any_value(aggregate_type) FROM events WHERE aggregate_id = ?",
                [aggregate_id],
            )
        )
        assert row is not None
        return int(row[0]), row[1]

    def stream_heads(self, aggregate_ids: Sequence[str]) -> dict[str, rules.StreamHead]:
        """The stored head (version, type) of each of these aggregates that is stored."""
        if not aggregate_ids:
            return {}
        marks = ", ".join("?" * len(aggregate_ids))
        with self._lock:
            rows = self.connection.execute(
                f"SELECT aggregate_id, max(version), any_value(aggregate_type) FROM events "
                f"WHERE aggregate_id IN ({marks}) GROUP BY 1",
                list(aggregate_ids),
            ).fetchall()
        return {aggregate_id: rules.StreamHead(int(version), kind) for aggregate_id, version, kind in rows}

    def stored_ids(self, event_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these event ids are stored."""
        if not event_ids:
            return set()
        marks = ", ".join("?" * len(event_ids))
        with self._lock:
            rows = self.connection.execute(
                f"SELECT event_id FROM events WHERE event_id IN ({marks})", list(event_ids)
            ).fetchall()
        return {row[0] for row in rows}

    def write_rows(self, rows: pa.Table) -> int:
        """Insert rows already checked by the write rules (`rules.check_write`) after the head, in input order, in
        the open transaction: columns aggregate_id, aggregate_type, version, event_id, event_type, event_data and
        metadata (JSON text), recorded_at (naive UTC). How many were written."""
        return bulk_load(self, rows, validate=False)

    def stream_tail(
        self, aggregate_id: str, *, after_version: int, after_position: int, to_version: int | None
    ) -> pa.Table:
        """One aggregate's events after a version (and position), as Arrow columns: version, position, event_type,
        event_data (JSON text), recorded_at. What `Repository.load` folds."""
        # `position > p` lets DuckDB skip whole row groups by their min/max, so the tail after a snapshot costs
        # the same however long the history before it is.
        with self._lock:
            return self.connection.sql(
                """SELECT version, position, event_type, event_data::VARCHAR AS event_data, recorded_at FROM events
                   WHERE aggregate_id = ? AND position > ? AND version > ? AND version <= ? ORDER BY version""",
                params=[
                    aggregate_id,
                    after_position,
                    after_version,
                    to_version if to_version is not None else rules.MAX_VERSION,
                ],
            ).to_arrow_table()

    def load_stream(
        self, aggregate_id: str, aggregate_type: str, state_version: int | None, *, to_version: int | None
    ) -> tuple[Snapshot | None, pa.Table]:
        """The newest snapshot (of `state_version`; None: none wanted) at or before `to_version`, and the tail after it."""
        snapshot = (
            self.read_snapshot(aggregate_id, aggregate_type, state_version, at_or_before=to_version)
            if state_version is not None
            else None
        )
        tail = self.stream_tail(
            aggregate_id,
            after_version=snapshot.version if snapshot else 0,
            after_position=snapshot.position if snapshot else 0,
            to_version=to_version,
        )
        return snapshot, tail

    def load_streams(
        self,
        aggregate_ids: Sequence[str],
        aggregate_type: str,
        state_version: int | None,
        *,
        to_version: int | None = None,
    ) -> dict[str, tuple[Snapshot | None, pa.Table]]:
        """`load_stream` for many aggregates (one after the other: in-process, a query costs no round trip)."""
        return {
            i: self.load_stream(i, aggregate_type, state_version, to_version=to_version)
            for i in dict.fromkeys(aggregate_ids)
        }

    # ---- checkpoints and snapshots -------------------------------------------------------------------------------

    def read_checkpoint(self, subscription: str) -> int:
        """A subscription's checkpoint kept in this store's database (0: none)."""
        with self._lock:
            create_checkpoints_table(self.connection)
            return read_checkpoint(self.connection, subscription)

    def save_checkpoint(self, subscription: str, position: int) -> None:
        """Move a subscription's checkpoint (in the open transaction, if any)."""
        with self.transaction() as connection:
            create_checkpoints_table(connection)
            save_checkpoint(connection, subscription, position, at=self.clock())

    def position_of(self, aggregate_id: str, version: int) -> int | None:
        """The position of one stored version of an aggregate (None: not stored)."""
        with self._lock:
            row = first_row(
                self.connection.execute(
                    "SELECT position FROM events WHERE aggregate_id = ? AND version = ?", [aggregate_id, version]
                )
            )
        return int(row[0]) if row else None

    def write_snapshot(self, snapshot: Snapshot, aggregate_type: str) -> None:
        """Store a snapshot (replacing one at the same version and state version)."""
        with self.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?::JSON, ?, ?, ?)",
                [
                    snapshot.aggregate_id,
                    aggregate_type,
                    snapshot.version,
                    snapshot.position,
                    orjson.dumps(snapshot.state).decode(),
                    snapshot.state_version,
                    to_utc_naive(snapshot.created_at) if snapshot.created_at else None,
                    to_utc_naive(snapshot.updated_at) if snapshot.updated_at else None,
                ],
            )

    def read_snapshot(
        self, aggregate_id: str, aggregate_type: str, state_version: int, *, at_or_before: int | None = None
    ) -> Snapshot | None:
        """The newest snapshot at or before a version, of one state version (None: there is none)."""
        with self._lock:
            row = first_row(
                self.connection.execute(
                    """SELECT version, position, state, state_version, created_at, updated_at FROM snapshots
                       WHERE aggregate_id = ? AND aggregate_type = ? AND state_version = ? AND version <= ?
                       ORDER BY version DESC LIMIT 1""",
                    [
                        aggregate_id,
                        aggregate_type,
                        state_version,
                        at_or_before if at_or_before is not None else rules.MAX_VERSION,
                    ],
                )
            )
        return snapshot_of_row(aggregate_id, row) if row is not None else None

    def count_snapshots(self, aggregate_id: str | None = None) -> int:
        """How many snapshots are stored (of one aggregate)."""
        with self._lock:
            sql, params = "SELECT count(*) FROM snapshots", []
            if aggregate_id is not None:
                sql, params = sql + " WHERE aggregate_id = ?", [aggregate_id]
            row = first_row(self.connection.execute(sql, params))
        assert row is not None
        return int(row[0])

    # ---- reading -------------------------------------------------------------------------------------------------

    def head_position(self) -> int:
        """The position of the last stored event (0 for an empty store)."""
        with self._lock:
            row = first_row(self.connection.execute("SELECT coalesce(max(position), 0) FROM events"))
        assert row is not None
        return int(row[0])

    def stream_version(self, aggregate_id: str) -> int:
        """The aggregate's current version (0 when nothing is stored for it)."""
        inputs.text(aggregate_id, "aggregate_id")
        with self._lock:
            return self._stream_head(aggregate_id)[0]

    def read_stream(
        self, aggregate_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """One aggregate's events from `from_version` to `to_version` (inclusive), in version order."""
        params = inputs.stream_arguments(aggregate_id, from_version, to_version)
        with self._lock:
            rows = self.connection.execute(
                f"SELECT {COLUMN_LIST} FROM events WHERE aggregate_id = ? AND version >= ? AND version <= ? ORDER BY version",
                list(params),
            ).fetchall()
        return records(rows)

    def read_all(
        self, *, after_position: int = 0, limit: int = 1000, aggregate_type: str | None = None
    ) -> list[RecordedEvent]:
        """Up to `limit` events after `after_position`, in position order: what a pull subscriber asks for."""
        after_position, limit, aggregate_type = inputs.page_arguments(after_position, limit, aggregate_type)
        where, params = "position > ?", [after_position]
        if aggregate_type is not None:
            where, params = where + " AND aggregate_type = ?", [*params, aggregate_type]
        with self._lock:
            rows = self.connection.execute(
                f"SELECT {COLUMN_LIST} FROM events WHERE {where} ORDER BY position LIMIT ?", [*params, limit]
            ).fetchall()
        return records(rows)

    def version_at(self, aggregate_id: str, moment: datetime) -> int:
        """The aggregate's version as it was at `moment` (0 if it did not exist yet)."""
        inputs.text(aggregate_id, "aggregate_id"), inputs.moment(moment)
        with self._lock:
            row = first_row(
                self.connection.execute(
                    "SELECT coalesce(max(version), 0) FROM events WHERE aggregate_id = ? AND recorded_at <= ?",
                    [aggregate_id, to_utc_naive(moment)],
                )
            )
        assert row is not None
        return int(row[0])

    def contains(self, event_id: UUID) -> bool:
        """Whether an event with this id is stored."""
        inputs.event_id(event_id)
        with self._lock:
            row = first_row(self.connection.execute("SELECT count(*) FROM events WHERE event_id = ?", [event_id]))
        return bool(row and row[0])

    def count(self, *, aggregate_type: str | None = None) -> int:
        """How many events are stored (of one aggregate type)."""
        inputs.optional_text(aggregate_type, "aggregate_type")
        sql, params = "SELECT count(*) FROM events", []
        if aggregate_type is not None:
            sql, params = sql + " WHERE aggregate_type = ?", [aggregate_type]
        with self._lock:
            row = first_row(self.connection.execute(sql, params))
        assert row is not None
        return int(row[0])
