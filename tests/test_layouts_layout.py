"""Building the layouts: the same generated data in a shared database and in one database per service."""

from __future__ import annotations

import json

import pytest

from labkit.layouts import build_layouts, open_per_service, open_shared
from labkit.workload import generate


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workload = generate(tmp_path_factory.mktemp("small"), customers=120, orders=1000, progress=False)
    return workload, build_layouts(workload, progress=False)


def test_both_layouts_hold_the_same_customers_orders_and_events(built):
    workload, files = built
    with open_shared(files) as shared, open_per_service(files) as per_service:
        assert shared.customers.count() == per_service.customers.count() == workload.customers
        assert shared.orders.count() == per_service.orders.count() == workload.orders
        customer_events = per_service.customers.head_position()
        order_events = per_service.orders.head_position()
        assert customer_events + order_events == workload.events
        # Each service's store holds its own aggregate type only, renumbered 1..n with no gaps.
        feed = per_service.orders.read_all(limit=order_events)
        assert [e.position for e in feed] == list(range(1, order_events + 1))
        assert {e.aggregate_type for e in feed} == {"Order"}
        assert {e.aggregate_type for e in per_service.customers.read_all(limit=customer_events)} == {"Customer"}
        assert [e.event_id for e in shared.orders.read_all(limit=order_events)] == [e.event_id for e in feed]
        # The view was caught up while building and resumes from its checkpoints.
        assert per_service.view.lag() == {"customers": 0, "orders": 0}
        assert per_service.view.row_count() == workload.orders
        some = shared.orders.get("order-17")
        assert per_service.orders.get("order-17") == some


def test_built_layouts_are_reused_while_the_workload_is_the_same(built):
    workload, files = built
    manifest = json.loads(files.manifest.read_text())
    assert manifest["built"]["workload"]["orders"] == workload.orders
    stamp = files.orders.stat().st_mtime_ns
    assert build_layouts(workload, progress=False) == files
    assert files.orders.stat().st_mtime_ns == stamp
    build_layouts(workload, progress=False, force=True)
    assert files.orders.stat().st_mtime_ns != stamp
