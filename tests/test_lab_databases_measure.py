"""Measurements: latency per method with boundary traffic, and staleness while a writer ships orders."""

from __future__ import annotations

import pytest

from labkit.lab.databases.measure import latency_frame, measure_latency, measure_staleness
from labkit.layouts import LayoutError, build_layouts, open_layouts
from labkit.layouts.queries import METHOD_TITLES, METHODS
from labkit.workload import generate


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    workload = generate(tmp_path_factory.mktemp("small"), customers=200, orders=2000, progress=False)
    with open_layouts(build_layouts(workload, progress=False)) as opened:
        yield opened


def test_latency_is_measured_per_method_and_only_api_composition_moves_rows(layouts):
    rows = measure_latency(*layouts, 2000, "2024-06-01", repeats=3)
    assert [r.method for r in rows] == list(METHODS)
    assert len({r.rows for r in rows}) == 1 and rows[0].rows > 0
    for r in rows:
        assert r.runs == 3 and 0 < r.median_ms <= r.p95_ms
    moved = {r.method: (r.calls, r.rows_moved, r.bytes_moved) for r in rows}
    assert moved["shared_join"] == moved["cqrs_view"] == moved["attach_join"] == (0, 0, 0)
    assert moved["api_composition"][0] >= 2 and moved["api_composition"][1] > rows[0].rows
    offline = {r.method: r.offline_ms for r in rows}
    assert offline["attach_join"] > 0 and offline["shared_join"] == offline["cqrs_view"] == 0
    frame = latency_frame(rows)
    assert list(frame.index) == [METHOD_TITLES[m] for m in METHODS]


@pytest.mark.slow
def test_staleness_the_direct_reads_are_never_behind_and_the_view_catches_up(layouts):
    staleness = measure_staleness(*layouts, 2000, "2024-06-01", rate=25, seconds=1.0, poll_seconds=0.2)
    assert staleness.shipped == 25
    assert staleness.achieved_rate > 0
    frame = staleness.frame()
    assert list(frame.index) == [METHOD_TITLES[m] for m in ("shared_join", "api_composition", "cqrs_view")]
    # A query that starts after a ship committed sees it when it reads the service's own tables.
    assert frame.loc[METHOD_TITLES["shared_join"], "max_rows_behind"] == 0
    assert frame.loc[METHOD_TITLES["api_composition"], "max_rows_behind"] == 0
    view = [o for o in staleness.observations if o.method == "cqrs_view"]
    assert view and all(o.rows_behind >= 0 and (o.rows_behind == 0) == (o.ms_behind == 0) for o in view)
    assert staleness.writes_refused == 0


@pytest.mark.slow
def test_the_attach_join_stalls_the_writer(layouts):
    staleness = measure_staleness(*layouts, 2000, "2024-06-01", rate=25, seconds=0.6, methods=("attach_join",))
    assert staleness.writes_refused > 0
    assert staleness.offline_ms and min(staleness.offline_ms) > 0
    assert staleness.frame()["max_rows_behind"].iloc[0] == 0


def test_bad_measurement_parameters_are_named(layouts):
    with pytest.raises(LayoutError, match="repeats=0"):
        measure_latency(*layouts, 100, "2024-01-01", repeats=0)
    with pytest.raises(LayoutError, match="in the future"):
        measure_staleness(*layouts, 100, "2999-01-01")
    with pytest.raises(LayoutError, match="rate=0"):
        measure_staleness(*layouts, 100, "2024-01-01", rate=0)
    with pytest.raises(LayoutError, match="unknown methods"):
        measure_staleness(*layouts, 100, "2024-01-01", methods=("psychic",))
