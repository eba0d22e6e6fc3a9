"""The message broker of the dual-write demonstrations: a second DuckDB database that services publish to.

It stands in for Kafka or RabbitMQ with the one property that matters here: it is a different store from the
service's database, so no transaction spans both. Like a real broker it accepts whatever it is sent, repeats
included; each message gets the next offset. Consumers pull it like an event store (`read_all`), the offset
being the position.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import orjson

from labkit.events import NewEvent, RecordedEvent
from labkit.events.codec import COLUMNS, recorded, to_utc_naive, utc_now

MESSAGES_SQL = """
CREATE TABLE IF NOT EXISTS messages (
    "offset"       BIGINT    PRIMARY KEY,  -- 1..n in publish order: the consumers' position
    event_id       UUID      NOT NULL,     -- not unique: a repeat is published as a new message
    aggregate_id   VARCHAR   NOT NULL,
    aggregate_type VARCHAR   NOT NULL,
    version        INTEGER   NOT NULL,
    event_type     VARCHAR   NOT NULL,
    event_data     JSON      NOT NULL,
    metadata       JSON      NOT NULL,
    recorded_at    TIMESTAMP NOT NULL,     -- when the event happened (UTC)
    published_at   TIMESTAMP NOT NULL
)
"""

_COLUMNS = '"offset", aggregate_id, aggregate_type, version, event_id, event_type, event_data, metadata, recorded_at'


def envelope_values(event: RecordedEvent | NewEvent, version: int) -> tuple[object, ...]:
    """(event_id, aggregate_id, aggregate_type, version, event_type, event_data JSON, metadata JSON): the columns
    the broker's messages and the outbox's rows share, in that order."""
    return (
        event.event_id,
        event.aggregate_id,
        event.aggregate_type,
        version,
        event.event_type,
        orjson.dumps(dict(event.event_data)).decode(),
        orjson.dumps(dict(event.metadata)).decode(),
    )


def recorded_event(row: tuple) -> RecordedEvent:
    """A row selected in the event table's column order (`codec.COLUMNS`) as a RecordedEvent."""
    return recorded(dict(zip(COLUMNS, row, strict=True)))


class MessageBroker:
    """Messages in a DuckDB database (a path, ":memory:", or an open connection to share a transaction)."""

    def __init__(self, database: str | Path | duckdb.DuckDBPyConnection = ":memory:") -> None:
        if isinstance(database, duckdb.DuckDBPyConnection):
            self.connection = database
        else:
            self.connection = duckdb.connect(str(database))
        exists = self.connection.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'messages'")
        if not (exists.fetchone() or (0,))[0]:  # checked first, so a read-only connection can read messages
            self.connection.execute(MESSAGES_SQL)

    def close(self) -> None:
        """Close the broker's connection."""
        self.connection.close()

    def publish(
        self,
        events: Sequence[RecordedEvent | NewEvent],
        *,
        versions: Sequence[int] | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> int:
        """Append messages (in one transaction, or in the caller's when `connection` is given); the last offset.

        A `NewEvent` carries no version: give `versions` (one per event) for those.
        """
        if not events:
            return self.head_position()
        own = connection is None
        connection = connection or self.connection
        if own:
            connection.execute("BEGIN TRANSACTION")
        try:
            row = connection.execute('SELECT coalesce(max("offset"), 0) FROM messages').fetchone()
            head = int(row[0]) if row else 0
            now = to_utc_naive(utc_now())
            rows = []
            for i, event in enumerate(events):
                version = event.version if isinstance(event, RecordedEvent) else (versions or [])[i]
                recorded_at = to_utc_naive(event.recorded_at) if isinstance(event, RecordedEvent) else now
                rows.append((head + i + 1, *envelope_values(event, version), recorded_at, now))
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?::JSON, ?::JSON, ?, ?)"] * len(rows))
            connection.execute(f"INSERT INTO messages VALUES {values}", [v for r in rows for v in r])
        except BaseException:
            if own:
                connection.execute("ROLLBACK")
            raise
        if own:
            connection.execute("COMMIT")
        return head + len(rows)

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to `limit` messages after offset `after_position`, as events whose position is the offset."""
        rows = self.connection.execute(
            f'SELECT {_COLUMNS} FROM messages WHERE "offset" > ? ORDER BY "offset" LIMIT ?', [after_position, limit]
        ).fetchall()
        return [recorded_event(row) for row in rows]

    def head_position(self) -> int:
        """The offset of the last message (0 when empty)."""
        row = self.connection.execute('SELECT coalesce(max("offset"), 0) FROM messages').fetchone()
        return int(row[0]) if row else 0
