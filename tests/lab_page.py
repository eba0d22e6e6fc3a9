"""A page object for JupyterLab in Chromium: what a learner does, as methods the browser tests call."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling hosts this machine cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"


class LabPage:
    """One JupyterLab tab driven by Playwright."""

    def __init__(self, page: Page, url_for) -> None:
        self.page = page
        self.url_for = url_for

    def open_notebook(self, path: str) -> None:
        self.page.goto(self.url_for(f"lab/tree/{path}"))
        self.wait_for_notebook(Path(path).name)

    def wait_for_notebook(self, name: str) -> None:
        """Wait until the notebook `name` is the active tab, rendered, with its kernel idle."""
        self.page.locator(".lm-TabBar-tab.lm-mod-current", has_text=name).first.wait_for(timeout=60_000)
        self.notebook.locator(".jp-Cell").first.wait_for(state="visible", timeout=60_000)
        self.dismiss_news()
        self.wait_idle()

    @property
    def notebook(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")

    def dismiss_news(self) -> None:
        """Answer JupyterLab's first-run question about news, which covers part of the page."""
        no = self.page.locator(".jp-toast-button", has_text="No")
        if no.count():
            no.first.click()

    def wait_idle(self, timeout_ms: int = 120_000) -> None:
        """Wait until the kernel says Idle in the status bar and no cell is queued or running."""
        self.page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).first.wait_for(timeout=timeout_ms)
        self.page.wait_for_function(
            """() => ![...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt')]
                    .some(p => p.textContent.includes('[*]'))""",
            timeout=timeout_ms,
        )

    def run_all(self, timeout_ms: int = 180_000) -> None:
        """Run > Run All Cells, then wait until every cell has run."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        self.page.wait_for_timeout(1000)
        self.wait_idle(timeout_ms)

    def error_outputs(self) -> list[str]:
        """Text of every error output (tracebacks) in the notebook."""
        errors = self.notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        return [text for text in errors.all_inner_texts() if "Traceback" in text or "Error" in text]

    def executed_cells(self) -> int:
        prompts = self.notebook.locator(".jp-InputPrompt").all_inner_texts()
        return sum(1 for prompt in prompts if re.search(r"\[\d+\]", prompt))

    def widget(self, css: str) -> Locator:
        """The first widget matching `css` in the notebook."""
        return self.notebook.locator(css).first

    def code_cell(self, containing: str) -> Locator:
        """The code cell whose source contains `containing`."""
        return self.notebook.locator(".jp-CodeCell", has=self.page.locator(".cm-content", has_text=containing)).first

    def insert_cell_above(self, cell: Locator, source: str) -> Locator:
        """A new code cell above `cell` holding `source`, as a learner would add one (Esc, A, then type)."""
        cell.locator(".cm-content").click()  # makes it the active cell (in edit mode)
        self.page.keyboard.press("Escape")  # command mode, on that cell
        self.page.keyboard.press("a")
        self.notebook.locator(".jp-CodeCell.jp-mod-active").wait_for(timeout=10_000)
        # Pinned by position: "the active cell" moves on once the new cell runs.
        index = self.notebook.locator(".jp-Cell").evaluate_all(
            "cells => cells.findIndex(c => c.classList.contains('jp-mod-active'))"
        )
        new = self.notebook.locator(".jp-Cell").nth(index)
        self.replace_source(new, source)
        return new

    def replace_source(self, cell: Locator, source: str) -> None:
        """Replace a cell's whole source (typed as one insertion: no auto-indent or auto-closed brackets)."""
        cell.locator(".cm-content").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(source)

    def run_cell(self, cell: Locator) -> None:
        """Run one cell (Shift+Enter with it selected) and wait until the kernel is idle again."""
        cell.locator(".cm-content").click()
        self.page.keyboard.press("Shift+Enter")
        self.page.wait_for_timeout(300)
        self.wait_idle()

    def output_text(self, cell: Locator) -> str:
        return "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


def publish(names: list[str], dest: Path) -> list[Path]:
    """Copy screenshots for the README, reduced to a 256-colour palette so each stays well under 300 KB."""
    from PIL import Image

    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        image = Image.open(SCREENSHOTS / f"{name}.png").convert("RGB")
        image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.LANCZOS)
        path = dest / f"{name}.png"
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        written.append(path)
    return written


if __name__ == "__main__":
    import sys

    for path in publish(sys.argv[2:], Path(sys.argv[1])):
        print(f"{path}: {path.stat().st_size // 1024} KB")
