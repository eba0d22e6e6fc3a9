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
