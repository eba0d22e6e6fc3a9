"""The monolith commits "place order and reserve credit" as one transaction; across two services it cannot."""

from __future__ import annotations

import pytest

from labkit.layouts import LayoutError, PerServiceLayout
from labkit.layouts.monolith import FAIL_POINTS, Monolith, one_transaction_across, place_order_across_services


@pytest.fixture
def systems(tmp_path):
    with (
        Monolith(tmp_path / "monolith.duckdb") as monolith,
        PerServiceLayout(tmp_path / "customers.duckdb", tmp_path / "orders.duckdb") as services,
    ):
        for system in (monolith, services):
            system.customers.register("customer-7", "Ada Lovelace", 1000)
        yield monolith, services


def test_without_failures_both_architectures_approve_and_reserve(systems):
    monolith, services = systems
    one = monolith.place_order("order-1", "customer-7", 300)
    many = place_order_across_services(services, "order-1", "customer-7", 300)
    assert (one.order_state, one.credit_reserved, one.commits, one.consistent) == ("APPROVED", 300, 1, True)
    assert (many.order_state, many.credit_reserved, many.commits, many.consistent) == ("APPROVED", 300, 3, True)
    over = monolith.place_order("order-2", "customer-7", 5000)
    assert (over.order_state, over.credit_reserved, over.consistent) == ("REJECTED", 0, True)


@pytest.mark.parametrize("fail_after", FAIL_POINTS)
def test_a_failure_rolls_the_monolith_back_and_leaves_the_services_half_done(systems, fail_after):
    monolith, services = systems
    one = monolith.place_order("order-1", "customer-7", 300, fail_after=fail_after)
    assert (one.order_state, one.credit_reserved, one.commits, one.consistent) == (None, 0, 0, True)
    assert monolith.customers.get("customer-7")["reserved_credit"] == 0
    many = place_order_across_services(services, "order-1", "customer-7", 300, fail_after=fail_after)
    assert many.order_state == "PENDING" and not many.consistent
    assert many.credit_reserved == (300 if fail_after == "credit_reserved" else 0)
    assert many.commits == FAIL_POINTS.index(fail_after) + 1


def test_duckdb_refuses_one_transaction_over_the_two_service_databases(systems):
    _, services = systems
    place_order_across_services(services, "order-1", "customer-7", 300)
    refusal = one_transaction_across(services, "order-1", "customer-7")
    assert "a single transaction can only write to a single attached database" in refusal
    assert services.orders.get("order-1")["state"] == "APPROVED"  # the services are back, unchanged


def test_an_unknown_failure_point_is_named(systems):
    with pytest.raises(LayoutError, match="fail_after='halfway'"):
        systems[0].place_order("order-1", "customer-7", 300, fail_after="halfway")
