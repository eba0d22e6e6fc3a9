"""The bulk loader: millions of events from Arrow, pandas or Parquet into the event table in one transaction.

Rows are taken in input order and get positions after the store's head. Checks run over the whole input before
anything is written (values in every required column, known event types, event_data fields and JSON types,
versions continuing each aggregate without gaps, one aggregate type per aggregate); a bad row is named. Into an
empty store the indexes are dropped before the transaction and built once after the insert, inside it: several
times faster than maintaining them row by row, and `indexes=False` leaves them out (a store for replay and queries).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from labkit.events import rules
from labkit.events.codec import to_utc_naive
from labkit.events.duckdb_schema import DROP_INDEXES_SQL, first_row
from labkit.events.errors import DuplicateEventError, MalformedEventError
from labkit.events.event import check_data, event_class, field_types

if TYPE_CHECKING:  # the store calls the loader; the loader only needs the store's type
    from labkit.events.store import EventStore

REQUIRED = ("aggregate_id", "aggregate_type", "version", "event_type", "event_data")

# DuckDB's json_type() names for the values each Python field type accepts.
JSON_TYPES = {str: ("VARCHAR",), int: ("BIGINT", "UBIGINT"), float: ("DOUBLE", "BIGINT", "UBIGINT"), bool: ("BOOLEAN",)}


# DuckDB's Arrow scan pays a cost per chunk: a pandas frame built by concatenating many small frames converts to
# one chunk per frame (10,000 chunks of 100 rows made the insert 5x slower), so such input is made contiguous.
SMALL_CHUNKS = 65_536  # rows per chunk, on average, below which the input is combined into one chunk


def _as_arrow(events: pa.Table | pd.DataFrame | str | Path) -> pa.Table:
    if isinstance(events, pa.Table):
        table = events
    elif isinstance(events, pd.DataFrame):
        table = pa.Table.from_pandas(events, preserve_index=False)
    else:
        table = pq.read_table(events)
    chunks = max((column.num_chunks for column in table.columns), default=0)
    return table.combine_chunks() if chunks > 1 and table.num_rows / chunks < SMALL_CHUNKS else table


def _shape_sql(event_types: list[str]) -> str:
    """A query for the rows (rn, event_type, event_data) whose event_data may not be what `check_data` accepts.

    Per row: the JSON type at each declared field's path and the number of keys (a malformed document gives NULL,
    through try). Every declared field there with an accepted type and no other key is the shape `check_data`
    accepts; a row that fails this is looked at in Python (see `_check`). One or two JSON parses a row, where
    json_structure cost three times as much (measured on 1M events).
    """
    types, fits = [], []
    for event_type in event_types:
        fields = field_types(event_class(event_type))
        name = _quote(event_type)
        if not fields:
            types.append(f"WHEN {name} THEN [json_type(event_data)]")
            fits.append(f"WHEN {name} THEN n_keys = 0 AND types[1] = 'OBJECT'")
            continue
        paths = ", ".join(_quote(f'$."{field}"') for field in fields)
        types.append(f"WHEN {name} THEN json_type(event_data, [{paths}])")
        conditions = [f"n_keys = {len(fields)}"]
        for i, (accepted, optional) in enumerate(fields.values(), start=1):
            names = sorted(
                {t for python_type in accepted for t in JSON_TYPES[python_type]} | ({"NULL"} if optional else set())
            )
            conditions.append(f"types[{i}] IN ({', '.join(map(_quote, names))})")
        fits.append(f"WHEN {name} THEN {' AND '.join(conditions)}")
    return f"""SELECT rn, event_type, event_data FROM (
                   SELECT rn, event_type, event_data, try(CASE event_type {" ".join(types)} END) AS types,
                          try(len(json_keys(event_data))) AS n_keys
                   FROM bulk_input)
               WHERE NOT coalesce(CASE event_type {" ".join(fits)} END, false)"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _check(connection: duckdb.DuckDBPyConnection, stored_before: int) -> None:
    """Refuse the whole input at its first bad row, naming it; nothing is written yet.

    Shapes: one SQL pass finds the rows whose event_data may not fit (`_shape_sql`); each of those, in input order,
    is then checked by `check_data`, as `append` would, and the first refused one is named. Versions are checked
    against the previous row of the same aggregate (lag).
    """
    nulls = ", ".join(f"min(rn) FILTER (WHERE {name} IS NULL)" for name in REQUIRED)
    per_type = connection.execute(
        f"SELECT event_type, {nulls} FROM bulk_input GROUP BY event_type ORDER BY min(rn)"
    ).fetchall()
    empty = [(row[i], name) for row in per_type for i, name in enumerate(REQUIRED, start=1) if row[i] is not None]
    if empty:
        rn, name = min(empty)
        raise MalformedEventError("(bulk input)", name, f"row {rn}: no value; every row needs one")
    event_types = [row[0] for row in per_type]
    for event_type in event_types:
        event_class(event_type)  # raises UnknownEventTypeError naming the type
    suspects = _shape_sql(event_types)
    first = first_row(connection.execute(f"SELECT min(rn) FROM ({suspects})"))[0]
    while first is not None:
        rows = connection.execute(f"{suspects} AND rn >= ? ORDER BY rn LIMIT 1000", [first]).fetchall()
        for rn, event_type, data in rows:
            _check_row(rn, event_type, data)
        # Only documents SQL reads differently from orjson get here and pass (a key given twice, an integer
        # beyond 64 bits): look further.
        first = rows[-1][0] + 1 if len(rows) == 1000 else None
    _check_versions(connection, stored_before)


def _check_row(rn: int, event_type: str, data: str) -> None:
    """Raise MalformedEventError naming row `rn` if its event_data is not what `append` accepts for `event_type`."""
    try:
        parsed = orjson.loads(data)
    except (orjson.JSONDecodeError, TypeError):
        raise MalformedEventError(event_type, "(event_data)", f"row {rn}: not JSON: {str(data)[:80]!r}") from None
    try:
        check_data(event_class(event_type), parsed)
    except MalformedEventError as exc:
        raise MalformedEventError(event_type, exc.field, f"row {rn}: {exc}") from None


def _check_versions(connection: duckdb.DuckDBPyConnection, stored_before: int) -> None:
    """The write rules over the input's versions and types (`rules.check_write`), after the stored heads.

    Vectorized in NumPy over the Arrow columns (4x faster than an SQL window here, measured on 1M events).
    """
    columns = connection.sql("SELECT rn, aggregate_id, aggregate_type, version FROM bulk_input").to_arrow_table()
    rn = columns.column("rn").to_numpy()
    if np.any(np.diff(rn) < 0):  # a scan may hand rows back out of input order
        columns = columns.take(np.argsort(rn, kind="stable"))
    heads: dict[str, rules.StreamHead] = {}
    if stored_before:
        rows = connection.execute(
            """SELECT aggregate_id, max(version), any_value(aggregate_type) FROM events
               WHERE aggregate_id IN (SELECT DISTINCT aggregate_id FROM bulk_input) GROUP BY 1"""
        ).fetchall()
        heads = {aggregate_id: rules.StreamHead(int(version), kind) for aggregate_id, version, kind in rows}
    rules.check_write(
        columns.column("aggregate_id"),
        columns.column("aggregate_type"),
        columns.column("version"),
        heads=heads,
        expected=False,
    )


def bulk_load(
    store: EventStore,
    events: pa.Table | pd.DataFrame | str | Path,
    *,
    validate: bool = True,
    indexes: bool = True,
    progress: bool = False,
) -> int:
    """Append many events (columns aggregate_id, aggregate_type, version, event_type, event_data as JSON text, and
    optionally event_id, metadata, recorded_at) in input order, atomically; how many were loaded.

    Into an empty store, `indexes=False` leaves the event_id and aggregate_id indexes out: a store for replay and
    queries, loaded about twice as fast (`labkit bench events` measures both); `EventStore.create_indexes` adds them.
    """
    table = _as_arrow(events)
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise MalformedEventError("(bulk input)", missing[0], f"missing column; bulk_load needs {', '.join(REQUIRED)}")
    n = table.num_rows
    table = table.append_column("rn", pa.array(np.arange(n, dtype=np.int64)))
    store.connection.register("bulk_arrow", table)
    try:
        # Without event ids, each event gets a random one (uuid4), as `NewEvent` would give it.
        generated_ids = "event_id" not in table.column_names
        event_id = ", uuid() AS event_id" if generated_ids else ""
        store.connection.execute(f"CREATE OR REPLACE TEMP VIEW bulk_input AS SELECT *{event_id} FROM bulk_arrow")
        return load_view(store, validate=validate, progress=progress, indexes=indexes, generated_ids=generated_ids)
    finally:
        store.connection.execute("DROP VIEW IF EXISTS bulk_input")
        store.connection.unregister("bulk_arrow")


def load_view(
    store: EventStore,
    *,
    validate: bool = True,
    progress: bool = False,
    indexes: bool = True,
    generated_ids: bool = False,
) -> int:
    """Load the rows of the temporary view `bulk_input` (the bulk columns plus `rn`, the input order from 0).

    Into an empty store, `indexes=False` leaves the indexes out (see `EventStore.create_indexes`).
    `generated_ids`: the view makes a new random event_id per row, so no id can repeat (nothing to check).
    """
    columns = {row[0] for row in store.connection.execute("DESCRIBE bulk_input").fetchall()}
    metadata = "metadata" if "metadata" in columns else "'{}'"
    recorded_at = "recorded_at" if "recorded_at" in columns else "?::TIMESTAMP"
    with store.locked():
        # An index dropped inside the loading transaction is still maintained row by row until it commits (4x
        # slower, measured), so an empty store's indexes are dropped before it (nothing is stored to lose) and
        # built once after the insert, in the same transaction as the events.
        rebuild = not store.in_transaction and store.count() == 0 and store.has_indexes()
        if rebuild:
            for statement in DROP_INDEXES_SQL:
                store.connection.execute(statement)
        try:
            return _load(
                store,
                metadata,
                recorded_at,
                validate=validate,
                progress=progress,
                indexes=indexes,
                generated_ids=generated_ids,
            )
        except (duckdb.ConstraintException, duckdb.TransactionException) as exc:
            # Unchecked input (validate=False) may hold an empty required value: the table refuses it.
            empty = re.search(r'NOT NULL constraint failed: events\."?(\w+)', str(exc))  # "version" comes quoted
            if empty:
                raise MalformedEventError(
                    "(bulk input)", empty[1], "no value in some row; every row needs one (validate=True names the row)"
                ) from None
            # An index built in the transaction refuses a repeated id at commit (TransactionException). The
            # transaction is rolled back by now: find the offending id for the message.
            if "constraint" not in str(exc).lower():
                raise
            raise DuplicateEventError(
                _duplicate_id(store.connection), f"is given twice or is already stored ({exc})"
            ) from None
        finally:
            if rebuild and not store.has_indexes() and store.count() == 0:
                store.create_indexes()  # the load failed: the empty store is as it was


def _load(
    store: EventStore,
    metadata: str,
    recorded_at: str,
    *,
    validate: bool,
    progress: bool,
    indexes: bool,
    generated_ids: bool,
) -> int:
    steps = ["check", "insert", "index"]
    with store.transaction() as connection, tqdm(total=len(steps), disable=not progress, desc="bulk load") as bar:
        # Known when this transaction appended before (group commit): one query less.
        head = store._head if store._head is not None else store.head_position()
        if validate:
            bar.set_postfix_str("checking")
            _check(connection, store.count())
            if not (generated_ids or indexes or store.has_indexes()):  # no unique index will refuse a repeated id
                repeated = _repeated_id(connection)
                if repeated is not None:
                    raise DuplicateEventError(repeated, "is given twice in the bulk input")
        bar.update(1)
        bar.set_postfix_str("inserting")
        params = [] if recorded_at != "?::TIMESTAMP" else [to_utc_naive(store.clock())]
        n = first_row(
            connection.execute(
                f"""INSERT INTO events
                    SELECT {head} + rn + 1, aggregate_id, aggregate_type, version::INTEGER, event_id::UUID,
                           event_type, event_data::JSON, {metadata}::JSON, {recorded_at}
                    FROM bulk_input""",
                params,
            )
        )[0]
        store._head = head + n  # appends later in this transaction go on from here
        bar.update(1)
        if indexes and not store.has_indexes():
            bar.set_postfix_str("indexing")
            store.create_indexes()
        bar.update(1)
    return int(n)


def _repeated_id(connection: duckdb.DuckDBPyConnection) -> uuid.UUID | None:
    row = first_row(connection.execute("SELECT event_id::UUID FROM bulk_input GROUP BY 1 HAVING count(*) > 1 LIMIT 1"))
    return row[0] if row else None


def _duplicate_id(connection: duckdb.DuckDBPyConnection) -> uuid.UUID | str:
    repeated = _repeated_id(connection)
    if repeated is not None:
        return repeated
    row = first_row(
        connection.execute(
            "SELECT b.event_id::UUID FROM bulk_input b JOIN events e ON e.event_id = b.event_id::UUID LIMIT 1"
        )
    )
    return row[0] if row else "(unknown)"
