"""Start and stop JupyterLab the way `make lab` does, headless, on a free loopback port with a token.

The browser test and the README screenshots use this; a learner uses `make lab`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from labkit.errors import LabkitError
from labkit.paths import repo_root


class LabServerError(LabkitError):
    """JupyterLab did not start or did not answer."""


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    """A JupyterLab server started by `make lab` in its own process group."""

    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(12))
    log_path: Path = field(default_factory=lambda: repo_root() / "build" / "lab-server.log")
    # Settings that differ from a learner's lab: `{"@jupyterlab/docmanager-extension:plugin": {"autosave": False}}`.
    settings: dict[str, dict] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """An address on the server, with the token."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def start(self, *, timeout_s: float = 120) -> LabServer:
        # The token goes in the environment (JUPYTER_TOKEN), not on the command line, where `ps` shows it to every
        # user of the machine.
        args = f"--no-browser --ip 127.0.0.1 --port {self.port} --ServerApp.root_dir={repo_root()}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["make", "-s", "lab", f"LAB_ARGS={args}"],
            cwd=repo_root(),
            env={**os.environ, **self._settings_env(), "JUPYTER_TOKEN": self.token},
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() ends make, jupyter and kernels together
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabServerError(f"`make lab` exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        self.stop()
        raise LabServerError(
            f"JupyterLab did not answer on port {self.port} within {timeout_s:.0f} s; see {self.log_path}"
        )

    def _settings_env(self) -> dict[str, str]:
        """JUPYTERLAB_SETTINGS_DIR with this server's own user settings, when it has any."""
        if not self.settings:
            return {}
        folder = self.log_path.parent / f"lab-settings-{self.port}"
        for plugin_id, values in self.settings.items():
            package, plugin = plugin_id.split(":")
            path = folder / package / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        return {"JUPYTERLAB_SETTINGS_DIR": str(folder)}

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
