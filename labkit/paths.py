"""Where labkit keeps its files: the repository, generated data, run folders and tools."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path:
    """The checkout labkit runs from (the folder holding pyproject.toml), or the current folder."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd()


def data_dir() -> Path:
    """Generated data (git-ignored): $LABKIT_DATA, or `data/` in the repository."""
    return Path(os.environ.get("LABKIT_DATA", repo_root() / "data"))


def run_dir() -> Path:
    """Run folders of started services (pids, ports, logs): $LABKIT_RUN, or `.run/` in the repository."""
    return Path(os.environ.get("LABKIT_RUN", repo_root() / ".run"))


def tools_dir() -> Path:
    """Pinned tool binaries that `make` installs (helm, kubectl): $LABKIT_TOOLS, or `.tools/`."""
    return Path(os.environ.get("LABKIT_TOOLS", repo_root() / ".tools"))


def relative_to_repo(path: Path | str) -> str:
    """A path as the notebooks show it: relative to the repository, so outputs do not depend on the checkout."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(repo_root()))
    except ValueError:
        return str(path)
