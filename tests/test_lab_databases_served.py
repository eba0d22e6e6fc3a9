"""API composition over HTTP: the real Customer and Order services on copies of a layout, in their own processes."""

from __future__ import annotations

import psutil
import pytest

from labkit.lab.databases.findings import latency_findings
from labkit.lab.databases.measure import ALL_METHODS, latency_frame, measure_latency
from labkit.lab.databases.served import HTTP_COMPOSITION, HTTP_TITLE, api_composition_http, served_layout
from labkit.layouts import build_layouts, open_layouts
from labkit.layouts.queries import api_composition, check_agreement, shared_join
from labkit.workload import generate

THRESHOLD, CREATED_AFTER = 2000, "2024-06-01"


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    workload = generate(tmp_path_factory.mktemp("small"), customers=200, orders=2000, progress=False)
    with open_layouts(build_layouts(workload, progress=False)) as opened:
        yield opened


@pytest.mark.slow
def test_composition_over_http_gives_the_rows_of_the_join_and_counts_what_crossed_the_wire(layouts, tmp_path):
    shared, per_service = layouts
    with served_layout(per_service, tmp_path / "served") as served:
        pids = [served.runner.services[name].pid for name in ("customer", "order")]
        assert all(psutil.pid_exists(pid) for pid in pids)  # real processes, not this one
        over_http = api_composition_http(served.client, THRESHOLD, CREATED_AFTER)
        in_process = api_composition(per_service, THRESHOLD, CREATED_AFTER)
        check_agreement({"shared_join": shared_join(shared, THRESHOLD, CREATED_AFTER), HTTP_COMPOSITION: over_http})
        assert over_http.rows.num_rows > 0
        # The same requests and rows as in-process (recent customers filtered in the Customer service); JSON bytes.
        assert (over_http.calls, over_http.rows_moved) == (in_process.calls, in_process.rows_moved)
        assert over_http.bytes_moved > in_process.bytes_moved > 0
        # The services started idle: their consumers' checkpoints are at their peers' heads, nothing replayed.
        status = {row["service"]: row for row in served.runner.status()}
        assert all(" lag 0" in row["consumers"] for row in status.values())
        assert served.client.request("GET", "customer", "/status")["saga_failures"] == 0
        assert 0 < served.round_trip_ms(repeats=3) < over_http.seconds * 1000
        rows = measure_latency(shared, per_service, THRESHOLD, CREATED_AFTER, repeats=2, served=served)
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)
    assert [r.method for r in rows] == list(ALL_METHODS)
    assert HTTP_TITLE in latency_frame(rows).index
    text = latency_findings(rows, round_trip_ms=1.0)
    http = next(r for r in rows if r.method == HTTP_COMPOSITION)
    assert f"{http.median_ms:.1f} ms" in text and "A bare request and its answer costs 1.0 ms" in text
