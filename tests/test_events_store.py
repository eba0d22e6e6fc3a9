"""EventStore: atomic appends with expected versions, idempotent event ids, refusals that leave the store unchanged."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import duckdb
import pandas as pd
import pytest

from labkit.domain import CustomerCreated, OrderApproved, OrderCreated, OrderShipped
from labkit.events import (
    AppendResult,
    ConcurrencyError,
    DuplicateEventError,
    EventStore,
    MalformedEventError,
    NewEvent,
    RecordedEvent,
    Snapshot,
    StoreArgumentError,
    UnknownEventTypeError,
    WrongAggregateTypeError,
    bulk_load,
)
from labkit.events.duckdb_schema import DROP_INDEXES_SQL
from labkit.events.rules import StreamHead


def created(order_id: str = "order-101", total: int = 250) -> NewEvent:
    return NewEvent.of(order_id, "Order", OrderCreated(customer_id="customer-7", order_total=total))


def approved(order_id: str = "order-101") -> NewEvent:
    return NewEvent.of(order_id, "Order", OrderApproved())


def snapshot_of(store: EventStore) -> list[tuple]:
    return store.connection.execute("SELECT * FROM events ORDER BY position").fetchall()


@pytest.fixture
def store(tmp_path):
    with EventStore(tmp_path / "events.duckdb") as opened:
        yield opened


def test_append_assigns_versions_and_positions_without_gaps(store):
    first = store.append([created(), approved()], expected_version=0)
    second = store.append([created("order-102")], expected_version=0)
    third = store.append([NewEvent.of("order-101", "Order", OrderShipped())], expected_version=2)
    assert [(e.version, e.position) for e in first.appended] == [(1, 1), (2, 2)]
    assert [(e.aggregate_id, e.version, e.position) for e in second.appended + third.appended] == [
        ("order-102", 1, 3),
        ("order-101", 3, 4),
    ]
    assert third.version == 3
    assert store.head_position() == 4
    assert [e.event_type for e in store.read_stream("order-101")] == ["OrderCreated", "OrderApproved", "OrderShipped"]


def test_the_table_has_the_source_columns_plus_version_position_metadata_and_time(store):
    columns = [row[0] for row in store.connection.execute("DESCRIBE events").fetchall()]
    assert columns == [
        "position",
        "aggregate_id",
        "aggregate_type",
        "version",
        "event_id",
        "event_type",
        "event_data",
        "metadata",
        "recorded_at",
    ]


def test_wrong_expected_version_names_aggregate_expected_and_actual_and_writes_nothing(store):
    store.append([created(), approved()], expected_version=0)
    before = snapshot_of(store)
    with pytest.raises(ConcurrencyError) as raised:
        store.append([NewEvent.of("order-101", "Order", OrderShipped())], expected_version=1)
    assert (raised.value.aggregate_id, raised.value.expected, raised.value.actual) == ("order-101", 1, 2)
    assert "order-101 is at version 2, you expected 1" in str(raised.value)
    assert snapshot_of(store) == before


def test_a_new_aggregate_expects_version_zero(store):
    store.append([created()], expected_version=0)
    with pytest.raises(ConcurrencyError):
        store.append([approved()], expected_version=0)


def test_expected_version_none_appends_at_the_end(store):
    store.append([created()], expected_version=None)
    result = store.append([approved()], expected_version=None)
    assert result.appended[0].version == 2


def test_a_retried_call_is_a_no_op_that_reports_duplicates(store):
    batch = [created(), approved()]
    store.append(batch, expected_version=0)
    before = snapshot_of(store)
    retry = store.append(batch, expected_version=0)  # the caller never saw the first answer
    assert retry.appended == ()
    assert [e.event_id for e in retry.duplicates] == [e.event_id for e in batch]
    assert [e.version for e in retry.duplicates] == [1, 2]
    assert snapshot_of(store) == before


def test_a_mixed_batch_skips_stored_events_and_appends_new_ones_at_the_current_version(store):
    first, second = created(), approved()
    store.append([first], expected_version=0)
    result = store.append([first, second], expected_version=1)
    assert [e.event_id for e in result.duplicates] == [first.event_id]
    assert [(e.event_id, e.version) for e in result.appended] == [(second.event_id, 2)]
    assert store.count() == 2


def test_a_mixed_batch_with_a_stale_expected_version_is_a_conflict_and_writes_nothing(store):
    first, second = created(), approved()
    store.append([first], expected_version=0)
    store.append([NewEvent.of("order-101", "Order", OrderApproved())], expected_version=1)
    before = snapshot_of(store)
    with pytest.raises(ConcurrencyError):
        store.append([first, second], expected_version=0)
    assert snapshot_of(store) == before


def test_an_event_id_reused_for_a_different_event_is_refused(store):
    first = created()
    store.append([first], expected_version=0)
    before = snapshot_of(store)
    impostor = NewEvent.of(
        "order-102", "Order", OrderCreated(customer_id="customer-7", order_total=1), event_id=first.event_id
    )
    with pytest.raises(DuplicateEventError, match=str(first.event_id)):
        store.append([impostor], expected_version=0)
    same_id_twice = [created("order-103"), approved("order-103")]
    same_id_twice[1] = NewEvent.of("order-103", "Order", OrderApproved(), event_id=same_id_twice[0].event_id)
    with pytest.raises(DuplicateEventError, match="twice in the same call"):
        store.append(same_id_twice, expected_version=0)
    assert snapshot_of(store) == before


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({"customer_id": "customer-7"}, "order_total", "missing"),
        ({"customer_id": "customer-7", "order_total": "250"}, "order_total", "expected int, got str"),
        ({"customer_id": "customer-7", "order_total": True}, "order_total", "expected int, got bool"),
        ({"customer_id": 7, "order_total": 250}, "customer_id", "expected str, got int"),
        ({"customer_id": "c", "order_total": 250, "note": "x"}, "note", "unknown field"),
    ],
)
def test_malformed_event_data_is_refused_with_the_field_and_the_store_is_unchanged(store, data, field, problem):
    store.append([created("order-1")], expected_version=0)
    before = snapshot_of(store)
    bad = NewEvent("order-101", "Order", "OrderCreated", data)
    with pytest.raises(MalformedEventError) as raised:
        store.append([created("order-101"), bad], expected_version=None)
    assert raised.value.field == field
    assert problem in str(raised.value)
    assert snapshot_of(store) == before


def test_an_unknown_event_type_is_refused_at_append(store):
    with pytest.raises(UnknownEventTypeError, match="OrderTeleported"):
        store.append([NewEvent("order-101", "Order", "OrderTeleported", {})], expected_version=0)
    assert store.count() == 0


def test_one_call_writes_one_aggregate_and_an_id_keeps_its_type(store):
    with pytest.raises(WrongAggregateTypeError, match="one aggregate"):
        store.append([created("order-1"), created("order-2")], expected_version=0)
    store.append([created("order-1")], expected_version=0)
    with pytest.raises(WrongAggregateTypeError, match="stored as a Order"):
        store.append(
            [NewEvent.of("order-1", "Customer", CustomerCreated(name="Ada", credit_limit=10))], expected_version=None
        )
    assert store.count() == 1


def test_read_stream_ranges_and_read_all_pages(store):
    store.append([created(), approved(), NewEvent.of("order-101", "Order", OrderShipped())], expected_version=0)
    store.append([created("order-102")], expected_version=0)
    assert [e.version for e in store.read_stream("order-101", from_version=2)] == [2, 3]
    assert [e.version for e in store.read_stream("order-101", to_version=2)] == [1, 2]
    assert store.read_stream("order-999") == []
    assert [e.position for e in store.read_all(after_position=1, limit=2)] == [2, 3]
    assert [e.position for e in store.read_all(after_position=3)] == [4]
    assert [e.aggregate_id for e in store.read_all(aggregate_type="Order", after_position=3)] == ["order-102"]
    assert store.read_all(after_position=4) == []


def test_recorded_events_keep_data_metadata_and_time(tmp_path):
    moment = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    with EventStore(tmp_path / "e.duckdb", clock=lambda: moment) as store:
        event = NewEvent.of(
            "order-101",
            "Order",
            OrderCreated(customer_id="customer-7", order_total=250),
            metadata={"correlation_id": "abc", "causation_id": "def"},
        )
        store.append([event], expected_version=0)
    with EventStore(tmp_path / "e.duckdb") as reopened:  # survives closing the file
        [stored] = reopened.read_stream("order-101")
    assert stored.event_data == {"customer_id": "customer-7", "order_total": 250}
    assert stored.metadata == {"correlation_id": "abc", "causation_id": "def"}
    assert stored.recorded_at == moment
    assert stored.event() == OrderCreated(customer_id="customer-7", order_total=250)
    assert type(stored).from_dict(stored.to_dict()) == stored


def test_version_at_a_moment(tmp_path):
    clock = iter(datetime(2025, 1, day, tzinfo=UTC) for day in (1, 2, 3))
    with EventStore(tmp_path / "e.duckdb", clock=lambda: next(clock)) as store:
        store.append([created()], expected_version=0)
        store.append([approved()], expected_version=1)
        store.append([NewEvent.of("order-101", "Order", OrderShipped())], expected_version=2)
        assert store.version_at("order-101", datetime(2025, 1, 2, 12, tzinfo=UTC)) == 2
        assert store.version_at("order-101", datetime(2024, 12, 31, tzinfo=UTC)) == 0
        assert store.version_at("order-101", datetime(2025, 1, 3, tzinfo=UTC) + timedelta(seconds=1)) == 3


def test_a_transaction_commits_several_appends_together_or_none(store):
    with store.transaction():
        store.append([created("order-1")], expected_version=0)
        store.append([created("order-2")], expected_version=0)
        with pytest.raises(ConcurrencyError):  # one refused command does not spoil the group
            store.append([approved("order-1")], expected_version=5)
    assert store.count() == 2
    with pytest.raises(RuntimeError), store.transaction():
        store.append([created("order-3")], expected_version=0)
        raise RuntimeError("crash before commit")
    assert store.count() == 2
    assert store.contains(store.read_stream("order-1")[0].event_id)
    assert not store.contains(uuid4())


def test_group_commit_keeps_positions_gapless_across_appends_and_a_bulk_load(store):
    with store.transaction():
        for i in range(1, 41):
            store.append([created(f"order-{i}")], expected_version=0)
        bulk_load(
            store,
            pd.DataFrame(
                {
                    "aggregate_id": ["order-1"],
                    "aggregate_type": ["Order"],
                    "version": [2],
                    "event_type": ["OrderApproved"],
                    "event_data": ["{}"],
                }
            ),
        )
        store.append([NewEvent.of("order-1", "Order", OrderShipped())], expected_version=2)
    positions = [row[0] for row in store.connection.execute("SELECT position FROM events ORDER BY 1").fetchall()]
    assert positions == list(range(1, 43))
    assert [e.version for e in store.read_stream("order-1")] == [1, 2, 3]


PARIS_SUMMER = timezone(timedelta(hours=2))


def test_every_time_from_the_clock_is_stored_in_utc_and_handed_back_aware(tmp_path):
    for clock_time in (datetime(2025, 3, 1, 14, 30, tzinfo=PARIS_SUMMER), datetime(2025, 3, 1, 12, 30)):
        with EventStore(tmp_path / f"{clock_time.tzinfo}.duckdb", clock=lambda t=clock_time: t) as store:
            event = created()
            result = store.append([event], expected_version=0)
            expected = RecordedEvent(
                position=1,
                aggregate_id="order-101",
                aggregate_type="Order",
                version=1,
                event_id=event.event_id,
                event_type="OrderCreated",
                event_data={"customer_id": "customer-7", "order_total": 250},
                metadata={},
                recorded_at=datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
            )
            assert result == AppendResult((expected,), ())
            assert result.appended[0].recorded_at.tzinfo is UTC
            assert store.read_stream("order-101") == [expected] == store.read_all()
            assert snapshot_of(store)[0][-1] == datetime(2025, 3, 1, 12, 30)  # naive UTC in the table
            store.save_checkpoint("reader", 1)
            assert store.connection.execute("SELECT updated_at FROM subscription_checkpoints").fetchall() == [
                (datetime(2025, 3, 1, 12, 30),)
            ]


def test_version_at_takes_aware_and_naive_moments_as_the_same_instant(tmp_path):
    moments = iter([datetime(2025, 3, 1, 12, 0, tzinfo=UTC), datetime(2025, 3, 1, 13, 0, tzinfo=UTC)])
    with EventStore(tmp_path / "e.duckdb", clock=lambda: next(moments)) as store:
        store.append([created()], expected_version=0)
        store.append([approved()], expected_version=1)
        assert store.version_at("order-101", datetime(2025, 3, 1, 15, 0, tzinfo=PARIS_SUMMER)) == 2
        assert store.version_at("order-101", datetime(2025, 3, 1, 14, 59, tzinfo=PARIS_SUMMER)) == 1
        assert store.version_at("order-101", datetime(2025, 3, 1, 12, 0)) == 1
        assert store.version_at("order-101", datetime(2025, 3, 1, 11, 59, 59)) == 0
        assert store.version_at("order-999", datetime(2025, 3, 2)) == 0


def test_an_empty_call_appends_nothing_and_has_no_version(store):
    result = store.append([], expected_version=3)
    assert result == AppendResult((), ())
    assert result.version is None
    assert store.count() == 0


def test_a_retry_reports_the_stored_records_whole(store):
    event = NewEvent.of(
        "order-101", "Order", OrderCreated(customer_id="customer-7", order_total=250), metadata={"correlation_id": "c"}
    )
    first = store.append([event], expected_version=0)
    retry = store.append([event], expected_version=0)
    assert retry == AppendResult((), first.appended)
    assert (first.version, retry.version) == (1, 1)


def test_an_envelope_needs_a_new_event_and_a_non_empty_aggregate_id(store):
    with pytest.raises(StoreArgumentError, match=r"wrap the event with NewEvent\.of"):
        store.append([OrderApproved()], expected_version=0)  # type: ignore[list-item]
    for aggregate_id in ("", None, 7):
        with pytest.raises(MalformedEventError) as raised:
            store.append([NewEvent(aggregate_id, "Order", "OrderApproved", {})], expected_version=0)  # type: ignore[arg-type]
        assert (raised.value.event_type, raised.value.field) == ("OrderApproved", "aggregate_id")
    assert store.count() == 0


def test_one_call_with_the_same_id_under_two_types_is_refused(store):
    with pytest.raises(WrongAggregateTypeError):
        store.append([created("x"), NewEvent.of("x", "Customer", OrderApproved())], expected_version=0)
    assert store.count() == 0


def test_the_head_position_known_inside_a_transaction_follows_every_write_and_is_forgotten_after(store):
    store.append([created("order-1")], expected_version=0)
    with store.transaction():
        a = store.append([created("order-2")], expected_version=0)
        b = store.append([created("order-3"), approved("order-3")], expected_version=0)
        with store.transaction():  # a nested transaction joins and keeps what is known
            c = store.append([approved("order-2")], expected_version=1)
        d = store.append([approved("order-1")], expected_version=1)
    assert [e.position for r in (a, b, c, d) for e in r.appended] == [2, 3, 4, 5, 6]
    # Another writer on the same file moves the head between transactions: the store must not trust an old value.
    store.connection.execute(
        "INSERT INTO events VALUES (7, 'order-9', 'Order', 1, uuid(), 'OrderCreated', "
        """'{"customer_id": "c", "order_total": 1}', '{}', now())"""
    )
    assert store.append([created("order-4")], expected_version=0).appended[0].position == 8
    with pytest.raises(RuntimeError), store.transaction():
        store.append([created("order-5")], expected_version=0)
        raise RuntimeError("rolled back")
    assert store.append([created("order-6")], expected_version=0).appended[0].position == 9
    assert [e.position for e in store.read_all()] == list(range(1, 10))


def test_in_transaction_says_whether_a_transaction_is_open(store):
    assert store.in_transaction is False
    with store.transaction() as connection:
        assert store.in_transaction and connection is store.connection
        with store.transaction():
            assert store.in_transaction
        assert store.in_transaction
    assert store.in_transaction is False
    with pytest.raises(KeyboardInterrupt), store.transaction():
        raise KeyboardInterrupt
    assert store.in_transaction is False


@pytest.mark.parametrize("n", [255, 256, 257, 513])
def test_long_batches_are_written_whole_in_order(store, n):
    events = [created("order-1")] + [approved("order-1") for _ in range(n - 1)]
    result = store.append(events, expected_version=0)
    assert [(e.version, e.position, e.event_id) for e in result.appended] == [
        (i, i, event.event_id) for i, event in enumerate(events, start=1)
    ]
    assert store.read_stream("order-1", from_version=1, to_version=n) == list(result.appended)
    assert store.stream_version("order-1") == n


def test_reads_reach_the_largest_version(store):
    store.connection.execute(
        "INSERT INTO events VALUES (1, 'order-1', 'Order', 2147483647, uuid(), 'OrderApproved', '{}', '{}', now())"
    )
    assert [e.version for e in store.read_stream("order-1")] == [2**31 - 1]
    assert [e.version for e in store.read_stream("order-1", from_version=2**31 - 1)] == [2**31 - 1]
    assert store.read_stream("order-1", to_version=2**31 - 2) == []


def test_read_all_pages_by_a_thousand_unless_told(store):
    n = 1002
    bulk_load(
        store,
        pd.DataFrame(
            {
                "aggregate_id": [f"order-{i}" for i in range(n)],
                "aggregate_type": "Order",
                "version": 1,
                "event_type": "OrderApproved",
                "event_data": "{}",
            }
        ),
    )
    assert [e.position for e in store.read_all()] == list(range(1, 1001))
    assert [e.position for e in store.read_all(limit=1)] == [1]
    assert [e.position for e in store.read_all(after_position=1000)] == [1001, 1002]


def test_counts_heads_and_ids(store):
    assert (store.head_position(), store.count(), store.stream_version("order-1")) == (0, 0, 0)
    first = store.append([created("order-1"), approved("order-1")], expected_version=0).appended
    store.append(
        [NewEvent.of("customer-1", "Customer", CustomerCreated(name="Ada", credit_limit=1))], expected_version=0
    )
    assert (store.head_position(), store.count(), store.count(aggregate_type="Order")) == (3, 3, 2)
    assert store.count(aggregate_type="Nothing") == 0
    assert store.stream_heads(["order-1", "customer-1", "order-9"]) == {
        "order-1": StreamHead(2, "Order"),
        "customer-1": StreamHead(1, "Customer"),
    }
    assert store.stream_heads([]) == {}
    assert store.stored_ids([first[1].event_id, uuid4()]) == {first[1].event_id}
    assert (store.position_of("order-1", 2), store.position_of("order-1", 3)) == (2, None)
    assert store.contains(first[0].event_id) and not store.contains(uuid4())


def test_a_store_on_an_open_connection_or_a_new_folder(tmp_path):
    path = tmp_path / "deeper" / "still" / "events.duckdb"
    with EventStore(path) as store:
        store.append([created()], expected_version=0)
        assert store.path == str(path.resolve())
    connection = duckdb.connect(str(path))
    on_connection = EventStore(connection)
    assert on_connection.path == str(path.resolve())
    assert on_connection.connection is connection and on_connection.count() == 1 and on_connection.has_indexes()
    memory = EventStore(duckdb.connect(":memory:"))
    assert memory.path is None and memory.count() == 0 and memory.has_indexes()
    assert EventStore(":memory:").path is None
    in_memory = EventStore()  # the default: in memory, no file
    assert in_memory.path is None and in_memory.count() == 0
    on_connection.close()


def test_a_store_missing_one_index_says_so(store):
    assert store.has_indexes()
    store.connection.execute(DROP_INDEXES_SQL[1])
    assert not store.has_indexes()
    store.create_indexes()
    assert store.has_indexes()


def test_snapshot_times_are_stored_in_utc_and_read_back_aware(store):
    store.append([created(), approved()], expected_version=0)
    paris = datetime(2025, 3, 1, 14, 30, tzinfo=PARIS_SUMMER)
    store.write_snapshot(
        Snapshot("order-101", 1, 1, {"state": "PENDING"}, 1, paris, datetime(2025, 3, 1, 12, 45)), "Order"
    )
    store.write_snapshot(Snapshot("order-101", 2, 2, {"state": "APPROVED"}, 1, None, None), "Order")
    assert store.connection.execute("SELECT created_at, updated_at FROM snapshots ORDER BY version").fetchall() == [
        (datetime(2025, 3, 1, 12, 30), datetime(2025, 3, 1, 12, 45)),
        (None, None),
    ]
    first = store.read_snapshot("order-101", "Order", 1, at_or_before=1)
    assert first == Snapshot(
        "order-101",
        1,
        1,
        {"state": "PENDING"},
        1,
        datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
        datetime(2025, 3, 1, 12, 45, tzinfo=UTC),
    )
    assert first.created_at.tzinfo is UTC and first.updated_at.tzinfo is UTC
    assert store.read_snapshot("order-101", "Order", 1) == Snapshot(
        "order-101", 2, 2, {"state": "APPROVED"}, 1, None, None
    )
    store.write_snapshot(Snapshot("order-101", 2, 2, {"state": "SHIPPED"}, 1, None, None), "Order")  # replaces
    assert store.read_snapshot("order-101", "Order", 1).state == {"state": "SHIPPED"}
    assert (store.count_snapshots(), store.count_snapshots("order-101"), store.count_snapshots("order-9")) == (2, 2, 0)


def test_the_latest_snapshot_is_found_up_to_the_largest_version(store):
    for version in (70, 2**31 - 1):
        store.write_snapshot(Snapshot("order-1", version, version, {"v": version}, 1, None, None), "Order")
        assert store.read_snapshot("order-1", "Order", 1).version == version


def test_two_stores_on_one_file_in_one_process_append_one_at_a_time(tmp_path):
    path = tmp_path / "shared.duckdb"
    stores = [EventStore(path), EventStore(path)]
    errors = []

    def writer(store: EventStore, prefix: str) -> None:
        try:
            for i in range(60):
                store.append([created(f"{prefix}-{i}")], expected_version=0)
        except Exception as exc:  # a write-write conflict or a duplicate position would show here or below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s, f"order-{k}")) for k, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [e.position for e in stores[0].read_all()] == list(range(1, 121))


@pytest.mark.parametrize(
    ("read", "parameter", "value"),
    [
        (lambda store: store.stream_version(""), "aggregate_id", ""),
        (lambda store: store.version_at(7, datetime(2025, 1, 1, tzinfo=UTC)), "aggregate_id", 7),
    ],
)
def test_reads_of_a_stream_name_the_bad_id_and_its_value(store, read, parameter, value):
    with pytest.raises(StoreArgumentError) as refused:
        read(store)
    assert (refused.value.parameter, refused.value.value) == (parameter, value)
