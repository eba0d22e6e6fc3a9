"""`labkit doctor` tells the truth about this machine."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from labkit import doctor


def test_reports_python_and_package_versions():
    text = doctor.report()
    assert f"duckdb         {importlib.metadata.version('duckdb')}" in text
    assert "python" in text.splitlines()[0]


def test_unreachable_engine_is_reported_with_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    check = doctor.check_docker_engine()
    assert not check.ok
    assert "not reachable" in check.detail


def test_the_broker_binary_is_reported_with_its_version(monkeypatch):
    monkeypatch.delenv("LABKIT_NATS_URL", raising=False)
    check = doctor.check_broker()
    assert check.ok and check.detail.startswith("nats-server: v2.15.") and "/nats-server" in check.detail


def test_missing_package_says_how_to_install():
    check = doctor.check_package("a-package-labkit-never-installs")
    assert not check.ok and "make lab" in check.detail


def test_command_line_and_module_entry_points():
    for argv in (
        [sys.executable, "-m", "labkit", "doctor"],
        [str(Path(sys.executable).parent / "labkit"), "doctor"],
    ):
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "docker engine" in out.stdout and "helm" in out.stdout
