"""The domain's one kind of failure: a command that breaks a business rule."""

from __future__ import annotations

from labkit.errors import LabkitError


class RuleViolationError(LabkitError):
    """A command refused because it would break a rule of the domain; nothing is emitted."""

    def __init__(self, aggregate_id: str, rule: str, why: str) -> None:
        self.aggregate_id, self.rule, self.why = aggregate_id, rule, why
        super().__init__(f"{aggregate_id}: {rule} ({why})")


def require(condition: bool, aggregate_id: str, rule: str, why: str) -> None:
    """Raise RuleViolationError naming `rule` and `why` unless `condition` holds."""
    if not condition:
        raise RuleViolationError(aggregate_id, rule, why)
