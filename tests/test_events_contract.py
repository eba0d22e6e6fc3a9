"""The persistence contract (tests/events_contract.py) on DuckDB, through each of its three write paths."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import orjson
import pyarrow as pa

from labkit.events import EventStore, Recorder, bulk_load, to_utc_naive
from tests.events_contract import AppendAggregatesPath, AppendPath, Batch, RecorderContract


class DuckDBStore:
    def open_store(self, folder: Path, clock: Callable[[], datetime]) -> Recorder:
        return EventStore(folder / "events.duckdb", clock=clock)


class TestAppendOnDuckDB(AppendPath, DuckDBStore, RecorderContract):
    """`EventStore.append`, one call per aggregate, inside one transaction."""


class TestAppendAggregatesOnDuckDB(AppendAggregatesPath, DuckDBStore, RecorderContract):
    """`append_aggregates`: many aggregates' pending events in one bulk insert."""


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
                "version": pa.array([v for _, v in rows], pa.int64()),  # as pandas gives it
                "event_id": [str(e.event_id) for e, _ in rows],
                "event_type": [e.event_type for e, _ in rows],
                "event_data": [orjson.dumps(e.event_data).decode() for e, _ in rows],
                "metadata": [orjson.dumps(e.metadata).decode() for e, _ in rows],
                "recorded_at": pa.array([to_utc_naive(store.clock())] * len(rows), pa.timestamp("us")),  # type: ignore[attr-defined]
            }
        )
        bulk_load(store, table)  # type: ignore[arg-type]
