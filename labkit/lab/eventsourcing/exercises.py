"""Notebook 04's exercise: put an order on hold, a new command and a new event on the Order aggregate.

The learner writes `HoldableOrder(Order)` with a command `hold(reason)` (the decision: which states allow it, what
it emits) and an `@on(OrderHeld)` handler (the evolution: what the event changes). `check_hold` runs Given-When-Then
cases on it: given the events an order has, when the command runs, then these events are emitted and this is the
state, or the command is refused and nothing is emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.domain import Order, OrderApproved, OrderCreated
from labkit.domain.errors import RuleViolationError
from labkit.events import Event
from labkit.lab.exercises import Case, Failed, Verdict, check, expect


@dataclass(frozen=True)
class OrderHeld(Event):
    """An order was put on hold (a fraud check, a customer's call) until someone releases it."""

    reason: str


def _given(answer: type[Order], *steps: str) -> Order:
    """An order of the answer's class that went through `steps` (approve, reject, ship, cancel), nothing pending."""
    order = answer.place("order-101", "customer-7", 250)
    for step in steps:
        getattr(order, step)(*(["no credit"] if step in ("reject", "cancel") else []))
    order.pending = []
    return order


def _emitted(order: Order) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event_type, dict(e.event_data)) for e in order.pending]


def _a(state: str) -> str:
    return f"an {state}" if state[0] in "AEIOU" else f"a {state}"


def _holds_from(steps: tuple[str, ...], before: str) -> Case:
    def run(answer: type[Order]) -> None:
        order = _given(answer, *steps)
        order.hold("fraud check")  # type: ignore[attr-defined]
        emitted = _emitted(order)
        expect(
            emitted == [("OrderHeld", {"reason": "fraud check"})],
            f"hold('fraud check') should emit exactly OrderHeld(reason='fraud check'); it emitted {emitted}",
        )
        expect(order.state == "ON_HOLD", f"after OrderHeld the state should be ON_HOLD, not {order.state!r}")
        held_from = getattr(order, "held_from", None)
        expect(
            held_from == before, f"held_from should remember {before!r} (the state before the hold), not {held_from!r}"
        )

    return Case(f"given {_a(before)} order, when hold, then OrderHeld and ON_HOLD", run)


def _refused(steps: tuple[str, ...], state: str) -> Case:
    def run(answer: type[Order]) -> None:
        order = _given(answer, *steps)
        try:
            order.hold("fraud check")  # type: ignore[attr-defined]
        except RuleViolationError:
            expect(order.pending == [], "a refused command must emit nothing; check the rule before you emit")
            expect(order.state == state, f"a refused command must not change the state ({state} became {order.state})")
            return
        raise Failed(
            f"{_a(state)} order cannot be put on hold: raise RuleViolationError (use `require`) before emitting"
        )

    return Case(f"given a {state} order, when hold, then it is refused", run)


def _needs_a_reason(answer: type[Order]) -> None:
    order = _given(answer)
    try:
        order.hold("")  # type: ignore[attr-defined]
    except RuleViolationError:
        expect(order.pending == [], "a refused command must emit nothing")
        return
    raise Failed("hold('') should be refused with RuleViolationError: a hold needs a reason")


def _replays(answer: type[Order]) -> None:
    order = answer("order-101")
    stored = (
        OrderCreated(customer_id="customer-7", order_total=250),
        OrderApproved(),
        OrderHeld(reason="customer called"),
    )
    for event in stored:  # what loading does: each stored event through its handler
        order.apply(event)
    expect(order.version == 3, f"replaying three events should reach version 3, not {order.version}")
    expect(order.state == "ON_HOLD", f"replayed, OrderHeld should leave the order ON_HOLD, not {order.state!r}")
    held_from = getattr(order, "held_from", None)
    expect(held_from == "APPROVED", f"replayed, held_from should be 'APPROVED', not {held_from!r}")


HOLD_CASES = (
    _holds_from((), "PENDING"),
    _holds_from(("approve",), "APPROVED"),
    _refused(("approve", "ship"), "SHIPPED"),
    _refused(("reject",), "REJECTED"),
    _refused(("approve", "cancel"), "CANCELLED"),
    Case("given a PENDING order, when hold(''), then it is refused", _needs_a_reason),
    Case("given OrderCreated, OrderApproved, OrderHeld stored, when replayed, then ON_HOLD from APPROVED", _replays),
)


def check_hold(answer: type[Order]) -> Verdict:
    """Judge a `HoldableOrder` class: passed, or the first case it fails with a hint."""
    if not (isinstance(answer, type) and issubclass(answer, Order)):
        verdict = Verdict()
        verdict.failed, verdict.hint = "the answer", f"give the class itself, a subclass of Order (got {answer!r})"
        return verdict
    return check(answer, HOLD_CASES)
