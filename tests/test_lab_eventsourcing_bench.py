"""`labkit bench events` runs end to end at a tiny size, so it cannot rot."""

from __future__ import annotations

import pytest

from labkit.cli import main
from labkit.lab.eventsourcing.bench import Measurement, goals, table


@pytest.mark.slow
def test_bench_events_prints_the_table_and_the_goals(tmp_path, capsys):
    args = ["bench", "events", "--size", "S", "--bulk-events", "2000", "--commands", "10", "--lengths", "10,200,1000"]
    args += ["--sample-orders", "30", "--repeat", "1", "--workload-dir", str(tmp_path / "s")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| work | labkit | eventsourcing | labkit vs eventsourcing |" in out
    for work in (
        "bulk append",
        "bulk append, no indexes",
        "one command per transaction",
        "Python replay, one aggregate of 1,000 events",
    ):
        assert f"| {work} |" in out
    assert "| load, 200 events, snapshot every 100 |" in out
    assert "Python replay >= 20x eventsourcing:" in out
    assert "bulk load >= 1M events/s into an empty store: with indexes" in out
    assert "| grouping floor: every order's events counted |" in out
    assert "the grouping floor on the same events:" in out
    assert "snapshot load flat within 2x from 1,000 to 1,000 events" not in out  # needs two lengths >= 1k


def test_ratios_and_goals_read_the_measurements():
    rows = [
        Measurement("bulk append", "events/s", 400_000, 70_000),
        Measurement("bulk append, no indexes", "events/s", 1_200_000, 70_000),
        Measurement("Python replay, one aggregate of 100 events", "events/s", 500_000, 20_000),
        Measurement("replay every order at S (9 events)", "events/s", 12e6, None),
        Measurement("grouping floor: every order's events counted", "events/s", 30e6, None),
        Measurement("load, 1,000 events, snapshot every 100", "ms", 2.0, 4.0, False),
        Measurement("load, 100,000 events, snapshot every 100", "ms", 5.0, 4.0, False),
    ]
    assert rows[2].ratio == 25 and rows[5].ratio == 2 and rows[3].ratio is None
    assert goals(rows, [1000, 100_000]) == [
        "bulk load >= 1M events/s into an empty store: with indexes MISSED (0.40M events/s), without indexes met "
        "(1.20M events/s)",
        "Python replay >= 20x eventsourcing: met (25.0x)",
        "vectorized replay >= 10M events/s: met (12.0M events/s; the grouping floor on the same events: 30.0M "
        "events/s)",
        "snapshot load flat within 2x from 1,000 to 100,000 events: MISSED (2.50x)",
    ]
    assert "| replay every order at S (9 events) | 12,000,000 events/s | n/a | n/a |" in table(rows)
    # The ratio column reads in words, whichever side is better: never a 0.0x.
    assert "| 400,000 events/s | 70,000 events/s | 5.7x faster |" in table(rows)
    assert "| load, 100,000 events, snapshot every 100 | 5.000 ms | 4.000 ms | 1.2x slower |" in table(rows)
