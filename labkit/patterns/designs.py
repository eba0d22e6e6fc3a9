"""Four ways for the Order service to change its state and tell the world, each with the same crash points.

- "state_first" (naive): commit the order, then publish OrderCreated to the broker. A crash in between: the order
  exists, nobody hears of it (a lost event).
- "publish_first" (naive): write the order, publish, then commit. A crash in between: the world hears of an order
  that does not exist (a phantom event), because the open transaction dies with the process.
- "outbox": the order row and the event row are written in one transaction; a relay publishes the outbox.
- "event_sourced": the event table is the state (Order aggregate, EventStore); a pull subscriber copies the events
  downstream, its checkpoint committed with its writes.

Every design takes the crash at the same moment of the same operations: after the state change is written and
before the event is (the schedule's "writer" component). The outbox relay and the subscriber have their own crash
points (components "relay" and "subscriber"), after publishing and before recording that they did.
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
from labkit.patterns.broker import MessageBroker
from labkit.patterns.commands import PlaceOrder
from labkit.patterns.errors import PatternsError
from labkit.patterns.faults import Injector
from labkit.patterns.outbox import OUTBOX_SQL, OutboxRelay, add_to_outbox

DESIGNS: dict[str, str] = {
    "state_first": "naive: commit, then publish",
    "publish_first": "naive: publish, then commit",
    "outbox": "transactional outbox + relay",
    "event_sourced": "event sourcing + pull subscriber",
}

STATE_FILE, BROKER_FILE = "orders.duckdb", "broker.duckdb"

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

    def __init__(self, folder: Path, injector: Injector, *, publish_first: bool) -> None:
        self.injector, self.publish_first = injector, publish_first
        self.database = duckdb.connect(str(folder / STATE_FILE))
        self.database.execute(ORDERS_SQL)
        self.broker = MessageBroker(folder / BROKER_FILE)

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

    def __init__(self, folder: Path, injector: Injector, *, batch_size: int) -> None:
        self.injector = injector
        self.database = duckdb.connect(str(folder / STATE_FILE))
        self.database.execute(ORDERS_SQL)
        self.database.execute(OUTBOX_SQL)
        self.broker = MessageBroker(folder / BROKER_FILE)
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
    """Appends OrderCreated to its event store (the state); a pull subscriber copies events to the broker."""

    SUBSCRIPTION = "broker-forwarder"

    def __init__(self, folder: Path, injector: Injector, *, batch_size: int) -> None:
        self.injector = injector
        self.store = EventStore(folder / STATE_FILE)
        self.repository = Repository(self.store)
        self.broker = MessageBroker(folder / BROKER_FILE)
        self.subscriber = Subscription(
            self.SUBSCRIPTION, self.store, self.broker.connection, self._forward, batch_size=batch_size
        )

    def place(self, command: PlaceOrder, attempt: int) -> None:
        with self.store.transaction():
            self.repository.save(Order.place(command.order_id, command.customer_id, command.order_total))
            self.injector.point("writer", "after the append, before the commit", attempt)

    def _forward(self, events: list[RecordedEvent], connection: duckdb.DuckDBPyConnection) -> None:
        self.broker.publish(events, connection=connection)  # in the subscriber's transaction, with its checkpoint
        attempt = self.injector.next_attempt("subscriber")
        self.injector.point("subscriber", "after writing, before committing", attempt)

    def publish_pending(self) -> None:
        self.subscriber.run()

    def close(self) -> None:
        self.store.close()
        self.broker.close()


def open_service(design: str, folder: Path, injector: Injector, *, batch_size: int = 10) -> OrderDesign:
    """The Order service of `design` over the databases in `folder`."""
    if design in ("state_first", "publish_first"):
        return NaiveService(folder, injector, publish_first=design == "publish_first")
    if design == "outbox":
        return OutboxService(folder, injector, batch_size=batch_size)
    if design == "event_sourced":
        return EventSourcedService(folder, injector, batch_size=batch_size)
    raise PatternsError(f"unknown design {design!r}: use one of {', '.join(DESIGNS)}")
