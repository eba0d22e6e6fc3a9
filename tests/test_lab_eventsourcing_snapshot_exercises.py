"""Notebook 05's exercise checker: two different correct loaders pass, wrong ones fail on the case that shows it."""

from __future__ import annotations

import itertools

from labkit.events import Aggregate
from labkit.lab.eventsourcing.snapshot_exercises import (
    SNAPSHOT_CASES,
    ReshapedCustomer,
    SnapshotReader,
    check_load_at,
    customer_history,
)


def restore_then_replay(store: SnapshotReader, cls: type[Aggregate], aggregate_id: str, version: int) -> Aggregate:
    """The notebook's solution: the newest usable snapshot, restored, then `replay` of the events after it."""
    aggregate = cls(aggregate_id)
    snapshot = store.read_snapshot(aggregate_id, cls.aggregate_type, cls.state_version, at_or_before=version)
    if snapshot is not None:
        aggregate.restore(snapshot.state, version=snapshot.version)
    return aggregate.replay(store.read_stream(aggregate_id, from_version=aggregate.version + 1, to_version=version))


def apply_one_by_one(store: SnapshotReader, cls: type[Aggregate], aggregate_id: str, version: int) -> Aggregate:
    """Another correct answer: start from the snapshot or from nothing, apply each event through its handler."""
    from labkit.events import event_class

    snapshot = store.read_snapshot(aggregate_id, cls.aggregate_type, cls.state_version, at_or_before=version)
    aggregate = cls(aggregate_id)
    start = 1
    if snapshot:
        aggregate.restore(dict(snapshot.state), version=snapshot.version)
        start = snapshot.version + 1
    if start <= version:
        for record in store.read_stream(aggregate_id, from_version=start, to_version=version):
            aggregate.apply(event_class(record.event_type).trusted(record.event_data))
    return aggregate


def test_two_different_correct_answers_pass_every_case():
    for answer in (restore_then_replay, apply_one_by_one):
        verdict = check_load_at(answer)
        assert verdict.ok, str(verdict)
        assert len(verdict.passed) == len(SNAPSHOT_CASES) == 5


def test_the_history_changes_state_at_every_version_so_a_wrong_start_shows():
    with customer_history((10, 20)) as store:
        reader = SnapshotReader(store)
        states = [restore_then_replay(reader, ReshapedCustomer, "customer-7", v).to_state() for v in range(1, 31)]
        assert store.count_snapshots() == 2
    assert all(a != b for a, b in itertools.pairwise(states))


def test_ignoring_the_version_when_choosing_the_snapshot_fails_on_version_15():
    def newest_snapshot(store, cls, aggregate_id, version):
        aggregate = cls(aggregate_id)
        snapshot = store.read_snapshot(aggregate_id, cls.aggregate_type, cls.state_version)  # not at_or_before
        if snapshot is not None:
            aggregate.restore(snapshot.state, version=snapshot.version)
        return aggregate.replay(store.read_stream(aggregate_id, from_version=aggregate.version + 1, to_version=version))

    verdict = check_load_at(newest_snapshot)
    assert verdict.failed == "given snapshots at 10 and 20, when loading version 15, then the same state, 5 events read"
    assert "the aggregate should be at version 15, not 20" in (verdict.hint or "")
    assert "at_or_before" in (verdict.hint or "")
    assert len(verdict.passed) == 2


def test_a_full_replay_gives_the_right_state_but_fails_on_what_it_read():
    def full_replay(store, cls, aggregate_id, version):
        return cls(aggregate_id).replay(store.read_stream(aggregate_id, to_version=version))

    verdict = check_load_at(full_replay)
    assert (
        verdict.failed == "given snapshots at 10 and 20, when loading version 30, then the same state, 10 events read"
    )
    assert (verdict.hint or "").startswith("you read 30 events; 10 are enough here")


def test_a_hard_coded_state_version_fails_on_the_reshaped_class():
    def version_one(store, cls, aggregate_id, version):
        aggregate = cls(aggregate_id)
        snapshot = store.read_snapshot(aggregate_id, cls.aggregate_type, 1, at_or_before=version)
        if snapshot is not None:
            aggregate.restore(snapshot.state, version=snapshot.version)
        return aggregate.replay(store.read_stream(aggregate_id, from_version=aggregate.version + 1, to_version=version))

    verdict = check_load_at(version_one)
    assert verdict.failed == (
        "given snapshots at 10 and 20, a class at state version 2, when loading version 30, then the same state, "
        "30 events read"
    )
    assert "cls.state_version" in (verdict.hint or "")


def test_reading_from_version_1_after_a_snapshot_is_named_not_a_traceback():
    def rereads(store, cls, aggregate_id, version):
        aggregate = cls(aggregate_id)
        snapshot = store.read_snapshot(aggregate_id, cls.aggregate_type, cls.state_version, at_or_before=version)
        if snapshot is not None:
            aggregate.restore(snapshot.state, version=snapshot.version)
        return aggregate.replay(store.read_stream(aggregate_id, to_version=version))

    verdict = check_load_at(rereads)
    assert (
        verdict.failed == "given snapshots at 10 and 20, when loading version 30, then the same state, 10 events read"
    )
    assert (verdict.hint or "").startswith("your code raised ValueError: customer-7: event version 1 does not follow")
    assert "give the function itself" in (check_load_at(None).hint or "")
