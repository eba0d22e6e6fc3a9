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


def test_a_credit_limit_of_zero_is_accepted_and_reserves_nothing():
    customer = Customer.register("customer-8", "Bo", 0)
    assert (customer.credit_limit, customer.available_credit) == (0, 0)
    assert customer.pending[0].event_data == {"name": "Bo", "credit_limit": 0}
    assert customer.reserve_credit("order-1", 1) is False


def test_the_smallest_reservation_is_one_and_the_whole_limit_can_be_reserved():
    customer = ada(limit=2)
    assert customer.reserve_credit("order-1", 1) is True
    assert customer.reserve_credit("order-2", 1) is True
    assert (customer.reserved_credit, customer.available_credit) == (2, 0)


@pytest.mark.parametrize(
    ("command", "aggregate_id", "named"),
    [
        (lambda c: Customer.register("customer-9", "Bo", -1), "customer-9", ["-1"]),
        (lambda c: c.reserve_credit("order-2", 0), "customer-7", ["0", "order-2"]),
        (lambda c: c.reserve_credit("order-2", -1), "customer-7", ["-1", "order-2"]),
        (lambda c: c.reserve_credit("order-1", 10), "customer-7", ["order-1", "25"]),
        (lambda c: c.release_credit("order-9"), "customer-7", ["order-9"]),
        (lambda c: Customer("customer-8").reserve_credit("order-2", 5), "customer-8", ["CustomerCreated"]),
    ],
)
def test_a_broken_rule_names_the_customer_and_the_values_at_fault(command, aggregate_id, named):
    customer = ada()
    customer.reserve_credit("order-1", 25)
    pending = list(customer.pending)
    with pytest.raises(RuleViolationError) as raised:
        command(customer)
    assert raised.value.aggregate_id == aggregate_id
    assert all(value in raised.value.why for value in named), raised.value.why
    assert customer.pending == pending
