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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from labkit.events import rules
from labkit.events.codec import to_utc_naive
from labkit.events.duckdb_schema import DROP_INDEXES_SQL, first_row
from labkit.events.errors import DuplicateEventError, MalformedEventError, StoreArgumentError
from labkit.events.event import check_data, event_class, field_types
from labkit.events.inputs import flag, parse_json

if TYPE_CHECKING:  # the store calls the loader; the loader only needs the store's type
    from labkit.events.store import EventStore

REQUIRED = ("aggregate_id", "aggregate_type", "version", "event_type", "event_data")

# DuckDB's json_type() names for the values each Python field type accepts.
# (DuckDB types a positive integer UBIGINT; one beyond a signed 64-bit integer has 19 digits or more, so it is a
# suspect of SUSPECT_JSON and refused in Python, as append refuses it.)
JSON_TYPES = {str: ("VARCHAR",), int: ("BIGINT", "UBIGINT"), float: ("DOUBLE", "BIGINT", "UBIGINT"), bool: ("BOOLEAN",)}


# DuckDB's Arrow scan pays a cost per chunk: a pandas frame built by concatenating many small frames converts to
# one chunk per frame (10,000 chunks of 100 rows made the insert 5x slower), so such input is made contiguous.
SMALL_CHUNKS = 65_536  # rows per chunk, on average, below which the input is combined into one chunk


# Arrow types each column may have (DuckDB casts them to the table's); anything else is refused before any SQL.
def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


COLUMN_TYPES: dict[str, tuple[Callable[[pa.DataType], bool], str]] = {
    "aggregate_id": (_is_text, "string"),
    "aggregate_type": (_is_text, "string"),
    "version": (pa.types.is_integer, "integer"),
    "event_type": (_is_text, "string"),
    "event_data": (_is_text, "string (JSON text)"),
    "event_id": (lambda t: _is_text(t) or pa.types.is_fixed_size_binary(t), "string (a UUID)"),
    "metadata": (_is_text, "string (JSON text)"),
    "recorded_at": (pa.types.is_timestamp, "timestamp"),
}

# JSON text that DuckDB's reader takes and a strict one does not read back the same: NaN, Infinity, 1e400 (DuckDB
# takes them in any case), integers beyond 64 bits. Rows whose metadata matches are read in Python
# (`inputs.parse_json`); a string such as ": nancy" matches too, and passes there: this only picks the rows. In
# event_data only long integers need the pattern: a non-finite number types as DOUBLE, which an int, str or bool
# field refuses already, and a float field checks it is finite.
# (A value starts after ":", "[" or ","; an exponent of three digits ends a number, before ",", "}" or "]".)
SUSPECT_JSON = r"[:\[,]\s*[-+]?(?i:nan|inf)|[:\[,]\s*-?[0-9]{19}|[0-9.][eE][+]?[0-9]{3,}\s*[,}\]]"
LONG_INTEGER = r"[0-9]{19}"


def _as_arrow(events: pa.Table | pd.DataFrame | str | Path) -> pa.Table:
    if isinstance(events, pa.Table):
        table = events
    elif isinstance(events, pd.DataFrame):
        try:
            table = pa.Table.from_pandas(events, preserve_index=False)
        except (pa.ArrowException, ValueError, TypeError) as exc:  # a column of mixed Python objects
            raise StoreArgumentError("events", "(a DataFrame)", f"a frame Arrow can convert ({exc})") from None
    elif isinstance(events, str | Path):
        try:
            table = pq.read_table(events)
        except FileNotFoundError:
            raise StoreArgumentError("events", str(events), "the path of a Parquet file (there is none)") from None
        except (OSError, pa.ArrowException) as exc:
            raise StoreArgumentError("events", str(events), f"a Parquet file that can be read ({exc})") from None
    else:
        raise StoreArgumentError("events", events, "an Arrow table, a pandas DataFrame or a Parquet file's path")
    for name, (fits, expected) in COLUMN_TYPES.items():
        if name in table.column_names and not (
            fits(table.schema.field(name).type) or pa.types.is_null(table.schema.field(name).type)
        ):
            raise MalformedEventError(
                "(bulk input)", name, f"the column is {table.schema.field(name).type}, expected {expected}"
            )
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
        for i, (field, (accepted, optional)) in enumerate(fields.items(), start=1):
            names = sorted(
                {t for python_type in accepted for t in JSON_TYPES[python_type]} | ({"NULL"} if optional else set())
            )
            conditions.append(f"types[{i}] IN ({', '.join(map(_quote, names))})")
            if float in accepted:  # DOUBLE may be NaN or an infinity: a float field holds finite numbers only
                value = f"try_cast(json_extract_string(event_data, {_quote(f'$.{chr(34)}{field}{chr(34)}')}) AS DOUBLE)"
                conditions.append(f"(types[{i}] <> 'DOUBLE' OR isfinite({value}))")
        fits.append(f"WHEN {name} THEN {' AND '.join(conditions)}")
    return f"""SELECT rn, event_type, event_data FROM (
                   SELECT rn, event_type, event_data, try(CASE event_type {" ".join(types)} END) AS types,
                          try(len(json_keys(event_data))) AS n_keys
                   FROM bulk_input)
               WHERE (NOT coalesce(CASE event_type {" ".join(fits)} END, false)
                      OR regexp_matches(event_data, '{LONG_INTEGER}'))"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _check(connection: duckdb.DuckDBPyConnection, stored_before: int) -> None:
    """Refuse the whole input at its first bad row, naming it; nothing is written yet.

    Shapes: one SQL pass finds the rows whose event_data may not fit (`_shape_sql`); each of those, in input order,
    is then checked by `check_data`, as `append` would, and the first refused one is named. Versions are checked
    against the previous row of the same aggregate (lag).
    """
    # An empty id, aggregate type or event type is no value either.
    empty_text = {name: f" OR {name} = ''" for name in ("aggregate_id", "aggregate_type", "event_type")}
    nulls = ", ".join(f"min(rn) FILTER (WHERE {name} IS NULL{empty_text.get(name, '')})" for name in REQUIRED)
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
    _check_envelope_columns(connection)
    suspects = _shape_sql(event_types)
    first = first_row(connection.execute(f"SELECT min(rn) FROM ({suspects})"))[0]
    while first is not None:
        rows = connection.execute(f"{suspects} AND rn >= ? ORDER BY rn LIMIT 1000", [first]).fetchall()
        for rn, event_type, data in rows:
            _check_row(rn, event_type, data)
        # Only documents that merely look suspect get here and pass ("financial" has "nan" in it): look further.
        first = rows[-1][0] + 1 if len(rows) == 1000 else None
    _check_versions(connection, stored_before)
    # After the versions and types (an id that changes type is named as such): each event type is one its
    # aggregate type applies.
    pairs = connection.execute(
        "SELECT aggregate_type, event_type, min(rn) FROM bulk_input GROUP BY 1, 2 ORDER BY 3"
    ).fetchall()
    for aggregate_type, event_type, rn in pairs:
        rules.check_belongs(aggregate_type, event_type, f"row {rn}")


def _check_row(rn: int, event_type: str, data: str) -> None:
    """Raise MalformedEventError naming row `rn` if its event_data is not what `append` accepts for `event_type`."""
    try:
        parsed = parse_json(data)
    except (ValueError, TypeError) as exc:
        raise MalformedEventError(
            event_type, "(event_data)", f"row {rn}: not JSON ({exc}): {str(data)[:80]!r}"
        ) from None
    try:
        check_data(event_class(event_type), parsed)
    except MalformedEventError as exc:
        raise MalformedEventError(event_type, exc.field, f"row {rn}: {exc.problem}") from None


def _check_envelope_columns(connection: duckdb.DuckDBPyConnection) -> None:
    """The columns around the data: event ids that are UUIDs, metadata that is a JSON object read back as written."""
    columns = {row[0] for row in connection.execute("DESCRIBE bulk_input").fetchall()}
    if "event_id" in columns:
        row = first_row(connection.execute("SELECT min(rn) FROM bulk_input WHERE try_cast(event_id AS UUID) IS NULL"))
        if row[0] is not None:
            raise MalformedEventError("(bulk input)", "event_id", f"row {row[0]}: no UUID; every event id is one")
    if "metadata" in columns:
        # (A key given twice in metadata is left to the readers: no SQL of the lab reads metadata, and the check
        # would double the cost of this pass.)
        # Text that is not JSON at all is found by the insert's cast (`_load`): free on the way of good input.
        suspect = (
            f"NOT coalesce(starts_with(ltrim(metadata), '{{'), false) OR regexp_matches(metadata, '{SUSPECT_JSON}')"
        )
        if first_row(connection.execute(f"SELECT min(rn) FROM bulk_input WHERE {suspect}"))[0] is not None:
            for rn, text in connection.execute(
                f"SELECT rn, metadata FROM bulk_input WHERE {suspect} ORDER BY rn"
            ).fetchall():
                _check_metadata(rn, text)


class _NotJson(Exception):
    """The insert's cast found metadata that is not JSON (the row is looked up after the rollback)."""


def _check_metadata(rn: int, text: str | None) -> None:
    if text is None:
        raise MalformedEventError("(bulk input)", "metadata", f"row {rn}: no value; give {{}} for none")
    try:
        rules.check_metadata("(bulk input)", parse_json(text))
    except (ValueError, TypeError) as exc:
        raise MalformedEventError("(bulk input)", "metadata", f"row {rn}: not JSON ({exc}): {text[:80]!r}") from None
    except MalformedEventError as exc:
        raise MalformedEventError("(bulk input)", exc.field, f"row {rn}: {exc.problem}") from None


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
    for name, switch in (("validate", validate), ("indexes", indexes), ("progress", progress)):
        flag(switch, name)
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
        except _NotJson:
            row = first_row(
                store.connection.execute("SELECT min(rn) FROM bulk_input WHERE try(json(metadata)) IS NULL")
            )
            raise MalformedEventError("(bulk input)", "metadata", f"row {row[0]}: not JSON") from None
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
        try:
            n = first_row(
                connection.execute(
                    f"""INSERT INTO events
                        SELECT {head} + rn + 1, aggregate_id, aggregate_type, version::INTEGER, event_id::UUID,
                               event_type, event_data::JSON, {metadata}::JSON, {recorded_at}
                        FROM bulk_input""",
                    params,
                )
            )[0]
        except duckdb.ConversionException:  # metadata that is not JSON: checked by the cast, where it costs nothing
            if metadata != "metadata":
                raise
            raise _NotJson from None  # named by `load_view`, once the transaction is rolled back
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
