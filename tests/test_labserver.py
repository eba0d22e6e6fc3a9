"""JupyterLab started the way `make lab` does: its token reaches it through the environment, never the command line."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import psutil
import pytest

from labkit.labserver import LabServer

pytestmark = pytest.mark.slow


def test_the_token_is_in_no_command_line_and_the_server_wants_it(tmp_path):
    with LabServer(log_path=tmp_path / "lab.log") as server:
        assert server.process is not None
        group = os.getpgid(server.process.pid)
        processes = [p for p in psutil.process_iter(["pid", "cmdline"]) if _group(p) == group]
        assert any("jupyter" in " ".join(p.info["cmdline"] or ()) for p in processes), "JupyterLab is not running"
        for process in processes:  # what `ps` shows any user of the machine
            assert server.token not in " ".join(process.info["cmdline"] or ()), process.info["cmdline"]
        with urllib.request.urlopen(server.url("api/status"), timeout=10) as answer:
            assert answer.status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.base_url}/api/status", timeout=10)
        assert refused.value.code == 403


def _group(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except OSError:
        return None
