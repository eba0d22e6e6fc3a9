"""A service's own database: its event store, the one writer thread (group commit), and the signal feeds wait on.

Two back-ends behind one face. The default is a DuckDB file in the service's data folder, which no other process
opens. With a PostgreSQL URL (`--database-url`), the service keeps its events and its own tables in a schema of
its own on that server, named after the service and owned by the service's role (`labkit.layouts.service_roles`).
The services' SQL is written once, with `?` placeholders, in the dialect both engines share; queries that replay
aggregates in bulk (`state_sql`, DuckDB's vectorized replay) run in DuckDB on either back-end: on PostgreSQL over
the events exported as Arrow (`analytics`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from labkit.events import EventStore, Recorder, Repository, UnitOfWork
from labkit.events.postgres import PostgresEventStore
from labkit.services.feed import CommitSignal
from labkit.services.groupcommit import GroupCommitter

T = TypeVar("T")
Rows = list[tuple[Any, ...]]


def run_sql(store: Recorder, query: str, params: Sequence[Any] = ()) -> Rows:
    """One statement (`?` placeholders) in the store's open transaction, or in one of its own; its rows."""
    with store.transaction() as transaction:
        if isinstance(store, EventStore):
            result = transaction.execute(query, list(params))
            return result.fetchall() if result.description else []
        return transaction.execute(query.replace("?", "%s"), list(params))


class ServiceDatabase:
    """One service's database: writes go through `write`, reads through `execute` and `analytics`."""

    def __init__(self, store: Recorder, *, max_batch: int = 256) -> None:
        self.store = store
        self.repository = Repository(store)
        self.signal = CommitSignal()
        # Set after every commit, for threads that wait for news (the broker forwarder); they clear it, then read.
        self.committed = threading.Event()
        self.committer = GroupCommitter(store, max_batch=max_batch, on_commit=self._on_commit)

    def _on_commit(self) -> None:
        self.signal.notify()
        self.committed.set()

    @classmethod
    def open(
        cls, path: Path | str, *, url: str | None = None, schema: str = "labkit", max_batch: int = 256
    ) -> ServiceDatabase:
        """The DuckDB file at `path`, or, given a PostgreSQL `url`, the schema `schema` on that server."""
        if url is None:
            return cls(EventStore(path), max_batch=max_batch)
        store = PostgresEventStore(url, schema=schema)
        # The service's own tables live beside its events, in its schema.
        store.connection.execute(f'SET search_path TO "{schema}"')
        return cls(store, max_batch=max_batch)

    @property
    def backend(self) -> str:
        """ "duckdb" or "postgres"."""
        return "duckdb" if isinstance(self.store, EventStore) else "postgres"

    def setup(self, statements: tuple[str, ...]) -> None:
        """Create the service's own tables next to the events (idempotent statements)."""
        with self.store.transaction():
            for statement in statements:
                run_sql(self.store, statement)

    def start(self) -> None:
        self.committer.start()

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the database."""
        self.committer.stop()
        self.store.close()  # type: ignore[attr-defined]

    async def write(self, command: Callable[[UnitOfWork], T]) -> T:
        """Run a command in the next group commit; returns once it is committed."""
        return await asyncio.wrap_future(self.committer.submit(command))

    def write_and_wait(self, command: Callable[[UnitOfWork], T], timeout: float | None = None) -> T:
        """`write` for threads (the feed consumers)."""
        return self.committer.submit(command).result(timeout)

    def execute(self, query: str, params: Sequence[Any] = ()) -> Rows:
        """One statement on the service's own tables or its events (`?` placeholders); its rows."""
        return run_sql(self.store, query, params)

    def read(self, query: Callable[[], T]) -> T:
        """Run reads as one transaction (one DuckDB connection is used by one thread at a time)."""
        with self.store.transaction():
            return query()

    def duckdb(self, query: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run `query` on the service's own DuckDB connection, in one transaction (a read model's tables)."""
        if not isinstance(self.store, EventStore):
            raise TypeError("duckdb(): this service keeps its database on PostgreSQL; use execute or analytics")
        with self.store.transaction() as connection:
            return query(connection)

    def analytics(
        self, query: Callable[[duckdb.DuckDBPyConnection], T], *, aggregate_type: str, ids: Sequence[str] | None = None
    ) -> T:
        """Run a DuckDB query over the table `events` (the aggregates of one type; only `ids`, if given).

        On DuckDB that is the service's own table. On PostgreSQL the events are exported as Arrow into an in-memory
        DuckDB first: the same vectorized replay answers on both back-ends."""
        if isinstance(self.store, EventStore):
            return self.duckdb(query)
        assert isinstance(self.store, PostgresEventStore)
        rows = self.store.export_events(aggregate_type=aggregate_type, aggregate_ids=ids)
        with duckdb.connect() as connection:
            connection.register("exported", rows)
            connection.execute("CREATE TEMP VIEW events AS SELECT * FROM exported")
            return query(connection)
