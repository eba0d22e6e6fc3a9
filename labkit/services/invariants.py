"""The invariant checker: reads all three services over HTTP and checks that the saga left them consistent.

Rules (each violation names the rule, the order or customer, and what was seen):
- settled: every order ends APPROVED or REJECTED (or SHIPPED / CANCELLED after approval); none stays PENDING.
- one decision: each order got exactly one credit answer from the Customer service, and the order followed it.
- credit: a customer's reserved credit never exceeds its limit and equals the sum of its approved, not cancelled
  orders (APPROVED or SHIPPED); no order's credit was reserved twice.
- view: the history service's customer_orders_view has every order, with the services' state, total and customer.
- nothing lost: every order a client was told was accepted exists.
- no refusals: no service recorded a saga reaction the domain refused.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labkit.services.client import LabClient
from labkit.services.errors import NotSettledError, ServiceError
from labkit.services.settings import SERVICES

FINAL_STATES = ("APPROVED", "REJECTED", "SHIPPED", "CANCELLED")
HOLDS_CREDIT = ("APPROVED", "SHIPPED")
APPROVED_PATHS = ("APPROVED", "SHIPPED", "CANCELLED")


@dataclass(frozen=True)
class Violation:
    rule: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject}: {self.detail}"


@dataclass
class InvariantReport:
    """What the checker saw, and every violation it found (none: the invariants hold)."""

    orders: int
    customers: int
    view_rows: int
    states: dict[str, int]
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        states = ", ".join(f"{state} {count}" for state, count in sorted(self.states.items()))
        verdict = "all invariants hold" if self.ok else f"{len(self.violations)} violations"
        return f"{self.orders} orders ({states}), {self.customers} customers, {self.view_rows} view rows: {verdict}"

    def raise_if_broken(self) -> None:
        if self.violations:
            shown = "\n".join(str(v) for v in self.violations[:20])
            raise InvariantViolationError(f"{self.summary()}\n{shown}")


class InvariantViolationError(ServiceError):
    """The services are not consistent after the saga settled: the message lists the broken rules."""


def _same_moment(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    return datetime.fromisoformat(a).replace(tzinfo=None) == datetime.fromisoformat(b).replace(tzinfo=None)


def check_invariants(client: LabClient, *, accepted_orders: Iterable[str] = ()) -> InvariantReport:
    """Read every order, customer, view row and credit event, and check the rules above."""
    orders = {o["order_id"]: o for o in client.orders()}
    customers = {c["customer_id"]: c for c in client.customers()}
    view = {r["order_id"]: r for r in client.view()}
    credit_events = [e for e in client.events("customer") if e["event_type"] != "CustomerCreated"]
    order_events = client.events("order")
    report = InvariantReport(len(orders), len(customers), len(view), dict(Counter(o["state"] for o in orders.values())))
    bad = report.violations

    for order_id in accepted_orders:
        if order_id not in orders:
            bad.append(Violation("nothing lost", order_id, "accepted by the Order service but not found there"))

    history: dict[str, list[str]] = defaultdict(list)
    for event in order_events:
        history[event["aggregate_id"]].append(event["event_type"])
    for order_id, order in orders.items():
        if order["state"] not in FINAL_STATES:
            bad.append(Violation("settled", order_id, f"still {order['state']}"))
        if order["state"] == "CANCELLED" and "OrderApproved" not in history[order_id]:
            bad.append(Violation("settled", order_id, f"CANCELLED without approval: {history[order_id]}"))

    decisions: dict[str, list[str]] = defaultdict(list)
    reserved: Counter[str] = Counter()
    for event in credit_events:
        order_id = event["event_data"]["order_id"]
        if event["event_type"] in ("CreditReserved", "CreditLimitExceeded"):
            decisions[order_id].append(event["event_type"])
        if event["event_type"] == "CreditReserved":
            reserved[order_id] += 1
    for order_id, count in reserved.items():
        if count > 1:
            bad.append(Violation("credit", order_id, f"credit reserved {count} times"))
    for order_id, order in orders.items():
        answers = decisions.get(order_id, [])
        if len(answers) != 1:
            bad.append(Violation("one decision", order_id, f"{len(answers)} credit answers: {answers}"))
            continue
        follows = "CreditReserved" if order["state"] in APPROVED_PATHS else "CreditLimitExceeded"
        if order["state"] != "PENDING" and answers[0] != follows:
            bad.append(Violation("one decision", order_id, f"{order['state']} after {answers[0]}"))

    holding: dict[str, dict[str, int]] = defaultdict(dict)
    for order_id, order in orders.items():
        if order["state"] in HOLDS_CREDIT:
            holding[order["customer_id"]][order_id] = order["order_total"]
    for customer_id, customer in customers.items():
        expected = holding.get(customer_id, {})
        if customer["reserved_credit"] > customer["credit_limit"]:
            bad.append(
                Violation(
                    "credit", customer_id, f"reserved {customer['reserved_credit']} > limit {customer['credit_limit']}"
                )
            )
        if customer["reserved_credit"] != sum(expected.values()) or customer["reservations"] != expected:
            bad.append(
                Violation(
                    "credit",
                    customer_id,
                    f"reserves {customer['reserved_credit']} for {sorted(customer['reservations'])}, its approved "
                    f"orders total {sum(expected.values())} for {sorted(expected)}",
                )
            )
    for customer_id in set(holding) - set(customers):
        bad.append(Violation("credit", customer_id, "has approved orders but the Customer service does not know it"))

    for order_id, order in orders.items():
        row = view.get(order_id)
        if row is None:
            bad.append(Violation("view", order_id, "missing from customer_orders_view"))
            continue
        seen = (row["customer_id"], row["order_total"], row["state"])
        if seen != (order["customer_id"], order["order_total"], order["state"]):
            bad.append(Violation("view", order_id, f"view has {seen}, the Order service has {order['state']}"))
        customer = customers.get(order["customer_id"])
        if customer is not None and (
            row["customer_name"] != customer["name"]
            or not _same_moment(row["customer_created_at"], customer["created_at"])
        ):
            bad.append(
                Violation("view", order_id, f"customer fields {row['customer_name']!r} do not match the service")
            )
    for order_id in set(view) - set(orders):
        bad.append(Violation("view", order_id, "in the view but not in the Order service"))

    for service in SERVICES:
        failures = client.status(service)["saga_failures"]
        if failures:
            bad.append(Violation("no refusals", service, f"{failures} saga reactions refused (see its log)"))
    return report


def settle_state(client: LabClient) -> dict[str, Any]:
    """What is still moving: pending orders, and how far each consumer is behind its peer's head right now."""
    # Heads first, positions after: a consumer at or past a head read earlier has everything up to it.
    heads = {service: client.health(service)["head_position"] for service in SERVICES}
    statuses = {service: client.status(service) for service in SERVICES}
    lag = {
        consumer["name"]: max(0, heads[consumer["name"].split("<-")[1]] - consumer["position"])
        for status in statuses.values()
        for consumer in status["consumers"]
    }
    pending = client.request("GET", "order", "/orders", params={"state": "PENDING", "limit": 1})["total"]
    return {"pending": pending, "lag": lag, "heads": heads}


def wait_until_settled(client: LabClient, *, timeout: float = 30.0, interval: float = 0.1) -> float:
    """Wait until no order is PENDING and every consumer has applied its peer's whole feed; the seconds it took."""
    started = time.monotonic()
    state: dict[str, Any] | str = "no answer yet"
    while time.monotonic() - started < timeout:
        try:
            state = settle_state(client)
            settled = not state["pending"] and not any(state["lag"].values())
            # Settled twice with the same heads: nothing was written in between.
            if settled and settle_state(client) == state:
                return time.monotonic() - started
        except ServiceError as exc:
            state = f"{type(exc).__name__}: {exc}"
        time.sleep(interval)
    raise NotSettledError(f"the services did not settle within {timeout:.0f} s; last seen: {state}")
