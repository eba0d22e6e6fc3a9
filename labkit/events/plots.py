"""matplotlib figures of notebook 05: titles, labelled axes with units."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def plot_load_times(times: pd.DataFrame) -> Figure:
    """Load time against history length, with and without snapshots (log-log)."""
    figure, axes = plt.subplots(figsize=(7, 4))
    plt.close(figure)  # shown once, as the cell's result, not again by the inline backend
    x = times["history (events)"]
    axes.plot(x, times["without snapshots (ms)"], "o-", label="replay every event")
    axes.plot(x, times["with snapshots (ms)"], "s-", label="latest snapshot + tail (every 100 events)")
    axes.set(xscale="log", yscale="log", xlabel="history length (events)", ylabel="load time (ms, median)")
    axes.set_title("Loading one aggregate: full replay grows with history, snapshot + tail stays flat")
    axes.legend()
    axes.grid(True, which="both", alpha=0.3)
    return figure


def plot_replay_rates(rates: pd.DataFrame) -> Figure:
    """Replay throughput of every order, Python fold against vectorized SQL."""
    figure, axes = plt.subplots(figsize=(7, 4))
    plt.close(figure)  # shown once, as the cell's result, not again by the inline backend
    x = rates["order events"]
    axes.plot(x, rates["Python fold (events/s)"], "o-", label="Python fold (one aggregate at a time)")
    axes.plot(x, rates["vectorized SQL (events/s)"], "s-", label="vectorized SQL (every order at once)")
    axes.set(xscale="log", yscale="log", xlabel="order events replayed", ylabel="throughput (events/s)")
    axes.set_title("Rebuilding every order's state: Python fold vs vectorized SQL")
    axes.legend()
    axes.grid(True, which="both", alpha=0.3)
    return figure
