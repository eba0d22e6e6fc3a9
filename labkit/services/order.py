"""The Order service: places orders (PENDING), approves or rejects them as the Customer service answers.

It consumes the Customer service's feed: CreditReserved -> approve, CreditLimitExceeded -> reject; and it keeps
the ids of the customers it has seen created (`known_customers`), so it can refuse an order for an unknown
customer without asking the Customer service each time, and keep taking orders while that service is down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal
from uuid import uuid4

import duckdb
import httpx
import orjson
from fastapi import APIRouter, Query, Response

from labkit.domain import ORDER_STATES, Order
from labkit.events import RecordedEvent, UnitOfWork, state_sql
from labkit.services.base import HttpService
from labkit.services.database import run_sql
from labkit.services.errors import IdConflictError, ServiceUnavailableError, UnknownCustomerError
from labkit.services.models import CancelIn, OrderIn, OrderOut, OrderPage
from labkit.services.saga import saga_participant
from labkit.services.settings import ServiceSettings

KNOWN_CUSTOMERS_SQL = """
CREATE TABLE IF NOT EXISTS known_customers (
    customer_id VARCHAR PRIMARY KEY  -- seen created in the Customer service's feed
)
"""

OrderState = Literal["PENDING", "APPROVED", "REJECTED", "SHIPPED", "CANCELLED"]
assert set(OrderState.__args__) == set(ORDER_STATES)  # type: ignore[attr-defined]

ORDER_COLUMNS = "aggregate_id, customer_id, order_total, state, version, created_at, updated_at"


def order_out(row: tuple[Any, ...]) -> dict[str, Any]:
    order_id, customer_id, total, state, version, created_at, updated_at = row
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "order_total": total,
        "state": state,
        "version": version,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _order_dict(order: Order) -> dict[str, Any]:
    return order_out(
        (order.id, order.customer_id, order.order_total, order.state, order.version, order.created_at, order.updated_at)
    )


class OrderService(HttpService):
    name = "order"
    title = "labkit Order service"
    description = "Orders: placed PENDING, approved or rejected by the credit saga, shipped or cancelled."
    tables = (KNOWN_CUSTOMERS_SQL,)

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.known_customers: set[str] = {
            r[0] for r in self.database.execute("SELECT customer_id FROM known_customers")
        }
        # This service is the only writer of its orders, so the ids it has committed are known without a query.
        self.order_ids: set[str] = {
            r[0]
            for r in self.database.execute("SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = 'Order'")
        }
        self.saga = saga_participant(Order)
        self.consume("customer", self._on_customer_events)
        self.http: httpx.AsyncClient | None = None

    def _on_customer_events(self, events: Sequence[RecordedEvent], unit: UnitOfWork) -> None:
        created = [e.aggregate_id for e in events if e.event_type == "CustomerCreated"]
        if created:
            run_sql(
                unit.store,
                f"INSERT INTO known_customers VALUES {', '.join(['(?)'] * len(created))} ON CONFLICT DO NOTHING",
                created,
            )
        self.saga(events, unit)
        # A customer never disappears, so adding before the commit is safe even if this batch is retried.
        self.known_customers.update(created)

    async def _check_customer(self, customer_id: str) -> None:
        """Refuse an order for a customer the Customer service does not know (asking it only for unseen ids)."""
        if customer_id in self.known_customers:
            return
        url = f"{self.settings.peer_url('customer')}/customers/{customer_id}"
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=5.0)
        try:
            response = await self.http.get(url)
        except httpx.TransportError as exc:
            raise ServiceUnavailableError(
                f"cannot check customer {customer_id}: the Customer service did not answer ({type(exc).__name__}); "
                "retry when it is back"
            ) from exc
        if response.status_code == 404:
            raise UnknownCustomerError(f"unknown customer {customer_id!r}: create it in the Customer service first")
        if response.status_code != 200:
            raise ServiceUnavailableError(
                f"cannot check customer {customer_id}: the Customer service answered {response.status_code}"
            )

    def _place(self, body: OrderIn, unit: UnitOfWork) -> tuple[Order, bool]:
        assert body.order_id is not None
        order_id = body.order_id
        existing = unit.peek(order_id) or (unit.load(Order, order_id) if order_id in self.order_ids else None)
        if existing is not None:
            assert isinstance(existing, Order)
            if (existing.customer_id, existing.order_total) != (body.customer_id, body.order_total):
                raise IdConflictError(
                    f"{order_id} is already an order of {existing.customer_id} for {existing.order_total}; "
                    "choose another order_id"
                )
            return existing, False
        order = Order.place(order_id, body.customer_id, body.order_total)
        unit.add(order)
        unit.after_commit.append(lambda: self.order_ids.add(order_id))
        return order, True

    def _command(self, order_id: str, command: str, *arguments: Any) -> Any:
        def run(unit: UnitOfWork) -> Order:
            order = unit.load(Order, order_id)
            getattr(order, command)(*arguments)
            unit.add(order)
            return order

        return run

    async def close_clients(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    def router(self) -> APIRouter:
        router = APIRouter(tags=["orders"])

        @router.post("/orders", response_model=OrderOut, status_code=201, summary="Place an order (PENDING)")
        async def place(body: OrderIn) -> Response:
            """Place an order for a known customer (201, PENDING); the same placement again answers 200 with it."""
            body = body.model_copy(update={"order_id": body.order_id or f"order-{uuid4().hex[:12]}"})
            await self._check_customer(body.customer_id)
            order, created = await self.database.write(lambda unit: self._place(body, unit))
            # Serialized here rather than validated against OrderOut again: the hottest endpoint of the lab.
            return Response(
                orjson.dumps(_order_dict(order)), status_code=201 if created else 200, media_type="application/json"
            )

        @router.get("/orders/{order_id}", response_model=OrderOut, summary="Read one order")
        def read(order_id: str) -> dict[str, Any]:
            return _order_dict(self.database.read(lambda: self.database.repository.load(Order, order_id)))

        @router.post("/orders/{order_id}/ship", response_model=OrderOut, summary="Ship an APPROVED order")
        async def ship(order_id: str) -> dict[str, Any]:
            return _order_dict(await self.database.write(self._command(order_id, "ship")))

        @router.post("/orders/{order_id}/cancel", response_model=OrderOut, summary="Cancel an APPROVED order")
        async def cancel(order_id: str, body: CancelIn | None = None) -> dict[str, Any]:
            """Cancel an approved order that has not shipped; the Customer service then releases its credit."""
            return _order_dict(
                await self.database.write(self._command(order_id, "cancel", (body or CancelIn()).reason))
            )

        @router.get("/orders", response_model=OrderPage, summary="List orders, filtered")
        def listing(
            state: Annotated[OrderState | None, Query(description="only orders in this state")] = None,
            customer_id: str | None = Query(None, max_length=64),
            min_total: int = Query(0, ge=0, le=10**12, description="orders whose total is above this"),
            offset: int = Query(0, ge=0, le=10**9),
            limit: int = Query(1000, ge=1, le=100_000),
        ) -> dict[str, Any]:
            where, params = ["order_total > ?"], [min_total]
            if state is not None:
                where.append("state = ?")
                params.append(state)
            if customer_id is not None:
                where.append("customer_id = ?")
                params.append(customer_id)
            sql = f"SELECT {ORDER_COLUMNS} FROM ({state_sql(Order)}) WHERE {' AND '.join(where)}"

            def query(c: duckdb.DuckDBPyConnection) -> tuple[list[tuple[Any, ...]], int]:
                total = int(c.execute(f"SELECT count(*) FROM ({sql})", params).fetchall()[0][0])
                rows = c.execute(f"{sql} ORDER BY aggregate_id LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
                return rows, total

            rows, total = self.database.analytics(query, aggregate_type="Order")
            return {"orders": [order_out(r) for r in rows], "total": total}

        return router
