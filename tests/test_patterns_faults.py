"""The fault injector: a schedule that is the same everywhere, counters that survive a killed process."""

from __future__ import annotations

import pickle

import pytest

from labkit.patterns.errors import InjectedCrash, PatternsError
from labkit.patterns.faults import CounterFile, FaultSchedule, Injector
from labkit.patterns.launcher import run_child


def test_the_schedule_is_seeded_and_a_higher_rate_only_adds_crashes():
    low, high = FaultSchedule(0.1, seed=3), FaultSchedule(0.3, seed=3)
    assert low.crashing("writer", 500) == FaultSchedule(0.1, seed=3).crashing("writer", 500)
    assert set(low.crashing("writer", 500)) < set(high.crashing("writer", 500))
    assert low.crashing("writer", 500) != FaultSchedule(0.1, seed=4).crashing("writer", 500)
    assert low.crashing("writer", 500) != low.crashing("relay", 500)
    assert 30 <= len(low.crashing("writer", 500)) <= 70
    assert FaultSchedule(0.0, seed=3).crashing("writer", 500) == []


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_a_rate_outside_zero_to_one_is_refused(rate):
    with pytest.raises(PatternsError, match=f"got {rate}"):
        FaultSchedule(rate)


def test_an_injector_raises_at_scheduled_points_and_counts_attempts():
    schedule = FaultSchedule(0.5, seed=1)
    injector = Injector(schedule, "exception", [0, 0], {"relay": 1, "writer": 0})
    outcomes = []
    for _ in range(20):
        attempt = injector.next_attempt("relay")
        try:
            injector.point("relay", "after publishing", attempt)
            outcomes.append(attempt)
        except InjectedCrash as crash:
            assert crash.attempt == attempt and crash.component == "relay"
    assert injector.counters == [0, 20]
    assert sorted(set(range(20)) - set(outcomes)) == schedule.crashing("relay", 20)
    with pytest.raises(PatternsError, match="'reboot'"):
        Injector(schedule, "reboot", [0], {"writer": 0})  # type: ignore[arg-type]


def test_counters_are_a_file_that_a_child_process_maps_by_path(tmp_path):
    counters = CounterFile(tmp_path / "progress.bin", 3)
    counters[2] = 42
    copy = pickle.loads(pickle.dumps(counters))  # what a child process receives
    copy[1] = 7
    assert (counters[1], copy[2]) == (7, 42)
    with pytest.raises(IndexError, match=r"slot 3 out of range 0\.\.2"):
        counters[3]
    copy.close()
    counters.close()


def test_the_launcher_reports_how_each_child_ended():
    assert run_child("os:getpid", ()) == 0
    assert run_child("labkit.patterns.faults:FaultSchedule", (2.0,)) == 1  # raised: exit 1, traceback on stderr
