"""Events: domain events as frozen dataclasses, their registry, and the envelopes the store reads and writes.

A domain event carries only its payload (the `event_data`); where it belongs (aggregate, version, position) lives
in the envelope: `NewEvent` on the way in, `RecordedEvent` on the way out.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self
from uuid import UUID, uuid4, uuid5

from labkit.events.errors import MalformedEventError, UnknownEventTypeError
from labkit.events.inputs import json_problem

# Field types an event may declare: JSON-native values, so event_data round-trips exactly.
FIELD_TYPES: tuple[type, ...] = (str, int, float, bool)

# event_type -> Event subclass, filled as subclasses are defined.
EVENT_TYPES: dict[str, type[Event]] = {}

# Namespace of event ids derived from a causing event, so a reaction retried after a crash has the same id.
DERIVED_ID_NAMESPACE = UUID("6f1c2b52-5d2e-4f0e-9a59-3f7a2c0d8e11")


class Event:
    """Base of domain events: subclass it as a `@dataclass(frozen=True)`; its fields are the event_data.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class ParcelWeighed(Event):
    ...     grams: int
    >>> ParcelWeighed(grams=120).to_data()
    {'grams': 120}
    >>> ParcelWeighed.from_data({"grams": "heavy"})
    Traceback (most recent call last):
    ...
    labkit.events.errors.MalformedEventError: ParcelWeighed.grams: expected int, got str 'heavy'
    """

    event_type: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.event_type = cls.__name__
        known = EVENT_TYPES.get(cls.__name__)
        if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
            raise TypeError(
                f"event type {cls.__name__} is already defined in {known.__module__}; "
                "event type names are stored in the event table, so they must be unique: rename one"
            )
        EVENT_TYPES[cls.__name__] = cls

    def __post_init__(self) -> None:
        check_data(type(self), {f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    def to_data(self) -> dict[str, Any]:
        """The event_data: field name -> value."""
        return {name: getattr(self, name) for name in field_names(type(self))}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        """The event from its event_data, checked field by field."""
        check_data(cls, data)
        return cls.trusted(data)

    @classmethod
    def trusted(cls, data: Mapping[str, Any]) -> Self:
        """The event from event_data already checked at append time (replay's fast path: no checks)."""
        event = object.__new__(cls)
        event.__dict__.update(data)
        return event


def event_class(event_type: str) -> type[Event]:
    """The Event subclass named `event_type`."""
    try:
        return EVENT_TYPES[event_type]
    except (KeyError, TypeError):  # TypeError: not even hashable, so certainly no event type
        raise UnknownEventTypeError(
            f"unknown event type {event_type!r}: define it as a @dataclass(frozen=True) subclass of "
            "labkit.events.Event and import its module before appending or reading it"
        ) from None


@typing.no_type_check
def field_types(cls: type[Event]) -> dict[str, tuple[tuple[type, ...], bool]]:
    """Field name -> (accepted Python types, optional) from the dataclass annotations."""
    cached = cls.__dict__.get("_labkit_field_types")
    if cached is not None:
        return cached
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} must be decorated with @dataclass(frozen=True)")
    hints = typing.get_type_hints(cls)
    result: dict[str, tuple[tuple[type, ...], bool]] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = (
            typing.get_args(hint)
            if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
            else ()
        )
        optional = type(None) in args
        base = [a for a in args if a is not type(None)] if args else [hint]
        if len(base) != 1 or base[0] not in FIELD_TYPES:
            raise TypeError(f"{cls.__name__}.{f.name}: event fields are str, int, float or bool (or X | None)")
        accepted = (int, float) if base[0] is float else (base[0],)
        result[f.name] = (accepted, optional)
    cls._labkit_field_types = result
    return result


def field_names(cls: type[Event]) -> tuple[str, ...]:
    """The event's field names, in declaration order."""
    return tuple(field_types(cls))


def check_data(cls: type[Event], data: Mapping[str, Any]) -> None:
    """Refuse event_data that lacks a field, has an extra one, or holds a value of the wrong type."""
    if not isinstance(data, Mapping):
        got = f"{type(data).__name__} {data!r}"
        raise MalformedEventError(
            cls.event_type, "(event_data)", f"expected a JSON object, got {got if len(got) <= 80 else got[:77] + '...'}"
        )
    declared = field_types(cls)
    for name in data:
        if name not in declared:
            raise MalformedEventError(
                cls.event_type, str(name), f"unknown field; {cls.event_type} has {', '.join(declared) or 'no fields'}"
            )
    for name, (accepted, optional) in declared.items():
        if name not in data:
            raise MalformedEventError(cls.event_type, name, "missing")
        value = data[name]
        if value is None and optional:
            continue
        # bool is an int subclass in Python, but a flag stored where a number belongs is a bug.
        if (isinstance(value, bool) and bool not in accepted) or not isinstance(value, accepted):
            expected = " or ".join(t.__name__ for t in accepted)
            raise MalformedEventError(
                cls.event_type, name, f"expected {expected}, got {type(value).__name__} {value!r}"
            )
        problem = json_problem(value, name)  # NaN, 2**70, a lone surrogate: would not read back as written
        if problem is not None:
            raise MalformedEventError(cls.event_type, name, problem[1])


def derived_event_id(cause_event_id: UUID | str, purpose: str) -> UUID:
    """A deterministic id for the event a handler emits in reaction to another: a retried reaction is a duplicate.

    >>> cause = UUID("00000000-0000-4000-8000-000000000101")
    >>> derived_event_id(cause, "reserve credit") == derived_event_id(str(cause), "reserve credit")
    True
    """
    return uuid5(DERIVED_ID_NAMESPACE, f"{UUID(str(cause_event_id))}:{purpose}")


@dataclass(frozen=True)
class NewEvent:
    """An event on its way into the store: which aggregate it belongs to, its type and data, its id."""

    aggregate_id: str
    aggregate_type: str
    event_type: str
    event_data: Mapping[str, Any]
    event_id: UUID = field(default_factory=uuid4)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        aggregate_id: str,
        aggregate_type: str,
        event: Event,
        *,
        event_id: UUID | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> NewEvent:
        """The envelope of a domain event."""
        return cls(aggregate_id, aggregate_type, event.event_type, event.to_data(), event_id or uuid4(), metadata or {})

    def event(self) -> Event:
        """The domain event, checked against its class (raises on unknown types and malformed data)."""
        return event_class(self.event_type).from_data(self.event_data)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored: its global position, its version in its aggregate and when it was recorded."""

    position: int
    aggregate_id: str
    aggregate_type: str
    version: int
    event_id: UUID
    event_type: str
    event_data: Mapping[str, Any]
    metadata: Mapping[str, Any]
    recorded_at: datetime

    def event(self) -> Event:
        """The domain event (raises UnknownEventTypeError naming the type, aggregate and position)."""
        try:
            cls = event_class(self.event_type)
        except UnknownEventTypeError as exc:
            raise UnknownEventTypeError(f"{exc} (met in {self.aggregate_id} at position {self.position})") from None
        return cls.trusted(self.event_data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ids and times as strings), as an HTTP event feed sends it."""
        return {
            "position": self.position,
            "aggregate_id": self.aggregate_id,
            "aggregate_type": self.aggregate_type,
            "version": self.version,
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "event_data": dict(self.event_data),
            "metadata": dict(self.metadata),
            "recorded_at": self.recorded_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordedEvent:
        """The inverse of `to_dict` (for consumers of an HTTP event feed)."""
        recorded_at = datetime.fromisoformat(data["recorded_at"])
        return cls(
            position=int(data["position"]),
            aggregate_id=data["aggregate_id"],
            aggregate_type=data["aggregate_type"],
            version=int(data["version"]),
            event_id=UUID(str(data["event_id"])),
            event_type=data["event_type"],
            event_data=dict(data["event_data"]),
            metadata=dict(data.get("metadata") or {}),
            recorded_at=recorded_at if recorded_at.tzinfo else recorded_at.replace(tzinfo=UTC),
        )
