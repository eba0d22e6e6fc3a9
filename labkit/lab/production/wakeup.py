"""How soon a subscriber hears of an append: woken by LISTEN/NOTIFY, against polling every N milliseconds.

A writer appends orders at seeded, irregular moments; a `Subscription` follows the PostgreSQL store into its own
database, once woken by the store's notifications and once polling at fixed intervals. The latency of each event is
the time from its append's commit to the moment the subscriber's handler got it, measured in one process.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

import duckdb

from labkit.domain import Order
from labkit.events import RecordedEvent, Subscription
from labkit.events.postgres import PostgresEventStore


@dataclass(frozen=True)
class WakeUps:
    """Commit-to-handler latencies of one way of following the store (milliseconds)."""

    method: str
    latencies_ms: tuple[float, ...]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    def row(self) -> dict[str, Any]:
        return {"subscriber": self.method, "events": len(self.latencies_ms), "p50 ms": self.p50, "p99 ms": self.p99}


class _Polled:
    """The store as a plain pull source: without `wait_for_news`, so the subscriber polls."""

    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        return self.store.read_all(after_position=after_position, limit=limit)


def follow(
    url: str, *, schema: str = "wakeups", appends: int = 40, poll_ms: float | None = None, seed: int = 7
) -> WakeUps:
    """Append `appends` orders at seeded moments 5-25 ms apart while a subscriber follows: notified (`poll_ms` None)
    or polling every `poll_ms` ms. Each event's commit-to-handler latency."""
    PostgresEventStore(url, schema=schema).drop()
    writer = PostgresEventStore(url, schema=schema)
    reader = PostgresEventStore(url, schema=schema)
    committed: dict[int, float] = {}
    handled: dict[int, float] = {}

    def record(events: Any, connection: duckdb.DuckDBPyConnection) -> None:
        now = time.perf_counter()
        for event in events:
            handled[event.position] = now

    source = reader if poll_ms is None else _Polled(reader)
    subscription = Subscription("wake-ups", source, duckdb.connect(), record, batch_size=100)
    stop = threading.Event()
    idle = 1.0 if poll_ms is None else poll_ms / 1000
    thread = threading.Thread(target=subscription.run, kwargs={"stop": stop, "follow": True, "idle_seconds": idle})
    thread.start()
    time.sleep(0.05)  # the subscriber is listening (or polling) before the first append
    pause = random.Random(seed)
    try:
        for n in range(appends):
            time.sleep(pause.uniform(0.005, 0.025))
            result = writer.append(Order.place(f"order-{n}", "customer-1", 10 + n).pending, expected_version=0)
            committed[result.appended[0].position] = time.perf_counter()
        deadline = time.monotonic() + 10
        while len(handled) < appends and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        stop.set()
        thread.join(timeout=5)
        writer.drop()
        writer.close()
        reader.close()
    method = "LISTEN/NOTIFY" if poll_ms is None else f"polling every {poll_ms:g} ms"
    return WakeUps(method, tuple((handled[p] - committed[p]) * 1000 for p in sorted(committed) if p in handled))
