"""pyproject, the lock, environment.yml and binder/ name the same direct dependencies at the same versions."""

from __future__ import annotations

import re
import tomllib

import yaml

from labkit import environment
from labkit.paths import repo_root

ROOT = repo_root()


def conda_pip_pins(path) -> dict[str, str]:
    spec = yaml.safe_load(path.read_text())
    pip_section = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    return {environment.canonical(p.split("==")[0]): p.split("==")[1] for p in pip_section}


def test_every_dependency_is_locked():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    direct = list(pyproject["project"]["dependencies"])
    for extra in pyproject["project"]["optional-dependencies"].values():
        direct.extend(extra)
    pins = environment.locked_versions()
    missing = [d for d in direct if environment.canonical(re.split(r"[<>=!~\[; ]", d)[0]) not in pins]
    assert not missing, f"in pyproject.toml but not pinned in requirements.lock: {missing} (run `make lock`)"


def test_lock_pins_exact_versions():
    lines = [line for line in (ROOT / "requirements.lock").read_text().splitlines() if line and line[0] != "#"]
    loose = [line for line in lines if "==" not in line]
    assert not loose, f"requirements.lock must pin with ==: {loose}"


def test_conda_files_match_pyproject_and_lock():
    expected = {name: environment.locked_versions()[name] for name in environment.runtime_dependencies()}
    for path in (ROOT / "environment.yml", ROOT / "binder" / "environment.yml"):
        assert conda_pip_pins(path) == expected, f"{path.name} is stale: run `python -m labkit.environment`"
    assert (ROOT / "environment.yml").read_text() == environment.conda_environment()


def test_binder_installs_the_package():
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert post_build.splitlines()[1:3] != []
    assert "set -euo pipefail" in post_build
    assert "pip install --no-deps -e ." in post_build
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111
