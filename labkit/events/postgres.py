"""The PostgreSQL back-end: the same persistence contract as the DuckDB store, on a server many processes write to.

Each store lives in its own schema (a service's database in the database-per-service layout). What a server adds:

- Concurrent writers. Optimistic concurrency per stream is the database's own: a unique (aggregate_id, version)
  refuses the second of two writers that read the same version (ConcurrencyError), whatever process it runs in.
- Gap-safe positions. With positions from a sequence, writer A can take position 10, writer B position 11, and B
  commit first: a subscriber that reads "position > 9" sees 11, moves its checkpoint to 11, and never sees 10 when
  A commits. `positions="sequence"` keeps that naive design so the lab can measure the hazard. The default,
  `positions="locked"`, does what the eventsourcing library's postgres recorder does: the insert takes an
  EXCLUSIVE lock on the event table (reads go on; other inserts wait until commit) and numbers its events after
  the current head. Positions are then gap-free and become visible in order, as on DuckDB, so "after position p"
  means "everything not seen yet". Chosen over transaction-id visibility (message-db, Marten's high-water mark)
  because it keeps the one contract both back-ends share: a plain integer checkpoint, no gaps; its cost is that
  inserts serialize for the few statements between the lock and the commit (`labkit bench events` measures it).
- Notifications. Each committed append NOTIFYs the channel `<schema>_events` with the new head position, so a
  subscriber sleeps until there is news instead of polling (`wait_for_news`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.types.json import Jsonb

from labkit.events import inputs, rules
from labkit.events.bulk import bulk_load
from labkit.events.codec import COLUMNS, as_utc, new_row, records, snapshot_of_row, to_utc_naive, utc_now
from labkit.events.errors import (
    ConcurrencyError,
    DuplicateEventError,
    EventStoreError,
)
from labkit.events.event import NewEvent, RecordedEvent
from labkit.events.recorder import AppendResult, Snapshot
from labkit.events.store import EventStore

SCHEMA_VERSION = 1  # bump with a migration when the tables change; other versions are refused, never misread
MINIMUM_SERVER = 140000

Positions = Literal["locked", "sequence"]

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS {schema}.labkit_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.events (
    position       BIGINT      NOT NULL PRIMARY KEY,
    aggregate_id   TEXT        NOT NULL,
    aggregate_type TEXT        NOT NULL,
    version        INTEGER     NOT NULL,
    event_id       UUID        NOT NULL UNIQUE,
    event_type     TEXT        NOT NULL,
    event_data     JSONB       NOT NULL,
    metadata       JSONB       NOT NULL,
    recorded_at    TIMESTAMP   NOT NULL,  -- UTC
    CONSTRAINT events_stream_version UNIQUE (aggregate_id, version)
);
CREATE SEQUENCE IF NOT EXISTS {schema}.event_positions;
CREATE TABLE IF NOT EXISTS {schema}.snapshots (
    aggregate_id   TEXT      NOT NULL,
    aggregate_type TEXT      NOT NULL,
    version        INTEGER   NOT NULL,
    position       BIGINT    NOT NULL,
    state          JSONB     NOT NULL,
    state_version  INTEGER   NOT NULL,
    created_at     TIMESTAMP,
    updated_at     TIMESTAMP,
    PRIMARY KEY (aggregate_id, version, state_version)
);
CREATE TABLE IF NOT EXISTS {schema}.subscription_checkpoints (
    subscription TEXT      PRIMARY KEY,
    position     BIGINT    NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
"""

# Every insert statement announces the head it reached on the channel `<schema>_events`, delivered at commit; a
# trigger, so the append itself pays no extra round trip.
NOTIFY_SQL = (
    """CREATE FUNCTION {schema}.announce_append() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           PERFORM pg_notify(TG_TABLE_SCHEMA || '_events', (SELECT max(position) FROM appended)::text);
           RETURN NULL;
       END $$""",
    """CREATE TRIGGER events_announced AFTER INSERT ON {schema}.events REFERENCING NEW TABLE AS appended
       FOR EACH STATEMENT EXECUTE FUNCTION {schema}.announce_append()""",
)

INSERT_CHUNK = 1000  # rows per INSERT statement

HEAD_SQL = "SELECT coalesce(max(position), 0) FROM {schema}.events"

# What loading one aggregate reads, in one statement: its newest snapshot of the wanted state version at or before
# the version asked for (part 0), then its events after that snapshot (part 1), in version order.
LOAD_SQL = """
WITH s AS (
    SELECT version, position, state::text AS state, state_version, created_at, updated_at FROM {schema}.snapshots
    WHERE aggregate_id = %(id)s AND aggregate_type = %(type)s AND state_version = %(kept)s AND version <= %(top)s
    ORDER BY version DESC LIMIT 1
)
SELECT * FROM (
    SELECT 0 AS part, version, position, state, NULL::text, created_at, updated_at, state_version FROM s
    UNION ALL
    SELECT 1, version, position, event_type, event_data::text, recorded_at, NULL::timestamp, NULL::integer
    FROM {schema}.events
    WHERE aggregate_id = %(id)s AND version <= %(top)s AND version > coalesce((SELECT version FROM s), 0)
) AS stream ORDER BY part, version
"""

SELECT = (
    "SELECT position, aggregate_id, aggregate_type, version, event_id, event_type, event_data::text, "
    "metadata::text, recorded_at FROM {schema}.events"
)

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")


class PostgresEventStore:
    """Events of many aggregates in one schema of a PostgreSQL database (`url`: a libpq URL or DSN).

    `positions="locked"` (default): gap-free positions that become visible in order. `"sequence"`: the naive
    design, for measuring what it costs a subscriber.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "labkit",
        positions: Positions = "locked",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not isinstance(schema, str) or not NAME.match(schema):
            raise EventStoreError(f"schema {schema!r} is not a plain lower-case SQL name (a-z, 0-9, _; 48 at most)")
        if positions not in ("locked", "sequence"):
            raise EventStoreError(f"positions={positions!r}: choose 'locked' (gap-safe) or 'sequence' (naive)")
        self.url, self.schema, self.positions, self.clock = url, schema, positions, clock
        self.channel = f"{schema}_events"
        self.connection = connect(url)
        self._rendered: dict[str, str] = {}
        self._lock = threading.RLock()
        # Reads outside the caller's own transaction go through a second connection: they see what is committed and
        # never wait while another thread (a service's group commit) holds the first one in a transaction.
        self._reader: psycopg.Connection | None = None
        self._reader_lock = threading.Lock()
        self._owner: int | None = None  # the thread whose transaction is open
        self._transaction: _Transaction | None = None
        self._head: int | None = None  # known inside a transaction once it holds the insert lock
        self._listener: psycopg.Connection | None = None  # LISTENs on `channel` once a subscriber waits for news
        self._select = self._q(SELECT)
        self._lock_sql = self._q("LOCK TABLE {schema}.events IN EXCLUSIVE MODE")
        self._create_or_check_schema()

    # ---- set-up ---------------------------------------------------------------------------------------------------

    def _q(self, text: str) -> str:
        """`text` with {schema} filled in (quoted), rendered once: the same text each time lets psycopg prepare it."""
        found = self._rendered.get(text)
        if found is None:
            composed = sql.SQL(text.replace("{schema}", "{s}")).format(s=sql.Identifier(self.schema))
            found = self._rendered[text] = composed.as_string(self.connection)
        return found

    def _create_or_check_schema(self) -> None:
        with self._lock, self.connection.transaction():
            # One creator at a time: processes opening a new store together would race on CREATE ... IF NOT EXISTS.
            self.connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"labkit:{self.schema}"])
            # Created only when missing: a service's role owns its schema but may not create schemas (service_roles).
            if not self.connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [self.schema]).fetchone():
                self.connection.execute(self._q("CREATE SCHEMA {schema}"))
            found = self.connection.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'labkit_schema'",
                [self.schema],
            ).fetchone()
            if found:
                versions = [
                    r[0] for r in self.connection.execute(self._q("SELECT version FROM {schema}.labkit_schema"))
                ]
                if versions != [SCHEMA_VERSION]:
                    raise EventStoreError(
                        f"schema {self.schema} holds an event store of labkit schema version {versions or 'unknown'}; "
                        f"this labkit reads version {SCHEMA_VERSION}: use another schema, or drop this one "
                        f"(DROP SCHEMA {self.schema} CASCADE) if its events are not needed"
                    )
                return
            tables = self.connection.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", [self.schema]
            ).fetchone()
            if tables and tables[0]:
                raise EventStoreError(
                    f"schema {self.schema} already holds tables that are not a labkit event store: choose another schema"
                )
            for statement in TABLES_SQL.split(";"):
                if statement.strip():
                    self.connection.execute(self._q(statement))
            for statement in NOTIFY_SQL:
                self.connection.execute(self._q(statement))
            self.connection.execute(self._q("INSERT INTO {schema}.labkit_schema VALUES (%s)"), [SCHEMA_VERSION])

    def close(self) -> None:
        """Close the connections."""
        if self._listener is not None:
            self._listener.close()
        if self._reader is not None:
            self._reader.close()
        self.connection.close()

    def __enter__(self) -> PostgresEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def drop(self) -> None:
        """Remove this store's schema and everything in it (tests, and notebooks that start over)."""
        with self._lock:
            self.connection.execute(self._q("DROP SCHEMA IF EXISTS {schema} CASCADE"))

    # ---- transactions -----------------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        """One transaction around several appends and the caller's own writes (`.execute(query, params)` on what it
        yields); nested calls join it. BEGIN travels with the transaction's first statement, so a short transaction
        costs one round trip less."""
        with self._lock:
            if self._transaction is not None:
                yield self._transaction
                return
            transaction = self._transaction = _Transaction(self.connection)
            self._head, self._owner = None, threading.get_ident()
            try:
                try:
                    yield transaction
                except BaseException:
                    transaction.end("ROLLBACK")
                    raise
                try:
                    transaction.end("COMMIT")  # with the deferred inserts, in one round trip
                except psycopg.errors.UniqueViolation as exc:  # a deferred insert refused: the contract's error
                    transaction.end("ROLLBACK")
                    raise self._late_refusal(transaction.deferred_rows) from exc
                except BaseException:
                    transaction.end("ROLLBACK")
                    raise
            finally:
                self._transaction, self._head, self._owner = None, None, None

    @property
    def in_transaction(self) -> bool:
        """Whether a `transaction()` of this store is open (appends join it)."""
        return self._transaction is not None

    # ---- writing ----------------------------------------------------------------------------------------------------

    def append(self, events: Sequence[NewEvent], *, expected_version: int | None) -> AppendResult:
        """Append one aggregate's events atomically if it is at `expected_version` (None: no check); a stored id of the
        same event is skipped (a retried call is a no-op). Any error leaves the store unchanged."""
        events = rules.check_envelopes(events)
        rules.check_expected_version(expected_version)
        if not events:
            return AppendResult((), ())
        first = events[0]
        with self.transaction() as transaction:
            stored, head = self._heads(transaction, first.aggregate_id, [e.event_id for e in events])
            fresh, duplicates, current = rules.plan_append(events, stored, head, expected_version)
            if not fresh:
                return AppendResult((), duplicates)
            recorded_at = self.clock()
            rows = [
                new_row(e, position=0, version=current + i, recorded_at=recorded_at) for i, e in enumerate(fresh, 1)
            ]
            # Under the insert lock nothing can take these versions or ids any more (`_heads` read them under it),
            # so the insert need not answer now: it travels with the next statement or the COMMIT.
            positions = self._insert(transaction, rows, defer=self.positions == "locked")
        appended = tuple(
            RecordedEvent(
                position=p,
                aggregate_id=row["aggregate_id"],
                aggregate_type=row["aggregate_type"],
                version=row["version"],
                event_id=row["event_id"],
                event_type=row["event_type"],
                event_data=e.event_data,
                metadata=e.metadata,
                recorded_at=as_utc(recorded_at),
            )
            for row, e, p in zip(rows, fresh, positions, strict=True)
        )
        return AppendResult(appended, duplicates)

    def write_rows(self, rows: pa.Table) -> int:
        """Insert rows already checked by the write rules after the head, in input order, in the open transaction."""
        data = rows.to_pylist()
        with self.transaction() as transaction:
            if self.positions == "locked" and self._head is None:
                self._head = int(transaction.run([self._lock_sql, self._q(HEAD_SQL)])[-1][0][0])
            return len(self._insert(transaction, data))

    def _heads(
        self, transaction: _Transaction, aggregate_id: str, event_ids: list[UUID]
    ) -> tuple[dict[UUID, RecordedEvent], rules.StreamHead | None]:
        """(the stored events among these ids; the stream's head), in one round trip with the insert lock (and the
        head position) when this transaction does not hold it yet."""
        lookup = self._q(
            "SELECT h.version, h.kind, e.position, e.aggregate_id, e.aggregate_type, e.version, e.event_id, "
            "e.event_type, e.event_data::text, e.metadata::text, e.recorded_at FROM "
            "(SELECT max(version) AS version, min(aggregate_type) AS kind FROM {schema}.events WHERE aggregate_id = %s) h "
            "LEFT JOIN {schema}.events e ON e.event_id = ANY(%s)"
        )
        # Inserts wait for each other from the lock to the commit, so positions become visible in order.
        locking = self.positions == "locked" and self._head is None
        statements: list[Any] = [self._lock_sql, self._q(HEAD_SQL)] if locking else []
        results = transaction.run([*statements, (lookup, [aggregate_id, event_ids])])
        if locking:
            self._head = int(results[1][0][0])
        rows = results[-1]
        version, kind = rows[0][0], rows[0][1]
        stored = {r.event_id: r for r in records(row[2:] for row in rows if row[2] is not None)}
        return stored, (rules.StreamHead(int(version), kind) if kind is not None else None)

    def _insert(self, transaction: _Transaction, rows: list[dict[str, Any]], *, defer: bool = False) -> list[int]:
        """Insert rows (JSON as text) in the open transaction, positions after the head or from the sequence; their
        positions.

        `defer` (positions after the head only): the insert is sent with the transaction's next statement or its
        COMMIT, saving a round trip; a row the database refuses then fails the commit (`_late_refusal`).

        One statement that skips a row the database refuses (ON CONFLICT DO NOTHING): fewer rows back means another
        process took a version, or stored an id; then the caller's transaction is rolled back by the error."""
        if self.positions == "locked":
            assert self._head is not None, "the insert lock is taken before positions are numbered"
            positions: list[int | None] = list(range(self._head + 1, self._head + 1 + len(rows)))
            self._head += len(rows)
        else:
            positions = [None] * len(rows)  # numbered by the sequence, in the database
        row = "(coalesce(%s, nextval('{schema}.event_positions')), %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s)"
        params: list[Any] = []
        for p, r in zip(positions, rows, strict=True):
            params += [
                p,
                r["aggregate_id"],
                r["aggregate_type"],
                r["version"],
                UUID(str(r["event_id"])),
                r["event_type"],
                r["event_data"],
                r["metadata"],
                to_utc_naive(r["recorded_at"]),
            ]
        statements = []
        for start in range(0, len(rows), INSERT_CHUNK):  # PostgreSQL binds at most 65,535 parameters a statement
            count = min(INSERT_CHUNK, len(rows) - start)
            insert = f"INSERT INTO {{schema}}.events ({', '.join(COLUMNS)}) VALUES {', '.join([row] * count)}"
            if not defer:
                insert += " ON CONFLICT DO NOTHING RETURNING position, event_id"
            statements.append((self._q(insert), params[start * len(COLUMNS) : (start + count) * len(COLUMNS)]))
        if defer:
            transaction.defer(statements, rows)
            return [p for p in positions if p is not None]
        inserted = [r for result in transaction.run(statements) for r in result]
        if len(inserted) < len(rows):
            raise self._refusal(transaction, rows, {r[1] for r in inserted})
        return [int(r[0]) for r in inserted]

    def _late_refusal(self, rows: list[dict[str, Any]]) -> Exception:
        """The contract's error for deferred inserts the database refused at commit (rolled back by now): an id
        stored by another writer, or the first stream another writer moved."""
        ids = [UUID(str(r["event_id"])) for r in rows]
        stored = self.stored_ids(ids)
        if stored:
            return DuplicateEventError(next(i for i in ids if i in stored), "is already stored")
        for aggregate_id in dict.fromkeys(r["aggregate_id"] for r in rows):
            expected = min(int(r["version"]) for r in rows if r["aggregate_id"] == aggregate_id) - 1
            actual = self.stream_version(aggregate_id)
            if actual != expected:
                return ConcurrencyError(aggregate_id, expected, actual)
        return EventStoreError(f"the commit of {len(rows)} events was refused by the database; load again and retry")

    def _refusal(self, transaction: _Transaction, rows: list[dict[str, Any]], inserted: set[UUID]) -> Exception:
        """The contract's error for the rows the database refused (the others, `inserted`, are in this transaction):
        another writer stored the id, or got the version first."""
        refused = [r for r in rows if UUID(str(r["event_id"])) not in inserted]
        refused_ids = [UUID(str(r["event_id"])) for r in refused]
        stored = self.stored_ids(refused_ids)
        if stored:
            return DuplicateEventError(next(i for i in refused_ids if i in stored), "is already stored")
        aggregate_id = refused[0]["aggregate_id"]
        expected = min(int(r["version"]) for r in rows if r["aggregate_id"] == aggregate_id) - 1
        # The stream's version as the other writer left it: this transaction's own rows left out.
        actual = transaction.execute(
            self._q(
                "SELECT coalesce(max(version), 0) FROM {schema}.events WHERE aggregate_id = %s AND event_id <> ALL(%s)"
            ),
            [aggregate_id, list(inserted)],
        )[0][0]
        return ConcurrencyError(aggregate_id, expected, int(actual))

    # ---- reading ----------------------------------------------------------------------------------------------------

    def _own_transaction(self) -> _Transaction | None:
        """The transaction this thread has open, if any."""
        transaction = self._transaction
        return transaction if transaction is not None and self._owner == threading.get_ident() else None

    @contextmanager
    def _reading(self) -> Iterator[psycopg.Connection]:
        """The read connection (opened on first use), for one thread at a time."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = connect(self.url)
            yield self._reader

    def _fetch(self, query: sql.Composable, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        transaction = self._own_transaction()
        if transaction is not None:
            return transaction.run([(query, list(params))])[0]
        with self._reading() as reader:
            return reader.execute(query, params).fetchall()

    def head_position(self) -> int:
        """The position of the last stored event (0: none)."""
        return int(self._fetch(self._q("SELECT coalesce(max(position), 0) FROM {schema}.events"))[0][0])

    def stream_version(self, aggregate_id: str) -> int:
        """The aggregate's version (0: not stored)."""
        inputs.text(aggregate_id, "aggregate_id")
        return int(self._fetch(self._q("SELECT coalesce(max(version), 0) FROM {schema}.events WHERE aggregate_id = %s"),
                               [aggregate_id])[0][0])  # fmt: skip

    def stream_heads(self, aggregate_ids: Sequence[str]) -> dict[str, rules.StreamHead]:
        """The stored head (version, type) of each of these aggregates that is stored."""
        if not aggregate_ids:
            return {}
        rows = self._fetch(
            self._q(
                "SELECT aggregate_id, max(version), min(aggregate_type) FROM {schema}.events "
                "WHERE aggregate_id = ANY(%s) GROUP BY aggregate_id"
            ),
            [list(aggregate_ids)],
        )
        return {aggregate_id: rules.StreamHead(int(version), kind) for aggregate_id, version, kind in rows}

    def stored_ids(self, event_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these event ids are stored."""
        if not event_ids:
            return set()
        rows = self._fetch(self._q("SELECT event_id FROM {schema}.events WHERE event_id = ANY(%s)"), [list(event_ids)])
        return {row[0] for row in rows}

    def read_stream(
        self, aggregate_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """One aggregate's events from `from_version` to `to_version` (inclusive), in version order."""
        params = inputs.stream_arguments(aggregate_id, from_version, to_version)
        query = self._select + self._q(" WHERE aggregate_id = %s AND version >= %s AND version <= %s ORDER BY version")
        return records(self._fetch(query, list(params)))

    def read_all(
        self, *, after_position: int = 0, limit: int = 1000, aggregate_type: str | None = None
    ) -> list[RecordedEvent]:
        """Up to `limit` events after `after_position`, in position order: what a pull subscriber asks for."""
        after_position, limit, aggregate_type = inputs.page_arguments(after_position, limit, aggregate_type)
        where, params = " WHERE position > %s", [after_position]
        if aggregate_type is not None:
            where, params = where + " AND aggregate_type = %s", [*params, aggregate_type]
        return records(self._fetch(self._select + self._q(where + " ORDER BY position LIMIT %s"), [*params, limit]))

    def version_at(self, aggregate_id: str, moment: datetime) -> int:
        """The aggregate's version as it was at `moment` (0 if it did not exist yet)."""
        inputs.text(aggregate_id, "aggregate_id"), inputs.moment(moment)
        query = self._q(
            "SELECT coalesce(max(version), 0) FROM {schema}.events WHERE aggregate_id = %s AND recorded_at <= %s"
        )
        return int(self._fetch(query, [aggregate_id, to_utc_naive(moment)])[0][0])

    def count(self, *, aggregate_type: str | None = None) -> int:
        """How many events are stored (of one aggregate type)."""
        if inputs.optional_text(aggregate_type, "aggregate_type") is None:
            return int(self._fetch(self._q("SELECT count(*) FROM {schema}.events"))[0][0])
        return int(
            self._fetch(self._q("SELECT count(*) FROM {schema}.events WHERE aggregate_type = %s"), [aggregate_type])[0][
                0
            ]
        )

    def stream_tail(
        self, aggregate_id: str, *, after_version: int, after_position: int, to_version: int | None
    ) -> pa.Table:
        """One aggregate's events after a version (and position) as Arrow columns, for `Repository.load`."""
        rows = self._fetch(
            self._q(
                "SELECT version, position, event_type, event_data::text, recorded_at FROM {schema}.events "
                "WHERE aggregate_id = %s AND position > %s AND version > %s AND version <= %s ORDER BY version"
            ),
            [aggregate_id, after_position, after_version, to_version if to_version is not None else rules.MAX_VERSION],
        )
        return _tail_table(rows)

    def load_stream(
        self, aggregate_id: str, aggregate_type: str, state_version: int | None, *, to_version: int | None
    ) -> tuple[Snapshot | None, pa.Table]:
        """The newest snapshot (of `state_version`; None: none wanted) at or before `to_version`, and the tail after
        it: both queries in one round trip (the tail finds the snapshot's version itself)."""
        return self.load_streams([aggregate_id], aggregate_type, state_version, to_version=to_version)[aggregate_id]

    def load_streams(
        self,
        aggregate_ids: Sequence[str],
        aggregate_type: str,
        state_version: int | None,
        *,
        to_version: int | None = None,
    ) -> dict[str, tuple[Snapshot | None, pa.Table]]:
        """`load_stream` for many aggregates: one statement each (the snapshot row first, then the events after it),
        all in one round trip."""
        top = to_version if to_version is not None else rules.MAX_VERSION
        kept = -1 if state_version is None else state_version  # no snapshot has a negative state version
        ids = list(dict.fromkeys(aggregate_ids))
        statements = [(self._q(LOAD_SQL), {"id": i, "type": aggregate_type, "kept": kept, "top": top}) for i in ids]
        transaction = self._own_transaction()
        if transaction is not None:
            results = transaction.run(statements)
        else:
            with self._reading() as reader:
                if len(statements) == 1:  # one statement needs no pipeline (whose own bookkeeping costs more)
                    results = [reader.execute(*statements[0]).fetchall()]
                else:
                    with reader.pipeline():
                        cursors = [reader.execute(query, params) for query, params in statements]
                    results = [cursor.fetchall() for cursor in cursors]
        loaded = {}
        for aggregate_id, rows in zip(ids, results, strict=True):
            snapshot = None
            if rows and rows[0][0] == 0:
                _, version, position, state, _, created_at, updated_at, kept_version = rows[0]
                snapshot = snapshot_of_row(
                    aggregate_id, (version, position, state, kept_version, created_at, updated_at)
                )
                rows = rows[1:]
            loaded[aggregate_id] = snapshot, _tail_table([row[1:6] for row in rows])
        return loaded

    # ---- analytics in DuckDB ---------------------------------------------------------------------------------------

    def export_events(
        self,
        *,
        after_position: int = 0,
        up_to_position: int | None = None,
        event_types: Sequence[str] | None = None,
        aggregate_type: str | None = None,
        aggregate_ids: Sequence[str] | None = None,
    ) -> pa.Table:
        """Events in positions (after_position, up_to_position] as Arrow columns shaped like the event table
        (event_data and metadata as JSON text): what DuckDB reads to replay or to feed a read model in bulk.

        Read with ADBC's PostgreSQL driver, which hands the rows over as Arrow straight from the wire (no Python
        object per row)."""
        import adbc_driver_postgresql.dbapi as adbc

        # Values written into the query as literals (ints, and strings quoted by psycopg): one statement, no binding.
        where = f"position > {int(after_position)}"
        if up_to_position is not None:
            where += f" AND position <= {int(up_to_position)}"
        if event_types:
            names = ", ".join(sql.Literal(str(name)).as_string(self.connection) for name in event_types)
            where += f" AND event_type IN ({names})"
        if aggregate_type is not None:
            where += f" AND aggregate_type = {sql.Literal(str(aggregate_type)).as_string(self.connection)}"
        if aggregate_ids is not None:
            ids = ", ".join(sql.Literal(str(i)).as_string(self.connection) for i in aggregate_ids) or "NULL"
            where += f" AND aggregate_id IN ({ids})"
        query = self._q(
            "SELECT position, aggregate_id, aggregate_type, version, event_id::text AS event_id, event_type, "
            "event_data::text AS event_data, metadata::text AS metadata, recorded_at FROM {schema}.events "
            f"WHERE {where} ORDER BY position"
        )
        with adbc.connect(self.url) as connection, connection.cursor() as cursor:
            cursor.execute(query)
            table = cursor.fetch_arrow_table()
        return table.replace_schema_metadata(None).cast(pa.schema([field.remove_metadata() for field in table.schema]))

    def to_duckdb(self, *, up_to_position: int | None = None) -> EventStore:
        """An in-memory DuckDB copy of the events (positions kept), for vectorized replays and bulk read models."""
        rows = self.export_events(up_to_position=up_to_position)
        copy = EventStore(":memory:")
        if rows.num_rows:
            positions = rows.column("position").to_numpy()
            if positions[0] != 1 or (positions[1:] != positions[:-1] + 1).any():
                raise EventStoreError(
                    f"schema {self.schema} has gaps in its positions (positions='sequence'): a copy would renumber "
                    "its events; copy a store kept with the default positions='locked'"
                )
            bulk_load(copy, rows.drop_columns(["position"]), validate=False, indexes=False)
        return copy

    # ---- checkpoints and snapshots ----------------------------------------------------------------------------------

    def read_checkpoint(self, subscription: str) -> int:
        """A subscription's checkpoint kept in this store's schema (0: none)."""
        rows = self._fetch(self._q("SELECT position FROM {schema}.subscription_checkpoints WHERE subscription = %s"),
                           [subscription])  # fmt: skip
        return int(rows[0][0]) if rows else 0

    def save_checkpoint(self, subscription: str, position: int) -> None:
        """Move a subscription's checkpoint (in the open transaction, if any)."""
        with self.transaction() as transaction:
            transaction.execute(
                self._q(
                    "INSERT INTO {schema}.subscription_checkpoints VALUES (%s, %s, %s) ON CONFLICT (subscription) "
                    "DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at"
                ),
                [subscription, position, to_utc_naive(self.clock())],
            )

    def position_of(self, aggregate_id: str, version: int) -> int | None:
        """The position of one stored version of an aggregate (None: not stored)."""
        rows = self._fetch(self._q("SELECT position FROM {schema}.events WHERE aggregate_id = %s AND version = %s"),
                           [aggregate_id, version])  # fmt: skip
        return int(rows[0][0]) if rows else None

    def write_snapshot(self, snapshot: Snapshot, aggregate_type: str) -> None:
        """Store a snapshot (replacing one at the same version and state version)."""
        with self.transaction() as transaction:
            transaction.execute(
                self._q(
                    "INSERT INTO {schema}.snapshots VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (aggregate_id, version, state_version) DO UPDATE SET position = excluded.position, "
                    "state = excluded.state, created_at = excluded.created_at, updated_at = excluded.updated_at, "
                    "aggregate_type = excluded.aggregate_type"
                ),
                [
                    snapshot.aggregate_id,
                    aggregate_type,
                    snapshot.version,
                    snapshot.position,
                    Jsonb(snapshot.state),
                    snapshot.state_version,
                    to_utc_naive(snapshot.created_at) if snapshot.created_at else None,
                    to_utc_naive(snapshot.updated_at) if snapshot.updated_at else None,
                ],
            )

    def read_snapshot(
        self, aggregate_id: str, aggregate_type: str, state_version: int, *, at_or_before: int | None = None
    ) -> Snapshot | None:
        """The newest snapshot at or before a version, of one state version (None: there is none)."""
        rows = self._fetch(
            self._q(
                "SELECT version, position, state::text, state_version, created_at, updated_at FROM {schema}.snapshots "
                "WHERE aggregate_id = %s AND aggregate_type = %s AND state_version = %s AND version <= %s "
                "ORDER BY version DESC LIMIT 1"
            ),
            [
                aggregate_id,
                aggregate_type,
                state_version,
                at_or_before if at_or_before is not None else rules.MAX_VERSION,
            ],
        )
        return snapshot_of_row(aggregate_id, rows[0]) if rows else None

    def count_snapshots(self, aggregate_id: str | None = None) -> int:
        """How many snapshots are stored (of one aggregate)."""
        if aggregate_id is None:
            return int(self._fetch(self._q("SELECT count(*) FROM {schema}.snapshots"))[0][0])
        return int(
            self._fetch(self._q("SELECT count(*) FROM {schema}.snapshots WHERE aggregate_id = %s"), [aggregate_id])[0][
                0
            ]
        )

    # ---- notifications ----------------------------------------------------------------------------------------------

    def listen(self) -> None:
        """Start listening for appends (a connection of its own); notifications sent from now on are kept until
        `wait_for_news` takes them, so none is lost between a poll and the wait after it."""
        with self._lock:
            if self._listener is None:
                self._listener = connect(self.url)
                self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))

    def wait_for_news(self, timeout: float) -> int | None:
        """Sleep until an append commits (the head position it reached) or `timeout` seconds pass (None)."""
        self.listen()
        assert self._listener is not None
        news = None
        for notice in self._listener.notifies(timeout=timeout, stop_after=1):
            news = int(notice.payload)
        return news


def connect(url: str) -> psycopg.Connection:
    """An autocommit connection to `url`, or an EventStoreError saying what is wrong and how to fix it."""
    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise cannot_connect(url, exc) from None
    except psycopg.ProgrammingError as exc:
        raise EventStoreError(f"{_safe(url)} is not a PostgreSQL connection URL: {exc}") from None
    try:
        check_server_version(url, connection.info.server_version)
    except EventStoreError:
        connection.close()
        raise
    return connection


def cannot_connect(url: str, exc: psycopg.OperationalError) -> EventStoreError:
    """The refusal for a server that cannot be reached or lets nobody in: the driver's reason (its first line) and
    what to do about it."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = (
        "check the password in the URL"
        if "password" in reason
        else "start one with `labkit db up`, or check the host and port in the URL"
    )
    return EventStoreError(f"cannot connect to the PostgreSQL server at {_safe(url)}: {reason}; {hint}")


def check_server_version(url: str, version: int) -> None:
    """Refuse a server older than PostgreSQL 14 (`version` as libpq gives it: 140000 for 14.0)."""
    if version < MINIMUM_SERVER:
        raise EventStoreError(
            f"the server at {_safe(url)} runs PostgreSQL {version // 10000}; labkit needs 14 or newer "
            "(`labkit db up` starts PostgreSQL 18)"
        )


def _safe(url: str) -> str:
    """A URL with its password hidden, for messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


class _Transaction:
    """An open transaction of a PostgreSQL store: statements go through `run` (or `execute`), BEGIN with the first.

    Statements given together travel in one round trip (psycopg's pipeline mode)."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection = connection
        self.begun = False
        self.deferred: list[Any] = []  # statements whose answer no one waits for: sent with the next ones
        self.deferred_rows: list[dict[str, Any]] = []  # the rows they insert (to name them if the commit is refused)

    def defer(self, statements: Sequence[Any], rows: list[dict[str, Any]]) -> None:
        """Send these statements with the next `run` or with the COMMIT (an error in them fails that call)."""
        self.deferred += statements
        self.deferred_rows += rows

    def run(self, statements: Sequence[Any]) -> list[list[tuple[Any, ...]]]:
        """Run `query` or `(query, params)` items in order, after the deferred ones; each one's rows ([] for
        statements without rows)."""
        pending, self.deferred = self.deferred, []
        cursors = []
        with self.connection.pipeline():
            if not self.begun:
                self.connection.execute("BEGIN")
                self.begun = True
            for statement in [*pending, *statements]:
                query, params = statement if isinstance(statement, tuple) else (statement, None)
                cursors.append(self.connection.execute(query, params))
        return [cursor.fetchall() if cursor.description else [] for cursor in cursors[len(pending) :]]

    def execute(self, query: Any, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One statement (with its parameters) in the transaction; its rows."""
        return self.run([(query, list(params))])[0]

    def end(self, command: str) -> None:
        """COMMIT (with the deferred statements, in one round trip) or ROLLBACK (dropping them), if anything was
        begun."""
        if command == "COMMIT" and self.deferred:
            self.run(["COMMIT"])
        elif self.begun:
            self.deferred = []
            self.connection.execute(command)


def _tail_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Rows (version, position, event_type, event_data text, recorded_at) as the Arrow columns `Repository.load` folds."""
    names = ("version", "position", "event_type", "event_data", "recorded_at")
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    types = (pa.int32(), pa.int64(), pa.string(), pa.string(), pa.timestamp("us"))
    return pa.table({n: pa.array(list(c), t) for n, c, t in zip(names, columns, types, strict=True)})
