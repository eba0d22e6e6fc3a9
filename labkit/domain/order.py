"""The Order aggregate: PENDING until the customer's credit answers, then APPROVED or REJECTED; SHIPPED or CANCELLED.

PENDING --approve--> APPROVED --ship--> SHIPPED
   |                    |
   +--reject--> REJECTED +--cancel--> CANCELLED (its credit is released)
"""

from __future__ import annotations

from typing import ClassVar

from labkit.domain.errors import require
from labkit.domain.events import OrderApproved, OrderCancelled, OrderCreated, OrderRejected, OrderShipped
from labkit.events import Aggregate, on

PENDING, APPROVED, REJECTED, SHIPPED, CANCELLED = "PENDING", "APPROVED", "REJECTED", "SHIPPED", "CANCELLED"
ORDER_STATES = (PENDING, APPROVED, REJECTED, SHIPPED, CANCELLED)


class Order(Aggregate):
    """An order of one customer, for a total in whole currency units (integers, so sums are exact)."""

    state: str = "NEW"
    customer_id: str = ""
    order_total: int = 0

    # Vectorized replay: the same state as the handlers below, for every order at once ({events}: Order events).
    # JSON is read only on OrderCreated rows (CASE evaluates its branch for matching rows only), and the state name
    # is mapped once per order, after grouping: the fast shape for millions of events.
    state_sql: ClassVar[str] = """
        SELECT aggregate_id, version, created_at, updated_at,
               CASE last_type WHEN 'OrderCreated' THEN 'PENDING' WHEN 'OrderApproved' THEN 'APPROVED'
                    WHEN 'OrderRejected' THEN 'REJECTED' WHEN 'OrderShipped' THEN 'SHIPPED'
                    WHEN 'OrderCancelled' THEN 'CANCELLED' END AS state,
               customer_id, order_total
        FROM (
            SELECT aggregate_id,
                   max(version) AS version,
                   arg_min(recorded_at, version) AS created_at,
                   arg_max(recorded_at, version) AS updated_at,
                   arg_max(event_type, version) AS last_type,
                   any_value(CASE WHEN event_type = 'OrderCreated' THEN event_data->>'customer_id' END) AS customer_id,
                   any_value(CASE WHEN event_type = 'OrderCreated' THEN (event_data->>'order_total')::BIGINT END)
                       AS order_total
            FROM {events}
            GROUP BY aggregate_id
        )
    """

    @classmethod
    def place(cls, order_id: str, customer_id: str, order_total: int) -> Order:
        """A new order, PENDING until the customer's credit is checked."""
        order = cls(order_id)
        require(
            isinstance(order_total, int) and not isinstance(order_total, bool) and order_total > 0,
            order_id,
            "an order total is a positive whole amount",
            f"got {order_total!r}",
        )
        require(
            isinstance(customer_id, str) and customer_id != "",
            order_id,
            "an order names its customer",
            "no customer_id",
        )
        order.emit(OrderCreated(customer_id=customer_id, order_total=order_total))
        return order

    def approve(self) -> None:
        """Credit was reserved: approve the pending order."""
        require(self.state == PENDING, self.id, "only a PENDING order can be approved", f"it is {self.state}")
        self.emit(OrderApproved())

    def reject(self, reason: str) -> None:
        """Credit was refused: reject the pending order."""
        require(self.state == PENDING, self.id, "only a PENDING order can be rejected", f"it is {self.state}")
        self.emit(OrderRejected(reason=reason))

    def ship(self) -> None:
        """Ship an approved order."""
        require(self.state == APPROVED, self.id, "only an APPROVED order can ship", f"it is {self.state}")
        self.emit(OrderShipped())

    def cancel(self, reason: str) -> None:
        """Cancel an approved order that has not shipped (its credit is then released)."""
        require(
            self.state == APPROVED,
            self.id,
            "only an APPROVED order that has not shipped can be cancelled",
            f"it is {self.state}",
        )
        self.emit(OrderCancelled(customer_id=self.customer_id, reason=reason))

    @on(OrderCreated)
    def _created(self, event: OrderCreated) -> None:
        self.state, self.customer_id, self.order_total = PENDING, event.customer_id, event.order_total

    @on(OrderApproved)
    def _approved(self, event: OrderApproved) -> None:
        self.state = APPROVED

    @on(OrderRejected)
    def _rejected(self, event: OrderRejected) -> None:
        self.state = REJECTED

    @on(OrderShipped)
    def _shipped(self, event: OrderShipped) -> None:
        self.state = SHIPPED

    @on(OrderCancelled)
    def _cancelled(self, event: OrderCancelled) -> None:
        self.state = CANCELLED
