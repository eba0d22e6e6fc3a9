"""What every server of the lab's own shares (labkit.localserver), checked on each kind, PostgreSQL and NATS: a
recorded pid is trusted only while it is that server; bad records, ports and folders are refused by name before
anything starts; a server named by URL is used and never started."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from labkit.cli import main
from labkit.jetstream.server import NatsServer
from labkit.localserver import LocalServer, port_is_free
from labkit.pgserver import PostgresServer

KINDS = [pytest.param(PostgresServer, id="db"), pytest.param(NatsServer, id="broker")]


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="labkit-local-server-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("kind", KINDS)
def test_a_record_naming_another_process_is_not_trusted(kind: type[LocalServer], folder: Path) -> None:
    other = psutil.Process()  # this test's own process: never to be signalled
    (folder / "server.json").write_text(json.dumps({"pid": other.pid, "started": other.create_time(), "port": 5}))
    server = kind(folder)
    assert not server.is_running() and server.status()["running"] is False
    assert server.down() is False  # and this process is still here to say so
    assert not (folder / "server.json").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_a_corrupt_record_is_named(kind: type[LocalServer], folder: Path) -> None:
    (folder / "server.json").write_text("{not json")
    with pytest.raises(kind.error, match=r"server\.json is not a server record"):
        kind(folder).status()


@pytest.mark.parametrize("kind", KINDS)
def test_a_port_in_use_is_refused_before_anything_starts(
    kind: type[LocalServer], folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(kind.url_variable, raising=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not port_is_free(port)
        assert main([kind.command, "up", "--run-dir", str(folder / "new"), "--port", str(port)]) == 1  # refused work
    error = capsys.readouterr().err
    assert f"labkit {kind.command} up: {kind.error.__name__}: port {port} is in use on 127.0.0.1" in error
    assert not (folder / "new").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_for_a_run_folder_is_refused(
    kind: type[LocalServer], folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(kind.url_variable, raising=False)
    (folder / "file").write_text("x")
    assert main([kind.command, "status", "--run-dir", str(folder / "file")]) == 1  # refused work
    assert f"{kind.error.__name__}: {folder / 'file'} is a file, not a folder" in capsys.readouterr().err
    assert (folder / "file").read_text() == "x"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("port", ["0", "70000", "abc"])
def test_bad_ports_are_usage_errors(kind: type[LocalServer], port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([kind.command, "up", "--port", port])
    assert exit_.value.code == 2
    assert "argument --port" in capsys.readouterr().err


@pytest.mark.parametrize("kind", KINDS)
def test_a_named_server_is_used_and_never_started(
    kind: type[LocalServer], folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(kind.url_variable, "scheme://user:secret@127.0.0.1:4999/x")
    assert main([kind.command, "up", "--run-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"${kind.url_variable} names the server to use (127.0.0.1:4999/x)" in out and "secret" not in out
    assert list(folder.iterdir()) == []


def test_a_port_left_in_time_wait_by_a_dead_server_is_free_to_restart_on() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nats-server and PostgreSQL listen
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first: its end lingers in TIME_WAIT on the server's port
        client.close()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # what the probe said before, sending a restarted server to another port
    assert port_is_free(port)


def test_a_stepped_wall_clock_does_not_make_a_recorded_process_a_stranger(monkeypatch):
    """psutil derives create times from the boot time, which moves when the wall clock is stepped: a server or
    service recorded before a step must still be found (and stopped) after it. Compared as times since boot, it is."""
    import psutil

    from labkit.localserver import same_start

    me = psutil.Process()
    started, boot = me.create_time(), psutil.boot_time()
    step = 16.0  # a step of the wall clock seen on this machine
    real_boot, real_created = psutil.boot_time, psutil.Process.create_time
    monkeypatch.setattr(psutil, "boot_time", lambda: real_boot() + step)
    monkeypatch.setattr(psutil.Process, "create_time", lambda self: real_created(self) + step)
    assert same_start(psutil.Process(), started, boot, tolerance=0.01)
    assert not same_start(psutil.Process(), started, None, tolerance=1.0)  # an older record, wall-clock times
    assert not same_start(psutil.Process(), started - 5.0, boot, tolerance=1.0)  # another process's start
