"""The background event loop that lets synchronous code call nats-py: results and exceptions come back to the caller,
any thread may call it, and stopping it cancels what still runs there (a reconnecting client's tasks)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from labkit.jetstream.loop import BackgroundLoop


async def double(value: int) -> int:
    await asyncio.sleep(0)
    return 2 * value


async def fail() -> None:
    raise KeyError("from the loop")


def test_results_and_exceptions_come_back_to_the_caller() -> None:
    loop = BackgroundLoop("test")
    try:
        assert loop.run(double(21)) == 42
        with pytest.raises(KeyError, match="from the loop"):
            loop.run(fail())
    finally:
        loop.stop()


def test_several_threads_share_one_loop() -> None:
    loop = BackgroundLoop("test")
    results: list[int] = []
    threads = [threading.Thread(target=lambda n=n: results.append(loop.run(double(n)))) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    loop.stop()
    assert sorted(results) == [2 * n for n in range(8)]


def test_stop_cancels_what_still_runs_and_ends_the_thread() -> None:
    loop = BackgroundLoop("test-stop")
    cleaned_up = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned_up.set()

    async def start_in_background() -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(forever())

    task = loop.run(start_in_background())
    loop.stop()
    assert task.cancelled() and cleaned_up.is_set()
    assert "test-stop" not in [thread.name for thread in threading.enumerate()]
    loop.stop()  # twice is harmless
