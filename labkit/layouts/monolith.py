"""The monolith next to the microservices: "place an order and reserve the customer's credit" done both ways.

Monolith: one process, one database. The order, the credit reservation and the approval commit in one ACID
transaction, so a failure anywhere rolls all of it back. Microservices: the Order service and the Customer service
own separate databases, so the same business transaction is three local commits in two databases; a failure
between them leaves the order half done until a saga finishes or compensates it (notebook 07). DuckDB itself
refuses one transaction that writes two database files (`one_transaction_across`), and there is no two-phase
commit to reach for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from labkit.layouts.database import SERVICE_CLOCK, OwnedDatabase
from labkit.layouts.errors import LayoutError, SecondTransactionFailed
from labkit.layouts.layout import PerServiceLayout
from labkit.layouts.services import InProcessCustomerService, InProcessOrderService

# Where a failure can be injected: after the order is written, or after the credit is reserved.
FAIL_POINTS = ("order_placed", "credit_reserved")


@dataclass(frozen=True)
class Placement:
    """What became of one "place order" business transaction, as read back from the databases afterwards."""

    architecture: str
    order_id: str
    failed_at: str | None
    order_state: str | None  # None: no order was stored
    credit_reserved: int  # credit held for this order by its customer
    commits: int  # local transactions committed

    @property
    def consistent(self) -> bool:
        """Order and credit agree: no order and no credit, a rejected order without credit, or approved with it."""
        if self.order_state is None or self.order_state == "REJECTED":
            return self.credit_reserved == 0
        return self.order_state in ("APPROVED", "SHIPPED") and self.credit_reserved > 0


def placements_frame(placements: list[Placement]) -> pd.DataFrame:
    """Placements side by side: what was stored afterwards, and whether order and credit agree."""
    return pd.DataFrame(
        [
            {
                "architecture": p.architecture,
                "failure injected after": p.failed_at or "-",
                "order state": p.order_state or "(no order)",
                "credit reserved": p.credit_reserved,
                "commits": p.commits,
                "consistent": p.consistent,
            }
            for p in placements
        ]
    )


def _check_fail_point(fail_after: str | None) -> None:
    if fail_after is not None and fail_after not in FAIL_POINTS:
        raise LayoutError(f"fail_after={fail_after!r} is not a failure point; use one of {', '.join(FAIL_POINTS)}")


def _order_state(orders: InProcessOrderService, order_id: str) -> str | None:
    try:
        return str(orders.get(order_id)["state"])
    except LayoutError:
        return None


class Monolith:
    """One process, one DuckDB database: customers, orders and their events, changed in one transaction."""

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = SERVICE_CLOCK) -> None:
        self._database = OwnedDatabase(path, "monolith", clock=clock)
        self.customers = InProcessCustomerService(self._database, shared=True)
        self.orders = InProcessOrderService(self._database, shared=True)

    def place_order(
        self, order_id: str, customer_id: str, order_total: int, *, fail_after: str | None = None
    ) -> Placement:
        """Place the order, reserve the credit, approve or reject: one ACID transaction (all or nothing)."""
        _check_fail_point(fail_after)
        try:
            with self._database.session() as store, store.transaction():
                # The services' commands join this transaction: nothing commits until the block ends.
                self.orders.place(order_id, customer_id, order_total)
                if fail_after == "order_placed":
                    raise SecondTransactionFailed(f"injected failure after {order_id} was placed")
                reserved = self.customers.reserve_credit(customer_id, order_id, order_total)
                if fail_after == "credit_reserved":
                    raise SecondTransactionFailed(f"injected failure after the credit for {order_id} was reserved")
                if reserved:
                    self.orders.approve(order_id)
                else:
                    self.orders.reject(order_id, "credit limit exceeded")
            commits = 1
        except SecondTransactionFailed:
            commits = 0  # rolled back: as if nothing happened
        state = _order_state(self.orders, order_id)
        return Placement(
            "monolith", order_id, fail_after, state, self.customers.credit_reserved_for(customer_id, order_id), commits
        )

    def close(self) -> None:
        self._database.close()

    def __enter__(self) -> Monolith:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def place_order_across_services(
    layout: PerServiceLayout, order_id: str, customer_id: str, order_total: int, *, fail_after: str | None = None
) -> Placement:
    """The same business transaction over two databases: three local commits; a failure leaves what committed."""
    _check_fail_point(fail_after)
    commits = 0
    try:
        layout.orders.place(order_id, customer_id, order_total)  # commit 1, Order database
        commits += 1
        if fail_after == "order_placed":
            raise SecondTransactionFailed(f"injected failure after {order_id} was placed")
        reserved = layout.customers.reserve_credit(customer_id, order_id, order_total)  # commit 2, Customer database
        commits += 1
        if fail_after == "credit_reserved":
            raise SecondTransactionFailed(f"injected failure after the credit for {order_id} was reserved")
        if reserved:  # commit 3, Order database
            layout.orders.approve(order_id)
        else:
            layout.orders.reject(order_id, "credit limit exceeded")
        commits += 1
    except SecondTransactionFailed:
        pass  # nothing rolls back what the other database already committed
    state = _order_state(layout.orders, order_id)
    return Placement(
        "microservices",
        order_id,
        fail_after,
        state,
        layout.customers.credit_reserved_for(customer_id, order_id),
        commits,
    )


def one_transaction_across(layout: PerServiceLayout, order_id: str, customer_id: str) -> str:
    """Try what the monolith does, one transaction, over the two services' files; DuckDB's refusal, word for word.

    The files are taken from their services for the attempt (the services are offline meanwhile).
    """
    with layout.files_taken_offline() as (customers_path, orders_path):
        connection = duckdb.connect()
        try:
            connection.execute(f"ATTACH '{orders_path}' AS order_service")
            connection.execute(f"ATTACH '{customers_path}' AS customer_service")
            connection.execute("BEGIN TRANSACTION")
            connection.execute("UPDATE order_service.orders SET state = 'APPROVED' WHERE order_id = ?", [order_id])
            connection.execute(
                "UPDATE customer_service.customers SET reserved_credit = reserved_credit + 1 WHERE customer_id = ?",
                [customer_id],
            )
            connection.execute("ROLLBACK")
            return "both writes were accepted in one transaction (rolled back)"
        except duckdb.TransactionException as exc:
            return str(exc)
        finally:
            connection.close()
