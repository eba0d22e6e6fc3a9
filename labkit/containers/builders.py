"""Docker's two builders and the Dockerfile syntax versions: what each one accepts, and what each one does.

Docker builds a Dockerfile with one of two builders. The legacy builder (`DOCKER_BUILDKIT=0`, and the docker SDK's
`images.build`) runs the stages one after another up to the target; BuildKit (Docker's default since 23.0) turns the
Dockerfile into a graph and runs only what the target needs. What a Dockerfile may *say* is a separate question: the
Dockerfile syntax version of the parser that reads it (for BuildKit the frontend a `# syntax=` line names, else the
one built into the engine; the legacy builder always uses the engine's). Engine 20.10, which this lab proves against,
has syntax 1.2 built in for both builders, so there the substitution forms are the same for both: a newer form such
as `${VAR-word}` is a matter of syntax version, not of builder (today's legacy builder reads its lines with
BuildKit's own parser too).

The proof suite (tests/test_containers_proof.py) builds every case with both builders on that engine; what needs a
newer syntax than 1.2 follows the Dockerfile reference and the builders' source, and notebook 08's table of
differences (`labkit.lab.dockerfiles.differences`) says which rows were proven here.

>>> DockerfileSyntax.parse("1.7.1") > ENGINE_20_10
True
>>> syntax_from_frontend("docker/dockerfile:1.4-labs")
DockerfileSyntax(major=1, minor=4)
>>> platform_args("linux/arm64")["TARGETARCH"]
'arm64'
"""

from __future__ import annotations

import platform as host
import re
from dataclasses import dataclass
from typing import Literal, get_args

from labkit.errors import UsageError

Builder = Literal["buildkit", "legacy"]
BUILDERS: tuple[Builder, ...] = get_args(Builder)
DEFAULT_BUILDER: Builder = "buildkit"


@dataclass(frozen=True, order=True)
class DockerfileSyntax:
    """A Dockerfile syntax version (`docker/dockerfile:1.7` is 1.7): which forms and flags its parser knows."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @classmethod
    def parse(cls, text: str | DockerfileSyntax) -> DockerfileSyntax:
        """`"1.7"`, `"1.7.1"` or `"1"` (the newest 1.x this model knows)."""
        if isinstance(text, DockerfileSyntax):
            return text
        match = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.\d+)?", str(text).strip())
        if not match:
            raise UsageError(f"Dockerfile syntax {text!r} is not a version: write it like 1.2 or 1.7")
        if match.group(2) is None:
            return CURRENT if int(match.group(1)) == CURRENT.major else cls(int(match.group(1)), 0)
        return cls(int(match.group(1)), int(match.group(2)))


def _v(text: str) -> DockerfileSyntax:
    major, minor = text.split(".")
    return DockerfileSyntax(int(major), int(minor))


# Measured here: Docker Engine 20.10's built-in frontend knows `COPY --chmod` and `RUN --mount` (1.2) and refuses
# `RUN --network` (1.3) and `COPY --link` (1.4), with either builder.
ENGINE_20_10 = _v("1.2")
# The newest syntax any rule below needs: what `# syntax=docker/dockerfile:1` gives today, at least.
CURRENT = _v("1.20")
# An engine's version (major.minor) -> the Dockerfile syntax built into it, for engines measured here.
BUILTIN_SYNTAX = {"20.10": ENGINE_20_10}

# Flags only BuildKit gives a meaning to, and the syntax version that first accepts each (the Dockerfile reference's
# "Minimum Dockerfile version" tables; `--keep-git-dir` from BuildKit's history: 1.2 refuses it, measured here).
FLAG_SINCE: dict[str, dict[str, DockerfileSyntax]] = {
    "COPY": {"chmod": _v("1.2"), "link": _v("1.4"), "exclude": _v("1.19"), "parents": _v("1.20")},
    "ADD": {
        "chmod": _v("1.2"),
        "link": _v("1.4"),
        "keep-git-dir": _v("1.5"),
        "checksum": _v("1.6"),
        "unpack": _v("1.17"),
        "exclude": _v("1.19"),
    },
    "RUN": {"mount": _v("1.2"), "network": _v("1.3"), "security": _v("1.20")},
    "HEALTHCHECK": {"start-interval": _v("1.6")},
}
HEREDOCS_SINCE = _v("1.4")
# `${VAR-word}`, `${VAR+word}`, `${VAR?message}` (without the colon): 1.6; `#`, `%`, `/` pattern forms: 1.7.
UNSET_ONLY_FORMS_SINCE = _v("1.6")
PATTERN_FORMS_SINCE = _v("1.7")


def requires_buildkit(keyword: str, flag: str) -> bool:
    """Whether the legacy builder refuses this flag ("requires BuildKit"); it reads the others and ignores them.

    moby's legacy builder refuses every RUN flag and `--chmod`; `--link`, `--checksum` and the rest it accepts
    (they come through BuildKit's parser) and never uses.
    """
    return keyword == "RUN" or flag == "chmod"


# What an ARG with no value (`ARG TARGETARCH`) gets under BuildKit: the platform it builds for and the one it runs
# on (both the engine's own here: no cross-building). The legacy builder sets none of them.
PLATFORM_ARGS = (
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
)
_MACHINE_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm/v7"}


def docker_platform(os_name: str, machine: str) -> str:
    """Docker's spelling of a platform (`linux`, `x86_64` -> `linux/amd64`)."""
    machine = machine.lower()
    return f"{os_name.lower()}/{_MACHINE_ARCH.get(machine, machine)}"


def host_platform() -> str:
    """This machine's platform in Docker's spelling (`linux/amd64`): what a local engine builds for by default."""
    return docker_platform("linux", host.machine())


def builtin_syntax(engine_version: str) -> DockerfileSyntax | None:
    """The Dockerfile syntax built into an engine (`20.10.24` -> 1.2), for the engines measured here; else None."""
    return BUILTIN_SYNTAX.get(".".join(engine_version.split(".")[:2]))


def platform_args(platform: str) -> dict[str, str]:
    """BuildKit's automatic platform build arguments for a build on and for `platform` (`linux/amd64`)."""
    parts = platform.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"platform {platform!r} is not os/arch[/variant], for example linux/amd64")
    os_name, arch = parts[0], parts[1]
    variant = parts[2] if len(parts) == 3 else ""
    values: dict[str, str] = {}
    for side in ("TARGET", "BUILD"):
        values |= {f"{side}PLATFORM": platform, f"{side}OS": os_name, f"{side}ARCH": arch, f"{side}VARIANT": variant}
    return values


def check_builder(builder: str) -> Builder:
    """`builder` if it names one of Docker's builders, else UsageError naming the choices."""
    if builder not in BUILDERS:
        raise UsageError(f"builder {builder!r} is not one of Docker's builders: use {' or '.join(BUILDERS)}")
    return builder  # type: ignore[return-value]


def syntax_from_frontend(image: str) -> DockerfileSyntax | None:
    """The syntax version a `# syntax=` frontend image gives (`docker/dockerfile:1.4` -> 1.4), None if unknown."""
    name, _, tag = image.strip().partition(":")
    name = name.removeprefix("docker.io/")
    if name == "docker/dockerfile-upstream":
        return CURRENT
    if name != "docker/dockerfile":
        return None
    version = tag.split("@")[0].removesuffix("-labs")
    if version in ("", "latest", "labs"):
        return CURRENT
    try:
        return DockerfileSyntax.parse(version)
    except UsageError:
        return None
