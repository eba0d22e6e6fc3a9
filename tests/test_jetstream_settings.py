"""Stream and consumer settings are checked before they reach the broker, and compared with what it holds setting by
setting (no server needed: the broker's side is the config nats-py parses from its answers)."""

from __future__ import annotations

import pytest
from nats.js import api

from labkit.errors import UsageError
from labkit.jetstream.settings import ConsumerSettings, StreamSettings


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"name": "has.dot", "subjects": ("s",)}, "stream name 'has.dot'"),
        ({"name": "", "subjects": ("s",)}, "stream name ''"),
        ({"name": "S", "subjects": ()}, "one or more subjects"),
        ({"name": "S", "subjects": (5,)}, "one or more subjects"),
        ({"name": "S", "subjects": ("a", " ")}, "one or more subjects"),
        ({"name": "S", "subjects": ("s",), "max_age": 0.5, "duplicate_window": 1}, "at least duplicate_window"),
        ({"name": "S", "subjects": ("s",), "duplicate_window": 0}, "duplicate_window 0 must be > 0"),
        ({"name": "S", "subjects": ("s",), "max_age": 10, "duplicate_window": 60}, "at least duplicate_window"),
        ({"name": "S", "subjects": ("s",), "storage": "disk"}, "storage 'disk'"),
        ({"name": "S", "subjects": ("s",), "retention": "forever"}, "retention 'forever'"),
    ],
)
def test_bad_stream_settings_are_refused(arguments: dict, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint):
        StreamSettings(**arguments)


def test_one_subject_without_a_tuple_is_one_subject() -> None:
    assert StreamSettings("S", subjects="orders.>").subjects == ("orders.>",)


def test_the_edges_of_stream_settings_are_accepted() -> None:
    assert StreamSettings("S", subjects=["a", "b"]).subjects == ("a", "b")  # a list is kept as a tuple
    assert StreamSettings("S", subjects=("s",), max_age=60.0, duplicate_window=60.0).max_age == 60.0  # equal: fine
    assert StreamSettings("S", subjects=("s",), retention="interest").config().retention == api.RetentionPolicy.INTEREST


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"durable": "a b"}, "consumer name 'a b'"),
        ({"durable": "w", "ack_wait": 0}, "ack_wait 0 must be > 0 seconds"),
        ({"durable": "w", "max_deliver": 0}, "max_deliver 0 must be -1 .* or >= 1"),
        ({"durable": "w", "max_deliver": -2}, "max_deliver -2"),
    ],
)
def test_bad_consumer_settings_are_refused(arguments: dict, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint):
        ConsumerSettings(**arguments)


def test_stream_differences_name_only_what_differs() -> None:
    ours = StreamSettings("ORDERS", subjects=("orders.>",), duplicate_window=120.0)
    same = api.StreamConfig.from_response(
        {"name": "ORDERS", "subjects": ["orders.>"], "duplicate_window": 120_000_000_000, "max_age": 0,
         "max_msg_size": -1, "storage": "file", "retention": "limits"}
    )  # fmt: skip
    assert ours.differences(same) == []
    other = api.StreamConfig.from_response(
        {"name": "ORDERS", "subjects": ["orders.*", "x"], "duplicate_window": 60_000_000_000, "max_age": 0,
         "max_msg_size": -1, "storage": "memory", "retention": "limits"}
    )  # fmt: skip
    assert ours.differences(other) == [
        "subjects is ['orders.*', 'x'] there, ['orders.>'] here",
        "duplicate_window is 60.0 there, 120.0 here",
        "storage is 'memory' there, 'file' here",
    ]


def test_consumer_differences_name_only_what_differs() -> None:
    ours = ConsumerSettings("history", ack_wait=30.0)
    existing = api.ConsumerConfig.from_response(
        {"durable_name": "history", "ack_policy": "explicit", "ack_wait": 5_000_000_000, "max_deliver": -1}
    )
    assert ours.differences(existing) == ["ack_wait is 5.0 there, 30.0 here"]
    assert ConsumerSettings("history", ack_wait=5.0).differences(existing) == []


def test_stream_differences_read_what_the_broker_leaves_out_as_its_defaults() -> None:
    # A broker's answer may leave out a setting at its default (nats-py gives None): no window, no age, no size cap.
    bare = api.StreamConfig.from_response(
        {"name": "S", "subjects": ["b", "a"], "storage": "file", "retention": "limits"}
    )
    assert StreamSettings("S", subjects=("a", "b"), duplicate_window=1.0).differences(bare) == [
        "duplicate_window is 0.0 there, 1.0 here"
    ]
    assert StreamSettings("S", subjects=("b", "a"), duplicate_window=1.0).differences(bare) == [
        "duplicate_window is 0.0 there, 1.0 here"  # subjects in another order are the same subjects
    ]
    capped = api.StreamConfig.from_response(
        {"name": "S", "subjects": ["a"], "duplicate_window": 10**9, "max_age": 5 * 10**9, "max_msg_size": 100,
         "storage": "file", "retention": "limits"}
    )  # fmt: skip
    assert StreamSettings("S", subjects=("a",), duplicate_window=1.0).differences(capped) == [
        "max_age is 5.0 there, 0.0 here",
        "max_msg_size is 100 there, -1 here",
    ]
    assert (
        StreamSettings("S", subjects=("a",), duplicate_window=1.0, max_age=5.0, max_msg_size=100).differences(capped)
        == []
    )


def test_stream_differences_name_enum_settings_by_their_value() -> None:
    # A config built here (not parsed from an answer) holds nats-py's enums: compared and named by their values.
    memory = StreamSettings("S", subjects=("a",), storage="memory", retention="workqueue")
    assert memory.differences(memory.config()) == []
    assert StreamSettings("S", subjects=("a",)).differences(memory.config()) == [
        "storage is 'memory' there, 'file' here",
        "retention is 'workqueue' there, 'limits' here",
    ]


def test_seconds_are_the_same_to_the_microsecond_whatever_their_type() -> None:
    # The broker counts in nanoseconds: 5 s comes back as 5.0000004 s after a round trip through a float.
    existing = api.ConsumerConfig.from_response(
        {"durable_name": "h", "ack_policy": "explicit", "ack_wait": 5_000_000_400, "max_deliver": -1}
    )
    assert ConsumerSettings("h", ack_wait=5).differences(existing) == []  # an int of seconds too
    assert ConsumerSettings("h", ack_wait=5.5).differences(existing) == ["ack_wait is 5.0000004 there, 5.5 here"]
    assert ConsumerSettings("h", ack_wait=5.000002).differences(existing) == [
        "ack_wait is 5.0000004 there, 5.000002 here"
    ]


def test_consumer_differences_compare_the_filter_subject() -> None:
    filtered = api.ConsumerConfig.from_response(
        {"durable_name": "h", "ack_policy": "explicit", "ack_wait": 30 * 10**9, "max_deliver": 3,
         "filter_subject": "orders.placed"}
    )  # fmt: skip
    assert ConsumerSettings("h", max_deliver=3, filter_subject="orders.placed").differences(filtered) == []
    assert ConsumerSettings("h", max_deliver=3).differences(filtered) == [
        "filter_subject is 'orders.placed' there, None here"
    ]
    assert ConsumerSettings("h", filter_subject="orders.placed").differences(filtered) == [
        "max_deliver is 3 there, -1 here"
    ]
