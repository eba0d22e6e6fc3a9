"""The Docker engine, driven through the docker SDK: detect it, build, run, read logs and exit codes, networks.

Everything the lab creates carries the labels `labkit.created-by=labkit`, `labkit.purpose=<what for>` and
`labkit.checkout=<this checkout>`, so `cleanup()` removes exactly what this checkout of the lab made: nothing of the
user's, and nothing of another clone of the lab (or another user's lab) on the same engine. Containers publish their
ports on 127.0.0.1 unless asked otherwise: the lab's services and JupyterLab have no authentication to expose. The
lab never pulls: an image that is not in the engine's store is an error that says how to get it (`docker pull`, or
`labkit containers base-image`).

This is the low-level driver: it knows the engine's API, not Dockerfiles and not the lab's base images. Which
images a build reads is worked out above it (`prebuild.build_checked`, with the explainer), and which images are
the offline base images is passed in (`baseimages.lab_cleanup`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors
from tqdm.auto import tqdm

import docker
from labkit.containers.errors import (
    BuildFailedError,
    ContainerFailedError,
    EngineUnavailableError,
    MissingImageError,
)
from labkit.paths import repo_root

OWNER_LABEL = "labkit.created-by"
OWNER = "labkit"
PURPOSE_LABEL = "labkit.purpose"
CHECKOUT_LABEL = "labkit.checkout"
CHECKOUT_VARIABLE = "LABKIT_CHECKOUT"  # names the checkout in its labels instead (a test of two checkouts, a CI job)
PUBLISH_ON = "127.0.0.1"  # where containers publish their ports unless the caller says otherwise
BASE_IMAGE_LABEL = "labkit.base-image"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
DETECT_TIMEOUT_S = 5
WORK_TIMEOUT_S = 900
STEP_LINE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def checkout_id() -> str:
    """Which checkout of the lab this is: $LABKIT_CHECKOUT, else a short hash of the checkout's folder."""
    named = os.environ.get(CHECKOUT_VARIABLE)
    if named:
        return named
    return hashlib.sha256(str(repo_root().resolve()).encode()).hexdigest()[:12]


def lab_labels(purpose: str) -> dict[str, str]:
    """The labels on everything the lab creates for `purpose` (a notebook, a test, a service), in this checkout."""
    return {OWNER_LABEL: OWNER, PURPOSE_LABEL: purpose, CHECKOUT_LABEL: checkout_id()}


def engine_host() -> str:
    """Where the SDK looks for the engine: DOCKER_HOST, else the default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def _reason(exc: Exception, host: str) -> str:
    """Why the engine at `host` does not answer, in words a learner can act on."""
    text = str(exc)
    if "FileNotFoundError" in text or "No such file" in text:
        return f"no socket at {host}: the Docker daemon is not running (start dockerd, or Docker Desktop)"
    if "PermissionError" in text or "Permission denied" in text:
        return f"permission denied on {host}: add your user to the `docker` group, or use rootless Docker"
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return f"nothing answers at {host} (connection refused): the daemon is stopped or listens elsewhere"
    if "timed out" in text.lower():
        return f"the engine at {host} did not answer within {DETECT_TIMEOUT_S} s"
    return f"the engine at {host} is not reachable: {text.splitlines()[0][:200]}"


@dataclass(frozen=True)
class EngineStatus:
    """Whether an engine answers, where the SDK looked, and its version or the reason it does not answer."""

    reachable: bool
    host: str
    detail: str

    def __str__(self) -> str:
        return f"Docker engine at {self.host}: {self.detail}" if self.reachable else f"no Docker engine: {self.detail}"


def detect() -> EngineStatus:
    """Ask the engine DOCKER_HOST (or the default socket) names for its version, within a few seconds."""
    host = engine_host()
    try:
        client = docker.from_env(timeout=DETECT_TIMEOUT_S)
        version = client.version()
        client.close()
    except Exception as exc:  # the SDK raises many kinds; every one means "not reachable"
        return EngineStatus(False, host, _reason(exc, host))
    return EngineStatus(True, host, f"Docker {version.get('Version')} (API {version.get('ApiVersion')})")


def connect() -> Engine:
    """The engine, ready for work; EngineUnavailableError says why when there is none."""
    status = detect()
    if not status.reachable:
        raise EngineUnavailableError(f"{status.detail}. The explainer and lint work without an engine.")
    return Engine(docker.from_env(timeout=WORK_TIMEOUT_S), status)


def connect_or_reason() -> tuple[Engine | None, str | None]:
    """The engine, or None and the reason there is none (for code that carries on without it)."""
    try:
        return connect(), None
    except EngineUnavailableError as exc:
        return None, str(exc)


@dataclass(frozen=True)
class BuiltImage:
    """An image the lab built: its id, tag, the builder's log and how long it took."""

    id: str
    tag: str | None
    log: str
    seconds: float
    steps: int


@dataclass(frozen=True)
class RunResult:
    """A finished container: what it ran (Path + Args), its exit code and its output."""

    container_id: str
    argv: tuple[str, ...]
    exit_code: int
    logs: str


@dataclass
class CleanupReport:
    """What `cleanup` removed."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"removed {len(self.containers)} containers, {len(self.networks)} networks, {len(self.images)} images"


def _api_errors_as_build_failures(
    chunks: Iterable[Mapping[str, Any]], label: str, log: list[str]
) -> Iterator[Mapping[str, Any]]:
    """The builder's stream; a refusal before the build starts (a Dockerfile parse error) becomes BuildFailedError."""
    try:
        yield from chunks
    except docker.errors.APIError as exc:
        message = str(exc.explanation or exc)
        log.append(message)
        raise BuildFailedError(f"docker build of {label} failed: {message}", log="".join(log)) from None


def _stream_build(chunks: Iterable[Mapping[str, Any]], progress: bool, label: str) -> tuple[str | None, str, int]:
    """Follow the builder's JSON stream: a progress bar per step; returns (image id, full log, steps)."""
    log: list[str] = []
    image_id: str | None = None
    steps = 0
    bar = None
    try:
        for chunk in _api_errors_as_build_failures(chunks, label, log):
            if "error" in chunk:
                log.append(str(chunk["error"]))
                tail = "".join(log).strip().splitlines()[-12:-1]
                raise BuildFailedError(
                    f"docker build of {label} failed: {str(chunk['error']).strip()}"
                    + ("\nthe builder's last lines:\n  " + "\n  ".join(tail) if tail else ""),
                    log="".join(log),
                )
            if "aux" in chunk and isinstance(chunk["aux"], Mapping) and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            text = chunk.get("stream")
            if not text:
                continue
            log.append(text)
            match = STEP_LINE.match(text.strip())
            if match:
                number, total, instruction = int(match[1]), int(match[2]), match[3]
                steps = total
                if progress and bar is None:
                    bar = tqdm(total=total, desc=f"build {label}", unit="step", leave=False)
                if bar is not None:
                    bar.n = number - 1
                    bar.set_postfix_str(instruction[:60])
                    bar.refresh()
        if bar is not None:
            bar.n = bar.total
            bar.refresh()
    finally:
        if bar is not None:
            bar.close()
    full = "".join(log)
    if image_id is None:
        built = re.findall(r"Successfully built ([0-9a-f]+)", full)
        image_id = built[-1] if built else None
    return image_id, full, steps


class Engine:
    """A reachable Docker engine and the operations the lab performs on it."""

    def __init__(self, client: docker.DockerClient, status: EngineStatus) -> None:
        self.client = client
        self.status = status

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Images -------------------------------------------------------------------------------------------------
    def image_inspect(self, reference: str) -> dict[str, Any] | None:
        """`docker image inspect REFERENCE`, or None when the image is not in the store (never pulls)."""
        try:
            return self.client.api.inspect_image(reference)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            if exc.status_code in (400, 404):
                return None
            raise

    def image_config(self, reference: str) -> dict[str, Any] | None:
        """The `Config` of an image in the store, or None when it is not there."""
        inspected = self.image_inspect(reference)
        return (inspected.get("Config") or {}) if inspected is not None else None

    def has_image(self, reference: str) -> bool:
        return self.image_inspect(reference) is not None

    def image_size(self, reference: str) -> int:
        """The image's size in bytes, as `docker image ls` reports it."""
        inspected = self.image_inspect(reference)
        if inspected is None:
            raise MissingImageError(f"image {reference!r} is not in the engine's store")
        return int(inspected["Size"])

    def require_images(self, references: Iterable[str], *, needed_by: str) -> None:
        """Refuse early, with the way out, when images a build or run needs are missing (the lab never pulls)."""
        missing = sorted({ref for ref in references if not self.has_image(ref)})
        if missing:
            names = ", ".join(missing)
            raise MissingImageError(
                f"{needed_by} needs {names}, which the engine does not have, and labkit never pulls. "
                f"Pull it yourself (`docker pull {missing[0]}`) where a registry is reachable, or build from an "
                "offline base: `labkit containers base-image busybox|debian-python` and pass "
                "--build-arg BASE_IMAGE=<its tag>."
            )

    def import_image(self, tarball: Path, *, repository: str, tag: str, changes: Sequence[str] = ()) -> str:
        """`docker import`: a root filesystem tarball becomes an image tagged `repository:tag`; returns its id."""
        self.client.api.import_image_from_file(str(tarball), repository=repository, tag=tag, changes=list(changes))
        inspected = self.image_inspect(f"{repository}:{tag}")
        if inspected is None:
            raise MissingImageError(f"docker import did not produce {repository}:{tag}")
        return str(inspected["Id"])

    def build(
        self,
        context: Path | str,
        *,
        dockerfile: str = "Dockerfile",
        tag: str | None = None,
        build_args: Mapping[str, str] | None = None,
        target: str | None = None,
        labels: Mapping[str, str] | None = None,
        purpose: str = "lab",
        progress: bool = True,
        nocache: bool = False,
    ) -> BuiltImage:
        """`docker build` of `context`, labelled for the lab, with a progress bar per step.

        It does not check the images the Dockerfile reads: Docker's legacy builder pulls a missing base whatever
        `pull=False` says. `prebuild.build_checked` checks them first, and is what the lab calls.
        """
        context = Path(context)
        all_labels = {**(labels or {}), **lab_labels(purpose)}
        started = time.perf_counter()

        def chunks() -> Iterator[Mapping[str, Any]]:
            yield from self.client.api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=tag,
                buildargs=dict(build_args or {}),
                target=target,
                labels=all_labels,
                rm=True,
                forcerm=True,
                pull=False,
                nocache=nocache,
                decode=True,
            )

        image_id, log, steps = _stream_build(chunks(), progress, tag or context.name)
        if image_id is None:
            raise BuildFailedError(f"docker build of {tag or context.name} reported no image id", log=log)
        return BuiltImage(image_id, tag, log, time.perf_counter() - started, steps)

    # Containers ---------------------------------------------------------------------------------------------
    def create_container(
        self,
        image: str,
        command: Sequence[str] | None = None,
        *,
        entrypoint: str | None = None,
        purpose: str = "lab",
        name: str | None = None,
        network: str | None = None,
        aliases: Sequence[str] = (),
        environment: Mapping[str, str] | None = None,
        ports: Mapping[str, int | None] | None = None,
        publish_on: str = PUBLISH_ON,
        user: str | None = None,
        init: bool = False,
    ) -> str:
        """`docker create`: returns the container id. `entrypoint=""` clears the image's ENTRYPOINT, like the CLI.

        `ports` maps a container port ("8000/tcp") to a host port (None: a free one), published on `publish_on`:
        loopback unless the caller asks for another interface ("0.0.0.0" for all, as `docker run -p` does).
        `init=True` is `docker run --init`: the engine's tiny init (tini) is PID 1 and passes signals on.
        """
        self.require_images([image], needed_by=f"a container of {image}")
        # The CLI sends [""] for `--entrypoint ""`; the SDK would turn "" into [] (which means "keep the image's").
        entry: list[str] | None = None if entrypoint is None else [entrypoint]
        # (address,) publishes on a free host port of that address; (address, port) on that port.
        bindings = {port: (publish_on,) if host is None else (publish_on, host) for port, host in (ports or {}).items()}
        host_config = self.client.api.create_host_config(port_bindings=bindings or None, init=init or None)
        networking = None
        if network:
            networking = self.client.api.create_networking_config(
                {network: self.client.api.create_endpoint_config(aliases=list(aliases) or None)}
            )
        try:
            created = self.client.api.create_container(
                image,
                command=list(command) if command else None,
                entrypoint=entry,
                name=name,
                labels=lab_labels(purpose),
                environment=dict(environment or {}),
                # The SDK wants (number, protocol) pairs: a "8080/tcp" string would become "8080/tcp/tcp".
                ports=[(int(port.split("/")[0]), port.partition("/")[2] or "tcp") for port in ports or {}] or None,
                host_config=host_config,
                networking_config=networking,
                user=user,
            )
        except docker.errors.APIError as exc:
            raise ContainerFailedError(f"docker create {image} failed: {exc.explanation or exc}") from None
        return str(created["Id"])

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        return self.client.api.inspect_container(container_id)

    def argv(self, container_id: str) -> tuple[str, ...]:
        """What the container runs: `docker inspect`'s Path followed by its Args."""
        inspected = self.inspect_container(container_id)
        return (inspected["Path"], *(inspected.get("Args") or ()))

    def start(self, container_id: str) -> None:
        try:
            self.client.api.start(container_id)
        except docker.errors.APIError as exc:
            raise ContainerFailedError(f"docker start {container_id[:12]} failed: {exc.explanation or exc}") from None

    def wait(self, container_id: str, timeout_s: float = 60) -> int:
        """Wait for the container to exit; its exit code."""
        try:
            result = self.client.api.wait(container_id, timeout=timeout_s)
        except Exception as exc:
            raise ContainerFailedError(
                f"container {container_id[:12]} did not exit within {timeout_s} s ({type(exc).__name__})"
            ) from None
        return int(result.get("StatusCode", -1))

    def logs(self, container_id: str) -> str:
        """Everything the container wrote to stdout and stderr so far."""
        return self.client.api.logs(container_id, stdout=True, stderr=True).decode(errors="replace")

    def stop(self, container_id: str, timeout_s: int = 10) -> None:
        """`docker stop -t TIMEOUT`: the stop signal (SIGTERM unless STOPSIGNAL), then SIGKILL after `timeout_s`."""
        try:
            self.client.api.stop(container_id, timeout=timeout_s)
        except docker.errors.APIError as exc:
            raise ContainerFailedError(f"docker stop {container_id[:12]} failed: {exc.explanation or exc}") from None

    def processes(self, container_id: str) -> list[str]:
        """`docker top`: the command line of each process in the running container, in order of process id."""
        top = self.client.api.top(container_id)
        titles = top.get("Titles") or []
        pid, command = titles.index("PID"), titles.index("CMD")
        rows = sorted(top.get("Processes") or [], key=lambda row: int(row[pid]))
        return [row[command] for row in rows]

    def remove_container(self, container_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.client.api.remove_container(container_id, force=True, v=True)

    def run(
        self,
        image: str,
        command: Sequence[str] | None = None,
        *,
        entrypoint: str | None = None,
        purpose: str = "lab",
        network: str | None = None,
        environment: Mapping[str, str] | None = None,
        timeout_s: float = 60,
        keep: bool = False,
    ) -> RunResult:
        """`docker run` to completion: the argv it ran, its exit code and its logs (the container is removed)."""
        container_id = self.create_container(
            image, command, entrypoint=entrypoint, purpose=purpose, network=network, environment=environment
        )
        try:
            argv = self.argv(container_id)
            self.start(container_id)
            code = self.wait(container_id, timeout_s)
            return RunResult(container_id, argv, code, self.logs(container_id))
        finally:
            if not keep:
                self.remove_container(container_id)

    def published_port(self, container_id: str, container_port: str) -> int:
        """The host port Docker bound to `container_port` (`8000/tcp`) of a running container."""
        bindings = (self.inspect_container(container_id)["NetworkSettings"].get("Ports") or {}).get(container_port)
        if not bindings:
            raise ContainerFailedError(f"container {container_id[:12]} publishes no host port for {container_port}")
        return int(bindings[0]["HostPort"])

    def health(self, container_id: str) -> str | None:
        """The container's health status (`starting`, `healthy`, `unhealthy`), or None without a HEALTHCHECK."""
        state = self.inspect_container(container_id)["State"]
        return (state.get("Health") or {}).get("Status")

    def wait_healthy(self, container_id: str, timeout_s: float = 60) -> str:
        """Poll until the HEALTHCHECK reports healthy; the status reached, or ContainerFailedError with the logs."""
        deadline = time.monotonic() + timeout_s
        status = None
        while time.monotonic() < deadline:
            state = self.inspect_container(container_id)["State"]
            status = (state.get("Health") or {}).get("Status")
            if status == "healthy":
                return status
            if not state.get("Running"):
                break
            time.sleep(0.5)
        raise ContainerFailedError(
            f"container {container_id[:12]} is {status or 'not running'} after {timeout_s} s; "
            f"its logs end with: {self.logs(container_id)[-800:]}"
        )

    # Networks -----------------------------------------------------------------------------------------------
    def create_network(self, name: str, *, purpose: str = "lab") -> str:
        """A user-defined bridge network (containers on it find each other by name); returns its id."""
        created = self.client.api.create_network(name, driver="bridge", labels=lab_labels(purpose))
        return str(created["Id"])

    # Cleanup ------------------------------------------------------------------------------------------------
    def _labelled(self, purpose: str | None) -> list[str]:
        # This checkout's objects only: another clone's (or another user's lab's) carry another checkout label.
        filters = [f"{OWNER_LABEL}={OWNER}", f"{CHECKOUT_LABEL}={checkout_id()}"]
        if purpose is not None:
            filters.append(f"{PURPOSE_LABEL}={purpose}")
        return filters

    def cleanup(
        self, *, purpose: str | None = None, base_images: Collection[str] = (), include_base_images: bool = False
    ) -> CleanupReport:
        """Remove the containers, networks and images this checkout of the lab created (for `purpose`, or all).

        `base_images` are the references of the offline base images (`baseimages.lab_cleanup` passes them): an
        image tagged with one stays, unless `include_base_images`; with it and no `purpose` they go too.
        """
        report = CleanupReport()
        labels = self._labelled(purpose)
        for container in self.client.api.containers(all=True, filters={"label": labels}):
            self.remove_container(container["Id"])
            report.containers.append(container["Id"])
        for network in self.client.api.networks(filters={"label": labels}):
            try:
                self.client.api.remove_network(network["Id"])
                report.networks.append(network["Id"])
            except docker.errors.APIError:
                continue  # still in use by a container someone else started on it
        candidates = list(self.client.api.images(filters={"label": labels}))
        if include_base_images and purpose is None:
            # By tag, not by label: images built FROM a base inherit its label, and some of those are the user's.
            for reference in base_images:
                candidates.extend(self.client.api.images(name=reference))
        report.images.extend(self._remove_images(candidates, set(base_images), include_base_images))
        return report

    def _remove_images(
        self, images: list[dict[str, Any]], base_refs: set[str], include_base_images: bool
    ) -> Iterator[str]:
        pending = {}
        for image in images:
            tags = set(image.get("RepoTags") or ())
            if tags & base_refs and not include_base_images:
                continue
            pending[image["Id"]] = image
        # Children must go before their parents: retry until a pass removes nothing.
        while pending:
            removed = []
            for image_id in list(pending):
                try:
                    self.client.api.remove_image(image_id, force=True, noprune=False)
                    removed.append(image_id)
                except docker.errors.NotFound:
                    removed.append(image_id)
                except docker.errors.APIError:
                    continue
            for image_id in removed:
                pending.pop(image_id)
                yield image_id
            if not removed:
                return
