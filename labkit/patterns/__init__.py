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

Errors (all `LabkitError`): `PatternsError`, `OutOfOrderError`, `InjectedCrash`, `ProjectionError`.
"""

from labkit.patterns.consumers import SETUP_SQL, ConsumeResult, IdempotentConsumer
from labkit.patterns.delivery import DeliveryFeed, out_of_order_count, unreliable_delivery
from labkit.patterns.errors import InjectedCrash, OutOfOrderError, PatternsError, ProjectionError
from labkit.patterns.order_views import apply_customer_totals, apply_order_states

__all__ = [
    "SETUP_SQL",
    "ConsumeResult",
    "DeliveryFeed",
    "IdempotentConsumer",
    "InjectedCrash",
    "OutOfOrderError",
    "PatternsError",
    "ProjectionError",
    "apply_customer_totals",
    "apply_order_states",
    "out_of_order_count",
    "unreliable_delivery",
]
