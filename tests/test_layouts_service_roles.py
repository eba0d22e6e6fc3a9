"""Database per service on PostgreSQL: each service's role reads its own schema and is refused the others'."""

from __future__ import annotations

import psycopg
import pytest

from labkit.domain import Customer, Order
from labkit.events.postgres import PostgresEventStore
from labkit.layouts.errors import LayoutError
from labkit.layouts.service_roles import service_database, try_to_read, url_as


def test_a_service_role_is_refused_another_services_tables(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as admin:  # left by an earlier run on a named server
        admin.execute('DROP SCHEMA IF EXISTS "order" CASCADE; DROP SCHEMA IF EXISTS customer CASCADE')
    order_url = service_database(postgres_url, "order")
    customer_url = service_database(postgres_url, "customer")
    assert service_database(postgres_url, "order") == order_url  # a second call changes nothing
    orders = PostgresEventStore(order_url, schema="order")
    customers = PostgresEventStore(customer_url, schema="customer")
    try:
        orders.append(Order.place("order-1", "customer-1", 5).pending, expected_version=0)
        customers.append(Customer.register("customer-1", "Ada", 100).pending, expected_version=0)
        assert try_to_read(order_url, "order.events") == "ok"
        assert try_to_read(order_url, "customer.events").startswith("InsufficientPrivilege")
        assert try_to_read(customer_url, "order.events").startswith("InsufficientPrivilege")
        assert try_to_read(postgres_url, "customer.events") == "ok"  # the shared-database contrast: one role sees all
    finally:
        orders.close()
        customers.close()


@pytest.mark.parametrize("service", ["Order", "order-service", "", "x" * 40, "1order"])
def test_service_names_that_cannot_name_a_role_are_refused(postgres_url: str, service: str) -> None:
    with pytest.raises(LayoutError, match="service name"):
        service_database(postgres_url, service)


def test_url_as_keeps_the_server_and_changes_the_user() -> None:
    from psycopg.conninfo import conninfo_to_dict

    assert conninfo_to_dict(url_as("postgresql://postgres:pw@127.0.0.1:5/labkit", "order_service")) == {
        "user": "order_service",
        "host": "127.0.0.1",
        "port": "5",
        "dbname": "labkit",
    }
