"""matplotlib figures of notebook 05: titles, labelled axes with units."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from labkit.lab.log_axes import plain_log_axis


def _log_lines(x: pd.Series, lines: dict[str, pd.Series], *, title: str, xlabel: str, ylabel: str) -> Figure:
    """Several measured series against one x, on log-log axes."""
    figure, axes = plt.subplots(figsize=(7, 4))
    plt.close(figure)  # shown once, as the cell's result, not again by the inline backend
    for (label, y), marker in zip(lines.items(), ("o-", "s-", "^-"), strict=False):
        axes.plot(x, y, marker, label=label)
    axes.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel)
    plain_log_axis(axes.xaxis)
    plain_log_axis(axes.yaxis)
    axes.set_title(title)
    axes.legend()
    axes.grid(True, which="both", alpha=0.3)
    return figure


def plot_load_times(times: pd.DataFrame) -> Figure:
    """Load time against history length, with and without snapshots (log-log)."""
    return _log_lines(
        times["history (events)"],
        {
            "replay every event": times["without snapshots (ms)"],
            "latest snapshot + tail (every 100 events)": times["with snapshots (ms)"],
        },
        title="Loading one aggregate: full replay grows with history, snapshot + tail stays flat",
        xlabel="history length (events)",
        ylabel="load time (ms, median)",
    )


def plot_replay_rates(rates: pd.DataFrame) -> Figure:
    """Replay throughput of every order, Python fold against vectorized SQL."""
    return _log_lines(
        rates["order events"],
        {
            "Python fold (one aggregate at a time)": rates["Python fold (events/s)"],
            "vectorized SQL (every order at once)": rates["vectorized SQL (events/s)"],
        },
        title="Rebuilding every order's state: Python fold vs vectorized SQL",
        xlabel="order events replayed",
        ylabel="throughput (events/s)",
    )
