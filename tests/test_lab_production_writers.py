"""Concurrent writer processes on PostgreSQL: a subscriber by position skips events under sequence-numbered
positions and none under the store's insert lock."""

from __future__ import annotations

import pytest

from labkit.lab.production.writers import run_writers

pytestmark = pytest.mark.slow


def test_the_naive_subscriber_skips_events_and_the_safe_one_none(postgres_url: str) -> None:
    naive = [run_writers(postgres_url, positions="sequence", writers=6, events_per_writer=60) for _ in range(3)]
    # Bounded: three runs of 360 events; each run above skipped dozens here, so all three missing it would be news.
    assert max(run.skipped for run in naive) > 0, [run.row() for run in naive]
    assert all(run.events == 360 and run.seen + run.skipped == run.events for run in naive)
    safe = run_writers(postgres_url, positions="locked", writers=6, events_per_writer=60)
    assert (safe.events, safe.seen, safe.skipped) == (360, 360, 0)


def test_bad_sizes_are_refused_before_any_process_starts(postgres_url: str) -> None:
    with pytest.raises(ValueError, match="writers"):
        run_writers(postgres_url, positions="locked", writers=0)
