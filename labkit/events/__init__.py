"""A small event-sourcing library: the event store, aggregates, replay, snapshots, temporal queries, subscriptions.

It imports nothing from the rest of labkit but the ground floor (`labkit.errors`); the lab is built on top of it.
One persistence contract (`Recorder`: append with expected version and idempotent ids, reads, checkpoints,
snapshots) that every back-end implements (`EventStore` on DuckDB; `labkit.events.postgres.PostgresEventStore` on a
PostgreSQL server, imported from its module because it needs psycopg) and one contract test suite checks
(tests/events_contract.py). Each concept has one home: the codec (row <-> RecordedEvent, the UTC policy:
`utc_now`, `to_utc_naive`, `as_utc`), the write rules (`rules.check_write`, called by `append`, `append_aggregates`
and `bulk_load`), checkpoints (`read_checkpoint`, `save_checkpoint`: every subscriber's), the unit of work.

The public API, in the order data flows (command -> aggregate -> events -> store -> subscriber -> read model):

Events
    `Event`: base of domain events; subclass it as a `@dataclass(frozen=True)` whose fields (str, int, float,
    bool, or `X | None`) are the event_data. The class name is the event_type (unique across labkit).
    `NewEvent.of(aggregate_id, aggregate_type, event, event_id=, metadata=)`: the envelope `append` takes.
    `RecordedEvent`: what reads return: position, aggregate_id, aggregate_type, version, event_id, event_type,
    event_data (dict), metadata (dict: correlation_id, causation_id), recorded_at (UTC); `.event()`, `.to_dict()`,
    `RecordedEvent.from_dict()` (for HTTP feeds). `derived_event_id(cause_id, purpose)`: a deterministic id for
    the event a handler emits in reaction to another, so a retried reaction is skipped as a duplicate.

EventStore(path | ":memory:" | duckdb connection, clock=)
    `append(events, expected_version=n | None)` -> `AppendResult(appended, duplicates)`: one aggregate's events,
    atomically. ConcurrencyError if the aggregate is not at `expected_version`. An event id already stored for the
    same event is skipped and reported as a duplicate (a retried call is a no-op); in a batch mixing stored and new
    events the new ones are appended after the current version, which must equal `expected_version`.
    `read_stream(aggregate_id, from_version=, to_version=)`, `read_all(after_position=, limit=, aggregate_type=)`,
    `head_position()`, `stream_version(id)`, `version_at(id, moment)`, `count()`.
    `transaction()`: one DuckDB transaction around several appends and your own writes (group commit: one
    commit costs 2-4 ms here, so a service should save many commands per transaction). `locked()`: the connection
    for reads. `store.connection`: the DuckDB connection, for your own tables next to the events.
    `bulk_load(store, arrow | pandas | parquet path, indexes=True)`: millions of events in one checked
    transaction; `indexes=False` into an empty store leaves the indexes out (twice as fast; for replay and queries).
    `in_transaction`: whether a `transaction()` is open.
    `create_indexes()` / `has_indexes()`: generated workloads above 5M events (size L) are stored without the
    event_id and aggregate_id indexes (they would take many GB); still correct, appends and stream reads scan.

Aggregates
    `Aggregate`: declare state as annotated class attributes with defaults; write commands that check rules and
    call `self.emit(event)`; apply each event type in a method marked `@on(EventType)`. `state_version` (bump it
    when the state's shape changes) and `state_sql` (vectorized replay, a query over `{events}`).
    `Repository(store, snapshot_every={Order: 100})`: `save(aggregate, metadata=)`, `load(cls, id, version=,
    as_of=)` (latest snapshot at or before the version, then the tail of events), `snapshot(aggregate)`,
    `save_all(aggregates)`: many aggregates in one transaction and a few statements (`append_aggregates`).

Replay and temporal queries
    `replay_all(store, cls, as_of=, up_to_position=)`: every aggregate's state in SQL (a DuckDB relation).
    `state_sql(cls, as_of=)`: the same as SQL text, for projections. `fold_all(store, cls, as_of=)`: the same in
    Python. `Repository.load(cls, id, as_of=datetime)`: one aggregate as it was.

Unit of work
    `UnitOfWork(store, snapshot_every=)`, opened inside `store.transaction()`: `load`/`load_many` (one vectorized
    replay for many aggregates, an identity map), `add` then `flush`, or `save(aggregate)` / `save_many`; created_at,
    updated_at and the snapshot policy are applied here for every save (the repository's and the services').

Subscriptions
    `Subscription(name, source, target, handler, batch_size=)`: `poll()`, `run(stop=, follow=)`, `position`,
    `lag()`. The handler gets `(events, connection)` and writes with that connection; the checkpoint (`save_checkpoint`, in
    the target database) commits in the same transaction. `ProcessedEvents`:
    duplicate detection by event id for consumers whose effects cannot share that transaction.

Errors (all `LabkitError`): ConcurrencyError, DuplicateEventError, UnknownEventTypeError, MalformedEventError,
WrongAggregateTypeError, AggregateNotFoundError, StoreArgumentError (a bad argument, named, with its value; also a
`UsageError`), StoreOpenError (the database file is held by another process, or is not one). Domain rule violations are `labkit.domain.RuleViolationError`.
"""

from labkit.events.aggregate import Aggregate, on
from labkit.events.bulk import bulk_load
from labkit.events.checkpoints import create_checkpoints_table, read_checkpoint, save_checkpoint
from labkit.events.codec import as_utc, to_utc_naive, utc_now
from labkit.events.errors import (
    AggregateNotFoundError,
    ConcurrencyError,
    DuplicateEventError,
    EventStoreError,
    MalformedEventError,
    StoreArgumentError,
    StoreOpenError,
    UnknownEventTypeError,
    WrongAggregateTypeError,
)
from labkit.events.event import Event, NewEvent, RecordedEvent, derived_event_id, event_class
from labkit.events.recorder import AppendResult, Recorder, Snapshot
from labkit.events.replay import fold_all, replay_all, state_sql
from labkit.events.repository import Repository, append_aggregates
from labkit.events.snapshots import latest_snapshot, snapshot_count
from labkit.events.store import EventStore
from labkit.events.subscriptions import ConnectionHandler, EventSource, ProcessedEvents, Subscription
from labkit.events.unit import UnitOfWork

__all__ = [
    "Aggregate",
    "AggregateNotFoundError",
    "AppendResult",
    "ConcurrencyError",
    "ConnectionHandler",
    "DuplicateEventError",
    "Event",
    "EventSource",
    "EventStore",
    "EventStoreError",
    "MalformedEventError",
    "NewEvent",
    "ProcessedEvents",
    "RecordedEvent",
    "Recorder",
    "Repository",
    "Snapshot",
    "StoreArgumentError",
    "StoreOpenError",
    "Subscription",
    "UnitOfWork",
    "UnknownEventTypeError",
    "WrongAggregateTypeError",
    "append_aggregates",
    "as_utc",
    "bulk_load",
    "create_checkpoints_table",
    "derived_event_id",
    "event_class",
    "fold_all",
    "latest_snapshot",
    "on",
    "read_checkpoint",
    "replay_all",
    "save_checkpoint",
    "snapshot_count",
    "state_sql",
    "to_utc_naive",
    "utc_now",
]
