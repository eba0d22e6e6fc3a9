"""The read model's exceptions: a bad query parameter, named, with what to give instead."""

from __future__ import annotations

from labkit.errors import LabkitError, UsageError


class QueryParameterError(UsageError):
    """A query parameter that is not what the query needs (a threshold that is not a number, a date that does not parse)."""

    def __init__(self, parameter: str, value: object, expected: str) -> None:
        self.parameter, self.value = parameter, value
        super().__init__(f"{parameter}={value!r} is not {expected}")


class ViewError(LabkitError):
    """The read model was asked for something it cannot do (an unknown source, a source that cannot export)."""
