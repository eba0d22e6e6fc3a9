"""How long `docker stop` takes, and why: who is PID 1 in the container, and does it handle SIGTERM?

`docker stop` sends SIGTERM to the container's PID 1, waits (`-t`, 10 s by default), then sends SIGKILL. The kernel
delivers a signal to a PID 1 only if that process installed a handler for it: a program that never asked for SIGTERM
(`sleep`, a Python script without `signal.signal(SIGTERM, ...)`) ignores it as PID 1 and is killed at the deadline,
exit code 137. So "exec form" alone does not make a container stop promptly; what is PID 1, and whether it handles
the signal, does. A shell-form CMD makes the shell PID 1 unless the shell execs the command: busybox ash execs the
last simple command of `sh -c`, Debian 12's dash does not, and neither passes SIGTERM on to a child.

Each case is a real image built from a one-line Dockerfile (`FROM base` + the CMD line) and a real container; the
measurement is `docker stop`'s own duration and the exit code `docker inspect` reports.

    measurements = measure_stops(engine, STOP_CASES, timeout_s=3, purpose="notebook-08")
    stops_table(measurements)
"""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from labkit.containers.baseimages import BUSYBOX, DEBIAN_PYTHON, ensure_base_image
from labkit.containers.engine import Engine
from labkit.containers.errors import ContainerFailedError
from labkit.containers.explainer import explain
from labkit.containers.prebuild import build_checked

SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"
HANDLER = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
    "print('ready', flush=True); time.sleep(60)"
)
# The table names the Python programs instead of cutting them short: a cut program hides whether it handles SIGTERM.
PROGRAMS = {"SLEEPER": SLEEPER, "HANDLER": HANDLER}
KILLED_EXIT_CODE = 137  # 128 + 9: the process died of SIGKILL
READY_TIMEOUT_S = 60


@dataclass(frozen=True)
class StopCase:
    """A one-line CMD on a base image, run with or without `docker run --init`; `ready` shows in `docker top`."""

    label: str
    base: str  # the offline base image's name: busybox or debian-python
    cmd: str
    ready: str
    init: bool = False

    @property
    def dockerfile(self) -> str:
        reference = BUSYBOX.reference if self.base == BUSYBOX.name else DEBIAN_PYTHON.reference
        return f"FROM {reference}\n{self.cmd}\n"


STOP_CASES = (
    StopCase("busybox ash, shell form, one command", BUSYBOX.name, "CMD sleep 60", "sleep 60"),
    StopCase("busybox ash, shell form, two commands", BUSYBOX.name, "CMD sleep 60; echo done", "sleep 60"),
    StopCase("Debian's dash, shell form, one command", DEBIAN_PYTHON.name, "CMD sleep 60", "sleep 60"),
    StopCase(
        "Python, exec form, no SIGTERM handler",
        DEBIAN_PYTHON.name,
        f"CMD {json.dumps(['python3', '-c', SLEEPER])}",
        "python3",
    ),
    StopCase(
        "Python, exec form, handles SIGTERM",
        DEBIAN_PYTHON.name,
        f"CMD {json.dumps(['python3', '-c', HANDLER])}",
        "python3",
    ),
    StopCase("Python handles SIGTERM, shell form (dash)", DEBIAN_PYTHON.name, f'CMD python3 -c "{HANDLER}"', "python3"),
    StopCase(
        "Python handles SIGTERM, shell form with exec",
        DEBIAN_PYTHON.name,
        f'CMD exec python3 -c "{HANDLER}"',
        "python3",
    ),
    StopCase(
        "Python, exec form, no handler, docker run --init",
        DEBIAN_PYTHON.name,
        f"CMD {json.dumps(['python3', '-c', SLEEPER])}",
        "python3",
        init=True,
    ),
)


@dataclass(frozen=True)
class StopMeasurement:
    """One container stopped: what it ran, its processes just before (PID 1 first), the stop's duration and exit."""

    case: StopCase
    argv: tuple[str, ...]
    processes: tuple[str, ...]
    seconds: float
    exit_code: int
    timeout_s: int

    @property
    def killed(self) -> bool:
        return self.exit_code == KILLED_EXIT_CODE

    @property
    def outcome(self) -> str:
        if self.killed:
            return f"PID 1 ignored SIGTERM: SIGKILL after the {self.timeout_s} s timeout"
        return f"PID 1 exited on SIGTERM (exit code {self.exit_code})"


def _wait_ready(engine: Engine, container: str, case: StopCase) -> tuple[str, ...]:
    """The container's processes once the case's program runs (and, for Python, has set up its handler)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        processes = tuple(engine.processes(container))
        if any(process.startswith(case.ready) for process in processes) and (
            case.ready != "python3" or "ready" in engine.logs(container)
        ):
            return processes
        time.sleep(0.1)
    raise ContainerFailedError(f"{case.label}: {case.ready!r} did not start within {READY_TIMEOUT_S} s")


def _timed_stop(engine: Engine, container: str, timeout_s: int) -> float:
    started = time.perf_counter()
    engine.stop(container, timeout_s)
    return time.perf_counter() - started


def measure_stops(
    engine: Engine, cases: tuple[StopCase, ...] = STOP_CASES, *, timeout_s: int = 3, purpose: str = "lab"
) -> list[StopMeasurement]:
    """Build each case's image, start a container of each, then `docker stop -t timeout_s` them all at once."""
    for name in sorted({case.base for case in cases}):
        ensure_base_image(engine, name)
    images: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="labkit-stop-") as scratch:
        for index, case in enumerate(cases):
            if case.dockerfile not in images:
                context = Path(scratch) / str(index)
                context.mkdir()
                (context / "Dockerfile").write_text(case.dockerfile)
                images[case.dockerfile] = build_checked(engine, context, purpose=purpose, progress=False).id
    containers: list[str] = []
    try:
        for case in cases:
            containers.append(engine.create_container(images[case.dockerfile], purpose=purpose, init=case.init))
            engine.start(containers[-1])
        argvs = [engine.argv(container) for container in containers]
        processes = [_wait_ready(engine, container, case) for container, case in zip(containers, cases, strict=True)]
        # All at once: the measurement takes one timeout, not one per container.
        with ThreadPoolExecutor(max_workers=len(containers)) as pool:
            seconds = list(pool.map(lambda container: _timed_stop(engine, container, timeout_s), containers))
        codes = [int(engine.inspect_container(container)["State"]["ExitCode"]) for container in containers]
    finally:
        for container in containers:
            engine.remove_container(container)
    return [
        StopMeasurement(case, argv, procs, took, code, timeout_s)
        for case, argv, procs, took, code in zip(cases, argvs, processes, seconds, codes, strict=True)
    ]


def _named(text: str) -> str:
    """`text` whole, with each of PROGRAMS written as its name: `python3 -c <HANDLER>`."""
    for name, program in PROGRAMS.items():
        text = text.replace(program, f"<{name}>")
    return text


def stops_table(measurements: list[StopMeasurement]) -> pd.DataFrame:
    """One row per container: the CMD line, what `explain` says it runs, its processes, how `docker stop` went;
    nothing cut short, the Python programs by their names in PROGRAMS."""
    rows = []
    for m in measurements:
        predicted = explain(m.case.dockerfile, engine=None).command()
        rows.append(
            (
                m.case.label,
                _named(m.case.cmd),
                "yes" if predicted == m.argv else f"no: {list(predicted)}",
                " | ".join(_named(process) for process in m.processes),
                f"{m.seconds:.1f} s",
                m.exit_code,
                m.outcome,
            )
        )
    columns = ["case", "CMD line", "argv as explain says", "processes (PID 1 first)", "docker stop took", "exit"]
    return pd.DataFrame(rows, columns=[*columns, "what happened"])
