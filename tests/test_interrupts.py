"""SIGTERM and SIGINT to a `labkit` command that started services or a server: it stops them, removes its temporary
folders and exits 128 + the signal's number. Each command runs as a user runs it, in a process of its own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from polling import wait_until

from labkit.pgserver import URL_VARIABLE

pytestmark = pytest.mark.slow

SIGNALS = [signal.SIGTERM, signal.SIGINT]


@pytest.fixture
def run_folder() -> Iterator[Path]:
    """$LABKIT_RUN for the command: under /tmp and open to other users (as root, a run's own PostgreSQL server runs
    as its own user and must reach its folder)."""
    folder = Path(tempfile.mkdtemp(prefix="labkit-interrupt-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def start(args: list[str], run_folder: Path, **env: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if k != URL_VARIABLE}
    environment |= {"LABKIT_RUN": str(run_folder), "LABKIT_DATA": str(run_folder / "data"), **env}
    return subprocess.Popen(
        [sys.executable, "-m", "labkit", *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def services_of(run_file: Path) -> list[psutil.Process]:
    """The service processes a run.json records, once each answers (its pid runs)."""
    try:
        record = json.loads(run_file.read_text())
        return [psutil.Process(s["pid"]) for s in record["services"] if s.get("pid")]
    except (ValueError, psutil.NoSuchProcess):  # caught while it is written, or a service that exited at once
        return []


def interrupt(command: subprocess.Popen[str], signum: int, started: Callable[[], object]) -> tuple[int, str]:
    """Wait until `started()` holds, send `signum`, and return the exit status and stderr."""
    wait_until(lambda: started() or command.poll() is not None, timeout=240, what="the command to start its work")
    assert command.poll() is None, command.communicate()
    command.send_signal(signum)
    _, err = command.communicate(timeout=120)
    return command.returncode, err


def gone(processes: list[psutil.Process]) -> bool:
    """Every process has exited (none is left listening)."""
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


def _command_line(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:  # exited (a zombie until its parent reaps it)
        return []


def one_line_about(err: str, signum: int) -> None:
    assert "Traceback" not in err, err
    assert f"stopped by {signal.Signals(signum).name}; what it started is stopped" in err, err


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_the_services_benchmark_stops_its_services_and_removes_its_folder(run_folder, signum):
    command = start(["bench", "services", "--orders", "100000", "--customers", "10"], run_folder)
    seen: list[psutil.Process] = []

    def serving() -> bool:
        for run_file in run_folder.glob("bench-services-*/run.json"):
            processes = services_of(run_file)
            if len(processes) == 3 and all(p.is_running() for p in processes):
                seen[:] = processes
                return True
        return False

    status, err = interrupt(command, signum, serving)
    assert status == 128 + signum
    one_line_about(err, signum)
    assert gone(seen)
    assert not list(run_folder.glob("bench-services-*")), "the run's temporary folder is left behind"


def test_the_services_benchmark_on_postgresql_stops_the_runs_own_server(run_folder):
    # DuckDB is measured first: a few thousand orders pass there quickly, then the run on PostgreSQL starts.
    command = start(["bench", "services", "--backend", "postgres", "--orders", "3000", "--customers", "10"], run_folder)
    servers: list[psutil.Process] = []

    def serving_on_postgresql() -> bool:
        for server_file in run_folder.glob("bench-services-*/postgres/server.json"):
            servers[:] = [psutil.Process(json.loads(server_file.read_text())["pid"])]
            run_file = server_file.parent.parent / "run.json"
            return run_file.exists() and len(services_of(run_file)) == 3
        return False

    status, err = interrupt(command, signal.SIGTERM, serving_on_postgresql)
    assert status == 128 + signal.SIGTERM
    one_line_about(err, signal.SIGTERM)
    assert gone(servers), "the run's PostgreSQL server still runs"
    assert not list(run_folder.glob("bench-services-*"))


def test_the_services_benchmark_stops_its_http_floor(run_folder):
    # The floor is measured after the services' runs: with one order it comes quickly.
    command = start(["bench", "services", "--orders", "1", "--customers", "1"], run_folder)
    command_process = psutil.Process(command.pid)
    floors: list[psutil.Process] = []

    def floor_running() -> bool:
        floors[:] = [p for p in command_process.children() if "labkit.lab.microservices.floor" in _command_line(p)]
        return bool(floors)

    status, err = interrupt(command, signal.SIGTERM, floor_running)
    assert status == 128 + signal.SIGTERM
    one_line_about(err, signal.SIGTERM)
    assert gone(floors)


def test_up_interrupted_while_its_services_start_leaves_none_running(run_folder):
    command = start(["up", "--run-dir", str(run_folder / "services")], run_folder)
    seen: list[psutil.Process] = []

    def starting() -> bool:
        run_file = run_folder / "services" / "run.json"
        if run_file.exists() and len(services := services_of(run_file)) == 3:
            seen[:] = services
            return True
        return False

    status, err = interrupt(command, signal.SIGTERM, starting)
    assert status == 128 + signal.SIGTERM
    one_line_about(err, signal.SIGTERM)
    assert gone(seen)


def test_bench_events_on_postgresql_stops_its_server_and_removes_its_folder(run_folder):
    tmp = Path(tempfile.mkdtemp(prefix="labkit-interrupt-tmp-"))
    tmp.chmod(0o755)
    try:
        command = start(["bench", "events", "--backend", "postgres", "--commands", "1000000"], run_folder,
                        TMPDIR=str(tmp))  # fmt: skip
        servers: list[psutil.Process] = []

        def serving() -> bool:
            for server_file in tmp.glob("labkit-bench-pg-*/server.json"):
                servers[:] = [psutil.Process(json.loads(server_file.read_text())["pid"])]
                return True
            return False

        status, err = interrupt(command, signal.SIGTERM, serving)
        assert status == 128 + signal.SIGTERM
        one_line_about(err, signal.SIGTERM)
        assert gone(servers)
        assert not list(tmp.glob("labkit-bench-pg-*"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_generate_interrupted_leaves_no_half_written_folder(run_folder):
    command = start(["generate", "--size", "M", "--out", str(run_folder / "data" / "M")], run_folder)
    status, err = interrupt(command, signal.SIGINT, lambda: list((run_folder / "data").glob(".M.partial-*")))
    assert status == 128 + signal.SIGINT
    one_line_about(err, signal.SIGINT)
    assert not list((run_folder / "data").glob(".M.partial-*"))
    assert not (run_folder / "data" / "M").exists()


def test_a_second_signal_while_stopping_does_not_cut_the_cleanup_short(run_folder):
    command = start(["bench", "services", "--orders", "100000", "--customers", "10"], run_folder)
    seen: list[psutil.Process] = []

    def serving() -> bool:
        for run_file in run_folder.glob("bench-services-*/run.json"):
            seen[:] = services_of(run_file)
            return len(seen) == 3 and all(p.is_running() for p in seen)
        return False

    wait_until(lambda: serving() or command.poll() is not None, timeout=120, what="the services to start")
    command.send_signal(signal.SIGTERM)
    # Once the first service is gone the command is stopping (sent together, Python would handle SIGINT first).
    wait_until(lambda: not all(p.is_running() for p in seen) or command.poll() is not None, timeout=60, what="a stop")
    command.send_signal(signal.SIGINT)  # an impatient Ctrl-C while it stops
    _, err = command.communicate(timeout=120)
    assert command.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in err, err
    assert gone(seen)
    assert not list(run_folder.glob("bench-services-*"))
