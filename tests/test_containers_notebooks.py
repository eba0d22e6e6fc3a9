"""Notebooks 08, 09 and 10 without a Docker engine: they run to the end, say what they skipped and why, and every
output that does not depend on the engine is the one stored (so `make test` passes on a laptop without Docker)."""

from __future__ import annotations

import socket
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from labkit.paths import repo_root

pytestmark = pytest.mark.slow
IGNORE_TAG = "nbval-ignore-output"


def _texts(cell: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """A cell's outputs as (type, text), images left out (nbval does not compare them either)."""
    found = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            found.append(("stream", output["text"]))
        elif output["output_type"] in ("execute_result", "display_data"):
            found.append((output["output_type"], output["data"].get("text/plain", "")))
        elif output["output_type"] == "error":
            found.append(("error", f"{output['ename']}: {output['evalue']}"))
    return found


@pytest.mark.parametrize(
    ("name", "skipped"),
    [
        ("08_dockerfile_anatomy.ipynb", "skipped: measure docker stop"),
        ("09_docker_build_and_run.ipynb", "skipped: build the services image"),
        ("10_multistage_builds.ipynb", "skipped: build the example"),
    ],
)
def test_without_an_engine_the_notebook_completes_and_says_what_it_skipped(
    name: str, skipped: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = repo_root() / "notebooks" / name
    stored = nbformat.read(path, as_version=4)
    closed = socket.socket(socket.AF_UNIX)
    closed.bind(str(tmp_path / "docker.sock"))  # a socket nobody listens on: every connection is refused
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    try:
        executed = nbformat.read(path, as_version=4)
        NotebookClient(
            executed, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    finally:
        closed.close()
    text = "\n".join(t for cell in executed.cells for kind, t in _texts(cell) if kind != "error")
    assert not [t for cell in executed.cells for kind, t in _texts(cell) if kind == "error"]
    assert "no Docker engine, so this notebook explains instead of running" in text
    assert "connection refused" in text
    assert skipped in text
    assert "steps because" in text  # the closing summary lists every skipped step with the reason
    for before, after in zip(stored.cells, executed.cells, strict=True):
        if after.cell_type == "code" and IGNORE_TAG not in after.metadata.get("tags", []):
            assert _texts(after) == _texts(before), after.source[:80]
