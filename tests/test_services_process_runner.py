"""The runner from a notebook kernel's point of view: services stop when the kernel exits, or when it is killed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import psutil
import pytest
from polling import wait_until

from labkit.services.errors import RunFolderError, ServiceStartError
from labkit.services.process_runner import ServiceRunner

pytestmark = pytest.mark.slow

KERNEL = """
import sys, time
from labkit.services import start_services
lab = start_services(sys.argv[1])
print("up", flush=True)
if sys.argv[2] == "wait":
    time.sleep(120)
"""


def kernel(folder, mode: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", KERNEL, str(folder), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "up", process.stderr
    return process


def service_pids(folder) -> list[int]:
    return [s["pid"] for s in json.loads((folder / "run.json").read_text())["services"]]


def alive(pids: list[int]) -> list[int]:
    """The processes among `pids` that still run (a zombie has exited, only its parent has not reaped it yet)."""
    running = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.NoSuchProcess:
            pass
    return running


def test_services_stop_when_the_kernel_exits(tmp_path):
    process = kernel(tmp_path, "exit")
    pids = service_pids(tmp_path)
    try:
        assert process.wait(30) == 0
        wait_until(lambda: not alive(pids), timeout=10, what="atexit to stop the services", interval=0.1)
    finally:
        ServiceRunner.attach(tmp_path).stop()


def test_services_stop_when_the_kernel_is_killed(tmp_path):
    process = kernel(tmp_path, "wait")
    pids = service_pids(tmp_path)
    try:
        assert all(psutil.pid_exists(p) for p in pids)
        process.send_signal(signal.SIGKILL)  # no atexit: the services notice their parent is gone
        process.wait(10)
        wait_until(
            lambda: not alive(pids),
            timeout=15,
            what="the services to exit when the process that started them dies",
            interval=0.1,
        )
    finally:
        ServiceRunner.attach(tmp_path).stop()


def test_a_second_up_in_a_running_folder_is_refused_and_names_the_way_out(tmp_path):
    with ServiceRunner.up(tmp_path) as runner:
        with pytest.raises(RunFolderError, match="already runs customer, order, history: `labkit down` first"):
            ServiceRunner.up(tmp_path)
        assert all(runner.is_running(name) for name in runner.services)


def test_down_never_signals_a_process_that_is_not_the_runs_service(tmp_path, capsys):
    """run.json is a file anyone may edit: a pid and start time copied from another process must not get it killed."""
    from labkit.cli import main

    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {"name": "customer", "port": 8123, "log": str(tmp_path / "c.log"), "data_dir": str(tmp_path),
                  "pid": bystander.pid, "started_at": psutil.Process(bystander.pid).create_time()}  # fmt: skip
        (tmp_path / "run.json").write_text(json.dumps({"backend": "duckdb", "services": [record]}))
        assert main(["down", "--run-dir", str(tmp_path)]) == 0
        assert "nothing was running" in capsys.readouterr().out
        assert bystander.poll() is None, "labkit down killed a process that was not its service"
        assert main(["status", "--run-dir", str(tmp_path)]) == 1
        assert "stopped" in capsys.readouterr().out
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.parametrize(
    "content",
    ["{", "[]", '{"services": 5}', '{"services": [{"name": "customer"}]}', '{"services": [], "backend": "sqlite"}',
     '{"services": [{"name": "x", "port": 1, "log": "l", "data_dir": "d"}]}', '{"services": [], "postgres": 7}'],
)  # fmt: skip
def test_a_damaged_run_file_is_named_in_one_line(tmp_path, capsys, content):
    from labkit.cli import main

    (tmp_path / "run.json").write_text(content)
    for command in ("status", "down", "up"):
        assert main([command, "--run-dir", str(tmp_path)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"labkit {command}: RunFolderError: ") and "run.json" in err, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert (tmp_path / "run.json").read_text() == content  # left as it was: nothing was started or stopped


def test_a_service_whose_parent_is_already_gone_does_not_start(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    started = subprocess.run(
        [sys.executable, "-m", "labkit.services", "customer", "--port", "8124", "--data-dir", str(tmp_path),
         "--order-url", "http://127.0.0.1:9", "--parent-pid", str(gone.pid)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode == 1
    assert f"the parent process {gone.pid} is gone: not starting" in started.stderr
    assert "Traceback" not in started.stderr


def test_a_service_that_cannot_start_is_reported_with_its_exit_status_and_log(tmp_path):
    with pytest.raises(
        ServiceStartError, match=r"(?s)exited at start \(exit status [1-9]\d*\).*LABKIT_FEED_BATCH_SIZE"
    ) as raised:
        ServiceRunner.up(tmp_path / "run", env={"LABKIT_FEED_BATCH_SIZE": "lots"}, timeout=20)
    assert "'lots'" in str(raised.value)
