"""CQRS projections and dual writes, measured side by side: incremental catch-up vs vectorized rebuild, per design.

Projections: each read model is fed from position zero by its pull subscriber (events as Python objects, batch by
batch, checkpoint per batch) for up to `--incremental-events`, then rebuilt from position zero in one vectorized
pass (SQL over the event table). Rates in events/s and the ratio come from the same run.
Dual writes: each design places `--orders` orders without faults (orders/s), then under `--fault-rate` crashes
(lost, phantom and duplicate events), in-process crash mode.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from labkit.arguments import folder, number, whole
from labkit.events import EventStore
from labkit.lab.messaging.lab_broker import LabBroker
from labkit.patterns.designs import DESIGNS
from labkit.patterns.dualwrite import run_design
from labkit.patterns.projection_runner import ProjectionRunner
from labkit.patterns.projections import standard_projections
from labkit.workload import MAX_SEED, SIZES, generate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", default="S", choices=sorted(SIZES), help="workload size (default S)")
    parser.add_argument("--seed", type=whole(minimum=0, maximum=MAX_SEED), default=7)
    parser.add_argument(
        "--customers", type=whole(minimum=1, maximum=10**7), default=None, help="override the size's customer count"
    )
    parser.add_argument(
        "--orders-count", type=whole(minimum=0, maximum=10**8), default=None, help="override the size's order count"
    )
    parser.add_argument(
        "--incremental-events",
        type=whole(minimum=1),
        default=200_000,
        help="cap on events fed incrementally per projection",
    )
    parser.add_argument(
        "--orders", type=whole(minimum=1, maximum=10**6), default=200, help="orders per dual-write design"
    )
    parser.add_argument(
        "--fault-rate", type=number(minimum=0, maximum=1), default=0.1, help="chance of a crash per step (0 to 1)"
    )
    parser.add_argument("--data", type=folder, default=None, help="workload folder (default: data/<size>-seed<seed>)")


def measure_projections(
    store: EventStore, folder: Path, *, incremental_events: int, progress: bool = True
) -> pd.DataFrame:
    """Per projection: events and events/s fed incrementally, then rebuilt in one pass, and the ratio."""
    rows = []
    for projection in tqdm(standard_projections(), desc="projections", disable=not progress):
        with ProjectionRunner(store, [projection], folder / f"{projection.name}.duckdb", batch_size=1000) as runner:
            started = time.perf_counter()
            applied = runner.catch_up(max_events=incremental_events)
            incremental_seconds = time.perf_counter() - started
            rebuilt = runner.rebuild(projection.name)
        incremental_rate = applied / incremental_seconds if incremental_seconds else float("nan")
        rows.append(
            {
                "projection": projection.name,
                "incremental events": applied,
                "incremental events/s": round(incremental_rate),
                "rebuild events": rebuilt.events,
                "rebuild s": round(rebuilt.seconds, 3),
                "rebuild events/s": round(rebuilt.events_per_second),
                "rebuild / incremental": round(rebuilt.events_per_second / incremental_rate, 1),
            }
        )
    return pd.DataFrame(rows).set_index("projection")


def measure_dual_writes(folder: Path, *, orders: int, fault_rate: float, progress: bool = True) -> pd.DataFrame:
    """Per design: orders/s without faults, and lost/phantom/duplicate events under `fault_rate` (published to a
    JetStream broker without message ids: $LABKIT_NATS_URL, else a server of its own in `folder`)."""
    rows = []
    with LabBroker(folder / "nats") as broker:
        for design, label in tqdm(DESIGNS.items(), desc="designs", disable=not progress):
            settings = {"url": broker.url, "message_ids": False, "crash_mode": "exception"}
            run_design(design, folder / design, operations=10, fault_rate=0.0, **settings)  # warm-up
            clean = run_design(design, folder / design, operations=orders, fault_rate=0.0, **settings)
            faulty = run_design(design, folder / design, operations=orders, fault_rate=fault_rate, **settings)
            rows.append(
                {
                    "design": label,
                    "orders/s (no faults)": round(orders / clean.seconds),
                    "crashes": faulty.writer_crashes + faulty.publisher_crashes,
                    "lost": faulty.lost,
                    "phantom": faulty.phantom,
                    "duplicates": faulty.duplicates,
                }
            )
    frame = pd.DataFrame(rows).set_index("design")
    frame["speed vs commit-then-publish"] = (
        frame["orders/s (no faults)"] / frame["orders/s (no faults)"].iloc[0]
    ).round(2)
    return frame


def run(args: argparse.Namespace) -> int:
    workload = generate(
        args.data, size=args.size, seed=args.seed, customers=args.customers, orders=args.orders_count, progress=True
    )
    print(
        f"workload {workload.size}: {workload.customers} customers, {workload.orders} orders, {workload.events} events"
    )
    with (
        tempfile.TemporaryDirectory(prefix="labkit-bench-patterns-") as scratch,
        EventStore(workload.store_path) as store,
    ):
        projections = measure_projections(store, Path(scratch), incremental_events=args.incremental_events)
        print("\nProjections: pull subscriber (incremental) vs rebuild from position zero (vectorized SQL)")
        print(projections.to_string())
        dual = measure_dual_writes(Path(scratch), orders=args.orders, fault_rate=args.fault_rate)
        print(f"\nDual writes: {args.orders} orders per design; crashes at fault rate {args.fault_rate}")
        print(dual.to_string())
    return 0
