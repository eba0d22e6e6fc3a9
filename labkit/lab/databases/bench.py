"""The recent-valuable-customers query four ways at size L (1M customers, 10M orders), measured side by side.

API composition is measured twice: with in-process calls to the layout's service objects, and over HTTP against the
real Customer and Order services (their own processes, on copies of the layout's files; `--no-http` leaves it out).

Goals on the lab machine at L: the CQRS view answers in a median of 10 ms or less; API composition (in-process
calls) stays within 10x of the shared-database join; all methods return identical rows.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack

import pandas as pd

from labkit.arguments import checked, folder, number, whole
from labkit.lab.databases.measure import latency_frame, measure_latency, measure_staleness
from labkit.lab.databases.served import HTTP_COMPOSITION, served_layout
from labkit.lab.ratios import times
from labkit.layouts.layout import build_layouts, open_per_service, open_shared
from labkit.paths import relative_to_repo
from labkit.views import creation_cutoff, order_threshold
from labkit.workload import MAX_SEED, SIZES, generate

VIEW_GOAL_MS = 10.0
COMPOSITION_GOAL_RATIO = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", default="L", choices=sorted(SIZES), help="S: 1k/10k, M: 100k/1M, L: 1M/10M (default)")
    parser.add_argument("--seed", type=whole(minimum=0, maximum=MAX_SEED), default=7)
    parser.add_argument(
        "--threshold",
        type=checked(order_threshold, "threshold"),
        default="100000",
        help="order total over which an order is valuable",
    )
    parser.add_argument(
        "--created-after",
        type=checked(creation_cutoff, "date"),
        default="2025-01-01",
        help="customers created after this date are recent",
    )
    parser.add_argument(
        "--repeats", type=whole(minimum=1, maximum=10_000), default=20, help="runs per method for median and p95"
    )
    # At L each ship costs seconds (the generated stores have no indexes), so the default asks for few.
    parser.add_argument(
        "--rate",
        type=number(above=0, maximum=10_000),
        default=2.0,
        help="orders shipped per second during the staleness run",
    )
    parser.add_argument(
        "--seconds", type=number(above=0, maximum=3600), default=5.0, help="length of the staleness run"
    )
    parser.add_argument(
        "--customers", type=whole(minimum=1, maximum=10**7), default=None, help="override the size's customer count"
    )
    parser.add_argument(
        "--orders", type=whole(minimum=0, maximum=10**8), default=None, help="override the size's order count"
    )
    parser.add_argument("--out", type=folder, default=None, help="workload folder (default: data/<size>-seed<seed>)")
    parser.add_argument(
        "--no-http", action="store_true", help="leave out API composition over HTTP (the real services)"
    )


def _table(frame: pd.DataFrame) -> str:
    return frame.to_string(float_format=lambda v: f"{v:.1f}")


def run(args: argparse.Namespace) -> int:
    workload = generate(args.out, size=args.size, seed=args.seed, customers=args.customers, orders=args.orders)
    files = build_layouts(workload)
    print(
        f"query bench at {workload.size}: {workload.customers} customers, {workload.orders} orders, "
        f"{workload.events} events ({relative_to_repo(files.directory)})"
    )
    print(f"threshold > {args.threshold}, customers created after {args.created_after}\n")
    round_trip_ms = None
    with open_shared(files) as shared, open_per_service(files) as per_service:
        with ExitStack() as services:
            # Served before the staleness runs write to the layouts: the services' copies hold what the layouts hold.
            served = None if args.no_http else services.enter_context(served_layout(per_service))
            latency = measure_latency(
                shared,
                per_service,
                args.threshold,
                args.created_after,
                repeats=args.repeats,
                served=served,
                progress=True,
            )
            round_trip_ms = served.round_trip_ms() if served is not None else None
        print(_table(latency_frame(latency)), "\n")
        staleness = measure_staleness(
            shared, per_service, args.threshold, args.created_after, rate=args.rate, seconds=args.seconds
        )
        attach = measure_staleness(
            shared,
            per_service,
            args.threshold,
            args.created_after,
            rate=args.rate,
            seconds=args.seconds,
            methods=("attach_join",),
        )
    print(f"staleness while orders ship ({args.rate:g} asked per second, {args.seconds:g} s):")
    print(_table(pd.concat([staleness.frame(), attach.frame()])), "\n")
    by_method = {row.method: row for row in latency}
    view_ms = by_method["cqrs_view"].median_ms
    ratio = by_method["api_composition"].median_ms / by_method["shared_join"].median_ms
    print(f"identical rows from all {len(latency)} measured: yes ({by_method['shared_join'].rows} rows)")
    print(
        f"CQRS view median {view_ms:.1f} ms "
        f"({'meets' if view_ms <= VIEW_GOAL_MS else 'misses'} the {VIEW_GOAL_MS:g} ms goal)"
    )
    print(
        f"API composition (in-process calls) / shared join = {ratio:.1f}x "
        f"({'within' if ratio <= COMPOSITION_GOAL_RATIO else 'beyond'} the {COMPOSITION_GOAL_RATIO:g}x goal)"
    )
    http = by_method.get(HTTP_COMPOSITION)
    if http is not None:
        print(
            f"API composition over HTTP / shared join = {http.median_ms / by_method['shared_join'].median_ms:.1f}x; "
            f"over HTTP / in-process calls = {times(http.median_ms / by_method['api_composition'].median_ms)} "
            f"({http.calls} calls, {http.bytes_moved:,} bytes of JSON; a bare request and answer: {round_trip_ms:.1f} ms)"
        )
    print(f"shared join / CQRS view = {by_method['shared_join'].median_ms / view_ms:.1f}x")
    return 0
