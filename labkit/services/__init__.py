"""Real microservices: the Customer, Order and Order-history services as processes, over HTTP and events.

Each service is a FastAPI app in its own process with its own DuckDB file (`python -m labkit.services NAME --host
H --port P --data-dir D --customer-url U --order-url U`; health at GET /health, OpenAPI at /docs). Each publishes
its event table at `GET /events?after=&limit=&wait=` (long polling); peers pull it with a `FeedConsumer` whose
checkpoint commits with their writes. Writes go through group commit (`GroupCommitter` + `UnitOfWork`). With
`--transport nats` the events travel through NATS JetStream instead (`labkit.services.transport`): an
`EventForwarder` publishes each service's event table to its stream, and a `BrokerConsumer` (a durable pull
consumer with explicit acks) applies a peer's events with the same checkpoint, once and in order.

The saga (choreography, no 2PC): OrderCreated -> Customer service reserves credit (CreditReserved) or refuses
(CreditLimitExceeded) -> Order service approves or rejects; OrderCancelled -> CreditReleased.

Public API:
    `ServiceRunner.up(folder, backend=, transport=)` / `.attach(folder)`: start / find the three processes (`labkit
    up|status|down`); `.kill(name)` (kill -9), `.start(name)`, `.stop()`, `.status()`, `.client`, `.urls`;
    `.kill_broker()` / `.restart_broker()` with the NATS transport.
    `start_services()`: the same for a notebook, stopped when the kernel exits.
    `LabClient(urls)`: create_customer, place_order, ship, cancel, orders, customers, view, events, status,
    valuable_customers(created_after, min_total, method="view" | "composition").
    `check_invariants(client, accepted_orders=)` -> InvariantReport; `wait_until_settled(client)`.
    `run_load(client, orders=)` -> LoadResult (the benchmark's measurements). Timelines and plots of notebook 07:
    `labkit.lab.microservices`.
"""

from labkit.services.client import LabClient
from labkit.services.errors import (
    IdConflictError,
    NotSettledError,
    RunFolderError,
    ServiceError,
    ServiceRequestError,
    ServiceStartError,
    ServiceUnavailableError,
    UnknownCustomerError,
    UnknownServiceError,
)
from labkit.services.invariants import InvariantReport, InvariantViolationError, check_invariants, wait_until_settled
from labkit.services.load import LoadResult, create_customers, order_plan, place_orders, run_load
from labkit.services.process_runner import ServiceRunner, start_services
from labkit.services.settings import SERVICES, ServiceSettings

__all__ = [
    "SERVICES",
    "IdConflictError",
    "InvariantReport",
    "InvariantViolationError",
    "LabClient",
    "LoadResult",
    "NotSettledError",
    "RunFolderError",
    "ServiceError",
    "ServiceRequestError",
    "ServiceRunner",
    "ServiceSettings",
    "ServiceStartError",
    "ServiceUnavailableError",
    "UnknownCustomerError",
    "UnknownServiceError",
    "check_invariants",
    "create_customers",
    "order_plan",
    "place_orders",
    "run_load",
    "start_services",
    "wait_until_settled",
]
