"""The saga's participants on real event stores: each reaction runs once, refusals are recorded, not fatal."""

from __future__ import annotations

import pytest

from labkit.domain import Customer, Order
from labkit.events import EventStore, Repository, UnitOfWork
from labkit.services.saga import SAGA_FAILURES_SQL, saga_participant


@pytest.fixture
def stores(tmp_path):
    with EventStore(tmp_path / "order.duckdb") as orders, EventStore(tmp_path / "customer.duckdb") as customers:
        customers.connection.execute(SAGA_FAILURES_SQL)
        yield orders, customers


def react(store: EventStore, aggregate_class, events) -> int:
    with store.transaction():
        unit = UnitOfWork(store)
        saga_participant(aggregate_class)(events, unit)
        return unit.flush()


def test_each_order_gets_one_credit_answer_even_when_its_event_is_delivered_twice(stores):
    orders, customers = stores
    Repository(customers).save(Customer.register("customer-7", "Ada", 300))
    for i, total in enumerate([200, 200, 50], start=1):
        Repository(orders).save(Order.place(f"order-{i}", "customer-7", total))
    placed = orders.read_all()
    assert react(customers, Customer, placed) == 3
    assert react(customers, Customer, placed) == 0  # the same batch again: nothing new
    assert react(customers, Customer, placed[1:2]) == 0  # or one event of it
    answers = [
        (e.event_type, e.event_data["order_id"]) for e in customers.read_all() if e.event_type != "CustomerCreated"
    ]
    assert answers == [("CreditReserved", "order-1"), ("CreditLimitExceeded", "order-2"), ("CreditReserved", "order-3")]
    customer = Repository(customers).load(Customer, "customer-7")
    assert customer.reserved_credit == 250 and customer.reservations == {"order-1": 200, "order-3": 50}
    # Each answer names its cause, and carries the order's correlation id on.
    by_order = {e.event_data["order_id"]: e for e in customers.read_all() if "order_id" in e.event_data}
    assert by_order["order-2"].metadata["causation_id"] == str(placed[1].event_id)


def test_the_order_side_approves_and_rejects_from_the_credit_answers(stores):
    orders, customers = stores
    Repository(customers).save(Customer.register("customer-7", "Ada", 100))
    for i, total in enumerate([80, 80], start=1):
        Repository(orders).save(Order.place(f"order-{i}", "customer-7", total))
    react(customers, Customer, orders.read_all())
    assert react(orders, Order, customers.read_all()) == 2  # CustomerCreated is not the Order side's business
    assert react(orders, Order, customers.read_all()) == 0
    states = {o: Repository(orders).load(Order, o).state for o in ("order-1", "order-2")}
    assert states == {"order-1": "APPROVED", "order-2": "REJECTED"}


def test_a_refused_reaction_is_recorded_and_the_rest_of_the_batch_goes_on(stores):
    orders, customers = stores
    Repository(customers).save(Customer.register("customer-7", "Ada", 100))
    Repository(orders).save(Order.place("order-1", "customer-nobody", 10))
    Repository(orders).save(Order.place("order-2", "customer-7", 10))
    assert react(customers, Customer, orders.read_all()) == 1
    failures = customers.connection.execute("SELECT aggregate_id, event_type, error FROM saga_failures").fetchall()
    assert [(f[0], f[1]) for f in failures] == [("customer-nobody", "OrderCreated")]
    assert "no Customer customer-nobody" in failures[0][2]
