"""Shared test set-up.

CI sets LABKIT_NO_SKIP=1: there a skipped test (no Docker engine, no helm, no Chromium) is a failure, because CI
installs all of them and a skip would hide a feature that was never checked.
"""

from __future__ import annotations

import os

import pytest

NO_SKIP = os.environ.get("LABKIT_NO_SKIP") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if NO_SKIP and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (LABKIT_NO_SKIP=1), which must run it: {reason}"
