"""Offline base images: what their root filesystems hold, and that the engine reports the configuration we declare."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from labkit.containers.baseimages import (
    BUSYBOX,
    DEBIAN_PYTHON,
    base_image_configs,
    busybox_rootfs,
    ensure_base_image,
    spec,
)
from labkit.containers.engine import Engine
from labkit.containers.imageconfig import normalized_inspect
from labkit.errors import UsageError


def test_busybox_rootfs_has_a_shell_applets_and_users(tmp_path: Path) -> None:
    if shutil.which("busybox") is None:
        pytest.skip("needs busybox (apt-get install busybox-static)")
    with tarfile.open(busybox_rootfs(tmp_path / "rootfs.tar")) as archive:
        members = {member.name: member for member in archive.getmembers()}
        passwd = archive.extractfile("etc/passwd").read().decode()
    assert members["bin/busybox"].mode == 0o755
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
    assert {"bin/wget", "bin/httpd", "bin/id"} <= set(members)
    assert "nobody:x:65534" in passwd
    assert members["tmp"].mode == 0o1777


def test_specs_and_their_import_changes() -> None:
    assert spec("busybox") is BUSYBOX
    with pytest.raises(UsageError, match="busybox, debian-python"):
        spec("alpine")
    assert BUSYBOX.changes() == [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'CMD ["sh"]',
        "LABEL labkit.base-image=busybox",
    ]
    assert (DEBIAN_PYTHON.repository, DEBIAN_PYTHON.tag) == ("labkit/python", "3.11-bookworm")


@pytest.mark.docker
def test_busybox_is_reused_and_reports_the_declared_config(docker_engine: Engine) -> None:
    first = ensure_base_image(docker_engine, "busybox")
    again = ensure_base_image(docker_engine, "busybox")
    assert again.created is False and again.image_id == first.image_id
    declared = base_image_configs()[BUSYBOX.reference]
    assert normalized_inspect(docker_engine.image_config(BUSYBOX.reference)) == normalized_inspect(declared)
    assert docker_engine.image_size(BUSYBOX.reference) < 5_000_000


@pytest.mark.docker
@pytest.mark.slow
def test_debian_python_runs_python_and_makes_venvs_offline(docker_engine: Engine) -> None:
    ensure_base_image(docker_engine, "debian-python")  # about a minute the first time on a machine, then reused
    declared = base_image_configs()[DEBIAN_PYTHON.reference]
    assert normalized_inspect(docker_engine.image_config(DEBIAN_PYTHON.reference)) == normalized_inspect(declared)
    script = (
        "python3 -c 'import sys; print(sys.version_info[:2])' && python3 -m venv /tmp/v && /tmp/v/bin/pip --version"
    )
    result = docker_engine.run(DEBIAN_PYTHON.reference, ["sh", "-c", script], purpose="baseimage-test", timeout_s=120)
    assert result.exit_code == 0, result.logs
    assert result.logs.startswith("(3, 11)\npip ")
