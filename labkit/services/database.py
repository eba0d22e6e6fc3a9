"""A service's own database: its event store, the one writer thread (group commit), and the signal feeds wait on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from labkit.events import EventStore, Repository, UnitOfWork
from labkit.services.feed import CommitSignal
from labkit.services.groupcommit import GroupCommitter

T = TypeVar("T")


class ServiceDatabase:
    """One DuckDB file owned by one service process: writes go through `write`, reads through `read`."""

    def __init__(self, path: Path | str, *, max_batch: int = 256) -> None:
        self.store = EventStore(path)
        self.repository = Repository(self.store)
        self.signal = CommitSignal()
        self.committer = GroupCommitter(self.store, max_batch=max_batch, on_commit=self.signal.notify)

    def setup(self, statements: tuple[str, ...]) -> None:
        """Create the service's own tables next to the events (idempotent statements)."""
        with self.store.transaction() as connection:
            for statement in statements:
                connection.execute(statement)

    def start(self) -> None:
        self.committer.start()

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the file."""
        self.committer.stop()
        self.store.close()

    async def write(self, command: Callable[[UnitOfWork], T]) -> T:
        """Run a command in the next group commit; returns once it is committed."""
        return await asyncio.wrap_future(self.committer.submit(command))

    def write_and_wait(self, command: Callable[[UnitOfWork], T], timeout: float | None = None) -> T:
        """`write` for threads (the feed consumers)."""
        return self.committer.submit(command).result(timeout)

    def read(self, query: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run a read under the store's lock (one DuckDB connection is used by one thread at a time)."""
        with self.store.transaction() as connection:
            return query(connection)
