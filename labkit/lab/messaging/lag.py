"""Projection lag while writes continue: a seeded order writer on the command side, and a sampler on the read side.

Lag is measured two ways, both from the stores: in events (the store's head minus a projection's checkpoint) and
in milliseconds (the age of the oldest event the projection has not applied yet, from its `recorded_at`). Per
event, the write-to-read latency is the time from its `recorded_at` to the commit of the projection batch that
applied it (`ProjectionRunner.commits`).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labkit.domain import Order
from labkit.events import EventStore, Repository
from labkit.events.codec import utc_now
from labkit.patterns.errors import ProjectionError
from labkit.patterns.projection_runner import ProjectionRunner


class OrderWriter:
    """Places orders on the command side (each placed, approved and shipped: three events in one append)."""

    def __init__(self, store: EventStore, *, seed: int = 7) -> None:
        self.store, self.repository = store, Repository(store)
        self.rng = random.Random(seed)
        with store.transaction() as connection:
            customers = connection.execute(
                "SELECT aggregate_id FROM events WHERE event_type = 'CustomerCreated' ORDER BY position"
            ).fetchall()
            orders = connection.execute(
                "SELECT count(DISTINCT aggregate_id) FROM events WHERE aggregate_type = 'Order'"
            )
            self.next_number = int((orders.fetchone() or (0,))[0]) + 1
        self.customers = [row[0] for row in customers] or ["customer-1"]
        self.written = 0
        self._thread: threading.Thread | None = None

    def write(self, count: int) -> int:
        """Place `count` orders now; how many events were appended."""
        appended = 0
        for _ in range(count):
            order = Order.place(
                f"order-{self.next_number}", self.rng.choice(self.customers), self.rng.randint(1, 50) * 10
            )
            order.approve()
            order.ship()
            appended += len(self.repository.save(order).appended)
            self.next_number += 1
            self.written += 1
        return appended

    def write_at_rate(self, count: int, per_second: float) -> None:
        """Place `count` orders at `per_second`, paced against the clock (catching up if a write was slow)."""
        if per_second <= 0:
            raise ProjectionError(f"the write rate must be above 0 orders/s, got {per_second}")
        started = time.perf_counter()
        for i in range(count):
            delay = started + i / per_second - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self.write(1)

    def start(self, count: int, per_second: float) -> None:
        """`write_at_rate` in a background thread; `join()` waits for it."""
        self._thread = threading.Thread(target=self.write_at_rate, args=(count, per_second), name="order-writer")
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()


@dataclass(frozen=True)
class LagSample:
    """One look at the read side: seconds since the start, the head, one projection's checkpoint and lag."""

    seconds: float
    projection: str
    head: int
    position: int
    lag_events: int
    lag_ms: float


def sample(runner: ProjectionRunner, started: float) -> list[LagSample]:
    """The lag of every projection now (events behind, age of the oldest unapplied event)."""
    now, seconds = utc_now(), time.perf_counter() - started
    samples = []
    for status in runner.status():
        lag_ms = 0.0
        if status.lag_events:
            oldest = runner.store.read_all(after_position=status.position, limit=1)
            if oldest:
                lag_ms = max(0.0, (now - oldest[0].recorded_at).total_seconds() * 1000)
        samples.append(LagSample(seconds, status.projection, status.head, status.position, status.lag_events, lag_ms))
    return samples


@dataclass(frozen=True)
class LagMeasurement:
    """Samples over time and per-event write-to-read latencies of one run."""

    samples: pd.DataFrame  # seconds, projection, head, position, lag_events, lag_ms
    latencies: pd.DataFrame  # projection, position, latency_ms, written_s: one row per event written during the run
    orders: int
    seconds: float
    pause_between: tuple[float, float] | None = None  # when the runner was paused, in seconds since the start

    def _paused(self) -> pd.Series:
        """Per event: was it written while the runner was paused (it then waits for the resume)."""
        if self.pause_between is None or "written_s" not in self.latencies:
            return pd.Series(False, index=self.latencies.index)
        start, end = self.pause_between
        return self.latencies["written_s"].between(start, end, inclusive="left")

    def summary(self) -> pd.DataFrame:
        """Per projection: events applied, write-to-read latency median and p99 (ms) of the events written while the
        runner ran, and of those written while it was paused (they wait for the resume), the worst lag in events."""
        paused = self._paused()
        running = self.latencies[~paused].groupby("projection")["latency_ms"]
        columns = {
            "events": self.latencies.groupby("projection").size(),
            "median latency (ms)": running.median().round(1),
            "p99 latency (ms)": running.quantile(0.99).round(1),
        }
        if paused.any():
            waited = self.latencies[paused].groupby("projection")["latency_ms"]
            columns["written while paused: median latency (ms)"] = waited.median().round(1)
            columns["written while paused: max latency (ms)"] = waited.max().round(1)
        columns["max lag (events)"] = self.samples.groupby("projection")["lag_events"].max()
        return pd.DataFrame(columns)

    def findings(self) -> str:
        """The latencies in words, over every projection, running and paused apart (written from the run)."""
        paused = self._paused()
        running = self.latencies.loc[~paused, "latency_ms"]
        text = ""
        if len(self.latencies) and self.latencies["written_s"].max() > 0:
            # A loaded machine writes slower than asked: say how fast the writes really came.
            writing_s = self.latencies["written_s"].max()
            text = f"The {self.orders:,} orders were written in {writing_s:.1f} s ({self.orders / writing_s:.0f} per second). "
        text += (
            f"While the runner followed the writes, half of the {len(running):,} event deliveries to the read "
            f"models took {running.median():.1f} ms or less, 99% took {running.quantile(0.99):.1f} ms or less."
        )
        if paused.any():
            waited = self.latencies.loc[paused, "latency_ms"]
            start, end = self.pause_between  # type: ignore[misc]  # paused.any(): a window was kept
            text += (
                f" Events written while it was paused (from {start:.2f} s to {end:.2f} s into the run) waited for"
                f" the resume: {waited.median():.1f} ms at the median,"
                f" {waited.max():.1f} ms at most."
            )
        return text


def measure_lag(
    runner: ProjectionRunner,
    writer: OrderWriter,
    *,
    orders: int = 300,
    per_second: float = 150.0,
    every_seconds: float = 0.05,
    pause_between: tuple[float, float] | None = None,
) -> LagMeasurement:
    """Write `orders` at `per_second` while the runner follows; sample the lag every `every_seconds`.

    `pause_between=(a, b)`: pause the runner from a to b seconds into the run, to watch it fall behind and catch up.
    The measurement keeps the window as it happened (a pause waits for the batch in flight), and events are counted
    as written while paused against that window. The runner keeps following in its thread afterwards
    (`runner.stop()` ends that).
    """
    runner.catch_up()  # start from a caught-up read side, so every lag seen comes from this run's writes
    start_head = runner.store.head_position()
    runner.start()
    started, started_at = time.perf_counter(), utc_now().timestamp()
    writer.start(orders, per_second)
    # Timers, not the sampling loop, pause and resume: a slow look at the read side (a loaded machine) must not
    # move or skip the pause.
    window = _PauseWindow(runner, started, pause_between)
    samples: list[LagSample] = []
    try:
        while True:
            taken = sample(runner, started)
            samples.extend(taken)
            if not writer.busy and window.over and all(s.lag_events == 0 for s in taken):
                break
            time.sleep(every_seconds)
    finally:
        window.cancel()
        writer.join()
        runner.resume()
    seconds = time.perf_counter() - started
    latencies = _latencies(runner, start_head)
    latencies["written_s"] = latencies.pop("recorded_s") - started_at
    return LagMeasurement(pd.DataFrame(samples), latencies, orders, seconds, window.happened())


class _PauseWindow:
    """Pauses the runner at `between[0]` and resumes it at `between[1]` seconds after `started`, on timers; records
    when each happened."""

    def __init__(self, runner: ProjectionRunner, started: float, between: tuple[float, float] | None) -> None:
        self.runner, self.started = runner, started
        self.paused_s: float | None = None
        self.resumed_s: float | None = None
        self.timers: list[threading.Timer] = []
        if between is not None:
            now = time.perf_counter() - started
            self.timers = [
                threading.Timer(max(0.0, between[0] - now), self._pause),
                threading.Timer(max(0.0, between[1] - now), self._resume),
            ]
            for timer in self.timers:
                timer.start()

    def _pause(self) -> None:
        self.runner.pause()  # returns once no batch is in flight: the pause starts then
        self.paused_s = time.perf_counter() - self.started

    def _resume(self) -> None:
        self.timers[0].join()  # a pause delayed past the resume time still comes first
        self.runner.resume()
        self.resumed_s = time.perf_counter() - self.started

    @property
    def over(self) -> bool:
        return not any(timer.is_alive() for timer in self.timers)

    def cancel(self) -> None:
        for timer in self.timers:
            timer.cancel()
            timer.join()

    def happened(self) -> tuple[float, float] | None:
        """The window as it happened, in seconds since the start (None: no pause asked, or it never happened)."""
        if self.paused_s is None or self.resumed_s is None:
            return None
        return (self.paused_s, self.resumed_s)


def _latencies(runner: ProjectionRunner, after_position: int) -> pd.DataFrame:
    """Write-to-read latency of each event after `after_position`, per projection, from the commit log."""
    written = runner.store.read_all(after_position=after_position, limit=10_000_000)
    positions = np.array([e.position for e in written], dtype=np.int64)
    recorded = np.array([e.recorded_at.timestamp() for e in written])
    log = list(runner.commits)  # a copy: the runner's thread keeps appending
    frames = []
    for name in runner.projections:
        commits = [c for c in log if c.projection == name and c.position > after_position]
        commit_positions = np.array([c.position for c in commits], dtype=np.int64)
        commit_times = np.array([c.at.timestamp() for c in commits])
        # The first commit at or past an event's position is the one that made it visible.
        index = np.searchsorted(commit_positions, positions, side="left")
        seen = index < len(commits)
        frames.append(
            pd.DataFrame(
                {
                    "projection": name,
                    "position": positions[seen],
                    "latency_ms": (commit_times[index[seen]] - recorded[seen]) * 1000,
                    "recorded_s": recorded[seen],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
