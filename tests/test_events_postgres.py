"""The PostgreSQL back-end: the persistence contract (tests/events_contract.py) on a real server, and what only a
server has: writers in many processes, positions that stay gap-safe, notifications, refusals that name the fix."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from labkit.events import (
    AppendResult,
    DuplicateEventError,
    EventStoreError,
    RecordedEvent,
    Recorder,
    Snapshot,
    StoreArgumentError,
    append_aggregates,
)
from labkit.events.postgres import INSERT_CHUNK, PostgresEventStore, cannot_connect, check_server_version
from labkit.events.rules import StreamHead
from tests.events_contract import AppendAggregatesPath, AppendPath, RecorderContract, Ticker, ticks
from tests.pg_schemas import fresh_schema


class PostgresStore:
    @pytest.fixture(autouse=True)
    def _server(self, postgres_url: str) -> None:
        self.url = postgres_url

    def open_store(self, folder: Path, clock: Callable[[], datetime]) -> Recorder:
        store = PostgresEventStore(self.url, schema=fresh_schema("contract"), clock=clock)
        store.drop()  # left by an interrupted run
        return PostgresEventStore(self.url, schema=store.schema, clock=clock)

    def close(self, store: Recorder) -> None:
        store.drop()  # type: ignore[attr-defined]
        store.close()  # type: ignore[attr-defined]


class TestAppendOnPostgres(AppendPath, PostgresStore, RecorderContract):
    """`PostgresEventStore.append`, one call per aggregate, inside one transaction."""


class TestAppendAggregatesOnPostgres(AppendAggregatesPath, PostgresStore, RecorderContract):
    """`append_aggregates` (the unit of work's path for many aggregates) on PostgreSQL."""


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresEventStore]:
    schema = fresh_schema("store")
    PostgresEventStore(postgres_url, schema=schema).drop()
    opened = PostgresEventStore(postgres_url, schema=schema)
    yield opened
    opened.drop()
    opened.close()


def test_a_schema_of_another_labkit_version_is_refused(store: PostgresEventStore) -> None:
    store.connection.execute(f"UPDATE {store.schema}.labkit_schema SET version = 99")
    with pytest.raises(EventStoreError, match="schema version \\[99\\]"):
        PostgresEventStore(store.url, schema=store.schema)


def test_a_schema_holding_other_tables_is_refused(store: PostgresEventStore) -> None:
    not_ours = fresh_schema("not_ours")
    store.connection.execute(f"CREATE SCHEMA {not_ours}; CREATE TABLE {not_ours}.t (x int)")
    try:
        with pytest.raises(EventStoreError, match="not a labkit event store"):
            PostgresEventStore(store.url, schema=not_ours)
    finally:
        store.connection.execute(f"DROP SCHEMA {not_ours} CASCADE")


@pytest.mark.parametrize("schema", ["Bad-Name", "x; drop table y", "", "a" * 60])
def test_a_schema_name_that_is_not_plain_is_refused(postgres_url: str, schema: str) -> None:
    with pytest.raises(EventStoreError, match="schema"):
        PostgresEventStore(postgres_url, schema=schema)


def test_an_unreachable_server_is_named_with_the_fix() -> None:
    with pytest.raises(EventStoreError, match=r"cannot connect .*127\.0\.0\.1:1/.*labkit db up") as refused:
        PostgresEventStore("postgresql://postgres@127.0.0.1:1/labkit")
    assert "Connection refused" in str(refused.value)  # the driver's reason, its first line


def test_a_refused_connection_names_the_drivers_reason_and_the_fix() -> None:
    url = "postgresql://ada:secret@db.example:5433/labkit"
    wrong_password = psycopg.OperationalError('connection failed: password authentication failed for user "ada"\nmore')
    refused = str(cannot_connect(url, wrong_password))
    assert 'password authentication failed for user "ada"; check the password in the URL' in refused
    assert "postgresql://ada:***@db.example:5433/labkit" in refused and "more" not in refused
    assert "labkit db up" in str(cannot_connect(url, psycopg.OperationalError("connection refused")))
    assert ": OperationalError; " in str(cannot_connect(url, psycopg.OperationalError("")))  # no text: its type


def test_a_server_older_than_postgresql_14_is_refused_naming_its_version() -> None:
    url = "postgresql://ada:secret@db.example/labkit"
    check_server_version(url, 140000)
    with pytest.raises(EventStoreError) as refused:
        check_server_version(url, 139999)
    assert "PostgreSQL 13" in str(refused.value) and "postgresql://ada:***@db.example/labkit" in str(refused.value)
    with pytest.raises(EventStoreError) as older:
        check_server_version(url, 130004)  # 13.4: the major version is named, as a whole number
    assert re.search(r"PostgreSQL ([\d.]+)", str(older.value)).group(1) == "13"


def test_a_password_in_a_message_is_hidden() -> None:
    with pytest.raises(EventStoreError) as refused:
        PostgresEventStore("postgresql://postgres:secret@127.0.0.1:1/labkit")
    assert "secret" not in str(refused.value)
    assert "postgresql://postgres:***@127.0.0.1:1/labkit:" in str(refused.value)


def test_a_unit_of_work_loads_many_aggregates_as_the_repository_does(store: PostgresEventStore) -> None:
    from labkit.domain import Customer
    from labkit.events import Repository, UnitOfWork

    repository = Repository(store, snapshot_every={Customer: 3})
    customers = [Customer.register(f"c-{i}", f"Name {i}", 1000) for i in range(3)]
    repository.save_all(customers)
    busy = repository.load(Customer, "c-1")
    for n in range(4):  # crosses the snapshot interval: the unit must read the snapshot and the tail after it
        busy.reserve_credit(f"o-{n}", 10)
    repository.save(busy)
    assert store.count_snapshots("c-1") == 1
    with store.transaction():
        unit = UnitOfWork(store)
        loaded = unit.load_many(Customer, ["c-0", "c-1", "missing", "c-2"])
        assert list(loaded) == ["c-0", "c-1", "c-2"]
        for customer_id, customer in loaded.items():
            expected = repository.load(Customer, customer_id, use_snapshots=False)
            assert (customer.version, customer.to_state(), customer.created_at, customer.updated_at) == (
                expected.version,
                expected.to_state(),
                expected.created_at,
                expected.updated_at,
            )
        assert loaded["c-1"].reserved_credit == 40
        assert unit.peek("missing") is None and unit.load_many(Customer, ["missing"]) == {}


def test_a_unit_of_work_on_a_server_starts_from_the_snapshot_of_its_type_and_state_version(
    store: PostgresEventStore,
) -> None:
    from labkit.domain import Customer
    from labkit.events import Repository, UnitOfWork

    repository = Repository(store)
    repository.save(Customer.register("c", "C", 1000))
    customer = repository.load(Customer, "c")
    customer.reserve_credit("o-1", 10)
    repository.save(customer)
    registered = repository.load(Customer, "c", version=1)
    moment = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    # A snapshot at version 1 holding a state no fold of these events gives (a credit limit of 5000): a unit that
    # starts from it shows that limit, with the tail's reservation folded on top.
    forged = {**registered.to_state(), "credit_limit": 5000}
    position = store.read_stream("c")[0].position
    store.write_snapshot(Snapshot("c", 1, position, forged, Customer.state_version, moment, moment), "Customer")
    with store.transaction():
        loaded = UnitOfWork(store).load_many(Customer, ["c"])["c"]
    assert (loaded.id, loaded.version, loaded.credit_limit, loaded.reserved_credit) == ("c", 2, 5000, 10)
    assert (loaded.created_at, loaded.updated_at) == (moment, customer.updated_at)


def test_the_repository_loads_through_a_snapshot_and_back_in_time(store: PostgresEventStore) -> None:
    from labkit.domain import Customer
    from labkit.events import AggregateNotFoundError, Repository

    repository = Repository(store, snapshot_every={Customer: 4})
    customer = Customer.register("c", "C", 1000)
    repository.save(customer)
    for n in range(9):  # versions 2..10, snapshots at 4 and 8
        customer = repository.load(Customer, "c")
        customer.reserve_credit(f"o-{n}", 10)
        repository.save(customer)
    assert store.count_snapshots("c") == 2
    for version in (1, 3, 4, 5, 8, 10):
        through = repository.load(Customer, "c", version=version)
        folded = repository.load(Customer, "c", version=version, use_snapshots=False)
        assert (through.version, through.to_state()) == (version, folded.to_state())
        assert through.reserved_credit == 10 * (version - 1)
    with pytest.raises(AggregateNotFoundError, match="has no version 11"):
        repository.load(Customer, "c", version=11)
    with pytest.raises(AggregateNotFoundError, match="no Customer nobody is stored"):
        repository.load(Customer, "nobody")


def test_a_deferred_insert_refused_at_commit_leaves_nothing_and_says_so(store: PostgresEventStore, monkeypatch) -> None:
    from labkit.domain import Customer
    from labkit.events import ConcurrencyError, Repository

    repository = Repository(store)
    repository.save(Customer.register("c", "C", 100))
    stale = repository.load(Customer, "c")
    stale.reserve_credit("o-1", 10)
    # A check that missed the stored head (what the insert lock rules out): only the database can refuse now.
    heads = store._heads
    monkeypatch.setattr(store, "_heads", lambda *args: (heads(*args), ({}, None))[1])
    with pytest.raises(ConcurrencyError) as refused, store.transaction():
        store.append(stale.pending, expected_version=0)
    assert (refused.value.aggregate_id, refused.value.expected, refused.value.actual) == ("c", 0, 1)
    monkeypatch.undo()
    assert [e.version for e in store.read_stream("c")] == [1]
    assert store.head_position() == 1
    store.append(  # the connection is usable again, and the head is right
        [type(stale.pending[0])(**{**stale.pending[0].__dict__})], expected_version=1
    )
    assert [e.position for e in store.read_all()] == [1, 2]


def test_a_deferred_insert_of_an_id_stored_already_is_refused_at_commit_naming_the_id(
    store: PostgresEventStore, monkeypatch
) -> None:
    (first,) = ticks("a", 1)
    store.append([first], expected_version=0)
    reused = dataclasses.replace(ticks("b", 1)[0], event_id=first.event_id)
    # A lookup that missed the stored id (what the insert lock rules out): only the database can refuse, at commit.
    heads = store._heads
    monkeypatch.setattr(store, "_heads", lambda *args: ({}, heads(*args)[1]))
    with pytest.raises(DuplicateEventError) as refused:
        store.append([reused], expected_version=0)
    assert refused.value.event_id == first.event_id
    monkeypatch.undo()
    assert [(e.aggregate_id, e.event_id) for e in store.read_all()] == [("a", first.event_id)]
    assert store.head_position() == 1


def test_a_commit_refused_for_no_reason_the_contract_names_is_an_event_store_error_counting_all_its_events(
    store: PostgresEventStore, monkeypatch
) -> None:
    store.append(ticks("a", 1), expected_version=0)
    heads, calls = store._heads, []

    def stale_the_second_time(*args):
        found = heads(*args)
        calls.append(args)
        if len(calls) == 2:
            store._head -= 2  # a head position that missed two events: the insert takes a's position
        return found

    monkeypatch.setattr(store, "_heads", stale_the_second_time)
    with pytest.raises(EventStoreError) as refused, store.transaction():
        store.append(ticks("b", 1), expected_version=0)
        store.append(ticks("b", 1, start=2), expected_version=1)
    # Neither a stored id nor a moved stream (b is at 0 again, as the transaction found it): the plain
    # EventStoreError, counting both events the commit rolled back.
    assert type(refused.value) is EventStoreError and " 2 events " in str(refused.value)
    monkeypatch.undo()
    assert [e.aggregate_id for e in store.read_all()] == ["a"]


def test_load_streams_in_a_transaction_reads_its_writes_and_outside_two_at_once(store: PostgresEventStore) -> None:
    with store.transaction():
        store.append(ticks("a", 2), expected_version=0)
        store.append(ticks("b", 1), expected_version=0)
        inside = store.load_streams(["a", "b"], "Ticker", None)
    outside = store.load_streams(["a", "b"], "Ticker", None)
    assert [(snapshot, tail.column("version").to_pylist()) for snapshot, tail in outside.values()] == [
        (None, [1, 2]),
        (None, [1]),
    ]
    assert list(inside) == ["a", "b"] and all(inside[i][1].equals(outside[i][1]) for i in outside)


@pytest.mark.parametrize(
    ("call", "parameter", "value"),
    [
        (lambda store: store.stream_version(""), "aggregate_id", ""),
        (lambda store: store.version_at(7, datetime(2025, 1, 1, tzinfo=UTC)), "aggregate_id", 7),
        (lambda store: store.count(aggregate_type=""), "aggregate_type", ""),
        (lambda store: store.append(ticks("a", 1), expected_version=-1), "expected_version", -1),
    ],
)
def test_calls_refuse_a_bad_argument_naming_the_parameter_and_value_and_change_nothing(
    store: PostgresEventStore, call: Callable[[PostgresEventStore], object], parameter: str, value: object
) -> None:
    with pytest.raises(StoreArgumentError) as refused:
        call(store)
    assert (refused.value.parameter, refused.value.value) == (parameter, value)
    assert store.count() == 0


PARIS_SUMMER = timezone(timedelta(hours=2))


def test_append_hands_back_the_records_it_stored_whole_with_their_time_in_utc(postgres_url: str) -> None:
    schema = fresh_schema("append")
    with PostgresEventStore(
        postgres_url, schema=schema, clock=lambda: datetime(2025, 3, 1, 14, 30, tzinfo=PARIS_SUMMER)
    ) as store:
        events = ticks("a", 2)
        result = store.append(events, expected_version=0)
        expected = tuple(
            RecordedEvent(
                position=i,
                aggregate_id="a",
                aggregate_type="Ticker",
                version=i,
                event_id=event.event_id,
                event_type="ContractTicked",
                event_data=dict(event.event_data),
                metadata=dict(event.metadata),
                recorded_at=datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
            )
            for i, event in enumerate(events, start=1)
        )
        assert result == AppendResult(expected, ())
        assert all(e.recorded_at.tzinfo is UTC for e in result.appended)
        assert tuple(store.read_stream("a")) == expected
        assert store.append(events, expected_version=0) == AppendResult((), expected)  # a retry: the stored records
        assert store.append([], expected_version=5) == AppendResult((), ())
        store.drop()


def test_counts_heads_and_tails_of_streams(store: PostgresEventStore) -> None:
    store.append(ticks("a", 3), expected_version=0)
    store.append(ticks("k", 2, kind="Other"), expected_version=0)
    assert (store.count(), store.count(aggregate_type="Other"), store.count(aggregate_type="None")) == (5, 2, 0)
    assert store.stream_heads(["a", "k", "missing"]) == {"a": StreamHead(3, "Ticker"), "k": StreamHead(2, "Other")}
    assert store.stream_heads([]) == {}
    tail = store.stream_tail("a", after_version=1, after_position=0, to_version=None)
    assert tail.column_names == ["version", "position", "event_type", "event_data", "recorded_at"]
    assert tail.column("version").to_pylist() == [2, 3] and tail.column("position").to_pylist() == [2, 3]
    assert store.stream_tail("a", after_version=0, after_position=2, to_version=None).column("version").to_pylist() == [
        3
    ]
    assert store.stream_tail("a", after_version=0, after_position=0, to_version=2).column("version").to_pylist() == [
        1,
        2,
    ]
    assert store.stream_tail("missing", after_version=0, after_position=0, to_version=None).num_rows == 0
    assert store.position_of("k", 2) == 5 and store.position_of("k", 3) is None


def test_more_rows_than_one_insert_statement_takes_get_gap_free_positions(store: PostgresEventStore) -> None:
    many = 2 * INSERT_CHUNK + 3  # three statements: two full, one of 3 rows
    store.append(ticks("a", many, meta=False), expected_version=0)
    stored = store.read_all(limit=many + 10)
    assert [(e.position, e.version) for e in stored] == [(i, i) for i in range(1, many + 1)]
    assert [e.event_data["n"] for e in stored] == list(range(1, many + 1))
    assert store.head_position() == many
    assert [e.position for e in store.read_all()] == list(range(1, 1001))  # a page is a thousand unless told


def test_a_snapshot_at_the_same_version_and_state_version_is_replaced(store: PostgresEventStore) -> None:
    store.append(ticks("a", 2), expected_version=0)
    first = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    store.write_snapshot(Snapshot("a", 2, 2, {"total": 1}, 1, first, first), "Ticker")
    later = datetime(2025, 3, 1, 14, 0, tzinfo=PARIS_SUMMER)
    store.write_snapshot(Snapshot("a", 2, 2, {"total": 2}, 1, first, later), "Ticker")
    assert store.read_snapshot("a", "Ticker", 1) == Snapshot("a", 2, 2, {"total": 2}, 1, first, later.astimezone(UTC))
    assert store.count_snapshots() == 1


def test_appends_join_an_open_transaction_and_roll_back_with_it(store: PostgresEventStore) -> None:
    assert store.in_transaction is False
    with pytest.raises(RuntimeError, match="undo"), store.transaction() as outer:
        assert store.in_transaction is True
        with store.transaction() as inner:
            assert inner is outer
            store.append(ticks("a", 1), expected_version=0)
        assert store.stream_version("a") == 1  # seen inside the transaction
        raise RuntimeError("undo")
    assert store.in_transaction is False
    assert store.count() == 0
    store.append(ticks("a", 1), expected_version=0)
    assert [e.position for e in store.read_all()] == [1]


def test_an_append_whose_insert_still_waits_for_the_commit_rolls_back_with_its_transaction(
    store: PostgresEventStore,
) -> None:
    with pytest.raises(RuntimeError, match="undo"), store.transaction():
        store.append(ticks("a", 2), expected_version=0)  # its insert travels with the COMMIT, which never comes
        raise RuntimeError("undo")
    assert (store.count(), store.head_position(), store.stream_version("a")) == (0, 0, 0)


def test_another_thread_reads_what_is_committed_not_an_open_transaction_of_this_one(store: PostgresEventStore) -> None:
    store.append(ticks("a", 1), expected_version=0)
    seen: list[tuple[int, int]] = []
    with store.transaction():
        store.append(ticks("a", 2, start=2), expected_version=1)
        assert store.stream_version("a") == 3  # this thread, inside: its own writes
        reader = threading.Thread(target=lambda: seen.append((store.stream_version("a"), store.count())))
        reader.start()
        reader.join(30)
    assert seen == [(1, 1)]
    assert store.stream_version("a") == 3


def test_with_sequence_positions_append_hands_back_the_positions_it_stored(postgres_url: str) -> None:
    with PostgresEventStore(postgres_url, schema=fresh_schema("sequenced"), positions="sequence") as store:
        try:
            first = store.append(ticks("a", 2), expected_version=0)
            second = store.append(ticks("b", 1), expected_version=0)
            assert [e.position for e in first.appended + second.appended] == [1, 2, 3]
            assert list(first.appended + second.appended) == store.read_all()
        finally:
            store.drop()


def test_close_closes_both_connections(postgres_url: str) -> None:
    store = PostgresEventStore(postgres_url, schema=fresh_schema("closed"))
    store.listen()
    listener = store._listener
    store.drop()
    store.close()
    assert store.connection.closed and listener is not None and listener.closed


def test_a_url_without_a_password_is_shown_as_it_is() -> None:
    with pytest.raises(EventStoreError) as refused:
        PostgresEventStore("postgresql://someone@127.0.0.1:1/labkit")
    assert "postgresql://someone@127.0.0.1:1/labkit" in str(refused.value)


def test_a_url_that_is_not_one_is_refused_naming_it() -> None:
    with pytest.raises(EventStoreError, match="not a PostgreSQL connection URL"):
        PostgresEventStore("postgresql://x/y?nonsense_option=1")


def test_positions_must_be_one_of_the_two_designs(postgres_url: str) -> None:
    with pytest.raises(EventStoreError, match="positions='gapless'"):
        PostgresEventStore(postgres_url, schema=fresh_schema("designs"), positions="gapless")  # type: ignore[arg-type]


def test_append_aggregates_says_how_many_events_it_wrote(store: PostgresEventStore) -> None:
    tickers = []
    for n, aggregate_id in enumerate(("a", "b"), start=2):
        ticker = Ticker(aggregate_id)
        ticker.pending, ticker.version = ticks(aggregate_id, n), n
        tickers.append(ticker)
    assert append_aggregates(store, tickers) == 5
    assert [(e.aggregate_id, e.version, e.position) for e in store.read_all()] == [
        ("a", 1, 1),
        ("a", 2, 2),
        ("b", 1, 3),
        ("b", 2, 4),
        ("b", 3, 5),
    ]


def test_an_empty_store_copies_to_an_empty_duckdb_store(store: PostgresEventStore) -> None:
    with store.to_duckdb() as copy:
        assert (copy.count(), copy.head_position()) == (0, 0)
