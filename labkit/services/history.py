"""The Order-history service: the CQRS `customer_orders_view`, built from both services' feeds, and its queries.

Two consumers (one per feed, each with its own checkpoint) keep `labkit.views`' customer_orders_view: one row per
order with its customer's data joined in. The feeds are independent, so an order may arrive before its customer:
the row then waits with empty customer fields, filled in when the CustomerCreated arrives. "Recent valuable customers" is answered two ways:
from the view (one SQL statement here) and by API composition (ask the Order service, then the Customer service
in batches, join here), so the two can be compared.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import duckdb
from fastapi import APIRouter, Query

from labkit.events import RecordedEvent, UnitOfWork
from labkit.events.codec import as_utc, to_utc_naive, utc_now
from labkit.services.base import HttpService
from labkit.services.client import LabClient
from labkit.services.models import UtcMoment, ValuableCustomers, ViewPage
from labkit.services.settings import ServiceSettings
from labkit.views import customer_orders

# When this service applied each order's latest state: the view's own columns say when the Order service recorded
# it (order_updated_at), so the two give the view's lag per order.
VIEW_APPLIED_SQL = """
CREATE TABLE IF NOT EXISTS view_applied (
    order_id        VARCHAR   PRIMARY KEY,
    view_updated_at TIMESTAMP NOT NULL
)
"""

VIEW_ROWS_SQL = f"""
SELECT v.order_id, v.customer_id, v.customer_name, v.customer_created_at, v.order_total, v.order_state AS state,
       v.order_created_at, v.order_updated_at AS state_recorded_at, a.view_updated_at
FROM {customer_orders.VIEW_TABLE} v LEFT JOIN view_applied a USING (order_id)
"""


def apply_customer_events(events: Sequence[RecordedEvent], unit: UnitOfWork) -> None:
    """Customers into the view (orders that arrived before their customer get its columns now)."""
    customer_orders.handle(events, unit.connection)


def apply_order_events(events: Sequence[RecordedEvent], unit: UnitOfWork) -> None:
    """Order events into the view, and the moment this service applied each order's latest state."""
    customer_orders.handle(events, unit.connection)
    orders = list(dict.fromkeys(e.aggregate_id for e in events if e.event_type in customer_orders.ORDER_STATE_AFTER))
    if orders:
        now = to_utc_naive(utc_now())
        unit.connection.execute(
            f"INSERT OR REPLACE INTO view_applied VALUES {', '.join(['(?, ?)'] * len(orders))}",
            [v for order_id in orders for v in (order_id, now)],
        )


class HistoryService(HttpService):
    name = "history"
    title = "labkit Order-history service"
    description = "The customer_orders_view (CQRS read model) built from both services' events, and its queries."
    tables = (VIEW_APPLIED_SQL,)
    publishes = False  # nobody reads the view's own events
    relational = False  # a read model: DuckDB answers its analytical queries, whatever the other services run on

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.database.duckdb(customer_orders.create_tables)
        self.consume("customer", apply_customer_events)
        self.consume("order", apply_order_events)

    def valuable_from_view(self, created_after: datetime, min_total: int) -> dict[str, Any]:
        started = time.perf_counter()
        answer = self.database.duckdb(
            lambda c: customer_orders.recent_valuable_customers(c, min_total, created_after).to_pylist()
        )
        per_customer: dict[str, list[dict[str, Any]]] = {}
        for row in answer:
            per_customer.setdefault(row["customer_id"], []).append(row)
        rows = [
            (cid, o[0]["customer_name"], o[0]["customer_created_at"], len(o), sum(r["order_total"] for r in o))
            for cid, o in sorted(per_customer.items())
        ]
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
        peers = {"order": self.settings.peer_url("order"), "customer": self.settings.peer_url("customer")}
        with LabClient(peers, timeout=30.0) as client:
            orders = client.orders(state="SHIPPED", min_total=min_total)
            ids = sorted({o["customer_id"] for o in orders})
            customers = {c["customer_id"]: c for c in client.customers_by_id(ids, batch=batch)}
            requests = client.calls
        rows_moved = len(orders) + len(customers)
        cutoff = to_utc_naive(created_after)
        totals: dict[str, list[int]] = {}
        for order in orders:
            customer = customers.get(order["customer_id"])
            if customer is None or to_utc_naive(datetime.fromisoformat(customer["created_at"])) <= cutoff:
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

            def query(c: duckdb.DuckDBPyConnection) -> tuple[list[dict[str, Any]], int]:
                total = int(c.execute(f"SELECT count(*) FROM ({VIEW_ROWS_SQL}) {where}", params).fetchall()[0][0])
                result = c.execute(
                    f"{VIEW_ROWS_SQL} {where} ORDER BY order_id LIMIT ? OFFSET ?", [*params, limit, offset]
                )
                names = [d[0] for d in result.description]
                return [dict(zip(names, row, strict=True)) for row in result.fetchall()], total

            rows, total = self.database.duckdb(query)
            return {"rows": rows, "total": total}

        @router.get(
            "/queries/recent-valuable-customers",
            response_model=ValuableCustomers,
            summary='"Recent valuable customers": created after a date, with a SHIPPED order over a total',
        )
        def valuable(
            created_after: Annotated[UtcMoment, Query(description="customers created after this moment (ISO 8601)")],
            min_total: Annotated[int, Query(ge=0, le=10**12, description="orders whose total is above this")],
            method: Annotated[
                Literal["view", "composition"], Query(description="CQRS view or API composition")
            ] = "view",
        ) -> dict[str, Any]:
            created_after = as_utc(created_after)
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
