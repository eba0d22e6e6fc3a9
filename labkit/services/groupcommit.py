"""Group commit: commands from concurrent requests are queued, and one writer thread commits them together.

A DuckDB commit costs a few milliseconds here, and each append a few round trips, so one transaction per request
caps a service at a few hundred writes per second. The writer takes every command waiting in the queue (up to
`max_batch`), runs them against one `UnitOfWork` in one transaction (aggregates loaded together, new events
appended with one bulk load), commits once, and only then answers each caller: an accepted command is durable.

The contract for a command (a function of the unit of work): it either changes aggregates (`unit.add`) or writes
its own tables and returns, or raises a `LabkitError` *before* changing anything (a broken business rule, an
unknown id), and then only that caller gets the error. Any other exception, or a failed append, rolls the whole
group back; the writer then runs each command of the group in a transaction of its own, so only the faulty one
fails.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from labkit.errors import LabkitError
from labkit.events import EventStore, UnitOfWork
from labkit.services.errors import ServiceUnavailableError

T = TypeVar("T")
Command = Callable[[UnitOfWork], Any]

log = logging.getLogger(__name__)


@dataclass
class CommitStats:
    """How well grouping works: transactions committed, commands in them, time spent committing."""

    transactions: int = 0
    commands: int = 0
    seconds: float = 0.0

    @property
    def commands_per_transaction(self) -> float:
        return self.commands / self.transactions if self.transactions else 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "transactions": self.transactions,
            "commands": self.commands,
            "commands_per_transaction": round(self.commands_per_transaction, 2),
            "seconds": round(self.seconds, 3),
        }


class GroupCommitter:
    """The one writer of a service's database: `submit(command)` returns a Future settled after the commit."""

    def __init__(
        self,
        store: EventStore,
        *,
        max_batch: int = 256,
        on_commit: Callable[[], None] | None = None,
        name: str = "group-commit",
        snapshot_every: Mapping[str, int] | None = None,
    ) -> None:
        self.store, self.max_batch, self.on_commit = store, max_batch, on_commit
        self.snapshot_every = dict(snapshot_every or {})  # aggregate type -> events between snapshots
        self.stats = CommitStats()
        self._queue: queue.SimpleQueue[tuple[Command, Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopped = False

    def start(self) -> None:
        """Start the writer thread (commands submitted before wait for it)."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the writer thread."""
        if self._stopped:
            return
        self._stopped = True
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def submit(self, command: Callable[[UnitOfWork], T]) -> Future[T]:
        """Queue a command; its Future holds the result (or the LabkitError it raised) once the group commits."""
        if self._stopped:
            raise ServiceUnavailableError("the service is shutting down and accepts no more writes; retry shortly")
        future: Future[T] = Future()
        self._queue.put((command, future))
        return future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            group = []
            if first is None:
                stopping = True
            else:
                group.append(first)
            while len(group) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    continue
                group.append(item)
            if group:
                self._commit(group)

    def _commit(self, group: list[tuple[Command, Future[Any]]]) -> None:
        started = time.perf_counter()
        try:
            outcomes = self._together(group)
            transactions = 1
        except Exception:
            log.warning("a command broke its group's transaction; committing each alone", exc_info=True)
            outcomes = [self._alone(command) for command, _ in group]
            transactions = len(group)
        self.stats.transactions += transactions
        self.stats.commands += len(group)
        self.stats.seconds += time.perf_counter() - started
        if self.on_commit is not None:
            self.on_commit()
        for (_, future), (ok, value) in zip(group, outcomes, strict=True):
            if future.cancelled():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _together(self, group: list[tuple[Command, Future[Any]]]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with self.store.transaction():
            unit = UnitOfWork(self.store, snapshot_every=self.snapshot_every)
            for command, _ in group:
                try:
                    outcomes.append((True, command(unit)))
                except LabkitError as exc:  # refused before changing anything: only this caller fails
                    outcomes.append((False, exc))
            unit.flush()
        for callback in unit.after_commit:
            callback()
        return outcomes

    def _alone(self, command: Command) -> tuple[bool, Any]:
        try:
            with self.store.transaction():
                unit = UnitOfWork(self.store, snapshot_every=self.snapshot_every)
                result = command(unit)
                unit.flush()
            for callback in unit.after_commit:
                callback()
            return True, result
        except Exception as exc:
            return False, exc
