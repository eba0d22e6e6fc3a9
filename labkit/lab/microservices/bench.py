"""`labkit bench services`: N orders placed concurrently on the real services, with and without group commit.

Reports accepted orders/s, saga completion latency and view lag (median, p99), commands per commit, and anything
lost or inconsistent; the two runs side by side give the measured gain of group commit. `--transport nats` runs
each configuration twice, the events travelling once through the services' HTTP feeds and once through NATS
JetStream, and adds a fault to each: kill -9 of the Customer service (a consumer) during a second stream of orders,
then its restart, with what the restarted consumer was redelivered and how long it took to catch up.
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
from labkit.lab.microservices.consumer_fault import kill_a_consumer_mid_stream
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
    parser.add_argument(
        "--transport",
        choices=("http", "nats"),
        default="http",
        help="nats: each run once over the HTTP feeds and once over NATS JetStream, side by side, with a killed "
        "consumer in each",
    )


def measure(
    *,
    orders: int,
    customers: int,
    concurrency: int,
    seed: int,
    group_commit: bool,
    backend: str = "duckdb",
    transport: str = "http",
    kill_consumer: bool = False,
) -> LoadResult:
    """One load run on freshly started services (group commit on, or off: one transaction per command), on DuckDB
    files or on PostgreSQL (a server of the run's own, started and stopped with it, or $LABKIT_POSTGRES_URL's), the
    events travelling over the HTTP feeds or NATS JetStream (the run's own broker); with `kill_consumer`, then the
    fault of `killed_consumer`."""
    env = {} if group_commit else {"LABKIT_GROUP_COMMIT_MAX": "1"}
    run_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-services-", dir=run_dir()) as folder:
        Path(folder).chmod(0o755)  # as root, the run's PostgreSQL server runs as its own user and must reach it
        runner = ServiceRunner.up(Path(folder), env=env, backend=backend, transport=transport)
        try:
            processes = _processes(runner)
            before = {name: _cpu(p) for name, p in processes.items()}
            result = run_load(
                runner.client, orders=orders, customers=customers, concurrency=concurrency, seed=seed, progress=True
            )
            spent = {name: _cpu(p) - before[name] for name, p in processes.items()}
            result.cpu_ms_per_order = {n: round(1000 * s / max(result.accepted, 1), 2) for n, s in spent.items()}
            if kill_consumer:
                killed_consumer(runner, result, seed=seed)
            return result
        finally:
            runner.stop()


def killed_consumer(runner: ServiceRunner, result: LoadResult, *, seed: int, orders: int = 300) -> None:
    """kill -9 the Customer service while a second stream of orders runs, once it has work in flight; restart it;
    record in `result` what it was redelivered and how long everything took to settle (`consumer_fault`)."""
    fault = kill_a_consumer_mid_stream(runner, victim="customer", orders=orders, seed=seed)
    result.catch_up_seconds = fault.settled_seconds
    result.redelivered = fault.redelivered
    result.violations += [f"after the killed consumer: {v}" for v in fault.report.violations]
    if fault.accepted != fault.orders:
        result.violations.append(f"after the killed consumer: {fault.orders - fault.accepted} orders not accepted")


def _processes(runner: ServiceRunner) -> dict[str, psutil.Process]:
    """The run's processes whose CPU time is counted: each service, and the run's own PostgreSQL server and NATS
    broker if any (the broker's work is part of the transport's cost)."""
    processes = {name: psutil.Process(s.pid) for name, s in runner.services.items() if s.pid is not None}
    broker = runner.broker.server if runner.broker is not None else None
    if broker is not None and (process := broker.process()) is not None:
        processes["nats"] = process
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
    transports = ["http", "nats"] if args.transport == "nats" else ["http"]
    results = {
        run_name(backend, grouped, transport, len(transports) > 1): measure(
            orders=args.orders,
            customers=args.customers,
            concurrency=args.concurrency,
            seed=args.seed,
            group_commit=grouped,
            backend=backend,
            transport=transport,
            kill_consumer=len(transports) > 1,
        )
        for backend, grouped in runs
        for transport in transports
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
    if len(transports) > 1:
        print(transport_goal(results))
    return _finish(results, backends, floor, transports)


def run_name(backend: str, grouped: bool, transport: str, named: bool) -> str:
    """A run's row name: back-end, commit mode, and the transport when transports are compared."""
    name = f"{backend}, {'group commit' if grouped else 'one commit per command'}"
    return f"{name}, {transport}" if named else name


# The rows the broker must match or beat: (column, whether higher is better).
TRANSPORT_ROWS = (
    ("accepted/s", True),
    ("saga median ms", False),
    ("saga p99 ms", False),
    ("view lag median ms", False),
    ("view lag p99 ms", False),
    ("settled after restart s", False),
)


def transport_goal(results: dict[str, LoadResult]) -> str:
    """The goal line: NATS at least as fast as the HTTP feeds on every row, for each configuration run both ways."""
    lines = []
    misses = []
    for name, over_http in results.items():
        if not name.endswith(", http"):
            continue
        stem = name.removesuffix(", http")
        http_row, nats_row = over_http.row(), results[f"{stem}, nats"].row()
        for column, higher in TRANSPORT_ROWS:
            a, b = float(http_row[column]), float(nats_row[column])
            ratio = (b / a if higher else a / b) if a and b else float("nan")
            lines.append(f"  {stem}: {column}: http {a:g}, nats {b:g} (nats {ratio:.2f}x as fast)")
            if not ratio >= 1.0:
                misses.append(f"{stem}: {column} {ratio:.2f}x")
    verdict = "met" if not misses else f"MISSED ({'; '.join(misses)})"
    return (
        "\nNATS vs HTTP feeds, row by row:\n"
        + "\n".join(lines)
        + (f"\nthe broker transport at least as fast as the HTTP feeds on every row: {verdict}")
    )


def _finish(results: dict[str, LoadResult], backends: list[str], floor: float, transports: list[str]) -> int:
    for backend in backends:
        best = results[run_name(backend, True, transports[0], len(transports) > 1)].row()
        other = results.get(run_name(backend, False, transports[0], len(transports) > 1))
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
        named = len(transports) > 1
        ratio = (
            results[run_name("postgres", True, "http", named)].row()["accepted/s"]
            / results[run_name("duckdb", True, "http", named)].row()["accepted/s"]
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
