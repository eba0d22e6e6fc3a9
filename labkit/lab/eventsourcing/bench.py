"""Event store benchmark: labkit's DuckDB event store side by side with the eventsourcing library, in one run.

Both do the same work on this machine in the same process: bulk append, one command per transaction, Python
replay of one aggregate with a long history, replay of every order of a generated workload, and loading an
aggregate with and without snapshots as its history grows. The eventsourcing library stores in SQLite (its
own SQL back-end that needs no server). The table gives each side's rate and the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from labkit.arguments import folder, whole, whole_list
from labkit.domain import Customer, Order
from labkit.events.bulk import bulk_load
from labkit.events.replay import state_sql
from labkit.events.repository import Repository
from labkit.events.store import EventStore
from labkit.lab.ratios import faster_or_slower
from labkit.workload import generate

SNAPSHOT_EVERY = 100
GROUP = 100  # commands per transaction in the group-commit row
BULK_UNINDEXED = "bulk append, no indexes"
GROUPING_FLOOR = "grouping floor: every order's events counted"
SMALL_REPEAT = 25  # loads from a snapshot take milliseconds: more runs make their median steady on a busy machine


@dataclass(frozen=True)
class Measurement:
    """One row of the table: the same work measured on both sides."""

    work: str
    unit: str
    labkit: float
    eventsourcing: float | None
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times better labkit is (rates: labkit / theirs; times: theirs / labkit)."""
        if not self.eventsourcing or not self.labkit:
            return None
        return self.labkit / self.eventsourcing if self.higher_is_better else self.eventsourcing / self.labkit


def _timings(run: Callable[[], Any], repeat: int) -> list[float]:
    """Seconds of each of `repeat` runs."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


def _best(run: Callable[[], Any], repeat: int) -> float:
    """The fastest of `repeat` runs, in seconds."""
    return min(_timings(run, repeat))


def _median(run: Callable[[], Any], repeat: int) -> float:
    """The median of `repeat` runs, in seconds."""
    return statistics.median(_timings(run, repeat))


# ---- labkit side ---------------------------------------------------------------------------------------------


def customer_history(customer_id: str, length: int) -> pd.DataFrame:
    """A customer's bulk-load rows: created, then reservations and releases taking turns (length events)."""
    k = np.arange(1, length)
    reserve = k % 2 == 1
    data = np.char.add(np.char.add('{"order_id": "order-', ((k + 1) // 2).astype(str)), '", "amount": 1}')
    return pd.DataFrame(
        {
            "aggregate_id": customer_id,
            "aggregate_type": "Customer",
            "version": np.arange(1, length + 1),
            "event_type": ["CustomerCreated", *np.where(reserve, "CreditReserved", "CreditReleased")],
            "event_data": ['{"name": "Ada Lovelace", "credit_limit": 1000000}', *data],
        }
    )


def bulk_rows(events: int, per_aggregate: int = 100) -> pd.DataFrame:
    """`events` bulk-load rows: customers with `per_aggregate` events each."""
    customers = max(1, events // per_aggregate)
    frame = pd.concat([customer_history("customer", per_aggregate)] * customers, ignore_index=True)
    frame["aggregate_id"] = np.char.add("customer-", np.repeat(np.arange(customers), per_aggregate).astype(str))
    return frame


def labkit_bulk(folder: Path, events: int, *, indexes: bool) -> float:
    """Events/s of one bulk load into an empty store (with its indexes built, or left out)."""
    rows = bulk_rows(events)
    with EventStore(folder / f"bulk-{'indexed' if indexes else 'unindexed'}.duckdb") as store:
        started = time.perf_counter()
        bulk_load(store, rows, indexes=indexes)
        return len(rows) / (time.perf_counter() - started)


def labkit_commands(folder: Path, commands: int) -> float:
    with EventStore(folder / "commands.duckdb") as store:
        repository = Repository(store)
        started = time.perf_counter()
        for i in range(commands):
            repository.save(Order.place(f"order-{i}", "customer-1", 100 + i))
        return commands / (time.perf_counter() - started)


def labkit_group_commit(folder: Path, commands: int, group: int) -> float:
    """Commands/s when `group` commands share one transaction (what a service does with concurrent requests)."""
    with EventStore(folder / "group.duckdb") as store:
        repository = Repository(store)
        started = time.perf_counter()
        for start in range(0, commands, group):
            with store.transaction():
                for i in range(start, min(commands, start + group)):
                    repository.save(Order.place(f"order-{i}", "customer-1", 100 + i))
        return commands / (time.perf_counter() - started)


def labkit_save_all(folder: Path, commands: int, group: int) -> float:
    """Commands/s when `group` new aggregates are saved by one `Repository.save_all` (the library's save(*many))."""
    with EventStore(folder / "save-all.duckdb") as store:
        repository = Repository(store)
        started = time.perf_counter()
        for start in range(0, commands, group):
            repository.save_all(
                [Order.place(f"order-{i}", "customer-1", 100 + i) for i in range(start, min(commands, start + group))]
            )
        return commands / (time.perf_counter() - started)


def labkit_histories(folder: Path, lengths: list[int], repeat: int) -> tuple[float, dict[int, tuple[float, float]]]:
    """(Python replay rate of the longest history, {length: (load without, load with snapshots) seconds})."""
    with EventStore(folder / "histories.duckdb") as store:
        bulk_load(store, pd.concat([customer_history(f"customer-{n}", n) for n in lengths], ignore_index=True))
        plain = Repository(store)
        snapshotting = Repository(store, snapshot_every={Customer: SNAPSHOT_EVERY})
        loads = {}
        for n in lengths:
            if n >= SNAPSHOT_EVERY:
                snapshotting.snapshot(plain.load(Customer, f"customer-{n}", version=n - n % SNAPSHOT_EVERY))
            without = _median(lambda n=n: plain.load(Customer, f"customer-{n}", use_snapshots=False), repeat)
            with_snapshot = _median(lambda n=n: snapshotting.load(Customer, f"customer-{n}"), max(repeat, SMALL_REPEAT))
            loads[n] = (without, with_snapshot)
        longest = max(lengths)
        rate = longest / _best(lambda: plain.load(Customer, f"customer-{longest}", use_snapshots=False), repeat)
    return rate, loads


# The least any SQL replay of every order must do: group the order events by aggregate, one count each.
GROUPING_FLOOR_SQL = "SELECT aggregate_id, count(*) AS events FROM events WHERE aggregate_type = 'Order' GROUP BY 1"


def labkit_vectorized(store_path: Path, repeat: int) -> tuple[float, int, float, float]:
    """(events/s, order events, seconds) of rebuilding every order's state in SQL into a table, and the events/s
    of the grouping floor on the same events (GROUPING_FLOOR_SQL into a table)."""
    with EventStore(store_path) as store:
        events = store.count(aggregate_type="Order")
        connection = store.connection

        def into_table(query: str) -> Callable[[], None]:
            return lambda: connection.execute(f"CREATE OR REPLACE TEMP TABLE replayed AS {query}")

        seconds = _best(into_table(state_sql(Order)), repeat)
        floor = _best(into_table(GROUPING_FLOOR_SQL), repeat)
        connection.execute("DROP TABLE IF EXISTS replayed")
    return events / seconds, events, seconds, events / floor


# ---- eventsourcing side --------------------------------------------------------------------------------------


@functools.cache
def eventsourcing_types() -> tuple[type, type]:
    """An Account aggregate and an application, declared the eventsourcing library's way (once: it registers them)."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Account(Aggregate):
        @event("Opened")
        def __init__(self, name: str, credit_limit: int) -> None:
            self.name, self.credit_limit, self.reserved_credit = name, credit_limit, 0
            self.reservations: dict[str, int] = {}

        @event("CreditReserved")
        def reserve(self, order_id: str, amount: int) -> None:
            self.reservations[order_id] = amount
            self.reserved_credit += amount

        @event("CreditReleased")
        def release(self, order_id: str, amount: int) -> None:
            self.reserved_credit -= self.reservations.pop(order_id)

    class Bank(Application):
        snapshotting_intervals = {Account: SNAPSHOT_EVERY}  # noqa: RUF012 (the library's own declaration style)

    return Account, Bank


def eventsourcing_app(folder: Path, name: str, *, snapshots: bool = False, env: dict[str, str] | None = None) -> Any:
    """The library's application, on SQLite in `folder` unless `env` names another persistence (its PostgreSQL
    module, say): with the snapshotting policy, or the plain one (events only)."""
    from eventsourcing.application import Application

    _, bank = eventsourcing_types()
    env = env or {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / f"{name}.sqlite")}
    # The plain application reads the same tables as the snapshotting one (on PostgreSQL the library names them after
    # the application), without its snapshots.
    plain = type("PlainBank", (Application,), {"name": bank.name})
    return bank(env=env) if snapshots else plain(env=env)


def account_with_history(app: Any, account_type: type, length: int) -> Any:
    account = account_type(name="Ada Lovelace", credit_limit=1_000_000)
    for k in range(1, length):
        order = f"order-{(k + 1) // 2}"
        if k % 2:
            account.reserve(order_id=order, amount=1)
        else:
            account.release(order_id=order, amount=1)
        if k % 5000 == 0:
            app.save(account)
    app.save(account)
    return account


def eventsourcing_bulk(folder: Path, events: int) -> float:
    account_type, _ = eventsourcing_types()
    app = eventsourcing_app(folder, "bulk")
    accounts = []
    for _ in range(max(1, events // SNAPSHOT_EVERY)):
        account = account_type(name="Ada Lovelace", credit_limit=1_000_000)
        for k in range(1, SNAPSHOT_EVERY):
            account.reserve(order_id=f"order-{k}", amount=1)
        accounts.append(account)
    started = time.perf_counter()
    for start in range(0, len(accounts), 100):  # 100 aggregates (10,000 events) per transaction
        app.save(*accounts[start : start + 100])
    return len(accounts) * SNAPSHOT_EVERY / (time.perf_counter() - started)


def eventsourcing_commands(folder: Path, commands: int, *, env: dict[str, str] | None = None) -> float:
    account_type, _ = eventsourcing_types()
    app = eventsourcing_app(folder, "commands", env=env)
    started = time.perf_counter()
    for i in range(commands):
        app.save(account_type(name=f"customer-{i}", credit_limit=100 + i))
    return commands / (time.perf_counter() - started)


def eventsourcing_group_commit(folder: Path, commands: int, group: int, *, env: dict[str, str] | None = None) -> float:
    account_type, _ = eventsourcing_types()
    app = eventsourcing_app(folder, "group", env=env)
    started = time.perf_counter()
    for start in range(0, commands, group):
        app.save(
            *(
                account_type(name=f"customer-{i}", credit_limit=100 + i)
                for i in range(start, min(commands, start + group))
            )
        )
    return commands / (time.perf_counter() - started)


def eventsourcing_histories(
    folder: Path, lengths: list[int], repeat: int, *, env: dict[str, str] | None = None
) -> tuple[float, dict[int, tuple[float, float]]]:
    from eventsourcing.persistence import IntegrityError

    account_type, _ = eventsourcing_types()
    app = eventsourcing_app(folder, "histories", snapshots=True, env=env)
    plain = eventsourcing_app(folder, "histories", env=env)  # the same database, read without snapshots
    loads = {}
    ids = {}
    for n in lengths:
        account = account_with_history(app, account_type, n)
        ids[n] = account.id
        if n >= SNAPSHOT_EVERY:
            # The library's own policy may already have taken it while saving.
            with contextlib.suppress(IntegrityError):
                app.take_snapshot(account.id, version=n - n % SNAPSHOT_EVERY)
        # Replaying 100k events takes the library seconds: fewer repeats there.
        without = _median(lambda n=n: plain.repository.get(ids[n]), repeat if n < 100_000 else 1)
        with_snapshot = _median(lambda n=n: app.repository.get(ids[n]), max(repeat, SMALL_REPEAT))
        loads[n] = (without, with_snapshot)
    longest = max(lengths)
    rate = longest / _best(lambda: plain.repository.get(ids[longest]), 1 if longest >= 100_000 else repeat)
    return rate, loads


def eventsourcing_order_replay(folder: Path, orders: int) -> float:
    """Events/s replaying many small aggregates one by one (the library's way to rebuild every order)."""
    account_type, _ = eventsourcing_types()
    app = eventsourcing_app(folder, "orders")
    ids = []
    for start in range(0, orders, 500):
        batch = []
        for i in range(start, min(orders, start + 500)):
            account = account_type(name=f"order-{i}", credit_limit=100)
            account.reserve(order_id=f"order-{i}", amount=1)
            account.release(order_id=f"order-{i}", amount=1)
            batch.append(account)
        app.save(*batch)
        ids.extend(a.id for a in batch)
    started = time.perf_counter()
    for aggregate_id in ids:
        app.repository.get(aggregate_id)
    return 3 * len(ids) / (time.perf_counter() - started)


# ---- the table -------------------------------------------------------------------------------------------------


def measure(
    *,
    size: str,
    bulk_events: int,
    commands: int,
    lengths: list[int],
    sample_orders: int,
    repeat: int,
    folder: Path,
    workload_dir: Path | None,
    progress: bool = True,
) -> list[Measurement]:
    """Run every measurement; the rows of the table."""
    rows: list[Measurement] = []
    steps = tqdm(total=7, desc="bench events", disable=not progress)
    es_bulk_events = min(bulk_events, 100_000)
    es_bulk = eventsourcing_bulk(folder, es_bulk_events)
    rows.append(
        Measurement(
            "bulk append",
            "events/s",
            labkit_bulk(folder, bulk_events, indexes=True),
            es_bulk,
            note=f"labkit: {bulk_events:,} events with bulk_load into an empty store, checked, with its event_id "
            f"and aggregate_id indexes built in the same transaction; eventsourcing: {es_bulk_events:,} events, "
            "10,000 per transaction",
        )
    )
    rows.append(
        Measurement(
            BULK_UNINDEXED,
            "events/s",
            labkit_bulk(folder, bulk_events, indexes=False),
            es_bulk,
            note="labkit: the same load with indexes=False (a store for replay and queries, as `labkit generate` "
            "writes sizes above 5M events); eventsourcing: the row above (it always indexes)",
        )
    )
    steps.update(1)
    rows.append(
        Measurement(
            "one command per transaction",
            "commands/s",
            labkit_commands(folder, commands),
            eventsourcing_commands(folder, commands),
            note=f"{commands:,} commands, each a new aggregate saved in its own transaction",
        )
    )
    es_group = eventsourcing_group_commit(folder, commands * 5, GROUP)
    rows.append(
        Measurement(
            f"commands saved {GROUP} at a time",
            "commands/s",
            labkit_save_all(folder, commands * 5, GROUP),
            es_group,
            note=f"{commands * 5:,} commands, each a new aggregate; labkit: Repository.save_all of {GROUP} "
            f"aggregates; eventsourcing: app.save() of {GROUP} aggregates",
        )
    )
    rows.append(
        Measurement(
            f"commands grouped {GROUP} per transaction, saved one by one",
            "commands/s",
            labkit_group_commit(folder, commands * 5, GROUP),
            es_group,
            note=f"labkit: store.transaction() around {GROUP} separate saves (three statements each); "
            "eventsourcing: the row above",
        )
    )
    steps.update(1)
    lab_rate, lab_loads = labkit_histories(folder, lengths, repeat)
    steps.update(1)
    es_rate, es_loads = eventsourcing_histories(folder, lengths, repeat)
    steps.update(1)
    longest = max(lengths)
    rows.append(Measurement(f"Python replay, one aggregate of {longest:,} events", "events/s", lab_rate, es_rate))
    workload = generate(workload_dir, size=size, progress=progress)
    vector_rate, order_events, seconds, floor_rate = labkit_vectorized(workload.store_path, repeat)
    steps.update(1)
    rows.append(
        Measurement(
            f"replay every order at {size} ({order_events:,} events)",
            "events/s",
            vector_rate,
            eventsourcing_order_replay(folder, sample_orders),
            note=f"labkit: vectorized SQL, {seconds:.2f} s; eventsourcing: one aggregate at a time, rate measured "
            f"on {sample_orders:,} orders of 3 events",
        )
    )
    rows.append(
        Measurement(
            GROUPING_FLOOR,
            "events/s",
            floor_rate,
            None,
            note="labkit only: the same order events grouped by order with one count each and nothing else "
            "(DuckDB's hash aggregate, into a table): no SQL replay that groups by aggregate can beat it here",
        )
    )
    steps.update(1)
    steps.close()
    for n in lengths:
        rows.append(
            Measurement(f"load, {n:,} events, no snapshot", "ms", lab_loads[n][0] * 1e3, es_loads[n][0] * 1e3, False)
        )
        rows.append(
            Measurement(
                f"load, {n:,} events, snapshot every {SNAPSHOT_EVERY}",
                "ms",
                lab_loads[n][1] * 1e3,
                es_loads[n][1] * 1e3,
                False,
            )
        )
    return rows


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value:.3f} ms" if value < 10 else f"{value:,.1f} ms"
    return f"{value:,.0f} {unit}"


def table(rows: list[Measurement]) -> str:
    """The measurements as a markdown table."""
    lines = ["| work | labkit | eventsourcing | labkit vs eventsourcing |", "|---|---:|---:|---:|"]
    for row in rows:
        ratio = faster_or_slower(row.ratio)
        lines.append(
            f"| {row.work} | {_number(row.labkit, row.unit)} | {_number(row.eventsourcing, row.unit)} | {ratio} |"
        )
    notes = [f"- {row.work}: {row.note}" for row in rows if row.note]
    return "\n".join([*lines, "", *notes])


def goals(rows: list[Measurement], lengths: list[int]) -> list[str]:
    """The issue's goals, each met or missed, with the measured numbers."""
    by_work = {row.work: row for row in rows}
    replay = next(row for row in rows if row.work.startswith("Python replay"))
    vector = next(row for row in rows if row.work.startswith("replay every order"))
    lines = []
    if "bulk append" in by_work and BULK_UNINDEXED in by_work:
        indexed, unindexed = by_work["bulk append"].labkit, by_work[BULK_UNINDEXED].labkit
        lines.append(
            f"bulk load >= 1M events/s into an empty store: with indexes {'met' if indexed >= 1e6 else 'MISSED'} "
            f"({indexed / 1e6:.2f}M events/s), without indexes {'met' if unindexed >= 1e6 else 'MISSED'} "
            f"({unindexed / 1e6:.2f}M events/s)"
        )
    ratio = replay.ratio or 0.0
    lines.append(f"Python replay >= 20x eventsourcing: {'met' if ratio >= 20 else 'MISSED'} ({ratio:.1f}x)")
    floor = by_work.get(GROUPING_FLOOR)
    lines.append(
        f"vectorized replay >= 10M events/s: {'met' if vector.labkit >= 10e6 else 'MISSED'} "
        f"({vector.labkit / 1e6:.1f}M events/s"
        + (f"; the grouping floor on the same events: {floor.labkit / 1e6:.1f}M events/s)" if floor else ")")
    )
    long = [n for n in lengths if n >= 1000]
    if len(long) >= 2:
        times = [by_work[f"load, {n:,} events, snapshot every {SNAPSHOT_EVERY}"].labkit for n in long]
        spread = max(times) / min(times)
        lines.append(
            f"snapshot load flat within 2x from {min(long):,} to {max(long):,} events: "
            f"{'met' if spread <= 2 else 'MISSED'} ({spread:.2f}x)"
        )
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", default="L", choices=["S", "M", "L"], help="workload for replaying every order")
    parser.add_argument("--bulk-events", type=whole(minimum=1, maximum=10**8), default=1_000_000)
    parser.add_argument("--commands", type=whole(minimum=1, maximum=10**6), default=1000)
    parser.add_argument(
        "--lengths",
        type=whole_list(minimum=1, maximum=10**7),
        default="10,1000,10000,100000",
        help="history lengths for load times, comma-separated",
    )
    parser.add_argument("--sample-orders", type=whole(minimum=1, maximum=10**7), default=3000)
    parser.add_argument("--repeat", type=whole(minimum=1, maximum=1000), default=5)
    parser.add_argument("--workload-dir", type=folder, default=None, help="where the workload is (default data/)")


def run(args: argparse.Namespace) -> int:
    lengths = args.lengths
    with tempfile.TemporaryDirectory(prefix="labkit-bench-events-") as folder:
        rows = measure(
            size=args.size,
            bulk_events=args.bulk_events,
            commands=args.commands,
            lengths=lengths,
            sample_orders=args.sample_orders,
            repeat=args.repeat,
            folder=Path(folder),
            workload_dir=args.workload_dir,
        )
    print(table(rows))
    print()
    print("\n".join(goals(rows, lengths)))
    return 0
