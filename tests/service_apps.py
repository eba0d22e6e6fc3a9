"""The services in-process for the route tests: each FastAPI app behind a `TestClient`, on DuckDB files in tmp_path.

A service needs its peers' URLs to start. `unreachable_peers` gives loopback ports that are bound but never listen,
so a consumer of a peer's feed gets "connection refused" at once and reports itself disconnected (and an order for
a customer the Order service has not seen is answered 503). `InProcessLab` runs several services and points each
consumer at its peer's app: `HttpEventFeed` takes the peer's `TestClient` as its HTTP client, so the saga and the
view run for real, in this process, without ports or subprocesses.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from polling import wait_until

from labkit.services.app import create_app
from labkit.services.feed import HttpEventFeed
from labkit.services.settings import ServiceSettings

# Short waits, so a consumer's long poll and a stopping app never hold a test up for long.
FAST = {"feed_poll_timeout": 0.2, "feed_max_wait": 2.0}


@contextmanager
def unreachable_peers() -> Iterator[dict[str, str]]:
    """URLs for the customer and order peers on loopback ports held bound (so no one else listens) but not listening."""
    with socket.socket() as customer, socket.socket() as order:
        customer.bind(("127.0.0.1", 0))
        order.bind(("127.0.0.1", 0))
        yield {
            "customer": f"http://127.0.0.1:{customer.getsockname()[1]}",
            "order": f"http://127.0.0.1:{order.getsockname()[1]}",
        }


def settings(service: str, data_dir: Path, peers: dict[str, str], **overrides: Any) -> ServiceSettings:
    return ServiceSettings(
        service,
        data_dir=data_dir,
        customer_url=peers["customer"],
        order_url=peers["order"],
        **{**FAST, **overrides},
    )


@contextmanager
def service_client(service: str, data_dir: Path, **overrides: Any) -> Iterator[TestClient]:
    """One service, started (its lifespan runs), with its peers unreachable."""
    with (
        unreachable_peers() as peers,
        TestClient(create_app(settings(service, data_dir, peers, **overrides))) as client,
    ):
        yield client


class InProcessLab:
    """Several services in this process, each consumer reading its peer's app through that app's TestClient."""

    def __init__(self, folder: Path, services: tuple[str, ...] = ("customer", "order", "history")) -> None:
        self.folder, self.services = folder, services
        self.apps: dict[str, FastAPI] = {}
        self.clients: dict[str, TestClient] = {}
        self.peers: dict[str, str] = {}
        self._stack = ExitStack()

    def __enter__(self) -> InProcessLab:
        self.peers = self._stack.enter_context(unreachable_peers())
        for name in self.services:
            self.apps[name] = create_app(settings(name, self.folder / name, self.peers))
        # Every app is started before any consumer is pointed at a peer: a consumer never reaches an app whose
        # lifespan has not run (until then it knocks at its unreachable port and backs off).
        for name in self.services:
            self.clients[name] = self._stack.enter_context(TestClient(self.apps[name]))
        by_url = {url: peer for peer, url in self.peers.items()}
        for name in self.services:
            for consumer in self.service(name).consumers:
                peer = by_url[consumer.feed.base_url]
                consumer.feed = HttpEventFeed(f"http://{peer}", client=self.clients[peer])
        return self

    def __exit__(self, *exc: object) -> None:
        # Every consumer stops before any app does, so none reads a peer whose database is already closed.
        for app in self.apps.values():
            for consumer in app.state.service.consumers:
                consumer.stop()
        self._stack.close()

    def service(self, name: str) -> Any:
        return self.apps[name].state.service

    def heads(self) -> dict[str, int]:
        return {name: client.get("/health").json()["head_position"] for name, client in self.clients.items()}

    def settled(self) -> bool:
        """Every consumer is connected and at its peer's head, and no head moved while that was checked."""
        before = self.heads()
        for name in self.services:
            for consumer in self.service(name).consumers:
                status = consumer.status()
                if not status.connected or status.position < before[status.peer_url.removeprefix("http://")]:
                    return False
        return self.heads() == before

    def settle(self, timeout: float = 20.0) -> None:
        """Wait until the saga and the view have applied every event."""
        wait_until(self.settled, timeout=timeout, what="every consumer at its peer's head")
