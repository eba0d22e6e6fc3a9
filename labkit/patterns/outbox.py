"""The transactional outbox: the event row is written in the same transaction as the state, a relay publishes it.

The service never talks to the broker while it changes state: it inserts the event into its own `outbox` table
in the transaction that changes the state, so both commit or neither does. A relay then reads unsent rows in
order, publishes them and marks them sent. The relay is at-least-once: if it stops after publishing and before
marking, it publishes those rows again when it restarts. Consumers must therefore be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from labkit.events import NewEvent, RecordedEvent
from labkit.events.codec import to_utc_naive, utc_now
from labkit.patterns.broker import EventBroker, envelope_values, recorded_event

OUTBOX_SQL = """
CREATE TABLE IF NOT EXISTS outbox (
    seq            BIGINT    PRIMARY KEY,  -- publish order
    event_id       UUID      NOT NULL UNIQUE,
    aggregate_id   VARCHAR   NOT NULL,
    aggregate_type VARCHAR   NOT NULL,
    version        INTEGER   NOT NULL,
    event_type     VARCHAR   NOT NULL,
    event_data     JSON      NOT NULL,
    metadata       JSON      NOT NULL,
    created_at     TIMESTAMP NOT NULL,     -- UTC, in the state change's transaction
    sent_at        TIMESTAMP               -- NULL until the relay has published it
)
"""


def add_to_outbox(connection: duckdb.DuckDBPyConnection, event: NewEvent, *, version: int) -> int:
    """Insert the event into the outbox with the caller's connection (inside its transaction); its seq."""
    row = connection.execute("SELECT coalesce(max(seq), 0) + 1 FROM outbox").fetchone()
    seq = int(row[0]) if row else 1
    connection.execute(
        "INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?::JSON, ?::JSON, ?, NULL)",
        [seq, *envelope_values(event, version), to_utc_naive(utc_now())],
    )
    return seq


def unsent(connection: duckdb.DuckDBPyConnection, limit: int) -> list[tuple[int, RecordedEvent]]:
    """Up to `limit` unsent outbox rows in seq order, as (seq, event)."""
    rows = connection.execute(
        """SELECT seq, aggregate_id, aggregate_type, version, event_id, event_type, event_data, metadata, created_at
           FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?""",
        [limit],
    ).fetchall()
    return [(row[0], recorded_event(row)) for row in rows]


class OutboxRelay:
    """Publishes unsent outbox rows to a broker a batch at a time, then marks the batch sent.

    `after_publish(batch)` is called after a batch is published and before it is marked sent: the window where a
    crash makes the relay publish the whole batch again (the fault injector's crash point).
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        broker: EventBroker,
        *,
        batch_size: int = 10,
        after_publish: Callable[[list[RecordedEvent]], None] | None = None,
    ) -> None:
        self.connection, self.broker, self.batch_size = connection, broker, batch_size
        self.after_publish = after_publish or (lambda batch: None)
        connection.execute(OUTBOX_SQL)

    def relay_batch(self) -> int:
        """Publish one batch and mark it sent; how many rows (0: the outbox is drained)."""
        batch = unsent(self.connection, self.batch_size)
        if batch:
            events = [event for _, event in batch]
            self.broker.publish(events)  # acked by the broker: published, whatever happens next
            self.after_publish(events)
            marks = ", ".join("?" * len(batch))
            self.connection.execute(  # one statement, one transaction: the whole batch is marked, or none of it
                f"UPDATE outbox SET sent_at = ? WHERE seq IN ({marks})",
                [to_utc_naive(utc_now()), *(seq for seq, _ in batch)],
            )
        return len(batch)

    def drain(self) -> int:
        """Relay until no unsent row is left; how many rows were published."""
        published = 0
        while count := self.relay_batch():
            published += count
        return published
