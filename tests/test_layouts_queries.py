"""The four methods agree: on generated data at size S, and on hand-made edge cases; bad parameters are named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from labkit.layouts import (
    MethodsDisagreeError,
    PerServiceLayout,
    ServiceOfflineError,
    SharedLayout,
    build_layouts,
    open_per_service,
    open_shared,
)
from labkit.layouts.queries import (
    METHODS,
    all_methods,
    api_composition,
    attach_join,
    attached,
    check_agreement,
    cqrs_view,
    shared_join,
)
from labkit.views import QueryParameterError
from labkit.workload import generate

CUTOFF = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    directory = tmp_path_factory.mktemp("S")
    files = build_layouts(generate(directory, size="S", progress=False), progress=False)
    with open_shared(files) as shared, open_per_service(files) as per_service:
        yield shared, per_service


@pytest.mark.parametrize(
    ("threshold", "created_after", "at_least"),
    [(10_000, "2025-01-01", 50), (100_000, "2024-01-01", 5), (0, "2023-01-01", 8000), (500, "2025-06-01", 100)],
)
def test_the_four_methods_return_the_same_rows_on_generated_data(generated, threshold, created_after, at_least):
    answers = all_methods(*generated, threshold, created_after)
    assert list(answers) == list(METHODS)
    rows = check_agreement(answers)
    assert rows.num_rows >= at_least  # a real answer, not four empty ones


def test_only_api_composition_moves_rows_between_services_and_it_batches(generated):
    shared, per_service = generated
    answer = api_composition(per_service, 0, "2023-01-01", batch=300)
    customers = len(set(answer.rows.column("customer_id").to_pylist()))
    assert answer.calls == 1 + -(-customers // 300)  # one Order request, then customers 300 at a time: no N+1
    assert answer.rows_moved == answer.rows.num_rows + customers
    assert answer.bytes_moved > answer.rows_moved * 10
    for other in (shared_join(shared, 0, "2023-01-01"), cqrs_view(per_service, 0, "2023-01-01")):
        assert (other.calls, other.rows_moved, other.bytes_moved) == (0, 0, 0)


def test_the_attach_join_takes_the_services_offline_while_it_runs(generated):
    _, per_service = generated
    with attached(per_service) as services:
        with pytest.raises(ServiceOfflineError):
            per_service.orders.orders_over(100)
        assert services.join(10_000, CUTOFF).rows.num_rows > 0
    assert per_service.orders.orders_over(100).rows > 0
    assert attach_join(per_service, 10_000, CUTOFF).offline_seconds > 0


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 6, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def hand_made(layouts: tuple[SharedLayout, PerServiceLayout], clock: Clock) -> None:
    """The same customers and orders written through both layouts' services."""
    customers = [
        ("customer-recent", CUTOFF + timedelta(days=30)),
        ("customer-at-cutoff", CUTOFF),  # created exactly at the cutoff: not "after" it
        ("customer-old", CUTOFF - timedelta(days=30)),
        ("customer-no-orders", CUTOFF + timedelta(days=1)),
    ]
    orders = [
        ("order-1", "customer-recent", 5000, True),
        ("order-2", "customer-recent", 1000, True),  # exactly at the threshold: not "over" it
        ("order-3", "customer-recent", 1001, True),
        ("order-4", "customer-recent", 9000, False),  # approved, not shipped
        ("order-5", "customer-at-cutoff", 5000, True),
        ("order-6", "customer-old", 5000, True),
        ("order-7", "customer-unknown", 5000, True),  # its customer exists in no Customer service
    ]
    for layout in layouts:
        for customer_id, created in customers:
            clock.now = created
            layout.customers.register(customer_id, customer_id.title(), 10**6)
        clock.now = CUTOFF + timedelta(days=60)
        for order_id, customer_id, total, ship in orders:
            layout.orders.place(order_id, customer_id, total)
            layout.orders.approve(order_id)
            if ship:
                layout.orders.ship(order_id)


@pytest.fixture
def hand_made_layouts(tmp_path):
    clock = Clock()
    shared = SharedLayout(tmp_path / "shared.duckdb", clock=clock)
    per_service = PerServiceLayout(tmp_path / "customers.duckdb", tmp_path / "orders.duckdb", clock=clock)
    with shared, per_service:
        hand_made((shared, per_service), clock)
        yield shared, per_service


def test_the_four_methods_agree_on_the_edge_cases(hand_made_layouts):
    shared, per_service = hand_made_layouts
    answers = all_methods(shared, per_service, 1000, CUTOFF)
    rows = check_agreement(answers)
    assert rows.column("order_id").to_pylist() == ["order-1", "order-3"]
    assert set(rows.column("customer_id").to_pylist()) == {"customer-recent"}
    assert check_agreement(all_methods(shared, per_service, 999, CUTOFF - timedelta(seconds=1))).column(
        "order_id"
    ).to_pylist() == ["order-5", "order-1", "order-2", "order-3"]  # ordered by customer_id, then order_id


def test_a_stale_view_is_caught_by_the_agreement_check(hand_made_layouts):
    """A ship the view has not applied yet: the agreement check names the order it lacks."""
    shared, per_service = hand_made_layouts
    per_service.view.catch_up()
    per_service.orders.ship("order-4")
    shared.orders.ship("order-4")
    answers = {"shared_join": shared_join(shared, 1000, CUTOFF), "cqrs_view": cqrs_view(per_service, 1000, CUTOFF)}
    with pytest.raises(MethodsDisagreeError, match=r"only in shared_join: \['order-4'\]"):
        check_agreement(answers)


@pytest.mark.parametrize("method", [shared_join, api_composition, cqrs_view, attach_join])
def test_bad_parameters_are_named_not_a_duckdb_traceback(generated, method):
    shared, per_service = generated
    layout = shared if method is shared_join else per_service
    with pytest.raises(QueryParameterError, match=r"^threshold='a lot' is not a number"):
        method(layout, "a lot", CUTOFF)
    with pytest.raises(QueryParameterError, match=r"^created_after='2025-13-01' is not a date"):
        method(layout, 100, "2025-13-01")
    assert per_service.orders.orders_over(100).rows > 0  # a refused call took nothing offline
