"""The persistence contract, written once: every back-end and every write path subclasses `RecorderContract`.

A subclass says how to open a store (`open_store`) and how to write (`write`: a list of (expected version, events)
for one aggregate each, committed together). The class name does not start with "Test", so pytest collects only the
subclasses (see tests/test_events_contract.py). The eventsourcing library tests its recorders the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from unittest.mock import ANY
from uuid import UUID, uuid4

import pyarrow as pa
import pytest

from labkit.events import (
    Aggregate,
    DuplicateEventError,
    Event,
    EventStoreError,
    MalformedEventError,
    NewEvent,
    RecordedEvent,
    Recorder,
    Snapshot,
    WrongAggregateTypeError,
    append_aggregates,
    on,
)


@dataclass(frozen=True)
class ContractTicked(Event):
    """The contract's own event: no domain needed."""

    n: int
    note: str | None = None


Batch = tuple[int | None, Sequence[NewEvent]]

TAIL_SCHEMA = pa.schema(
    [
        ("version", pa.int32()),
        ("position", pa.int64()),
        ("event_type", pa.string()),
        ("event_data", pa.string()),
        ("recorded_at", pa.timestamp("us")),
    ]
)


def ticks(aggregate_id: str, count: int, *, start: int = 1, kind: str = "Ticker", meta: bool = True) -> list[NewEvent]:
    """`count` new events of one aggregate, each with its own id and metadata."""
    return [
        NewEvent.of(
            aggregate_id,
            kind,
            ContractTicked(n=start + i, note=None if i % 2 else f"tick {start + i}"),
            metadata={"correlation_id": f"c-{aggregate_id}", "n": start + i} if meta else None,
        )
        for i in range(count)
    ]


class Clock:
    """A clock the test moves: every event written records its time, so the time can be checked whole."""

    def __init__(self) -> None:
        # Not UTC on purpose: the store must convert every time that enters it.
        self.now = datetime(2025, 3, 1, 14, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecorderContract:
    """What every back-end's recorder guarantees, whatever its write path."""

    # False for paths that write new events only (append_aggregates, bulk_load): a stored id is refused there.
    repeats_skipped = False

    def open_store(self, folder: Path, clock: Callable[[], datetime]) -> Recorder:
        raise NotImplementedError

    def write(self, store: Recorder, batches: Sequence[Batch]) -> None:
        """Write each batch (one aggregate's events at an expected version) in one transaction."""
        raise NotImplementedError

    def close(self, store: Recorder) -> None:
        store.close()  # type: ignore[attr-defined]

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def store(self, tmp_path: Path, clock: Clock) -> Iterator[Recorder]:
        store = self.open_store(tmp_path, clock)
        yield store
        self.close(store)

    def everything(self, store: Recorder) -> list[RecordedEvent]:
        return store.read_all(after_position=0, limit=1_000_000)

    def write_at(self, store: Recorder, aggregate_id: str, version: int) -> None:
        """One event of `aggregate_id` at `version` (no stream before it), through the raw row path."""
        rows = pa.table(
            {
                "aggregate_id": [aggregate_id],
                "aggregate_type": ["Ticker"],
                "version": pa.array([version], pa.int32()),
                "event_id": [str(uuid4())],
                "event_type": ["ContractTicked"],
                "event_data": ['{"n": 1, "note": null}'],
                "metadata": ["{}"],
                "recorded_at": pa.array([datetime(2025, 3, 1, 12, 0)], pa.timestamp("us")),
            }
        )
        with store.transaction():
            assert store.write_rows(rows) == 1

    # ---- writing ----------------------------------------------------------------------------------------------------

    def test_positions_and_versions_run_without_gaps(self, store: Recorder) -> None:
        self.write(store, [(0, ticks("a", 3)), (0, ticks("b", 2))])
        self.write(store, [(3, ticks("a", 2, start=4))])
        events = self.everything(store)
        assert [e.position for e in events] == [1, 2, 3, 4, 5, 6, 7]
        assert [(e.aggregate_id, e.version) for e in events] == [
            ("a", 1),
            ("a", 2),
            ("a", 3),
            ("b", 1),
            ("b", 2),
            ("a", 4),
            ("a", 5),
        ]
        assert store.head_position() == 7
        assert (store.stream_version("a"), store.stream_version("b"), store.stream_version("none")) == (5, 2, 0)
        # Three writes in one transaction on a store that holds events: each goes on from the one before it.
        self.write(store, [(5, ticks("a", 1, start=6)), (2, ticks("b", 1, start=3)), (0, ticks("c", 2))])
        assert [(e.aggregate_id, e.version, e.position) for e in store.read_all(after_position=7)] == [
            ("a", 6, 8),
            ("b", 3, 9),
            ("c", 1, 10),
            ("c", 2, 11),
        ]

    def test_records_come_back_whole(self, store: Recorder, clock: Clock) -> None:
        written = ticks("a", 2)
        self.write(store, [(0, written)])
        expected_time = clock.now.astimezone(UTC)
        assert store.read_stream("a") == [
            RecordedEvent(
                position=i + 1,
                aggregate_id="a",
                aggregate_type="Ticker",
                version=i + 1,
                event_id=event.event_id,
                event_type="ContractTicked",
                event_data=dict(event.event_data),
                metadata=dict(event.metadata),
                recorded_at=expected_time,
            )
            for i, event in enumerate(written)
        ]
        assert all(e.recorded_at.tzinfo is UTC for e in store.read_stream("a"))
        assert isinstance(store.read_stream("a")[0].event_id, UUID)

    def test_read_stream_bounds(self, store: Recorder) -> None:
        self.write(store, [(0, ticks("a", 5)), (0, ticks("b", 1))])
        assert [e.version for e in store.read_stream("a", from_version=2, to_version=4)] == [2, 3, 4]
        assert [e.version for e in store.read_stream("a", from_version=5)] == [5]
        assert [e.version for e in store.read_stream("a", to_version=1)] == [1]
        assert store.read_stream("nobody") == []

    def test_read_all_pages_and_filters(self, store: Recorder) -> None:
        self.write(store, [(0, ticks("a", 3)), (0, ticks("k", 2, kind="Other"))])
        assert [e.position for e in store.read_all(after_position=1, limit=2)] == [2, 3]
        assert [e.position for e in store.read_all(after_position=5)] == []
        assert [e.aggregate_id for e in store.read_all(aggregate_type="Other")] == ["k", "k"]
        assert [e.position for e in store.read_all(after_position=4, aggregate_type="Other")] == [5]

    def test_version_at_reads_the_past(self, store: Recorder, clock: Clock) -> None:
        self.write(store, [(0, ticks("a", 2))])
        between = clock.now + timedelta(seconds=1)
        clock.advance(10)
        self.write(store, [(2, ticks("a", 1, start=3))])
        assert store.version_at("a", between) == 2
        assert store.version_at("a", between.astimezone(UTC).replace(tzinfo=None)) == 2  # naive means UTC
        assert store.version_at("a", clock.now) == 3
        assert store.version_at("a", between - timedelta(days=1)) == 0

    def test_stored_ids(self, store: Recorder) -> None:
        written = ticks("a", 2)
        self.write(store, [(0, written)])
        other = uuid4()
        assert store.stored_ids([written[0].event_id, other]) == {written[0].event_id}
        assert store.stored_ids([]) == set()

    # ---- refusals leave the store as it was -------------------------------------------------------------------------

    def refused(self, store: Recorder, batches: Sequence[Batch], error: type[Exception], text: str) -> None:
        before = self.everything(store)
        with pytest.raises(error, match=text):
            self.write(store, batches)
        assert self.everything(store) == before

    def test_a_stream_that_moved_is_refused(self, store: Recorder) -> None:
        self.write(store, [(0, ticks("a", 2))])
        self.refused(store, [(1, ticks("a", 1, start=2))], EventStoreError, "a")
        self.refused(store, [(0, ticks("b", 1)), (5, ticks("a", 1, start=6))], EventStoreError, "a")

    def test_an_aggregate_keeps_its_type(self, store: Recorder) -> None:
        self.write(store, [(0, ticks("a", 1))])
        self.refused(store, [(1, ticks("a", 1, start=2, kind="Other"))], WrongAggregateTypeError, "stored as a Ticker")

    def test_an_id_twice_in_one_write_is_refused(self, store: Recorder) -> None:
        first = ticks("a", 1)[0]
        again = NewEvent(
            first.aggregate_id, first.aggregate_type, first.event_type, {"n": 2, "note": None}, first.event_id
        )
        self.refused(store, [(0, [first, again])], DuplicateEventError, str(first.event_id))

    def test_malformed_data_is_refused(self, store: Recorder) -> None:
        bad = NewEvent("a", "Ticker", "ContractTicked", {"n": "three", "note": None})
        self.refused(store, [(0, [*ticks("a", 1), bad])], MalformedEventError, "n")

    def test_a_stored_id_is_skipped_or_refused_as_the_path_says(self, store: Recorder) -> None:
        written = ticks("a", 2)
        self.write(store, [(0, written)])
        taken = written[0].event_id
        other = NewEvent("b", "Ticker", "ContractTicked", {"n": 1, "note": None}, taken)
        self.refused(store, [(0, [other])], DuplicateEventError, str(taken))  # an id names one event, on every path
        if self.repeats_skipped:
            self.write(store, [(0, written)])  # a retried call: a no-op
            assert [e.event_id for e in self.everything(store)] == [e.event_id for e in written]
        else:  # paths for new events only: the same events again are refused, even where the versions would fit
            self.refused(store, [(2, written)], DuplicateEventError, str(taken))

    def test_a_failed_transaction_writes_nothing(self, store: Recorder) -> None:
        self.write(store, [(0, ticks("a", 1))])
        with pytest.raises(RuntimeError, match="boom"), store.transaction():
            self.write(store, [(1, ticks("a", 1, start=2))])
            store.save_checkpoint("reader", 2)
            raise RuntimeError("boom")
        assert [e.version for e in self.everything(store)] == [1]
        assert store.read_checkpoint("reader") == 0
        self.write(store, [(1, ticks("a", 1, start=2))])  # positions go on without a gap
        assert [e.position for e in self.everything(store)] == [1, 2]

    def test_reads_reach_the_largest_version(self, store: Recorder) -> None:
        top = 2**31 - 1  # the largest version an INTEGER column holds: "no upper bound" must include it
        self.write_at(store, "a", top)
        assert [e.version for e in store.read_stream("a")] == [top]
        assert [e.version for e in store.read_stream("a", from_version=top)] == [top]
        assert store.read_stream("a", to_version=top - 1) == []
        assert store.stream_tail("a", after_version=0, after_position=0, to_version=None).column(
            "version"
        ).to_pylist() == [top]
        assert store.load_streams(["a"], "Ticker", 1)["a"][1].column("version").to_pylist() == [top]
        assert store.load_streams(["a"], "Ticker", 1, to_version=top - 1)["a"][1].num_rows == 0
        store.write_snapshot(Snapshot("a", top, 1, {"n": 1}, 1, None, None), "Ticker")
        assert store.read_snapshot("a", "Ticker", 1) == Snapshot("a", top, 1, {"n": 1}, 1, None, None)
        assert store.read_snapshot("a", "Ticker", 1, at_or_before=top - 1) is None
        assert store.load_streams(["a"], "Ticker", 1)["a"] == (Snapshot("a", top, 1, {"n": 1}, 1, None, None), ANY)

    def test_no_event_follows_a_stream_at_its_last_version(self, store: Recorder) -> None:
        top = 2**31 - 1
        self.write_at(store, "a", top)
        self.refused(store, [(top, ticks("a", 1))], EventStoreError, str(top))
        self.write(store, [(0, ticks("b", 1))])  # other streams go on
        assert [(e.aggregate_id, e.version) for e in self.everything(store)] == [("a", top), ("b", 1)]

    # ---- checkpoints and snapshots ----------------------------------------------------------------------------------

    def test_checkpoints(self, store: Recorder) -> None:
        assert store.read_checkpoint("reader") == 0
        store.save_checkpoint("reader", 7)
        store.save_checkpoint("other", 1)
        store.save_checkpoint("reader", 9)
        assert (store.read_checkpoint("reader"), store.read_checkpoint("other")) == (9, 1)

    def test_snapshots(self, store: Recorder, clock: Clock) -> None:
        self.write(store, [(0, ticks("a", 4))])
        assert store.position_of("a", 3) == 3
        assert store.position_of("a", 9) is None
        created = clock.now
        for version in (2, 4):
            store.write_snapshot(Snapshot("a", version, version, {"total": version}, 1, created, created), "Ticker")
        store.write_snapshot(Snapshot("a", 4, 4, {"old": True}, 0, None, None), "Ticker")
        latest = store.read_snapshot("a", "Ticker", 1)
        assert latest == Snapshot("a", 4, 4, {"total": 4}, 1, created.astimezone(UTC), created.astimezone(UTC))
        assert latest.created_at.tzinfo is UTC
        assert store.read_snapshot("a", "Ticker", 1, at_or_before=3).version == 2
        assert store.read_snapshot("a", "Ticker", 1, at_or_before=1) is None
        assert store.read_snapshot("a", "Other", 1) is None
        assert store.read_snapshot("a", "Ticker", 0).state == {"old": True}
        assert (store.count_snapshots(), store.count_snapshots("a"), store.count_snapshots("b")) == (3, 3, 0)

    def test_load_streams_reads_each_snapshot_and_its_tail(self, store: Recorder, clock: Clock) -> None:
        self.write(store, [(0, ticks("a", 4)), (0, ticks("b", 2))])
        store.write_snapshot(Snapshot("a", 3, 3, {"total": 3}, 1, clock.now, clock.now), "Ticker")
        loaded = store.load_streams(["a", "b", "none", "a"], "Ticker", 1)
        assert list(loaded) == ["a", "b", "none"]
        snapshot, tail = loaded["a"]
        assert snapshot is not None and (snapshot.version, snapshot.state) == (3, {"total": 3})
        assert tail.column("version").to_pylist() == [4]
        assert tail.column("position").to_pylist() == [4]
        assert loaded["b"][0] is None and loaded["b"][1].column("version").to_pylist() == [1, 2]
        assert loaded["none"][0] is None and loaded["none"][1].num_rows == 0
        whole = store.load_streams(["a"], "Ticker", None)["a"]
        assert whole[0] is None and whole[1].column("version").to_pylist() == [1, 2, 3, 4]
        upto = store.load_streams(["a"], "Ticker", 1, to_version=2)["a"]
        assert upto[0] is None and upto[1].column("version").to_pylist() == [1, 2]
        assert store.load_streams(["a"], "Ticker", 1) == {"a": store.load_stream("a", "Ticker", 1, to_version=None)}
        assert store.load_stream("a", "Ticker", 1, to_version=2) == upto
        # The same Arrow columns on every back-end, whatever the tail holds: Repository.load folds either.
        for _, tail in [loaded["a"], loaded["none"], store.load_stream("a", "Ticker", 1, to_version=3)]:
            assert tail.schema == TAIL_SCHEMA
        assert store.stream_tail("a", after_version=0, after_position=0, to_version=None).schema == TAIL_SCHEMA
        assert store.stream_tail("none", after_version=0, after_position=0, to_version=None).schema == TAIL_SCHEMA


class Ticker(Aggregate):
    """An aggregate of the contract's events: the write paths read only its id, type and pending events (and refuse
    an event type its class does not apply, so it applies the contract's)."""

    ticks: int = 0

    @on(ContractTicked)
    def _ticked(self, event: ContractTicked) -> None:
        self.ticks += 1


class Other(Ticker):
    """A second aggregate type."""


KINDS: dict[str, type[Aggregate]] = {"Ticker": Ticker, "Other": Other}


class AppendAggregatesPath:
    """The write path of `append_aggregates` (the unit of work's path for many aggregates), for any back-end."""

    def write(self, store: Recorder, batches: Sequence[Batch]) -> None:
        aggregates = []
        for expected, events in batches:
            aggregate = KINDS[events[0].aggregate_type](events[0].aggregate_id)
            aggregate.pending = list(events)
            aggregate.version = (expected or 0) + len(events)
            aggregates.append(aggregate)
        append_aggregates(store, aggregates)  # type: ignore[arg-type]


class AppendPath:
    """The write path of `append`: one call per aggregate, inside one transaction; a stored id is a retry."""

    repeats_skipped = True

    def write(self, store: Recorder, batches: Sequence[Batch]) -> None:
        with store.transaction():
            for expected, events in batches:
                store.append(events, expected_version=expected)
