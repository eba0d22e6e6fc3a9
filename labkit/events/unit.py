"""The unit of work: the aggregates one transaction reads and changes, saved together with the snapshot policy.

Every save in labkit goes through here: `Repository.save` and `save_all`, and the services' group commit. Saving
aggregate by aggregate costs a few DuckDB round trips each, which caps a service near a few hundred events per
second whatever the commit does. So a unit loads every aggregate it needs with one vectorized replay (`state_sql`,
filtered to their ids), keeps an identity map (two commands on one aggregate in the same group see each other's
events), and writes the new events of many aggregates with `append_aggregates`: one bulk insert after the write
rules' check. The bookkeeping after a save (created_at, updated_at, a snapshot when the policy says so) is here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import pyarrow as pa

from labkit.errors import UsageError
from labkit.events import rules
from labkit.events.aggregate import Aggregate
from labkit.events.codec import as_utc, to_json, to_utc_naive
from labkit.events.errors import AggregateNotFoundError
from labkit.events.loading import aggregate_from
from labkit.events.recorder import AppendResult, Recorder
from labkit.events.snapshots import is_due, save_snapshot
from labkit.events.store import EventStore

A = TypeVar("A", bound=Aggregate)

# Up to this many changed aggregates, appending each costs less than one bulk load.
SMALL_GROUP = 2


class UnitOfWork:
    """The aggregates one transaction reads and changes; open it inside `store.transaction()`.

    `snapshot_every`: aggregate type -> take a snapshot each time a save crosses a multiple of this many events.
    """

    def __init__(self, store: Recorder, *, snapshot_every: Mapping[str, int] | None = None) -> None:
        self.store, self.connection = store, getattr(store, "connection", None)
        self.snapshot_every = dict(snapshot_every or {})
        self._loaded: dict[str, Aggregate | None] = {}
        self._changed: dict[str, Aggregate] = {}
        self.appended = 0
        self.after_commit: list[Callable[[], None]] = []  # run by the caller once the transaction is committed

    # ---- reading ---------------------------------------------------------------------------------------------------

    def peek(self, aggregate_id: str) -> Aggregate | None:
        """An aggregate this unit already loaded or created (no query)."""
        return self._loaded.get(aggregate_id)

    def load_many(self, cls: type[A], ids: Iterable[str]) -> dict[str, A]:
        """The current state of the aggregates among `ids` that exist (one query for the ones not loaded yet)."""
        wanted = list(dict.fromkeys(ids))
        missing = [i for i in wanted if i not in self._loaded]
        if missing and not isinstance(self.store, EventStore):
            # A server back-end: each aggregate's snapshot and tail, all in one round trip, folded here.
            streams = self.store.load_streams(missing, cls.aggregate_type, cls.state_version)
            for aggregate_id, (snapshot, tail) in streams.items():
                aggregate = aggregate_from(cls, aggregate_id, snapshot, tail)
                self._loaded[aggregate_id] = aggregate if aggregate.version else None
        elif missing:
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
                aggregate.created_at = as_utc(values["created_at"])
                aggregate.updated_at = as_utc(values["updated_at"])
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

    # ---- writing ---------------------------------------------------------------------------------------------------

    def add(self, aggregate: Aggregate) -> None:
        """Save the aggregate's pending events at `flush` (a new aggregate joins the identity map)."""
        self._loaded[aggregate.id] = aggregate
        self._changed[aggregate.id] = aggregate

    def flush(self, *, metadata: Mapping[str, Any] | None = None) -> int:
        """Append every pending event of the added aggregates; how many were appended.

        A few aggregates go through `save` (`EventStore.append`: three statements each, a retried event skipped);
        more go through `save_many` (a version check, an id check and one bulk insert shared by all).
        """
        changed = [a for a in self._changed.values() if a.pending]
        self._changed.clear()
        if len(changed) <= SMALL_GROUP:
            return sum(len(self.save(aggregate, metadata=metadata).appended) for aggregate in changed)
        return self.save_many(changed, metadata=metadata)

    def save(self, aggregate: Aggregate, *, metadata: Mapping[str, Any] | None = None) -> AppendResult:
        """Append one aggregate's pending events now, expecting the version it was loaded at.

        `metadata` (correlation and causation ids) is added to each pending event's own. A pending event whose id is
        already stored for the same event is skipped (a retried command).
        """
        pending = aggregate.pending
        if metadata:
            pending = [type(e)(**{**e.__dict__, "metadata": {**e.metadata, **metadata}}) for e in pending]
        before = aggregate.expected_version
        with self.store.transaction():
            result = self.store.append(pending, expected_version=before)
            if result.appended:  # empty when every event was stored before (a repeat): nothing moved
                first, last = result.appended[0], result.appended[-1]
                self._saved(aggregate, before, first.recorded_at if first.version == 1 else None, last.recorded_at)
        aggregate.pending = []
        self.appended += len(result.appended)
        return result

    def save_many(self, aggregates: Sequence[Aggregate], *, metadata: Mapping[str, Any] | None = None) -> int:
        """Append many aggregates' pending events with one bulk insert (new events only); how many were appended."""
        changed = [a for a in aggregates if a.pending]
        if not changed:
            return 0
        before = {a.id: a.expected_version for a in changed}
        with self.store.transaction():
            count, recorded_at = _append_many(self.store, changed, metadata or {})
            moment = as_utc(recorded_at)
            for aggregate in changed:
                self._saved(aggregate, before[aggregate.id], moment if before[aggregate.id] == 0 else None, moment)
                aggregate.pending = []
        self.appended += count
        return count

    def _saved(self, aggregate: Aggregate, before: int, created_at: Any, updated_at: Any) -> None:
        """After a save: the aggregate's times, and a snapshot if the save crossed the policy's interval."""
        if aggregate.created_at is None and created_at is not None:
            aggregate.created_at = created_at
        aggregate.updated_at = updated_at
        if is_due(self.snapshot_every.get(aggregate.aggregate_type), before, aggregate.version):
            save_snapshot(self.store, aggregate)


def _append_many(store: Recorder, aggregates: list[Aggregate], metadata: Mapping[str, Any]) -> tuple[int, Any]:
    """Append the pending events of many aggregates in the open transaction: the write rules, then one bulk insert.

    Each aggregate must still be at the version it was loaded at (ConcurrencyError naming the first that is not);
    an event id already stored is refused, not skipped: this is the path for new events. (How many, when.)
    """
    ids = [a.id for a in aggregates]
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise UsageError(f"{twice} is given twice: save each aggregate once (its pending events hold every change)")
    columns: dict[str, list[Any]] = {k: [] for k in ("aggregate_id", "aggregate_type", "version", "event_id")}
    columns |= {"event_type": [], "event_data": [], "metadata": []}
    event_ids = []
    rules.check_metadata("(save)", metadata)
    for aggregate in aggregates:
        for offset, event in enumerate(aggregate.pending, start=1):
            rules.check_event(event)
            columns["aggregate_id"].append(aggregate.id)
            columns["aggregate_type"].append(aggregate.aggregate_type)
            columns["version"].append(aggregate.expected_version + offset)
            columns["event_id"].append(str(event.event_id))
            columns["event_type"].append(event.event_type)
            columns["event_data"].append(to_json(event.event_type, "event_data", event.event_data))
            columns["metadata"].append(to_json(event.event_type, "metadata", {**event.metadata, **metadata}))
            event_ids.append(event.event_id)
    rules.check_write(
        columns["aggregate_id"],
        columns["aggregate_type"],
        columns["version"],
        heads=store.stream_heads(ids),
        event_ids=event_ids,
    )
    stored = store.stored_ids(event_ids)
    rules.refuse_stored(next((i for i in event_ids if i in stored), None), "save_all")  # the first, in input order
    recorded_at = store.clock()
    table = pa.table(
        {
            **{k: pa.array(v, pa.string()) for k, v in columns.items() if k != "version"},
            "version": pa.array(columns["version"], pa.int32()),
            "recorded_at": pa.array([to_utc_naive(recorded_at)] * len(event_ids), pa.timestamp("us")),
        }
    )
    return store.write_rows(table), recorded_at
