"""`labkit up | status | down`: the three services as local processes, recorded in a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from labkit.arguments import folder, number
from labkit.paths import relative_to_repo
from labkit.services.process_runner import ServiceRunner, default_folder
from labkit.services.run_database import BACKENDS
from labkit.services.transport import TRANSPORTS


def register(subparsers: argparse._SubParsersAction) -> None:
    help_folder = "run folder (default: .run/services)"
    up = subparsers.add_parser("up", help="start the customer, order and history services on free loopback ports")
    up.add_argument("--run-dir", type=folder, default=None, help=help_folder)
    up.add_argument(
        "--timeout", type=number(above=0, maximum=3600), default=30.0, help="seconds to wait for /health (default 30)"
    )
    up.add_argument(
        "--backend",
        choices=BACKENDS,
        default="duckdb",
        help="where the customer and order services keep their databases: DuckDB files (default) or PostgreSQL "
        "(the run's own server, or $LABKIT_POSTGRES_URL's)",
    )
    up.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="http",
        help="how events travel between the services: their HTTP feeds (default) or NATS JetStream (the run's own "
        "broker, or $LABKIT_NATS_URL's)",
    )
    up.set_defaults(func=_up)
    status = subparsers.add_parser("status", help="show the started services: health, event positions, consumer lag")
    status.add_argument("--run-dir", type=Path, default=None, help=help_folder)
    status.set_defaults(func=_status)
    down = subparsers.add_parser("down", help="stop exactly the services `labkit up` started")
    down.add_argument("--run-dir", type=Path, default=None, help=help_folder)
    down.set_defaults(func=_down)


def status_table(runner: ServiceRunner) -> str:
    """The services of a run as a plain-text table."""
    rows = runner.status()
    header = ("service", "pid", "url", "health", "events", "consumers (peer@position lag)")
    lines = [
        (
            row["service"],
            str(row["pid"] or "-"),
            row["url"],
            "ok" if row["healthy"] else ("running" if row["running"] else "stopped"),
            "-" if row["head_position"] is None else str(row["head_position"]),
            row["consumers"] or "-",
        )
        for row in rows
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [header, *lines]
    )


def _up(args: argparse.Namespace) -> int:
    folder = args.run_dir or default_folder()
    runner = ServiceRunner.up(
        folder, stop_at_exit=False, timeout=args.timeout, backend=args.backend, transport=args.transport
    )
    print(status_table(runner))
    if runner.broker is not None:
        print(
            f"\nevents travel through NATS JetStream at {runner.broker.url} (streams {runner.broker.namespace.upper()}_*)"
        )
    print(f"\nrun folder: {relative_to_repo(folder)} (logs in logs/, databases in data/); `labkit down` stops them")
    return 0


def _status(args: argparse.Namespace) -> int:
    runner = ServiceRunner.attach(args.run_dir or default_folder())
    print(status_table(runner))
    return 0 if all(row["healthy"] for row in runner.status()) else 1


def _down(args: argparse.Namespace) -> int:
    runner = ServiceRunner.attach(args.run_dir or default_folder())
    running = [name for name in runner.services if runner.is_running(name)]
    runner.stop()
    print(f"stopped {', '.join(running)}" if running else "nothing was running")
    return 0
