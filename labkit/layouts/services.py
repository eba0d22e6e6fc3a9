"""The Customer service and the Order service: event-sourced, each with a state table, reachable only through
their API.

A command loads the aggregate, runs it, and appends its events and updates the service's state table in one
local transaction. Queries answer from the state table and send Arrow IPC bytes back (`Response`), so what
crosses the boundary is counted. Each service is also an event feed (`read_all`, `head_position`,
`export_events`) for pull subscribers such as the customer_orders_view.

In the per-service layout each service owns its own database; in the shared layout both use one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from labkit.domain import Customer, Order
from labkit.events import AggregateNotFoundError, EventStore, RecordedEvent, Repository
from labkit.events.aggregate import Aggregate
from labkit.events.codec import to_utc_naive
from labkit.layouts.database import OwnedDatabase, Response
from labkit.layouts.errors import UnknownEntityError
from labkit.views import creation_cutoff, export_events, order_threshold

CUSTOMERS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS customers (
    customer_id     VARCHAR   NOT NULL,
    name            VARCHAR   NOT NULL,
    credit_limit    BIGINT    NOT NULL,
    reserved_credit BIGINT    NOT NULL,
    created_at      TIMESTAMP NOT NULL,  -- UTC: the source's CREATION_DATE
    updated_at      TIMESTAMP NOT NULL
)
"""
ORDERS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS orders (
    order_id    VARCHAR   NOT NULL,
    customer_id VARCHAR   NOT NULL,
    order_total BIGINT    NOT NULL,
    state       VARCHAR   NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
)
"""
CUSTOMERS_INDEX_SQL = "CREATE UNIQUE INDEX IF NOT EXISTS customers_customer_id ON customers (customer_id)"
ORDERS_INDEX_SQL = "CREATE UNIQUE INDEX IF NOT EXISTS orders_order_id ON orders (order_id)"


class InProcessService(ABC):
    """What both services share: the owned database, the event feed of their aggregate type, command plumbing."""

    name: ClassVar[str]
    aggregate: ClassVar[type[Aggregate]]
    table: ClassVar[str]
    key: ClassVar[str]
    table_sql: ClassVar[tuple[str, str]]

    def __init__(self, database: OwnedDatabase, *, shared: bool = False) -> None:
        self._database = database
        # In a shared database the event table holds both services' events: each feed shows its own type only.
        self._shared = shared
        with database.session() as store:
            for statement in self.table_sql:
                store.connection.execute(statement).fetchall()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._database.owner} database)"

    # ---- event feed ------------------------------------------------------------------------------------------------

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to `limit` of this service's events after `after_position` (what a pull subscriber asks for)."""
        with self._database.session() as store:
            kind = self.aggregate.aggregate_type if self._shared else None
            return store.read_all(after_position=after_position, limit=limit, aggregate_type=kind)

    def head_position(self) -> int:
        """Position of this service's last event."""
        with self._database.session() as store:
            if not self._shared:
                return store.head_position()
            with store.transaction() as connection:
                row = connection.execute(
                    "SELECT coalesce(max(position), 0) FROM events WHERE aggregate_type = ?",
                    [self.aggregate.aggregate_type],
                ).fetchall()
            return int(row[0][0])

    def export_events(
        self, *, after_position: int, up_to_position: int, event_types: Sequence[str] | None = None
    ) -> pa.Table:
        """A range of this service's events as Arrow rows (for a subscriber catching up millions at once)."""
        with self._database.session() as store:
            rows = export_events(
                store, after_position=after_position, up_to_position=up_to_position, event_types=event_types
            )
        if self._shared:
            rows = rows.filter(pc.equal(rows.column("aggregate_type"), self.aggregate.aggregate_type))
        return rows

    # ---- commands ------------------------------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Commands in the block commit together, in one local transaction (group commit: one commit, not many)."""
        with self._database.session() as store, store.transaction():
            yield

    def _command(self, aggregate_id: str, command: str, *arguments: Any) -> Any:
        """Load the aggregate, run `command`, save its events and its state row in one transaction."""
        with self._database.session() as store, store.transaction():
            repository = Repository(store)
            aggregate = self._load(repository, aggregate_id)
            outcome = getattr(aggregate, command)(*arguments)
            self._save(store, repository, aggregate)
        return outcome

    def _load(self, repository: Repository, aggregate_id: str) -> Any:
        try:
            return repository.load(self.aggregate, aggregate_id)
        except AggregateNotFoundError:
            kind = self.aggregate.aggregate_type.lower()
            raise UnknownEntityError(
                f"the {self.name} service holds no {kind} {aggregate_id!r}; check the id"
            ) from None

    def _create(self, aggregate: Aggregate) -> None:
        with self._database.session() as store, store.transaction():
            self._save(store, Repository(store), aggregate)

    def _save(self, store: EventStore, repository: Repository, aggregate: Aggregate) -> None:
        new = aggregate.expected_version == 0
        result = repository.save(aggregate)
        if not result.appended:
            return
        row = self._row(aggregate, created_at=to_utc_naive(result.appended[0].recorded_at))
        row["updated_at"] = to_utc_naive(result.appended[-1].recorded_at)
        if new:
            columns = ", ".join(row)
            store.connection.execute(
                f"INSERT INTO {self.table} ({columns}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            ).fetchall()
        else:
            changed = {k: v for k, v in row.items() if k not in (self.key, "created_at")}
            assignments = ", ".join(f"{k} = ?" for k in changed)
            store.connection.execute(
                f"UPDATE {self.table} SET {assignments} WHERE {self.key} = ?", [*changed.values(), aggregate.id]
            ).fetchall()

    @abstractmethod
    def _row(self, aggregate: Any, *, created_at: datetime) -> dict[str, Any]:
        """The aggregate as a row of the service's state table (without updated_at)."""

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any], **tables: pa.Table) -> pa.Table:
        return self._database.query(sql, params, **tables)

    def get(self, entity_id: str) -> dict[str, Any]:
        """One row of the service's state table, by its id."""
        rows = self._query(f"SELECT * FROM {self.table} WHERE {self.key} = ?", [entity_id]).to_pylist()
        if not rows:
            kind = self.aggregate.aggregate_type.lower()
            raise UnknownEntityError(f"the {self.name} service holds no {kind} {entity_id!r}; check the id")
        return rows[0]

    def count(self) -> int:
        """How many rows the service's state table holds."""
        return int(self._query(f"SELECT count(*) AS n FROM {self.table}", []).column("n")[0].as_py())


class InProcessCustomerService(InProcessService):
    """Customers and their credit: the Customer aggregate, the `customers` table."""

    name = "Customer"
    aggregate = Customer
    table = "customers"
    key = "customer_id"
    table_sql = (CUSTOMERS_TABLE_SQL, CUSTOMERS_INDEX_SQL)

    def register(self, customer_id: str, name: str, credit_limit: int) -> None:
        """Register a new customer."""
        self._create(Customer.register(customer_id, name, credit_limit))

    def reserve_credit(self, customer_id: str, order_id: str, amount: int) -> bool:
        """Reserve credit for an order; False (and CreditLimitExceeded recorded) when the limit does not allow it."""
        return bool(self._command(customer_id, "reserve_credit", order_id, amount))

    def release_credit(self, customer_id: str, order_id: str) -> None:
        """Give back the credit reserved for a cancelled order."""
        self._command(customer_id, "release_credit", order_id)

    def credit_reserved_for(self, customer_id: str, order_id: str) -> int:
        """The credit the customer holds for one order (0 if none)."""
        with self._database.session() as store:
            customer = self._load(Repository(store), customer_id)
        return customer.reservations.get(order_id, 0)

    def customers(self, customer_ids: Sequence[str], *, created_after: object = None) -> Response:
        """The customers among `customer_ids` (created after `created_after`, if given): one batched request."""
        ids = pa.table({"customer_id": pa.array(list(customer_ids), pa.string())})
        where, params = "", {}
        if created_after is not None:
            where, params = "WHERE c.created_at > $created_after", {"created_after": creation_cutoff(created_after)}
        table = self._query(
            f"""SELECT c.customer_id, c.name, c.created_at FROM customers c
                SEMI JOIN requested_ids r USING (customer_id) {where} ORDER BY c.customer_id""",
            params,
            requested_ids=ids,
        )
        return Response.of(table)

    def _row(self, aggregate: Customer, *, created_at: datetime) -> dict[str, Any]:
        return {
            "customer_id": aggregate.id,
            "name": aggregate.name,
            "credit_limit": aggregate.credit_limit,
            "reserved_credit": aggregate.reserved_credit,
            "created_at": created_at,
        }


class InProcessOrderService(InProcessService):
    """Orders: the Order aggregate, the `orders` table."""

    name = "Order"
    aggregate = Order
    table = "orders"
    key = "order_id"
    table_sql = (ORDERS_TABLE_SQL, ORDERS_INDEX_SQL)

    def place(self, order_id: str, customer_id: str, order_total: int) -> None:
        """Place a new order (PENDING until the customer's credit answers)."""
        self._create(Order.place(order_id, customer_id, order_total))

    def approve(self, order_id: str) -> None:
        """Credit was reserved: approve the order."""
        self._command(order_id, "approve")

    def reject(self, order_id: str, reason: str) -> None:
        """Credit was refused: reject the order."""
        self._command(order_id, "reject", reason)

    def ship(self, order_id: str) -> None:
        """Ship an approved order."""
        self._command(order_id, "ship")

    def cancel(self, order_id: str, reason: str) -> None:
        """Cancel an approved order that has not shipped."""
        self._command(order_id, "cancel", reason)

    def orders_over(self, threshold: object, *, state: str = "SHIPPED") -> Response:
        """Orders in `state` whose total is over `threshold`: order_id, customer_id, order_total."""
        table = self._query(
            """SELECT order_id, customer_id, order_total FROM orders
               WHERE state = $state AND order_total > $threshold ORDER BY order_id""",
            {"state": state, "threshold": order_threshold(threshold)},
        )
        return Response.of(table)

    def _row(self, aggregate: Order, *, created_at: datetime) -> dict[str, Any]:
        return {
            "order_id": aggregate.id,
            "customer_id": aggregate.customer_id,
            "order_total": aggregate.order_total,
            "state": aggregate.state,
            "created_at": created_at,
        }
