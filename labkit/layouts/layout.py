"""The two layouts of the same generated data, built once from a workload and opened as running services.

Shared: one database (shared.duckdb) with the customers and orders tables and every event; the Customer and
Order services both use it. Per service: customers.duckdb owned by the Customer service, orders.duckdb owned by
the Order service, and view.duckdb holding the customer_orders_view that both services' events feed.

Files live in `<workload>/layouts/` and are reused when their manifest matches the workload.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from labkit.events import EventStore
from labkit.events.bulk import load_view
from labkit.layouts.database import SERVICE_CLOCK, OwnedDatabase
from labkit.layouts.services import (
    CUSTOMERS_INDEX_SQL,
    CUSTOMERS_TABLE_SQL,
    ORDERS_INDEX_SQL,
    ORDERS_TABLE_SQL,
    InProcessCustomerService,
    InProcessOrderService,
)
from labkit.views import CustomerOrdersView
from labkit.workload import INDEXED_UP_TO, Workload

LAYOUT_VERSION = 2


@dataclass(frozen=True)
class LayoutFiles:
    """Where the layouts of one workload are."""

    directory: Path

    @property
    def shared(self) -> Path:
        return self.directory / "shared.duckdb"

    @property
    def customers(self) -> Path:
        return self.directory / "customers.duckdb"

    @property
    def orders(self) -> Path:
        return self.directory / "orders.duckdb"

    @property
    def view(self) -> Path:
        return self.directory / "view.duckdb"

    @property
    def manifest(self) -> Path:
        return self.directory / "manifest.json"


def _state_tables(connection: duckdb.DuckDBPyConnection, workload: Workload, *, customers: bool, orders: bool) -> None:
    """Fill the services' state tables from the workload's replayed state (Parquet)."""
    if customers:
        connection.execute(CUSTOMERS_TABLE_SQL)
        connection.execute(
            f"""INSERT INTO customers SELECT customer_id, name, credit_limit, reserved_credit, created_at, updated_at
                FROM read_parquet('{workload.path("customers.parquet")}') ORDER BY created_at, customer_id"""
        )
        connection.execute(CUSTOMERS_INDEX_SQL)
    if orders:
        connection.execute(ORDERS_TABLE_SQL)
        connection.execute(
            f"""INSERT INTO orders SELECT order_id, customer_id, order_total, state, created_at, updated_at
                FROM read_parquet('{workload.path("orders.parquet")}') ORDER BY created_at, order_id"""
        )
        connection.execute(ORDERS_INDEX_SQL)


def _service_events(path: Path, workload: Workload, aggregate_type: str) -> None:
    """One service's event store: its aggregate type's events, renumbered 1..n in their original order."""
    with EventStore(path) as store:
        store.connection.execute("SET enable_progress_bar = false")
        store.connection.execute(
            f"""CREATE OR REPLACE TEMP VIEW bulk_input AS
                SELECT (row_number() OVER (ORDER BY position) - 1)::BIGINT AS rn, aggregate_id, aggregate_type,
                       version, event_id, event_type, event_data::VARCHAR AS event_data,
                       metadata::VARCHAR AS metadata, recorded_at
                FROM read_parquet('{workload.path("events.parquet")}') WHERE aggregate_type = '{aggregate_type}'"""
        )
        # The generator's events are checked by its own tests; a second check would double the time at L. Large
        # stores go without indexes, as the generator's do (building them at L takes many GB and tens of minutes):
        # they stay correct, only a command's reads of one aggregate scan instead of looking up.
        count = store.connection.execute("SELECT count(*) FROM bulk_input").fetchall()[0][0]
        load_view(store, validate=False, indexes=count <= INDEXED_UP_TO)
        store.connection.execute("DROP VIEW bulk_input")
        _state_tables(
            store.connection, workload, customers=aggregate_type == "Customer", orders=aggregate_type == "Order"
        )


def build_layouts(
    workload: Workload, directory: Path | str | None = None, *, force: bool = False, progress: bool = True
) -> LayoutFiles:
    """Build (or reuse) the shared and per-service layouts of `workload`, with the view caught up."""
    files = LayoutFiles(Path(directory) if directory is not None else Path(workload.out_dir) / "layouts")
    wanted = {
        "layout_version": LAYOUT_VERSION,
        # `seconds` tells one generation from another of the same counts (a regenerated workload).
        "workload": {k: getattr(workload, k) for k in ("size", "seed", "customers", "orders", "events", "seconds")},
    }
    if not force and files.manifest.exists() and json.loads(files.manifest.read_text()).get("built") == wanted:
        return files
    started = time.perf_counter()
    files.directory.mkdir(parents=True, exist_ok=True)
    for path in (files.shared, files.customers, files.orders, files.view, files.manifest):
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)
    with tqdm(total=4, disable=not progress, desc="layouts") as bar:
        bar.set_postfix_str("shared database")
        shutil.copyfile(workload.store_path, files.shared)  # every event, both types: the shared event table
        with duckdb.connect(str(files.shared)) as connection:
            connection.execute("SET enable_progress_bar = false")
            _state_tables(connection, workload, customers=True, orders=True)
        bar.update(1)
        bar.set_postfix_str("Customer service")
        _service_events(files.customers, workload, "Customer")
        bar.update(1)
        bar.set_postfix_str("Order service")
        _service_events(files.orders, workload, "Order")
        bar.update(1)
        bar.set_postfix_str("customer_orders_view")
        with open_per_service(files) as layout:
            layout.view.bulk_catch_up("customers", compact=False, progress=progress)
            layout.view.bulk_catch_up("orders", compact=True, progress=progress)
        bar.update(1)
    files.manifest.write_text(
        json.dumps({"built": wanted, "seconds": round(time.perf_counter() - started, 1)}, indent=2) + "\n"
    )
    return files


class SharedLayout:
    """One database, both services' tables: the Customer and Order services share it (and its event table)."""

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = SERVICE_CLOCK) -> None:
        self._database = OwnedDatabase(path, "shared", clock=clock)
        self.customers = InProcessCustomerService(self._database, shared=True)
        self.orders = InProcessOrderService(self._database, shared=True)

    def sql(self, query: str, params: dict | list | None = None) -> pa.Table:
        """Run SQL on the shared database: in this layout any service (or report) may join any table."""
        return self._database.query(query, params)

    def close(self) -> None:
        self._database.close()

    def __enter__(self) -> SharedLayout:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PerServiceLayout:
    """A database per service, plus the view fed by both services' events."""

    def __init__(
        self,
        customers: Path | str,
        orders: Path | str,
        view: Path | str = ":memory:",
        *,
        clock: Callable[[], datetime] = SERVICE_CLOCK,
    ) -> None:
        self._customers_database = OwnedDatabase(customers, "customers", clock=clock)
        self._orders_database = OwnedDatabase(orders, "orders", clock=clock)
        self.customers = InProcessCustomerService(self._customers_database)
        self.orders = InProcessOrderService(self._orders_database)
        self.view = CustomerOrdersView(view)
        self.view.subscribe("customers", self.customers)
        self.view.subscribe("orders", self.orders)

    @contextmanager
    def files_taken_offline(self) -> Iterator[tuple[Path, Path]]:
        """Take both services' files away from them (the services refuse calls meanwhile) and hand out the paths.

        Only the ATTACH anti-pattern and `copy_files` call this: it is the door that a direct cross-database join
        needs, and it is the breach of ownership that the anti-pattern is.
        """
        with (
            self._customers_database.take_offline() as customers_path,
            self._orders_database.take_offline() as orders_path,
        ):
            yield customers_path, orders_path

    def copy_files(self, *, customers: Path | str, orders: Path | str) -> None:
        """Copy both services' files as they are committed (each closed for the moment of the copy): a backup, or
        the databases of other processes that serve the same data."""
        with self.files_taken_offline() as (customers_path, orders_path):
            shutil.copyfile(customers_path, customers)
            shutil.copyfile(orders_path, orders)

    def close(self) -> None:
        self.view.close()
        self._customers_database.close()
        self._orders_database.close()

    def __enter__(self) -> PerServiceLayout:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def layout_summary(shared: SharedLayout, per_service: PerServiceLayout) -> pd.DataFrame:
    """Which database holds what, in each layout: the same customers and orders, laid out twice."""
    rows = [
        ("shared", "shared.duckdb", "both services", shared.customers.count(), shared.orders.count(),
         max(shared.customers.head_position(), shared.orders.head_position())),
        ("per service", "customers.duckdb", "Customer service only", per_service.customers.count(), 0,
         per_service.customers.head_position()),
        ("per service", "orders.duckdb", "Order service only", 0, per_service.orders.count(),
         per_service.orders.head_position()),
    ]  # fmt: skip
    columns = ["layout", "database", "used by", "customers", "orders", "events"]
    return pd.DataFrame(rows, columns=columns).set_index(["layout", "database"])


def open_shared(files: LayoutFiles) -> SharedLayout:
    """The shared layout of built files."""
    return SharedLayout(files.shared)


def open_per_service(files: LayoutFiles) -> PerServiceLayout:
    """The per-service layout of built files (the view resumes from its checkpoints)."""
    return PerServiceLayout(files.customers, files.orders, files.view)


@contextmanager
def open_layouts(files: LayoutFiles) -> Iterator[tuple[SharedLayout, PerServiceLayout]]:
    """Both layouts of built files, closed at the end of the block."""
    with open_shared(files) as shared, open_per_service(files) as per_service:
        yield shared, per_service
