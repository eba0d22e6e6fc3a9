"""The broker transport's two ends on a real NATS server and a real DuckDB service database: the forwarder publishes
the event table once (a republish after a crash is dropped by the broker), and the consumer applies a peer's events
once and in the peer's order, whatever order and however often the broker delivers them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from polling import wait_until

from labkit.domain import Customer
from labkit.events import RecordedEvent
from labkit.jetstream import JetStream, OutgoingMessage
from labkit.services.broker_consumer import BrokerConsumer
from labkit.services.database import ServiceDatabase
from labkit.services.forwarder import CHECKPOINT, EventForwarder, event_messages, message_positions
from labkit.services.transport import event_stream, event_subject


@pytest.fixture
def database(tmp_path):
    database = ServiceDatabase.open(tmp_path / "reader.duckdb")
    database.start()
    yield database
    database.close()


def namespace() -> str:
    """A namespace of the test's own on the session's broker: no test reads another's stream."""
    return "t" + uuid.uuid4().hex[:12]


def peer_event(position: int) -> RecordedEvent:
    return RecordedEvent(
        position=position,
        aggregate_id=f"customer-{position}",
        aggregate_type="Customer",
        version=1,
        event_id=uuid.UUID(int=position),
        event_type="CustomerCreated",
        event_data={"name": f"C{position}", "credit_limit": 100},
        metadata={},
        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def publish(broker: JetStream, space: str, runs: list[list[int]], *, suffix: str = "") -> None:
    """Each run of positions as one message, as the forwarder sends them (a JSON list of events)."""
    broker.ensure_stream(event_stream("customer", space))
    broker.publish_many(
        [
            OutgoingMessage(
                event_subject("customer", space),
                orjson.dumps([peer_event(p).to_dict() for p in run]),
                f"{run[0]}-{run[-1]}{suffix}",
            )
            for run in runs
        ]
    )


def reader(
    database: ServiceDatabase, nats_url: str, space: str, seen: list[int], ack_wait: float = 1.0
) -> BrokerConsumer:
    consumer = BrokerConsumer(
        "order<-customer",
        "order",
        "customer",
        database,
        lambda events, unit: seen.extend(e.position for e in events),
        nats_url,
        namespace=space,
        ack_wait=ack_wait,
    )
    consumer.start()
    return consumer


def test_events_beyond_a_gap_wait_for_the_missing_ones_and_everything_is_applied_once_in_order(
    database, nats_url, broker
):
    space, seen = namespace(), []
    publish(broker, space, [[1, 2], [4, 5]])  # 3 is late: published after 4 and 5
    consumer = reader(database, nats_url, space, seen)
    try:
        wait_until(lambda: consumer.held_back > 0, timeout=10, what="4 and 5 held back behind the gap at 3")
        assert seen == [1, 2]
        publish(broker, space, [[3]])
        wait_until(lambda: consumer.position == 5, timeout=10, what="the consumer to reach position 5")
        assert seen == [1, 2, 3, 4, 5]
        assert consumer.redelivered >= 1  # the message of 4 and 5 came again after its nak
        # A range published again, overlapping what was applied (as a forwarder batches after a crash), and one
        # wholly applied already: the checkpoint drops the old events; nothing is applied twice.
        publish(broker, space, [[2, 3, 4, 5, 6], [1, 2]], suffix="-again")
        wait_until(lambda: consumer.position == 6, timeout=10, what="the consumer to reach position 6")
        wait_until(lambda: consumer.duplicates == 6, timeout=10, what="2-5 and 1-2 counted as duplicates")
        assert seen == [1, 2, 3, 4, 5, 6]
        assert database.store.read_checkpoint("order<-customer") == 6
    finally:
        consumer.stop()


def test_a_restarted_consumer_resumes_after_its_checkpoint_and_takes_over_what_the_dead_one_held(
    database, nats_url, broker
):
    space, seen = namespace(), []
    publish(broker, space, [[1, 2, 3]])
    first = reader(database, nats_url, space, seen, ack_wait=30.0)
    wait_until(lambda: first.position == 3, timeout=10, what="the first consumer to apply 1-3")
    first.stop()
    publish(broker, space, [[4], [5]])
    # A fetch whose messages are never acked: as a consumer that died holding them.
    with JetStream.connect(nats_url) as other:
        held = other.pull_consumer(event_stream("customer", space).name, "order-from-customer", ack_wait=30.0)
        assert len(held.fetch(10, timeout=2.0)) == 2
        second = reader(database, nats_url, space, seen, ack_wait=30.0)
        try:
            wait_until(lambda: second.position == 5, timeout=10, what="the restarted consumer to apply 4 and 5")
            assert seen == [1, 2, 3, 4, 5]
            # 4 and 5, taken over at the start (the client end that held them is gone): not ack_wait later.
            assert second.taken_over == 2
        finally:
            second.stop()


def test_the_forwarder_publishes_the_table_once_and_a_republish_is_dropped_by_the_broker(tmp_path, nats_url, broker):
    space = namespace()
    database = ServiceDatabase.open(tmp_path / "customer.duckdb")
    database.start()
    try:
        for n in range(3):
            database.write_and_wait(lambda unit, n=n: unit.add(Customer.register(f"c-{n}", "Ada", 100)))
        forwarder = EventForwarder("customer", database, nats_url, namespace=space, batch_size=2)
        assert forwarder.forward_once() is True  # a full batch of 2: one message "1-2"
        assert forwarder.forward_once() is False  # "3-3"
        assert (forwarder.position, forwarder.published, forwarder.duplicates) == (3, 3, 0)
        stream = event_stream("customer", space).name
        assert broker.stream_state(stream).messages == 2
        forwarder.stop()  # saves the checkpoint it may have held back (at most one save per 0.2 s while busy)
        assert database.store.read_checkpoint(CHECKPOINT) == 3
        # A crash after the acks, before the checkpoint, with the same batching: the very same ranges go again and
        # the broker drops them (within its duplicate window).
        database.write_and_wait(lambda unit: unit.store.save_checkpoint(CHECKPOINT, 0))
        again = EventForwarder("customer", database, nats_url, namespace=space, batch_size=2)
        again.forward_once()
        again.forward_once()
        assert (again.position, again.published, again.duplicates) == (3, 0, 3)
        assert broker.stream_state(stream).messages == 2
        again.stop()
        # Batched otherwise (one range "1-3"): a new message for the broker, dropped by the consumers' checkpoints.
        database.write_and_wait(lambda unit: unit.store.save_checkpoint(CHECKPOINT, 0))
        other = EventForwarder("customer", database, nats_url, namespace=space)
        other.forward_once()
        assert (other.published, other.duplicates, broker.stream_state(stream).messages) == (3, 0, 3)
        other.stop()
    finally:
        database.close()


def test_events_go_in_as_few_messages_as_fit_each_named_by_its_range():
    events = [peer_event(p) for p in range(1, 8)]
    one = event_messages("s", events, max_bytes=1_000_000)
    assert [m.msg_id for m in one] == ["1-7"] and [e["position"] for e in orjson.loads(one[0].data)] == list(
        range(1, 8)
    )
    size = max(len(orjson.dumps(e.to_dict())) for e in events)
    small = event_messages("s", events, max_bytes=3 * size + 4)  # room for three events a message
    assert [m.msg_id for m in small] == ["1-3", "4-6", "7-7"]
    assert all(len(m.data) <= 3 * size + 4 for m in small)
    assert [e["position"] for m in small for e in orjson.loads(m.data)] == list(range(1, 8))
    assert [message_positions(m) for m in small] == [(1, 3), (4, 6), (7, 7)]
