"""Event-driven consistency: the dual-write problem, the transactional outbox, idempotent consumers, CQRS projections.

For consumers of other services' event feeds (the pieces to reuse):

`IdempotentConsumer(name, apply, out_of_order="wait" | "reject", check_versions=True)`
    Wraps a batch handler `apply(events, connection)` and is itself one, so it plugs into
    `labkit.events.Subscription(name, source, target, IdempotentConsumer(name, apply))` or any consumer loop that
    calls `handler(events, connection)` inside the transaction of its writes and its checkpoint. `handle(events,
    connection) -> ConsumeResult(delivered, applied, duplicates, parked, released)`; `totals` sums the calls.
    Duplicates (an event id already applied, or a version at or below the aggregate's applied version) are
    skipped. A version gap (version 3 of an order before version 2) is never applied silently: "wait" parks the
    event in the consumer's database and applies it, in order, once the missing versions arrive; "reject" raises
    `OutOfOrderError`, rolling the batch and its checkpoint back. Its tables (`SETUP_SQL`: processed_events,
    consumer_versions, consumer_parked) live in the consumer's database and are created on first use.
    `waiting(connection)`: the parked events. A consumer that joins a feed mid-stream (versions before its first
    event never arrive) uses `check_versions=False`: duplicates are still skipped by event id.

`unreliable_delivery(events, seed=, duplicate_rate=, delay_rate=, max_delay=)`: a seeded at-least-once transport
(repeats and delays). `DeliveryFeed(deliveries)`: such a list as a pull source. `out_of_order_count(deliveries)`.
`apply_order_states`, `apply_customer_totals`: two naive read models (batch handlers) for demonstrations.

The dual-write problem, measured (`labkit.patterns.dualwrite`, `designs`, `faults`, `outbox`, `broker`):

`FaultSchedule(rate, seed)`: which attempt of which component crashes (a hash of seed, component, attempt: the
same answer in every process and design). Crash modes: "process" (the service runs in a child process that
SIGKILLs itself at the crash point) or "exception" (`InjectedCrash` unwinds through real rollbacks).
`run_design(design, folder, message_ids=, url=, operations=, fault_rate=, seed=, crash_mode=, duplicate_window=,
relay_restart_delay=)` -> `DualWriteOutcome` (writer and publisher crashes, orders stored, repeats the broker dropped,
messages, lost, phantom, duplicates: the database against what one consumer received from the run's JetStream
stream). Designs (`DESIGNS`): "state_first" and "publish_first" (naive), "outbox" (transactional outbox + relay),
"event_sourced" (event store + forwarder; both record their progress after the broker's ack, in the service's
database). `compare_designs(folder, workers=, ...)`, `sweep_fault_rates(folder, rates, workers=, ...)`,
`outcomes_table(outcomes)`, `anomalies_by_rate(outcomes)`. `BrokerSettings(url, stream, message_ids,
duplicate_window)`, `EventBroker(settings)`: the broker, a JetStream stream; `read_messages(settings, durable)`: the
consumer. `OutboxRelay(connection, broker, batch_size=)`, `add_to_outbox(connection, event, version=)`. `launcher.run_child("module:function", args)`: a
fresh child process forked from a helper that imported labkit once (exit code, or -signal if killed).

CQRS projections (`labkit.patterns.projections`, `runner`):

`Projection`: `name`, `tables`, `create(connection)`, `apply(events, connection)` (incremental batch handler),
`rebuild(store, up_to_position, connection)` (one vectorized pass). `OrdersPerCustomer`, `RevenuePerDay`,
`CustomerOrdersViewProjection` (labkit.views' customer_orders_view), `standard_projections()`.
`ProjectionRunner(store, projections, database)`: one pull subscription per projection, its checkpoint in the
projection's generation schema with its tables; readers query `main.<table>` views and `projection_checkpoints`.
`poll()`, `catch_up(max_events=)`, `start()`/`stop()` (follow in a thread), `pause()`/`resume()`, `position(name)`,
`generation(name)`, `status()` -> [`ProjectionStatus`], `query(sql)`, `reader()`, `commits` (batch commit log),
`rebuild(name)` -> `RebuildResult` (events/s of the vectorized pass; the swap is one transaction).
Measuring them (lag while writes go on, consumers side by side, the fault sweep's figures, the pause/resume
control, `labkit bench projections`) is the teaching tier's: `labkit.lab.messaging`.

Errors (all `LabkitError`): `PatternsError`, `OutOfOrderError`, `InjectedCrash`, `ProjectionError`.
"""

from labkit.patterns.broker import BrokerSettings, EventBroker, read_messages
from labkit.patterns.delivery import DeliveryFeed, out_of_order_count, unreliable_delivery
from labkit.patterns.designs import DESIGNS
from labkit.patterns.dualwrite import (
    DualWriteOutcome,
    anomalies_by_rate,
    compare_designs,
    outcomes_table,
    run_design,
    sweep_fault_rates,
)
from labkit.patterns.errors import InjectedCrash, OutOfOrderError, PatternsError, ProjectionError
from labkit.patterns.faults import FaultSchedule
from labkit.patterns.idempotent_consumer import SETUP_SQL, ConsumeResult, IdempotentConsumer
from labkit.patterns.order_views import apply_customer_totals, apply_order_states
from labkit.patterns.outbox import OutboxRelay, add_to_outbox
from labkit.patterns.projection_runner import ProjectionRunner, ProjectionStatus, RebuildResult
from labkit.patterns.projections import (
    CustomerOrdersViewProjection,
    OrdersPerCustomer,
    Projection,
    RevenuePerDay,
    standard_projections,
)

__all__ = [
    "DESIGNS",
    "SETUP_SQL",
    "BrokerSettings",
    "ConsumeResult",
    "CustomerOrdersViewProjection",
    "DeliveryFeed",
    "DualWriteOutcome",
    "EventBroker",
    "FaultSchedule",
    "IdempotentConsumer",
    "InjectedCrash",
    "OrdersPerCustomer",
    "OutOfOrderError",
    "OutboxRelay",
    "PatternsError",
    "Projection",
    "ProjectionError",
    "ProjectionRunner",
    "ProjectionStatus",
    "RebuildResult",
    "RevenuePerDay",
    "add_to_outbox",
    "anomalies_by_rate",
    "apply_customer_totals",
    "apply_order_states",
    "compare_designs",
    "out_of_order_count",
    "outcomes_table",
    "read_messages",
    "run_design",
    "standard_projections",
    "sweep_fault_rates",
    "unreliable_delivery",
]
