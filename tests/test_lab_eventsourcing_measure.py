"""The measurements and figures of notebook 05, at tiny sizes."""

from __future__ import annotations

from labkit.events import EventStore
from labkit.lab.eventsourcing.measure import load_times, long_history_store, replay_rates, replays_agree
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
