"""Group commit and the unit of work, on real DuckDB files: grouping, isolation of a refused command, fallback."""

from __future__ import annotations

import threading

import pytest

from labkit.domain import Customer, Order, RuleViolationError
from labkit.events import ConcurrencyError, EventStore, Repository
from labkit.events.unit import SMALL_GROUP, UnitOfWork
from labkit.services.groupcommit import GroupCommitter


@pytest.fixture
def store(tmp_path):
    with EventStore(tmp_path / "service.duckdb") as store:
        yield store


def place(order_id: str, total: int = 10):
    def command(unit: UnitOfWork) -> Order:
        order = Order.place(order_id, "customer-1", total)
        unit.add(order)
        return order

    return command


def test_concurrent_commands_share_commits_and_each_caller_gets_its_result(store):
    committer = GroupCommitter(store, max_batch=64)
    gate = threading.Event()
    committer.submit(lambda unit: gate.wait(5))  # holds the writer so the next commands queue up
    futures = [committer.submit(place(f"order-{i}")) for i in range(40)]
    committer.start()
    gate.set()
    orders = [f.result(10) for f in futures]
    committer.stop()
    assert [o.id for o in orders] == [f"order-{i}" for i in range(40)]
    assert all(o.version == 1 and o.pending == [] and o.created_at is not None for o in orders)
    assert store.count() == 40
    assert committer.stats.transactions <= 3  # 41 commands, at most a few commits
    assert committer.stats.commands == 41


def test_a_refused_command_fails_alone_and_the_rest_of_its_group_commits(store):
    committer = GroupCommitter(store)
    gate = threading.Event()
    committer.submit(lambda unit: gate.wait(5))
    good = committer.submit(place("order-1"))
    bad = committer.submit(place("order-2", total=-5))  # RuleViolationError before anything changes
    also_good = committer.submit(place("order-3"))
    committer.start()
    gate.set()
    assert good.result(10).state == also_good.result(10).state == "PENDING"
    with pytest.raises(RuleViolationError, match="positive whole amount"):
        bad.result(10)
    committer.stop()
    assert sorted(e.aggregate_id for e in store.read_all()) == ["order-1", "order-3"]


def test_a_command_that_breaks_the_transaction_is_retried_alone_so_only_it_fails(store):
    committer = GroupCommitter(store)
    gate = threading.Event()

    def broken(unit: UnitOfWork) -> None:
        unit.connection.execute("INSERT INTO no_such_table VALUES (1)")

    committer.submit(lambda unit: gate.wait(5))
    first = committer.submit(place("order-1"))
    failing = committer.submit(broken)
    last = committer.submit(place("order-2"))
    committer.start()
    gate.set()
    assert first.result(10).id == "order-1" and last.result(10).id == "order-2"
    with pytest.raises(Exception, match="no_such_table"):
        failing.result(10)
    committer.stop()
    assert store.count() == 2
    assert committer.stats.transactions >= 4  # the group, then each command alone


def test_two_commands_on_one_aggregate_in_one_group_see_each_other(store):
    Repository(store).save(Customer.register("customer-1", "Ada", 100))
    committer = GroupCommitter(store)
    gate = threading.Event()

    def reserve(order_id: str, amount: int):
        def command(unit: UnitOfWork) -> bool:
            customer = unit.load(Customer, "customer-1")
            reserved = customer.reserve_credit(order_id, amount)
            unit.add(customer)
            return reserved

        return command

    committer.submit(lambda unit: gate.wait(5))
    answers = [committer.submit(reserve(f"order-{i}", 40)) for i in range(3)]
    committer.start()
    gate.set()
    assert [a.result(10) for a in answers] == [True, True, False]  # the third sees 80 of 100 already reserved
    committer.stop()
    customer = Repository(store).load(Customer, "customer-1")
    assert customer.reserved_credit == 80 and customer.version == 4


@pytest.mark.parametrize("aggregates", [1, SMALL_GROUP + 3])
def test_flush_refuses_an_aggregate_that_moved_on_since_it_was_loaded(store, aggregates):
    repository = Repository(store)
    for i in range(aggregates):
        repository.save(Order.place(f"order-{i}", "customer-1", 10))
    with store.transaction():
        unit = UnitOfWork(store)
        orders = unit.load_many(Order, [f"order-{i}" for i in range(aggregates)])
        assert len(orders) == aggregates
    stale = orders["order-0"]
    newer = repository.load(Order, "order-0")
    newer.approve()
    repository.save(newer)
    with (
        pytest.raises(ConcurrencyError, match="order-0 is at version 2, you expected 1"),
        store.transaction(),
    ):
        unit = UnitOfWork(store)
        for order in orders.values():
            order.reject("too late")
            unit.add(order)
        unit.flush()
    assert stale.state == "REJECTED"  # the object moved, the store did not
    assert repository.load(Order, "order-0").state == "APPROVED"
    assert store.count() == aggregates + 1


def test_load_many_matches_replay_and_skips_unknown_ids(store):
    repository = Repository(store)
    customer = Customer.register("customer-1", "Ada", 100)
    customer.reserve_credit("order-1", 30)
    customer.reserve_credit("order-2", 90)
    repository.save(customer)
    with store.transaction():
        unit = UnitOfWork(store)
        found = unit.load_many(Customer, ["customer-1", "customer-404"])
    assert list(found) == ["customer-1"]
    loaded = found["customer-1"]
    replayed = repository.load(Customer, "customer-1")
    assert loaded.to_state() == replayed.to_state() and loaded.version == replayed.version == 3
