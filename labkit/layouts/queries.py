""" "Find recent, valuable customers" four ways. The source's query:

    SELECT * FROM CUSTOMER c, ORDER o
    WHERE c.id = o.ID AND o.ORDER_TOTAL > 100000 AND o.STATE = 'SHIPPED' AND c.CREATION_DATE > ?

(its join `c.id = o.ID` is a slip for `o.CUSTOMER_ID`, which is what every method here joins on).

(a) `shared_join`: one SQL join in the shared database.
(b) `api_composition`: ask the Order service for shipped orders over the threshold, then the Customer service for
    those customers in batches (never one call per order), and join in the caller.
(c) `cqrs_view`: one SQL statement over the customer_orders_view, kept up to date from both services' events.
(d) `attach_join`: the anti-pattern: take both services' files, ATTACH them to one DuckDB and join across them.

Each returns an `Answer`: the rows (ANSWER_SCHEMA, ordered by customer_id, order_id) and what the answer cost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from labkit.layouts.database import Response
from labkit.layouts.errors import MethodsDisagreeError
from labkit.layouts.layout import PerServiceLayout, SharedLayout
from labkit.views import ANSWER_SCHEMA, creation_cutoff, order_threshold

METHODS = ("shared_join", "api_composition", "cqrs_view", "attach_join")
METHOD_TITLES = {
    "shared_join": "(a) shared database: SQL join",
    "api_composition": "(b) per service: API composition, in-process calls",
    "cqrs_view": "(c) per service: CQRS view",
    "attach_join": "(d) anti-pattern: ATTACH both files",
}
# Customer ids per request to the Customer service: batches, never one request per order (N+1).
CUSTOMER_BATCH = 1000

JOIN_SQL = """
    SELECT c.customer_id, c.name AS customer_name, c.created_at AS customer_created_at, o.order_id, o.order_total
    FROM {customers} c JOIN {orders} o ON c.customer_id = o.customer_id
    WHERE o.order_total > $threshold AND o.state = 'SHIPPED' AND c.created_at > $created_after
    ORDER BY c.customer_id, o.order_id
"""


@dataclass(frozen=True)
class Answer:
    """One method's answer and its cost."""

    method: str
    rows: pa.Table
    seconds: float
    calls: int = 0  # requests that crossed a service boundary
    rows_moved: int = 0  # rows in the responses that crossed it
    bytes_moved: int = 0  # request and response payloads (Arrow IPC), both ways
    offline_seconds: float = 0.0  # how long the services could not serve anyone for this answer

    @property
    def order_ids(self) -> list[str]:
        return self.rows.column("order_id").to_pylist()


def _parameters(threshold: object, created_after: object) -> dict[str, object]:
    return {"threshold": order_threshold(threshold), "created_after": creation_cutoff(created_after)}


def shared_join(layout: SharedLayout, threshold: object, created_after: object) -> Answer:
    """(a) The SQL join in the shared database."""
    params = _parameters(threshold, created_after)
    started = time.perf_counter()
    rows = layout.sql(JOIN_SQL.format(customers="customers", orders="orders"), params)
    return Answer("shared_join", rows.cast(ANSWER_SCHEMA), time.perf_counter() - started)


def api_composition(
    layout: PerServiceLayout, threshold: object, created_after: object, *, batch: int = CUSTOMER_BATCH
) -> Answer:
    """(b) Orders from the Order service, their customers from the Customer service in batches, joined here."""
    params = _parameters(threshold, created_after)
    started = time.perf_counter()
    orders_response = layout.orders.orders_over(params["threshold"])
    orders = orders_response.table()
    customer_ids = sorted(set(orders.column("customer_id").to_pylist()))
    calls, rows_moved, bytes_moved = 1, orders_response.rows, orders_response.nbytes
    customers = []
    for start in range(0, len(customer_ids), batch):
        ids = customer_ids[start : start + batch]
        response = layout.customers.customers(ids, created_after=params["created_after"])
        request_bytes = Response.of(pa.table({"customer_id": pa.array(ids, pa.string())})).nbytes
        customers.append(response.table())
        calls, rows_moved, bytes_moved = (
            calls + 1,
            rows_moved + response.rows,
            bytes_moved + response.nbytes + request_bytes,
        )
    customer_table = (
        pa.concat_tables(customers)
        if customers
        else pa.table(
            {
                "customer_id": pa.array([], pa.string()),
                "name": pa.array([], pa.string()),
                "created_at": pa.array([], pa.timestamp("us")),
            }
        )
    )
    joined = orders.join(customer_table, "customer_id", join_type="inner")
    rows = (
        joined.select(["customer_id", "name", "created_at", "order_id", "order_total"])
        .rename_columns(ANSWER_SCHEMA.names)
        .sort_by([("customer_id", "ascending"), ("order_id", "ascending")])
        .cast(ANSWER_SCHEMA)
    )
    return Answer("api_composition", rows, time.perf_counter() - started, calls, rows_moved, bytes_moved)


def cqrs_view(layout: PerServiceLayout, threshold: object, created_after: object) -> Answer:
    """(c) One SQL statement over the customer_orders_view (as up to date as its subscriptions)."""
    params = _parameters(threshold, created_after)
    started = time.perf_counter()
    rows = layout.view.recent_valuable_customers(params["threshold"], params["created_after"])
    return Answer("cqrs_view", rows, time.perf_counter() - started)


class AttachedServices:
    """Both services' files ATTACHed read-only to one DuckDB: what a cross-service join needs, and the breach."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    def join(self, threshold: object, created_after: object) -> Answer:
        """The join across the two attached files."""
        params = _parameters(threshold, created_after)
        started = time.perf_counter()
        sql = JOIN_SQL.format(customers="customer_service.customers", orders="order_service.orders")
        rows = self.connection.sql(sql, params=params).to_arrow_table()
        return Answer("attach_join", rows.cast(ANSWER_SCHEMA), time.perf_counter() - started)


@contextmanager
def attached(layout: PerServiceLayout) -> Iterator[AttachedServices]:
    """Take both files from their services, ATTACH them to a fresh DuckDB; give them back afterwards.

    DuckDB lets one process write a file and refuses a second open of a file in use, so the join cannot run
    next to the running services at all: they are offline (every call refused) for as long as this lasts.
    """
    with layout.files_taken_offline() as (customers_path, orders_path):
        connection = duckdb.connect()
        try:
            connection.execute("SET enable_progress_bar = false")
            connection.execute(f"ATTACH '{customers_path}' AS customer_service (READ_ONLY)")
            connection.execute(f"ATTACH '{orders_path}' AS order_service (READ_ONLY)")
            yield AttachedServices(connection)
        finally:
            connection.close()


def attach_join(layout: PerServiceLayout, threshold: object, created_after: object) -> Answer:
    """(d) The anti-pattern, once: services offline, files attached, joined, files given back."""
    _parameters(threshold, created_after)  # refuse bad parameters before taking anything offline
    started = time.perf_counter()
    with attached(layout) as services:
        answer = services.join(threshold, created_after)
    offline = time.perf_counter() - started
    return Answer("attach_join", answer.rows, answer.seconds, offline_seconds=offline)


def all_methods(
    shared: SharedLayout, per_service: PerServiceLayout, threshold: object, created_after: object
) -> dict[str, Answer]:
    """The four answers, method by method (the view is caught up first, so the data is consistent)."""
    per_service.view.catch_up()
    return {
        "shared_join": shared_join(shared, threshold, created_after),
        "api_composition": api_composition(per_service, threshold, created_after),
        "cqrs_view": cqrs_view(per_service, threshold, created_after),
        "attach_join": attach_join(per_service, threshold, created_after),
    }


def check_agreement(answers: dict[str, Answer]) -> pa.Table:
    """The common rows; MethodsDisagreeError naming the methods and the rows that differ."""
    reference_name, reference = next(iter(answers.items()))
    for name, answer in answers.items():
        if answer.rows.equals(reference.rows):
            continue
        only_here = sorted(set(answer.order_ids) - set(reference.order_ids))[:5]
        only_there = sorted(set(reference.order_ids) - set(answer.order_ids))[:5]
        if only_here or only_there:
            detail = f"only in {name}: {only_here}, only in {reference_name}: {only_there}"
        else:
            ours, theirs = answer.rows.to_pylist(), reference.rows.to_pylist()
            first = next((a, b) for a, b in zip(ours, theirs, strict=True) if a != b)
            detail = f"the same orders with different values, first {first[0]} against {first[1]}"
        raise MethodsDisagreeError(
            f"{name} returned {answer.rows.num_rows} rows, {reference_name} {reference.rows.num_rows}; {detail} "
            "(is the view caught up? did a writer run between the answers?)"
        )
    return reference.rows
