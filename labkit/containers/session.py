"""A notebook's use of the Docker engine: each step runs when there is an engine, and says what it skipped when not.

lab = EngineSession("notebook-09")
image = lab.step("build the services image", lambda engine: build_lab_image(engine, "services"))
lab.skipped                     # the steps that did not run, and why
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from labkit.containers.baseimages import lab_cleanup
from labkit.containers.engine import CleanupReport, Engine, connect_or_reason

T = TypeVar("T")


class EngineSession:
    """The engine (or the reason there is none) for one notebook; everything it creates carries `purpose`."""

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose
        self.engine: Engine | None
        self.engine, self.reason = connect_or_reason()
        self.skipped: list[str] = []

    @property
    def available(self) -> bool:
        return self.engine is not None

    def describe(self) -> str:
        """One line: which engine the notebook uses, or that it explains instead, and why."""
        if self.engine is not None:
            return f"using {self.engine.status}"
        return f"no Docker engine, so this notebook explains instead of running: {self.reason}"

    def step(self, what: str, action: Callable[[Engine], T]) -> T | None:
        """Run `action` on the engine; without one, print that `what` was skipped (and why) and return None."""
        if self.engine is None:
            self.skipped.append(what)
            print(f"skipped: {what} (no Docker engine)")
            return None
        return action(self.engine)

    def summary(self) -> str:
        if not self.skipped:
            return "every step ran on the engine"
        steps = "\n".join(f"  - {what}" for what in self.skipped)
        return f"skipped {len(self.skipped)} steps because {self.reason}:\n{steps}"

    def cleanup(self) -> CleanupReport | None:
        """Remove the containers, networks and images this notebook created (by its purpose label)."""
        return self.step("clean up", lambda engine: lab_cleanup(engine, purpose=self.purpose))
