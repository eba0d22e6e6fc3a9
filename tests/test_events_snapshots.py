"""Snapshots: snapshot + tail equals full replay at every version; an old state shape is never read."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.domain import Customer
from labkit.events import AggregateNotFoundError, EventStore, Repository, snapshot_count
from labkit.events.snapshots import latest_snapshot
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
