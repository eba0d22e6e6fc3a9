"""A peer's events through the broker: a durable JetStream pull consumer with explicit acks, applied in order once.

The broker delivers at least once and, after a crash, not always in order: what a dead consumer held comes back
`ack_wait` seconds later, after newer messages went to its successor. The handlers need each event once and in the
peer's order (a credit release must follow its reservation), so the consumer keeps the checkpoint it keeps with
HTTP feeds: the peer position of the last event applied, saved in the transaction that applies the batch. Events
are numbered without gaps in the peer's store, and each message carries a run of consecutive ones, so for each
fetched batch of messages:
- an event the checkpoint covers is a duplicate (a redelivery, or a range the forwarder published again after a
  crash): dropped, and counted; a message of nothing but duplicates is acked;
- the events that follow the checkpoint without a gap are applied, with the checkpoint, in one commit, then acked;
- a message that starts beyond a gap waits for the missing ones: handed back (nak) with a short delay, to come again.
An ack that fails after the commit is harmless: the message comes again and is dropped as a duplicate. A service
restarted after a crash takes over what its dead predecessor held (`JetStream.take_over`): those messages come
again at once, in order, instead of `ack_wait` after their first delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson

from labkit.errors import LabkitError
from labkit.events import RecordedEvent
from labkit.jetstream import Delivery, JetStream, PullConsumer
from labkit.services.database import ServiceDatabase
from labkit.services.peer_consumer import PeerConsumer, UnitHandler
from labkit.services.transport import ACK_WAIT_SECONDS, durable_name, event_stream

log = logging.getLogger(__name__)

GAP_DELAY_SECONDS = 0.2  # an event beyond a gap comes again after this long


class BrokerConsumer(PeerConsumer):
    """Reads `peer`'s stream through the durable consumer `<reader>-from-<peer>` and applies it with `handler`."""

    transport = "nats"

    def __init__(
        self,
        name: str,
        reader: str,
        peer: str,
        database: ServiceDatabase,
        handler: UnitHandler,
        broker_url: str,
        *,
        namespace: str,
        batch_size: int = 500,
        ack_wait: float = ACK_WAIT_SECONDS,
    ) -> None:
        super().__init__(name, database, handler)
        self.broker_url = broker_url
        self.stream = event_stream(peer, namespace)
        self.durable = durable_name(reader, peer)
        self.batch_size, self.ack_wait = batch_size, ack_wait
        self.duplicates = 0  # deliveries of events already applied: acked and dropped
        self.redelivered = 0  # deliveries the broker made more than once (delivery_count > 1)
        self.held_back = 0  # deliveries beyond a gap, handed back to come again
        self.taken_over = 0  # messages a dead predecessor held, delivered again at this one's start
        self._broker: JetStream | None = None
        self._consumer: PullConsumer | None = None

    def source(self) -> str:
        return f"{self.broker_url} {self.stream.name}"

    def stop(self, timeout: float = 3.0) -> None:
        """Finish the batch in flight, then close the connection (the durable consumer stays on the broker)."""
        super().stop(timeout)
        if self._broker is not None:
            self._broker.close()

    def to_dict(self) -> dict[str, Any]:
        """The status as `GET /status` shows it, with the broker's counts."""
        counts = {
            "duplicates": self.duplicates,
            "redelivered": self.redelivered,
            "held_back": self.held_back,
            "taken_over": self.taken_over,
        }
        return {**super().to_dict(), "durable": self.durable, **counts}

    def receive_once(self) -> None:
        deliveries = self._connected().fetch(self.batch_size, timeout=1.0)
        self.connected, self.last_error = True, None
        if deliveries:
            self.consume(deliveries)

    def consume(self, deliveries: Sequence[Delivery]) -> None:
        """Apply what follows the checkpoint without a gap, ack it and the duplicates, hand back the rest. Each
        delivery carries a run of consecutive events (`forwarder.event_messages`)."""
        assert self._consumer is not None
        self.redelivered += sum(d.delivery_count > 1 for d in deliveries)
        runs = {d.token: [RecordedEvent.from_dict(e) for e in orjson.loads(d.data)] for d in deliveries}
        self.peer_head = max(self.peer_head, *(run[-1].position for run in runs.values()))
        fresh: list[RecordedEvent] = []  # the events that follow the checkpoint, in order, without a gap
        following: list[Delivery] = []  # the deliveries they came in
        duplicates: list[Delivery] = []  # deliveries whose every event the checkpoint (or this batch) covers
        beyond: list[Delivery] = []  # deliveries that start after a gap
        for delivery in sorted(deliveries, key=lambda d: runs[d.token][0].position):
            run, wanted = runs[delivery.token], self.position + len(fresh) + 1
            if run[-1].position < wanted:
                duplicates.append(delivery)
                self.duplicates += len(run)
            elif run[0].position <= wanted:
                fresh += [e for e in run if e.position >= wanted]
                self.duplicates += sum(e.position < wanted for e in run)
                following.append(delivery)
            else:
                beyond.append(delivery)
        if fresh:
            try:
                applied = self.database.write_and_wait(lambda unit: self.apply(fresh, unit))
            except BaseException:
                self._hand_back([*following, *beyond], delay=1.0)  # they come again, after the failure
                raise
            self.position = fresh[-1].position
            self.handled += applied
            self.duplicates += len(fresh) - applied
        self._ack([*following, *duplicates])
        self._hand_back(beyond, delay=GAP_DELAY_SECONDS)
        self.held_back += len(beyond)

    def _ack(self, deliveries: Sequence[Delivery]) -> None:
        """Ack after the commit; a lost ack only means the message comes again and is dropped as a duplicate."""
        if not deliveries:
            return
        assert self._consumer is not None
        try:
            # Unconfirmed: a confirmation costs a round trip per message, and a lost ack only brings the message
            # again, which the checkpoint drops.
            self._consumer.ack(*deliveries, confirm=False)
        except LabkitError as exc:
            log.warning("consumer %s: %s (they come again and are dropped)", self.name, exc)

    def _hand_back(self, deliveries: Sequence[Delivery], *, delay: float) -> None:
        """Nak each: it comes again after `delay`, or, if the broker cannot take the nak, after ack_wait."""
        assert self._consumer is not None
        for delivery in deliveries:
            try:
                self._consumer.nak(delivery, delay=delay)
            except LabkitError:
                return

    def _connected(self) -> PullConsumer:
        """The durable consumer (made on first use), with the peer's stream ensured on the broker."""
        if self._consumer is None:
            broker = JetStream.connect(self.broker_url, name=self.name)
            try:
                broker.ensure_stream(self.stream)
                # One process reads this durable: what it held when it died comes again now, not ack_wait later.
                self.taken_over += broker.take_over(self.stream.name, self.durable)
                self._consumer = broker.pull_consumer(self.stream.name, self.durable, ack_wait=self.ack_wait)
            except LabkitError:
                broker.close()
                raise
            self._broker = broker
        return self._consumer
