"""Snapshots: snapshot + tail equals full replay at every version; an old state shape is never read."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.domain import Customer
from labkit.events import AggregateNotFoundError, EventStore, Repository, Snapshot, snapshot_count
from labkit.events.snapshots import is_due, latest_snapshot, save_snapshot
from tests.budget import examples


def history(repository: Repository, amounts: list[int], *, batch: int = 1) -> Customer:
    customer = Customer.register("customer-7", "Ada Lovelace", 10_000)
    repository.save(customer)
    for i, amount in enumerate(amounts):
        if f"order-{i - 1}" in customer.reservations and amount % 3 == 0:
            customer.release_credit(f"order-{i - 1}")
        else:
            customer.reserve_credit(f"order-{i}", amount)
        if (i + 1) % batch == 0:
            repository.save(customer)
    repository.save(customer)
    return customer


@settings(max_examples=examples(30), deadline=None)
@given(amounts=st.lists(st.integers(1, 3000), max_size=30), every=st.integers(1, 7), batch=st.integers(1, 4))
def test_snapshot_plus_tail_equals_full_replay_at_every_version(amounts, every, batch):
    repository = Repository(EventStore(":memory:"), snapshot_every={Customer: every})
    latest = history(repository, amounts, batch=batch)
    assert (snapshot_count(repository.store) > 0) == (latest.version >= every)
    for version in range(1, latest.version + 1):
        with_snapshot = repository.load(Customer, "customer-7", version=version)
        from_events = repository.load(Customer, "customer-7", version=version, use_snapshots=False)
        assert with_snapshot.version == from_events.version == version
        assert with_snapshot.to_state() == from_events.to_state()
        assert (with_snapshot.created_at, with_snapshot.updated_at) == (from_events.created_at, from_events.updated_at)


def test_the_policy_snapshots_every_n_events():
    repository = Repository(EventStore(":memory:"), snapshot_every={Customer: 10})
    history(repository, [1] * 34)  # one save per command: versions 1..35
    versions = [
        row[0] for row in repository.store.connection.execute("SELECT version FROM snapshots ORDER BY 1").fetchall()
    ]
    assert versions == [10, 20, 30]
    snapshot = latest_snapshot(repository.store, Customer, "customer-7", at_or_before=25)
    assert snapshot is not None and snapshot.version == 20


def test_a_snapshot_of_an_older_state_shape_is_ignored_and_state_rebuilt_from_events():
    repository = Repository(EventStore(":memory:"), snapshot_every={Customer: 5})
    latest = history(repository, [100] * 8)  # versions 1..9, a snapshot at 5
    # An old release of Customer stored its state in another shape, as state version 0.
    repository.store.connection.execute(
        "INSERT INTO snapshots VALUES ('customer-7', 'Customer', 9, 9, ?::JSON, 0, NULL, NULL)",
        [orjson.dumps({"limit": 1, "used": 999}).decode()],
    )
    loaded = repository.load(Customer, "customer-7")
    assert loaded.to_state() == latest.to_state()
    assert latest_snapshot(repository.store, Customer, "customer-7").version == 5


def test_loading_what_is_not_there():
    repository = Repository(EventStore(":memory:"))
    with pytest.raises(AggregateNotFoundError, match="no Customer customer-1"):
        repository.load(Customer, "customer-1")
    repository.save(Customer.register("customer-1", "Bo", 10))
    with pytest.raises(AggregateNotFoundError, match="has no version 4: it is at version 1"):
        repository.load(Customer, "customer-1", version=4)
    with pytest.raises(ValueError, match="snapshot_every"):
        Repository(repository.store, snapshot_every={Customer: 0})


@pytest.mark.parametrize(
    ("every", "before", "after", "due"),
    [
        (None, 0, 10, False),
        (0, 0, 10, False),
        (1, 0, 1, True),
        (1, 1, 1, False),
        (3, 0, 2, False),
        (3, 2, 3, True),
        (3, 3, 5, False),
        (3, 5, 6, True),
        (3, 1, 7, True),
    ],
)
def test_a_snapshot_is_due_when_a_save_crosses_a_multiple_of_every(every, before, after, due):
    assert is_due(every, before, after) is due


def test_a_snapshot_is_taken_of_a_saved_version_only_and_keeps_the_aggregate_times():
    moments = iter(datetime(2025, 1, 1, minute, tzinfo=UTC) for minute in range(10))
    repository = Repository(EventStore(":memory:", clock=lambda: next(moments)))
    customer = Customer.register("customer-7", "Ada", 100)
    with pytest.raises(AggregateNotFoundError):
        save_snapshot(repository.store, customer)
    repository.save(customer)
    customer.reserve_credit("order-1", 10)
    repository.save(customer)
    taken = save_snapshot(repository.store, customer)
    assert taken == Snapshot(
        "customer-7",
        2,
        2,
        customer.to_state(),
        1,
        datetime(2025, 1, 1, 0, tzinfo=UTC),
        datetime(2025, 1, 1, 1, tzinfo=UTC),
    )
    assert latest_snapshot(repository.store, Customer, "customer-7") == taken
    assert latest_snapshot(repository.store, Customer, "customer-7", at_or_before=1) is None
    customer.reserve_credit("order-2", 5)
    with pytest.raises(AggregateNotFoundError) as unsaved:
        repository.snapshot(customer)  # version 3 is not saved yet
    assert "customer-7 version 3" in str(unsaved.value)
    repository.save(customer)
    repository.snapshot(customer)
    assert (snapshot_count(repository.store), snapshot_count(repository.store, "customer-7")) == (2, 2)
    assert snapshot_count(repository.store, "customer-8") == 0


def test_loading_from_a_snapshot_keeps_the_creation_and_update_times():
    moments = iter(datetime(2025, 1, 1, minute, tzinfo=UTC) for minute in range(10))
    repository = Repository(EventStore(":memory:", clock=lambda: next(moments)), snapshot_every={Customer: 1})
    customer = Customer.register("customer-7", "Ada", 100)
    repository.save(customer)
    customer.reserve_credit("order-1", 10)
    repository.save(customer)
    loaded = repository.load(Customer, "customer-7")
    assert (loaded.version, loaded.reserved_credit) == (2, 10)
    assert (loaded.created_at, loaded.updated_at) == (
        datetime(2025, 1, 1, 0, tzinfo=UTC),
        datetime(2025, 1, 1, 1, tzinfo=UTC),
    )
    assert (customer.created_at, customer.updated_at) == (loaded.created_at, loaded.updated_at)
