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
