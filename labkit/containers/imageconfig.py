"""An image's runtime configuration: what `docker image inspect` reports under `Config`, as a plain value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The PATH Docker's builder gives a stage whose base image sets none (Linux).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")
# `Config` keys this lab models and proves against the engine, in Docker's spelling.
INSPECT_KEYS = (
    "Entrypoint",
    "Cmd",
    "WorkingDir",
    "User",
    "Env",
    "ExposedPorts",
    "Volumes",
    "Shell",
    "Labels",
    "Healthcheck",
    "StopSignal",
    "OnBuild",
)


@dataclass(frozen=True)
class Healthcheck:
    """A HEALTHCHECK: the test argv (`CMD`, `CMD-SHELL` or `NONE` first) and durations in nanoseconds (0: default)."""

    test: tuple[str, ...]
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    retries: int = 0
    start_interval_ns: int = 0  # `--start-interval`: Dockerfile syntax 1.6 and Engine 25 (not on the engine here)

    def to_inspect(self) -> dict[str, Any]:
        """Docker's JSON shape; zero fields are left out, as the engine leaves them out."""
        shape: dict[str, Any] = {"Test": list(self.test)}
        for key, value in (
            ("Interval", self.interval_ns),
            ("Timeout", self.timeout_ns),
            ("StartPeriod", self.start_period_ns),
            ("Retries", self.retries),
            ("StartInterval", self.start_interval_ns),
        ):
            if value:
                shape[key] = value
        return shape

    @classmethod
    def from_inspect(cls, shape: Mapping[str, Any] | None) -> Healthcheck | None:
        if not shape or not shape.get("Test"):
            return None
        return cls(
            test=tuple(shape["Test"]),
            interval_ns=int(shape.get("Interval") or 0),
            timeout_ns=int(shape.get("Timeout") or 0),
            start_period_ns=int(shape.get("StartPeriod") or 0),
            retries=int(shape.get("Retries") or 0),
            start_interval_ns=int(shape.get("StartInterval") or 0),
        )


def _argv(value: Any) -> tuple[str, ...] | None:
    # An empty list and no list run alike; `docker image inspect` shows null for both, except a Cmd (below).
    return tuple(value) if value else None


def _cmd(value: Any) -> tuple[str, ...] | None:
    # The legacy builder records an explicit `CMD []` as an empty list, not null (measured on Engine 20.10: `FROM
    # scratch` + `CMD []` inspects as "Cmd": []); an image that never set one has null. Both run no command.
    return None if value is None else tuple(value)


@dataclass(frozen=True)
class ImageConfig:
    """The configuration a container inherits from its image; empty fields are None/""/() like Docker's nulls."""

    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    env: tuple[str, ...] = ()
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    shell: tuple[str, ...] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    stop_signal: str = ""
    on_build: tuple[str, ...] = ()

    @property
    def env_map(self) -> dict[str, str]:
        """Env as a mapping (Docker keeps a list of `KEY=value`; a later duplicate never occurs in a built image)."""
        pairs = (item.partition("=") for item in self.env)
        return {key: value for key, _, value in pairs}

    @property
    def effective_shell(self) -> tuple[str, ...]:
        """The shell that shell-form RUN/CMD/ENTRYPOINT use: SHELL's, else `/bin/sh -c`."""
        return self.shell or DEFAULT_SHELL

    def to_inspect(self) -> dict[str, Any]:
        """The modelled keys of `docker image inspect --format '{{json .Config}}'`, empty ones as None."""
        return {
            "Entrypoint": list(self.entrypoint) if self.entrypoint else None,
            "Cmd": list(self.cmd) if self.cmd is not None else None,
            "WorkingDir": self.working_dir or None,
            "User": self.user or None,
            "Env": list(self.env) or None,
            "ExposedPorts": {port: {} for port in self.exposed_ports} or None,
            "Volumes": {volume: {} for volume in self.volumes} or None,
            "Shell": list(self.shell) if self.shell else None,
            "Labels": dict(self.labels) or None,
            "Healthcheck": self.healthcheck.to_inspect() if self.healthcheck else None,
            "StopSignal": self.stop_signal or None,
            "OnBuild": list(self.on_build) or None,
        }

    @classmethod
    def from_inspect(cls, config: Mapping[str, Any] | None) -> ImageConfig:
        """From the `Config` of `docker image inspect` (a real one, or a mapping a caller writes by hand)."""
        config = config or {}
        return cls(
            entrypoint=_argv(config.get("Entrypoint")),
            cmd=_cmd(config.get("Cmd")),
            working_dir=config.get("WorkingDir") or "",
            user=config.get("User") or "",
            env=tuple(config.get("Env") or ()),
            exposed_ports=tuple(sorted(config.get("ExposedPorts") or {})),
            volumes=tuple(sorted(config.get("Volumes") or {})),
            shell=_argv(config.get("Shell")),
            labels=dict(config.get("Labels") or {}),
            healthcheck=Healthcheck.from_inspect(config.get("Healthcheck")),
            stop_signal=config.get("StopSignal") or "",
            on_build=tuple(config.get("OnBuild") or ()),
        )


def normalized_inspect(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The modelled keys of an engine's `Config`, with Docker's empty values (missing, [], {}, "") as None; a Cmd
    of [] stays [] (an explicit `CMD []`, which the engine records as such)."""
    config = config or {}
    normalized = {key: (config.get(key) or None) for key in INSPECT_KEYS}
    if config.get("Cmd") == []:
        normalized["Cmd"] = []
    return normalized
