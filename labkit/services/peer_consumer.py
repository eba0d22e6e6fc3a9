"""What every consumer of a peer's events shares: a thread, its back-off, and applying a batch with its checkpoint.

The checkpoint (`labkit.events.checkpoints`, as every subscriber keeps it) is the peer position of the last event
applied, written in the same transaction as the handler's writes, through the service's group commit. A crash loses
both or keeps both, so a restart resumes exactly after the last applied event: duplicates and restarts are
harmless. How the events arrive is the subclass's: pulled from the peer's HTTP feed (`FeedConsumer`) or delivered
by the broker (`BrokerConsumer`). While the peer or the broker is away the thread backs off and retries, and its
status says so.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from labkit.errors import LabkitError
from labkit.events import RecordedEvent, UnitOfWork
from labkit.services.database import ServiceDatabase

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


class PeerConsumer(ABC):
    """A thread that receives a peer's events (`receive_once`) and applies them with `apply`, in order, once."""

    transport = ""

    def __init__(self, name: str, database: ServiceDatabase, handler: UnitHandler) -> None:
        self.name, self.database, self.handler = name, database, handler
        self.position = self.database.store.read_checkpoint(name)
        self.peer_head = self.position
        self.connected = False
        self.handled = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"consumer-{name}", daemon=True)

    @abstractmethod
    def receive_once(self) -> None:
        """Wait a little for the peer's next events and apply them (LabkitError: the peer or broker is away)."""

    @abstractmethod
    def source(self) -> str:
        """Where the events come from, for the status."""

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to stop; it finishes the batch it is applying (a wait in flight is abandoned)."""
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout)

    def status(self) -> ConsumerStatus:
        return ConsumerStatus(
            self.name, self.source(), self.position, self.peer_head, self.connected, self.handled, self.last_error
        )

    def to_dict(self) -> dict[str, Any]:
        """The status as `GET /status` shows it."""
        return {**self.status().to_dict(), "transport": self.transport}

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                self.receive_once()
                backoff = 0.05
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

    def apply(self, events: Sequence[RecordedEvent], unit: UnitOfWork) -> int:
        """Apply the events the checkpoint does not cover yet, and move it, in the group's transaction; how many."""
        done = unit.store.read_checkpoint(self.name)
        fresh = [e for e in events if e.position > done]
        if fresh:
            try:
                self.handler(fresh, unit)
            except LabkitError as exc:
                raise BatchFailedError(f"{self.name} could not apply events {fresh[0].position}..: {exc}") from exc
            unit.store.save_checkpoint(self.name, fresh[-1].position)
        return len(fresh)
