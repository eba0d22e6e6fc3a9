"""Events: field checks, the registry of event types, the envelopes and their JSON form."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from labkit.domain import OrderApproved, OrderCreated
from labkit.events import Event, MalformedEventError, NewEvent, RecordedEvent, UnknownEventTypeError, derived_event_id
from labkit.events.event import check_data, event_class, field_names, field_types


def gauge_read() -> type[Event]:
    """A fresh event class with every kind of field an event may declare (made in the test: classes cache their
    field types, so a class made at import would be checked once for all tests)."""

    @dataclass(frozen=True)
    class GaugeRead(Event):
        label: str
        count: int
        level: float
        ok: bool
        note: str | None
        spare: typing.Optional[int]  # noqa: UP045 (the older spelling must work too)

    return GaugeRead


@pytest.fixture
def gauge() -> type[Event]:
    return gauge_read()


GOOD = {"label": "g", "count": 1, "level": 0.5, "ok": True, "note": None, "spare": None}


def test_field_types_and_names_follow_the_declaration(gauge):
    assert field_types(gauge) == {
        "label": ((str,), False),
        "count": ((int,), False),
        "level": ((int, float), False),
        "ok": ((bool,), False),
        "note": ((str,), True),
        "spare": ((int,), True),
    }
    assert field_names(gauge) == ("label", "count", "level", "ok", "note", "spare")
    assert field_names(OrderApproved) == ()


@pytest.mark.parametrize(
    "data",
    [GOOD, {**GOOD, "level": 2}, {**GOOD, "note": "n", "spare": 0}, {**GOOD, "ok": False, "count": -(2**63)}],
)
def test_check_data_accepts_every_declared_type(gauge, data):
    check_data(gauge, data)
    assert gauge.from_data(data).to_data() == data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([1, 2], "(event_data)"),
        ({**GOOD, "extra": 1}, "extra"),
        ({k: v for k, v in GOOD.items() if k != "count"}, "count"),
        ({**GOOD, "count": True}, "count"),
        ({**GOOD, "count": 1.0}, "count"),
        ({**GOOD, "count": None}, "count"),
        ({**GOOD, "level": False}, "level"),
        ({**GOOD, "level": "0.5"}, "level"),
        ({**GOOD, "ok": 1}, "ok"),
        ({**GOOD, "label": None}, "label"),
        ({**GOOD, "note": 3}, "note"),
        ({**GOOD, "spare": False}, "spare"),
    ],
)
def test_check_data_refuses_naming_the_event_type_and_the_field(gauge, data, field):
    with pytest.raises(MalformedEventError) as raised:
        check_data(gauge, data)
    assert (raised.value.event_type, raised.value.field) == ("GaugeRead", field)


def test_an_event_checks_its_fields_when_made(gauge):
    with pytest.raises(MalformedEventError) as raised:
        gauge(label="g", count="one", level=0.5, ok=True, note=None, spare=None)
    assert raised.value.field == "count"


def test_event_fields_must_be_json_native_types_or_optional_ones():
    @dataclass(frozen=True)
    class ListedThings(Event):
        things: list

    @dataclass(frozen=True)
    class EitherThing(Event):
        thing: int | str

    for cls in (ListedThings, EitherThing):
        with pytest.raises(TypeError):
            field_types(cls)

    class NotADataclass(Event):
        pass

    with pytest.raises(TypeError):
        field_types(NotADataclass)


def test_a_subclassed_event_has_its_own_fields(gauge):
    assert len(field_types(gauge)) == 6  # the parent's are known first

    @dataclass(frozen=True)
    class GaugeReset(gauge):
        resets: int = 0

    assert field_names(GaugeReset) == ("label", "count", "level", "ok", "note", "spare", "resets")
    assert field_names(gauge) == ("label", "count", "level", "ok", "note", "spare")


def test_the_registry_knows_every_event_type_by_its_class_name(gauge):
    assert gauge.event_type == "GaugeRead"
    assert event_class("GaugeRead") is gauge
    assert event_class("OrderCreated") is OrderCreated
    with pytest.raises(UnknownEventTypeError, match="OrderTeleported"):
        event_class("OrderTeleported")


def test_the_same_class_defined_again_by_its_own_module_is_not_a_clash():
    source = "from dataclasses import dataclass\n@dataclass(frozen=True)\nclass MeterReset(Event):\n    meter: str\n"
    code = compile(source, __file__, "exec")
    first: dict = {}
    again: dict = {}
    exec(code, {"Event": Event, "__name__": __name__}, first)
    exec(code, {"Event": Event, "__name__": __name__}, again)  # the module reloaded
    assert event_class("MeterReset") is again["MeterReset"] is not first["MeterReset"]
    with pytest.raises(TypeError):  # the same name in another module
        exec(code, {"Event": Event, "__name__": "elsewhere"}, {})
    assert event_class("MeterReset") is again["MeterReset"]


def test_derived_event_ids_depend_on_the_cause_and_the_purpose_only():
    cause = UUID("00000000-0000-4000-8000-000000000101")
    derived = derived_event_id(cause, "reserve credit")
    assert derived == derived_event_id(str(cause), "reserve credit")
    assert derived.version == 5
    assert derived not in {derived_event_id(cause, "approve"), derived_event_id(uuid4(), "reserve credit")}
    # Stored ids: the derivation must stay the same from one release to the next.
    assert derived == UUID("2b935567-f0fd-5d02-99e8-e0a3192e74db")


def test_new_event_of_wraps_a_domain_event_with_its_id_and_metadata():
    event_id = uuid4()
    wrapped = NewEvent.of(
        "order-1", "Order", OrderCreated(customer_id="c", order_total=5), event_id=event_id, metadata={"a": 1}
    )
    assert wrapped == NewEvent(
        "order-1", "Order", "OrderCreated", {"customer_id": "c", "order_total": 5}, event_id, {"a": 1}
    )
    fresh = NewEvent.of("order-1", "Order", OrderApproved())
    assert (fresh.metadata, fresh.event_id.version) == ({}, 4)
    assert fresh.event_id != NewEvent.of("order-1", "Order", OrderApproved()).event_id
    assert wrapped.event() == OrderCreated(customer_id="c", order_total=5)
    with pytest.raises(MalformedEventError):
        NewEvent("order-1", "Order", "OrderCreated", {"customer_id": "c"}).event()
    with pytest.raises(UnknownEventTypeError):
        NewEvent("order-1", "Order", "OrderTeleported", {}).event()


RECORDED = RecordedEvent(
    position=3,
    aggregate_id="order-1",
    aggregate_type="Order",
    version=2,
    event_id=UUID("00000000-0000-4000-8000-000000000003"),
    event_type="OrderCreated",
    event_data={"customer_id": "c", "order_total": 5},
    metadata={"correlation_id": "x"},
    recorded_at=datetime(2025, 3, 1, 12, 30, 5, 123456, tzinfo=UTC),
)


def test_a_recorded_event_as_json_and_back():
    as_json = RECORDED.to_dict()
    assert as_json == {
        "position": 3,
        "aggregate_id": "order-1",
        "aggregate_type": "Order",
        "version": 2,
        "event_id": "00000000-0000-4000-8000-000000000003",
        "event_type": "OrderCreated",
        "event_data": {"customer_id": "c", "order_total": 5},
        "metadata": {"correlation_id": "x"},
        "recorded_at": "2025-03-01T12:30:05.123456+00:00",
    }
    assert RecordedEvent.from_dict(as_json) == RECORDED
    assert RECORDED.event() == OrderCreated(customer_id="c", order_total=5)


def test_from_dict_takes_a_feed_with_strings_naive_or_offset_times_and_no_metadata():
    feed = {**RECORDED.to_dict(), "position": "3", "version": "2", "recorded_at": "2025-03-01T12:30:05.123456"}
    del feed["metadata"]
    back = RecordedEvent.from_dict(feed)
    assert back == RecordedEvent(**{**RECORDED.__dict__, "metadata": {}})
    assert back.recorded_at.tzinfo is UTC
    offset = RecordedEvent.from_dict({**feed, "recorded_at": "2025-03-01T14:30:05.123456+02:00", "metadata": None})
    assert offset.recorded_at == RECORDED.recorded_at  # the same instant
    assert offset.metadata == {}


def test_a_recorded_event_of_an_unknown_type_names_where_it_was_met():
    unknown = RecordedEvent(**{**RECORDED.__dict__, "event_type": "OrderTeleported", "position": 98765})
    with pytest.raises(UnknownEventTypeError, match="98765"):
        unknown.event()
