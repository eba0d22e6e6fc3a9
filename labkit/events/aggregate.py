"""Aggregates: state declared as annotated class attributes, `@on(EventType)` handlers, commands that `emit`.

A command method checks the rules against the current state, then calls `self.emit(event)`; `emit` applies the
event through its handler (so the state moves on at once) and queues it for the store. Replay runs the same
handlers over stored events, which is why handlers only assign state and never check rules.
"""

from __future__ import annotations

import copy
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Self, TypeVar
from uuid import UUID

import orjson

from labkit.events.errors import UnknownEventTypeError
from labkit.events.event import Event, NewEvent, RecordedEvent, event_class

E = TypeVar("E", bound=Event)

# Bookkeeping every aggregate has; not part of its declared state.
BOOKKEEPING = ("id", "version", "created_at", "updated_at", "pending")

# aggregate_type -> the event types its classes apply: an event of another type in its stream could never be loaded
# again, so the write paths refuse it (`handled_event_types`). A union, for a type declared by more than one class.
_HANDLED: dict[str, set[str]] = {}


def handled_event_types(aggregate_type: str) -> set[str] | None:
    """The event types an aggregate type's classes apply (None: no Aggregate class declares this type)."""
    return _HANDLED.get(aggregate_type)


def on(event_type: type[E]) -> Callable[[Callable[[Any, E], None]], Callable[[Any, E], None]]:
    """Mark a method as the handler that applies `event_type` to the aggregate's state."""

    def mark(method: Callable[[Any, E], None]) -> Callable[[Any, E], None]:
        method._labkit_applies = event_type  # type: ignore[attr-defined]
        return method

    return mark


class Aggregate:
    """Base of event-sourced aggregates.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class LampSwitched(Event):
    ...     on: bool
    >>> class Lamp(Aggregate):
    ...     lit: bool = False
    ...
    ...     def switch(self, on: bool) -> None:
    ...         self.emit(LampSwitched(on=on))
    ...
    ...     @on(LampSwitched)
    ...     def _switched(self, event: LampSwitched) -> None:
    ...         self.lit = event.on
    >>> lamp = Lamp("lamp-1")
    >>> lamp.switch(True)
    >>> lamp.lit, lamp.version, [e.event_type for e in lamp.pending]
    (True, 1, ['LampSwitched'])
    """

    aggregate_type: ClassVar[str]
    # Bump when the declared state changes shape: snapshots of an older shape are then ignored, never misread.
    state_version: ClassVar[int] = 1
    handlers: ClassVar[dict[str, Callable[[Any, Any], None]]]
    state_fields: ClassVar[dict[str, Any]]

    id: str
    version: int
    created_at: datetime | None
    updated_at: datetime | None
    pending: list[NewEvent]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.aggregate_type = cls.__dict__.get("aggregate_type", cls.__name__)
        cls.handlers = {}
        for klass in reversed(cls.__mro__):
            for attribute in vars(klass).values():
                applies = getattr(attribute, "_labkit_applies", None)
                if applies is not None:
                    cls.handlers[applies.event_type] = attribute
        _HANDLED.setdefault(cls.aggregate_type, set()).update(cls.handlers)
        cls.state_fields = {}
        for klass in reversed(cls.__mro__[:-1]):
            if klass is Aggregate or not issubclass(klass, Aggregate):
                continue
            for name, hint in inspect.get_annotations(klass).items():
                if "ClassVar" in str(hint) or typing.get_origin(hint) is ClassVar or name in BOOKKEEPING:
                    continue
                if name not in klass.__dict__:
                    raise TypeError(f"{cls.__name__}.{name}: give every state field a default value")
                cls.state_fields[name] = klass.__dict__[name]

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        self.created_at = None
        self.updated_at = None
        self.pending = []
        for name, default in self.state_fields.items():
            # Mutable defaults (a dict of reservations) are copied so aggregates never share them.
            setattr(self, name, copy.copy(default))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.to_state().items())
        return f"{type(self).__name__}({self.id!r}, version={self.version}, {fields})"

    # ---- commands side -------------------------------------------------------------------------------------------

    def emit(self, event: Event, *, event_id: UUID | None = None, metadata: Mapping[str, Any] | None = None) -> None:
        """Apply a new event to the state and queue it for the store."""
        self.apply(event)
        self.pending.append(NewEvent.of(self.id, self.aggregate_type, event, event_id=event_id, metadata=metadata))

    @property
    def expected_version(self) -> int:
        """The version the store must be at for the pending events to be appended."""
        return self.version - len(self.pending)

    # ---- replay side ---------------------------------------------------------------------------------------------

    def apply(self, event: Event, *, position: int | None = None) -> None:
        """Move the state on by one event (its handler), counting the version."""
        handler = self.handlers.get(event.event_type)
        if handler is None:
            raise self._unknown(event.event_type, position)
        handler(self, event)
        self.version += 1

    def _unknown(self, event_type: str, position: int | None) -> UnknownEventTypeError:
        where = f" at position {position}" if position is not None else ""
        known = ", ".join(sorted(self.handlers)) or "none"
        return UnknownEventTypeError(
            f"unknown event type {event_type!r} in {self.aggregate_type} {self.id}{where}: {self.aggregate_type} "
            f"handles {known}; add an @on handler for it (or fix the stored event)"
        )

    def replay(self, records: Iterable[RecordedEvent]) -> Self:
        """Fold stored events into the state (they must continue this aggregate's version)."""
        for record in records:
            if record.version != self.version + 1:
                raise ValueError(f"{self.id}: event version {record.version} does not follow version {self.version}")
            handler = self.handlers.get(record.event_type)
            if handler is None:
                raise self._unknown(record.event_type, record.position)
            handler(self, event_class(record.event_type).trusted(record.event_data))
            self.version = record.version
            if self.created_at is None and record.version == 1:
                self.created_at = record.recorded_at
            self.updated_at = record.recorded_at
        return self

    def fold_json(self, event_types: list[str], event_data: list[str], positions: Callable[[int], int]) -> None:
        """Replay's fast path: fold (event_type, event_data as JSON text) pairs with no per-event envelope.

        `positions(i)` gives the position of the i-th event, asked for only to name it in an error.
        """
        handlers, loads = self.handlers, orjson.loads
        classes: dict[str, type[Event]] = {}
        for i, (event_type, data) in enumerate(zip(event_types, event_data, strict=True)):
            handler = handlers.get(event_type)
            if handler is None:
                raise self._unknown(event_type, positions(i))
            cls = classes.get(event_type)
            if cls is None:
                cls = classes[event_type] = event_class(event_type)
            event = object.__new__(cls)
            event.__dict__.update(loads(data))
            handler(self, event)
        self.version += len(event_types)

    # ---- state ---------------------------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The declared state fields and their values (what a snapshot stores and vectorized replay computes)."""
        return {name: copy.copy(getattr(self, name)) for name in self.state_fields}

    def restore(self, state: Mapping[str, Any], *, version: int) -> None:
        """Set the declared state from a snapshot taken at `version`."""
        missing = set(self.state_fields) - set(state)
        if missing:
            raise ValueError(f"{self.aggregate_type} snapshot lacks {sorted(missing)}")
        for name in self.state_fields:
            setattr(self, name, copy.copy(state[name]))
        self.version = version
