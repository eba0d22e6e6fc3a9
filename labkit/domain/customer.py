"""The Customer aggregate: a credit limit, and the credit reserved for its orders (released when one is cancelled)."""

from __future__ import annotations

from typing import ClassVar

from labkit.domain.errors import require
from labkit.domain.events import CreditLimitExceeded, CreditReleased, CreditReserved, CustomerCreated
from labkit.events import Aggregate, on


class Customer(Aggregate):
    """A customer: `reserved_credit` is the sum of `reservations` (order id -> amount) and never exceeds the limit."""

    name: str = ""
    credit_limit: int = 0
    reserved_credit: int = 0
    reservations: dict[str, int] = {}  # noqa: RUF012 (copied per aggregate by Aggregate.__init__)

    # Vectorized replay ({events}: Customer events). An order's credit is held when its last credit event is a
    # reservation, so a reservation released and reserved again is counted once, as the handlers do.
    state_sql: ClassVar[str] = """
        WITH customer_events AS (SELECT * FROM {events}),
        per_order AS (
            SELECT aggregate_id, event_data->>'order_id' AS order_id,
                   arg_max(event_type, version) AS last_type,
                   arg_max((event_data->>'amount')::BIGINT, version) AS amount
            FROM customer_events
            WHERE event_type IN ('CreditReserved', 'CreditReleased')
            GROUP BY ALL
        ),
        held AS (
            SELECT aggregate_id, sum(amount)::BIGINT AS reserved_credit,
                   map_from_entries(list((order_id, amount))) AS reservations
            FROM per_order WHERE last_type = 'CreditReserved'
            GROUP BY aggregate_id
        ),
        base AS (
            SELECT aggregate_id,
                   max(version) AS version,
                   arg_min(recorded_at, version) AS created_at,
                   arg_max(recorded_at, version) AS updated_at,
                   any_value(CASE WHEN event_type = 'CustomerCreated' THEN event_data->>'name' END) AS name,
                   any_value(CASE WHEN event_type = 'CustomerCreated' THEN (event_data->>'credit_limit')::BIGINT END)
                       AS credit_limit
            FROM customer_events
            GROUP BY aggregate_id
        )
        SELECT base.*, coalesce(held.reserved_credit, 0) AS reserved_credit,
               coalesce(held.reservations, MAP {}::MAP(VARCHAR, BIGINT)) AS reservations
        FROM base LEFT JOIN held USING (aggregate_id)
    """

    @classmethod
    def register(cls, customer_id: str, name: str, credit_limit: int) -> Customer:
        """A new customer with a credit limit in whole currency units."""
        customer = cls(customer_id)
        require(
            isinstance(credit_limit, int) and not isinstance(credit_limit, bool) and credit_limit >= 0,
            customer_id,
            "a credit limit is a whole amount of 0 or more",
            f"got {credit_limit!r}",
        )
        customer.emit(CustomerCreated(name=name, credit_limit=credit_limit))
        return customer

    @property
    def available_credit(self) -> int:
        """Credit not yet reserved."""
        return self.credit_limit - self.reserved_credit

    def reserve_credit(self, order_id: str, amount: int) -> bool:
        """Reserve `amount` for an order if the limit allows (CreditReserved), else CreditLimitExceeded; True if reserved."""
        require(self.version > 0, self.id, "credit is reserved for a registered customer", "no CustomerCreated yet")
        require(
            isinstance(amount, int) and not isinstance(amount, bool) and amount > 0,
            self.id,
            "a reservation is a positive whole amount",
            f"got {amount!r} for {order_id}",
        )
        require(
            order_id not in self.reservations,
            self.id,
            "an order's credit is reserved once",
            f"{order_id} already holds {self.reservations.get(order_id)}",
        )
        if amount > self.available_credit:
            self.emit(CreditLimitExceeded(order_id=order_id, amount=amount, available_credit=self.available_credit))
            return False
        self.emit(CreditReserved(order_id=order_id, amount=amount))
        return True

    def release_credit(self, order_id: str) -> None:
        """Give back the credit reserved for a cancelled order."""
        require(
            order_id in self.reservations,
            self.id,
            "only reserved credit can be released",
            f"{order_id} holds no reservation",
        )
        self.emit(CreditReleased(order_id=order_id, amount=self.reservations[order_id]))

    @on(CustomerCreated)
    def _created(self, event: CustomerCreated) -> None:
        self.name, self.credit_limit = event.name, event.credit_limit

    @on(CreditReserved)
    def _reserved(self, event: CreditReserved) -> None:
        self.reservations[event.order_id] = event.amount
        self.reserved_credit += event.amount

    @on(CreditLimitExceeded)
    def _exceeded(self, event: CreditLimitExceeded) -> None:
        """Nothing changes: the refusal is recorded for the saga and the audit log."""

    @on(CreditReleased)
    def _released(self, event: CreditReleased) -> None:
        self.reserved_credit -= self.reservations.pop(event.order_id)
