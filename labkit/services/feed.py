"""HTTP event feeds: a service publishes its event table at `GET /events?after=&limit=&wait=`, peers pull it.

Long polling: when nothing follows `after`, the request waits (up to `wait` seconds) for the next commit instead
of answering empty at once, so a consumer learns of a new event within milliseconds without polling in a loop.
The answer carries the feed's head position, from which a consumer computes its lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from labkit.events import EventStore, RecordedEvent
from labkit.services.errors import ServiceRequestError, ServiceUnavailableError

MAX_LIMIT = 5000


class CommitSignal:
    """Wakes long-polling feed requests (on the event loop) when the writer thread commits."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the server's event loop (at startup)."""
        self._loop, self._event = loop, asyncio.Event()

    def notify(self) -> None:
        """Called from any thread after a commit."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._event is not None:
            self._event.set()
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        """The event the next commit sets: take it *before* reading, so a commit in between is not missed."""
        assert self._event is not None, "bind() the signal to the event loop first"
        return self._event


def feed_page(store: EventStore, after: int, limit: int) -> dict[str, Any]:
    """One page of the feed as JSON-ready data: events after `after`, and the head position."""
    events = store.read_all(after_position=after, limit=limit)
    return {"events": [e.to_dict() for e in events], "head_position": store.head_position()}


async def long_poll(
    read: Callable[[], Any],
    signal: CommitSignal,
    wait: float,
    *,
    stopping: Callable[[], bool],
) -> dict[str, Any]:
    """Read a page; while it is empty, wait for commits until `wait` seconds have passed (or the server stops)."""
    deadline = time.monotonic() + wait
    while True:
        woken = signal.current()
        page = await asyncio.to_thread(read)
        remaining = deadline - time.monotonic()
        if page["events"] or remaining <= 0 or stopping():
            return page
        # Wake at least every half second to notice a shutdown.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), timeout=min(remaining, 0.5))


@dataclass(frozen=True)
class PulledPage:
    """What one pull of a feed returned."""

    events: list[RecordedEvent]
    head_position: int


class HttpEventFeed:
    """A peer service's event feed over HTTP; also an `EventSource` (`read_all`, `head_position`) for subscribers."""

    def __init__(self, base_url: str, *, client: httpx.Client | None = None, connect_timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.Client(timeout=httpx.Timeout(connect_timeout, read=None))

    def read(self, *, after_position: int = 0, limit: int = 500, wait: float = 0.0) -> PulledPage:
        """Events after `after_position` (up to `limit`), waiting up to `wait` seconds for one to appear."""
        url = f"{self.base_url}/events"
        params = {"after": after_position, "limit": limit, "wait": wait}
        try:
            response = self.client.get(url, params=params, timeout=httpx.Timeout(2.0, read=wait + 10.0))
        except httpx.TransportError as exc:
            raise ServiceUnavailableError(f"the feed at {url} did not answer ({type(exc).__name__}: {exc})") from exc
        if response.status_code != 200:
            raise ServiceRequestError("GET", url, response.status_code, response.text[:300])
        data = orjson.loads(response.content)
        return PulledPage([RecordedEvent.from_dict(e) for e in data["events"]], int(data["head_position"]))

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Events after `after_position`, without waiting (the `EventSource` protocol)."""
        return self.read(after_position=after_position, limit=limit).events

    def head_position(self) -> int:
        """The position of the feed's last event."""
        return self.read(after_position=2**62, limit=1).head_position

    def close(self) -> None:
        self.client.close()
