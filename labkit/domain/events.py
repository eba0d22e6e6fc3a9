"""The domain's events: what happened to orders and customers, in the past tense, with the data that changed."""

from __future__ import annotations

from dataclasses import dataclass

from labkit.events import Event


@dataclass(frozen=True)
class OrderCreated(Event):
    """A customer placed an order; it waits for the customer's credit (PENDING)."""

    customer_id: str
    order_total: int


@dataclass(frozen=True)
class OrderApproved(Event):
    """The customer's credit was reserved: the order can ship."""


@dataclass(frozen=True)
class OrderRejected(Event):
    """The order was refused (the credit limit would be exceeded)."""

    reason: str


@dataclass(frozen=True)
class OrderShipped(Event):
    """An approved order left the warehouse."""


@dataclass(frozen=True)
class OrderCancelled(Event):
    """An approved order was cancelled before shipping; its customer's credit for it is released."""

    customer_id: str
    reason: str


@dataclass(frozen=True)
class CustomerCreated(Event):
    """A customer was registered with a credit limit."""

    name: str
    credit_limit: int


@dataclass(frozen=True)
class CreditReserved(Event):
    """Credit was set aside for an order."""

    order_id: str
    amount: int


@dataclass(frozen=True)
class CreditLimitExceeded(Event):
    """An order asked for more credit than the customer had left."""

    order_id: str
    amount: int
    available_credit: int


@dataclass(frozen=True)
class CreditReleased(Event):
    """The credit of a cancelled order was given back."""

    order_id: str
    amount: int


ORDER_EVENTS = (OrderCreated, OrderApproved, OrderRejected, OrderShipped, OrderCancelled)
CUSTOMER_EVENTS = (CustomerCreated, CreditReserved, CreditLimitExceeded, CreditReleased)
