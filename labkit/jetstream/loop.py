"""An asyncio event loop in a thread of its own, so that synchronous code can call an asyncio client.

nats-py is asyncio; labkit's services, workers and notebooks are synchronous (and a notebook's own loop is already
running, so `asyncio.run` cannot be called there). A `BackgroundLoop` runs forever in a daemon thread and `run()`
hands it one coroutine at a time from any thread, then waits for the result (or the exception).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """One event loop, one daemon thread; `run(coroutine)` from any other thread; `stop()` once at the end."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for what it returns (or raises)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def stop(self) -> None:
        """Cancel what still runs on the loop (a client's reconnect attempts, say), then stop the loop and its thread."""
        if self._loop.is_closed():
            return
        self.run(_cancel_the_rest())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


async def _cancel_the_rest() -> None:
    """Cancel every other task of the running loop and wait until each has finished cancelling."""
    rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)
