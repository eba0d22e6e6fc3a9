"""The event store's forwarder: a thread that publishes the service's new events to its stream on the broker.

The event table is the service's state and its outbox at once, so there is no dual write: the forwarder reads the
events after its checkpoint, publishes them (a JSON list of events per message, as many events as fit, its
JetStream message id the range of positions it carries), and only once the broker acked every message moves the
checkpoint, saved through the service's group commit at most every
CHECKPOINT_EVERY_SECONDS (and when it falls idle or stops): a commit per forwarded batch would double the service's
commits under load. A crash between the acks and the saved checkpoint publishes those events again on restart:
the consumers' checkpoints drop them, and where the very same range goes again within the stream's duplicate window
(a publish retried after its ack was lost) the broker drops it first (counted here as `duplicates`). While the broker
is down the forwarder backs off and retries; nothing it has not published is lost, since the events stay in the table.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from labkit.errors import LabkitError
from labkit.events import RecordedEvent
from labkit.jetstream import JetStream, OutgoingMessage
from labkit.services.database import ServiceDatabase
from labkit.services.transport import event_stream, event_subject

log = logging.getLogger(__name__)

CHECKPOINT = "broker-forwarder"
CHECKPOINT_EVERY_SECONDS = 0.2  # bounds what a crash republishes to this much forwarding (dropped as duplicates)


@dataclass
class ForwarderStatus:
    """What `GET /status` reports of the forwarder."""

    stream: str
    position: int  # the last event the broker acked and the checkpoint holds
    published: int  # messages the broker stored from this process
    duplicates: int  # messages it dropped as repeats (published before the last crash)
    connected: bool
    last_error: str | None


class EventForwarder:
    """Publishes `database`'s events to the service's stream, after its checkpoint, in batches of `batch_size`."""

    def __init__(
        self,
        service: str,
        database: ServiceDatabase,
        broker_url: str,
        *,
        namespace: str,
        batch_size: int = 500,
    ) -> None:
        self.database, self.broker_url, self.batch_size = database, broker_url, batch_size
        self.stream = event_stream(service, namespace)
        self.subject = event_subject(service, namespace)
        self.position = database.store.read_checkpoint(CHECKPOINT)
        self._saved_position, self._saved_at = self.position, time.monotonic()
        self.published = self.duplicates = 0
        self.connected = False
        self.last_error: str | None = None
        self._broker: JetStream | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="broker-forwarder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the batch in flight, then close the connection."""
        self._stop.set()
        self.database.committed.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout)
        try:
            self.save_checkpoint(force=True, timeout=5.0)
        except Exception as exc:  # a stop must finish; unsaved, the next start republishes a little more (dropped)
            log.warning("forwarder: the checkpoint was not saved at stop (%s)", exc)
        if self._broker is not None:
            self._broker.close()

    def status(self) -> ForwarderStatus:
        return ForwarderStatus(
            self.stream.name, self.position, self.published, self.duplicates, self.connected, self.last_error
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self.status()), "lag": max(0, self.database.store.head_position() - self.position)}

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                if self.forward_once():
                    continue  # a full batch went: there may be more already
                self.save_checkpoint(force=True)  # idle: nothing is left to republish after a crash
                self.connected, self.last_error, backoff = True, None, 0.05
                # Sleep until the next commit (or half a second, to notice a stop); clear first, then read.
                self.database.committed.wait(0.5)
                self.database.committed.clear()
            except LabkitError as exc:
                if self._stop.is_set():
                    return
                if self.connected or self.last_error is None:
                    log.warning("forwarder: %s", exc)
                self.connected, self.last_error = False, str(exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 1.0)
            except Exception as exc:  # a bug: keep the service up, say so in the status, retry later
                log.exception("forwarder failed")
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._stop.wait(1.0)

    def forward_once(self) -> bool:
        """Publish the next batch after the checkpoint, then move the checkpoint; whether the batch was full."""
        events = self.database.store.read_all(after_position=self.position, limit=self.batch_size)
        if not events:
            return False
        broker = self._connected()
        messages = event_messages(self.subject, events, broker.max_payload // 2)
        acks = broker.publish_many(messages)
        self.position = events[-1].position
        self.save_checkpoint(force=False)
        for message, ack in zip(messages, acks, strict=True):
            count = message_positions(message)[1] - message_positions(message)[0] + 1
            if ack.duplicate:
                self.duplicates += count
            else:
                self.published += count
        self.connected, self.last_error = True, None
        return len(events) == self.batch_size

    def save_checkpoint(self, *, force: bool, timeout: float | None = None) -> None:
        """Save the position the broker acked, if it moved: now if `force`, else at most every
        CHECKPOINT_EVERY_SECONDS."""
        if self.position == self._saved_position:
            return
        if not force and time.monotonic() - self._saved_at < CHECKPOINT_EVERY_SECONDS:
            return
        position = self.position
        self.database.write_and_wait(lambda unit: unit.store.save_checkpoint(CHECKPOINT, position), timeout)
        self._saved_position, self._saved_at = position, time.monotonic()

    def _connected(self) -> JetStream:
        """The connection (made on first use, and again after it failed), with the service's stream on the broker."""
        if self._broker is None:
            broker = JetStream.connect(self.broker_url, name=f"forwarder {self.stream.name}")
            try:
                broker.ensure_stream(self.stream)
            except LabkitError:
                broker.close()
                raise
            self._broker = broker
        return self._broker


def event_messages(subject: str, events: Sequence[RecordedEvent], max_bytes: int) -> list[OutgoingMessage]:
    """The events (consecutive positions) in as few messages as fit in `max_bytes` each: a JSON list per message, its
    id the range of positions it carries ("12-40"). A repeat of the very same range (a publish retried after its ack
    was lost) is dropped by the broker; an overlapping one (batched otherwise after a crash) by the consumers'
    checkpoints. One message per batch, not per event: the broker's client costs about the same per message whatever
    its size, and a commit of the group committer carries many events."""
    messages: list[OutgoingMessage] = []
    chunk: list[tuple[int, bytes]] = []
    size = 2  # the list's brackets
    for event in events:
        body = orjson.dumps(event.to_dict())
        if chunk and size + 1 + len(body) > max_bytes:  # a comma, then the event
            messages.append(_message(subject, chunk))
            chunk, size = [], 2
        size += len(body) + (1 if chunk else 0)
        chunk.append((event.position, body))
    if chunk:
        messages.append(_message(subject, chunk))
    return messages


def _message(subject: str, chunk: list[tuple[int, bytes]]) -> OutgoingMessage:
    data = b"[" + b",".join(body for _, body in chunk) + b"]"
    return OutgoingMessage(subject, data, f"{chunk[0][0]}-{chunk[-1][0]}")


def message_positions(message: OutgoingMessage) -> tuple[int, int]:
    """The first and last position a message of `event_messages` carries, from its id."""
    assert message.msg_id is not None
    first, _, last = message.msg_id.partition("-")
    return int(first), int(last)
