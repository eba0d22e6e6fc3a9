"""The patterns area's exceptions: one type per kind of failure, all under `LabkitError`."""

from __future__ import annotations

from labkit.errors import LabkitError


class PatternsError(LabkitError):
    """Base of the errors of labkit.patterns."""


class OutOfOrderError(PatternsError):
    """An event arrived before an earlier version of its aggregate: applying it would skip a change."""

    def __init__(self, consumer: str, aggregate_id: str, expected: int, got: int) -> None:
        self.consumer, self.aggregate_id, self.expected, self.got = consumer, aggregate_id, expected, got
        super().__init__(
            f"consumer {consumer}: {aggregate_id} version {got} arrived before version {expected}; "
            "rejected (nothing of this batch is applied): redeliver it after the missing versions, "
            'or use out_of_order="wait" to park it until they arrive'
        )


class InjectedCrash(PatternsError):
    """The fault injector stopped a component at a crash point (in-process crash mode)."""

    def __init__(self, component: str, point: str, attempt: int) -> None:
        self.component, self.point, self.attempt = component, point, attempt
        super().__init__(f"{component} crashed at {point} (attempt {attempt}), as the fault schedule says")


class ProjectionError(PatternsError):
    """A projection or its runner was used in a way it does not support."""
