"""The PostgreSQL back-end: the persistence contract (tests/events_contract.py) on a real server, and what only a
server has: writers in many processes, positions that stay gap-safe, notifications, refusals that name the fix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from labkit.events import EventStoreError, Recorder
from labkit.events.postgres import PostgresEventStore
from tests.events_contract import AppendAggregatesPath, AppendPath, RecorderContract
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
    with pytest.raises(EventStoreError, match=r"cannot connect .*127\.0\.0\.1:1/.*labkit db up"):
        PostgresEventStore("postgresql://postgres@127.0.0.1:1/labkit")


def test_a_password_in_a_message_is_hidden() -> None:
    with pytest.raises(EventStoreError) as refused:
        PostgresEventStore("postgresql://postgres:secret@127.0.0.1:1/labkit")
    assert "secret" not in str(refused.value)
    assert "postgres:***@" in str(refused.value)


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
