"""Notebook 02's sentences, written from the measured values: whatever a run measured is what they say."""

from __future__ import annotations

from labkit.lab.databases.findings import latency_findings, staleness_findings
from labkit.lab.databases.measure import Latency, Observation, Staleness


def test_the_findings_compare_in_words_and_leave_out_what_was_not_measured():
    def row(method: str, median: float, offline: float = 0.0) -> Latency:
        return Latency(method, 5, median, median * 1.2, 10, 0, 0, 0, offline)

    rows = [row("shared_join", 4.0), row("api_composition", 2.0), row("cqrs_view", 1.0), row("attach_join", 3, 50.0)]
    text = latency_findings(rows)
    assert "The fastest was (c) per service: CQRS view (1.0 ms)" in text
    assert "took 2.0 ms: 2.0x faster than the shared join (4.0 ms)" in text
    assert "Over HTTP" not in text  # no composition over HTTP was measured, so no sentence about it
    assert "kept both services offline for 50.0 ms" in text


def test_the_staleness_findings_say_each_method_s_worst_from_the_run():
    observations = [
        Observation("shared_join", 0.1, 0, 0.0, None),
        Observation("cqrs_view", 0.1, 1, 42.0, 1),
        Observation("cqrs_view", 0.2, 0, 0.0, 0),
    ]
    text = staleness_findings(Staleness(observations, 20.0, 19.5, 40, 2.0, 0))
    assert text == (
        "While 40 orders shipped at 19.5 per second: (a) shared database: SQL join: never behind; "
        "(c) per service: CQRS view: at most 1 row and 42.0 ms behind."
    )
