"""The write rules every write path checks: versions continue each stream, an aggregate keeps its type, ids once."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import numpy as np
import pyarrow as pa
import pytest

from labkit.events import ConcurrencyError, DuplicateEventError, EventStoreError, RecordedEvent, WrongAggregateTypeError
from labkit.events.event import NewEvent
from labkit.events.rules import StreamHead, check_write, refuse_stored, retries

A, B = UUID(int=1), UUID(int=2)


def test_nothing_to_write_breaks_no_rule():
    check_write([], [], [], heads={"a": StreamHead(3, "Ticker")})
    check_write([], [], [], heads={}, event_ids=[])


@pytest.mark.parametrize(
    ("ids", "types", "versions", "heads"),
    [
        (["a"], ["Ticker"], [1], {}),
        (["a", "b", "a", "b"], ["Ticker", "Other", "Ticker", "Other"], [1, 1, 2, 2], {}),
        (["a", "a"], ["Ticker", "Ticker"], [4, 5], {"a": StreamHead(3, "Ticker")}),
        (["b", "a"], ["Other", "Ticker"], [1, 4], {"a": StreamHead(3, "Ticker"), "z": StreamHead(9, "Other")}),
    ],
)
def test_rows_that_continue_each_stream_pass(ids, types, versions, heads):
    check_write(ids, types, versions, heads=heads, event_ids=[UUID(int=i + 10) for i in range(len(ids))])
    check_write(pa.array(ids), pa.chunked_array([types[:1], types[1:]]), np.array(versions), heads=heads)
    check_write(pa.chunked_array([ids]), pa.array(types), pa.array(versions, pa.int32()), heads=heads)


def test_an_id_twice_in_one_call_is_named():
    with pytest.raises(DuplicateEventError) as raised:
        check_write(["a", "a", "a"], ["T"] * 3, [1, 2, 3], heads={}, event_ids=[A, B, A])
    assert raised.value.event_id == A


def test_a_stream_that_moved_is_a_concurrency_error_with_expected_and_actual():
    with pytest.raises(ConcurrencyError) as raised:
        check_write(["b", "a"], ["T", "T"], [1, 3], heads={"a": StreamHead(3, "T")})
    assert (raised.value.aggregate_id, raised.value.expected, raised.value.actual) == ("a", 2, 3)
    with pytest.raises(ConcurrencyError) as raised:  # a new stream must start at 1
        check_write(["a"], ["T"], [2], heads={})
    assert (raised.value.aggregate_id, raised.value.expected, raised.value.actual) == ("a", 1, 0)


@pytest.mark.parametrize(
    ("ids", "versions", "heads", "row"),
    [
        (["a"], [2], {}, 0),
        (["a", "a", "a"], [1, 2, 4], {}, 2),
        (["a", "b", "b", "a"], [1, 1, 1, 3], {}, 2),
        (["a", "a"], [1, 2], {"a": StreamHead(1, "T")}, 0),
        (["b", "a", "a"], [1, 3, 3], {"a": StreamHead(2, "T")}, 2),
    ],
)
def test_bulk_rows_that_break_the_version_sequence_name_the_first_bad_row(ids, versions, heads, row):
    with pytest.raises(EventStoreError) as raised:
        check_write(ids, ["T"] * len(ids), versions, heads=heads, expected=False)
    assert type(raised.value) is EventStoreError
    assert str(raised.value).startswith(f"row {row}: ")


def test_within_a_call_a_later_row_out_of_sequence_is_a_bad_row_not_a_conflict():
    with pytest.raises(EventStoreError) as raised:
        check_write(["a", "a"], ["T", "T"], [1, 3], heads={})
    assert type(raised.value) is EventStoreError
    assert "row 1:" in str(raised.value)


def test_an_aggregate_keeps_its_stored_type_and_the_type_of_its_first_row():
    with pytest.raises(WrongAggregateTypeError) as raised:
        check_write(["a"], ["Other"], [4], heads={"a": StreamHead(3, "T")})
    assert "a " in str(raised.value) and "T" in str(raised.value) and "Other" in str(raised.value)
    with pytest.raises(WrongAggregateTypeError) as raised:
        check_write(["a", "b", "a"], ["T", "T", "Other"], [1, 1, 2], heads={}, expected=False)
    assert str(raised.value).startswith("row 2: ")
    for types in (["Other", "Other"], ["Other", "Third"]):  # the stored type is none of the rows' types
        with pytest.raises(WrongAggregateTypeError) as raised:
            check_write(["b", "a"], types, [1, 4], heads={"a": StreamHead(3, "Ticker")})
        assert "Ticker" in str(raised.value)


def test_the_first_bad_row_in_input_order_is_named_whatever_the_aggregate_order():
    with pytest.raises(EventStoreError) as raised:
        check_write(["z", "a", "a"], ["T", "T", "T"], [1, 1, 3], heads={}, expected=False)
    assert str(raised.value).startswith("row 2: ")
    with pytest.raises(WrongAggregateTypeError) as raised:
        check_write(["z", "z", "a", "a"], ["T", "X", "T", "Y"], [1, 2, 1, 2], heads={}, expected=False)
    assert str(raised.value).startswith("row 1: ")


def stored(event: NewEvent, position: int) -> RecordedEvent:
    return RecordedEvent(
        position, event.aggregate_id, event.aggregate_type, 1, event.event_id, event.event_type,
        dict(event.event_data), {}, datetime(2025, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def test_retries_skip_what_is_stored_for_the_same_event_and_refuse_an_id_reused():
    first = NewEvent("a", "T", "ContractTicked", {"n": 1, "note": None}, A)
    second = NewEvent("a", "T", "ContractTicked", {"n": 2, "note": None}, B)
    assert retries([first, second], {}) == [first, second]
    assert retries([first, second], {A: stored(first, 1)}) == [second]
    assert retries([first], {A: stored(first, 1), B: stored(second, 2)}) == []
    for impostor in (
        NewEvent("b", "T", "ContractTicked", {"n": 1, "note": None}, A),
        NewEvent("a", "T", "OtherTicked", {"n": 1, "note": None}, A),
        NewEvent("a", "T", "ContractTicked", {"n": 9, "note": None}, A),
    ):
        with pytest.raises(DuplicateEventError) as raised:
            retries([second, impostor], {A: stored(first, 1)})
        assert raised.value.event_id == A


def test_paths_for_new_events_refuse_a_stored_id():
    refuse_stored(None, "save_all")
    with pytest.raises(DuplicateEventError) as raised:
        refuse_stored(B, "save_all")
    assert raised.value.event_id == B
    assert "save_all" in str(raised.value)  # which call refused it
