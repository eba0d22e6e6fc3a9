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
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

# The largest request body a service reads: its biggest request, a batch of 5,000 customer ids, is about 100 kB.
MAX_BODY_BYTES = 1_000_000

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

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes each bad input back, and cannot: NaN is no JSON, a lone surrogate no UTF-8,
        # and a 10 MB string would come back whole. Each problem is named with a short, printable copy instead.
        return JSONResponse({"detail": [_problem(error) for error in exc.errors()]}, status_code=422)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("failed %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"{type(exc).__name__}: {exc}", "error": "InternalError"}, status_code=500)

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.include_router(service.common_router())
    app.include_router(service.router())
    return app


def _problem(error: dict[str, Any]) -> dict[str, Any]:
    """One validation problem as JSON can carry it: where, what, and the input as a short ASCII text."""
    problem = {
        "type": str(error.get("type", "")),
        "loc": [part if isinstance(part, int) else ascii(part).strip("'") for part in error.get("loc", ())],
        "msg": ascii(str(error.get("msg", ""))).strip("'"),
    }
    if "input" in error:
        shown = ascii(error["input"])
        problem["input"] = shown if len(shown) <= 80 else shown[:77] + "..."
    return problem


class BodyLimit:
    """Refuse a request body over `limit` bytes with 413 before the app reads it into memory.

    A declared Content-Length over the limit is refused at once; a body of declared length is passed on untouched
    (the server reads no more than it declares). A chunked body, of no declared length, is read here up to the
    limit and handed on whole, or refused as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: a disconnect, when the client goes
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        detail = f"the body is over {self.limit} bytes, the most a request may send"
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": orjson.dumps({"detail": detail, "error": "TooLarge"})})
