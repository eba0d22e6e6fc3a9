"""`labkit bench events --backend postgres` at a tiny size: every side measured in one run, a table, goal lines."""

from __future__ import annotations

import pytest

from labkit.lab.production.bench import ES_PG, ES_SQLITE, LABKIT_DUCKDB, LABKIT_PG, goals, measure, table

pytestmark = pytest.mark.slow


def test_the_table_has_every_side_of_every_row_and_the_goal_lines(postgres_url: str) -> None:
    rows = measure(postgres_url, commands=30, writers=2, per_writer=10, repeat=3)
    works = [row.work for row in rows]
    assert works[:2] == ["one command per transaction", "100 commands per save"]
    for row in rows[:2]:
        assert all((row.values[side] or 0) > 0 for side in (LABKIT_PG, LABKIT_DUCKDB, ES_SQLITE, ES_PG))
    writers = [row for row in rows if "writer" in row.work]
    assert [row.values[LABKIT_DUCKDB] for row in writers] == [None, None]  # one writer process per DuckDB file
    assert all(row.values[LABKIT_PG] > 0 and row.values[ES_PG] > 0 for row in writers)
    rendered = table(rows)
    assert rendered.count("\n") == len(rows) + 1
    assert "n/a" in rendered
    lines = goals(rows)
    assert len(lines) == 4 and all(line.count(": met") + line.count(": MISSED") == 1 for line in lines)
