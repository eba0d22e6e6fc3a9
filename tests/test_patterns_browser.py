"""Notebook 06 in a real JupyterLab: the pause/resume control changes what the page shows, as a learner sees it."""

from __future__ import annotations

import re
import shutil

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
from lab_page import CHROMIUM, LabPage  # noqa: E402
from polling import wait_until  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    ),
]

MODE = ".labkit-projection-control .labkit-projection-mode"


def wait_for_status(lab_page: LabPage, pattern: str, timeout_ms: int = 60_000) -> str:
    """Wait until the control's status line matches `pattern` (a regex); the whole status text."""
    lab_page.page.wait_for_function(
        """([selector, pattern]) => {
               const node = document.querySelector(selector);
               return node !== null && new RegExp(pattern).test(node.innerText);
           }""",
        arg=[MODE, pattern],
        timeout=timeout_ms,
    )
    return lab_page.widget(".labkit-projection-control").inner_text()


def lag_column(status: str) -> list[int]:
    """The lag (events) of each projection row in the status table's text."""
    rows = [
        line.split()
        for line in status.splitlines()
        if line.split()[:1] and line.split()[0].endswith(("customer", "day", "view"))
    ]
    return [int(row[-1]) for row in rows]


def test_pausing_the_projection_lets_it_fall_behind_and_resuming_catches_up(lab_page: LabPage):
    lab_page.open_notebook("notebooks/06_cqrs_projections.ipynb")
    lab_page.run_all()
    assert lab_page.error_outputs() == []
    control = lab_page.widget(".labkit-projection-control")
    control.scroll_into_view_if_needed()
    status = wait_for_status(lab_page, r"projection: running")
    written = int(re.search(r"orders in the event store: (\d+)", status).group(1))

    control.locator("button", has_text="paused").click()
    wait_for_status(lab_page, r"projection: paused")
    control.locator("button", has_text="write 300 orders").click()
    status = wait_for_status(
        lab_page, rf"projection: paused . writer: idle . orders in the event store: {written + 300}"
    )
    assert lag_column(status) == [900, 900, 900]
    assert f"orders in the read model: {written}" in status
    lab_page.screenshot("06_projection_paused")

    control.locator("button", has_text="running").click()
    status = wait_for_status(lab_page, rf"projection: running . writer: idle .* read model: {written + 300}")

    # The read model named in the status line can catch up before the other two projections (a busy machine
    # shows that moment); the control refreshes once more when every projection has settled: wait for it.
    def caught_up() -> str | None:
        text = lab_page.widget(".labkit-projection-control").inner_text()
        return text if lag_column(text) == [0, 0, 0] else None

    status = wait_until(
        caught_up,
        timeout=60,
        what="the projection control to show every projection caught up (lag 0, 0, 0)",
        interval=0.2,
    )
    lab_page.screenshot("06_projection_caught_up")
