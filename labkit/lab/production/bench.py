"""`labkit bench events`: the DuckDB table (`labkit.lab.eventsourcing.bench`), or with `--backend postgres` where
each engine wins, four columns measured in one run.

labkit on PostgreSQL, labkit on DuckDB, the eventsourcing library on SQLite, and the eventsourcing library on the same
PostgreSQL server (its `eventsourcing.postgres` module, which also locks the table at insert). Same work on each side:
one new aggregate saved per transaction, 100 saved together, writer processes saving at once, loading an aggregate
of 10 and of 1,000 events, and loading one from a snapshot. Both PostgreSQL sides commit with the server's defaults
(synchronous_commit on); both SQLite/DuckDB sides with theirs.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg.conninfo import conninfo_to_dict

from labkit.domain import Customer, Order
from labkit.events import NewEvent, Repository
from labkit.events.postgres import PostgresEventStore
from labkit.lab.eventsourcing import bench as side_by_side
from labkit.lab.production.writers import started_together, wait_for_go
from labkit.lab.ratios import faster_or_slower

SIDES = ("labkit · PostgreSQL", "labkit · DuckDB", "eventsourcing · SQLite", "eventsourcing · PostgreSQL")
LABKIT_PG, LABKIT_DUCKDB, ES_SQLITE, ES_PG = SIDES
SNAPSHOT_EVERY = side_by_side.SNAPSHOT_EVERY


@dataclass(frozen=True)
class Row:
    """One line of the table: the same work on each side (None: that side cannot do it)."""

    work: str
    unit: str
    values: dict[str, float | None] = field(default_factory=dict)
    higher_is_better: bool = True

    def ratio(self, side: str, other: str) -> float | None:
        """How many times better `side` is than `other` on this row."""
        mine, theirs = self.values.get(side), self.values.get(other)
        if not mine or not theirs:
            return None
        return mine / theirs if self.higher_is_better else theirs / mine


def eventsourcing_env(url: str, schema: str) -> dict[str, str]:
    """The eventsourcing library's settings for the server at `url` (its postgres module, its own schema)."""
    params = conninfo_to_dict(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params.get("dbname", "labkit")),
        "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(params.get("port", "5432")),
        "POSTGRES_USER": str(params.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(params.get("password", "unused")),  # required by the library; trusted on loopback
        "POSTGRES_SCHEMA": schema,
        "CREATE_TABLE": "y",
    }


def _fresh_store(url: str, schema: str) -> PostgresEventStore:
    PostgresEventStore(url, schema=schema).drop()
    return PostgresEventStore(url, schema=schema)


def _fresh_eventsourcing_schema(url: str, schema: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.execute(f"CREATE SCHEMA {schema}")
    return eventsourcing_env(url, schema)


# ---- labkit on PostgreSQL ----------------------------------------------------------------------------------------


def labkit_pg_commands(url: str, commands: int) -> float:
    """Commands/s, one new order saved per transaction."""
    with _fresh_store(url, "bench_commands") as store:
        repository = Repository(store)
        return _rate(commands, lambda: [repository.save(_order(i)) for i in range(commands)])


def labkit_pg_save_all(url: str, commands: int, group: int) -> float:
    """Commands/s, `group` new orders saved together (`Repository.save_all`)."""
    with _fresh_store(url, "bench_save_all") as store:
        repository = Repository(store)
        return _rate(
            commands,
            lambda: [
                repository.save_all([_order(i) for i in range(start, min(commands, start + group))])
                for start in range(0, commands, group)
            ],
        )


def commit_floor(url: str, commits: int) -> float:
    """Commits/s of the least a durable command can cost on this server: one single-row INSERT into an ordinary
    table, committed (psycopg, autocommit, prepared). An ordinary table, not a temporary one: a temporary table writes
    no WAL, so its commit waits for no disk flush and would not be the floor of a durable store. No event store can
    commit a command per transaction faster than this."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS labkit_commit_floor")
        connection.execute("CREATE TABLE labkit_commit_floor (n BIGINT)")
        try:
            return _rate(
                commits,
                lambda: [
                    connection.execute("INSERT INTO labkit_commit_floor VALUES (%s)", [i], prepare=True)
                    for i in range(commits)
                ],
            )
        finally:
            connection.execute("DROP TABLE labkit_commit_floor")


def read_floor(url: str, reads: int) -> float:
    """Seconds of the least a load can cost: one indexed point query for 10 rows, a round trip (prepared)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TEMP TABLE floor AS SELECT (g % 100)::text AS k, g AS v FROM generate_series(1, 1000) g"
        )
        connection.execute("CREATE INDEX ON floor (k)")
        query = "SELECT v FROM floor WHERE k = %s"
        return _median(lambda: connection.execute(query, ["7"], prepare=True).fetchall(), reads)


def labkit_pg_writer(url: str, schema: str, writer: int, commands: int) -> None:
    """One writer process: `commands` new orders, one transaction each."""
    with PostgresEventStore(url, schema=schema) as store:
        repository = Repository(store)
        wait_for_go()
        started = time.perf_counter()
        for i in range(commands):
            repository.save(_order(i, prefix=f"w{writer}-"))
        print(f"seconds {time.perf_counter() - started}", flush=True)


def eventsourcing_pg_writer(env: dict[str, str], writer: int, commands: int) -> None:
    """One writer process of the eventsourcing library: `commands` new aggregates, one transaction each."""
    account_type, _ = side_by_side.eventsourcing_types()
    app = side_by_side.eventsourcing_app(Path("."), "writers", env=env)
    wait_for_go()
    started = time.perf_counter()
    for i in range(commands):
        app.save(account_type(name=f"customer-{writer}-{i}", credit_limit=100 + i))
    print(f"seconds {time.perf_counter() - started}", flush=True)


def concurrent_writers(target: str, arguments: list[tuple[Any, ...]], commands: int) -> float:
    """Commands/s of all the writer processes together: every command over the longest writer's own time, from the
    moment all are let go (each writer times itself, so neither its start nor its exit is counted)."""
    with started_together(target, arguments) as processes:
        outputs = [process.communicate()[0] for process in processes]
    seconds = [
        float(line.split()[1]) for output in outputs for line in output.splitlines() if line.startswith("seconds")
    ]
    if len(seconds) != len(arguments):
        raise RuntimeError(f"only {len(seconds)} of {len(arguments)} writers reported their time")
    return len(arguments) * commands / max(seconds)


def labkit_pg_loads(url: str, lengths: list[int], repeat: int) -> dict[int, tuple[float, float]]:
    """{history length: (seconds to load without snapshots, with one every SNAPSHOT_EVERY events)}."""
    with _fresh_store(url, "bench_loads") as store:
        plain = Repository(store)
        snapshotting = Repository(store, snapshot_every={Customer: SNAPSHOT_EVERY})
        loads = {}
        for n in lengths:
            rows = side_by_side.customer_history(f"customer-{n}", n)
            events = [
                NewEvent(r.aggregate_id, "Customer", r.event_type, _json(r.event_data), uuid.uuid4())
                for r in rows.itertuples()
            ]
            for start in range(0, n, 1000):
                store.append(events[start : start + 1000], expected_version=start)
            if n >= SNAPSHOT_EVERY:
                snapshotting.snapshot(plain.load(Customer, f"customer-{n}", version=n - n % SNAPSHOT_EVERY))
            without = _median(lambda n=n: plain.load(Customer, f"customer-{n}", use_snapshots=False), repeat)
            with_snapshot = _median(lambda n=n: snapshotting.load(Customer, f"customer-{n}"), repeat)
            loads[n] = (without, with_snapshot)
        return loads


def labkit_duckdb_loads(folder: Path, lengths: list[int], repeat: int) -> dict[int, tuple[float, float]]:
    return side_by_side.labkit_histories(folder, lengths, repeat)[1]


# ---- the table --------------------------------------------------------------------------------------------------


def measure(
    url: str, *, commands: int = 500, group: int = 100, writers: int = 8, per_writer: int = 200, repeat: int = 15
) -> list[Row]:
    """Every row, every side, in one run."""
    lengths = [10, 1000]
    with tempfile.TemporaryDirectory(prefix="labkit-bench-pg-") as name:
        folder = Path(name)
        rows = [
            Row(
                "one command per transaction",
                "commands/s",
                {
                    LABKIT_PG: labkit_pg_commands(url, commands),
                    LABKIT_DUCKDB: side_by_side.labkit_commands(folder, commands),
                    ES_SQLITE: side_by_side.eventsourcing_commands(folder, commands),
                    ES_PG: side_by_side.eventsourcing_commands(
                        folder, commands, env=_fresh_eventsourcing_schema(url, "es_commands")
                    ),
                },
            ),
            Row(
                f"{group} commands per save",
                "commands/s",
                {
                    LABKIT_PG: labkit_pg_save_all(url, commands * 4, group),
                    LABKIT_DUCKDB: side_by_side.labkit_save_all(folder, commands * 4, group),
                    ES_SQLITE: side_by_side.eventsourcing_group_commit(folder, commands * 4, group),
                    ES_PG: side_by_side.eventsourcing_group_commit(
                        folder, commands * 4, group, env=_fresh_eventsourcing_schema(url, "es_group")
                    ),
                },
            ),
        ]
        rows.append(
            Row(
                "floor: one single-row INSERT committed durably (psycopg, no event store)",
                "commands/s",
                {LABKIT_PG: commit_floor(url, commands), LABKIT_DUCKDB: None, ES_SQLITE: None, ES_PG: None},
            )
        )
        with PostgresEventStore(url, schema="bench_save_all") as saved:
            copied = _rate(saved.count(), saved.to_duckdb)
        rows.append(
            Row(
                "copy every event into DuckDB for analytics (Arrow over ADBC)",
                "events/s",
                {LABKIT_PG: copied, LABKIT_DUCKDB: None, ES_SQLITE: None, ES_PG: None},
            )
        )
        for count in (1, writers):
            _fresh_store(url, "bench_writers").close()
            env = _fresh_eventsourcing_schema(url, "es_writers")
            side_by_side.eventsourcing_app(folder, "writers", env=env)  # its tables, made once: not by 8 at a time
            env = {**env, "CREATE_TABLE": "n"}
            rows.append(
                Row(
                    f"{count} writer process{'es' if count > 1 else ''}, one command per transaction",
                    "commands/s",
                    {
                        LABKIT_PG: concurrent_writers(
                            f"{__name__}:labkit_pg_writer",
                            [(url, "bench_writers", w, per_writer) for w in range(count)],
                            per_writer,
                        ),
                        LABKIT_DUCKDB: None,  # one writer process per DuckDB file
                        ES_SQLITE: None,
                        ES_PG: concurrent_writers(
                            f"{__name__}:eventsourcing_pg_writer",
                            [(env, w, per_writer) for w in range(count)],
                            per_writer,
                        ),
                    },
                )
            )
        labkit_pg = labkit_pg_loads(url, lengths, repeat)
        labkit_duckdb = labkit_duckdb_loads(folder, lengths, repeat)
        es_sqlite = side_by_side.eventsourcing_histories(folder, lengths, repeat)[1]
        es_pg = side_by_side.eventsourcing_histories(
            folder, lengths, repeat, env=_fresh_eventsourcing_schema(url, "es_histories")
        )[1]
        for n in lengths:
            rows.append(
                Row(
                    f"load, {n:,} events, no snapshot",
                    "ms",
                    _ms(n, 0, labkit_pg, labkit_duckdb, es_sqlite, es_pg),
                    False,
                )
            )
        floor = read_floor(url, repeat * 10) * 1000
        rows.append(Row("floor: one indexed point query (psycopg, no event store)", "ms", {LABKIT_PG: floor}, False))
        n = lengths[-1]
        rows.append(
            Row(f"load, {n:,} events, snapshot every {SNAPSHOT_EVERY}", "ms", _ms(n, 1, labkit_pg, labkit_duckdb, es_sqlite, es_pg), False)
        )  # fmt: skip
    return rows


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table, with labkit-on-PostgreSQL's ratio to each other side."""
    header = f"| work | {' | '.join(SIDES)} | labkit·PG vs es·PG | labkit·PG vs es·SQLite |"
    lines = [header, "|---|" + "---:|" * (len(SIDES) + 2)]
    for row in rows:
        cells = [_cell(row.values.get(side), row.unit) for side in SIDES]
        ratios = [faster_or_slower(row.ratio(LABKIT_PG, other), missing="") for other in (ES_PG, ES_SQLITE)]
        lines.append(f"| {row.work} | {' | '.join(cells)} | {' | '.join(ratios)} |")
    return "\n".join(lines)


def goals(rows: list[Row]) -> list[str]:
    """The issue's goals for labkit on PostgreSQL, each met or MISSED with the measured value."""
    lines = []
    behind = [(r.work, r.ratio(LABKIT_PG, ES_PG)) for r in rows if r.ratio(LABKIT_PG, ES_PG) is not None]
    floors = {r.unit: r.values[LABKIT_PG] for r in rows if r.work.startswith("floor")}
    worst = min(behind, key=lambda item: item[1] or 0)
    lines.append(
        _goal(
            "at least 1x eventsourcing on PostgreSQL on every row",
            worst[1] >= 1,
            f"lowest {worst[1]:.2f}x ({worst[0]})",
        )
    )
    commands = [r for r in rows if r.unit == "commands/s" and r.values.get(ES_SQLITE)]
    low = min(commands, key=lambda r: r.ratio(LABKIT_PG, ES_SQLITE) or 0)
    ratio = low.ratio(LABKIT_PG, ES_SQLITE) or 0
    commit = floors.get("commands/s") or 0
    lines.append(
        _goal(
            "at least 1x eventsourcing on SQLite on the command rows",
            ratio >= 1,
            f"lowest {ratio:.2f}x ({low.work}); one durable single-row commit alone allows {commit:,.0f}/s on this "
            f"server, against SQLite's {low.values[ES_SQLITE] or 0:,.0f} commands/s in its own process",
        )
    )
    one = next(r for r in rows if r.work.startswith("1 writer"))
    many = next(r for r in rows if "writer processes" in r.work)
    scale = (many.values[LABKIT_PG] or 0) / (one.values[LABKIT_PG] or 1)
    cores = os.cpu_count() or 1
    lines.append(
        _goal(
            f"{many.work.split()[0]} writers at least 3x one writer",
            scale >= 3,
            f"{scale:.2f}x on {cores} cores, where each writer process is itself CPU-bound",
        )
    )
    ten = next(r for r in rows if r.work.startswith("load, 10 events"))
    ms = ten.values[LABKIT_PG] or 0
    lines.append(_goal("a 10-event load at most 0.3 ms", ms <= 0.3, f"{ms:.3f} ms; one indexed point query alone takes {floors.get('ms') or 0:.3f} ms here"))  # fmt: skip
    return lines


def _goal(text: str, met: bool, measured: str) -> str:
    return f"{text}: {'met' if met else 'MISSED'} ({measured})"


def _ms(n: int, which: int, *loads: dict[int, tuple[float, float]]) -> dict[str, float | None]:
    return {side: load[n][which] * 1000 for side, load in zip(SIDES, loads, strict=True)}


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.3f} {unit}" if unit == "ms" else f"{value:,.0f} {unit}"


def _rate(count: int, work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)


def _median(work: Callable[[], Any], repeat: int) -> float:
    """The median seconds of `repeat` runs."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _order(i: int, *, prefix: str = "") -> Order:
    return Order.place(f"order-{prefix}{i}", "customer-1", 100 + i)


def _json(text: str) -> dict[str, Any]:
    return orjson.loads(text)


def run_on_postgres(*, commands: int, repeat: int) -> int:
    """`labkit bench events --backend postgres`: the table and its goal lines; the server is $LABKIT_POSTGRES_URL's,
    or one started for the run in a temporary folder and stopped after it (also when interrupted)."""
    import shutil

    from labkit.pgserver import URL_VARIABLE, PostgresServer

    named = os.environ.get(URL_VARIABLE)
    folder = None if named else tempfile.mkdtemp(prefix="labkit-bench-pg-")
    server = PostgresServer(folder) if folder else None
    try:  # the folder goes whatever happens, even if the server never came up (PostgresServer.up cleans that)
        url = named or server.up().url()  # type: ignore[union-attr]
        rows = measure(url, commands=commands, repeat=repeat)
    finally:
        if server is not None:
            server.down()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    print(table(rows))
    print()
    print("\n".join(goals(rows)))
    return 0


def add_arguments(parser: Any) -> None:
    """The DuckDB benchmark's options, and the back-end."""
    side_by_side.add_arguments(parser)
    parser.add_argument(
        "--backend",
        default="duckdb",
        choices=["duckdb", "postgres"],
        help="postgres: labkit on PostgreSQL and DuckDB, eventsourcing on SQLite and PostgreSQL, one table "
        "(the server in $LABKIT_POSTGRES_URL, else one labkit starts for the run and stops)",
    )


def run(args: Any) -> int:
    """`labkit bench events [--backend postgres]`."""
    if args.backend == "postgres":
        return run_on_postgres(commands=args.commands, repeat=max(args.repeat, side_by_side.SMALL_REPEAT))
    return side_by_side.run(args)
