"""The write rules: what every write path (`append`, `append_aggregates`, `bulk_load`) checks before writing.

`check_write` holds the rules over the rows about to be written, vectorized so that one event and ten million
events go through the same code: versions continue each aggregate's stored head without gaps (1, 2, 3... in input
order), an aggregate keeps the type it was first stored with, and an event id appears once. What a path does with
an id that is already stored differs on purpose and is decided here too (`retries`): `append` skips the repeat of
the same event (a retried call is a no-op); `append_aggregates` and `bulk_load` write new events only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
import orjson
import pyarrow as pa

from labkit.events.aggregate import handled_event_types
from labkit.events.errors import (
    ConcurrencyError,
    DuplicateEventError,
    EventStoreError,
    MalformedEventError,
    StoreArgumentError,
    WrongAggregateTypeError,
)
from labkit.events.event import NewEvent, RecordedEvent, check_data, event_class
from labkit.events.inputs import MAX_VERSION, json_problem
from labkit.events.inputs import version as checked_version

SMALL = 64  # rows up to which the rules are checked row by row (cheaper than setting up the vectorized pass)


@dataclass(frozen=True)
class StreamHead:
    """Where an aggregate's stream stands in the store: its last version and the type it is stored as."""

    version: int
    aggregate_type: str


def check_write(
    aggregate_ids: Sequence[str] | pa.Array | pa.ChunkedArray,
    aggregate_types: Sequence[str] | pa.Array | pa.ChunkedArray,
    versions: Sequence[int] | np.ndarray | pa.Array | pa.ChunkedArray,
    *,
    heads: Mapping[str, StreamHead],
    event_ids: Sequence[UUID] | None = None,
    expected: bool = True,
) -> None:
    """Refuse rows (given column by column, in input order) that break a write rule; the first bad row is named.

    `heads`: the stored head of every aggregate among the rows that has one. `expected`: the versions were derived
    from the caller's expected version, so a first row that does not continue the head is a ConcurrencyError (the
    stream moved); otherwise (bulk input) it is a bad row. `event_ids`: checked for repeats within the rows; None
    when a unique index refuses them at commit (`bulk_load`, for speed).
    """
    if event_ids is not None:
        seen: set[UUID] = set()
        for event_id in event_ids:
            if event_id in seen:
                raise DuplicateEventError(event_id, "appears twice in the same call")
            seen.add(event_id)
    if not isinstance(aggregate_ids, pa.Array | pa.ChunkedArray) and len(aggregate_ids) <= SMALL:
        _check_few(list(aggregate_ids), list(aggregate_types), [int(v) for v in versions], heads, expected)
        return
    ids = _codes(aggregate_ids)
    n = len(ids.indices)
    if n == 0:
        return
    types = _codes(aggregate_types)
    version = np.asarray(versions.to_numpy() if isinstance(versions, pa.Array | pa.ChunkedArray) else versions)
    version = version.astype(np.int64, copy=False)
    id_codes, type_codes = ids.indices.to_numpy(), types.indices.to_numpy()
    id_names, type_names = ids.dictionary.to_pylist(), types.dictionary.to_pylist()
    # Rows sorted stably by aggregate keep input order within each aggregate: each continues the one before it.
    order = np.argsort(id_codes, kind="stable")
    grouped_ids, grouped_types, grouped_versions = id_codes[order], type_codes[order], version[order]
    starts = np.r_[True, grouped_ids[1:] != grouped_ids[:-1]]
    head_version = np.zeros(n, dtype=np.int64)
    head_type = grouped_types.copy()  # a new aggregate takes the type of its first row
    if heads:
        type_code = {name: code for code, name in enumerate(type_names)}
        for row in np.flatnonzero(starts):
            head = heads.get(id_names[grouped_ids[row]])
            if head is not None:
                head_version[row] = head.version
                head_type[row] = type_code.get(head.aggregate_type, -1)
    previous_version = np.r_[0, grouped_versions[:-1]]
    previous_type = np.r_[0, grouped_types[:-1]]
    expected_version = np.where(starts, head_version, previous_version) + 1
    owner_type = np.where(starts, head_type, previous_type)
    bad = (grouped_versions != expected_version) | (grouped_types != owner_type) | (grouped_versions > MAX_VERSION)
    if not bad.any():
        return
    rows = order[bad]
    first = int(rows.min())
    at = int(np.flatnonzero(order == first)[0])
    aggregate_id, aggregate_type = id_names[grouped_ids[at]], type_names[grouped_types[at]]
    if grouped_types[at] != owner_type[at]:
        where = "" if expected else f"row {first}: "
        if aggregate_id in heads:
            owner = f"is stored as a {heads[aggregate_id].aggregate_type}"
        else:
            owner = f"is a {type_names[owner_type[at]]} in its earlier rows"
        raise WrongAggregateTypeError(
            f"{where}{aggregate_id} {owner}, not a {aggregate_type}; use another aggregate id"
        )
    if grouped_versions[at] == expected_version[at]:  # in order, but past the last version
        raise past_the_last_version(aggregate_id)
    if expected and starts[at]:
        raise ConcurrencyError(aggregate_id, int(grouped_versions[at]) - 1, int(head_version[at]))
    raise EventStoreError(
        f"row {first}: {aggregate_id} version {int(grouped_versions[at])} where version {int(expected_version[at])} "
        "comes next; versions of an aggregate must run 1, 2, 3... in input order, continuing what is stored"
    )


def plan_append(
    events: Sequence[NewEvent],
    stored: Mapping[UUID, RecordedEvent],
    head: StreamHead | None,
    expected_version: int | None,
) -> tuple[list[NewEvent], tuple[RecordedEvent, ...], int]:
    """What one `append` call writes, after every rule: (the new events, the ones already stored, the stream's
    version they follow). `stored`: the call's ids found in the store; `head`: the stream's head (None: new)."""
    fresh = retries(events, stored)
    duplicates = tuple(stored[e.event_id] for e in events if e.event_id in stored)
    current = head.version if head else 0
    if fresh:
        start = current if expected_version is None else expected_version
        check_write(
            [e.aggregate_id for e in fresh],
            [e.aggregate_type for e in fresh],
            range(start + 1, start + 1 + len(fresh)),
            heads={events[0].aggregate_id: head} if head else {},
            event_ids=[e.event_id for e in events],
        )
    return fresh, duplicates, current


def check_envelopes(events: object) -> list[NewEvent]:
    """An `append` call's events: envelopes of one aggregate, each with an id, a type its aggregate applies and
    data and metadata that read back as written. The events as a list (a bad one is named, nothing is written)."""
    if isinstance(events, NewEvent | str | bytes | Mapping) or not isinstance(events, Iterable):
        raise StoreArgumentError("events", events, "a list of NewEvent envelopes (wrap one event in a list)")
    events = list(events)
    for event in events:
        if not isinstance(event, NewEvent):
            raise StoreArgumentError("events", event, "a NewEvent envelope: wrap the event with NewEvent.of")
        check_event(event)
    first = events[0] if events else None
    for event in events:
        assert first is not None
        if (event.aggregate_id, event.aggregate_type) != (first.aggregate_id, first.aggregate_type):
            raise WrongAggregateTypeError(
                f"one append call writes one aggregate; got {first.aggregate_type} {first.aggregate_id} and "
                f"{event.aggregate_type} {event.aggregate_id}: append them in separate calls (inside "
                "store.transaction() to commit them together)"
            )
    return events


def check_expected_version(expected_version: object) -> None:
    """None (no check) or the version the caller read the aggregate at."""
    if expected_version is not None:
        checked_version(expected_version, "expected_version")


def check_event(event: NewEvent) -> None:
    """One event on its way in, whatever the write path: every field of the envelope, before anything is written."""
    event_type = event.event_type if isinstance(event.event_type, str) else repr(event.event_type)
    for name in ("aggregate_id", "aggregate_type"):
        value = getattr(event, name)
        if not isinstance(value, str) or not value:
            raise MalformedEventError(event_type, name, f"expected a non-empty str, got {value!r}")
        problem = json_problem(value, name)
        if problem is not None:
            raise MalformedEventError(event_type, name, problem[1])
    if not isinstance(event.event_id, UUID):
        raise MalformedEventError(event_type, "event_id", f"expected a uuid.UUID, got {event.event_id!r}")
    check_data(event_class(event.event_type), event.event_data)
    check_belongs(event.aggregate_type, event.event_type, event.aggregate_id)
    check_metadata(event_type, event.metadata)


def check_belongs(aggregate_type: str, event_type: str, where: str) -> None:
    """Refuse an event whose aggregate type's classes do not apply it: that stream could never be loaded again."""
    handled = handled_event_types(aggregate_type)
    if handled is not None and event_type not in handled:
        raise WrongAggregateTypeError(
            f"{where}: a {aggregate_type} does not apply {event_type} events ({aggregate_type} applies "
            f"{', '.join(sorted(handled)) or 'none'}); append it to the aggregate it belongs to"
        )


def check_metadata(event_type: str, metadata: object) -> None:
    """Metadata is a JSON object whose values read back as written (no NaN, no integer beyond 64 bits)."""
    if not isinstance(metadata, Mapping):
        raise MalformedEventError(event_type, "metadata", f"expected a JSON object (a dict), got {metadata!r}"[:160])
    problem = json_problem(metadata, "metadata")
    if problem is not None:
        raise MalformedEventError(event_type, problem[0], problem[1])


def _check_few(
    ids: list[str], types: list[str], versions: list[int], heads: Mapping[str, StreamHead], expected: bool
) -> None:
    """`check_write` for a few rows, row by row: the same rules and errors as the vectorized pass (a test compares
    them), without its fixed cost (a command's append has one to three rows)."""
    last: dict[str, tuple[int, str, bool]] = {}  # aggregate -> (version, type, whether that came from the store)
    for row, (aggregate_id, aggregate_type, version) in enumerate(zip(ids, types, versions, strict=True)):
        start = aggregate_id not in last
        if start:
            head = heads.get(aggregate_id)
            last[aggregate_id] = (head.version, head.aggregate_type, True) if head else (0, aggregate_type, False)
        previous, owner, stored = last[aggregate_id]
        if aggregate_type != owner:
            where = "" if expected else f"row {row}: "
            said = (
                f"is stored as a {heads[aggregate_id].aggregate_type}"
                if aggregate_id in heads
                else (f"is a {owner} in its earlier rows")
            )
            raise WrongAggregateTypeError(
                f"{where}{aggregate_id} {said}, not a {aggregate_type}; use another aggregate id"
            )
        if version != previous + 1:
            if expected and start:
                raise ConcurrencyError(aggregate_id, version - 1, previous)
            raise EventStoreError(
                f"row {row}: {aggregate_id} version {version} where version {previous + 1} comes next; versions of an "
                "aggregate must run 1, 2, 3... in input order, continuing what is stored"
            )
        if version > MAX_VERSION:
            raise past_the_last_version(aggregate_id)
        last[aggregate_id] = (version, owner, stored)


def past_the_last_version(aggregate_id: str) -> EventStoreError:
    """The refusal of an event after a stream's last version."""
    return EventStoreError(
        f"{aggregate_id} is at version {MAX_VERSION}, the last one a stream holds: no event can follow it; "
        "go on in a new aggregate (e.g. close this one and open its successor)"
    )


def retries(events: Sequence[NewEvent], stored: Mapping[UUID, RecordedEvent]) -> list[NewEvent]:
    """The events of an `append` call not stored yet; a stored id must hold the same event (a retried call).

    An id stored for a different event (another aggregate, type or data) is a DuplicateEventError.
    """
    fresh = []
    for event in events:
        found = stored.get(event.event_id)
        if found is None:
            fresh.append(event)
        elif (found.aggregate_id, found.aggregate_type, found.event_type, dict(found.event_data)) != (
            event.aggregate_id,
            event.aggregate_type,
            event.event_type,
            dict(event.event_data),
        ):
            raise DuplicateEventError(
                event.event_id,
                f"is already stored for a different event ({found.event_type} of {found.aggregate_type} "
                f"{found.aggregate_id} at position {found.position})",
            )
        elif dict(found.metadata) != orjson.loads(orjson.dumps(dict(event.metadata))):
            raise DuplicateEventError(
                event.event_id,
                f"is already stored for the same event with other metadata ({dict(found.metadata)!r}); a retry "
                "repeats the event as it was, metadata included",
            )
    return fresh


def refuse_stored(event_id: UUID | None, path: str) -> None:
    """Paths that write new events only refuse an id found in the store."""
    if event_id is not None:
        raise DuplicateEventError(event_id, f"is already stored: {path} appends new events only (save skips repeats)")


def _codes(values: Any) -> pa.DictionaryArray:
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.dictionary_encode()
