"""The projection runner: pull subscribers that keep read models up to date, pause and resume, rebuild and swap.

Each projection lives in a generation: a DuckDB schema (`orders_per_customer_g1`, ...) holding its tables and its
subscription checkpoint, so the read model and "how far it got" always commit together. Readers never name a
generation: the main schema has a view per table pointing at the current one (`orders_per_customer` ->
`orders_per_customer_g1.orders_per_customer`).

A rebuild fills generation N+1 from position zero with the projection's vectorized SQL, catches it up with the
events written meanwhile (generation N keeps serving reads and following), then, in one transaction, points the
views at N+1. Readers see the old complete table or the new complete table, never a half-built one; generation N
is dropped afterwards.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from labkit.events import EventStore, Subscription
from labkit.events.checkpoints import create_checkpoints_table, save_checkpoint
from labkit.events.codec import to_utc_naive, utc_now
from labkit.patterns.errors import ProjectionError
from labkit.patterns.projections import Projection

GENERATIONS_SQL = """
CREATE TABLE IF NOT EXISTS projection_generations (
    projection VARCHAR   PRIMARY KEY,
    generation INTEGER   NOT NULL,  -- the schema <projection>_g<generation> holds the tables readers see
    since      TIMESTAMP NOT NULL   -- UTC, when that generation was swapped in
)
"""


@dataclass(frozen=True)
class ProjectionStatus:
    """Where one projection stands."""

    projection: str
    generation: int
    position: int
    head: int
    lag_events: int
    paused: bool


@dataclass(frozen=True)
class RebuildResult:
    """What one rebuild did, and how fast."""

    projection: str
    generation: int
    events: int  # the history the vectorized pass covered: positions 1..events
    seconds: float  # the vectorized pass
    caught_up: int  # events applied incrementally after it, before the swap
    total_seconds: float  # rebuild, catch-up and swap

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class Commit:
    """One batch a projection committed: when (UTC) and up to which position."""

    projection: str
    at: datetime
    position: int


class ProjectionRunner:
    """Runs projections from an EventStore into a read database (a file, or ":memory:")."""

    def __init__(
        self,
        store: EventStore,
        projections: Sequence[Projection],
        database: str | Path = ":memory:",
        *,
        batch_size: int = 500,
    ) -> None:
        names = [p.name for p in projections]
        if len(set(names)) != len(names) or not names:
            raise ProjectionError(f"give one or more projections with distinct names, got {names}")
        self.store, self.batch_size = store, batch_size
        self.projections = {p.name: p for p in projections}
        self.connection = duckdb.connect(str(database))
        self.connection.execute(GENERATIONS_SQL)
        self.commits: deque[Commit] = deque(maxlen=100_000)
        self._lock = threading.RLock()  # one writer of the read database at a time: polls, rebuild swaps
        self._paused = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cursors: dict[str, duckdb.DuckDBPyConnection] = {}
        self._subscriptions: dict[str, Subscription] = {}
        # What readers of the runner's state ask for, kept current by the writer thread so they never wait on it.
        self._positions: dict[str, int] = {}
        self._generations: dict[str, int] = {}
        for projection in projections:
            generation = self._stored_generation(projection.name)
            if generation == 0:
                generation = 1
                self._build_schema(projection, generation)
                self._swap(projection, generation)
            self._follow(projection, generation)

    # ---- generations ---------------------------------------------------------------------------------------------

    @staticmethod
    def schema(name: str, generation: int) -> str:
        """The schema of a projection's generation."""
        return f"{name}_g{generation}"

    def generation(self, name: str) -> int:
        """The generation readers see."""
        self._subscription(name)
        return self._generations[name]

    def _stored_generation(self, name: str) -> int:
        row = self.connection.execute(
            "SELECT generation FROM projection_generations WHERE projection = ?", [name]
        ).fetchone()
        return int(row[0]) if row else 0

    def _cursor(self, schema: str) -> duckdb.DuckDBPyConnection:
        """A connection to the read database whose unqualified names mean `schema`'s tables."""
        cursor = self.connection.cursor()
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        cursor.execute(f"SET schema = '{schema}'")
        return cursor

    def _build_schema(self, projection: Projection, generation: int) -> duckdb.DuckDBPyConnection:
        cursor = self._cursor(self.schema(projection.name, generation))
        cursor.execute("BEGIN TRANSACTION")
        projection.create(cursor)
        create_checkpoints_table(cursor)
        cursor.execute("COMMIT")
        return cursor

    def _swap(self, projection: Projection, generation: int) -> None:
        """Point the main schema's views at `generation`, in one transaction."""
        schema = self.schema(projection.name, generation)
        self.connection.execute("BEGIN TRANSACTION")
        try:
            for table in projection.tables:
                self.connection.execute(f'CREATE OR REPLACE VIEW main."{table}" AS SELECT * FROM "{schema}"."{table}"')
            self.connection.execute(
                "INSERT OR REPLACE INTO projection_generations VALUES (?, ?, ?)",
                [projection.name, generation, to_utc_naive(utc_now())],
            )
            # Every current generation's checkpoint, so a reader can read a table and its position consistently.
            current = self.connection.execute(
                "SELECT projection, generation FROM projection_generations ORDER BY projection"
            ).fetchall()
            union = " UNION ALL ".join(
                f"""SELECT '{name}' AS projection, {number} AS generation, position
                    FROM "{self.schema(name, number)}".subscription_checkpoints WHERE subscription = '{name}'"""
                for name, number in current
            )
            self.connection.execute(f"CREATE OR REPLACE VIEW main.projection_checkpoints AS {union}")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def _follow(self, projection: Projection, generation: int) -> None:
        cursor = self._cursor(self.schema(projection.name, generation))
        old = self._cursors.pop(projection.name, None)
        self._cursors[projection.name] = cursor
        subscription = Subscription(projection.name, self.store, cursor, projection.apply, batch_size=self.batch_size)
        self._subscriptions[projection.name] = subscription
        self._positions[projection.name] = subscription.position
        self._generations[projection.name] = generation
        if old is not None:
            old.close()

    # ---- running ---------------------------------------------------------------------------------------------------

    def poll(self) -> int:
        """One batch for every projection; how many events were applied in all."""
        applied = 0
        with self._lock:
            for name, subscription in self._subscriptions.items():
                count = subscription.poll()
                if count:
                    applied += count
                    position = self._positions[name] = subscription.position
                    self.commits.append(Commit(name, utc_now(), position))
        return applied

    def catch_up(self, *, max_events: int | None = None) -> int:
        """Poll until every projection is at the head (or `max_events` were applied); how many were applied."""
        applied = 0
        while max_events is None or applied < max_events:
            count = self.poll()
            if count == 0:
                break
            applied += count
        return applied

    def start(self, *, idle_seconds: float = 0.01) -> None:
        """Follow the store in a background thread (until `stop()`), unless paused."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(idle_seconds,), name="projection-runner", daemon=True)
        self._thread.start()

    def _run(self, idle_seconds: float) -> None:
        while not self._stop.is_set():
            with self._lock:  # the pause flag is read under the lock `pause()` waits for
                applied = 0 if self._paused.is_set() else self.poll()
            if applied == 0:
                self._stop.wait(idle_seconds)

    def stop(self) -> None:
        """Stop the background thread (it finishes the batch it is applying)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pause(self) -> None:
        """Stop applying events (the background thread idles; the read model falls behind as writes continue).

        When it returns, no batch is being applied and none will be until `resume()`.
        """
        self._paused.set()
        with self._lock:
            pass  # wait for a batch in flight

    def resume(self) -> None:
        """Apply events again (the read model catches up)."""
        self._paused.clear()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    # ---- state -----------------------------------------------------------------------------------------------------

    def position(self, name: str) -> int:
        """The checkpoint of projection `name`: every event up to it is applied (and committed)."""
        self._subscription(name)
        return self._positions[name]

    def _subscription(self, name: str) -> Subscription:
        try:
            return self._subscriptions[name]
        except KeyError:
            raise ProjectionError(
                f"no projection named {name!r}; this runner has {', '.join(self.projections)}"
            ) from None

    def status(self) -> list[ProjectionStatus]:
        """Every projection's generation, checkpoint and lag behind the store's head."""
        head = self.store.head_position()
        return [
            ProjectionStatus(name, self.generation(name), position, head, max(0, head - position), self.paused)
            for name in self.projections
            for position in [self.position(name)]
        ]

    def status_table(self) -> pd.DataFrame:
        """`status()` as a table, one row per projection."""
        return pd.DataFrame(
            [
                {
                    "projection": s.projection,
                    "generation": s.generation,
                    "checkpoint (position)": s.position,
                    "event store head": s.head,
                    "lag (events)": s.lag_events,
                }
                for s in self.status()
            ]
        ).set_index("projection")

    def query(self, sql: str, params: Sequence[object] | None = None) -> pd.DataFrame:
        """Run a read query on its own cursor (any thread): what a reader of the read side does."""
        cursor = self.connection.cursor()
        try:
            return cursor.execute(sql, params).df()
        finally:
            cursor.close()

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A cursor of the read database for a reader thread (close it when done)."""
        return self.connection.cursor()

    # ---- rebuild ---------------------------------------------------------------------------------------------------

    def rebuild(self, name: str) -> RebuildResult:
        """Rebuild projection `name` from position zero into a new generation and swap it in atomically."""
        self._subscription(name)
        projection = self.projections[name]
        started = time.perf_counter()
        old = self.generation(name)
        new = old + 1
        schema = self.schema(name, new)
        with self._lock:
            self.connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # left by an interrupted rebuild
        cursor = self._cursor(schema)
        up_to = self.store.head_position()
        cursor.execute("BEGIN TRANSACTION")
        try:
            projection.create(cursor)
            create_checkpoints_table(cursor)
            projection.rebuild(self.store, up_to, cursor)
            save_checkpoint(cursor, name, up_to)
        except BaseException:
            cursor.execute("ROLLBACK")
            cursor.close()
            raise
        cursor.execute("COMMIT")
        cursor.close()
        built = time.perf_counter()
        # Catch up what was written during the pass while generation `old` still serves, then swap under the lock.
        follower = Subscription(name, self.store, self._cursor(schema), projection.apply, batch_size=self.batch_size)
        caught_up = follower.run()
        with self._lock:
            caught_up += follower.run()
            self._swap(projection, new)
            self._follow(projection, new)
            self.connection.execute(f'DROP SCHEMA IF EXISTS "{self.schema(name, old)}" CASCADE')
        follower.database.connection.close()
        return RebuildResult(name, new, up_to, built - started, caught_up, time.perf_counter() - started)

    def close(self) -> None:
        """Stop following and close the read database."""
        self.stop()
        for cursor in self._cursors.values():
            cursor.close()
        self.connection.close()

    def __enter__(self) -> ProjectionRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
