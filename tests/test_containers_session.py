"""A notebook's engine session: steps run on the engine, or are skipped with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.containers.session import EngineSession


def test_without_an_engine_steps_are_skipped_and_listed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    lab = EngineSession("session-test")
    assert not lab.available
    assert lab.describe().startswith("no Docker engine, so this notebook explains instead of running: no socket at")
    assert lab.step("build something", lambda engine: 1 / 0) is None
    assert capsys.readouterr().out == "skipped: build something (no Docker engine)\n"
    assert lab.cleanup() is None
    summary = lab.summary()
    assert summary.startswith("skipped 2 steps because") and "  - build something" in summary


@pytest.mark.docker
def test_with_an_engine_steps_run() -> None:
    lab = EngineSession("session-test")
    if not lab.available:
        pytest.skip(f"needs a Docker engine: {lab.reason}")
    assert lab.step("ask the version", lambda engine: engine.status.reachable) is True
    assert lab.summary() == "every step ran on the engine"
    assert lab.describe().startswith("using Docker engine at")
