"""The reconciliation model: the controller loop restores desired state after failures and scale changes."""

from __future__ import annotations

import pytest

from labkit.charts.reconciliation import convergence, reconcile


def test_pods_start_then_run_and_stay_at_desired_without_failures():
    timeline = reconcile(3, ticks=10, failure_rate=0.0, start_ticks=2)
    assert timeline["created"].sum() == 3
    assert timeline["running"].tolist()[:4] == [0, 0, 3, 3]
    assert (timeline["running"].iloc[2:] == 3).all()


def test_an_outage_is_repaired_and_scale_changes_are_followed():
    timeline = reconcile(4, ticks=40, changes={20: 6, 30: 2}, outages={10: 3}, failure_rate=0.0, start_ticks=3)
    row = timeline.set_index("tick")
    assert row.loc[10, "failed"] == 3 and row.loc[10, "created"] == 3
    assert row.loc[13, "running"] == 4
    assert row.loc[23, "running"] == 6
    assert row.loc[30, "running"] == 2 and row.loc[30, "deleted"] == 4
    table = convergence(timeline)
    assert table["what happened"].tolist() == ["3 pod(s) failed", "desired 4 -> 6", "desired 6 -> 2"]
    assert table["ticks until actual = desired"].tolist() == [3, 3, 0]


def test_random_failures_are_seeded_and_always_replaced():
    one = reconcile(5, ticks=200, failure_rate=0.05, seed=3)
    assert one.equals(reconcile(5, ticks=200, failure_rate=0.05, seed=3))
    assert not one.equals(reconcile(5, ticks=200, failure_rate=0.05, seed=4))
    assert one["failed"].sum() > 10
    assert ((one["running"] + one["starting"]) == one["desired"]).all()


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="failure_rate=2"):
        reconcile(3, failure_rate=2)
