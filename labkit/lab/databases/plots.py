"""Figures of notebook 02: latency per method, what crosses service boundaries, and staleness during writes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from labkit.lab.databases.measure import TITLES, Latency, Staleness
from labkit.lab.databases.served import HTTP_COMPOSITION
from labkit.lab.log_axes import plain_log_axis
from labkit.layouts.queries import METHOD_TITLES

COLORS = {
    "shared_join": "#4c72b0",
    "api_composition": "#dd8452",
    HTTP_COMPOSITION: "#8c564b",
    "cqrs_view": "#55a868",
    "attach_join": "#c44e52",
}


def latency_figure(rows: list[Latency]) -> Figure:
    """Median and p95 latency per method (ms), side by side, on a log axis with each median written at its bar.

    Over HTTP an answer can take a hundred times as long as in this process: on a linear axis the fast methods
    would be slivers.
    """
    figure, axes = plt.subplots(figsize=(9, 0.7 * len(rows) + 1.2))
    labels = [TITLES[r.method] for r in rows]
    positions = range(len(rows))
    colors = [COLORS[r.method] for r in rows]
    axes.barh([p + 0.2 for p in positions], [r.median_ms for r in rows], height=0.4, label="median", color=colors)
    axes.barh([p - 0.2 for p in positions], [r.p95_ms for r in rows], height=0.4, label="p95", color=colors, alpha=0.45)
    for position, row in zip(positions, rows, strict=True):
        axes.annotate(
            f"{row.median_ms:.1f} ms",
            (row.median_ms, position + 0.2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    axes.set_xscale("log")
    plain_log_axis(axes.xaxis)
    axes.set_xlim(right=max(r.p95_ms for r in rows) * 4)  # room for the labels
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()
    axes.set_xlabel("latency of one answer (ms, log scale)")
    axes.set_title(f"Recent valuable customers: latency over {rows[0].runs} runs")
    axes.legend(loc="lower right")
    figure.tight_layout()
    plt.close(figure)  # shown once, as the cell's value, not again when the cell ends
    return figure


def moved_figure(rows: list[Latency]) -> Figure:
    """Rows and bytes that crossed a service boundary for one answer, each bar labelled (zero: nothing crossed)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 0.6 * len(rows) + 1.4), sharey=True)
    labels = [TITLES[r.method] for r in rows]
    colors = [COLORS[r.method] for r in rows]
    for axes, values, unit in (
        (left, [r.rows_moved for r in rows], "rows"),
        (right, [r.bytes_moved / 1024 for r in rows], "KiB"),
    ):
        axes.barh(labels, values, color=colors)
        for position, value in enumerate(values):
            text = f"{value:,.0f} {unit}" if unit == "rows" else f"{value:,.1f} {unit}"
            axes.annotate(
                text if value else "none at query time",
                (value, position),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize="small",
                color="black" if value else "grey",
            )
        axes.set_xlim(right=max(max(values), 1) * 1.45)
    left.set_xlabel("rows moved between services")
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
