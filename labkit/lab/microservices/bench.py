"""`labkit bench services`: N orders placed concurrently on the real services, with and without group commit.

Reports accepted orders/s, saga completion latency and view lag (median, p99), commands per commit, and anything
lost or inconsistent; the two runs side by side give the measured gain of group commit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from labkit.paths import run_dir
from labkit.services.load import LoadResult, run_load
from labkit.services.process_runner import ServiceRunner

GOALS = {"accepted/s": 300.0, "saga p99 ms": 2000.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=int, default=3000, help="orders placed per run (default 3000)")
    parser.add_argument("--customers", type=int, default=100, help="customers the orders are spread over")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (default 64)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--without-group-commit", action="store_true", help="also run with one transaction per command, side by side"
    )


def measure(*, orders: int, customers: int, concurrency: int, seed: int, group_commit: bool) -> LoadResult:
    """One load run on freshly started services (group commit on, or off: one transaction per command)."""
    env = {} if group_commit else {"LABKIT_GROUP_COMMIT_MAX": "1"}
    run_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-services-", dir=run_dir()) as folder:
        runner = ServiceRunner.up(Path(folder), env=env)
        try:
            return run_load(
                runner.client, orders=orders, customers=customers, concurrency=concurrency, seed=seed, progress=True
            )
        finally:
            runner.stop()


def commit_ms(folder: Path, commits: int = 40) -> float:
    """The median cost of one small committed DuckDB transaction on this machine right now (ms)."""
    connection = duckdb.connect(str(folder / "commit-probe.duckdb"))
    try:
        connection.execute("CREATE TABLE probe (n INTEGER)")
        times = []
        for n in range(commits):
            started = time.perf_counter()
            connection.execute("BEGIN TRANSACTION")
            connection.execute("INSERT INTO probe VALUES (?)", [n])
            connection.execute("COMMIT")
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)
    finally:
        connection.close()


def table(results: dict[str, LoadResult]) -> str:
    rows = {name: result.row() for name, result in results.items()}
    columns = list(next(iter(rows.values())))
    width = max(len(name) for name in rows) + 2
    lines = ["| run | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name:<{width - 2}} | " + " | ".join(str(row[c]) for c in columns) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    # Other work on the machine (load average above the core count) slows every process here: say how busy it was.
    before = os.getloadavg()[0]
    run_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=run_dir()) as probe:
        commit_before = commit_ms(Path(probe))
    results = {
        "group commit": measure(
            orders=args.orders,
            customers=args.customers,
            concurrency=args.concurrency,
            seed=args.seed,
            group_commit=True,
        )
    }
    if args.without_group_commit:
        results["one commit per command"] = measure(
            orders=args.orders,
            customers=args.customers,
            concurrency=args.concurrency,
            seed=args.seed,
            group_commit=False,
        )
    print(table(results))
    print(
        f"\nmachine: {os.cpu_count()} cores, load average {before:.1f} before and {os.getloadavg()[0]:.1f} after the "
        f"runs; one DuckDB commit took {commit_before:.1f} ms (median) before them"
    )
    best = results["group commit"].row()
    if len(results) == 2:
        other = results["one commit per command"].row()
        print(
            f"\ngroup commit accepts {best['accepted/s'] / other['accepted/s']:.2f}x the orders/s of one commit per command"
        )
    print(
        f"goals: accepted/s >= {GOALS['accepted/s']:.0f}: {'met' if best['accepted/s'] >= GOALS['accepted/s'] else 'MISSED'}; "
        f"saga p99 < {GOALS['saga p99 ms']:.0f} ms: {'met' if best['saga p99 ms'] < GOALS['saga p99 ms'] else 'MISSED'}; "
        f"nothing lost: {'met' if not any(r.violations for r in results.values()) else 'MISSED'}"
    )
    for name, result in results.items():
        for violation in result.violations[:10]:
            print(f"{name}: {violation}")
    return 0 if not any(r.violations for r in results.values()) else 1
