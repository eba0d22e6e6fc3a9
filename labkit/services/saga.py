"""The saga's participants: each service reacts to its peer's events by running a command on its own aggregates.

The reactions are `labkit.domain.saga_reaction`'s (choreography, no 2PC). A batch loads all its targets in one
query, runs every reaction on them, and appends all the new events together at the group's commit. Each emitted event gets
an id derived from its cause, so a reaction that was already applied appends nothing. A reaction the domain
refuses (its target does not exist, a rule says no) is recorded in `saga_failures` and the batch goes on: one bad
event must not stop the service's saga forever, and the invariant checker reports it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from labkit.domain import RuleViolationError, saga_reaction
from labkit.domain.saga import Reaction
from labkit.events import AggregateNotFoundError, RecordedEvent, Recorder, UnitOfWork
from labkit.events.aggregate import Aggregate
from labkit.services.database import run_sql
from labkit.services.peer_consumer import UnitHandler

log = logging.getLogger(__name__)

SAGA_FAILURES_SQL = """
CREATE TABLE IF NOT EXISTS saga_failures (
    event_id     UUID      PRIMARY KEY,  -- the event whose reaction was refused
    position     BIGINT    NOT NULL,     -- its position in the peer's feed
    event_type   VARCHAR   NOT NULL,
    aggregate_id VARCHAR   NOT NULL,     -- the target of the refused command
    error        VARCHAR   NOT NULL,
    recorded_at  TIMESTAMP NOT NULL
)
"""


def _record_failure(store: Recorder, reaction: Reaction, error: Exception) -> None:
    cause = reaction.cause
    assert cause is not None
    log.warning(
        "saga reaction refused: %s on %s: %s",
        reaction.command,
        reaction.aggregate_id,
        error,
        extra={"event_id": str(cause.event_id), "event_type": cause.event_type},
    )
    run_sql(
        store,
        "INSERT INTO saga_failures VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            cause.event_id,
            cause.position,
            cause.event_type,
            reaction.aggregate_id,
            str(error),
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )


def saga_participant(aggregate_class: type[Aggregate]) -> UnitHandler:
    """A batch handler that runs the saga's reactions aimed at `aggregate_class`, once each."""

    def react(events: Sequence[RecordedEvent], unit: UnitOfWork) -> None:
        reactions = [
            r
            for e in events
            if (r := saga_reaction(e)) is not None and r.aggregate_type == aggregate_class.aggregate_type
        ]
        done = unit.store.stored_ids([r.event_id(0) for r in reactions]) if reactions else set()
        pending = [r for r in reactions if r.event_id(0) not in done]
        targets = unit.load_many(aggregate_class, [r.aggregate_id for r in pending])
        for reaction in pending:
            target = targets.get(reaction.aggregate_id)
            if target is None:
                _record_failure(
                    unit.store,
                    reaction,
                    AggregateNotFoundError(f"no {aggregate_class.aggregate_type} {reaction.aggregate_id} is stored"),
                )
                continue
            start = len(target.pending)
            try:
                getattr(target, reaction.command)(**reaction.arguments)
            except RuleViolationError as exc:  # refused before emitting: the state did not move
                _record_failure(unit.store, reaction, exc)
                continue
            cause = reaction.cause
            assert cause is not None
            metadata = {
                "correlation_id": cause.metadata.get("correlation_id", str(cause.event_id)),
                "causation_id": str(cause.event_id),
            }
            target.pending[start:] = [
                replace(e, event_id=reaction.event_id(i), metadata={**e.metadata, **metadata})
                for i, e in enumerate(target.pending[start:])
            ]
            unit.add(target)

    return react
