"""Figures for the event-driven notebooks: anomalies against the fault rate, and projection lag over time."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from labkit.lab.messaging.lag import LagMeasurement
from labkit.patterns.dualwrite import DualWriteOutcome

# What each design gets wrong under crashes, and how it is drawn: lines that coincide (lost and phantom count one
# per crash; both fixes stay at zero) are drawn wide underneath and thin on top, so both stay visible.
_SERIES = (
    ("state_first", "lost", "tab:red", "-", "o", 5.0, "lost: commit, then publish"),
    ("publish_first", "phantom", "tab:purple", "--", "s", 1.5, "phantom: publish, then commit"),
    ("outbox", "lost", "tab:green", "-", "^", 5.0, "lost + phantom: outbox"),
    ("event_sourced", "lost", "tab:blue", ":", "v", 1.5, "lost + phantom: event sourcing"),
    ("outbox", "duplicates", "tab:orange", "--", "D", 1.5, "duplicates: outbox relay (at-least-once)"),
)


def plot_fault_sweep(outcomes: Sequence[DualWriteOutcome], *, title: str | None = None) -> Figure:
    """Lost, phantom and duplicate events per design against the fault rate (one point per real run)."""
    frame = pd.DataFrame([o.__dict__ for o in outcomes])
    frame["lost"] = frame["lost"] + frame["phantom"].where(frame["design"].isin(["outbox", "event_sourced"]), 0)
    figure, axes = plt.subplots(figsize=(9, 4.2))
    for design, column, color, style, marker, width, label in _SERIES:
        rows = frame[frame["design"] == design].sort_values("fault_rate")
        if not rows.empty:
            axes.plot(
                rows["fault_rate"],
                rows[column],
                color=color,
                linestyle=style,
                marker=marker,
                linewidth=width,
                alpha=0.55 if width > 2 else 1.0,
                label=label,
            )
    operations = int(frame["operations"].max())
    axes.set_title(
        title or f"Dual writes under crashes: {operations} orders per run, the same schedule for every design"
    )
    axes.set_xlabel("fault rate (share of operations that crash)")
    axes.set_ylabel("events (count)")
    axes.set_ylim(bottom=-1)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    plt.close(figure)  # shown once, as the cell's value
    return figure


def plot_lag(
    measurement: LagMeasurement, *, pause_between: tuple[float, float] | None = None, title: str | None = None
) -> Figure:
    """Each projection's lag over the run: in events (top) and as the age of its oldest unapplied event (bottom)."""
    samples = measurement.samples
    figure, (events_axes, ms_axes) = plt.subplots(2, 1, figsize=(9, 5.4), sharex=True)
    for name, rows in samples.groupby("projection", sort=True):
        events_axes.plot(rows["seconds"], rows["lag_events"], label=name)
        ms_axes.plot(rows["seconds"], rows["lag_ms"], label=name)
    for axes in (events_axes, ms_axes):
        if pause_between is not None:
            axes.axvspan(*pause_between, color="grey", alpha=0.2, label="projection paused")
        axes.grid(alpha=0.3)
    events_axes.set_title(
        title or f"Projection lag while {measurement.orders} orders are written ({measurement.orders * 3} events)"
    )
    events_axes.set_ylabel("lag (events)")
    ms_axes.set_ylabel("lag (ms)")
    ms_axes.set_xlabel("time since the writes started (s)")
    events_axes.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    plt.close(figure)
    return figure
