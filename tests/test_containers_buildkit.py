"""Finding a docker CLI that builds with BuildKit (DOCKER_BUILDKIT=1), with stand-in CLIs written as real scripts;
the proof suite builds with the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.containers import buildkit


def _fake_cli(folder: Path, version: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "docker"
    script.write_text(f"#!/bin/sh\necho {version}\n")
    script.chmod(0o755)
    return str(script)


def test_a_cli_before_23_is_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new = _fake_cli(tmp_path / "new", "28.0.1")
    old = _fake_cli(tmp_path / "old", "20.10.24+dfsg1")
    monkeypatch.setattr(buildkit, "CANDIDATES", (new, old))
    assert buildkit.buildkit_cli() == (old, "20.10.24+dfsg1")


def test_without_one_the_reason_names_what_was_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new = _fake_cli(tmp_path / "new", "28.0.1")
    monkeypatch.setattr(buildkit, "CANDIDATES", (new, str(tmp_path / "missing")))
    cli, reason = buildkit.buildkit_cli()
    assert cli is None
    assert f"found: {new} (28.0.1)" in reason and "apt-get install docker.io" in reason
