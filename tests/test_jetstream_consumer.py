"""A durable pull consumer against a real NATS server: fetch in stream order, confirmed acks, nak and ack_wait
redeliveries with their counts, the broker's view of it (pending, ack pending, redelivered, ack floor), and acks of
deliveries it does not hold refused by name with nothing lost. (Killed consumer processes: test_jetstream_faults.)"""

from __future__ import annotations

import threading
import time

import pytest

from labkit.errors import UsageError
from labkit.jetstream import (
    AckError,
    ConsumerState,
    Delivery,
    JetStream,
    SettingsMismatchError,
    StreamSettings,
    UnknownStreamError,
)


def publish_numbered(broker: JetStream, stream: StreamSettings, count: int) -> list[int]:
    return [broker.publish(f"{stream.name}.n", str(n).encode(), msg_id=f"n-{n}").sequence for n in range(count)]


def test_a_durable_consumer_fetches_in_order_and_acks(broker: JetStream, stream: StreamSettings) -> None:
    sequences = publish_numbered(broker, stream, 5)
    consumer = broker.pull_consumer(stream.name, "reader")
    first = consumer.fetch(3)
    assert [(d.stream_sequence, d.data, d.msg_id, d.delivery_count) for d in first] == [
        (1, b"0", "n-0", 1),
        (2, b"1", "n-1", 1),
        (3, b"2", "n-2", 1),
    ]
    state = consumer.info()
    assert (state.num_pending, state.num_ack_pending, state.num_redelivered, state.ack_floor) == (2, 3, 0, 0)
    consumer.ack(*first)
    assert consumer.info().ack_floor == 3 and consumer.info().num_ack_pending == 0
    rest = consumer.fetch(10, timeout=0.5)
    assert [d.stream_sequence for d in rest] == sequences[3:]
    consumer.ack(*rest)
    assert consumer.fetch(1, timeout=0.2) == []  # nothing left: an empty batch, not an error
    consumer.close()
    # The broker keeps the durable consumer's position: a new client end resumes after the last ack.
    publish_numbered(broker, stream, 6)  # n-0..n-4 are duplicates; n-5 is new
    again = broker.pull_consumer(stream.name, "reader")
    assert [d.msg_id for d in again.fetch(10, timeout=0.5)] == ["n-5"]


def test_a_fetch_returns_what_came_without_waiting_to_fill_its_batch(broker: JetStream, stream: StreamSettings) -> None:
    consumer = broker.pull_consumer(stream.name, "trickle")
    # Nothing is there when the fetch starts: it waits; one message arrives 0.3 s later.
    later = threading.Timer(0.3, lambda: publish_numbered(broker, stream, 1))
    later.start()
    started = time.monotonic()
    got = consumer.fetch(500, timeout=8.0)
    waited = time.monotonic() - started
    later.join()
    assert [d.data for d in got] == [b"0"]
    # The batch of 500 was not filled: the fetch came back with the one message, not after its 8 s timeout.
    assert waited < 4.0, waited
    consumer.ack(*got)


def test_a_successor_takes_over_what_a_dead_consumer_held_at_once(broker: JetStream, stream: StreamSettings) -> None:
    publish_numbered(broker, stream, 4)
    assert broker.take_over(stream.name, "heir") == 0  # no such consumer yet: nothing held, nothing changed
    first = broker.pull_consumer(stream.name, "heir", ack_wait=30.0)
    got = first.fetch(4)
    first.ack(got[0], got[2])  # 1 and 3 acked; 2 and 4 held when the reader "dies"
    assert broker.consumer_state(stream.name, "heir").ack_floor == 1
    assert broker.take_over(stream.name, "heir") == 2
    heir = broker.pull_consumer(stream.name, "heir", ack_wait=30.0)  # the same settings: accepted
    started = time.monotonic()
    again = heir.fetch(10, timeout=2.0)
    # From the ack floor, at once (not 30 s later), in order: 2, 3 (acked before: a duplicate for the reader), 4.
    assert [d.stream_sequence for d in again] == [2, 3, 4] and time.monotonic() - started < 2.0
    heir.ack(*again)
    assert broker.take_over(stream.name, "heir") == 0  # nothing held any more


def test_unconfirmed_acks_settle_the_messages_without_a_round_trip_each(
    broker: JetStream, stream: StreamSettings
) -> None:
    publish_numbered(broker, stream, 3)
    consumer = broker.pull_consumer(stream.name, "quick", ack_wait=30.0)
    got = consumer.fetch(3)
    consumer.ack(*got, confirm=False)
    with pytest.raises(AckError, match="acked or nak'ed already"):
        consumer.ack(got[0], confirm=False)  # settled here at once, like a confirmed ack
    # The broker applies them as it reads them: nothing stays pending, nothing comes again.
    deadline = time.monotonic() + 5
    while consumer.info().num_ack_pending and time.monotonic() < deadline:
        time.sleep(0.02)
    assert consumer.info().num_ack_pending == 0 and consumer.info().ack_floor == 3
    assert consumer.fetch(1, timeout=0.3) == []


def test_a_nak_delivers_the_message_again_with_a_higher_count(broker: JetStream, stream: StreamSettings) -> None:
    publish_numbered(broker, stream, 1)
    consumer = broker.pull_consumer(stream.name, "retrier")
    (first,) = consumer.fetch(1)
    consumer.nak(first)
    (second,) = consumer.fetch(1)
    assert (second.stream_sequence, second.delivery_count) == (1, 2)
    assert consumer.info().num_redelivered == 1
    consumer.ack(second)
    assert consumer.info().num_redelivered == 0  # the broker counts redelivered messages not yet acked


def test_an_unacked_message_comes_back_after_ack_wait(broker: JetStream, stream: StreamSettings) -> None:
    publish_numbered(broker, stream, 2)
    consumer = broker.pull_consumer(stream.name, "slow", ack_wait=0.5)
    held = consumer.fetch(2)
    assert consumer.info().num_ack_pending == 2
    time.sleep(0.7)
    again = consumer.fetch(2, timeout=2)
    assert [(d.stream_sequence, d.delivery_count) for d in again] == [(1, 2), (2, 2)]
    assert consumer.info().num_redelivered == 2
    consumer.ack(*again)
    assert consumer.info().num_ack_pending == 0
    consumer.ack(*held)  # a late ack of the first deliveries: still held here, and harmless to the broker
    assert consumer.info().num_ack_pending == 0


def test_acking_twice_or_an_unknown_delivery_is_an_ack_error_and_nothing_is_lost(
    broker: JetStream, stream: StreamSettings
) -> None:
    publish_numbered(broker, stream, 3)
    consumer = broker.pull_consumer(stream.name, "careful")
    a, b, c = consumer.fetch(3)
    consumer.ack(a)
    with pytest.raises(AckError, match=r"message 1 of .* acked or nak'ed already by consumer careful"):
        consumer.ack(a)
    with pytest.raises(AckError, match="acked or nak'ed already"):
        consumer.ack(b, b)  # the same delivery twice in one call
    other = broker.pull_consumer(stream.name, "other")
    (foreign,) = other.fetch(1)
    with pytest.raises(AckError, match=r"message 1 of .* was not fetched by this consumer \(careful\)"):
        consumer.ack(b, foreign)  # refused whole: b is not acked either
    with pytest.raises(AckError, match=r"message 99 of .* was not fetched"):
        consumer.ack(Delivery("made.up", b"", None, 99, 1, token="$JS.ACK.made.up"))
    assert consumer.info().num_ack_pending == 2
    consumer.ack(b, c)
    state = consumer.info()
    assert (state.num_ack_pending, state.ack_floor) == (0, 3)


def test_consumer_settings_are_checked_like_stream_settings(broker: JetStream, stream: StreamSettings) -> None:
    broker.pull_consumer(stream.name, "fixed", ack_wait=5.0)
    assert broker.pull_consumer(stream.name, "fixed", ack_wait=5.0).durable == "fixed"
    with pytest.raises(SettingsMismatchError, match=r"consumer fixed .* ack_wait is 5.0 there, 9.0 here"):
        broker.pull_consumer(stream.name, "fixed", ack_wait=9.0)
    with pytest.raises(UnknownStreamError, match="no stream 'NOSUCH'"):
        broker.pull_consumer("NOSUCH", "fixed")
    with pytest.raises(UsageError, match="consumer name 'a b'"):
        broker.pull_consumer(stream.name, "a b")
    consumer = broker.pull_consumer(stream.name, "fixed", ack_wait=5.0)
    with pytest.raises(UsageError, match="batch must be >= 1"):
        consumer.fetch(0)


def test_a_delivery_holds_its_subject_data_id_and_headers_and_fetch_takes_one_by_default(
    broker: JetStream, stream: StreamSettings
) -> None:
    broker.publish(f"{stream.name}.placed", b"1", msg_id="m-1", headers={"kind": "placed"})
    broker.publish(f"{stream.name}.placed", b"2", msg_id="m-2")
    consumer = broker.pull_consumer(stream.name, "whole")
    (first,) = consumer.fetch()
    assert (first.subject, first.data, first.msg_id, first.stream_sequence, first.delivery_count, first.headers) == (
        f"{stream.name}.placed",
        b"1",
        "m-1",
        1,
        1,
        {"kind": "placed", "Nats-Msg-Id": "m-1"},
    )
    consumer.ack(first)
    assert [d.msg_id for d in consumer.fetch(5, timeout=0.5)] == ["m-2"]


def test_an_empty_fetch_waits_its_own_timeout_and_a_timeout_of_0_is_refused(
    broker: JetStream, stream: StreamSettings
) -> None:
    consumer = broker.pull_consumer(stream.name, "idle")
    started = time.monotonic()
    assert consumer.fetch(1, timeout=0.2) == []
    assert time.monotonic() - started < 3  # not nats-py's own 5 s
    with pytest.raises(UsageError, match=r"timeout=0\)"):
        consumer.fetch(1, timeout=0)


def test_a_nak_with_a_delay_holds_the_message_back_that_long(broker: JetStream, stream: StreamSettings) -> None:
    publish_numbered(broker, stream, 1)
    consumer = broker.pull_consumer(stream.name, "later")
    (first,) = consumer.fetch(1)
    consumer.nak(first, delay=1.5)
    assert consumer.fetch(1, timeout=0.3) == []  # not yet
    (again,) = consumer.fetch(1, timeout=5)
    assert (again.stream_sequence, again.delivery_count) == (1, 2)


def test_a_consumer_remembers_its_last_settled_deliveries_only(
    broker: JetStream, stream: StreamSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import labkit.jetstream.consumer

    monkeypatch.setattr(labkit.jetstream.consumer, "SETTLED_MEMORY", 2)
    publish_numbered(broker, stream, 3)
    consumer = broker.pull_consumer(stream.name, "forgetful")
    a, b, c = consumer.fetch(3)
    consumer.ack(a)
    consumer.ack(b)
    consumer.nak(c)
    # The last two settled (b, c) are named as settled; the oldest (a) is forgotten: an unknown delivery now.
    with pytest.raises(AckError, match="already"):
        consumer.ack(b)
    with pytest.raises(AckError, match="not fetched"):
        consumer.ack(a)


def test_a_filtered_consumer_with_a_delivery_cap_gets_its_subject_only_and_each_message_that_often(
    broker: JetStream, stream: StreamSettings
) -> None:
    for subject in ("a", "b", "a"):
        broker.publish(f"{stream.name}.{subject}", subject.encode())
    consumer = broker.pull_consumer(stream.name, "capped", filter_subject=f"{stream.name}.a", max_deliver=1)
    assert (consumer.stream, consumer.durable) == (stream.name, "capped")
    assert consumer.info() == ConsumerState(num_pending=2, num_ack_pending=0, num_redelivered=0, ack_floor=0)
    first, second = consumer.fetch(5, timeout=0.5)
    assert [(d.subject, d.stream_sequence) for d in (first, second)] == [
        (f"{stream.name}.a", 1),
        (f"{stream.name}.a", 3),
    ]
    consumer.nak(first)  # delivered once already, its cap: not delivered again
    consumer.ack(second)
    assert consumer.fetch(1, timeout=0.3) == []
    # Nothing left for it; the ack floor stays before message 1, which ran out of deliveries unacked.
    assert consumer.info() == ConsumerState(num_pending=0, num_ack_pending=0, num_redelivered=0, ack_floor=0)
    # The same settings again: the consumer the broker holds is accepted as it is, where it was.
    again = broker.pull_consumer(stream.name, "capped", filter_subject=f"{stream.name}.a", max_deliver=1)
    assert again.fetch(1, timeout=0.3) == []
