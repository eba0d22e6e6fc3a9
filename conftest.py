"""Runtime budget for the notebooks: nbval runs each cell as a test; add them up per notebook.

Every notebook must run in under a minute at the default size and the whole suite in under ten, so the lab stays
Binder-friendly. `make nbval` prints the table and writes build/notebook-times.json; going over budget fails the run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

NOTEBOOK_BUDGET_S = 60.0
SUITE_BUDGET_S = 600.0
_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _seconds:
        return
    total = sum(_seconds.values())
    over = {path: s for path, s in _seconds.items() if s > NOTEBOOK_BUDGET_S}
    report = Path(session.config.rootpath) / "build" / "notebook-times.json"
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps({"notebooks": dict(sorted(_seconds.items())), "total": total}, indent=2))
    lines = [f"  {seconds:6.1f} s  {path}" for path, seconds in sorted(_seconds.items())]
    print("\nnotebook run times (budget 60 s each, 600 s in all):\n" + "\n".join(lines) + f"\n  {total:6.1f} s  total")
    if over or total > SUITE_BUDGET_S:
        print(f"over budget: {over or f'suite total {total:.1f} s'}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
