"""The choreographed saga as data: which command each event triggers, and running it exactly once.

OrderCreated -> Customer.reserve_credit -> CreditReserved | CreditLimitExceeded -> Order.approve | Order.reject;
OrderCancelled -> Customer.release_credit -> CreditReleased. The events a reaction emits get ids derived from the
event that caused it, so a reaction delivered twice (a pull subscriber restarting) appends nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from labkit.domain.customer import Customer
from labkit.domain.order import Order
from labkit.events import AppendResult, RecordedEvent, Repository, derived_event_id
from labkit.events.aggregate import Aggregate

TARGETS: dict[str, type[Aggregate]] = {"Customer": Customer, "Order": Order}


@dataclass(frozen=True)
class Reaction:
    """A command on one aggregate, caused by one event."""

    aggregate_type: str
    aggregate_id: str
    command: str
    arguments: dict[str, Any] = field(default_factory=dict)
    cause: RecordedEvent | None = None

    def event_id(self, index: int) -> UUID | None:
        """The id of the reaction's `index`-th emitted event (derived from the cause)."""
        return derived_event_id(self.cause.event_id, f"{self.command}:{index}") if self.cause else None

    def execute(self, repository: Repository) -> AppendResult | None:
        """Load the target, run the command, save with causation metadata; None if it already ran."""
        first_id = self.event_id(0)
        if first_id is not None and repository.store.contains(first_id):
            return None
        target = repository.load(TARGETS[self.aggregate_type], self.aggregate_id)
        getattr(target, self.command)(**self.arguments)
        if self.cause is not None:
            correlation = self.cause.metadata.get("correlation_id", str(self.cause.event_id))
            target.pending = [
                replace(
                    e,
                    event_id=self.event_id(i),
                    metadata={**e.metadata, "correlation_id": correlation, "causation_id": str(self.cause.event_id)},
                )
                for i, e in enumerate(target.pending)
            ]
        return repository.save(target)


def saga_reaction(event: RecordedEvent) -> Reaction | None:
    """The command the saga runs in reaction to `event` (None: the saga does not react to it)."""
    data = event.event_data
    if event.event_type == "OrderCreated":
        arguments = {"order_id": event.aggregate_id, "amount": data["order_total"]}
        return Reaction("Customer", data["customer_id"], "reserve_credit", arguments, event)
    if event.event_type == "CreditReserved":
        return Reaction("Order", data["order_id"], "approve", {}, event)
    if event.event_type == "CreditLimitExceeded":
        reason = f"credit limit exceeded: {data['amount']} asked, {data['available_credit']} available"
        return Reaction("Order", data["order_id"], "reject", {"reason": reason}, event)
    if event.event_type == "OrderCancelled":
        return Reaction("Customer", data["customer_id"], "release_credit", {"order_id": event.aggregate_id}, event)
    return None
