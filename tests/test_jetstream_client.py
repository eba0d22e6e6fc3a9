"""The synchronous JetStream client against a real NATS server: streams ensured or refused with the differing
settings named, publishes acknowledged with their sequence and de-duplicated by msg_id, durable pull consumers with
explicit acks, and every kind of bad input refused with a LabkitError before anything is lost."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from labkit.errors import UsageError
from labkit.jetstream import (
    AckError,
    BrokerUnreachableError,
    Delivery,
    JetStream,
    MessageTooLargeError,
    PublishError,
    SettingsMismatchError,
    StreamSettings,
    UnknownStreamError,
)
from labkit.jetstream.server import binary
from labkit.localserver import free_port, port_is_free


@pytest.fixture
def broker(nats_url: str) -> Iterator[JetStream]:
    with JetStream.connect(nats_url) as connection:
        yield connection


@pytest.fixture
def stream(broker: JetStream) -> Iterator[StreamSettings]:
    """A stream of this test's own on the session's server (deleted afterwards)."""
    name = f"T{uuid.uuid4().hex[:10]}"
    settings = StreamSettings(name, subjects=(f"{name}.>",), duplicate_window=60.0)
    assert broker.ensure_stream(settings) is True
    yield settings
    broker.delete_stream(name)


def publish_numbered(broker: JetStream, stream: StreamSettings, count: int) -> list[int]:
    return [broker.publish(f"{stream.name}.n", str(n).encode(), msg_id=f"n-{n}").sequence for n in range(count)]


# ---- streams ----------------------------------------------------------------------------------------------------


def test_an_existing_stream_with_the_same_settings_is_accepted(broker: JetStream, stream: StreamSettings) -> None:
    assert broker.ensure_stream(StreamSettings(stream.name, subjects=stream.subjects, duplicate_window=60)) is False
    assert broker.stream_state(stream.name).messages == 0


def test_an_existing_stream_with_other_settings_is_refused_naming_each_difference(
    broker: JetStream, stream: StreamSettings
) -> None:
    broker.publish(f"{stream.name}.kept", b"x")
    other = StreamSettings(stream.name, subjects=("elsewhere",), duplicate_window=30.0, storage="memory")
    with pytest.raises(SettingsMismatchError) as refused:
        broker.ensure_stream(other)
    message = str(refused.value)
    assert f"subjects is ['{stream.name}.>'] there, ['elsewhere'] here" in message
    assert "duplicate_window is 60.0 there, 30.0 here" in message
    assert "storage is 'file' there, 'memory' here" in message
    assert "delete_stream" in message and "max_age" not in message  # only what differs
    assert broker.stream_state(stream.name).messages == 1  # nothing changed, nothing lost
    assert broker.ensure_stream(stream) is False


def test_a_stream_the_broker_refuses_is_named_with_its_reason(broker: JetStream, stream: StreamSettings) -> None:
    with pytest.raises(UsageError, match="subjects overlap with an existing stream"):
        broker.ensure_stream(StreamSettings(f"{stream.name}X", subjects=(f"{stream.name}.a",)))


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


# ---- publishing -------------------------------------------------------------------------------------------------


def test_publish_returns_the_sequence_and_a_repeated_msg_id_is_a_duplicate(
    broker: JetStream, stream: StreamSettings
) -> None:
    first = broker.publish(f"{stream.name}.placed", b"101", msg_id="order-101")
    second = broker.publish(f"{stream.name}.placed", b"102", msg_id="order-102")
    again = broker.publish(f"{stream.name}.placed", b"101 again", msg_id="order-101")
    assert (first.stream, first.sequence, first.duplicate) == (stream.name, 1, False)
    assert (second.sequence, second.duplicate) == (2, False)
    assert (again.sequence, again.duplicate) == (1, True)  # where the first one is
    assert broker.publish(f"{stream.name}.placed", b"no id").sequence == 3  # no msg_id: never de-duplicated
    assert broker.stream_state(stream.name).messages == 3


def test_a_message_over_max_payload_is_refused_before_sending(broker: JetStream, stream: StreamSettings) -> None:
    assert broker.max_payload == 1024 * 1024  # the server's default
    with pytest.raises(MessageTooLargeError, match=r"1,048,577 bytes .* max_payload of 1,048,576 bytes"):
        broker.publish(f"{stream.name}.big", b"x" * (broker.max_payload + 1))
    # The headers count too: 'NATS/1.0' CRLF, 'Nats-Msg-Id: big' CRLF, CRLF is 30 bytes.
    with pytest.raises(MessageTooLargeError, match=r"1,048,606 bytes \(body and headers\)"):
        broker.publish(f"{stream.name}.big", b"x" * broker.max_payload, msg_id="big")
    fits = broker.publish(f"{stream.name}.big", b"x" * (broker.max_payload - 30), msg_id="big")
    assert (fits.sequence, fits.duplicate) == (1, False)  # the connection survived the refusals: nothing lost


def test_a_message_over_the_streams_max_msg_size_is_refused(broker: JetStream, stream: StreamSettings) -> None:
    small = StreamSettings(f"{stream.name}S", subjects=(f"{stream.name}S",), max_msg_size=100)
    broker.ensure_stream(small)
    try:
        with pytest.raises(MessageTooLargeError, match=r"101 bytes .* max_msg_size"):
            broker.publish(small.name, b"x" * 101)
        assert broker.stream_state(small.name).messages == 0
    finally:
        broker.delete_stream(small.name)


def test_a_subject_no_stream_takes_is_refused(broker: JetStream) -> None:
    with pytest.raises(PublishError, match=r"no stream takes subject nobody\.listens"):
        broker.publish("nobody.listens", b"x", msg_id="lost?")


def test_data_that_is_not_bytes_is_refused(broker: JetStream, stream: StreamSettings) -> None:
    with pytest.raises(UsageError, match="data must be bytes, not str"):
        broker.publish(f"{stream.name}.x", "text")  # type: ignore[arg-type]


# ---- consuming --------------------------------------------------------------------------------------------------


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


def test_one_connection_serves_several_threads(broker: JetStream, stream: StreamSettings) -> None:
    acks: list[int] = []

    def publish(start: int) -> None:
        acks.extend(
            broker.publish(f"{stream.name}.t", b"x", msg_id=f"t-{n}").sequence for n in range(start, start + 50)
        )

    threads = [threading.Thread(target=publish, args=(n * 50,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(acks) == list(range(1, 201))


def test_it_works_where_an_event_loop_already_runs_as_in_a_notebook(nats_url: str, stream: StreamSettings) -> None:
    async def notebook_cell() -> int:
        with JetStream.connect(nats_url) as broker:
            return broker.publish(f"{stream.name}.cell", b"x", msg_id="cell").sequence

    assert asyncio.run(notebook_cell()) == 1


# ---- reaching the broker ----------------------------------------------------------------------------------------


def test_an_unreachable_broker_is_named_with_how_to_fix() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(BrokerUnreachableError, match=rf"no NATS server answers at {url} within 0.5 s: .*broker up"):
        JetStream.connect(url, timeout=0.5)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("url", ["http://127.0.0.1:4222", "nats://127.0.0.1", "nats://:4222", "127.0.0.1:4222"])
def test_a_malformed_url_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError, match="is not a NATS URL"):
        JetStream.connect(url)


def test_a_closed_connection_says_so(nats_url: str) -> None:
    broker = JetStream.connect(nats_url)
    broker.close()
    broker.close()  # twice is harmless
    with pytest.raises(BrokerUnreachableError, match="is closed: connect again"):
        broker.stream_state("ANY")


def test_a_server_without_jetstream_is_named() -> None:
    port = free_port()
    plain = subprocess.Popen(
        [str(binary()), "-a", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(BrokerUnreachableError, match=r"runs without JetStream: start it with JetStream on"):
            JetStream.connect(f"nats://127.0.0.1:{port}")
    finally:
        plain.kill()
        plain.wait()
