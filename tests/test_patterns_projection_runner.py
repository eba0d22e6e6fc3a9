"""The projection runner: checkpoints, stop and resume, pause while writes go on, rebuild and an atomic swap."""

from __future__ import annotations

import bisect
import shutil
import threading
import time

import pytest
from polling import wait_until

from labkit.events import EventStore
from labkit.lab.messaging import lag
from labkit.lab.messaging.lag import OrderWriter, measure_lag
from labkit.patterns.errors import ProjectionError
from labkit.patterns.projection_runner import ProjectionRunner
from labkit.patterns.projections import OrdersPerCustomer, RevenuePerDay, standard_projections
from labkit.workload import generate

TABLES = ("orders_per_customer", "revenue_per_day", "customer_orders_view")


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("workload"), customers=30, orders=300, seed=9, progress=False)


@pytest.fixture
def store(workload, tmp_path):
    """A writable copy of the workload's event store."""
    shutil.copy(workload.store_path, tmp_path / "events.duckdb")
    with EventStore(tmp_path / "events.duckdb") as store:
        yield store


def snapshot(runner):
    return {table: runner.query(f"SELECT * FROM {table} ORDER BY ALL") for table in TABLES}


class CountingEvent(threading.Event):
    """The runner's stop event, counting the background thread's idle waits: each is one turn of its loop done."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return super().wait(timeout)


def test_a_stopped_and_resumed_projection_equals_an_uninterrupted_one(store, tmp_path):
    with ProjectionRunner(store, standard_projections(), tmp_path / "whole.duckdb", batch_size=200) as whole:
        whole.catch_up()
        expected = snapshot(whole)
    with ProjectionRunner(store, standard_projections(), tmp_path / "resumed.duckdb", batch_size=200) as first:
        first.catch_up(max_events=700)
        stopped_at = {name: first.position(name) for name in first.projections}
    assert all(0 < p < store.head_position() for p in stopped_at.values())
    # Another process would start here: a new runner on the same read database resumes at the checkpoints.
    with ProjectionRunner(store, standard_projections(), tmp_path / "resumed.duckdb", batch_size=200) as second:
        assert {name: second.position(name) for name in second.projections} == stopped_at
        second.catch_up()
        resumed = snapshot(second)
    for table in TABLES:
        assert resumed[table].equals(expected[table]), table


def test_a_paused_projection_falls_behind_while_orders_are_written_and_catches_up(store, tmp_path, monkeypatch):
    with ProjectionRunner(store, [OrdersPerCustomer()], tmp_path / "read.duckdb") as runner:
        runner.catch_up()
        loop = CountingEvent()
        monkeypatch.setattr(runner, "_stop", loop)
        runner.start()
        runner.pause()
        before = runner.position("orders_per_customer")
        appended = OrderWriter(store, seed=1).write(20)
        # Two more turns of the background loop: the second began after the writes, so unpaused it would have
        # applied them. Counted, not slept: proves the thread looked, however busy the machine.
        turns = loop.waits
        wait_until(lambda: loop.waits >= turns + 2, timeout=20, what="two turns of the paused runner's loop")
        assert runner.position("orders_per_customer") == before
        assert runner.status()[0].lag_events == appended == 60
        assert runner.status()[0].paused
        runner.resume()
        wait_until(lambda: runner.status()[0].lag_events == 0, timeout=20, what="the resumed projection to catch up")
        total = runner.query("SELECT sum(orders) AS n FROM orders_per_customer").n[0]
        assert total == 320


def test_readers_never_see_a_half_built_table_during_rebuilds_and_writes(store, tmp_path):
    """A reader checks, in one transaction, that the table matches the checkpoint it sees; rebuilds swap meanwhile."""
    runner = ProjectionRunner(store, [OrdersPerCustomer(), RevenuePerDay()], tmp_path / "read.duckdb", batch_size=50)
    runner.catch_up()
    writer = OrderWriter(store, seed=2)
    created: list[int] = []
    created_lock = threading.Lock()

    def orders_up_to(position: int) -> int:
        with created_lock:
            return bisect.bisect_right(created, position)

    with store.transaction() as connection:
        created.extend(
            row[0]
            for row in connection.execute(
                "SELECT position FROM events WHERE event_type = 'OrderCreated' ORDER BY position"
            ).fetchall()
        )
    stop, seen, problems = threading.Event(), [], []

    def read() -> None:
        cursor = runner.reader()
        while not stop.is_set():
            try:
                cursor.execute("BEGIN TRANSACTION")
                position, generation = cursor.execute(
                    "SELECT position, generation FROM projection_checkpoints WHERE projection = 'orders_per_customer'"
                ).fetchone()
                total = cursor.execute("SELECT coalesce(sum(orders), 0) FROM orders_per_customer").fetchone()[0]
                cursor.execute("COMMIT")
            except Exception as exc:
                problems.append(repr(exc))
                cursor.execute("ROLLBACK")
                continue
            seen.append(generation)
            if total != orders_up_to(position):
                problems.append(f"generation {generation} at position {position}: {total} orders")
        cursor.close()

    reader = threading.Thread(target=read)
    reader.start()
    runner.start()
    try:
        for _ in range(3):
            for _ in range(10):
                with created_lock:
                    start = store.head_position()
                    writer.write(1)
                    created.append(start + 1)  # OrderCreated is the first of the three events appended
            runner.rebuild("orders_per_customer")
        wait_until(
            lambda: all(s.lag_events == 0 for s in runner.status()), timeout=20, what="every projection at the head"
        )
        wait_until(lambda: 4 in seen, timeout=20, what="the reader to read the last generation (4)")
    finally:
        stop.set()
        reader.join()
        runner.close()
    assert problems == []
    assert seen[0] == 1 and seen[-1] == 4, "the reader read the first and the last generation"


def test_a_rebuild_swaps_in_a_new_generation_and_drops_the_old(store, tmp_path):
    with ProjectionRunner(store, [OrdersPerCustomer()], tmp_path / "read.duckdb") as runner:
        runner.catch_up()
        result = runner.rebuild("orders_per_customer")
        assert (result.generation, runner.generation("orders_per_customer")) == (2, 2)
        assert result.events_per_second > 0
        schemas = set(runner.query("SELECT schema_name FROM duckdb_schemas()").schema_name)
        assert "orders_per_customer_g2" in schemas and "orders_per_customer_g1" not in schemas
        checkpoints = runner.query("SELECT * FROM projection_checkpoints")
        assert checkpoints.to_dict("records") == [
            {"projection": "orders_per_customer", "generation": 2, "position": store.head_position()}
        ]
    # The generation survives a restart.
    with ProjectionRunner(store, [OrdersPerCustomer()], tmp_path / "read.duckdb") as again:
        assert again.generation("orders_per_customer") == 2
        assert again.position("orders_per_customer") == store.head_position()


def test_lag_is_measured_in_events_and_milliseconds_while_writes_continue(store, tmp_path):
    with ProjectionRunner(store, [OrdersPerCustomer()], tmp_path / "read.duckdb") as runner:
        measurement = measure_lag(
            runner, OrderWriter(store, seed=3), orders=60, per_second=100, pause_between=(0.1, 0.4)
        )
    samples = measurement.samples
    assert samples.lag_events.max() > 0 and samples.lag_ms.max() > 0
    assert samples.lag_events.iloc[-1] == 0
    assert len(measurement.latencies) == 180
    assert (measurement.latencies.latency_ms >= 0).all()
    summary = measurement.summary()
    assert summary.loc["orders_per_customer", "events"] == 180
    assert (
        summary.loc["orders_per_customer", "p99 latency (ms)"]
        >= summary.loc["orders_per_customer", "median latency (ms)"]
    )
    # Events written in the pause wait for the resume: told apart from those written while the runner ran, by the
    # window as it happened (a timer fires at its time or later, never earlier).
    paused_s, resumed_s = measurement.pause_between
    assert 0.1 <= paused_s < resumed_s and resumed_s >= 0.4
    latencies = measurement.latencies
    in_pause = latencies[latencies.written_s.between(paused_s, resumed_s, inclusive="left")]
    assert 0 < len(in_pause) < 180
    assert summary.loc["orders_per_customer", "written while paused: median latency (ms)"] == round(
        in_pause.latency_ms.median(), 1
    )
    findings = measurement.findings()
    assert f"Events written while it was paused (from {paused_s:.2f} s to {resumed_s:.2f} s" in findings
    assert "waited for the resume" in findings
    writing_s = latencies.written_s.max()
    assert findings.startswith(f"The 60 orders were written in {writing_s:.1f} s ({60 / writing_s:.0f} per second). ")


def test_a_slow_look_at_the_read_side_neither_moves_nor_skips_the_pause(store, tmp_path, monkeypatch):
    # On a loaded machine one sample of the read side took most of a second, and the sampling loop that also paused
    # the runner paused it late and briefly, or never. Here each sample takes longer than the whole pause.
    looked = lag.sample

    def slow_look(runner, started):
        time.sleep(0.5)
        return looked(runner, started)

    monkeypatch.setattr(lag, "sample", slow_look)
    with ProjectionRunner(store, [OrdersPerCustomer()], tmp_path / "read.duckdb") as runner:
        pauses = []
        pause = runner.pause
        monkeypatch.setattr(runner, "pause", lambda: (pauses.append(True), pause()))
        measurement = measure_lag(
            runner, OrderWriter(store, seed=3), orders=60, per_second=100, pause_between=(0.1, 0.3)
        )
        assert not runner.paused
    assert pauses == [True]
    paused_s, resumed_s = measurement.pause_between
    assert 0.1 <= paused_s < resumed_s and resumed_s >= 0.3
    assert measurement.samples.lag_events.iloc[-1] == 0


def test_misuse_is_refused_with_the_names(store, tmp_path):
    with pytest.raises(ProjectionError, match="distinct names"):
        ProjectionRunner(store, [OrdersPerCustomer(), OrdersPerCustomer()], tmp_path / "read.duckdb")
    with (
        ProjectionRunner(store, [OrdersPerCustomer()], tmp_path / "read.duckdb") as runner,
        pytest.raises(ProjectionError, match="no projection named 'revenue'; this runner has orders_per_customer"),
    ):
        runner.rebuild("revenue")
