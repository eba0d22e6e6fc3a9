"""A database owned by one service: a DuckDB file only its owner can open, and the responses its API returns.

The owner opens the file with a private DuckDB configuration. DuckDB then refuses any other connection to that
file in the same process ("different configuration"), and its file lock refuses every other process: the
owner's API is the only way in. Responses cross the service boundary as Arrow IPC bytes, so the rows and bytes
an API call moves are real and counted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from labkit.events import EventStore
from labkit.events.codec import utc_now
from labkit.layouts.errors import ServiceOfflineError


@dataclass(frozen=True)
class Response:
    """What one API call sent back over the service boundary: Arrow IPC bytes."""

    payload: bytes
    rows: int

    @classmethod
    def of(cls, table: pa.Table) -> Response:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return cls(sink.getvalue().to_pybytes(), table.num_rows)

    @property
    def nbytes(self) -> int:
        return len(self.payload)

    def table(self) -> pa.Table:
        """The rows, read back on the caller's side."""
        return pa.ipc.open_stream(self.payload).read_all()


class ServiceClock:
    """The services' clock: UTC now, unless pinned, so a test harness can write the same moment to two layouts."""

    def __init__(self) -> None:
        self._pinned: datetime | None = None

    def __call__(self) -> datetime:
        return self._pinned or utc_now()

    @contextmanager
    def pinned(self, moment: datetime) -> Iterator[None]:
        """Every event recorded in the block gets `moment` as its time."""
        self._pinned = moment
        try:
            yield
        finally:
            self._pinned = None


SERVICE_CLOCK = ServiceClock()


class OwnedDatabase:
    """One DuckDB file held open by its owner: an event store plus the owner's state tables.

    Calls go through `session()`; `take_offline()` waits for running calls, closes the file and refuses new calls
    with ServiceOfflineError until it is given back.
    """

    def __init__(self, path: str | Path, owner: str, *, clock: Callable[[], datetime] = SERVICE_CLOCK) -> None:
        self._path = Path(path)
        self.owner = owner
        self._clock = clock
        self._store: EventStore | None = None
        self._calls = threading.Condition()
        self._active = 0
        self._open()

    def _open(self) -> None:
        # The private configuration value is what makes DuckDB refuse other connections to this file in-process.
        connection = duckdb.connect(str(self._path), config={"custom_user_agent": f"labkit-{self.owner}"})
        connection.execute("SET enable_progress_bar = false").fetchall()
        self._store = EventStore(connection, clock=self._clock)

    def close(self) -> None:
        """Close the file for good (waits for running calls)."""
        with self._calls:
            store, self._store = self._store, None  # new calls are refused from here on
            self._calls.wait_for(lambda: self._active == 0)
        if store is not None:
            store.close()

    @contextmanager
    def session(self) -> Iterator[EventStore]:
        """The owner's event store (and through it, its connection) for one API call."""
        with self._calls:
            if self._store is None:
                raise ServiceOfflineError(
                    f"the {self.owner} database is offline (its file was taken away from its service); "
                    "retry when it is back"
                )
            self._active += 1
            store = self._store
        try:
            yield store
        finally:
            with self._calls:
                self._active -= 1
                self._calls.notify_all()

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None, **tables: pa.Table) -> pa.Table:
        """Run one query on its own cursor (so it can run next to a command in another thread; DuckDB's MVCC keeps
        them apart), with Arrow `tables` registered under their names."""
        with self.session() as store:
            cursor = store.connection.cursor()
            try:
                for name, table in tables.items():
                    cursor.register(name, table)
                return cursor.sql(sql, params=params).to_arrow_table()
            finally:
                cursor.close()

    @contextmanager
    def take_offline(self) -> Iterator[Path]:
        """Close the file and hand its path out; reopen it afterwards. Only the ATTACH anti-pattern does this."""
        self.close()
        try:
            yield self._path
        finally:
            with self._calls:
                self._open()
