"""Exercises with checks: a learner's answer run against Given-When-Then cases, judged passed or failed with a hint.

Each chapter's exercises module lists its cases; `check(answer, cases)` runs them in order and stops at the first
that fails, so the learner reads one hint at a time. A case is a function of the answer that raises `Failed` (with
the hint) when the answer gets it wrong; any other exception in the learner's code counts as a failure of that case
too, named with its type, never as a traceback.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


class Failed(Exception):
    """The answer got a case wrong; the message is the hint the learner reads."""


@dataclass(frozen=True)
class Case:
    """One Given-When-Then case: its name, and a function that raises `Failed` when the answer gets it wrong."""

    name: str
    run: Callable[[Any], None]


@dataclass
class Verdict:
    """What `check` found: the cases passed, and the first one that failed (with its hint), if any."""

    passed: list[str] = field(default_factory=list)
    failed: str | None = None
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return self.failed is None

    @property
    def headline(self) -> str:
        return "passed" if self.ok else "failed"

    @property
    def detail(self) -> str:
        if self.ok:
            return f"all {len(self.passed)} cases ({'; '.join(self.passed)})"
        return f"{self.failed}: {self.hint} ({len(self.passed)} cases passed before it)"

    def __str__(self) -> str:
        return f"{self.headline}: {self.detail}"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        return f'<p><b style="color:{colour}">{self.headline}</b>: {html.escape(self.detail)}</p>'


def check(answer: Any, cases: Sequence[Case]) -> Verdict:
    """Run the cases on the answer, in order, up to the first failure."""
    verdict = Verdict()
    for case in cases:
        try:
            case.run(answer)
        except Failed as failure:
            verdict.failed, verdict.hint = case.name, str(failure)
            return verdict
        except Exception as error:  # the learner's code broke: name it, in one line
            verdict.failed, verdict.hint = case.name, f"your code raised {type(error).__name__}: {error}"
            return verdict
        verdict.passed.append(case.name)
    return verdict


def expect(condition: bool, hint: str) -> None:
    """Fail the case with `hint` unless `condition` holds."""
    if not condition:
        raise Failed(hint)
