"""The layouts' exceptions: one type per kind of failure, all under `LabkitError`."""

from __future__ import annotations

from labkit.errors import LabkitError


class LayoutError(LabkitError):
    """Base of the errors of labkit.layouts."""


class ServiceOfflineError(LayoutError):
    """A service was called while its database file was taken away from it (the ATTACH anti-pattern does that)."""


class UnknownEntityError(LayoutError):
    """A command named a customer or an order that the service does not hold."""


class MethodsDisagreeError(LayoutError):
    """The query methods returned different rows on data that should be consistent."""


class SecondTransactionFailed(LayoutError):
    """The injected failure after the first write of a business transaction (the monolith demonstration)."""
