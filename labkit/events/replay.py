"""Replay of every aggregate of a type: vectorized in SQL (`replay_all`) and folded in Python (`fold_all`).

Both give the same state for every aggregate (a hypothesis property test checks it); the SQL one is what
projections and large data use. Each aggregate class states its vectorized replay as `state_sql`, a query over
`{events}` (that type's events) returning one row per aggregate: aggregate_id, version, created_at, updated_at and
its declared state fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TypeVar

import duckdb
import pyarrow as pa
from tqdm.auto import tqdm

from labkit.events.aggregate import Aggregate
from labkit.events.codec import to_utc_naive
from labkit.events.duckdb_schema import first_row
from labkit.events.errors import UnknownEventTypeError
from labkit.events.store import EventStore

A = TypeVar("A", bound=Aggregate)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def events_sql(aggregate_type: str, *, as_of: datetime | None = None, up_to_position: int | None = None) -> str:
    """The events of one aggregate type (as they were at a time or position) as a SQL subquery."""
    where = [f"aggregate_type = {_quote(aggregate_type)}"]
    if as_of is not None:
        where.append(f"recorded_at <= TIMESTAMP {_quote(to_utc_naive(as_of).isoformat(sep=' '))}")
    if up_to_position is not None:
        where.append(f"position <= {int(up_to_position)}")
    return f"(SELECT * FROM events WHERE {' AND '.join(where)})"


def state_sql(cls: type[Aggregate], *, as_of: datetime | None = None, up_to_position: int | None = None) -> str:
    """The vectorized replay of `cls` as one SELECT (for projections: `CREATE TABLE view AS <this>`)."""
    query = getattr(cls, "state_sql", None)
    if not query:
        raise TypeError(f"{cls.__name__} declares no state_sql: vectorized replay needs one")
    return query.replace("{events}", events_sql(cls.aggregate_type, as_of=as_of, up_to_position=up_to_position))


def check_event_types(store: EventStore, cls: type[Aggregate]) -> None:
    """Raise UnknownEventTypeError (naming type, aggregate and position) if a stored event has no handler in `cls`."""
    known = ", ".join(_quote(name) for name in cls.handlers) or "''"
    with store.locked() as connection:
        row = first_row(
            connection.execute(
                f"""SELECT event_type, aggregate_id, position FROM events
                WHERE aggregate_type = ? AND event_type NOT IN ({known}) ORDER BY position LIMIT 1""",
                [cls.aggregate_type],
            )
        )
    if row is not None:
        raise UnknownEventTypeError(
            f"unknown event type {row[0]!r} in {cls.aggregate_type} {row[1]} at position {row[2]}: "
            f"{cls.__name__} handles {', '.join(sorted(cls.handlers))}; add an @on handler for it"
        )


def replay_all(
    store: EventStore,
    cls: type[Aggregate],
    *,
    as_of: datetime | None = None,
    up_to_position: int | None = None,
    check_types: bool = True,
) -> duckdb.DuckDBPyRelation:
    """The state of every `cls` aggregate, computed in SQL (a DuckDB relation: `.df()`, `.fetchall()`, ...)."""
    if check_types:
        check_event_types(store, cls)
    return store.connection.sql(state_sql(cls, as_of=as_of, up_to_position=up_to_position))


def _event_batches(
    store: EventStore, aggregate_type: str, where: str, params: list, batch: int
) -> Iterator[pa.RecordBatch]:
    with store.locked() as connection:
        reader = connection.sql(
            f"""SELECT aggregate_id, version, position, event_type, event_data::VARCHAR AS event_data, recorded_at
                FROM events WHERE aggregate_type = ? {where} ORDER BY aggregate_id, version""",
            params=[aggregate_type, *params],
        ).to_arrow_reader(batch)
        yield from reader


def fold_all(
    store: EventStore,
    cls: type[A],
    *,
    as_of: datetime | None = None,
    up_to_position: int | None = None,
    progress: bool = False,
) -> dict[str, A]:
    """The state of every `cls` aggregate, folding every event in Python (the reference for `replay_all`)."""
    where, params = "", []
    if as_of is not None:
        where, params = where + " AND recorded_at <= ?", [*params, to_utc_naive(as_of)]
    if up_to_position is not None:
        where, params = where + " AND position <= ?", [*params, up_to_position]
    aggregates: dict[str, A] = {}
    total = store.count(aggregate_type=cls.aggregate_type) if progress else None
    with tqdm(total=total, disable=not progress, unit="event", desc=f"fold {cls.aggregate_type}") as bar:
        for batch in _event_batches(store, cls.aggregate_type, where, params, 100_000):
            columns = batch.to_pydict()
            ids, types, data = columns["aggregate_id"], columns["event_type"], columns["event_data"]
            positions, times = columns["position"], columns["recorded_at"]
            start, n = 0, len(ids)
            while start < n:  # one fold per run of the same aggregate (rows come grouped by aggregate)
                aggregate_id, end = ids[start], start + 1
                while end < n and ids[end] == aggregate_id:
                    end += 1
                aggregate = aggregates.get(aggregate_id)
                if aggregate is None:
                    aggregate = aggregates[aggregate_id] = cls(aggregate_id)
                    aggregate.created_at = times[start].replace(tzinfo=UTC)
                aggregate.fold_json(types[start:end], data[start:end], lambda k, s=start, p=positions: p[s + k])
                aggregate.updated_at = times[end - 1].replace(tzinfo=UTC)
                start = end
            bar.update(batch.num_rows)
    return aggregates
