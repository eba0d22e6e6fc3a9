"""Order: its life and the rules that keep it consistent."""

from __future__ import annotations

import pytest

from labkit.domain import APPROVED, CANCELLED, PENDING, REJECTED, SHIPPED, Order, RuleViolationError


def placed() -> Order:
    return Order.place("order-101", customer_id="customer-7", order_total=250)


def test_the_happy_path():
    order = placed()
    assert (order.state, order.customer_id, order.order_total) == (PENDING, "customer-7", 250)
    order.approve()
    order.ship()
    assert order.state == SHIPPED
    assert [e.event_type for e in order.pending] == ["OrderCreated", "OrderApproved", "OrderShipped"]


def test_rejected_and_cancelled():
    rejected, cancelled = placed(), placed()
    rejected.reject("credit limit exceeded")
    cancelled.approve()
    cancelled.cancel("changed my mind")
    assert (rejected.state, cancelled.state) == (REJECTED, CANCELLED)
    assert cancelled.pending[-1].event_data == {"customer_id": "customer-7", "reason": "changed my mind"}


@pytest.mark.parametrize(
    ("steps", "command", "rule"),
    [
        (["reject"], "ship", "only an APPROVED order can ship"),
        ([], "ship", "only an APPROVED order can ship"),
        (["approve"], "approve", "only a PENDING order can be approved"),
        (["approve", "ship"], "cancel", "only an APPROVED order that has not shipped can be cancelled"),
        (["reject"], "cancel", "only an APPROVED order"),
        (["approve"], "reject", "only a PENDING order can be rejected"),
        (["approve", "cancel"], "ship", "only an APPROVED order can ship"),
    ],
)
def test_breaking_a_rule_names_the_rule_and_emits_nothing(steps, command, rule):
    order = placed()
    for step in steps:
        getattr(order, step)(*(["why"] if step in ("reject", "cancel") else []))
    pending, version = list(order.pending), order.version
    with pytest.raises(RuleViolationError, match=rule) as raised:
        getattr(order, command)(*(["why"] if command in ("reject", "cancel") else []))
    assert raised.value.aggregate_id == "order-101"
    assert "it is" in raised.value.why
    assert (order.pending, order.version) == (pending, version)


@pytest.mark.parametrize("total", [0, -5, 2.5, "250", True])
def test_an_order_total_is_a_positive_whole_amount(total):
    with pytest.raises(RuleViolationError, match="positive whole amount"):
        Order.place("order-1", "customer-7", total)


def test_an_order_names_its_customer():
    with pytest.raises(RuleViolationError, match="names its customer"):
        Order.place("order-1", "", 10)


def test_approved_state_name():
    order = placed()
    order.approve()
    assert order.state == APPROVED


@pytest.mark.parametrize("total", [1, 2**63 - 1])
def test_the_smallest_and_the_largest_order_totals_are_accepted(total):
    order = Order.place("order-1", "customer-7", total)
    assert (order.state, order.order_total) == (PENDING, total)
    assert order.pending[0].event_data == {"customer_id": "customer-7", "order_total": total}


@pytest.mark.parametrize("total", [0, -1])
def test_a_refused_total_names_the_order_and_the_value(total):
    with pytest.raises(RuleViolationError) as raised:
        Order.place("order-1", "customer-7", total)
    assert raised.value.aggregate_id == "order-1"
    assert repr(total) in raised.value.why


def test_an_order_without_a_customer_names_the_order_and_the_missing_field():
    with pytest.raises(RuleViolationError) as raised:
        Order.place("order-1", "", 10)
    assert raised.value.aggregate_id == "order-1"
    assert "customer_id" in raised.value.why
