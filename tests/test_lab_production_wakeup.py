"""A subscriber woken by LISTEN/NOTIFY hears of appends sooner than one polling every 100 ms."""

from __future__ import annotations

import pytest

from labkit.lab.production.wakeup import follow

pytestmark = pytest.mark.slow


def test_notified_subscribers_hear_sooner_than_polling_ones(postgres_url: str) -> None:
    notified = follow(postgres_url, appends=30, schema="wake_notify")
    polled = follow(postgres_url, appends=30, poll_ms=100, schema="wake_poll")
    assert len(notified.latencies_ms) == len(polled.latencies_ms) == 30  # every event reached the handler
    assert notified.p50 < polled.p50
    # Polling every 100 ms waits half an interval on average; a notified subscriber wakes at the commit.
    assert polled.p50 > 20
