"""Concurrent writers and a subscriber that trusts positions: the hazard of sequence-numbered events, measured.

N writer processes append to one PostgreSQL event store at once. Each writer's transaction goes on for a moment after
its insert (a service writes its own tables in the same transaction), so transactions commit in another order than
they took their positions. A naive pull subscriber reads `position > checkpoint` as fast as it can, the way every
subscriber in the lab does. With positions from a sequence it skips events for good; with the store's default (an
insert lock held to commit) positions become visible in order and it skips none, at a cost in throughput that the
same run measures.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from labkit.domain import Order
from labkit.events.postgres import Positions, PostgresEventStore


@dataclass(frozen=True)
class WritersRun:
    """What one run of concurrent writers did, and what the naive subscriber saw."""

    positions: Positions
    writers: int
    events: int  # committed by all writers
    seen: int  # distinct events the subscriber read
    skipped: int  # committed events whose position the subscriber had passed before they became visible
    seconds: float  # from the first write to the last commit

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")

    def row(self) -> dict[str, Any]:
        """One row of a results table."""
        return {
            "positions": self.positions,
            "writers": self.writers,
            "events committed": self.events,
            "events the subscriber saw": self.seen,
            "skipped for good": self.skipped,
            "events/s": round(self.events_per_second),
        }


def write_orders(url: str, schema: str, positions: Positions, writer: int, count: int, hold: float) -> None:
    """One writer process: `count` new orders, each appended in its own transaction that lasts `hold` s after the
    insert (the service's other writes)."""
    with PostgresEventStore(url, schema=schema, positions=positions) as store:
        wait_for_go()
        for n in range(count):
            order = Order.place(f"order-w{writer}-{n}", customer_id=f"customer-{writer}", order_total=100 + n)
            with store.transaction():
                store.append(order.pending, expected_version=0)
                time.sleep(hold)


def run_writers(
    url: str,
    *,
    positions: Positions,
    writers: int = 4,
    events_per_writer: int = 100,
    hold: float = 0.002,
    schema: str | None = None,
    poll_seconds: float = 0.0005,
) -> WritersRun:
    """Start `writers` processes appending at once while a naive subscriber follows by position; count its misses."""
    if writers < 1 or events_per_writer < 1:
        raise ValueError(f"writers and events_per_writer must be 1 or more, got {writers} and {events_per_writer}")
    schema = schema or f"writers_{positions}"
    setup = PostgresEventStore(url, schema=schema, positions=positions)
    setup.drop()
    store = PostgresEventStore(url, schema=schema, positions=positions)
    seen: set[int] = set()
    checkpoint = 0
    arguments = [(url, schema, positions, w, events_per_writer, hold) for w in range(writers)]
    with started_together(f"{__name__}:write_orders", arguments) as processes:
        started = time.perf_counter()
        while any(p.poll() is None for p in processes):
            checkpoint = _poll(store, checkpoint, seen)
            time.sleep(poll_seconds)
        seconds = time.perf_counter() - started
    checkpoint = _poll(store, checkpoint, seen)  # the tail, after every writer committed
    total = store.count()
    setup.close()
    store.close()
    return WritersRun(positions, writers, total, len(seen), total - len(seen), seconds)


def wait_for_go() -> None:
    """In a process of `started_together`: say it is ready (connected), then wait until all are."""
    print("ready", flush=True)
    sys.stdin.readline()


@contextlib.contextmanager
def started_together(target: str, arguments: Sequence[tuple[Any, ...]]) -> Iterator[list[subprocess.Popen[str]]]:
    """One process per argument tuple running `module:function(*args)`; each calls `wait_for_go` once set up, and
    all are let go at the same moment, so a measurement times the work, not the processes' start. Waits for them on
    leaving (and kills them if the caller fails); RuntimeError naming the first that failed."""
    module, function = target.split(":")
    # Plain processes (not multiprocessing): a notebook's kernel, pytest and the command line start them alike.
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", f"from {module} import {function}; {function}(*{args!r})"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in arguments
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            process.stdout.readline()  # "ready" (or nothing, if it failed: its exit code says so below)
        for process in processes:
            assert process.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                process.stdin.write("go\n")
                process.stdin.flush()
        yield processes
        for process in processes:
            process.wait()  # (their stdout is the caller's to read: communicate() after this is still fine)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
    failed = [(p.returncode, (p.stderr.read() if p.stderr else "").strip()[-400:]) for p in processes if p.returncode]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(processes)} processes failed; the first: {failed[0]}")


def _poll(store: PostgresEventStore, checkpoint: int, seen: set[int]) -> int:
    """One naive poll: everything after the checkpoint, then the checkpoint moves to the last position read."""
    while True:
        events = store.read_all(after_position=checkpoint, limit=1000)
        if not events:
            return checkpoint
        seen.update(e.position for e in events)
        checkpoint = events[-1].position
