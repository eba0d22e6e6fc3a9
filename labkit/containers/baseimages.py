"""Offline base images: a busybox image from busybox-static, and a Debian minbase with Python 3 from debootstrap.

No registry may be reachable (here, or on an air-gapped machine), so `FROM python:3.11-slim` cannot be pulled.
`docker import` turns a root filesystem tarball into an image instead. The lab's Dockerfiles take
`ARG BASE_IMAGE`, so the same file builds from `python:3.11-slim` where a registry answers and from
`labkit/python:3.11-bookworm` here. An image already in the engine's store is reused: debootstrap takes a minute,
so it runs once per machine.

    labkit containers base-image busybox          # under a second
    labkit containers base-image debian-python    # about a minute, once
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.containers.engine import BASE_IMAGE_LABEL, CleanupReport, Engine
from labkit.containers.errors import BaseImageError
from labkit.containers.imageconfig import DEFAULT_PATH
from labkit.errors import UsageError

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# python3-venv brings ensurepip's bundled pip wheel: images install a wheelhouse without reaching PyPI.
DEBIAN_PACKAGES = ("python3", "python3-venv")


@dataclass(frozen=True)
class BaseImageSpec:
    """An offline base image: its tag and the configuration `docker import --change` gives it."""

    name: str
    reference: str
    config: Mapping[str, Any]
    about: str

    @property
    def repository(self) -> str:
        return self.reference.rpartition(":")[0]

    @property
    def tag(self) -> str:
        return self.reference.rpartition(":")[2]

    def changes(self) -> list[str]:
        """The `docker import --change` lines that give the image its configuration and its label."""
        lines = [f"ENV {item}" for item in self.config.get("Env", ())]
        if self.config.get("Cmd"):
            lines.append(f"CMD {json.dumps(list(self.config['Cmd']))}")
        if self.config.get("WorkingDir"):
            lines.append(f"WORKDIR {self.config['WorkingDir']}")
        for key, value in (self.config.get("Labels") or {}).items():
            lines.append(f"LABEL {key}={value}")
        return lines


BUSYBOX = BaseImageSpec(
    name="busybox",
    reference="labkit/busybox:static",
    config={"Env": [f"PATH={DEFAULT_PATH}"], "Cmd": ["sh"], "Labels": {BASE_IMAGE_LABEL: "busybox"}},
    about="busybox-static and its applets: a 2 MB image with a shell, for fast builds",
)
DEBIAN_PYTHON = BaseImageSpec(
    name="debian-python",
    reference="labkit/python:3.11-bookworm",
    config={
        "Env": [f"PATH={DEFAULT_PATH}", "LANG=C.UTF-8"],
        "Cmd": ["python3"],
        "Labels": {BASE_IMAGE_LABEL: "debian-python"},
    },
    about=f"Debian {DEBIAN_SUITE} minbase with {', '.join(DEBIAN_PACKAGES)}: stands in for python:3.11-slim",
)
BASE_IMAGES: tuple[BaseImageSpec, ...] = (BUSYBOX, DEBIAN_PYTHON)


def spec(name: str) -> BaseImageSpec:
    """The base image called `name` (`busybox` or `debian-python`)."""
    for candidate in BASE_IMAGES:
        if candidate.name == name:
            return candidate
    known = ", ".join(candidate.name for candidate in BASE_IMAGES)
    raise UsageError(f"no offline base image called {name!r}; labkit makes {known}")


def base_image_configs() -> dict[str, dict[str, Any]]:
    """Each base image's Config as `docker image inspect` reports it: what `explain(base_images=...)` takes."""
    return {item.reference: {k: v for k, v in item.config.items()} for item in BASE_IMAGES}


def lab_cleanup(engine: Engine, *, purpose: str | None = None, include_base_images: bool = False) -> CleanupReport:
    """`Engine.cleanup` told which images are the offline base images: they stay unless `include_base_images`."""
    references = [item.reference for item in BASE_IMAGES]
    return engine.cleanup(purpose=purpose, base_images=references, include_base_images=include_base_images)


def _add_file(archive: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    archive.addfile(info, io.BytesIO(data))


def _add_dir(archive: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, 0
    archive.addfile(info)


def busybox_rootfs(path: Path) -> Path:
    """Write a root filesystem tarball: busybox-static, a symlink per applet, /etc/passwd with root and nobody."""
    busybox = shutil.which("busybox")
    if busybox is None:
        raise BaseImageError("busybox is not installed: `apt-get install busybox-static` (Debian/Ubuntu)")
    listed = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        raise BaseImageError(f"{busybox} --list failed: {listed.stderr.strip()}")
    binary = Path(busybox).read_bytes()
    if b"ld-linux" in binary[:4096]:
        raise BaseImageError(f"{busybox} is dynamically linked; install busybox-static for a self-contained image")
    with tarfile.open(path, "w") as archive:
        for directory in ("bin", "etc", "root", "tmp", "var", "usr", "usr/bin", "proc", "sys", "dev"):
            _add_dir(archive, directory, 0o1777 if directory == "tmp" else 0o755)
        _add_file(archive, "bin/busybox", binary, 0o755)
        for applet in listed.stdout.split():
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname, link.mode, link.mtime = tarfile.SYMTYPE, "busybox", 0o777, 0
                archive.addfile(link)
        _add_file(
            archive, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n"
        )
        _add_file(archive, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    return path


def debian_rootfs(path: Path, workdir: Path) -> Path:
    """Write a root filesystem tarball of Debian minbase with Python (debootstrap over plain HTTP; needs root)."""
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if debootstrap is None:
        raise BaseImageError("debootstrap is not installed: `apt-get install debootstrap` (Debian/Ubuntu)")
    root = workdir / "rootfs"
    command = [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(DEBIAN_PACKAGES)}",
        DEBIAN_SUITE,
        str(root),
        DEBIAN_MIRROR,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise BaseImageError(
            f"debootstrap failed (exit {done.returncode}; it needs root and plain-HTTP access to {DEBIAN_MIRROR}): "
            + " | ".join(tail)
        )
    # Package lists and caches only make the image bigger; apt can fetch them again.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (root / leftover).glob("*"):
            if item.is_file():
                item.unlink()
    packed = subprocess.run(
        ["tar", "--numeric-owner", "-C", str(root), "-cf", str(path), "."], capture_output=True, text=True, check=False
    )
    if packed.returncode != 0:
        raise BaseImageError(f"tar of the Debian root filesystem failed: {packed.stderr.strip()}")
    return path


@dataclass(frozen=True)
class BaseImageResult:
    """An offline base image in the engine's store: whether this call made it, and how long that took."""

    reference: str
    image_id: str
    created: bool
    seconds: float


def ensure_base_image(engine: Engine, name: str, *, rebuild: bool = False) -> BaseImageResult:
    """The base image `name` in the engine's store: reused when present, else imported from a root filesystem."""
    chosen = spec(name)
    started = time.perf_counter()
    existing = engine.image_inspect(chosen.reference)
    if existing is not None and not rebuild:
        return BaseImageResult(chosen.reference, str(existing["Id"]), False, time.perf_counter() - started)
    with tempfile.TemporaryDirectory(prefix="labkit-rootfs-") as scratch:
        workdir = Path(scratch)
        tarball = workdir / "rootfs.tar"
        if chosen is BUSYBOX:
            busybox_rootfs(tarball)
        else:
            debian_rootfs(tarball, workdir)
        image_id = engine.import_image(tarball, repository=chosen.repository, tag=chosen.tag, changes=chosen.changes())
    return BaseImageResult(chosen.reference, image_id, True, time.perf_counter() - started)
