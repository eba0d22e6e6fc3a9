"""The runner from a notebook kernel's point of view: services stop when the kernel exits, or when it is killed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import psutil
import pytest
from polling import wait_until

from labkit.services.errors import RunFolderError
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
