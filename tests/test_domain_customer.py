"""Customer: credit reserved within the limit, refused beyond it, released for cancelled orders."""

from __future__ import annotations

import pytest

from labkit.domain import Customer, RuleViolationError


def ada(limit: int = 1000) -> Customer:
    return Customer.register("customer-7", "Ada Lovelace", limit)


def test_reservations_within_the_limit_then_a_refusal():
    customer = ada()
    assert customer.reserve_credit("order-1", 600) is True
    assert customer.reserve_credit("order-2", 500) is False
    assert customer.reserve_credit("order-3", 400) is True
    assert (customer.reserved_credit, customer.available_credit) == (1000, 0)
    assert customer.reservations == {"order-1": 600, "order-3": 400}
    assert [e.event_type for e in customer.pending] == [
        "CustomerCreated",
        "CreditReserved",
        "CreditLimitExceeded",
        "CreditReserved",
    ]
    assert customer.pending[2].event_data == {"order_id": "order-2", "amount": 500, "available_credit": 400}


def test_release_gives_credit_back():
    customer = ada()
    customer.reserve_credit("order-1", 600)
    customer.release_credit("order-1")
    assert (customer.reserved_credit, customer.reservations) == (0, {})
    assert customer.pending[-1].event_data == {"order_id": "order-1", "amount": 600}


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        (lambda c: c.reserve_credit("order-1", 10), "reserved once"),
        (lambda c: c.release_credit("order-9"), "only reserved credit can be released"),
        (lambda c: c.reserve_credit("order-2", 0), "positive whole amount"),
        (lambda c: Customer("customer-8").reserve_credit("order-2", 5), "registered customer"),
        (lambda c: Customer.register("customer-9", "Bo", -1), "credit limit"),
    ],
)
def test_rules(command, rule):
    customer = ada()
    customer.reserve_credit("order-1", 10)
    with pytest.raises(RuleViolationError, match=rule):
        command(customer)
    assert customer.reserved_credit == 10
