"""The persistence contract (tests/events_contract.py) on DuckDB, through each of its three write paths."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import orjson
import pyarrow as pa

from labkit.events import Aggregate, EventStore, Recorder, append_aggregates, bulk_load, to_utc_naive
from tests.events_contract import Batch, RecorderContract


class Ticker(Aggregate):
    """An aggregate of the contract's events; the write paths only read its id, type and pending events."""


class Other(Aggregate):
    """A second aggregate type."""


KINDS: dict[str, type[Aggregate]] = {"Ticker": Ticker, "Other": Other}


class DuckDBStore:
    def open_store(self, folder: Path, clock: Callable[[], datetime]) -> Recorder:
        return EventStore(folder / "events.duckdb", clock=clock)


class TestAppendOnDuckDB(DuckDBStore, RecorderContract):
    """`EventStore.append`, one call per aggregate, inside one transaction."""

    repeats_skipped = True

    def write(self, store: Recorder, batches: Sequence[Batch]) -> None:
        with store.transaction():
            for expected, events in batches:
                store.append(events, expected_version=expected)


class TestAppendAggregatesOnDuckDB(DuckDBStore, RecorderContract):
    """`append_aggregates`: many aggregates' pending events in one bulk insert."""

    def write(self, store: Recorder, batches: Sequence[Batch]) -> None:
        aggregates = []
        for expected, events in batches:
            aggregate = KINDS[events[0].aggregate_type](events[0].aggregate_id)
            aggregate.pending = list(events)
            aggregate.version = (expected or 0) + len(events)
            aggregates.append(aggregate)
        append_aggregates(store, aggregates)  # type: ignore[arg-type]


class TestBulkLoadOnDuckDB(DuckDBStore, RecorderContract):
    """`bulk_load`: rows of Arrow columns, checked as a whole, in one transaction."""

    def write(self, store: Recorder, batches: Sequence[Batch]) -> None:
        rows = [
            (event, (expected or 0) + offset)
            for expected, events in batches
            for offset, event in enumerate(events, start=1)
        ]
        table = pa.table(
            {
                "aggregate_id": [e.aggregate_id for e, _ in rows],
                "aggregate_type": [e.aggregate_type for e, _ in rows],
                "version": pa.array([v for _, v in rows], pa.int32()),
                "event_id": [str(e.event_id) for e, _ in rows],
                "event_type": [e.event_type for e, _ in rows],
                "event_data": [orjson.dumps(e.event_data).decode() for e, _ in rows],
                "metadata": [orjson.dumps(e.metadata).decode() for e, _ in rows],
                "recorded_at": pa.array([to_utc_naive(store.clock())] * len(rows), pa.timestamp("us")),  # type: ignore[attr-defined]
            }
        )
        bulk_load(store, table)  # type: ignore[arg-type]
