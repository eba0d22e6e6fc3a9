"""The one way tests wait for something another thread or process does: poll a condition until it holds.

A fixed sleep before an assert is either too short on a busy machine (a flaky failure) or longer than needed (a
slow suite); polling waits exactly as long as it takes, and a timeout says what never happened and what was seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.02) -> T:
    """The first truthy value `condition()` returns; AssertionError naming `what` and the last value after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last seen: {value!r})")
        time.sleep(interval)
