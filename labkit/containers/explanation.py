"""What `explain` returns: the final image configuration, the stages, and one step per line that changed something."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from labkit.containers.builders import CURRENT, DEFAULT_BUILDER, Builder, DockerfileSyntax
from labkit.containers.errors import NoCommandError
from labkit.containers.imageconfig import ImageConfig
from labkit.containers.instructions import line_span


@dataclass(frozen=True)
class Step:
    """One instruction and what it did to the image, with the line that caused it."""

    line: int
    end_line: int
    stage: str
    instruction: str
    effect: str

    @property
    def lines(self) -> str:
        return line_span(self.line, self.end_line)


@dataclass(frozen=True)
class CopyPlan:
    """A COPY or ADD: what it takes, from where (the build context, an earlier stage, or another image), to where."""

    line: int
    instruction: str
    sources: tuple[str, ...]
    destination: str
    from_stage: int | None = None
    from_image: str | None = None

    @property
    def origin(self) -> str:
        if self.from_stage is not None:
            return f"stage {self.from_stage}"
        if self.from_image is not None:
            return f"image {self.from_image}"
        return "build context"


@dataclass(frozen=True)
class StagePlan:
    """One build stage: its base (an image, an earlier stage, or scratch) and what it copies from where."""

    index: int
    name: str | None
    base: str
    base_kind: Literal["image", "stage", "scratch"]
    line: int
    base_stage: int | None = None
    copies: tuple[CopyPlan, ...] = ()

    @property
    def label(self) -> str:
        """How steps name the stage: `0 (builder)` or `1`."""
        return f"{self.index} ({self.name})" if self.name else str(self.index)

    @property
    def depends_on(self) -> tuple[int, ...]:
        """Earlier stages this one needs: its base stage and every stage it copies from."""
        needed = {self.base_stage} if self.base_stage is not None else set()
        needed.update(copy.from_stage for copy in self.copies if copy.from_stage is not None)
        return tuple(sorted(needed))


def _quote_argv(argv: Sequence[str] | None) -> str:
    return json.dumps(list(argv or ()))


@dataclass(frozen=True)
class Explanation:
    """The image Docker builds from a Dockerfile: its configuration, its stages, and how each line shaped it."""

    config: ImageConfig
    author: str
    stages: tuple[StagePlan, ...]
    target: int
    steps: tuple[Step, ...]
    assumptions: tuple[str, ...] = ()
    unused_build_args: tuple[str, ...] = ()
    origins: Mapping[str, str] = field(default_factory=dict)
    builder: Builder = DEFAULT_BUILDER
    syntax: DockerfileSyntax = CURRENT

    # The final configuration, field by field, under the names the issue and the notebooks use.
    @property
    def entrypoint(self) -> tuple[str, ...] | None:
        return self.config.entrypoint

    @property
    def cmd(self) -> tuple[str, ...] | None:
        return self.config.cmd

    @property
    def working_dir(self) -> str:
        return self.config.working_dir

    @property
    def user(self) -> str:
        return self.config.user

    @property
    def env(self) -> dict[str, str]:
        return self.config.env_map

    @property
    def exposed_ports(self) -> tuple[str, ...]:
        return self.config.exposed_ports

    @property
    def volumes(self) -> tuple[str, ...]:
        return self.config.volumes

    @property
    def target_stage(self) -> StagePlan:
        return self.stages[self.target]

    def stages_built(self, builder: Builder | None = None) -> tuple[int, ...]:
        """Stages a build of the target runs: BuildKit only those the target needs, the legacy builder all up to it.

        `builder` defaults to the one this explanation was worked out for.
        """
        if (builder or self.builder) == "legacy":
            return tuple(range(self.target + 1))
        needed: set[int] = set()
        pending = [self.target]
        while pending:
            index = pending.pop()
            if index not in needed:
                needed.add(index)
                pending.extend(self.stages[index].depends_on)
        return tuple(sorted(needed))

    def command(self, run_args: Sequence[str] = (), entrypoint: str | None = None) -> tuple[str, ...]:
        """The argv a container of this image runs (`docker inspect`: Path then Args), as `docker run` builds it.

        `run_args` are the words after the image name; `entrypoint` is `docker run --entrypoint` (`""` clears it).
        Overriding the entrypoint also drops the image's CMD; run arguments replace CMD.
        """
        argv = self._entrypoint_for(entrypoint) + self._cmd_for(run_args, entrypoint)
        if not argv:
            raise NoCommandError(
                "No command specified: the image has no ENTRYPOINT and no CMD left for this `docker run` "
                f"(entrypoint={entrypoint!r}, run arguments={list(run_args)}); pass a command after the image name"
            )
        return argv

    def _entrypoint_for(self, entrypoint: str | None) -> tuple[str, ...]:
        if entrypoint is None:
            return self.config.entrypoint or ()
        return (entrypoint,) if entrypoint else ()

    def _cmd_for(self, run_args: Sequence[str], entrypoint: str | None) -> tuple[str, ...]:
        if run_args:
            return tuple(run_args)
        if entrypoint is not None:
            return ()
        return self.config.cmd or ()

    def command_story(self, run_args: Sequence[str] = (), entrypoint: str | None = None) -> list[str]:
        """How `docker run` arrives at the argv, one sentence per decision."""
        story: list[str] = []
        if entrypoint is None:
            where = self.origins.get("entrypoint", "nowhere")
            story.append(
                f"ENTRYPOINT {_quote_argv(self.config.entrypoint)} ({where})"
                if self.config.entrypoint
                else "no ENTRYPOINT: CMD (or the run arguments) is the whole command"
            )
        elif entrypoint:
            story.append(f"--entrypoint {entrypoint!r} replaces the image's ENTRYPOINT and drops its CMD")
        else:
            story.append('--entrypoint "" clears the image\'s ENTRYPOINT and drops its CMD')
        if run_args:
            story.append(f"run arguments {_quote_argv(run_args)} replace CMD")
        elif entrypoint is None:
            where = self.origins.get("cmd", "nowhere")
            story.append(
                f"CMD {_quote_argv(self.config.cmd)} ({where}) is appended"
                if self.config.cmd
                else "no CMD and no run arguments"
            )
        try:
            argv = self.command(run_args, entrypoint)
        except NoCommandError:
            story.append("nothing to run: Docker refuses to create the container (No command specified)")
            return story
        story.append(f"the container runs {_quote_argv(argv)}: Path {argv[0]!r}, Args {_quote_argv(argv[1:])}")
        return story

    def to_inspect(self) -> dict[str, Any]:
        """The predicted `docker image inspect` fields: `Config` (modelled keys) and `Author`."""
        return {"Config": self.config.to_inspect(), "Author": self.author}
