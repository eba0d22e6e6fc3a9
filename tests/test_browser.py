"""The lab as a learner meets it: JupyterLab in Chromium, started the way `make lab` starts it.

nbval runs kernels, not browsers; these tests open notebooks in a real JupyterLab, click links, run all cells,
move widget controls and check that what is displayed changes. The JupyterLab server, Chromium and the page come
from fixtures in tests/conftest.py, shared with other areas' browser tests. Screenshots go to tests/screenshots/ (git-ignored);
`make screenshots` copies a few into docs/ for the README.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
from lab_page import CHROMIUM, LabPage  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    ),
]


def test_index_links_to_a_notebook_that_runs_without_errors(lab_page: LabPage):
    lab_page.open_notebook("notebooks/00_index.ipynb")
    lab_page.screenshot("00_index")
    links = lab_page.notebook.locator(".jp-RenderedMarkdown a[href*='.ipynb']")
    assert links.count() >= 1, "the index links to no notebook"
    target = links.first.get_attribute("href").split("?")[0].split("/")[-1]
    links.first.click()
    lab_page.wait_for_notebook(target)
    lab_page.run_all()
    assert lab_page.executed_cells() >= 1
    assert lab_page.error_outputs() == []
    lab_page.screenshot(f"linked_{target.removesuffix('.ipynb')}")


def test_an_error_in_a_cell_is_seen(lab_page: LabPage):
    """The error check above can fail: a notebook that raises shows its traceback to the page object."""
    import nbformat

    from labkit.paths import repo_root

    broken = repo_root() / "build" / "browser-broken.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("raise ValueError('a learner sees this')")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, broken)
    try:
        lab_page.open_notebook("build/browser-broken.ipynb")
        lab_page.run_all()
        assert any("a learner sees this" in text for text in lab_page.error_outputs())
    finally:
        broken.unlink()


def run_notebook(lab_page: LabPage, path: str) -> None:
    """Open a notebook, run all its cells as a learner would, and check none of them failed."""
    lab_page.open_notebook(path)
    lab_page.run_all()
    assert lab_page.error_outputs() == [], f"{path} shows an error in the browser"


def test_replay_slider_replays_events(lab_page: LabPage):
    run_notebook(lab_page, "notebooks/04_event_sourcing.ipynb")
    state = lab_page.widget(".labkit-replay-state")
    state.scroll_into_view_if_needed()
    assert "after version 0" in state.inner_text()
    lab_page.widget(".widget-hslider .noUi-handle").focus()
    for _ in range(2):
        lab_page.page.keyboard.press("ArrowRight")
    lab_page.page.wait_for_function(
        "() => document.querySelector('.labkit-replay-state').innerText.includes('after version 2')", timeout=20_000
    )
    assert "after version 2" in state.inner_text()
    lab_page.screenshot("04_replay_slider")


def test_values_playground_rerenders_and_refuses_bad_values(lab_page: LabPage):
    run_notebook(lab_page, "notebooks/12_helm_charts.ipynb")
    playground = lab_page.notebook.locator(".widget-vbox:has(.widget-text:has-text('replicaCount'))").first
    playground.scroll_into_view_if_needed()
    before = playground.inner_text()
    assert "OK:" in before and "REFUSED" not in before
    replicas = playground.locator(".widget-text", has_text="replicaCount").locator("input")
    replicas.fill("abc")
    replicas.press("Enter")
    playground.locator(".widget-html", has_text="REFUSED by values.schema.json").first.wait_for(timeout=60_000)
    assert "replicaCount" in playground.inner_text()
    lab_page.screenshot("12_values_playground")


def test_query_comparison_reruns_all_methods(lab_page: LabPage):
    run_notebook(lab_page, "notebooks/02_shared_db_vs_db_per_service.ipynb")
    widget = lab_page.notebook.locator(".widget-vbox:has(.widget-text:has-text('total >'))").first
    widget.scroll_into_view_if_needed()
    before = widget.locator(".labkit-query-table").inner_text()
    assert "all four agree" in widget.inner_text()
    threshold = widget.locator(".widget-text", has_text="total >").locator("input")
    threshold.fill("1")
    threshold.press("Enter")
    expect(widget.locator(".labkit-query-table")).not_to_have_text(before, timeout=60_000)
    assert "all four agree" in widget.inner_text()
    threshold.fill("a lot")
    threshold.press("Enter")
    widget.locator(".labkit-query-error", has_text="threshold").first.wait_for(timeout=60_000)
    lab_page.screenshot("02_query_comparison")


def test_dockerfile_explainer_follows_run_arguments(lab_page: LabPage):
    run_notebook(lab_page, "notebooks/08_dockerfile_anatomy.ipynb")
    command = lab_page.notebook.locator(".labkit-explainer-command").last
    widget = lab_page.notebook.locator(".widget-vbox:has(.labkit-explainer-command)").first
    widget.scroll_into_view_if_needed()
    assert "7777" not in command.inner_text()
    arguments = widget.locator(".widget-text", has_text="run args").locator("input")
    arguments.fill("--port 7777")
    arguments.press("Enter")
    lab_page.page.wait_for_function(
        "() => [...document.querySelectorAll('.labkit-explainer-command')].some(e => e.innerText.includes('7777'))",
        timeout=30_000,
    )
    lab_page.screenshot("08_dockerfile_explainer")


WRONG_HOLD = """class HoldableOrder(Order):
    held_from: str = ""

    def hold(self, reason):
        self.emit(OrderHeld(reason=reason))  # no rule checked: even a shipped order can be held

    @on(OrderHeld)
    def _held(self, event):
        self.held_from, self.state = self.state, "ON_HOLD"
"""

RIGHT_HOLD = """class HoldableOrder(Order):
    held_from: str = ""

    def hold(self, reason):
        if not reason:
            raise RuleViolationError(self.id, "say why the order is held", "no reason")
        if self.state not in ("PENDING", "APPROVED"):
            raise RuleViolationError(self.id, "too late to hold", f"it is {self.state}")
        self.emit(OrderHeld(reason=reason))

    @on(OrderHeld)
    def _held(self, event):
        self.held_from, self.state = self.state, "ON_HOLD"
"""


def test_an_exercise_answered_wrongly_then_rightly_changes_the_verdict(lab_page: LabPage):
    """A learner writes an answer in a cell of their own above the check: the check says which case fails, then
    passes once the answer is right. The notebook's diagrams are rendered (Mermaid) on the way."""
    run_notebook(lab_page, "notebooks/04_event_sourcing.ipynb")
    diagram = lab_page.notebook.locator(".jp-RenderedMermaid img").first
    diagram.scroll_into_view_if_needed()
    expect(diagram).to_be_visible(timeout=30_000)
    assert diagram.bounding_box()["height"] > 50, "the Mermaid diagram rendered empty"
    lab_page.screenshot("04_diagram")

    check = lab_page.code_cell("check_hold(HoldableOrder)")
    assert "passed" in lab_page.output_text(check)  # the notebook's own solution
    answer = lab_page.insert_cell_above(check, "from labkit.domain.errors import RuleViolationError\n\n" + WRONG_HOLD)
    lab_page.run_cell(answer)
    lab_page.run_cell(check)
    verdict = lab_page.output_text(check)
    assert verdict.startswith("failed:") and "SHIPPED" in verdict, verdict
    lab_page.screenshot("04_exercise_failed")

    lab_page.replace_source(answer, "from labkit.domain.errors import RuleViolationError\n\n" + RIGHT_HOLD)
    lab_page.run_cell(answer)
    lab_page.run_cell(check)
    verdict = lab_page.output_text(check)
    assert verdict.startswith("passed:"), verdict
    assert lab_page.error_outputs() == []


NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def mermaid_blocks(path: Path) -> int:
    """How many ```mermaid blocks the notebook's markdown cells hold."""
    cells = json.loads(path.read_text())["cells"]
    return sum("".join(c["source"]).count("```mermaid") for c in cells if c["cell_type"] == "markdown")


@pytest.mark.parametrize("notebook", [p.name for p in sorted(NOTEBOOKS.glob("*.ipynb")) if mermaid_blocks(p)])
def test_every_mermaid_diagram_renders(lab_page: LabPage, notebook: str):
    """Diagrams are typed into the markdown: one with a syntax error renders no picture. Each block must become an
    image with a height, without running the notebook (JupyterLab renders markdown on opening)."""
    expected = mermaid_blocks(NOTEBOOKS / notebook)
    lab_page.open_notebook(f"notebooks/{notebook}")
    images = lab_page.notebook.locator(".jp-RenderedMermaid img")
    expect(images).to_have_count(expected, timeout=60_000)
    for image in images.all():
        image.scroll_into_view_if_needed()
        assert image.bounding_box()["height"] > 30, f"a diagram of {notebook} rendered empty"
