"""bulk_load: many events in input order, checked in SQL before anything is written."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labkit.domain import OrderShipped
from labkit.events import (
    DuplicateEventError,
    EventStore,
    EventStoreError,
    MalformedEventError,
    NewEvent,
    UnknownEventTypeError,
    WrongAggregateTypeError,
    bulk_load,
)


def orders(n: int, *, first: int = 1) -> pd.DataFrame:
    rows = []
    for i in range(first, first + n):
        rows.append((f"order-{i}", "Order", 1, "OrderCreated", f'{{"customer_id": "customer-1", "order_total": {i}}}'))
    for i in range(first, first + n):
        rows.append((f"order-{i}", "Order", 2, "OrderApproved", "{}"))
    return pd.DataFrame(rows, columns=["aggregate_id", "aggregate_type", "version", "event_type", "event_data"])


def test_bulk_load_keeps_input_order_as_positions_and_rebuilds_indexes(tmp_path):
    with EventStore(tmp_path / "e.duckdb") as store:
        assert bulk_load(store, orders(50)) == 100
        assert store.head_position() == 100
        assert [e.position for e in store.read_stream("order-7")] == [7, 57]
        indexes = {row[0] for row in store.connection.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
        assert {"events_event_id", "events_aggregate_id"} <= indexes
        # Appends after a bulk load continue versions and positions.
        result = store.append([NewEvent.of("order-50", "Order", OrderShipped())], expected_version=None)
        assert (result.appended[0].position, result.appended[0].version) == (101, 3)


def test_bulk_load_from_arrow_and_parquet_continues_stored_streams(tmp_path):
    path = tmp_path / "more.parquet"
    more = orders(2, first=1)
    more["version"] = [3, 3, 4, 4]
    more["event_type"] = ["OrderShipped"] * 2 + ["OrderShipped"] * 2
    more["event_data"] = "{}"
    with EventStore(":memory:") as store:
        bulk_load(store, pa.Table.from_pandas(orders(2), preserve_index=False))
        pq.write_table(pa.Table.from_pandas(more.iloc[:2], preserve_index=False), path)
        assert bulk_load(store, path) == 2
        assert [e.version for e in store.read_stream("order-1")] == [1, 2, 3]


@pytest.mark.parametrize(
    ("change", "error", "text"),
    [
        (
            lambda df: df.assign(event_type=df.event_type.where(df.index != 3, "OrderTeleported")),
            UnknownEventTypeError,
            "OrderTeleported",
        ),
        (
            lambda df: df.assign(event_data=df.event_data.where(df.index != 2, '{"customer_id": "c"}')),
            MalformedEventError,
            "order_total: row 2",
        ),
        (
            lambda df: df.assign(event_data=df.event_data.where(df.index != 1, '{"customer_id": 5, "order_total": 1}')),
            MalformedEventError,
            "customer_id",
        ),
        (
            lambda df: df.assign(event_data=df.event_data.where(df.index != 1, "not json")),
            MalformedEventError,
            "not JSON",
        ),
        (lambda df: df.assign(event_data=df.event_data.where(df.index != 5, "[]")), MalformedEventError, "row 5"),
        (
            lambda df: df.assign(
                event_data=df.event_data.where(df.index != 0, '{"customer_id": {}, "order_total": 1}')
            ),
            MalformedEventError,
            "customer_id",
        ),
        (lambda df: df.assign(version=df.version.where(df.index != 4, 3)), EventStoreError, "version 2 comes next"),
        (
            lambda df: df.assign(aggregate_type=df.aggregate_type.where(df.index != 5, "Customer")),
            WrongAggregateTypeError,
            "is a Order",
        ),
    ],
)
def test_bad_rows_are_refused_naming_the_row_and_nothing_is_written(change, error, text):
    with EventStore(":memory:") as store:
        bulk_load(store, orders(3, first=100))
        with pytest.raises(error, match=text):
            bulk_load(store, change(orders(4)))
        assert store.count() == 6


def test_duplicate_event_ids_in_a_bulk_load_are_refused(tmp_path):
    df = orders(3)
    df["event_id"] = [f"00000000-0000-4000-8000-{i % 5:012d}" for i in range(len(df))]
    with EventStore(tmp_path / "e.duckdb") as store:
        with pytest.raises(DuplicateEventError, match="00000000-0000-4000-8000-000000000000"):
            bulk_load(store, df)
        assert store.count() == 0
        bulk_load(store, orders(1, first=9))
        assert store.count() == 2


def test_missing_columns_are_named():
    with EventStore(":memory:") as store, pytest.raises(MalformedEventError, match="event_data"):
        bulk_load(store, orders(1).drop(columns=["event_data"]))


def test_a_store_loaded_without_indexes_stays_correct_and_can_build_them(tmp_path):
    from labkit.events.bulk import load_view

    with EventStore(tmp_path / "e.duckdb") as store:
        store.connection.register("rows", pa.Table.from_pandas(orders(3), preserve_index=False))
        store.connection.execute(
            "CREATE TEMP VIEW bulk_input AS SELECT *, row_number() OVER () - 1 AS rn, uuid() AS event_id FROM rows"
        )
        load_view(store, indexes=False)
        assert not store.has_indexes()
        stored = store.read_stream("order-2")[0]
        retry = NewEvent("order-2", "Order", stored.event_type, stored.event_data, stored.event_id)
        assert store.append([retry], expected_version=0).duplicates[0].position == stored.position
        with pytest.raises(DuplicateEventError):
            store.append([NewEvent("order-9", "Order", "OrderShipped", {}, stored.event_id)], expected_version=0)
    with EventStore(tmp_path / "e.duckdb") as reopened:  # opening does not build them behind your back
        assert not reopened.has_indexes()
        reopened.create_indexes()
        assert reopened.has_indexes()
