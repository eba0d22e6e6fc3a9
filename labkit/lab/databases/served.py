"""API composition over HTTP: the per-service layout's data served by the lab's real services, in their own processes.

The in-process composition (`labkit.layouts.queries.api_composition`) calls the service objects in this process:
it shows what the method moves, not what a network call costs. Here the same data is served by the real Customer
and Order services (`python -m labkit.services`, as `labkit up` runs them, on loopback ports), each on a copy of
its layout file, and the same composition runs through their HTTP API: JSON over HTTP, one process per service.
What differs besides the transport is measured too: these services keep no state table; each read replays their
aggregates' state from the events (`state_sql`), so a read costs more as the data grows.

The copies are taken once: writes made to the layouts afterwards (the staleness runs) do not reach them.
"""

from __future__ import annotations

import math
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from labkit.events import EventStore
from labkit.events.checkpoints import CHECKPOINTS_TABLE_SQL, save_checkpoint
from labkit.events.codec import to_utc_naive
from labkit.layouts.layout import PerServiceLayout
from labkit.layouts.queries import CUSTOMER_BATCH, Answer
from labkit.services.client import LabClient
from labkit.services.process_runner import ServiceProcess, ServiceRunner, free_ports
from labkit.views import ANSWER_SCHEMA, creation_cutoff, order_threshold

HTTP_COMPOSITION = "api_composition_http"
HTTP_TITLE = "(b) per service: API composition over HTTP"
SERVED = ("customer", "order")
# The feed each served service would consume, and the layout file it serves.
PEER = {"customer": "order", "order": "customer"}


@dataclass
class ServedLayout:
    """The Customer and Order services running on copies of a per-service layout's files."""

    runner: ServiceRunner
    client: LabClient

    def round_trip_ms(self, repeats: int = 20) -> float:
        """The median of a bare request and its answer (GET /health of the Order service): the floor of one call."""
        url = f"{self.runner.urls['order']}/health"
        times = []
        for _ in range(repeats + 1):  # the first one opens the connection
            started = time.perf_counter()
            self.client.http.get(url).raise_for_status()
            times.append(time.perf_counter() - started)
        return statistics.median(times[1:]) * 1000


def _copy_for_service(layout: PerServiceLayout, data: Path) -> None:
    """Each service's layout file as that service's database, its consumer's checkpoint at its peer's head.

    The layout's files already hold every event of the finished sagas: a service that consumed its peer's feed from
    the start would react to all of them again. The checkpoint says it has applied them, as a service that had been
    running all along would have.
    """
    targets = {name: data / name / f"{name}.duckdb" for name in SERVED}
    for target in targets.values():
        target.parent.mkdir(parents=True, exist_ok=True)
    layout.copy_files(customers=targets["customer"], orders=targets["order"])
    heads = {}
    for name, target in targets.items():
        with EventStore(target) as store:
            heads[name] = store.head_position()
    for name, target in targets.items():
        with EventStore(target) as store, store.transaction() as connection:
            connection.execute(CHECKPOINTS_TABLE_SQL)
            save_checkpoint(connection, f"{name}<-{PEER[name]}", heads[PEER[name]])


@contextmanager
def served_layout(
    layout: PerServiceLayout, folder: Path | str | None = None, *, timeout: float = 120.0
) -> Iterator[ServedLayout]:
    """Start the real Customer and Order services on copies of `layout`'s files; stop them (and clean up) after."""
    scratch = None if folder is not None else tempfile.mkdtemp(prefix="labkit-served-")
    root = Path(folder if folder is not None else scratch)  # type: ignore[arg-type]
    try:
        _copy_for_service(layout, root / "data")
        services = [
            ServiceProcess(name, port, str(root / "logs" / f"{name}.log"), str(root / "data" / name))
            for name, port in zip(SERVED, free_ports(len(SERVED)), strict=True)
        ]
        with (
            ServiceRunner(root, services=services, exit_with_parent=True) as runner,
            LabClient(runner.urls, timeout=600.0) as client,
        ):
            runner.start(timeout=timeout)
            yield ServedLayout(runner, client)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _utc(text: str) -> datetime:
    return to_utc_naive(datetime.fromisoformat(text))


def api_composition_http(
    client: LabClient, threshold: object, created_after: object, *, batch: int = CUSTOMER_BATCH
) -> Answer:
    """(b) over HTTP: SHIPPED orders over the threshold from the Order service, their customers created after the
    date from the Customer service in batches, joined here; calls, rows and bytes as they crossed the wire."""
    cutoff = creation_cutoff(created_after)
    # Totals are whole units, so "over 100.5" is "over 100": the HTTP API takes a whole number.
    over = math.floor(order_threshold(threshold))
    calls, moved = client.calls, client.bytes_moved
    started = time.perf_counter()
    orders = client.orders(state="SHIPPED", min_total=over)
    ids = sorted({order["customer_id"] for order in orders})
    customers = {c["customer_id"]: c for c in client.customers_by_id(ids, created_after=cutoff, batch=batch)}
    rows = sorted(
        (o["customer_id"], customers[o["customer_id"]]["name"], _utc(customers[o["customer_id"]]["created_at"]),
         o["order_id"], o["order_total"])
        for o in orders
        if o["customer_id"] in customers
    )  # fmt: skip
    seconds = time.perf_counter() - started
    table = pa.Table.from_pylist([dict(zip(ANSWER_SCHEMA.names, row, strict=True)) for row in rows], ANSWER_SCHEMA)
    return Answer(
        HTTP_COMPOSITION,
        table,
        seconds,
        calls=client.calls - calls,
        rows_moved=len(orders) + len(customers),
        bytes_moved=client.bytes_moved - moved,
    )
