"""The notebook's figures: the saga timeline of each order, and the view's lag behind the Order service."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

COLOURS = {"APPROVED": "tab:green", "REJECTED": "tab:red", "PENDING": "tab:orange"}


def plot_saga_timeline(timeline: pd.DataFrame, *, title: str = "Each order's saga") -> Figure:
    """One bar per order from placed to decided (orange while PENDING), a dot when the credit answer came."""
    figure, axes = plt.subplots(figsize=(9, max(2.5, 0.18 * len(timeline) + 1)))
    end = float(timeline[["placed_s", "decided_s"]].max().max())
    for row_number, row in enumerate(timeline.itertuples()):
        finished = row.decided_s if pd.notna(row.decided_s) else end
        axes.barh(row_number, finished - row.placed_s, left=row.placed_s, color=COLOURS["PENDING"], alpha=0.5)
        if pd.notna(row.decided_s):
            axes.plot(row.decided_s, row_number, "o", color=COLOURS[row.outcome], markersize=4)
        if pd.notna(row.credit_s):
            axes.plot(row.credit_s, row_number, "|", color="black", markersize=6)
    axes.set_yticks(range(len(timeline)), timeline["order_id"], fontsize=6)
    axes.invert_yaxis()
    axes.set_xlabel("time since the first order (s)")
    axes.set_ylabel("order")
    axes.set_title(f"{title}: PENDING bar, | credit answered, dot = APPROVED (green) / REJECTED (red)")
    figure.tight_layout()
    plt.close(figure)  # shown once, as the cell's result, not again by the inline backend
    return figure


def plot_view_lag(samples: pd.DataFrame, *, title: str = "The history view catching up") -> Figure:
    """The Order service's head and the view's position over time, and the lag between them in events."""
    figure, (positions, lag) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    positions.plot(samples["t_s"], samples["order_head"], label="Order service head")
    positions.plot(samples["t_s"], samples["view_position"], label="history view position")
    positions.set_ylabel("event position")
    positions.legend()
    positions.set_title(title)
    lag.plot(samples["t_s"], samples["lag_events"], color="tab:red")
    if "view_up" in samples and not samples["view_up"].all():
        down = samples.loc[~samples["view_up"], "t_s"]
        for axes in (positions, lag):
            axes.axvspan(down.min(), down.max(), color="grey", alpha=0.2, label="history service down")
        positions.legend()
    lag.set_ylabel("view lag (events)")
    lag.set_xlabel("time (s)")
    figure.tight_layout()
    plt.close(figure)  # shown once, as the cell's result, not again by the inline backend
    return figure
