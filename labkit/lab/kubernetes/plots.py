"""Figures for the Kubernetes notebooks: the reconciliation model's timeline and the map of a render's objects."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from labkit.charts.manifest import Manifest
from labkit.charts.objects import selected_workloads


def plot_reconciliation(timeline: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Desired vs running pods per tick of the model, starting pods shaded, failures marked."""
    figure, axes = plt.subplots(figsize=(9, 3.6))
    ticks = timeline["tick"]
    axes.step(ticks, timeline["desired"], where="post", color="black", linestyle="--", label="desired (spec.replicas)")
    axes.step(ticks, timeline["running"], where="post", color="tab:blue", label="running (actual)")
    axes.fill_between(
        ticks,
        timeline["running"],
        timeline["running"] + timeline["starting"],
        step="post",
        color="tab:orange",
        alpha=0.35,
        label="starting",
    )
    failures = timeline[timeline["failed"] > 0]
    axes.scatter(failures["tick"], failures["running"], marker="x", color="tab:red", zorder=3, label="pod failures")
    axes.set_title(title or "Reconciliation MODEL: the controller closes the gap between desired and actual")
    axes.set_xlabel("control-loop pass (ticks)")
    axes.set_ylabel("pods (count)")
    # Headroom above the highest line so the legend never covers the data.
    axes.set_ylim(0, (timeline["running"] + timeline["starting"]).max() * 1.45 + 0.5)
    axes.legend(loc="upper left", fontsize="small", ncols=4)
    figure.tight_layout()
    # Closed for pyplot, so a notebook shows it once: as the cell's value, not again at the end of the cell.
    plt.close(figure)
    return figure


def plot_object_map(manifest: Manifest, *, title: str = "What routes to what in the rendered chart") -> Figure:
    """Ingress hosts -> Services -> Deployments (pod templates) -> volumes and config, as boxes and arrows."""
    ingress_hosts = [
        (rule.get("host", "*"), rule["http"]["paths"][0]["backend"]["service"]["name"])
        for ingress in manifest.of_kind("Ingress")
        for rule in ingress.body["spec"].get("rules", [])
    ]
    services = manifest.of_kind("Service")
    deployments = manifest.of_kind("Deployment")
    storage = sorted(
        {
            volume.get("persistentVolumeClaim", {}).get("claimName") or f"emptyDir ({d.name})"
            for d in deployments
            for volume in d.body["spec"]["template"]["spec"].get("volumes", [])
            if volume["name"] == "data"
        }
    )
    columns = [
        ("Ingress host", [host for host, _ in ingress_hosts] or ["(no Ingress)"]),
        ("Service", [s.name for s in services]),
        ("Deployment -> pods", [d.name for d in deployments]),
        ("database volume", storage or ["(none)"]),
    ]
    height = max(len(items) for _, items in columns)
    figure, axes = plt.subplots(figsize=(11, 0.7 * height + 1.2))
    positions: dict[tuple[int, str], tuple[float, float]] = {}
    for column, (heading, items) in enumerate(columns):
        axes.text(column, height, heading, ha="center", va="bottom", fontweight="bold")
        for row, item in enumerate(items):
            y = height - 1 - row
            positions[(column, item)] = (column, y)
            axes.text(column, y, item, ha="center", va="center", fontsize=8, bbox={"boxstyle": "round", "fc": "w"})

    def arrow(start: tuple[int, str], end: tuple[int, str]) -> None:
        if start in positions and end in positions:
            (x0, y0), (x1, y1) = positions[start], positions[end]
            axes.annotate("", (x1 - 0.32, y1), (x0 + 0.32, y0), arrowprops={"arrowstyle": "->", "color": "grey"})

    for host, service in ingress_hosts:
        arrow((0, host), (1, service))
    for service in services:
        for deployment in selected_workloads(manifest, service.body["spec"].get("selector", {})):
            arrow((1, service.name), (2, deployment.name))
    for deployment in deployments:
        for volume in deployment.body["spec"]["template"]["spec"].get("volumes", []):
            if volume["name"] == "data":
                target = volume.get("persistentVolumeClaim", {}).get("claimName") or f"emptyDir ({deployment.name})"
                arrow((2, deployment.name), (3, target))
    axes.set_xlim(-0.6, len(columns) - 0.4)
    axes.set_ylim(-0.8, height + 0.6)
    axes.set_title(title)
    axes.axis("off")
    figure.tight_layout()
    plt.close(figure)
    return figure
