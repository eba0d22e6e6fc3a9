"""A unit of work for one group commit: aggregates loaded in one query, their new events appended in one load.

Appending aggregate by aggregate costs a few DuckDB round trips each, which caps a service near a few hundred
events per second whatever the commit does. A group instead loads every aggregate it needs with one vectorized
replay (`state_sql`, filtered to their ids), lets each command work on those objects (an identity map, so two
commands on one aggregate in the same group see each other's events), and writes all new events with
`append_aggregates`: one bulk insert, after checking that each aggregate's versions continue what is stored (the
guarantee of `append(expected_version=...)`, for the whole group in one query).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC
from typing import TypeVar

import duckdb

from labkit.events import AggregateNotFoundError, EventStore, append_aggregates
from labkit.events.aggregate import Aggregate

A = TypeVar("A", bound=Aggregate)

# Up to this many changed aggregates, appending each costs less than one bulk load.
SMALL_GROUP = 2


class UnitOfWork:
    """The aggregates one group of commands reads and changes, and the connection of the group's transaction."""

    def __init__(self, store: EventStore, connection: duckdb.DuckDBPyConnection) -> None:
        self.store, self.connection = store, connection
        self._loaded: dict[str, Aggregate | None] = {}
        self._changed: dict[str, Aggregate] = {}
        self.appended = 0
        self.after_commit: list[Callable[[], None]] = []  # run by the writer once the group is committed

    def peek(self, aggregate_id: str) -> Aggregate | None:
        """An aggregate this group already loaded or created (no query)."""
        return self._loaded.get(aggregate_id)

    def load_many(self, cls: type[A], ids: Iterable[str]) -> dict[str, A]:
        """The current state of the aggregates among `ids` that exist (one query for the ones not loaded yet)."""
        wanted = list(dict.fromkeys(ids))
        missing = [i for i in wanted if i not in self._loaded]
        if missing:
            marks = ", ".join("?" * len(missing))
            fields = ", ".join(cls.state_fields)
            # The aggregate's own vectorized replay, over only these aggregates' events (found by the index on
            # aggregate_id): replaying every aggregate and filtering after would cost the whole table each time.
            events = f"(SELECT * FROM events WHERE aggregate_id IN ({marks}) AND aggregate_type = ?)"
            replay: str = cls.state_sql  # type: ignore[attr-defined]
            relation = self.connection.execute(
                f"SELECT aggregate_id, version, created_at, updated_at, {fields} FROM ({replay.replace('{events}', events)})",
                [*missing, cls.aggregate_type] * replay.count("{events}"),
            )
            names = [d[0] for d in relation.description]
            for row in relation.fetchall():
                values = dict(zip(names, row, strict=True))
                aggregate = cls(values["aggregate_id"])
                state = {name: values[name] for name in cls.state_fields}
                for name, default in cls.state_fields.items():
                    if isinstance(default, dict):  # a DuckDB MAP arrives as a dict; NULL as None
                        state[name] = dict(state[name] or {})
                aggregate.restore(state, version=values["version"])
                aggregate.created_at = values["created_at"].replace(tzinfo=UTC)
                aggregate.updated_at = values["updated_at"].replace(tzinfo=UTC)
                self._loaded[aggregate.id] = aggregate
            for aggregate_id in missing:
                self._loaded.setdefault(aggregate_id, None)
        return {i: found for i in wanted if isinstance(found := self._loaded[i], cls)}

    def load(self, cls: type[A], aggregate_id: str) -> A:
        """One aggregate (AggregateNotFoundError naming it if none is stored)."""
        found = self.load_many(cls, [aggregate_id]).get(aggregate_id)
        if found is None:
            raise AggregateNotFoundError(f"no {cls.aggregate_type} {aggregate_id} is stored; check the id")
        return found

    def add(self, aggregate: Aggregate) -> None:
        """Save the aggregate's pending events when the group commits (a new aggregate joins the identity map)."""
        self._loaded[aggregate.id] = aggregate
        self._changed[aggregate.id] = aggregate

    def flush(self) -> int:
        """Append every pending event of the changed aggregates; how many were appended.

        A few aggregates go through `EventStore.append` (three statements each); more go through one
        `append_aggregates` (a version check, an id check and one bulk insert), whose cost is then shared by all.
        """
        changed = [a for a in self._changed.values() if a.pending]
        self._changed.clear()
        if not changed:
            return 0
        if len(changed) <= SMALL_GROUP:
            count = 0
            for aggregate in changed:
                result = self.store.append(aggregate.pending, expected_version=aggregate.expected_version)
                count += len(result.appended)
                if result.appended:  # empty when every event was stored before (a repeat): nothing moved
                    aggregate.created_at = aggregate.created_at or result.appended[0].recorded_at
                    aggregate.updated_at = result.appended[-1].recorded_at
                aggregate.pending = []
        else:
            count = append_aggregates(self.store, changed)
        self.appended += count
        return count
