"""`labkit bench projections` at a tiny size, so it cannot rot."""

from __future__ import annotations

import pytest

from labkit.cli import main


@pytest.mark.slow
def test_the_projections_benchmark_runs_and_prints_both_tables(tmp_path, capsys):
    code = main(
        [
            "bench",
            "projections",
            "--data",
            str(tmp_path / "workload"),
            "--customers",
            "20",
            "--orders-count",
            "150",
            "--incremental-events",
            "300",
            "--orders",
            "20",
            "--fault-rate",
            "0.2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "rebuild / incremental" in out
    for name in ("orders_per_customer", "revenue_per_day", "customer_orders_view"):
        assert name in out
    assert "transactional outbox + relay" in out and "speed vs commit-then-publish" in out
