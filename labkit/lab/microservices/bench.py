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
import psutil

from labkit.arguments import whole
from labkit.lab.microservices.floor import measure_floor
from labkit.paths import run_dir
from labkit.pgserver import PostgresServer
from labkit.services.load import LoadResult, run_load
from labkit.services.process_runner import ServiceRunner

# Per back-end: PostgreSQL commits in a fraction of DuckDB's time (MACHINE.md), so its goal is higher.
GOALS = {
    "duckdb": {"accepted/s": 300.0, "saga p99 ms": 2000.0},
    "postgres": {"accepted/s": 1000.0, "saga p99 ms": 2000.0},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--orders", type=whole(minimum=1, maximum=10**6), default=3000, help="orders placed per run (default 3000)"
    )
    parser.add_argument(
        "--customers", type=whole(minimum=1, maximum=10**5), default=100, help="customers the orders are spread over"
    )
    parser.add_argument(
        "--concurrency", type=whole(minimum=1, maximum=1024), default=64, help="requests in flight (default 64)"
    )
    parser.add_argument("--seed", type=whole(minimum=0), default=7)
    parser.add_argument(
        "--backend",
        choices=("duckdb", "postgres"),
        default="duckdb",
        help="postgres: the customer and order services on PostgreSQL, measured beside DuckDB in the same run",
    )
    parser.add_argument(
        "--without-group-commit", action="store_true", help="also run with one transaction per command, side by side"
    )


def measure(
    *, orders: int, customers: int, concurrency: int, seed: int, group_commit: bool, backend: str = "duckdb"
) -> LoadResult:
    """One load run on freshly started services (group commit on, or off: one transaction per command), on DuckDB
    files or on PostgreSQL (a server of the run's own, started and stopped with it, or $LABKIT_POSTGRES_URL's)."""
    env = {} if group_commit else {"LABKIT_GROUP_COMMIT_MAX": "1"}
    run_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-services-", dir=run_dir()) as folder:
        Path(folder).chmod(0o755)  # as root, the run's PostgreSQL server runs as its own user and must reach it
        runner = ServiceRunner.up(Path(folder), env=env, backend=backend)
        try:
            processes = _processes(runner)
            before = {name: _cpu(p) for name, p in processes.items()}
            result = run_load(
                runner.client, orders=orders, customers=customers, concurrency=concurrency, seed=seed, progress=True
            )
            spent = {name: _cpu(p) - before[name] for name, p in processes.items()}
            result.cpu_ms_per_order = {n: round(1000 * s / max(result.accepted, 1), 2) for n, s in spent.items()}
            return result
        finally:
            runner.stop()


def _processes(runner: ServiceRunner) -> dict[str, psutil.Process]:
    """The run's processes whose CPU time is counted: each service, and the run's own PostgreSQL server if any."""
    processes = {name: psutil.Process(s.pid) for name, s in runner.services.items() if s.pid is not None}
    if runner.database is not None and runner.database.server_folder is not None:
        record = PostgresServer(runner.database.server_folder).record()
        if record is not None:
            processes["postgres"] = psutil.Process(record.pid)
    return processes


def _cpu(process: psutil.Process) -> float:
    """CPU seconds (user + system) of a process and its children (a PostgreSQL server's backends)."""
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
            total += times.user + times.system
        except psutil.Error:  # a backend that ended between the listing and the reading
            continue
    return total


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
    backends = ["duckdb", "postgres"] if args.backend == "postgres" else ["duckdb"]
    runs = [(b, True) for b in backends] + ([(b, False) for b in backends] if args.without_group_commit else [])
    results = {
        f"{backend}, {'group commit' if grouped else 'one commit per command'}": measure(
            orders=args.orders,
            customers=args.customers,
            concurrency=args.concurrency,
            seed=args.seed,
            group_commit=grouped,
            backend=backend,
        )
        for backend, grouped in runs
    }
    floor = measure_floor(orders=args.orders, concurrency=args.concurrency)
    print(table(results))
    print(
        f"\nHTTP floor: a no-op POST /orders on one FastAPI process, the same client and concurrency: "
        f"{floor:,.0f} orders/s (no service can accept more here; the real path adds the saga and the view)"
    )
    print(
        f"\nmachine: {os.cpu_count()} cores, load average {before:.1f} before and {os.getloadavg()[0]:.1f} after the "
        f"runs; one DuckDB commit took {commit_before:.1f} ms (median) before them"
    )
    for backend in backends:
        best = results[f"{backend}, group commit"].row()
        other = results.get(f"{backend}, one commit per command")
        if other is not None:
            ratio = best["accepted/s"] / other.row()["accepted/s"]
            print(f"\n{backend}: group commit accepts {ratio:.2f}x the orders/s of one commit per command")
        goals = GOALS[backend]
        print(f"{backend}: {best['accepted/s'] / floor:.0%} of the HTTP floor")
        print(
            f"goals on {backend}: accepted/s >= {goals['accepted/s']:.0f}: "
            f"{'met' if best['accepted/s'] >= goals['accepted/s'] else 'MISSED'}; "
            f"saga p99 < {goals['saga p99 ms']:.0f} ms: {'met' if best['saga p99 ms'] < goals['saga p99 ms'] else 'MISSED'}"
        )
    if len(backends) == 2:
        ratio = (
            results["postgres, group commit"].row()["accepted/s"] / results["duckdb, group commit"].row()["accepted/s"]
        )
        print(f"postgres accepts {ratio:.2f}x the orders/s of duckdb (group commit both)")
    print(f"nothing lost: {'met' if not any(r.violations for r in results.values()) else 'MISSED'}")
    print("\nCPU per accepted order (ms, user + system, load client excluded):")
    for name, result in results.items():
        total = sum(result.cpu_ms_per_order.values())
        # Every process of the run shares this machine's cores: at best they are all busy all the time.
        bound = (os.cpu_count() or 1) * 1000 / total if total else float("nan")
        print(
            f"  {name}: "
            + ", ".join(f"{n} {ms}" for n, ms in result.cpu_ms_per_order.items())
            + f"; {total:.2f} in all, so {os.cpu_count()} cores accept at most {bound:,.0f} orders/s this way"
        )
    for name, result in results.items():
        for violation in result.violations[:10]:
            print(f"{name}: {violation}")
    return 0 if not any(r.violations for r in results.values()) else 1
