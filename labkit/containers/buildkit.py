"""BuildKit builds through the docker CLI: the docker SDK's `images.build` only drives the legacy builder.

BuildKit needs a client that opens a session with the engine (to send the build context and receive the result),
which the SDK does not do. A docker CLI older than 23.0 does, when `DOCKER_BUILDKIT=1` is set: Debian's `docker.io`
(20.10) installs one as /usr/bin/docker. A newer CLI needs its buildx plugin for that, which this lab does not
install. Like every build the lab makes, the image is labelled for the lab and nothing is pulled: the caller
(`prebuild.build_checked`) checks first that every image the build reads is in the engine's store.

    image = build_with_buildkit(engine, context, tag="labkit-proof/example:1", purpose="proof")
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from labkit.containers.engine import BuiltImage, Engine, lab_labels
from labkit.containers.errors import BuildFailedError, EngineUnavailableError

# A docker CLI before 23.0 still builds with BuildKit when DOCKER_BUILDKIT=1 (23.0 made buildx a requirement).
LAST_CLASSIC_CLI_MAJOR = 22
CANDIDATES = ("/usr/bin/docker", "docker")
STEP = re.compile(r"^#(\d+) \[", re.MULTILINE)
BUILD_TIMEOUT_S = 900


def _cli_version(path: str) -> str:
    try:
        done = subprocess.run(
            [path, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True, timeout=30
        )
    except OSError:
        return ""
    return done.stdout.strip()


def buildkit_cli() -> tuple[str | None, str]:
    """A docker CLI that builds with BuildKit under DOCKER_BUILDKIT=1, and its version; or None and the reason."""
    seen = []
    for candidate in CANDIDATES:
        path = shutil.which(candidate)
        if path is None or path in (p for p, _ in seen):
            continue
        version = _cli_version(path)
        seen.append((path, version or "no version"))
        major = version.split(".", 1)[0]
        if major.isdigit() and int(major) <= LAST_CLASSIC_CLI_MAJOR:
            return path, version
    found = ", ".join(f"{path} ({version})" for path, version in seen) or "none on PATH"
    return None, (
        f"no docker CLI older than 23.0 to build with BuildKit via DOCKER_BUILDKIT=1 (found: {found}); "
        "on Debian `apt-get install docker.io` gives /usr/bin/docker 20.10"
    )


def build_with_buildkit(
    engine: Engine,
    context: Path | str,
    *,
    dockerfile: str = "Dockerfile",
    tag: str | None = None,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    labels: Mapping[str, str] | None = None,
    purpose: str = "lab",
) -> BuiltImage:
    """`DOCKER_BUILDKIT=1 docker build` of `context` on `engine`, labelled for the lab; BuildFailedError on refusal."""
    cli, reason = buildkit_cli()
    if cli is None:
        raise EngineUnavailableError(reason)
    context = Path(context)
    command = [cli, "build", "--progress=plain", "-f", str(context / dockerfile)]
    for key, value in {**(labels or {}), **lab_labels(purpose)}.items():
        command.append(f"--label={key}={value}")
    for key, value in (build_args or {}).items():
        command.append(f"--build-arg={key}={value}")
    if target:
        command.append(f"--target={target}")
    if tag:
        command.append(f"--tag={tag}")
    environment = {**os.environ, "DOCKER_BUILDKIT": "1", "DOCKER_HOST": engine.status.host}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="labkit-buildkit-") as scratch:
        iidfile = Path(scratch) / "iid"
        done = subprocess.run(
            [*command, f"--iidfile={iidfile}", str(context)],
            capture_output=True,
            text=True,
            env=environment,
            timeout=BUILD_TIMEOUT_S,
        )
        image_id = iidfile.read_text().strip() if iidfile.exists() else ""
    log = done.stdout + done.stderr
    if done.returncode != 0 or not image_id:
        last = [line for line in log.strip().splitlines() if line.strip()][-1:] or ["(no output)"]
        raise BuildFailedError(f"BuildKit build of {tag or context.name} failed: {last[0].strip()}", log=log)
    return BuiltImage(image_id, tag, log, time.perf_counter() - started, len(set(STEP.findall(log))))
