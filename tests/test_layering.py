"""The layering contract (pyproject's [tool.importlinter]): kept by labkit, and broken by a planted import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.paths import repo_root

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(checkout: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on the labkit package of `checkout` (its pyproject's contracts)."""
    environment = {**os.environ, "PYTHONPATH": str(checkout)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(checkout / "pyproject.toml")],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of this checkout's package and contracts, to plant imports in."""
    shutil.copytree(repo_root() / "labkit", tmp_path / "labkit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(repo_root() / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(checkout: Path, module: str, code: str) -> None:
    path = checkout / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + "\n\n" + code + "\n")


def test_labkit_keeps_its_layers(checkout: Path) -> None:
    result = lint_imports(checkout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_an_upward_import_breaks_the_layers(checkout: Path) -> None:
    plant(checkout, "labkit.events.codec", "from labkit.domain import Order  # noqa")
    result = lint_imports(checkout)
    assert result.returncode != 0
    assert "labkit.events.codec -> labkit.domain" in result.stdout


def test_the_library_reaching_into_the_lab_breaks_the_layers(checkout: Path) -> None:
    plant(checkout, "labkit.services.feed", "import labkit.lab.microservices.plots  # noqa")
    result = lint_imports(checkout)
    assert result.returncode != 0
    assert "labkit.services.feed -> labkit.lab.microservices.plots" in result.stdout


def test_a_cycle_hidden_in_a_function_is_found(checkout: Path) -> None:
    plant(
        checkout,
        "labkit.events.codec",
        "def _late():\n    from labkit.events import store  # noqa\n\n    return store",
    )
    result = lint_imports(checkout)
    assert result.returncode != 0
    assert "No cycles are allowed in labkit.events" in result.stdout
