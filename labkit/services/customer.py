"""The Customer service: customers and their credit limits; reserves or refuses credit as orders arrive.

It consumes the Order service's feed: OrderCreated -> reserve credit (CreditReserved or CreditLimitExceeded),
OrderCancelled -> release it (CreditReleased). Its own feed carries those answers back to the Order service.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import duckdb
from fastapi import APIRouter, Query, Response

from labkit.domain import Customer
from labkit.events import UnitOfWork, state_sql
from labkit.events.codec import to_utc_naive
from labkit.services.base import HttpService
from labkit.services.errors import IdConflictError
from labkit.services.models import CustomerBatchIn, CustomerBatchOut, CustomerIn, CustomerOut, CustomerPage
from labkit.services.saga import saga_participant
from labkit.services.settings import ServiceSettings

CUSTOMER_COLUMNS = "aggregate_id, name, credit_limit, reserved_credit, reservations, version, created_at"


def customer_out(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row of the customers' vectorized replay as the API shows it."""
    customer_id, name, limit, reserved, reservations, version, created_at = row
    reservations = dict(reservations or {})
    return {
        "customer_id": customer_id,
        "name": name,
        "credit_limit": limit,
        "reserved_credit": reserved,
        "available_credit": limit - reserved,
        "reservations": reservations,
        "version": version,
        "created_at": created_at,
    }


def customers_sql(where: str = "") -> str:
    return f"SELECT {CUSTOMER_COLUMNS} FROM ({state_sql(Customer)}) {where}"


class CustomerService(HttpService):
    name = "customer"
    title = "labkit Customer service"
    description = "Customers with a credit limit; reserves, refuses and releases credit as the Order saga asks."

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self.consume("order", saga_participant(Customer))

    @staticmethod
    def _out(customer: Customer) -> dict[str, Any]:
        return {
            "customer_id": customer.id,
            "name": customer.name,
            "credit_limit": customer.credit_limit,
            "reserved_credit": customer.reserved_credit,
            "available_credit": customer.available_credit,
            "reservations": dict(customer.reservations),
            "version": customer.version,
            "created_at": customer.created_at,
        }

    def router(self) -> APIRouter:
        router = APIRouter(tags=["customers"])

        @router.post("/customers", response_model=CustomerOut, status_code=201, summary="Create a customer")
        async def create(body: CustomerIn, response: Response) -> dict[str, Any]:
            """Create a customer with a credit limit (201); the same create again answers 200 with it."""
            customer_id = body.customer_id or f"customer-{uuid4().hex[:12]}"
            body = body.model_copy(update={"customer_id": customer_id})
            customer, created = await self.database.write(lambda unit: self._create_command(body, unit))
            if not created:
                response.status_code = 200
            return self._out(customer)

        @router.get("/customers/{customer_id}", response_model=CustomerOut, summary="Read one customer")
        def read(customer_id: str) -> dict[str, Any]:
            return self._out(self.database.read(lambda: self.database.repository.load(Customer, customer_id)))

        @router.post("/customers/batch", response_model=CustomerBatchOut, summary="Read many customers at once")
        def batch(body: CustomerBatchIn) -> dict[str, Any]:
            """The customers among `customer_ids` (created after `created_after`, if given) and the ids not found: one
            request for a whole page of ids."""
            ids = list(dict.fromkeys(body.customer_ids))
            if not ids:
                return {"customers": [], "missing": []}
            marks = ", ".join("?" * len(ids))
            rows = self.database.analytics(
                lambda c: c.execute(customers_sql(f"WHERE aggregate_id IN ({marks})"), ids).fetchall(),
                aggregate_type="Customer",
                ids=ids,
            )
            found = {row[0]: customer_out(row) for row in rows}
            cutoff = to_utc_naive(body.created_after) if body.created_after is not None else None
            sent = [found[i] for i in ids if i in found and (cutoff is None or found[i]["created_at"] > cutoff)]
            return {"customers": sent, "missing": [i for i in ids if i not in found]}

        @router.get("/customers", response_model=CustomerPage, summary="List customers")
        def listing(
            offset: int = Query(0, ge=0, le=10**9), limit: int = Query(1000, ge=1, le=100_000)
        ) -> dict[str, Any]:
            def query(c: duckdb.DuckDBPyConnection) -> tuple[list[tuple[Any, ...]], int]:
                total = c.execute("SELECT count(DISTINCT aggregate_id) FROM events WHERE aggregate_type = 'Customer'")
                count = int(total.fetchall()[0][0])
                rows = c.execute(customers_sql("ORDER BY aggregate_id LIMIT ? OFFSET ?"), [limit, offset]).fetchall()
                return rows, count

            rows, total = self.database.analytics(query, aggregate_type="Customer")
            return {"customers": [customer_out(r) for r in rows], "total": total}

        return router

    def _create_command(self, body: CustomerIn, unit: UnitOfWork) -> tuple[Customer, bool]:
        assert body.customer_id is not None
        customer = unit.load_many(Customer, [body.customer_id]).get(body.customer_id)
        if customer is None:
            customer = Customer.register(body.customer_id, body.name, body.credit_limit)
            unit.add(customer)
            return customer, True
        if (customer.name, customer.credit_limit) != (body.name, body.credit_limit):
            raise IdConflictError(
                f"{body.customer_id} already exists as {customer.name!r} with credit limit {customer.credit_limit}; "
                "choose another customer_id"
            )
        return customer, False
