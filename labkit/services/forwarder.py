"""The event store's forwarder: a thread that publishes the service's new events to its stream on the broker.

The event table is the service's state and its outbox at once, so there is no dual write: the forwarder reads the
events after its checkpoint, publishes them (pipelined, each with its event id as the JetStream message id), and
only once the broker acked every one saves the checkpoint, through the service's group commit. A crash between the
acks and the checkpoint publishes those events again on restart: within the stream's duplicate window the broker
drops them (counted here as `duplicates`), after it the consumers' checkpoints do. While the broker is down the
forwarder backs off and retries; nothing it has not published is lost, since the events stay in the table.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from labkit.errors import LabkitError
from labkit.jetstream import JetStream, OutgoingMessage
from labkit.services.database import ServiceDatabase
from labkit.services.transport import event_stream, event_subject

log = logging.getLogger(__name__)

CHECKPOINT = "broker-forwarder"


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
        acks = broker.publish_many(
            [OutgoingMessage(self.subject, orjson.dumps(e.to_dict()), str(e.event_id)) for e in events]
        )
        last = events[-1].position
        self.database.write_and_wait(lambda unit: unit.store.save_checkpoint(CHECKPOINT, last))
        self.position = last
        self.published += sum(not a.duplicate for a in acks)
        self.duplicates += sum(a.duplicate for a in acks)
        self.connected, self.last_error = True, None
        return len(events) == self.batch_size

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
