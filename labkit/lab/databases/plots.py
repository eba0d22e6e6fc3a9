"""Figures of notebook 02: latency per method, what crosses service boundaries, and staleness during writes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from labkit.lab.databases.measure import Latency, Staleness
from labkit.layouts.queries import METHOD_TITLES

COLORS = {
    "shared_join": "#4c72b0",
    "api_composition": "#dd8452",
    "cqrs_view": "#55a868",
    "attach_join": "#c44e52",
}


def latency_figure(rows: list[Latency]) -> Figure:
    """Median and p95 latency per method (ms), side by side."""
    figure, axes = plt.subplots(figsize=(8, 3.6))
    labels = [METHOD_TITLES[r.method] for r in rows]
    positions = range(len(rows))
    axes.barh(
        [p + 0.2 for p in positions],
        [r.median_ms for r in rows],
        height=0.4,
        label="median",
        color=[COLORS[r.method] for r in rows],
    )
    axes.barh(
        [p - 0.2 for p in positions],
        [r.p95_ms for r in rows],
        height=0.4,
        label="p95",
        color=[COLORS[r.method] for r in rows],
        alpha=0.45,
    )
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()
    axes.set_xlabel("latency of one answer (ms)")
    axes.set_title(f"Recent valuable customers, four ways: latency over {rows[0].runs} runs")
    axes.legend(loc="lower right")
    figure.tight_layout()
    plt.close(figure)  # shown once, as the cell's value, not again when the cell ends
    return figure


def moved_figure(rows: list[Latency]) -> Figure:
    """Rows and bytes that crossed a service boundary for one answer."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    labels = [METHOD_TITLES[r.method] for r in rows]
    colors = [COLORS[r.method] for r in rows]
    left.barh(labels, [r.rows_moved for r in rows], color=colors)
    left.set_xlabel("rows moved between services")
    right.barh(labels, [r.bytes_moved / 1024 for r in rows], color=colors)
    right.set_xlabel("bytes moved between services (KiB)")
    left.invert_yaxis()
    figure.suptitle("What one answer moves across service boundaries")
    figure.tight_layout()
    plt.close(figure)  # shown once, as the cell's value, not again when the cell ends
    return figure


def staleness_figure(staleness: Staleness) -> Figure:
    """How far behind each method's answer was (ms) at each moment of the writer's run."""
    data = pd.DataFrame([o.__dict__ for o in staleness.observations])
    figure, axes = plt.subplots(figsize=(8, 3.4))
    for method, points in data.groupby("method", sort=False):
        axes.plot(
            points["at_seconds"],
            points["ms_behind"],
            marker="o",
            markersize=3,
            linewidth=1,
            label=METHOD_TITLES[str(method)],
            color=COLORS[str(method)],
        )
    axes.set_xlabel("time since the writer started (s)")
    axes.set_ylabel("answer behind the writes (ms)")
    axes.set_title(f"Staleness while orders ship at {staleness.achieved_rate:.0f}/s")
    axes.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    plt.close(figure)  # shown once, as the cell's value, not again when the cell ends
    return figure
