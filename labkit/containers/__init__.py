"""Containers: a Dockerfile explainer proven against a real engine, an engine driver, offline base images, lint.

from labkit.containers import explain
image = explain(open("Dockerfile").read(), target="runtime", build_args={"BASE_IMAGE": "python:3.11-slim"})
image.command(["--port", "9000"])      # the argv `docker run IMAGE --port 9000` runs
image.steps                            # what each line did, with its line number
explain(text, builder="legacy", syntax="1.2")   # Docker 20.10's legacy builder instead of BuildKit, today's syntax
"""

from labkit.containers.builders import BUILDERS, Builder, DockerfileSyntax
from labkit.containers.errors import (
    BaseImageError,
    BuildFailedError,
    ContainerFailedError,
    ContainersError,
    DockerfileError,
    DockerfileSyntaxError,
    EngineUnavailableError,
    InvalidInstructionError,
    LintError,
    MissingImageError,
    NoCommandError,
    SubstitutionError,
    UnknownInstructionError,
    UnknownTargetError,
)
from labkit.containers.explainer import explain
from labkit.containers.explanation import CopyPlan, Explanation, StagePlan, Step
from labkit.containers.imageconfig import Healthcheck, ImageConfig

__all__ = [
    "BUILDERS",
    "BaseImageError",
    "BuildFailedError",
    "Builder",
    "ContainerFailedError",
    "ContainersError",
    "CopyPlan",
    "DockerfileError",
    "DockerfileSyntax",
    "DockerfileSyntaxError",
    "EngineUnavailableError",
    "Explanation",
    "Healthcheck",
    "ImageConfig",
    "InvalidInstructionError",
    "LintError",
    "MissingImageError",
    "NoCommandError",
    "StagePlan",
    "Step",
    "SubstitutionError",
    "UnknownInstructionError",
    "UnknownTargetError",
    "explain",
]
