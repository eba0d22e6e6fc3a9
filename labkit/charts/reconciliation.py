"""A MODEL of desired vs actual state: a ReplicaSet-like controller loop keeping N pods running as pods fail.

Not a cluster and not Kubernetes code: a small seeded simulation that shows the idea the Deployment's controllers
implement. Each tick (one pass of the control loop): running pods may fail (with a seeded probability, or all at once
in an outage you schedule); pods that were starting for `start_ticks` ticks become running; then the controller
compares what it wants with what it observes (running + starting) and creates or deletes pods to close the gap.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Cluster:
    """The model's state: the age of each starting pod, and how many pods run."""

    running: int = 0
    starting: list[int] = field(default_factory=list)


def reconcile(
    desired: int,
    *,
    ticks: int = 60,
    changes: Mapping[int, int] | None = None,
    outages: Mapping[int, int] | None = None,
    failure_rate: float = 0.02,
    start_ticks: int = 3,
    seed: int = 7,
) -> pd.DataFrame:
    """Simulate `ticks` control-loop passes; one row per tick with desired, running, starting and what happened.

    changes: tick -> new desired replica count (a `helm upgrade --set replicaCount=...`).
    outages: tick -> number of running pods that fail together at that tick (a node going away).
    """
    if desired < 0 or ticks < 1 or not 0 <= failure_rate <= 1 or start_ticks < 0:
        raise ValueError(
            f"need desired >= 0, ticks >= 1, 0 <= failure_rate <= 1 and start_ticks >= 0; got desired={desired}, "
            f"ticks={ticks}, failure_rate={failure_rate}, start_ticks={start_ticks}"
        )
    rng = random.Random(seed)
    cluster = Cluster()
    rows = []
    for tick in range(ticks):
        desired = (changes or {}).get(tick, desired)
        failed = sum(rng.random() < failure_rate for _ in range(cluster.running))
        failed = min(cluster.running, failed + (outages or {}).get(tick, 0))
        cluster.running -= failed
        cluster.starting = [age + 1 for age in cluster.starting]
        ready = sum(age >= start_ticks for age in cluster.starting)
        cluster.starting = [age for age in cluster.starting if age < start_ticks]
        cluster.running += ready
        observed = cluster.running + len(cluster.starting)
        created = max(0, desired - observed)
        deleted = max(0, observed - desired)
        cluster.starting += [0] * created
        # Scale down removes pods that are not ready yet first, as the ReplicaSet controller prefers.
        from_starting = min(deleted, len(cluster.starting))
        cluster.starting = cluster.starting[from_starting:]
        cluster.running -= deleted - from_starting
        rows.append(
            {
                "tick": tick,
                "desired": desired,
                "running": cluster.running,
                "starting": len(cluster.starting),
                "failed": failed,
                "created": created,
                "deleted": deleted,
            }
        )
    return pd.DataFrame(rows)


def convergence(timeline: pd.DataFrame) -> pd.DataFrame:
    """For each disturbance (a change of desired, or failures), how many ticks until running == desired again."""
    rows = []
    for index, row in timeline.iterrows():
        previous = timeline.iloc[index - 1] if index else None
        changed = previous is not None and row["desired"] != previous["desired"]
        if not (changed or row["failed"]):
            continue
        cause = f"desired {previous['desired']} -> {row['desired']}" if changed else f"{row['failed']} pod(s) failed"
        later = timeline.iloc[index:]
        settled = later[(later["running"] == later["desired"]) & (later["starting"] == 0)]
        ticks = int(settled["tick"].iloc[0] - row["tick"]) if len(settled) else None
        rows.append({"tick": int(row["tick"]), "what happened": cause, "ticks until actual = desired": ticks})
    return pd.DataFrame(rows, columns=["tick", "what happened", "ticks until actual = desired"])
