"""The FastAPI application of one service: its routes, the shared endpoints, error mapping, start and stop.

Errors map to statuses by kind, each with the message that says what was wrong: a broken business rule or an id
reused for something else is 409, an unknown aggregate 404, an unknown customer in an order 422, a peer that does
not answer 503. A bug is a 500 whose detail names the exception (and is logged with its traceback).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from labkit.domain import RuleViolationError
from labkit.errors import LabkitError
from labkit.events import AggregateNotFoundError, ConcurrencyError
from labkit.services.base import HttpService
from labkit.services.customer import CustomerService
from labkit.services.errors import (
    IdConflictError,
    ServiceRequestError,
    ServiceUnavailableError,
    UnknownCustomerError,
)
from labkit.services.history import HistoryService
from labkit.services.order import OrderService
from labkit.services.settings import ServiceSettings

log = logging.getLogger(__name__)

SERVICE_CLASSES: dict[str, type[HttpService]] = {
    "customer": CustomerService,
    "order": OrderService,
    "history": HistoryService,
}

# Most specific first: the first matching class decides the status.
STATUS_OF_ERROR: tuple[tuple[type[LabkitError], int], ...] = (
    (AggregateNotFoundError, 404),
    (RuleViolationError, 409),
    (IdConflictError, 409),
    (ConcurrencyError, 409),
    (UnknownCustomerError, 422),
    (ServiceRequestError, 502),
    (ServiceUnavailableError, 503),
    (LabkitError, 400),
)


def status_of(error: LabkitError) -> int:
    """The HTTP status a labkit error is answered with."""
    return next(status for kind, status in STATUS_OF_ERROR if isinstance(error, kind))


def create_app(settings: ServiceSettings) -> FastAPI:
    """The app of `settings.service`, with its database opened (started and stopped by the app's lifespan)."""
    service = SERVICE_CLASSES[settings.service](settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.database.signal.bind(asyncio.get_running_loop())
        service.start()
        log.info("service started", extra={"port": settings.port, "database": str(settings.database_path)})
        try:
            yield
        finally:
            await service.close_clients()
            service.stop()
            log.info("service stopped")

    # FastAPI's native OpenTelemetry hooks look up the providers (and the environment) on every request, a sixth of
    # the event loop's time under load here (py-spy); the lab configures no telemetry, so they are switched off.
    app = FastAPI(
        title=service.title,
        description=service.description,
        version="1",
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.service = service

    @app.exception_handler(LabkitError)
    async def labkit_error(request: Request, exc: LabkitError) -> JSONResponse:
        status = status_of(exc)
        log.info("refused %s %s: %s", request.method, request.url.path, exc, extra={"status": status})
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=status)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("failed %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"{type(exc).__name__}: {exc}", "error": "InternalError"}, status_code=500)

    app.include_router(service.common_router())
    app.include_router(service.router())
    return app
