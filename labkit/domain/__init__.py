"""The lab's one domain: customers with a credit limit, and their orders (the source's Order 101 example).

Public API (everything importable from `labkit.domain`):

`Order` (aggregate type "Order", ids like "order-101"): `Order.place(order_id, customer_id, order_total)` ->
PENDING; `approve()`, `reject(reason)` (PENDING only); `ship()` (APPROVED only); `cancel(reason)` (APPROVED, not
shipped). State: `state`, `customer_id`, `order_total` (whole currency units, int). States: ORDER_STATES.

`Customer` (aggregate type "Customer", ids like "customer-7"): `Customer.register(customer_id, name,
credit_limit)`; `reserve_credit(order_id, amount) -> bool` emits CreditReserved, or CreditLimitExceeded when the
amount exceeds `available_credit`; `release_credit(order_id)` emits CreditReleased for a reserved order.
State: `name`, `credit_limit`, `reserved_credit` (sum of `reservations`, never above the limit),
`reservations` (order id -> amount).

Events (event_data fields): OrderCreated(customer_id, order_total), OrderApproved(), OrderRejected(reason),
OrderShipped(), OrderCancelled(reason); CustomerCreated(name, credit_limit), CreditReserved(order_id, amount),
CreditLimitExceeded(order_id, amount, available_credit), CreditReleased(order_id, amount).

The saga the services play (choreography, no 2PC): OrderCreated -> Customer.reserve_credit -> CreditReserved |
CreditLimitExceeded -> Order.approve | Order.reject(reason); OrderCancelled -> Customer.release_credit ->
CreditReleased. `saga_reaction(event)` says which command each event triggers.

A broken rule raises `RuleViolationError` naming the aggregate, the rule and why; nothing is emitted.
"""

from labkit.domain.customer import Customer
from labkit.domain.errors import RuleViolationError
from labkit.domain.events import (
    CUSTOMER_EVENTS,
    ORDER_EVENTS,
    CreditLimitExceeded,
    CreditReleased,
    CreditReserved,
    CustomerCreated,
    OrderApproved,
    OrderCancelled,
    OrderCreated,
    OrderRejected,
    OrderShipped,
)
from labkit.domain.order import APPROVED, CANCELLED, ORDER_STATES, PENDING, REJECTED, SHIPPED, Order
from labkit.domain.saga import saga_reaction

__all__ = [
    "APPROVED",
    "CANCELLED",
    "CUSTOMER_EVENTS",
    "ORDER_EVENTS",
    "ORDER_STATES",
    "PENDING",
    "REJECTED",
    "SHIPPED",
    "CreditLimitExceeded",
    "CreditReleased",
    "CreditReserved",
    "Customer",
    "CustomerCreated",
    "Order",
    "OrderApproved",
    "OrderCancelled",
    "OrderCreated",
    "OrderRejected",
    "OrderShipped",
    "RuleViolationError",
    "saga_reaction",
]
