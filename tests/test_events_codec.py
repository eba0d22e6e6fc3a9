"""The codec: rows <-> RecordedEvent and the UTC policy (stored naive UTC, handed back aware UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest

from labkit.domain import OrderCreated
from labkit.events import MalformedEventError, NewEvent, RecordedEvent, as_utc, to_utc_naive, utc_now
from labkit.events.codec import COLUMNS, new_row, recorded, records, to_json

PARIS_SUMMER = timezone(timedelta(hours=2))
EVENT_ID = UUID("00000000-0000-4000-8000-000000000042")


def test_utc_now_is_an_aware_utc_time_of_now():
    before = datetime.now(UTC)
    now = utc_now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("moment", "stored"),
    [
        (datetime(2025, 3, 1, 14, 30, tzinfo=PARIS_SUMMER), datetime(2025, 3, 1, 12, 30)),
        (datetime(2025, 3, 1, 12, 30, tzinfo=UTC), datetime(2025, 3, 1, 12, 30)),
        (datetime(2025, 3, 1, 12, 30), datetime(2025, 3, 1, 12, 30)),  # naive is UTC already
    ],
)
def test_every_time_is_stored_as_naive_utc(moment, stored):
    assert to_utc_naive(moment) == stored
    assert to_utc_naive(moment).tzinfo is None


@pytest.mark.parametrize(
    "moment",
    [datetime(2025, 3, 1, 12, 30), datetime(2025, 3, 1, 14, 30, tzinfo=PARIS_SUMMER)],
)
def test_every_time_is_handed_back_as_aware_utc(moment):
    back = as_utc(moment)
    assert back == datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    assert back.tzinfo is UTC


def test_to_json_is_compact_json_text_and_names_the_field_it_cannot_serialize():
    assert to_json("OrderCreated", "metadata", {"a": 1, "b": None}) == '{"a":1,"b":null}'
    with pytest.raises(MalformedEventError) as raised:
        to_json("OrderCreated", "metadata", {"when": object()})
    assert (raised.value.event_type, raised.value.field) == ("OrderCreated", "metadata")
    with pytest.raises(MalformedEventError) as raised:
        to_json("OrderCreated", "event_data", {"big": 2**70})  # beyond 64 bits: orjson refuses it
    assert raised.value.field == "event_data"


def test_a_new_row_holds_every_column_with_json_text_and_naive_utc_time():
    event = NewEvent.of(
        "order-1",
        "Order",
        OrderCreated(customer_id="customer-7", order_total=5),
        event_id=EVENT_ID,
        metadata={"correlation_id": "c-1"},
    )
    row = new_row(event, position=7, version=3, recorded_at=datetime(2025, 3, 1, 14, 30, tzinfo=PARIS_SUMMER))
    assert row == {
        "position": 7,
        "aggregate_id": "order-1",
        "aggregate_type": "Order",
        "version": 3,
        "event_id": EVENT_ID,
        "event_type": "OrderCreated",
        "event_data": '{"customer_id":"customer-7","order_total":5}',
        "metadata": '{"correlation_id":"c-1"}',
        "recorded_at": datetime(2025, 3, 1, 12, 30),
    }
    assert list(row) == list(COLUMNS)


def test_new_row_names_the_field_that_cannot_be_stored():
    bad_metadata = NewEvent(
        "order-1", "Order", "OrderCreated", {"customer_id": "c", "order_total": 1}, EVENT_ID, {"x": {1}}
    )
    with pytest.raises(MalformedEventError) as raised:
        new_row(bad_metadata, position=1, version=1, recorded_at=datetime(2025, 1, 1))
    assert raised.value.field == "metadata"
    bad_data = NewEvent("order-1", "Order", "OrderCreated", {"customer_id": {1}}, EVENT_ID)
    with pytest.raises(MalformedEventError) as raised:
        new_row(bad_data, position=1, version=1, recorded_at=datetime(2025, 1, 1))
    assert (raised.value.event_type, raised.value.field) == ("OrderCreated", "event_data")


EXPECTED = RecordedEvent(
    position=7,
    aggregate_id="order-1",
    aggregate_type="Order",
    version=3,
    event_id=EVENT_ID,
    event_type="OrderCreated",
    event_data={"customer_id": "customer-7", "order_total": 5},
    metadata={"correlation_id": "c-1"},
    recorded_at=datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("data", "metadata"),
    [
        ('{"customer_id": "customer-7", "order_total": 5}', '{"correlation_id": "c-1"}'),
        (b'{"customer_id": "customer-7", "order_total": 5}', b'{"correlation_id": "c-1"}'),
        ({"customer_id": "customer-7", "order_total": 5}, {"correlation_id": "c-1"}),
    ],
)
def test_a_stored_row_comes_back_whole_from_text_bytes_or_parsed_json(data, metadata):
    row = {
        "position": 7,
        "aggregate_id": "order-1",
        "aggregate_type": "Order",
        "version": 3,
        "event_id": EVENT_ID,
        "event_type": "OrderCreated",
        "event_data": data,
        "metadata": metadata,
        "recorded_at": datetime(2025, 3, 1, 12, 30),
    }
    back = recorded(row)
    assert back == EXPECTED
    assert back.recorded_at.tzinfo is UTC
    assert type(back.event_data) is dict and type(back.metadata) is dict


def test_positional_rows_are_read_in_column_order_and_must_have_every_column():
    row = (7, "order-1", "Order", 3, EVENT_ID, "OrderCreated", '{"customer_id": "customer-7", "order_total": 5}')
    row += ('{"correlation_id": "c-1"}', datetime(2025, 3, 1, 12, 30))
    assert records([row, row]) == [EXPECTED, EXPECTED]
    assert records([]) == []
    with pytest.raises(ValueError):
        records([row[:-1]])


@pytest.fixture
def machine_in_new_york(monkeypatch):
    """The machine's local zone is not UTC: the codec must not depend on it."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_naive_times_are_utc_whatever_the_machine_zone(machine_in_new_york):
    naive = datetime(2025, 3, 1, 12, 30)
    assert as_utc(naive) == datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    assert to_utc_naive(naive) == naive
    assert to_utc_naive(datetime(2025, 3, 1, 14, 30, tzinfo=PARIS_SUMMER)) == naive
