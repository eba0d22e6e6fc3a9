"""The DuckDB back-end's tables and indexes, shared by the store (`store.py`) and the bulk loader (`bulk.py`)."""

from __future__ import annotations

from typing import Any

import duckdb

EVENTS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS events (
    position       BIGINT    NOT NULL,  -- global order, 1..n, no gaps, in commit order
    aggregate_id   VARCHAR   NOT NULL,
    aggregate_type VARCHAR   NOT NULL,
    version        INTEGER   NOT NULL,  -- 1..n within the aggregate, no gaps
    event_id       UUID      NOT NULL,  -- unique: appending a stored id again is a no-op
    event_type     VARCHAR   NOT NULL,
    event_data     JSON      NOT NULL,
    metadata       JSON      NOT NULL,  -- correlation_id, causation_id, ...
    recorded_at    TIMESTAMP NOT NULL   -- UTC
)
"""

# Created with a new store. A bulk load into an empty store drops them and builds them once after the insert (much
# faster than maintaining them row by row); large generated workloads leave them out (see create_indexes).
INDEXES_SQL = (
    "CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events (event_id)",
    "CREATE INDEX IF NOT EXISTS events_aggregate_id ON events (aggregate_id)",
)
DROP_INDEXES_SQL = ("DROP INDEX IF EXISTS events_event_id", "DROP INDEX IF EXISTS events_aggregate_id")

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


def first_row(result: duckdb.DuckDBPyConnection) -> Any:
    """The first row of a query result (or None), reading the result to its end so the connection is free again."""
    rows = result.fetchall()
    return rows[0] if rows else None
