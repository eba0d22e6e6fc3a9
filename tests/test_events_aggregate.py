"""Aggregate declaration: state fields, @on handlers, emit, replay and its errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from labkit.domain import Order
from labkit.events import Aggregate, Event, EventStore, NewEvent, Repository, UnknownEventTypeError, on


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
    store.append([NewEvent.of("counter-1", "Counter", CounterRenamed(label="x"))], expected_version=1)
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
