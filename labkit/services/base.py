"""What every service has: its database, its feed consumers, its health, status and event feed endpoints."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query

from labkit.services.broker_consumer import BrokerConsumer
from labkit.services.database import ServiceDatabase
from labkit.services.feed import MAX_LIMIT, HttpEventFeed, feed_page, long_poll
from labkit.services.feed_consumer import FeedConsumer
from labkit.services.forwarder import EventForwarder
from labkit.services.models import FeedPage, Health
from labkit.services.peer_consumer import PeerConsumer, UnitHandler
from labkit.services.saga import SAGA_FAILURES_SQL
from labkit.services.settings import ServiceSettings


class HttpService:
    """A service process's parts; subclasses add their tables, consumers and routes."""

    name: str = ""
    title: str = ""
    description: str = ""
    tables: tuple[str, ...] = ()
    relational = True  # False: the service keeps a DuckDB file even when given a PostgreSQL URL (a read model)
    publishes = True  # False: no peer reads its events (a read model), so nothing is forwarded to the broker

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.database = ServiceDatabase.open(
            settings.database_path,
            url=settings.database_url if self.relational else None,
            schema=self.name,
            max_batch=settings.group_commit_max,
        )
        self.database.setup((SAGA_FAILURES_SQL, *self.tables))
        self.consumers: list[PeerConsumer] = []
        self.forwarder: EventForwarder | None = None
        if settings.transport == "nats" and self.publishes:
            assert settings.broker_url is not None  # ServiceSettings refuses nats without one
            self.forwarder = EventForwarder(
                self.name, self.database, settings.broker_url, namespace=settings.broker_namespace
            )
        self.started = time.monotonic()
        # Set by the server runner: true once the process is asked to stop (long polls then answer at once).
        self.should_stop: Callable[[], bool] = lambda: False

    def consume(self, peer: str, handler: UnitHandler, *, name: str | None = None) -> PeerConsumer:
        """Add a consumer of a peer's events (started with the service): its HTTP feed, or its stream on the broker."""
        name = name or f"{self.name}<-{peer}"
        consumer: PeerConsumer
        if self.settings.transport == "nats":
            assert self.settings.broker_url is not None
            consumer = BrokerConsumer(
                name,
                self.name,
                peer,
                self.database,
                handler,
                self.settings.broker_url,
                namespace=self.settings.broker_namespace,
                batch_size=self.settings.feed_batch_size,
            )
        else:
            consumer = FeedConsumer(
                name,
                HttpEventFeed(self.settings.peer_url(peer)),
                self.database,
                handler,
                batch_size=self.settings.feed_batch_size,
                poll_timeout=self.settings.feed_poll_timeout,
            )
        self.consumers.append(consumer)
        return consumer

    def start(self) -> None:
        self.database.start()
        for consumer in self.consumers:
            consumer.start()
        if self.forwarder is not None:
            self.forwarder.start()

    def stop(self) -> None:
        for consumer in self.consumers:
            consumer.stop()
        if self.forwarder is not None:
            self.forwarder.stop()
        self.database.close()

    async def close_clients(self) -> None:
        """Close the HTTP clients the service opened on the event loop."""

    def status(self) -> dict[str, Any]:
        """Health plus consumer positions and lag, and how well group commit groups."""
        return {
            **self.health(),
            "transport": self.settings.transport,
            "consumers": [c.to_dict() for c in self.consumers],
            "forwarder": self.forwarder.to_dict() if self.forwarder is not None else None,
            "group_commit": self.database.committer.stats.to_dict(),
            "saga_failures": self.saga_failures(),
        }

    def health(self) -> dict[str, Any]:
        return {
            "service": self.name,
            "status": "ok",
            "backend": self.database.backend,
            "pid": os.getpid(),
            "head_position": self.database.store.head_position(),
            "uptime_seconds": round(time.monotonic() - self.started, 3),
        }

    def saga_failures(self) -> int:
        """How many reactions the domain refused (0 in a healthy run)."""
        rows = self.database.execute("SELECT count(*) FROM saga_failures")
        return int(rows[0][0])

    def common_router(self) -> APIRouter:
        router = APIRouter(tags=["operations"])

        @router.get("/health", response_model=Health, summary="Is the service up? (liveness and readiness)")
        def health() -> dict[str, Any]:
            return self.health()

        @router.get("/status", summary="Health, consumer positions and lag, group commit and saga failure counts")
        def status() -> dict[str, Any]:
            return self.status()

        @router.get("/events", response_model=FeedPage, tags=["events"], summary="The service's event feed")
        async def events(
            after: int = Query(0, ge=0, le=2**62, description="return events after this global position"),
            limit: int = Query(500, ge=1, le=MAX_LIMIT, description="at most this many events"),
            wait: float = Query(0.0, ge=0, le=60, description="seconds to wait for an event if none follows `after`"),
        ) -> dict[str, Any]:
            """Events in position order after `after`; long-polls up to `wait` seconds when there are none yet."""
            return await long_poll(
                lambda: feed_page(self.database.store, after, limit),
                self.database.signal,
                min(wait, self.settings.feed_max_wait),
                stopping=self.should_stop,
            )

        return router

    def router(self) -> APIRouter:
        """The service's own endpoints."""
        return APIRouter()
