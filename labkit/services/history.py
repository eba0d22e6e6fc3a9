"""The Order-history service: the CQRS `customer_orders_view`, built from both services' feeds, and its queries.

Two consumers (one per feed, each with its own checkpoint) keep one row per order with its customer's data
joined in. The feeds are independent, so an order may arrive before its customer: the row then waits with empty
customer fields, filled in when the CustomerCreated arrives. "Recent valuable customers" is answered two ways:
from the view (one SQL statement here) and by API composition (ask the Order service, then the Customer service
in batches, join here), so the two can be compared.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import duckdb
import httpx
import pyarrow as pa
from fastapi import APIRouter, Query

from labkit.events import RecordedEvent
from labkit.services.base import Service
from labkit.services.errors import ServiceRequestError, ServiceUnavailableError
from labkit.services.models import ValuableCustomers, ViewPage
from labkit.services.settings import ServiceSettings
from labkit.services.unit import UnitOfWork

HISTORY_CUSTOMERS_SQL = """
CREATE TABLE IF NOT EXISTS history_customers (
    customer_id VARCHAR   PRIMARY KEY,
    name        VARCHAR   NOT NULL,
    credit_limit BIGINT   NOT NULL,
    created_at  TIMESTAMP NOT NULL
)
"""

VIEW_SQL = """
CREATE TABLE IF NOT EXISTS customer_orders_view (
    order_id            VARCHAR   PRIMARY KEY,
    customer_id         VARCHAR   NOT NULL,
    customer_name       VARCHAR,              -- empty until the customer's CustomerCreated arrives
    customer_created_at TIMESTAMP,
    credit_limit        BIGINT,
    order_total         BIGINT    NOT NULL,
    state               VARCHAR   NOT NULL,
    order_created_at    TIMESTAMP NOT NULL,
    state_recorded_at   TIMESTAMP NOT NULL,   -- when the Order service recorded the current state
    view_updated_at     TIMESTAMP NOT NULL    -- when this view applied it (minus the above: the view's lag)
)
"""

VIEW_COLUMNS = (
    "order_id, customer_id, customer_name, customer_created_at, credit_limit, order_total, state, "
    "order_created_at, state_recorded_at, view_updated_at"
)

STATE_OF = {
    "OrderCreated": "PENDING",
    "OrderApproved": "APPROVED",
    "OrderRejected": "REJECTED",
    "OrderShipped": "SHIPPED",
    "OrderCancelled": "CANCELLED",
}

UPSERT_ORDERS_SQL = """
INSERT OR REPLACE INTO customer_orders_view
SELECT b.order_id,
       coalesce(v.customer_id, b.customer_id),
       c.name, c.created_at, c.credit_limit,
       coalesce(v.order_total, b.order_total),
       b.state,
       coalesce(v.order_created_at, b.order_created_at),
       b.state_recorded_at,
       b.view_updated_at
FROM view_batch b
LEFT JOIN customer_orders_view v USING (order_id)
LEFT JOIN history_customers c ON c.customer_id = coalesce(v.customer_id, b.customer_id)
"""

VALUABLE_FROM_VIEW_SQL = """
SELECT customer_id, any_value(customer_name), any_value(customer_created_at), count(*), sum(order_total)::BIGINT
FROM customer_orders_view
WHERE state = 'SHIPPED' AND order_total > ? AND customer_created_at > ?
GROUP BY customer_id
ORDER BY customer_id
"""


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def apply_customer_events(events: Sequence[RecordedEvent], unit: UnitOfWork) -> None:
    """Customers into the view's customer table; fill the rows of their orders that arrived first."""
    connection = unit.connection
    created = [e for e in events if e.event_type == "CustomerCreated"]
    if not created:
        return
    rows = [
        (e.aggregate_id, e.event_data["name"], e.event_data["credit_limit"], _naive(e.recorded_at)) for e in created
    ]
    connection.execute(
        f"INSERT OR IGNORE INTO history_customers VALUES {', '.join(['(?, ?, ?, ?)'] * len(rows))}",
        [v for row in rows for v in row],
    )
    marks = ", ".join("?" * len(rows))
    connection.execute(
        f"""UPDATE customer_orders_view v
            SET customer_name = c.name, customer_created_at = c.created_at, credit_limit = c.credit_limit
            FROM history_customers c
            WHERE v.customer_id = c.customer_id AND v.customer_name IS NULL AND c.customer_id IN ({marks})""",
        [row[0] for row in rows],
    )


def apply_order_events(events: Sequence[RecordedEvent], unit: UnitOfWork) -> None:
    """Fold a batch of order events into one change per order, and upsert those changes into the view."""
    connection = unit.connection
    changes: dict[str, dict[str, Any]] = {}
    now = datetime.now(UTC).replace(tzinfo=None)
    for event in events:
        state = STATE_OF.get(event.event_type)
        if state is None:
            continue
        change = changes.setdefault(event.aggregate_id, {"customer_id": None, "order_total": None, "created": None})
        if event.event_type == "OrderCreated":
            change.update(
                customer_id=event.event_data["customer_id"],
                order_total=event.event_data["order_total"],
                created=_naive(event.recorded_at),
            )
        change.update(state=state, at=_naive(event.recorded_at))
    if not changes:
        return
    batch = pa.table(
        {
            "order_id": list(changes),
            "customer_id": pa.array([c["customer_id"] for c in changes.values()], pa.string()),
            "order_total": pa.array([c["order_total"] for c in changes.values()], pa.int64()),
            "state": [c["state"] for c in changes.values()],
            "order_created_at": pa.array([c["created"] or c["at"] for c in changes.values()], pa.timestamp("us")),
            "state_recorded_at": pa.array([c["at"] for c in changes.values()], pa.timestamp("us")),
            "view_updated_at": pa.array([now] * len(changes), pa.timestamp("us")),
        }
    )
    connection.register("view_batch", batch)
    try:
        connection.execute(UPSERT_ORDERS_SQL)
    finally:
        connection.unregister("view_batch")


class HistoryService(Service):
    name = "history"
    title = "labkit Order-history service"
    description = "The customer_orders_view (CQRS read model) built from both services' events, and its queries."
    tables = (HISTORY_CUSTOMERS_SQL, VIEW_SQL)

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.consume("customer", apply_customer_events)
        self.consume("order", apply_order_events)

    def valuable_from_view(self, created_after: datetime, min_total: int) -> dict[str, Any]:
        started = time.perf_counter()
        rows = self.database.read(
            lambda c: c.execute(VALUABLE_FROM_VIEW_SQL, [min_total, _naive(created_after)]).fetchall()
        )
        return {
            "method": "view",
            "created_after": created_after,
            "min_total": min_total,
            "customers": [_valuable(row) for row in rows],
            "requests": 0,
            "rows_moved": 0,
            "seconds": time.perf_counter() - started,
        }

    def valuable_by_composition(self, created_after: datetime, min_total: int, *, batch: int = 1000) -> dict[str, Any]:
        """Ask the Order service for shipped orders over the total, the Customer service for their customers."""
        started = time.perf_counter()
        requests = rows_moved = 0
        orders: list[dict[str, Any]] = []
        with httpx.Client(timeout=30.0) as http:
            order_url = self.settings.peer_url("order")
            while True:
                page = _get_json(
                    http,
                    f"{order_url}/orders",
                    {"state": "SHIPPED", "min_total": min_total, "offset": len(orders), "limit": 10_000},
                )
                requests += 1
                orders.extend(page["orders"])
                if not page["orders"] or len(orders) >= page["total"]:
                    break
            ids = sorted({o["customer_id"] for o in orders})
            customers: dict[str, dict[str, Any]] = {}
            for start in range(0, len(ids), batch):
                found = _post_json(
                    http,
                    f"{self.settings.peer_url('customer')}/customers/batch",
                    {"customer_ids": ids[start : start + batch]},
                )
                requests += 1
                customers.update({c["customer_id"]: c for c in found["customers"]})
        rows_moved = len(orders) + len(customers)
        cutoff = _naive(created_after)
        totals: dict[str, list[int]] = {}
        for order in orders:
            customer = customers.get(order["customer_id"])
            if customer is None or datetime.fromisoformat(customer["created_at"]).replace(tzinfo=None) <= cutoff:
                continue
            totals.setdefault(order["customer_id"], []).append(order["order_total"])
        answer = [
            _valuable(
                (
                    cid,
                    customers[cid]["name"],
                    datetime.fromisoformat(customers[cid]["created_at"]),
                    len(totals[cid]),
                    sum(totals[cid]),
                )
            )
            for cid in sorted(totals)
        ]
        return {
            "method": "composition",
            "created_after": created_after,
            "min_total": min_total,
            "customers": answer,
            "requests": requests,
            "rows_moved": rows_moved,
            "seconds": time.perf_counter() - started,
        }

    def router(self) -> APIRouter:
        router = APIRouter(tags=["history"])

        @router.get("/customer-orders", response_model=ViewPage, summary="Rows of the customer_orders_view")
        def view(
            customer_id: str | None = Query(None, max_length=64),
            offset: int = Query(0, ge=0, le=10**9),
            limit: int = Query(1000, ge=1, le=100_000),
        ) -> dict[str, Any]:
            where, params = ("WHERE customer_id = ?", [customer_id]) if customer_id is not None else ("", [])

            def query(c: duckdb.DuckDBPyConnection) -> tuple[list[tuple[Any, ...]], int]:
                total = int(c.execute(f"SELECT count(*) FROM customer_orders_view {where}", params).fetchall()[0][0])
                rows = c.execute(
                    f"SELECT {VIEW_COLUMNS} FROM customer_orders_view {where} ORDER BY order_id LIMIT ? OFFSET ?",
                    [*params, limit, offset],
                ).fetchall()
                return rows, total

            rows, total = self.database.read(query)
            names = [c.strip() for c in VIEW_COLUMNS.split(",")]
            return {"rows": [dict(zip(names, row, strict=True)) for row in rows], "total": total}

        @router.get(
            "/queries/recent-valuable-customers",
            response_model=ValuableCustomers,
            summary='"Recent valuable customers": created after a date, with a SHIPPED order over a total',
        )
        def valuable(
            created_after: Annotated[datetime, Query(description="customers created after this moment (ISO 8601)")],
            min_total: Annotated[int, Query(ge=0, le=10**12, description="orders whose total is above this")],
            method: Annotated[
                Literal["view", "composition"], Query(description="CQRS view or API composition")
            ] = "view",
        ) -> dict[str, Any]:
            if created_after.tzinfo is None:
                created_after = created_after.replace(tzinfo=UTC)
            if method == "view":
                return self.valuable_from_view(created_after, min_total)
            return self.valuable_by_composition(created_after, min_total)

        return router


def _valuable(row: tuple[Any, ...]) -> dict[str, Any]:
    customer_id, name, created_at, count, total = row
    return {
        "customer_id": customer_id,
        "name": name,
        "created_at": created_at,
        "shipped_orders": count,
        "shipped_total": total,
    }


def _get_json(http: httpx.Client, url: str, params: dict[str, Any]) -> Any:
    try:
        response = http.get(url, params=params)
    except httpx.TransportError as exc:
        raise ServiceUnavailableError(f"{url} did not answer ({type(exc).__name__}); retry when it is back") from exc
    if response.status_code != 200:
        raise ServiceRequestError("GET", url, response.status_code, response.text[:300])
    return response.json()


def _post_json(http: httpx.Client, url: str, body: dict[str, Any]) -> Any:
    try:
        response = http.post(url, json=body)
    except httpx.TransportError as exc:
        raise ServiceUnavailableError(f"{url} did not answer ({type(exc).__name__}); retry when it is back") from exc
    if response.status_code != 200:
        raise ServiceRequestError("POST", url, response.status_code, response.text[:300])
    return response.json()
