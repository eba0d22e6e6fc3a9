"""Aggregate declaration: state fields, @on handlers, emit, replay and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar
from uuid import uuid4

import pytest

from labkit.domain import Order
from labkit.events import (
    Aggregate,
    Event,
    EventStore,
    NewEvent,
    RecordedEvent,
    Repository,
    UnknownEventTypeError,
    WrongAggregateTypeError,
    on,
)


@dataclass(frozen=True)
class CounterBumped(Event):
    by: int


@dataclass(frozen=True)
class CounterRenamed(Event):
    label: str


class Counter(Aggregate):
    total: int = 0
    history: list = []  # noqa: RUF012 (copied per aggregate)

    def bump(self, by: int) -> None:
        self.emit(CounterBumped(by=by))

    @on(CounterBumped)
    def _bumped(self, event: CounterBumped) -> None:
        self.total += event.by
        self.history.append(event.by)


def test_declared_state_handlers_and_emit():
    counter = Counter("counter-1")
    counter.bump(2)
    counter.bump(3)
    assert counter.to_state() == {"total": 5, "history": [2, 3]}
    assert Counter("counter-2").history == []  # mutable defaults are not shared
    assert (counter.version, counter.expected_version) == (2, 0)
    assert [e.event_type for e in counter.pending] == ["CounterBumped", "CounterBumped"]
    assert Counter.aggregate_type == "Counter" and set(Counter.handlers) == {"CounterBumped"}


def test_state_fields_need_defaults():
    with pytest.raises(TypeError, match="default value"):

        class Broken(Aggregate):
            total: int


def test_replay_of_an_event_type_without_handler_names_type_aggregate_and_position():
    store = EventStore(":memory:")
    repository = Repository(store)
    counter = Counter("counter-1")
    counter.bump(1)
    repository.save(counter)
    # append refuses an event its aggregate does not apply (test_events_hardening); a store written before that
    # rule, or by hand, may hold one: loading names it.
    store.connection.execute(
        "INSERT INTO events VALUES (2, 'counter-1', 'Counter', 2, uuid(), 'CounterRenamed', '{\"label\": \"x\"}', '{}', now())"
    )
    with pytest.raises(UnknownEventTypeError) as raised:
        repository.load(Counter, "counter-1")
    message = str(raised.value)
    assert "'CounterRenamed'" in message and "counter-1" in message and "position 2" in message
    with pytest.raises(UnknownEventTypeError, match="position 2"):
        Counter("counter-1").replay(store.read_stream("counter-1"))


def test_an_event_type_unknown_to_labkit_met_in_the_table_is_named(tmp_path):
    store = EventStore(tmp_path / "e.duckdb")
    store.connection.execute(
        "INSERT INTO events VALUES (1, 'order-1', 'Order', 1, uuid(), 'OrderTeleported', '{}', '{}', now())"
    )
    with pytest.raises(UnknownEventTypeError, match=r"'OrderTeleported' in Order order-1 at position 1"):
        Repository(store).load(Order, "order-1")
    with pytest.raises(UnknownEventTypeError, match="position 1"):
        store.read_all()[0].event()


def test_event_type_names_are_unique():
    with pytest.raises(TypeError, match="already defined"):

        @dataclass(frozen=True)
        class OrderCreated(Event):  # same name as the domain's event
            total: int


class Labelled:
    """A mixin that is no aggregate: its annotations are not state."""

    label: str


def shops() -> tuple[type[Aggregate], type[Aggregate]]:
    """Aggregate classes made inside the test (class creation is what these tests check)."""

    class Shop(Aggregate):
        aggregate_type = "Store"
        mode: ClassVar[str] = "retail"
        visits: int = 0
        tags: list = ["new"]  # noqa: RUF012 (copied per aggregate)

    class BigShop(Labelled, Shop):
        floors: int = 1
        updated_at: datetime | None  # bookkeeping, declared again: still not state

    return Shop, BigShop


def test_state_fields_come_from_every_aggregate_class_in_the_hierarchy_with_their_defaults():
    shop_class, big_shop_class = shops()
    assert shop_class.state_fields == {"visits": 0, "tags": ["new"]}
    assert big_shop_class.state_fields == {"visits": 0, "tags": ["new"], "floors": 1}
    shop = big_shop_class("shop-1")
    assert shop.to_state() == {"visits": 0, "tags": ["new"], "floors": 1}
    assert (shop.id, shop.version, shop.created_at, shop.updated_at, shop.pending) == ("shop-1", 0, None, None, [])


def test_the_aggregate_type_is_the_class_name_unless_declared():
    shop_class, big_shop_class = shops()
    assert (shop_class.aggregate_type, big_shop_class.aggregate_type) == ("Store", "BigShop")
    assert shop_class("shop-1").aggregate_type == "Store"


def test_handlers_are_inherited_and_a_subclass_may_replace_one():
    class LoudCounter(Counter):
        @on(CounterRenamed)
        def _renamed(self, event: CounterRenamed) -> None:
            self.history.append(event.label)

    class DoubleCounter(LoudCounter):
        @on(CounterBumped)
        def _bumped_twice(self, event: CounterBumped) -> None:
            self.total += 2 * event.by

    counter = DoubleCounter("counter-1")
    counter.emit(CounterBumped(by=3))
    counter.emit(CounterRenamed(label="x"))
    assert set(DoubleCounter.handlers) == {"CounterBumped", "CounterRenamed"}
    assert (counter.total, counter.history, counter.version) == (6, ["x"], 2)


def test_emit_queues_the_envelope_with_its_id_and_metadata():
    counter = Counter("counter-1")
    event_id = uuid4()
    counter.emit(CounterBumped(by=2), event_id=event_id, metadata={"correlation_id": "c"})
    assert counter.pending == [
        NewEvent("counter-1", "Counter", "CounterBumped", {"by": 2}, event_id, {"correlation_id": "c"})
    ]
    assert (counter.version, counter.expected_version) == (1, 0)


def test_applying_an_event_without_handler_names_the_type_and_the_handled_ones():
    counter = Counter("counter-1")
    with pytest.raises(UnknownEventTypeError) as raised:
        counter.apply(CounterRenamed(label="x"))
    assert "CounterRenamed" in str(raised.value) and "CounterBumped" in str(raised.value)
    assert counter.version == 0
    with pytest.raises(UnknownEventTypeError, match="position 12"):
        counter.apply(CounterRenamed(label="x"), position=12)


def recorded(version: int, by: int, minute: int) -> RecordedEvent:
    return RecordedEvent(
        position=10 + version,
        aggregate_id="counter-1",
        aggregate_type="Counter",
        version=version,
        event_id=uuid4(),
        event_type="CounterBumped",
        event_data={"by": by},
        metadata={},
        recorded_at=datetime(2025, 1, 1, 12, minute, tzinfo=UTC),
    )


def test_replay_folds_events_and_keeps_the_first_and_last_times():
    counter = Counter("counter-1").replay([recorded(1, 2, 0), recorded(2, 3, 5), recorded(3, 4, 9)])
    assert (counter.total, counter.history, counter.version) == (9, [2, 3, 4], 3)
    assert counter.created_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert counter.updated_at == datetime(2025, 1, 1, 12, 9, tzinfo=UTC)
    assert counter.pending == []


def test_replay_after_a_snapshot_does_not_invent_a_creation_time():
    counter = Counter("counter-1")
    counter.restore({"total": 2, "history": [2]}, version=1)
    counter.replay([recorded(2, 3, 5)])
    assert (counter.total, counter.version, counter.created_at) == (5, 2, None)
    assert counter.updated_at == datetime(2025, 1, 1, 12, 5, tzinfo=UTC)


def test_replay_refuses_a_gap_and_names_an_unknown_type():
    with pytest.raises(ValueError) as gap:
        Counter("counter-1").replay([recorded(2, 3, 5)])
    assert all(value in str(gap.value) for value in ("counter-1", "version 2", "version 0"))  # what is at fault
    renamed = RecordedEvent(
        **{**recorded(1, 1, 0).__dict__, "event_type": "CounterRenamed", "event_data": {"label": "x"}}
    )
    with pytest.raises(UnknownEventTypeError) as raised:
        Counter("counter-1").replay([renamed])
    assert "CounterRenamed" in str(raised.value) and "position 11" in str(raised.value)


def test_fold_json_folds_many_events_and_names_the_position_of_an_unknown_one():
    counter = Counter("counter-1")
    counter.fold_json(["CounterBumped", "CounterBumped"], ['{"by": 2}', '{"by": 5}'], lambda i: 100 + i)
    assert (counter.total, counter.history, counter.version) == (7, [2, 5], 2)
    counter.fold_json(["CounterBumped"], ['{"by": 1}'], lambda i: 102 + i)
    assert (counter.total, counter.version) == (8, 3)
    asked = []
    with pytest.raises(UnknownEventTypeError, match="position 101"):
        counter.fold_json(
            ["CounterBumped", "CounterRenamed"], ['{"by": 1}', '{"label": "x"}'], lambda i: asked.append(i) or 100 + i
        )
    assert asked == [1]


def test_state_is_copied_out_and_in():
    counter = Counter("counter-1")
    counter.bump(1)
    state = counter.to_state()
    state["history"].append(99)
    assert counter.history == [1]
    restored = Counter("counter-2")
    restored.restore(state, version=4)
    state["history"].append(100)
    assert (restored.to_state(), restored.version) == ({"total": 1, "history": [1, 99]}, 4)
    with pytest.raises(ValueError, match="history"):
        Counter("counter-3").restore({"total": 1}, version=1)


def test_an_aggregate_shows_its_id_version_and_state():
    counter = Counter("counter-1")
    counter.bump(2)
    assert repr(counter) == "Counter('counter-1', version=1, total=2, history=[2])"


def test_the_store_refuses_an_event_an_aggregate_class_made_here_does_not_apply() -> None:
    class Tally(Aggregate):
        aggregate_type = f"Tally{uuid4().hex[:8]}"  # a type of this run's own: declared by this class only
        bumps: int = 0

        @on(CounterBumped)
        def _bumped(self, event: CounterBumped) -> None:
            self.bumps += 1

    store = EventStore(":memory:")
    with pytest.raises(WrongAggregateTypeError):
        store.append([NewEvent.of("t-1", Tally.aggregate_type, CounterRenamed(label="x"))], expected_version=0)
    assert store.count() == 0
    store.append([NewEvent.of("t-1", Tally.aggregate_type, CounterBumped(by=1))], expected_version=0)
    assert Repository(store).load(Tally, "t-1").bumps == 1
