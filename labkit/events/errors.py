"""The event store's exceptions: one type per kind of failure, all under `LabkitError`.

Each failure leaves the store unchanged: the checks run before anything is written.
"""

from __future__ import annotations

from uuid import UUID

from labkit.errors import LabkitError, UsageError


class EventStoreError(LabkitError):
    """Base of the errors of labkit.events."""


class StoreArgumentError(EventStoreError, UsageError):
    """An argument of a store call that is not what it takes (a limit below 0, a moment that is not a datetime)."""

    def __init__(self, parameter: str, value: object, expected: str) -> None:
        self.parameter, self.value = parameter, value
        super().__init__(f"{parameter}={_shown(value)} is not {expected}")


def _shown(value: object) -> str:
    """A value as an error message shows it: its repr, cut short (a caller may pass anything, of any size)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class StoreOpenError(EventStoreError):
    """The store's database cannot be opened: another process holds the file, or it is not a database."""


class ConcurrencyError(EventStoreError):
    """Another writer appended to the aggregate after the caller read it: reload and retry."""

    def __init__(self, aggregate_id: str, expected: int, actual: int) -> None:
        self.aggregate_id, self.expected, self.actual = aggregate_id, expected, actual
        super().__init__(
            f"{aggregate_id} is at version {actual}, you expected {expected}; "
            "another writer got there first: reload the aggregate and retry the command"
        )


class DuplicateEventError(EventStoreError):
    """An event id is reused for a different event (a retry of the same event is not an error: it is skipped)."""

    def __init__(self, event_id: UUID, detail: str) -> None:
        self.event_id = event_id
        super().__init__(f"event id {event_id} {detail}; give every new event its own id (uuid4)")


class UnknownEventTypeError(EventStoreError):
    """An event type that no Event class (or aggregate handler) knows."""


class MalformedEventError(EventStoreError):
    """Event data that does not match its event type's fields; it is refused before anything is written."""

    def __init__(self, event_type: str, field: str, problem: str) -> None:
        self.event_type, self.field, self.problem = event_type, field, problem
        super().__init__(f"{_one_line(event_type)}.{_one_line(field)}: {problem}")


def _one_line(name: str) -> str:
    """A name as one line shows it: a field named "\\n" (the data's own key) must not break the message in two."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in str(name))


class AggregateNotFoundError(EventStoreError):
    """No event is stored for the aggregate id (at the wanted version or time)."""


class WrongAggregateTypeError(EventStoreError):
    """An aggregate id that is stored with a different aggregate type, or events of several aggregates in one call."""
