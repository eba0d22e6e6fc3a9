"""The services: each owns its DuckDB file (nothing else can open it), commands write events and state together."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import duckdb
import pytest

from labkit.domain import RuleViolationError
from labkit.layouts import (
    InProcessCustomerService,
    InProcessOrderService,
    PerServiceLayout,
    ServiceOfflineError,
    SharedLayout,
    UnknownEntityError,
)
from labkit.layouts.database import Response


@pytest.fixture
def layout(tmp_path):
    with PerServiceLayout(tmp_path / "customers.duckdb", tmp_path / "orders.duckdb") as opened:
        yield opened


def open_in_another_process(path) -> subprocess.CompletedProcess:
    code = f"import duckdb; duckdb.connect({str(path)!r}, read_only=True).sql('SELECT 1').fetchall()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_no_other_process_can_open_a_service_file_while_the_service_runs(tmp_path, layout):
    for name in ("customers.duckdb", "orders.duckdb"):
        refused = open_in_another_process(tmp_path / name)
        assert refused.returncode != 0
        assert "lock" in refused.stderr.lower()
    layout.close()
    assert open_in_another_process(tmp_path / "orders.duckdb").returncode == 0  # the owner is gone: the file is free


def test_no_other_code_in_this_process_can_open_or_attach_a_service_file(tmp_path, layout):
    with pytest.raises(duckdb.ConnectionException, match="different configuration"):
        duckdb.connect(str(tmp_path / "orders.duckdb"))
    with pytest.raises(duckdb.ConnectionException, match="different configuration"):
        duckdb.connect(str(tmp_path / "customers.duckdb"), read_only=True)
    with pytest.raises(duckdb.Error, match="already attached"):
        duckdb.connect().execute(f"ATTACH '{tmp_path / 'orders.duckdb'}' (READ_ONLY)")


def test_services_expose_an_api_and_no_connection_or_path(layout):
    for service in (layout.customers, layout.orders):
        public = {name: value for name, value in vars(service).items() if not name.startswith("_")}
        assert not any(isinstance(v, duckdb.DuckDBPyConnection) for v in public.values())
        assert "path" not in " ".join(dir(service)).lower()
        assert not [n for n in dir(service) if "connection" in n and not n.startswith("_")]


def test_a_command_appends_events_and_updates_the_state_row_together(layout):
    layout.customers.register("customer-1", "Ada Lovelace", 1000)
    layout.orders.place("order-1", "customer-1", 600)
    assert layout.customers.reserve_credit("customer-1", "order-1", 600) is True
    layout.orders.approve("order-1")
    layout.orders.ship("order-1")
    assert layout.orders.get("order-1")["state"] == "SHIPPED"
    assert layout.customers.get("customer-1")["reserved_credit"] == 600
    assert [e.event_type for e in layout.orders.read_all()] == [
        "OrderCreated",
        "OrderApproved",
        "OrderShipped",
    ]
    assert layout.customers.reserve_credit("customer-1", "order-2", 500) is False  # over the limit: recorded
    assert layout.customers.head_position() == 3
    # A refused command writes neither events nor state.
    with pytest.raises(RuleViolationError, match="only an APPROVED order can ship"):
        layout.orders.ship("order-1")
    assert layout.orders.head_position() == 3
    with pytest.raises(UnknownEntityError, match="holds no order 'order-9'"):
        layout.orders.ship("order-9")


def test_queries_answer_in_arrow_bytes_counted_at_the_boundary(layout):
    for i in range(5):
        layout.customers.register(f"customer-{i}", f"Name {i}", 10**6)
    response = layout.customers.customers(["customer-1", "customer-3", "customer-404"])
    assert isinstance(response, Response)
    assert response.rows == 2
    assert response.nbytes == len(response.payload) > 0
    assert response.table().column("customer_id").to_pylist() == ["customer-1", "customer-3"]
    later = layout.customers.customers(["customer-1"], created_after=datetime(2999, 1, 1, tzinfo=UTC))
    assert later.rows == 0


def test_taking_the_files_offline_refuses_calls_until_they_are_given_back(layout):
    layout.customers.register("customer-1", "Ada Lovelace", 1000)
    with layout.files_taken_offline() as (customers_path, orders_path):
        with pytest.raises(ServiceOfflineError, match="offline"):
            layout.customers.get("customer-1")
        with pytest.raises(ServiceOfflineError):
            layout.orders.head_position()
        assert customers_path.name == "customers.duckdb" and orders_path.name == "orders.duckdb"
    assert layout.customers.get("customer-1")["name"] == "Ada Lovelace"


def test_in_the_shared_layout_both_services_use_one_database_and_feed_their_own_events(tmp_path):
    with SharedLayout(tmp_path / "shared.duckdb") as shared:
        assert isinstance(shared.customers, InProcessCustomerService) and isinstance(
            shared.orders, InProcessOrderService
        )
        shared.customers.register("customer-1", "Ada Lovelace", 1000)
        shared.orders.place("order-1", "customer-1", 600)
        shared.customers.reserve_credit("customer-1", "order-1", 600)
        assert [e.event_type for e in shared.orders.read_all()] == ["OrderCreated"]
        assert [e.position for e in shared.customers.read_all()] == [1, 3]
        assert shared.customers.head_position() == 3 and shared.orders.head_position() == 2
        exported = shared.orders.export_events(after_position=0, up_to_position=3)
        assert exported.column("event_type").to_pylist() == ["OrderCreated"]
        joined = shared.sql("SELECT o.order_id, c.name FROM orders o JOIN customers c USING (customer_id)")
        assert joined.to_pylist() == [{"order_id": "order-1", "name": "Ada Lovelace"}]


def test_a_batch_commits_its_commands_together_or_not_at_all(layout):
    layout.customers.register("customer-1", "Ada Lovelace", 1000)
    with layout.orders.batch():
        layout.orders.place("order-1", "customer-1", 100)
        layout.orders.place("order-2", "customer-1", 200)
    assert layout.orders.head_position() == 2
    with pytest.raises(RuleViolationError), layout.orders.batch():
        layout.orders.place("order-3", "customer-1", 300)
        layout.orders.ship("order-1")  # PENDING: refused, so order-3 is rolled back too
    assert layout.orders.head_position() == 2
    with pytest.raises(UnknownEntityError):
        layout.orders.get("order-3")
