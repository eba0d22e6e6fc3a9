"""The services' exceptions: one type per kind of failure, all under `LabkitError`."""

from __future__ import annotations

from labkit.errors import LabkitError


class ServiceError(LabkitError):
    """Base of the errors of labkit.services."""


class UnknownServiceError(ServiceError):
    """A service name that is not customer, order or history."""


class SettingsError(ServiceError):
    """A service's option or environment variable has a value it cannot start with."""


class ServiceStartError(ServiceError):
    """A service process exited or did not answer /health in time; its log says why."""


class ServiceUnavailableError(ServiceError):
    """A service did not answer an HTTP request (it is down, restarting or unreachable)."""


class ServiceRequestError(ServiceError):
    """A service answered an HTTP request with an error status; the message carries its detail."""

    def __init__(self, method: str, url: str, status: int, detail: object) -> None:
        self.method, self.url, self.status, self.detail = method, url, status, detail
        super().__init__(f"{method} {url} answered {status}: {detail}")


class IdConflictError(ServiceError):
    """An id already used for a different customer or order: choose a new id (the same request again is fine)."""


class UnknownCustomerError(ServiceError):
    """An order names a customer that the Customer service does not know: create the customer first."""


class RunFolderError(ServiceError):
    """A run folder that holds no started services (or services of another run)."""


class NotSettledError(ServiceError):
    """The services did not finish their sagas and catch up on their feeds within the time given."""
