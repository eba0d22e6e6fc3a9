"""The measurements and figures of notebook 05, at tiny sizes."""

from __future__ import annotations

import pandas as pd

from labkit.events import EventStore
from labkit.lab.eventsourcing.measure import (
    load_times,
    long_history_store,
    replay_findings,
    replay_rates,
    replays_agree,
    snapshot_payoff,
)
from labkit.lab.eventsourcing.plots import plot_load_times, plot_replay_rates
from labkit.workload import generate


def test_load_times_and_their_figure():
    times = load_times([10, 300], repeat=1)
    assert list(times["history (events)"]) == [10, 300]
    assert (times[["without snapshots (ms)", "with snapshots (ms)"]] > 0).all().all()
    figure = plot_load_times(times)
    axes = figure.axes[0]
    assert axes.get_xlabel() == "history length (events)" and "ms" in axes.get_ylabel() and axes.get_title()


def test_replay_rates_and_their_figure():
    rates = replay_rates([(20, 100), (40, 300)])
    assert list(rates["orders"]) == [100, 300]
    assert (rates["vectorized SQL (events/s)"] > 0).all() and (rates["Python fold (events/s)"] > 0).all()
    axes = plot_replay_rates(rates).axes[0]
    assert axes.get_ylabel() == "throughput (events/s)" and axes.get_title()


def test_replays_agree_on_a_generated_workload(tmp_path):
    workload = generate(tmp_path, customers=40, orders=400, seed=11, progress=False)
    (tmp_path / "h").mkdir()
    store = long_history_store(30, tmp_path / "h")
    assert store.stream_version("customer-7") == 30
    with EventStore(workload.store_path) as s:
        assert replays_agree(s) == {"Order": 400, "Customer": 40}


def test_the_snapshot_payoff_is_said_from_the_measured_loads():
    def table(pairs):
        return pd.DataFrame(
            [{"history (events)": n, "without snapshots (ms)": a, "with snapshots (ms)": b} for n, a, b in pairs]
        )

    measured = table([(10, 1.51, 2.44), (1000, 2.41, 2.87), (10_000, 10.14, 2.78), (50_000, 46.82, 2.59)])
    assert snapshot_payoff(measured) == (
        "In this run a load through the latest snapshot was faster from 10,000 events of history on (2.78 ms against "
        "10.14 ms for a full replay), and slower at 1,000 events (2.87 ms against 2.41 ms): snapshots pay off "
        "somewhere between the two, a point that moves with the machine and its load."
    )
    # A faster short load that is followed by a slower one does not count as the pay-off point.
    assert "from 10,000 events" in snapshot_payoff(table([(10, 3.0, 2.0), (1000, 2.0, 3.0), (10_000, 9.0, 3.0)]))
    assert "was not faster even at 100 events" in snapshot_payoff(table([(10, 1.0, 2.0), (100, 1.0, 2.0)]))


def test_the_replay_comparison_is_said_from_the_measured_rates():
    rates = pd.DataFrame(
        [
            {
                "orders": 1000,
                "order events": 2874,
                "Python fold (events/s)": 200_000.0,
                "vectorized SQL (events/s)": 6e5,
            },
            {
                "orders": 30_000,
                "order events": 86_497,
                "Python fold (events/s)": 2e5,
                "vectorized SQL (events/s)": 3.4e6,
            },
        ]
    )
    assert replay_findings(rates) == (
        "In this run the vectorized SQL replay reached, in events per second, 1,000 orders: 3.0x; 30,000 orders: "
        "17.0x the Python fold's throughput."
    )
