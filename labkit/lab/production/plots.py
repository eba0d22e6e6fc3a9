"""Figures of notebook 14: what a naive subscriber misses under concurrent writers, and what the fix costs."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from labkit.lab.production.writers import WritersRun

LABELS = {
    "sequence": "positions from a sequence\n(naive)",
    "locked": "positions under the insert lock\n(labkit's default)",
}


def plot_writers(runs: Sequence[WritersRun]) -> Figure:
    """Left: events the naive subscriber skipped for good, per design. Right: events/s all writers reached."""
    figure, (skipped, rate) = plt.subplots(1, 2, figsize=(11.5, 4))
    names = [LABELS.get(run.positions, run.positions) for run in runs]
    colors = ["tab:red" if run.skipped else "tab:green" for run in runs]
    bars = skipped.bar(names, [run.skipped for run in runs], color=colors)
    skipped.bar_label(bars, labels=[f"{run.skipped} of {run.events}" for run in runs])
    skipped.set_ylabel("events skipped for good")
    skipped.set_title("A subscriber reading position > checkpoint")
    bars = rate.bar(names, [run.events_per_second for run in runs], color="tab:blue")
    rate.bar_label(bars, labels=[f"{run.events_per_second:,.0f}" for run in runs])
    rate.set_ylabel("events committed per second (all writers)")
    rate.set_title(f"{runs[0].writers} writer processes at once")
    for axes in (skipped, rate):
        axes.margins(y=0.15)  # room for the bar labels
    figure.tight_layout()
    return figure
