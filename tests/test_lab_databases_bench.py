"""`labkit bench query` runs end to end at a tiny size, so it cannot rot."""

from __future__ import annotations

import pytest

from labkit.cli import main


@pytest.mark.slow
def test_the_query_bench_prints_the_four_methods_and_the_goals(tmp_path, capsys):
    code = main(
        [
            "bench", "query", "--size", "S", "--customers", "150", "--orders", "1500", "--out", str(tmp_path),
            "--threshold", "2000", "--created-after", "2024-06-01", "--repeats", "2", "--rate", "20",
            "--seconds", "0.3",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "150 customers, 1500 orders" in out
    for title in ("(a) shared database", "(b) per service: API composition, in-process", "(c) per service", "(d)"):
        assert out.count(title) == 2  # in the latency table and in the staleness table
    # Over HTTP in the latency table only: the real services serve a copy that the staleness writers do not reach.
    assert out.count("(b) per service: API composition over HTTP") == 1
    assert "identical rows from all 5 measured: yes" in out
    assert "CQRS view median" in out and "API composition (in-process calls) / shared join" in out
    assert "API composition over HTTP / shared join = " in out and "a bare request and answer: " in out


def test_bad_parameters_are_refused_before_any_data_is_generated(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:  # argparse refuses it: a usage error, before the command runs
        main(["bench", "query", "--size", "S", "--out", str(tmp_path / "never"), "--threshold", "lots"])
    assert refused.value.code == 2
    assert "argument --threshold: threshold='lots' is not a number" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
