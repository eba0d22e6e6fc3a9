"""The message broker of the dual-write demonstrations: a stream on a real NATS JetStream server.

It is a different store from the service's database, so no transaction spans both. A publish that returned is
stored by the broker, whatever the publisher does next. With message ids (`BrokerSettings.message_ids`), each event
is published with its event id as `Nats-Msg-Id`: a repeat within the stream's duplicate window is dropped by the
broker (and counted here); a repeat after the window is stored again. Without message ids every repeat is stored.

`BrokerSettings` travels to the service's child processes (it pickles); `EventBroker` is one connection that
publishes events; `read_messages` is the one consumer every design is counted with: a durable pull consumer that
reads the whole stream and acks each message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from labkit.events import NewEvent, RecordedEvent
from labkit.events.codec import COLUMNS, recorded, to_utc_naive, utc_now
from labkit.jetstream import JetStream, StreamSettings


@dataclass(frozen=True)
class BrokerSettings:
    """Where a run publishes: the server, the stream, whether publishers send message ids, the duplicate window."""

    url: str
    stream: str
    message_ids: bool
    duplicate_window: float = 60.0  # seconds: a repeated message id within it is dropped by the broker

    @property
    def subject(self) -> str:
        """The subject the Order service publishes OrderCreated on."""
        return f"{self.stream}.orders"

    def stream_settings(self) -> StreamSettings:
        """The stream's settings: its own subjects, this duplicate window, kept in memory (a run is short)."""
        return StreamSettings(
            self.stream, subjects=(f"{self.stream}.>",), duplicate_window=self.duplicate_window, storage="memory"
        )


def envelope_values(event: RecordedEvent | NewEvent, version: int) -> tuple[object, ...]:
    """(event_id, aggregate_id, aggregate_type, version, event_type, event_data JSON, metadata JSON): the columns
    the outbox's rows and the broker's messages share, in that order."""
    return (
        event.event_id,
        event.aggregate_id,
        event.aggregate_type,
        version,
        event.event_type,
        orjson.dumps(dict(event.event_data)).decode(),
        orjson.dumps(dict(event.metadata)).decode(),
    )


def recorded_event(row: tuple) -> RecordedEvent:
    """A row selected in the event table's column order (`codec.COLUMNS`) as a RecordedEvent."""
    return recorded(dict(zip(COLUMNS, row, strict=True)))


def encode(event: RecordedEvent | NewEvent, version: int) -> bytes:
    """The message body of an event: its envelope as JSON (event_data and metadata as JSON text)."""
    recorded_at = event.recorded_at if isinstance(event, RecordedEvent) else utc_now()
    names = ("event_id", "aggregate_id", "aggregate_type", "version", "event_type", "event_data", "metadata")
    body = dict(zip(names, envelope_values(event, version), strict=True))
    body["event_id"] = str(body["event_id"])
    body["recorded_at"] = to_utc_naive(recorded_at).isoformat()
    return orjson.dumps(body)


def decode(data: bytes, position: int) -> RecordedEvent:
    """The event a message body carries, at `position` (its stream sequence)."""
    body = orjson.loads(data)
    return recorded({**body, "position": position, "recorded_at": datetime.fromisoformat(body["recorded_at"])})


class EventBroker:
    """One connection to the run's stream: `publish(events)` waits for the broker's ack of each message.

    `on_dropped()` is called for each message the broker reported as a duplicate (its id came within the window).
    """

    def __init__(self, settings: BrokerSettings, *, on_dropped: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.on_dropped = on_dropped or (lambda: None)
        self.client = JetStream.connect(settings.url, name=f"labkit dual write {settings.stream}")

    def publish(self, events: Sequence[RecordedEvent | NewEvent], *, versions: Sequence[int] | None = None) -> int:
        """Publish the events in order, one acked message each; how many the broker stored (not dropped).

        A `NewEvent` carries no version: give `versions` (one per event) for those."""
        stored = 0
        for i, event in enumerate(events):
            version = event.version if isinstance(event, RecordedEvent) else (versions or [])[i]
            msg_id = str(event.event_id) if self.settings.message_ids else None
            ack = self.client.publish(self.settings.subject, encode(event, version), msg_id=msg_id)
            if ack.duplicate:
                self.on_dropped()
            else:
                stored += 1
        return stored

    def close(self) -> None:
        """Close the connection (the messages stay in the stream)."""
        self.client.close()


def create_stream(settings: BrokerSettings) -> None:
    """A fresh, empty stream for a run (an earlier one of that name is deleted with its messages)."""
    with JetStream.connect(settings.url) as client:
        client.delete_stream(settings.stream)
        client.ensure_stream(settings.stream_settings())


def read_messages(settings: BrokerSettings, durable: str) -> list[RecordedEvent]:
    """Every message of the stream, in stream order, as the durable pull consumer `durable` receives them (each
    acked); its position is its stream sequence. A new durable name reads from the start."""
    events: list[RecordedEvent] = []
    with JetStream.connect(settings.url) as client:
        consumer = client.pull_consumer(settings.stream, durable)
        while True:
            batch = consumer.fetch(500, timeout=0.2)
            if batch:
                consumer.ack(*batch)
                events.extend(decode(delivery.data, delivery.stream_sequence) for delivery in batch)
            elif consumer.info().num_pending == 0:
                return events
