"""The notebook regression harness bites: a changed stored output makes nbval fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from labkit.paths import repo_root

ROOT = repo_root()
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"


def run_nbval(notebook: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(SANITIZE),
            "-p", "no:cacheprovider", "-q", "--rootdir", str(notebook.parent), str(notebook),
        ],
        capture_output=True,
        text=True,
        cwd=notebook.parent,
        timeout=300,
    )  # fmt: skip


def first_compared_output(notebook: dict) -> dict:
    """The first stored text/markdown or stream output of a cell nbval compares."""
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code" or "nbval-ignore-output" in cell["metadata"].get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if "text/markdown" in output.get("data", {}) or output.get("output_type") == "stream":
                return output
    raise AssertionError("the index notebook has no compared output")


def test_altered_output_fails_and_unaltered_passes(tmp_path: Path):
    source = ROOT / "notebooks" / "00_index.ipynb"
    intact = tmp_path / "intact" / "00_index.ipynb"
    altered = tmp_path / "altered" / "00_index.ipynb"
    for copy in (intact, altered):
        copy.parent.mkdir()
        shutil.copy(source, copy)

    notebook = json.loads(source.read_text())
    output = first_compared_output(notebook)
    if "data" in output:
        output["data"]["text/markdown"] = "| a table that the code does not produce |"
    else:
        output["text"] = "a line that the code does not print\n"
    altered.write_text(json.dumps(notebook))

    ok = run_nbval(intact)
    assert ok.returncode == 0, ok.stdout[-2000:]
    bad = run_nbval(altered)
    assert bad.returncode == 1, bad.stdout[-2000:]
    assert "a table that the code does not produce" in bad.stdout or "does not print" in bad.stdout
