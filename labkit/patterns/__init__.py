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
`run_design(design, folder, operations=, fault_rate=, seed=, crash_mode=)` -> `DualWriteOutcome` (writer and
publisher crashes, orders stored, messages, lost, phantom, duplicates: counted from the databases afterwards).
Designs (`DESIGNS`): "state_first" and "publish_first" (naive), "outbox" (transactional outbox + relay),
"event_sourced" (event store + pull subscriber). `compare_designs(folder, ...)`, `sweep_fault_rates(folder,
rates, ...)`, `outcomes_table(outcomes)`. `MessageBroker(path)`: the second database standing in for the broker.
`OutboxRelay(connection, broker, batch_size=)`, `add_to_outbox(connection, event, version=)`.

Errors (all `LabkitError`): `PatternsError`, `OutOfOrderError`, `InjectedCrash`, `ProjectionError`.
"""

from labkit.patterns.broker import MessageBroker
from labkit.patterns.consumers import SETUP_SQL, ConsumeResult, IdempotentConsumer
from labkit.patterns.delivery import DeliveryFeed, out_of_order_count, unreliable_delivery
from labkit.patterns.designs import DESIGNS
from labkit.patterns.dualwrite import (
    DualWriteOutcome,
    compare_designs,
    outcomes_table,
    run_design,
    sweep_fault_rates,
)
from labkit.patterns.errors import InjectedCrash, OutOfOrderError, PatternsError, ProjectionError
from labkit.patterns.faults import FaultSchedule
from labkit.patterns.order_views import apply_customer_totals, apply_order_states
from labkit.patterns.outbox import OutboxRelay, add_to_outbox

__all__ = [
    "DESIGNS",
    "SETUP_SQL",
    "ConsumeResult",
    "DeliveryFeed",
    "DualWriteOutcome",
    "FaultSchedule",
    "IdempotentConsumer",
    "InjectedCrash",
    "MessageBroker",
    "OutOfOrderError",
    "OutboxRelay",
    "PatternsError",
    "ProjectionError",
    "add_to_outbox",
    "apply_customer_totals",
    "apply_order_states",
    "compare_designs",
    "out_of_order_count",
    "outcomes_table",
    "run_design",
    "sweep_fault_rates",
    "unreliable_delivery",
]
