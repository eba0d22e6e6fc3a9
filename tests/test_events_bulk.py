"""bulk_load: many events in input order, checked in SQL before anything is written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import duckdb
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.domain import OrderShipped
from labkit.events import (
    DuplicateEventError,
    EventStore,
    EventStoreError,
    MalformedEventError,
    NewEvent,
    RecordedEvent,
    UnknownEventTypeError,
    WrongAggregateTypeError,
    bulk_load,
)
from labkit.events.duckdb_schema import DROP_INDEXES_SQL
from labkit.events.event import Event, check_data
from tests.budget import examples


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
            lambda df: df.assign(aggregate_id=df.aggregate_id.where(df.index != 6, None)),
            MalformedEventError,
            "aggregate_id: row 6: no value",
        ),
        (
            lambda df: df.assign(event_data=df.event_data.where(df.index != 3, None)),
            MalformedEventError,
            "event_data: row 3: no value",
        ),
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


def test_without_indexes_a_repeated_event_id_is_still_refused(tmp_path):
    df = orders(2)
    df["event_id"] = ["00000000-0000-4000-8000-000000000001"] * 2 + ["00000000-0000-4000-8000-000000000002"] * 2
    with EventStore(tmp_path / "e.duckdb") as store:
        with pytest.raises(DuplicateEventError, match="00000000-0000-4000-8000-000000000001"):
            bulk_load(store, df, indexes=False)
        assert store.count() == 0


def test_a_refused_load_leaves_an_empty_store_with_its_indexes(tmp_path):
    bad = orders(2).assign(version=[1, 1, 2, 3])
    with EventStore(tmp_path / "e.duckdb") as store:
        with pytest.raises(EventStoreError, match="version 3 where version 2 comes next"):
            bulk_load(store, bad)
        assert store.count() == 0 and store.has_indexes()
        assert bulk_load(store, orders(2), indexes=False) == 4
        assert not store.has_indexes()


def test_an_empty_store_whose_load_stopped_after_dropping_its_indexes_gets_them_back_on_open(tmp_path):
    with EventStore(tmp_path / "e.duckdb") as store:
        for statement in DROP_INDEXES_SQL:
            store.connection.execute(statement)
    with EventStore(tmp_path / "e.duckdb") as reopened:
        assert reopened.has_indexes()


def test_a_frame_of_many_small_chunks_loads_in_input_order(tmp_path):
    # pd.concat of many frames gives Arrow one chunk per frame: the loader makes it contiguous first.
    frame = pd.concat([orders(1, first=i) for i in range(1, 301)], ignore_index=True)
    assert pa.Table.from_pandas(frame).column("aggregate_id").num_chunks > 1
    with EventStore(tmp_path / "e.duckdb") as store:
        assert bulk_load(store, frame) == 600
        assert [(e.position, e.version, e.event_type) for e in store.read_stream("order-150")] == [
            (299, 1, "OrderCreated"),
            (300, 2, "OrderApproved"),
        ]


@dataclass(frozen=True)
class ParcelMeasured(Event):
    """A test event with every kind of field: the bulk loader's shape check must accept exactly what check_data does."""

    label: str
    grams: int
    length_cm: float
    fragile: bool
    note: str | None


FIELD_VALUES = st.one_of(
    st.text(max_size=5),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["x", "y"]), st.integers(), max_size=2),
)
SHAPES = st.one_of(
    st.dictionaries(st.sampled_from(["label", "grams", "length_cm", "fragile", "note", "extra"]), FIELD_VALUES),
    st.fixed_dictionaries(
        {
            "label": st.text(max_size=5),
            "grams": st.integers(min_value=0, max_value=10**6),
            "length_cm": st.one_of(st.floats(0, 100, width=32), st.integers(0, 100)),
            "fragile": st.booleans(),
            "note": st.one_of(st.none(), st.text(max_size=5)),
        }
    ),
    FIELD_VALUES,
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SHAPES, min_size=1, max_size=6))
def test_the_bulk_shape_check_accepts_exactly_what_append_accepts(documents):
    texts = [json.dumps(d) for d in documents]
    refused = []
    for text in texts:
        try:
            check_data(ParcelMeasured, orjson.loads(text))
        except MalformedEventError:
            refused.append(True)
        else:
            refused.append(False)
    frame = pd.DataFrame(
        {
            "aggregate_id": [f"parcel-{i}" for i in range(len(texts))],
            "aggregate_type": "Parcel",
            "version": 1,
            "event_type": "ParcelMeasured",
            "event_data": texts,
        }
    )
    with EventStore(":memory:") as store:
        if any(refused):
            with pytest.raises(MalformedEventError, match=f"row {refused.index(True)}"):
                bulk_load(store, frame)
            assert store.count() == 0
        else:
            assert bulk_load(store, frame) == len(texts)


def test_a_bulk_load_repeating_a_stored_event_id_is_refused_and_writes_nothing(tmp_path):
    with EventStore(tmp_path / "e.duckdb") as store:
        bulk_load(store, orders(2))
        stored = store.read_stream("order-1")[0].event_id
        more = orders(1, first=7)
        more["event_id"] = [str(stored), "00000000-0000-4000-8000-000000000077"]
        with pytest.raises(DuplicateEventError, match=str(stored)):
            bulk_load(store, more)
        assert store.count() == 4 and store.has_indexes()


def test_a_repeated_or_stored_event_id_is_named_by_the_error(tmp_path):
    repeated = UUID("00000000-0000-4000-8000-000000000001")
    df = orders(2)
    df["event_id"] = [str(repeated)] * 2 + [
        "00000000-0000-4000-8000-000000000002",
        "00000000-0000-4000-8000-000000000003",
    ]
    with EventStore(tmp_path / "e.duckdb") as store:
        for indexes in (True, False):
            with pytest.raises(DuplicateEventError) as raised:
                bulk_load(store, df, indexes=indexes)
            assert raised.value.event_id == repeated
        assert store.count() == 0 and store.has_indexes()
        bulk_load(store, orders(1))
        stored = store.read_stream("order-1")[0].event_id
        more = orders(1, first=5)
        more["event_id"] = ["00000000-0000-4000-8000-000000000009", str(stored)]
        with pytest.raises(DuplicateEventError) as raised:
            bulk_load(store, more)
        assert raised.value.event_id == stored
        assert store.count() == 2


def test_loaded_rows_keep_their_ids_metadata_and_times_in_utc():
    frame = orders(1).assign(
        event_id=["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"],
        metadata=['{"correlation_id": "c"}', "{}"],
        recorded_at=[datetime(2025, 3, 1, 12, 30), datetime(2025, 3, 1, 12, 31)],
    )
    with EventStore(":memory:") as store:
        bulk_load(store, frame)
        assert store.read_all() == [
            RecordedEvent(
                1,
                "order-1",
                "Order",
                1,
                UUID("00000000-0000-4000-8000-000000000001"),
                "OrderCreated",
                {"customer_id": "customer-1", "order_total": 1},
                {"correlation_id": "c"},
                datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
            ),
            RecordedEvent(
                2,
                "order-1",
                "Order",
                2,
                UUID("00000000-0000-4000-8000-000000000002"),
                "OrderApproved",
                {},
                {},
                datetime(2025, 3, 1, 12, 31, tzinfo=UTC),
            ),
        ]


def test_rows_without_ids_metadata_or_times_get_new_ids_no_metadata_and_the_clock_time_in_utc():
    paris = datetime(2025, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    with EventStore(":memory:", clock=lambda: paris) as store:
        assert bulk_load(store, orders(2)) == 4
        events = store.read_all()
        assert [e.metadata for e in events] == [{}] * 4
        assert {e.recorded_at for e in events} == {datetime(2025, 3, 1, 12, 30, tzinfo=UTC)}
        assert len({e.event_id for e in events}) == 4 and all(e.event_id.version == 4 for e in events)


def test_a_load_inside_a_transaction_keeps_the_indexes_and_continues_the_positions():
    with EventStore(":memory:") as store:
        with store.transaction():
            assert bulk_load(store, orders(1)) == 2
            assert bulk_load(store, orders(1, first=2)) == 2
            result = store.append([NewEvent.of("order-1", "Order", OrderShipped())], expected_version=2)
            assert result.appended[0].position == 5
        assert store.has_indexes()
        assert [e.position for e in store.read_all()] == [1, 2, 3, 4, 5]


def test_an_event_type_without_fields_needs_an_empty_object():
    frame = orders(1)
    with EventStore(":memory:") as store:
        for bad in ('{"x": 1}', "[]", "null", '"text"'):
            with pytest.raises(MalformedEventError) as raised:
                bulk_load(store, frame.assign(event_data=['{"customer_id": "c", "order_total": 1}', bad]))
            assert raised.value.event_type == "OrderApproved"
        assert store.count() == 0


def test_a_bad_row_beyond_the_first_thousand_suspects_is_still_found():
    # Text that only looks like NaN ("financial"): every such row is looked at in Python and passes. The bad row is
    # the first of the second thousand looked at.
    n = 1001
    frame = pd.DataFrame(
        {
            "aggregate_id": [f"order-{i}" for i in range(n)],
            "aggregate_type": "Order",
            "version": 1,
            "event_type": "OrderCreated",
            "event_data": ['{"customer_id": "financial-7", "order_total": 1}'] * (n - 1)
            + ['{"customer_id": "c", "order_total": "one"}'],
        }
    )
    with EventStore(":memory:") as store:
        with pytest.raises(MalformedEventError) as raised:
            bulk_load(store, frame)
        assert (raised.value.event_type, raised.value.field) == ("OrderCreated", "order_total")
        assert f"row {n - 1}" in str(raised.value)
        assert store.count() == 0


@pytest.mark.parametrize("column", ["aggregate_id", "aggregate_type", "version", "event_type", "event_data"])
def test_a_missing_column_or_value_is_named(column):
    with EventStore(":memory:") as store:
        with pytest.raises(MalformedEventError) as raised:
            bulk_load(store, orders(1).drop(columns=[column]))
        assert (raised.value.event_type, raised.value.field) == ("(bulk input)", column)
        frame = orders(2).astype(object)
        frame.loc[3, column] = None
        frame.loc[2, column] = None
        with pytest.raises(MalformedEventError) as raised:
            bulk_load(store, frame)
        assert (raised.value.event_type, raised.value.field) == ("(bulk input)", column)
        assert "row 2" in str(raised.value)


@pytest.mark.parametrize("column", ["aggregate_id", "aggregate_type", "version", "event_type", "event_data"])
def test_unchecked_rows_with_a_missing_value_are_refused_naming_the_column_not_an_event_id(column):
    with EventStore(":memory:") as store:
        frame = orders(2).astype(object)
        frame.loc[2, column] = None
        with pytest.raises(MalformedEventError) as raised:
            bulk_load(store, frame, validate=False)
        assert (raised.value.event_type, raised.value.field) == ("(bulk input)", column)
        assert store.count() == 0 and store.has_indexes()


def test_an_input_without_columns_is_refused_naming_the_first_missing_one():
    with EventStore(":memory:") as store, pytest.raises(MalformedEventError) as raised:
        bulk_load(store, pa.table({}))
    assert raised.value.field == "aggregate_id"


def test_null_where_a_field_is_not_optional_and_text_that_is_not_json_are_refused_naming_type_and_field():
    with EventStore(":memory:") as store:
        frame = orders(1)
        for data, field in (('{"customer_id": null, "order_total": 1}', "customer_id"), ("{oops", "(event_data)")):
            with pytest.raises(MalformedEventError) as raised:
                bulk_load(store, frame.assign(event_data=[data, "{}"]))
            assert (raised.value.event_type, raised.value.field) == ("OrderCreated", field)
            assert "row 0" in str(raised.value)
        with pytest.raises(MalformedEventError) as raised:
            bulk_load(store, frame.assign(event_data=["{oops", "{}"]))
        assert "{oops" in str(raised.value)  # the text at fault is shown
        assert store.count() == 0


def test_into_an_empty_store_rows_of_one_aggregate_keep_one_type_and_start_at_version_one():
    with EventStore(":memory:") as store:
        with pytest.raises(WrongAggregateTypeError):
            bulk_load(store, orders(1).assign(aggregate_type=["Order", "Customer"]))
        with pytest.raises(EventStoreError) as raised:
            bulk_load(store, orders(1).assign(version=[2, 3]))
        assert type(raised.value) is EventStoreError  # a bad row, not a conflict with another writer
        assert store.count() == 0


def test_bulk_load_is_quiet_unless_asked_and_lets_its_input_go(capsys):
    with EventStore(":memory:") as store:
        bulk_load(store, orders(1))
        assert capsys.readouterr().err == ""
        bulk_load(store, orders(1, first=2), progress=True)
        err = capsys.readouterr().err
        assert "bulk load" in err and "3/3" in err  # check, insert, index: all done
        for name in ("bulk_arrow", "bulk_input"):
            with pytest.raises(duckdb.CatalogException):
                store.connection.execute(f"SELECT * FROM {name}")


def test_load_view_checks_and_indexes_by_default(tmp_path, capsys):
    from labkit.events.bulk import load_view

    with EventStore(tmp_path / "e.duckdb") as store:
        store.connection.register(
            "rows", pa.Table.from_pandas(orders(2).assign(version=[1, 1, 2, 3]), preserve_index=False)
        )
        store.connection.execute(
            "CREATE TEMP VIEW bulk_input AS SELECT *, row_number() OVER () - 1 AS rn, uuid() AS event_id FROM rows"
        )
        with pytest.raises(EventStoreError):
            load_view(store)
        store.connection.execute("DROP VIEW bulk_input")
        store.connection.register("rows", pa.Table.from_pandas(orders(2), preserve_index=False))
        store.connection.execute(
            "CREATE TEMP VIEW bulk_input AS SELECT *, row_number() OVER () - 1 AS rn, uuid() AS event_id FROM rows"
        )
        assert load_view(store) == 4
        assert store.has_indexes()
    assert capsys.readouterr().err == ""  # no progress bar unless asked


def test_a_key_given_twice_is_refused_not_left_to_the_engines():
    # SQL counts three keys where orjson reads two, and the Python fold and the SQL replay would each keep another
    # value: such a row is refused by row, and nothing is loaded.
    odd = '{"customer_id": "c", "customer_id": "d", "order_total": 1}'
    with EventStore(":memory:") as store:
        with pytest.raises(MalformedEventError, match=r"row 0: not JSON \(key 'customer_id' is given twice\)"):
            bulk_load(store, orders(2).assign(event_data=[odd, odd, "{}", "{}"]))
        assert store.count() == 0


def test_load_view_follows_the_input_order_whatever_order_the_view_hands_rows_back():
    from labkit.events.bulk import load_view

    with EventStore(":memory:") as store:
        store.connection.register("rows", pa.Table.from_pandas(orders(2), preserve_index=False))
        # rn is the input order; the view returns the rows backwards, as a parallel scan may.
        store.connection.execute(
            "CREATE TEMP VIEW bulk_input AS SELECT * FROM "
            "(SELECT *, row_number() OVER () - 1 AS rn, uuid() AS event_id FROM rows) ORDER BY rn DESC"
        )
        assert load_view(store) == 4
        assert [(e.aggregate_id, e.version, e.position) for e in store.read_all()] == [
            ("order-1", 1, 1),
            ("order-2", 1, 2),
            ("order-1", 2, 3),
            ("order-2", 2, 4),
        ]


def test_a_frames_index_is_not_read_as_a_column():
    with EventStore(":memory:") as store:
        with pytest.raises(MalformedEventError) as raised:
            bulk_load(store, orders(2).set_index("event_type"))  # the index is the frame's row labels, not data
        assert raised.value.field == "event_type"
        assert bulk_load(store, orders(3).iloc[[1, 2, 4]]) == 3  # a filtered frame: labels 1, 2, 4
        assert [e.aggregate_id for e in store.read_all()] == ["order-2", "order-3", "order-2"]


def test_an_event_type_whose_name_holds_a_quote_is_checked_and_loaded():
    quoted = dataclass(frozen=True)(type("Mc'Ticked", (Event,), {"__annotations__": {"n": int}}))
    rows = pd.DataFrame(
        [("t-1", "McTicker", 1, "Mc'Ticked", '{"n": 1}'), ("t-1", "McTicker", 2, "Mc'Ticked", '{"n": "two"}')],
        columns=["aggregate_id", "aggregate_type", "version", "event_type", "event_data"],
    )
    with EventStore(":memory:") as store:
        with pytest.raises(MalformedEventError) as raised:
            bulk_load(store, rows)
        assert (raised.value.event_type, raised.value.field) == ("Mc'Ticked", "n")
        assert bulk_load(store, rows.iloc[:1]) == 1
        assert store.read_stream("t-1")[0].event_data == {"n": 1}
    assert quoted.event_type == "Mc'Ticked"


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        (None, "metadata"),  # no value in a metadata column
        ("not json " + "".join(str(i % 10) for i in range(200)), "metadata"),  # text that is no JSON
        ('{"score": 1180591620717411303424}', "metadata.score"),  # JSON the store cannot keep as written: 2**70
    ],
)
def test_bad_metadata_in_a_bulk_load_is_refused_naming_the_input_the_key_and_nothing_is_written(metadata, key):
    rows = orders(2)
    rows["metadata"] = ["{}", "{}", metadata, "{}"]
    with EventStore(":memory:") as store:
        with pytest.raises(MalformedEventError) as refused:
            bulk_load(store, rows)
        assert (refused.value.event_type, refused.value.field) == ("(bulk input)", key)
        if metadata is not None and metadata.startswith("not json"):
            assert refused.value.problem.startswith("row 2: ")
            assert refused.value.problem.endswith(repr(metadata[:80]))  # the text shown, cut at 80 characters
        assert store.count() == 0
