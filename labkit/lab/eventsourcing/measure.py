"""Measurements the notebooks plot: load time against history length, Python against vectorized replay."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from labkit.domain import Customer, Order
from labkit.events.bulk import bulk_load
from labkit.events.replay import fold_all, replay_all, state_sql
from labkit.events.store import EventStore
from labkit.lab.eventsourcing.bench import customer_history, labkit_histories
from labkit.lab.ratios import times
from labkit.workload import generate


def load_times(lengths: list[int], *, repeat: int = 5) -> pd.DataFrame:
    """Median time to load one customer with each history length, without and with snapshots every 100 events."""
    with tempfile.TemporaryDirectory(prefix="labkit-load-times-") as folder:
        _, loads = labkit_histories(Path(folder), sorted(lengths), repeat)
    return pd.DataFrame(
        [
            {"history (events)": n, "without snapshots (ms)": without * 1e3, "with snapshots (ms)": with_snapshot * 1e3}
            for n, (without, with_snapshot) in loads.items()
        ]
    )


def snapshot_payoff(times: pd.DataFrame) -> str:
    """Where snapshots paid off in a `load_times` run, in words: from which history length on every load through
    the latest snapshot was faster than a full replay, and the longest history where it was not."""
    rows = times.sort_values("history (events)").to_dict("records")
    faster = [row["with snapshots (ms)"] < row["without snapshots (ms)"] for row in rows]
    first = next((i for i in range(len(rows)) if all(faster[i:])), None)

    def loads(row: dict) -> str:
        return f"{row['with snapshots (ms)']:.2f} ms against {row['without snapshots (ms)']:.2f} ms"

    if first is None:
        longest = rows[-1]
        return (
            f"In this run a load through the latest snapshot was not faster even at {longest['history (events)']:,} "
            f"events of history ({loads(longest)} for a full replay)."
        )
    text = (
        f"In this run a load through the latest snapshot was faster from {rows[first]['history (events)']:,} events "
        f"of history on ({loads(rows[first])} for a full replay)"
    )
    if first == 0:
        return text + "."
    before = rows[first - 1]
    return (
        text + f", and slower at {before['history (events)']:,} events ({loads(before)}): snapshots pay off "
        "somewhere between the two, a point that moves with the machine and its load."
    )


def replay_rates(sizes: list[tuple[int, int]], *, seed: int = 7) -> pd.DataFrame:
    """Events/s replaying every order in Python (fold_all) and in SQL (replay_all), for (customers, orders) sizes."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="labkit-replay-rates-") as folder:
        for customers, orders in tqdm(sizes, desc="sizes"):
            workload = generate(
                Path(folder) / f"{orders}", customers=customers, orders=orders, seed=seed, progress=False
            )
            with EventStore(workload.store_path) as store:
                events = store.count(aggregate_type="Order")
                started = time.perf_counter()
                fold_all(store, Order)
                python = time.perf_counter() - started
                started = time.perf_counter()
                store.connection.execute(f"CREATE OR REPLACE TEMP TABLE order_states AS {state_sql(Order)}")
                vectorized = time.perf_counter() - started
            rows.append(
                {
                    "orders": orders,
                    "order events": events,
                    "Python fold (events/s)": events / python,
                    "vectorized SQL (events/s)": events / vectorized,
                }
            )
    return pd.DataFrame(rows)


def replay_findings(rates: pd.DataFrame) -> str:
    """The `replay_rates` table in words: how many times the Python fold's throughput the SQL replay reached, per size."""
    ratios = [
        f"{row['orders']:,} orders: {times(row['vectorized SQL (events/s)'] / row['Python fold (events/s)'])}"
        for row in rates.to_dict("records")
    ]
    return (
        "In this run the vectorized SQL replay reached, in events per second, "
        + "; ".join(ratios)
        + (" the Python fold's throughput.")
    )


def replays_agree(store: EventStore) -> dict[str, int]:
    """Replay every order and customer both ways; how many aggregates of each type agree (raises if one differs)."""
    agreed = {}
    for cls in (Order, Customer):
        folded = fold_all(store, cls)
        relation = replay_all(store, cls)
        columns = relation.columns
        for row in relation.fetchall():
            state = dict(zip(columns, row, strict=True))
            aggregate = folded[state["aggregate_id"]]
            expected = {name: state[name] for name in aggregate.state_fields}
            if aggregate.to_state() != expected or aggregate.version != state["version"]:
                raise AssertionError(f"{state['aggregate_id']}: Python {aggregate.to_state()} != SQL {expected}")
        agreed[cls.__name__] = len(folded)
    return agreed


def long_history_store(length: int, folder: Path) -> EventStore:
    """A store holding customer-7 with `length` events (credit reserved and released in turns)."""
    store = EventStore(folder / "history.duckdb")
    bulk_load(store, customer_history("customer-7", length))
    return store
