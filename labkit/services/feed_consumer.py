"""Feed consumers: a thread per peer feed that pulls events and applies them with its checkpoint, in one commit.

The checkpoint (`labkit.events.checkpoints`, as every subscriber keeps it) is written in the same transaction as the handler's writes, through the service's group commit. A crash loses both or keeps
both, so a restart resumes exactly after the last applied event: duplicates and restarts are harmless.
While the peer is down the consumer backs off and retries; its status says so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from labkit.errors import LabkitError
from labkit.events import RecordedEvent, UnitOfWork
from labkit.services.database import ServiceDatabase
from labkit.services.feed import HttpEventFeed

log = logging.getLogger(__name__)


class BatchFailedError(RuntimeError):
    """A handler failed part-way through a batch: not a LabkitError, so the whole group commit rolls back."""


# A handler gets a batch of the peer's events and the group's unit of work (its `connection` for own tables).
UnitHandler = Callable[[Sequence[RecordedEvent], UnitOfWork], None]


@dataclass
class ConsumerStatus:
    """What `GET /status` reports for one consumer."""

    name: str
    peer_url: str
    position: int
    peer_head: int
    connected: bool
    handled: int
    last_error: str | None

    @property
    def lag(self) -> int:
        return max(0, self.peer_head - self.position)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "lag": self.lag}


class FeedConsumer:
    """Pulls one peer's feed and applies each batch, with its checkpoint, in one transaction of `database`."""

    def __init__(
        self,
        name: str,
        feed: HttpEventFeed,
        database: ServiceDatabase,
        handler: UnitHandler,
        *,
        batch_size: int = 500,
        poll_timeout: float = 10.0,
    ) -> None:
        self.name, self.feed, self.database, self.handler = name, feed, database, handler
        self.batch_size, self.poll_timeout = batch_size, poll_timeout
        self.position = self.database.store.read_checkpoint(name)
        self.peer_head = self.position
        self.connected = False
        self.handled = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"consumer-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to stop; it finishes the batch it is applying (a long poll in flight is abandoned)."""
        self._stop.set()
        self._thread.join(timeout)

    def status(self) -> ConsumerStatus:
        return ConsumerStatus(
            self.name, self.feed.base_url, self.position, self.peer_head, self.connected, self.handled, self.last_error
        )

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                # After a failure, ask without waiting first, so the status shows the peer back at once.
                wait = self.poll_timeout if self.connected else 0.0
                page = self.feed.read(after_position=self.position, limit=self.batch_size, wait=wait)
                self.connected, self.last_error, backoff = True, None, 0.05
                self.peer_head = max(page.head_position, self.peer_head)
                if page.events and not self._stop.is_set():
                    self.database.write_and_wait(lambda c, events=page.events: self._apply(events, c))
                    self.position = page.events[-1].position
                    self.handled += len(page.events)
            except LabkitError as exc:
                if self._stop.is_set():
                    return
                if self.connected or self.last_error is None:
                    log.warning("consumer %s: %s", self.name, exc, extra={"consumer": self.name})
                self.connected, self.last_error = False, str(exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 1.0)
            except Exception as exc:  # a handler bug: keep the service up, say so in the status, retry later
                log.exception("consumer %s failed to apply a batch", self.name, extra={"consumer": self.name})
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._stop.wait(1.0)

    def _apply(self, events: Sequence[RecordedEvent], unit: UnitOfWork) -> int:
        """Apply the events not yet applied, and move the checkpoint, in the group's transaction."""
        done = unit.store.read_checkpoint(self.name)
        fresh = [e for e in events if e.position > done]
        if fresh:
            try:
                self.handler(fresh, unit)
            except LabkitError as exc:
                raise BatchFailedError(f"{self.name} could not apply events {fresh[0].position}..: {exc}") from exc
            unit.store.save_checkpoint(self.name, fresh[-1].position)
        return len(fresh)
