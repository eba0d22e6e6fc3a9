"""The bulk loader: millions of events from Arrow, pandas or Parquet into the event table in one transaction.

Rows are taken in input order and get positions after the store's head. Checks run in SQL over the whole input
before anything is written (known event types, event_data fields and JSON types, versions continuing each
aggregate without gaps, one aggregate type per aggregate). Into an empty store the indexes are dropped and
rebuilt after the insert: building them once is several times faster than maintaining them row by row.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from labkit.events.errors import DuplicateEventError, EventStoreError, MalformedEventError, WrongAggregateTypeError
from labkit.events.event import _field_types, check_data, event_class
from labkit.events.store import DROP_INDEXES_SQL, INDEXES_SQL, EventStore, first_row, to_utc_naive

REQUIRED = ("aggregate_id", "aggregate_type", "version", "event_type", "event_data")

# DuckDB's json_type() names for the values each Python field type accepts.
JSON_TYPES = {str: ("VARCHAR",), int: ("BIGINT", "UBIGINT"), float: ("DOUBLE", "BIGINT", "UBIGINT"), bool: ("BOOLEAN",)}


def _as_arrow(events: pa.Table | pd.DataFrame | str | Path) -> pa.Table:
    if isinstance(events, pa.Table):
        return events
    if isinstance(events, pd.DataFrame):
        return pa.Table.from_pandas(events, preserve_index=False)
    return pq.read_table(events)


def _shape_problem(event_type: str, shape: dict[str, object]) -> str | None:
    """What is wrong with a JSON shape (field -> json_structure type) for `event_type`, or None."""
    fields = _field_types(event_class(event_type))
    if set(shape) != set(fields):
        return f"fields {sorted(shape)}, expected {sorted(fields)}"
    for name, (accepted, optional) in fields.items():
        names = {t for python_type in accepted for t in JSON_TYPES[python_type]} | ({"NULL"} if optional else set())
        if shape[name] not in names:
            return f"{name} is {shape[name]}"
    return None


def _check(connection: duckdb.DuckDBPyConnection, stored_before: int) -> None:
    """Refuse the whole input at its first bad row, naming it; nothing is written yet.

    Each row's JSON is parsed once (json_structure); the few distinct (event type, shape) pairs are then checked
    against the event classes in Python, and versions against the previous row of the same aggregate (lag).
    """
    invalid = first_row(connection.execute("SELECT min(rn) FROM bulk_input WHERE NOT json_valid(event_data)"))[0]
    if invalid is not None:
        event_type, data = first_row(
            connection.execute("SELECT event_type, event_data FROM bulk_input WHERE rn = ?", [invalid])
        )
        raise MalformedEventError(event_type, "(event_data)", f"row {invalid}: not JSON: {str(data)[:80]!r}")
    shapes = connection.execute(
        """SELECT event_type, json_structure(event_data)::VARCHAR AS shape, min(rn) AS first
           FROM bulk_input GROUP BY ALL ORDER BY first"""
    ).fetchall()
    bad_rows = []
    for event_type, shape, row in shapes:
        event_class(event_type)  # raises UnknownEventTypeError naming the type
        parsed = orjson.loads(shape)
        if parsed == "JSON":  # json_structure's answer for {} (and []): fine for an event without fields
            not_object = first_row(
                connection.execute(
                    "SELECT min(rn) FROM bulk_input WHERE event_type = ? AND json_type(event_data) != 'OBJECT'",
                    [event_type],
                )
            )[0]
            parsed, row = ({}, row) if not_object is None else (None, not_object)
        if not isinstance(parsed, dict) or _shape_problem(event_type, parsed) is not None:
            bad_rows.append(row)
    if bad_rows:
        rn = min(bad_rows)
        event_type, data = first_row(
            connection.execute("SELECT event_type, event_data FROM bulk_input WHERE rn = ?", [rn])
        )
        try:
            check_data(event_class(event_type), orjson.loads(data))
        except MalformedEventError as exc:
            raise MalformedEventError(event_type, exc.field, f"row {rn}: {exc}") from None
        raise MalformedEventError(event_type, "(event_data)", f"row {rn}: {data[:80]!r} does not match its fields")
    heads = (
        "LEFT JOIN (SELECT aggregate_id, max(version) AS head, any_value(aggregate_type) AS stored_type FROM events "
        "GROUP BY aggregate_id) h USING (aggregate_id)"
        if stored_before
        else "LEFT JOIN (SELECT NULL::VARCHAR AS aggregate_id, 0 AS head, NULL::VARCHAR AS stored_type) h USING (aggregate_id)"
    )
    wrong = first_row(
        connection.execute(
            f"""SELECT rn, aggregate_id, version, coalesce(previous, head, 0) + 1 AS expected, aggregate_type,
                       coalesce(previous_type, stored_type, aggregate_type) AS owner_type
                FROM (SELECT rn, aggregate_id, version, aggregate_type,
                             lag(version) OVER (PARTITION BY aggregate_id ORDER BY rn) AS previous,
                             lag(aggregate_type) OVER (PARTITION BY aggregate_id ORDER BY rn) AS previous_type
                      FROM bulk_input) n {heads}
                WHERE version != coalesce(previous, head, 0) + 1
                   OR aggregate_type != coalesce(previous_type, stored_type, aggregate_type)
                ORDER BY rn LIMIT 1"""
        )
    )
    if wrong is not None:
        rn, aggregate_id, version, expected, aggregate_type, owner_type = wrong
        if aggregate_type != owner_type:
            raise WrongAggregateTypeError(f"row {rn}: {aggregate_id} is a {owner_type}, this row says {aggregate_type}")
        raise EventStoreError(
            f"row {rn}: {aggregate_id} version {version} where version {expected} comes next; versions of an "
            "aggregate must run 1, 2, 3... in input order, continuing what is stored"
        )


def bulk_load(
    store: EventStore,
    events: pa.Table | pd.DataFrame | str | Path,
    *,
    validate: bool = True,
    progress: bool = False,
) -> int:
    """Append many events (columns aggregate_id, aggregate_type, version, event_type, event_data as JSON text, and
    optionally event_id, metadata, recorded_at) in input order, atomically; how many were loaded."""
    table = _as_arrow(events)
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise MalformedEventError("(bulk input)", missing[0], f"missing column; bulk_load needs {', '.join(REQUIRED)}")
    n = table.num_rows
    table = table.append_column("rn", pa.array(np.arange(n, dtype=np.int64)))
    store.connection.register("bulk_arrow", table)
    try:
        # Without event ids, each event gets a random one (uuid4), as `NewEvent` would give it.
        event_id = "" if "event_id" in table.column_names else ", uuid() AS event_id"
        store.connection.execute(f"CREATE OR REPLACE TEMP VIEW bulk_input AS SELECT *{event_id} FROM bulk_arrow")
        return load_view(store, validate=validate, progress=progress)
    finally:
        store.connection.execute("DROP VIEW IF EXISTS bulk_input")
        store.connection.unregister("bulk_arrow")


def load_view(store: EventStore, *, validate: bool = True, progress: bool = False, indexes: bool = True) -> int:
    """Load the rows of the temporary view `bulk_input` (the bulk columns plus `rn`, the input order from 0).

    Into an empty store, `indexes=False` leaves the indexes out (see `EventStore.create_indexes`).
    """
    columns = {row[0] for row in store.connection.execute("DESCRIBE bulk_input").fetchall()}
    metadata = "metadata" if "metadata" in columns else "'{}'"
    recorded_at = "recorded_at" if "recorded_at" in columns else "?::TIMESTAMP"
    steps = ["check", "insert", "index"]
    try:
        with store.transaction() as connection, tqdm(total=len(steps), disable=not progress, desc="bulk load") as bar:
            head = store.head_position()
            stored_before = store.count()
            row = first_row(connection.execute("SELECT count(*) FROM bulk_input"))
            n = int(row[0]) if row else 0
            if validate:
                bar.set_postfix_str("checking")
                _check(connection, stored_before)
            bar.update(1)
            if stored_before == 0:
                for statement in DROP_INDEXES_SQL:
                    connection.execute(statement)
            bar.set_postfix_str("inserting")
            params = [] if recorded_at != "?::TIMESTAMP" else [to_utc_naive(store.clock())]
            connection.execute(
                f"""INSERT INTO events
                    SELECT {head} + rn + 1, aggregate_id, aggregate_type, version::INTEGER, event_id::UUID,
                           event_type, event_data::JSON, {metadata}::JSON, {recorded_at}
                    FROM bulk_input""",
                params,
            )
            store._head = None  # appends later in this transaction must look the head up again
            bar.update(1)
            bar.set_postfix_str("indexing")
            if indexes or stored_before:
                for statement in INDEXES_SQL:
                    connection.execute(statement)
            bar.update(1)
    except duckdb.ConstraintException as exc:
        # The transaction is rolled back by now: find the offending id for the message.
        raise DuplicateEventError(
            _duplicate_id(store.connection), f"is given twice or is already stored ({exc})"
        ) from None
    return n


def _duplicate_id(connection: duckdb.DuckDBPyConnection) -> uuid.UUID | str:
    row = first_row(
        connection.execute("SELECT event_id::UUID FROM bulk_input GROUP BY 1 HAVING count(*) > 1 LIMIT 1")
    ) or first_row(
        connection.execute(
            "SELECT b.event_id::UUID FROM bulk_input b JOIN events e ON e.event_id = b.event_id::UUID LIMIT 1"
        )
    )
    return row[0] if row else "(unknown)"
