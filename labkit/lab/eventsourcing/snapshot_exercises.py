"""Notebook 05's exercise: load an aggregate at a version from its newest usable snapshot and the events after it.

The learner writes `load_at(store, cls, aggregate_id, version)` with two calls of the store: `read_snapshot` (the
newest snapshot at or before a version, of one state version) and `read_stream` (one aggregate's events between two
versions). `check_load_at` runs it on a real DuckDB event store holding a customer's 30 events, with and without
snapshots, and compares what it returns with a full replay; it also counts the events the answer read, since a
snapshot that does not spare the reading is no snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labkit.domain import Customer
from labkit.events import EventStore, RecordedEvent, Repository, Snapshot
from labkit.lab.exercises import Case, Verdict, check, expect, refuse

CUSTOMER = "customer-7"
HISTORY = 30  # events: registered, then reservations, every third event releasing the latest one


class ReshapedCustomer(Customer):
    """Customer after a change to the shape of its state: state version 2, so snapshots of version 1 are stale."""

    aggregate_type = "Customer"
    state_version = 2


class SnapshotReader:
    """What the exercise may use of a real event store: its snapshots and its streams, counting the events read."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.events_read = 0

    def read_snapshot(
        self, aggregate_id: str, aggregate_type: str, state_version: int, *, at_or_before: int | None = None
    ) -> Snapshot | None:
        """The newest snapshot of `aggregate_id` at or before version `at_or_before`, taken at `state_version`."""
        return self._store.read_snapshot(aggregate_id, aggregate_type, state_version, at_or_before=at_or_before)

    def read_stream(
        self, aggregate_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """The aggregate's events from `from_version` to `to_version` (both included), in version order."""
        events = self._store.read_stream(aggregate_id, from_version=from_version, to_version=to_version)
        self.events_read += len(events)
        return events


LoadAt = Callable[[SnapshotReader, type[Customer], str, int], Any]


def customer_history(snapshots_at: tuple[int, ...] = ()) -> EventStore:
    """An in-memory store holding customer 7's 30 events (each version a different state), snapshots taken at
    `snapshots_at`."""
    store = EventStore(":memory:")
    repository = Repository(store)
    customer = Customer.register(CUSTOMER, "Ada Lovelace", 1_000_000)
    for version in range(2, HISTORY + 1):
        if version % 3 == 0:
            customer.release_credit(f"order-{version - 1}")
        else:
            customer.reserve_credit(f"order-{version}", version * 10)
    repository.save(customer)
    for version in snapshots_at:
        repository.snapshot(repository.load(Customer, CUSTOMER, version=version))
    return store


def _loads(version: int, snapshots_at: tuple[int, ...], cls: type[Customer], reads: int, hint: str) -> Case:
    """A case: loading `version` must give the full replay's state, reading `reads` events."""
    taken = f"snapshots at {' and '.join(map(str, snapshots_at))}" if snapshots_at else "no snapshot"
    shape = f", a class at state version {cls.state_version}" if cls.state_version != 1 else ""

    def run(answer: LoadAt) -> None:
        with customer_history(snapshots_at) as store:
            reader = SnapshotReader(store)
            loaded = answer(reader, cls, CUSTOMER, version)
            expected = Repository(store).load(cls, CUSTOMER, version=version, use_snapshots=False)
        expect(isinstance(loaded, cls), f"return the aggregate, an instance of {cls.__name__} (got {loaded!r})")
        expect(loaded.version == version, f"the aggregate should be at version {version}, not {loaded.version}: {hint}")
        expect(
            loaded.to_state() == expected.to_state(),
            f"at version {version} the state is {expected.to_state()}, yours is {loaded.to_state()}: {hint}",
        )
        expect(
            reader.events_read == reads,
            f"you read {reader.events_read} events; {reads} are enough here: {hint}",
        )

    return Case(f"given {taken}{shape}, when loading version {version}, then the same state, {reads} events read", run)


SNAPSHOT_CASES = (
    _loads(30, (), Customer, 30, "with no snapshot, start from a new aggregate and fold every event up to the version"),
    _loads(
        30, (10, 20), Customer, 10, "restore the newest snapshot (`restore(state, version=)`) and read only after it"
    ),
    _loads(
        15, (10, 20), Customer, 5, "the snapshot at 20 is after version 15: ask for one at or before it (at_or_before)"
    ),
    _loads(7, (10, 20), Customer, 7, "no snapshot is at or before version 7: replay from version 1"),
    _loads(
        30,
        (10, 20),
        ReshapedCustomer,
        30,
        "a snapshot of another state version is stale: ask read_snapshot for cls.state_version",
    ),
)


def check_load_at(answer: LoadAt) -> Verdict:
    """Judge a `load_at(store, cls, aggregate_id, version)` function: passed, or the first case it fails."""
    if not callable(answer):
        return refuse(f"give the function itself, load_at(store, cls, aggregate_id, version) (got {answer!r})")
    return check(answer, SNAPSHOT_CASES)
