"""Checkpoints: how far a subscriber has got, saved in the subscriber's own database with its writes.

The only code that reads or writes the `subscription_checkpoints` table. Every subscriber in labkit (a
`Subscription`, a service's feed consumer, a read model's bulk catch-up, a projection's rebuild) saves its
checkpoint here, inside the same transaction as the effects of the events it handled: a crash loses both or keeps
both, so a restart resumes right after the last committed event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from labkit.events.codec import to_utc_naive, utc_now

CHECKPOINTS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS subscription_checkpoints (
    subscription VARCHAR   PRIMARY KEY,
    position     BIGINT    NOT NULL,  -- the last position whose effects are committed
    updated_at   TIMESTAMP NOT NULL
)
"""


class Connection(Protocol):
    """What checkpoints need of a database connection (DuckDB's, or a cursor of it)."""

    def execute(self, query: str, parameters: Any = ...) -> Any: ...


def create_checkpoints_table(connection: Connection) -> None:
    """Create the checkpoints table in the subscriber's database if it is not there."""
    connection.execute(CHECKPOINTS_TABLE_SQL)


def read_checkpoint(connection: Connection, subscription: str) -> int:
    """The last position whose effects `subscription` has committed (0: none yet)."""
    # fetchall, not fetchone: DuckDB refuses other work on a connection with a result left unfinished.
    rows = connection.execute(
        "SELECT position FROM subscription_checkpoints WHERE subscription = ?", [subscription]
    ).fetchall()
    return int(rows[0][0]) if rows else 0


def save_checkpoint(connection: Connection, subscription: str, position: int, *, at: datetime | None = None) -> None:
    """Move `subscription`'s checkpoint to `position`, in the caller's transaction (with the handler's writes)."""
    connection.execute(
        "INSERT OR REPLACE INTO subscription_checkpoints VALUES (?, ?, ?)",
        [subscription, position, to_utc_naive(at or utc_now())],
    )
