"""Figures for the event-driven notebooks: anomalies against the fault rate, and projection lag over time."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from labkit.lab.messaging.lag import LagMeasurement
from labkit.patterns.dualwrite import DualWriteOutcome

# Each design, as the fault-sweep figure draws it: its colour, marker and line, and its label.
_DESIGNS = (
    ("state_first", "tab:red", "o", "-", "commit, then publish"),
    ("publish_first", "tab:purple", "s", "--", "publish, then commit"),
    ("outbox", "tab:green", "^", "-.", "transactional outbox"),
    ("event_sourced", "tab:blue", "v", ":", "event sourcing"),
)
# One panel per kind of anomaly, so the designs that fail in different ways never draw over each other: (column,
# heading, which runs: published without message ids, or with them).
_ANOMALIES = (
    ("lost", "lost: stored, never announced", False),
    ("phantom", "phantom: announced, never stored", False),
    ("duplicates", "duplicates: received twice", False),
    ("duplicates", "duplicates with message ids\n(the broker's duplicate window)", True),
)


def plot_fault_sweep(outcomes: Sequence[DualWriteOutcome], *, title: str | None = None) -> Figure:
    """Lost, phantom and duplicate events at the consumer per design against the fault rate, one panel each (one
    point per run); runs published with message ids get a panel of their own for their duplicates.

    Designs at the same count would hide each other, so each is nudged sideways by a fixed step (a fraction of the
    gap between rates) and keeps its own marker: four designs at zero read as four rows of markers, not one line.
    """
    frame = pd.DataFrame([o.__dict__ for o in outcomes])
    settings = set(frame["message_ids"])
    # Lost and phantom do not depend on message ids: drawn from the runs without them when there are some.
    plain = min(settings)
    anomalies = [
        (column, heading, ids if column == "duplicates" else plain)
        for column, heading, ids in _ANOMALIES
        if column != "duplicates" or ids in settings
    ]
    rates = sorted(frame["fault_rate"].unique())
    gap = min((b - a for a, b in pairwise(rates)), default=0.1)
    figure, panels = plt.subplots(1, len(anomalies), figsize=(4 * len(anomalies), 4.2), sharey=True)
    for axes, (column, heading, ids) in zip(panels, anomalies, strict=True):
        for index, (design, color, marker, style, label) in enumerate(_DESIGNS):
            rows = frame[(frame["design"] == design) & (frame["message_ids"] == ids)].sort_values("fault_rate")
            if rows.empty:
                continue
            nudge = (index - (len(_DESIGNS) - 1) / 2) * gap * 0.06
            axes.plot(
                rows["fault_rate"] + nudge,
                rows[column],
                color=color,
                marker=marker,
                linestyle=style,
                linewidth=1.5,
                markersize=6,
                label=label,
            )
        axes.set_title(heading if len(settings) > 1 else heading.split("\n")[0], fontsize="medium")
        axes.set_xlabel("fault rate (share of operations that crash)")
        axes.grid(alpha=0.3)
    panels[0].set_ylabel("events at the consumer (count)")
    panels[0].set_ylim(bottom=-1)
    panels[0].legend(loc="upper left", fontsize="small")
    operations = int(frame["operations"].max())
    figure.suptitle(
        title
        or f"Dual writes under crashes, over JetStream: {operations} orders per run, the same schedule for every design"
    )
    figure.tight_layout()
    plt.close(figure)  # shown once, as the cell's value
    return figure


def plot_lag(
    measurement: LagMeasurement, *, pause_between: tuple[float, float] | None = None, title: str | None = None
) -> Figure:
    """Each projection's lag over the run: in events (top) and as the age of its oldest unapplied event (bottom).

    The pause is shaded where it happened (`measurement.pause_between`), unless `pause_between` says otherwise.
    """
    samples = measurement.samples
    pause_between = pause_between or measurement.pause_between
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
    events_axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")  # beside the lines, not on them
    figure.tight_layout()
    plt.close(figure)
    return figure
