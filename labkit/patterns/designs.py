"""Four ways for the Order service to change its state and tell the world, each with the same crash points.

- "state_first" (naive): commit the order, then publish OrderCreated to the broker. A crash in between: the order
  exists, nobody hears of it (a lost event).
- "publish_first" (naive): write the order, publish, then commit. A crash in between: the world hears of an order
  that does not exist (a phantom event), because the open transaction dies with the process.
- "outbox": the order row and the event row are written in one transaction; a relay publishes the outbox.
- "event_sourced": the event table is the state (Order aggregate, EventStore); a forwarding subscriber publishes
  the events to the broker and then commits its checkpoint in the service's database.

Every design publishes to the same broker (a JetStream stream, `labkit.patterns.broker`). Every design takes the
crash at the same moment of the same operations: after the state change is written and before the event is (the
schedule's "writer" component). The outbox relay and the forwarder keep their progress the same way, in the
service's own database, recorded after the broker acked the batch (the relay's "sent" mark, the forwarder's
checkpoint), and crash at the same point (components "relay" and "subscriber"): after publishing, before recording
that they did. Both are therefore at least once; whether the broker drops the repeat depends on message ids and
on the duplicate window, the same for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import duckdb

from labkit.domain import Order, OrderCreated
from labkit.events import EventStore, NewEvent, RecordedEvent, Repository, Subscription
from labkit.events.codec import to_utc_naive, utc_now
from labkit.patterns.broker import BrokerSettings, EventBroker
from labkit.patterns.commands import PlaceOrder
from labkit.patterns.errors import PatternsError
from labkit.patterns.faults import Injector
from labkit.patterns.outbox import OUTBOX_SQL, OutboxRelay, add_to_outbox

DESIGNS: dict[str, str] = {
    "state_first": "naive: commit, then publish",
    "publish_first": "naive: publish, then commit",
    "outbox": "transactional outbox + relay",
    "event_sourced": "event sourcing + forwarder",
}

STATE_FILE = "orders.duckdb"

ORDERS_SQL = """
CREATE TABLE IF NOT EXISTS orders (
    order_id    VARCHAR   PRIMARY KEY,
    customer_id VARCHAR   NOT NULL,
    order_total BIGINT    NOT NULL,
    state       VARCHAR   NOT NULL,
    created_at  TIMESTAMP NOT NULL
)
"""


class OrderDesign(Protocol):
    """One design of the Order service: place orders, publish what is pending, close its databases."""

    def place(self, command: PlaceOrder, attempt: int) -> None: ...

    def publish_pending(self) -> None: ...

    def close(self) -> None: ...


@contextmanager
def transaction(connection: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN ... COMMIT, or ROLLBACK if anything (an injected crash included) escapes."""
    connection.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def order_created(command: PlaceOrder) -> NewEvent:
    """The OrderCreated event of a command (a fresh event id)."""
    return NewEvent.of(command.order_id, "Order", OrderCreated(command.customer_id, command.order_total))


def insert_order(connection: duckdb.DuckDBPyConnection, command: PlaceOrder) -> None:
    """The order row, PENDING."""
    connection.execute(
        "INSERT INTO orders VALUES (?, ?, ?, 'PENDING', ?)",
        [command.order_id, command.customer_id, command.order_total, to_utc_naive(utc_now())],
    )


class NaiveService:
    """Writes its database and publishes to the broker in two steps: no transaction spans both."""

    def __init__(self, folder: Path, injector: Injector, broker: BrokerSettings, *, publish_first: bool) -> None:
        self.injector, self.publish_first = injector, publish_first
        self.database = duckdb.connect(str(folder / STATE_FILE))
        self.database.execute(ORDERS_SQL)
        self.broker = connect_broker(broker, injector)

    def place(self, command: PlaceOrder, attempt: int) -> None:
        event = order_created(command)
        with transaction(self.database):
            insert_order(self.database, command)
            if self.publish_first:
                self.broker.publish([event], versions=[1])
                self.injector.point("writer", "after publishing, before committing", attempt)
        if not self.publish_first:
            self.injector.point("writer", "after committing, before publishing", attempt)
            self.broker.publish([event], versions=[1])

    def publish_pending(self) -> None:
        """Nothing is pending: a naive service publishes inline or never."""

    def close(self) -> None:
        self.database.close()
        self.broker.close()


class OutboxService:
    """Writes the order and its event into one transaction; a relay publishes the outbox afterwards."""

    def __init__(self, folder: Path, injector: Injector, broker: BrokerSettings, *, batch_size: int) -> None:
        self.injector = injector
        self.database = duckdb.connect(str(folder / STATE_FILE))
        self.database.execute(ORDERS_SQL)
        self.database.execute(OUTBOX_SQL)
        self.broker = connect_broker(broker, injector)
        self.relay = OutboxRelay(self.database, self.broker, batch_size=batch_size, after_publish=self._after_publish)

    def place(self, command: PlaceOrder, attempt: int) -> None:
        with transaction(self.database):
            insert_order(self.database, command)
            self.injector.point("writer", "between the order row and the outbox row", attempt)
            add_to_outbox(self.database, order_created(command), version=1)

    def _after_publish(self, batch: list[RecordedEvent]) -> None:
        attempt = self.injector.next_attempt("relay")
        self.injector.point("relay", "after publishing, before marking sent", attempt)

    def publish_pending(self) -> None:
        self.relay.drain()

    def close(self) -> None:
        self.database.close()
        self.broker.close()


class EventSourcedService:
    """Appends OrderCreated to its event store (the state); a forwarding subscriber publishes the events to the
    broker, its checkpoint kept in the event store's own database (as the outbox keeps its "sent" marks)."""

    SUBSCRIPTION = "broker-forwarder"

    def __init__(self, folder: Path, injector: Injector, broker: BrokerSettings, *, batch_size: int) -> None:
        self.injector = injector
        self.store = EventStore(folder / STATE_FILE)
        self.repository = Repository(self.store)
        self.broker = connect_broker(broker, injector)
        # The checkpoint is committed in the service's database after the handler published: at least once.
        self.subscriber = Subscription(self.SUBSCRIPTION, self.store, self.store, self._forward, batch_size=batch_size)

    def place(self, command: PlaceOrder, attempt: int) -> None:
        with self.store.transaction():
            self.repository.save(Order.place(command.order_id, command.customer_id, command.order_total))
            self.injector.point("writer", "after the append, before the commit", attempt)

    def _forward(self, events: list[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        self.broker.publish(events)  # acked by the broker: published, whatever happens to the checkpoint next
        attempt = self.injector.next_attempt("subscriber")
        self.injector.point("subscriber", "after publishing, before committing the checkpoint", attempt)

    def publish_pending(self) -> None:
        self.subscriber.run()

    def close(self) -> None:
        self.store.close()
        self.broker.close()


def connect_broker(settings: BrokerSettings, injector: Injector) -> EventBroker:
    """A connection to the run's stream that counts each message the broker drops as a duplicate (slot "dropped")."""
    return EventBroker(settings, on_dropped=lambda: injector.next_attempt("dropped"))


def open_service(
    design: str, folder: Path, injector: Injector, broker: BrokerSettings, *, batch_size: int = 10
) -> OrderDesign:
    """The Order service of `design` over the database in `folder`, publishing to `broker`."""
    if design in ("state_first", "publish_first"):
        return NaiveService(folder, injector, broker, publish_first=design == "publish_first")
    if design == "outbox":
        return OutboxService(folder, injector, broker, batch_size=batch_size)
    if design == "event_sourced":
        return EventSourcedService(folder, injector, broker, batch_size=batch_size)
    raise PatternsError(f"unknown design {design!r}: use one of {', '.join(DESIGNS)}")
