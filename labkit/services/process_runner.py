"""The process runner: the three services as real processes on free loopback ports, recorded in a run folder.

`ServiceRunner.up(folder)` starts them and writes `run.json` (pid, port, URL, log file of each); `labkit status`
and `labkit down` read it back with `ServiceRunner.attach(folder)`, so they stop exactly those processes (a pid is
trusted only if it still runs `labkit.services` with the recorded start time). Runners started from a notebook
stop their services when the kernel exits (atexit), and the services also exit if the kernel is killed outright.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from labkit.localserver import same_start
from labkit.paths import relative_to_repo, run_dir
from labkit.services.client import LabClient
from labkit.services.errors import RunFolderError, ServiceStartError, UnknownServiceError
from labkit.services.run_broker import RunBroker
from labkit.services.run_database import BACKENDS, RunDatabase
from labkit.services.settings import SERVICES
from labkit.services.transport import TRANSPORTS

# The services that keep their database on PostgreSQL when the run's back-end is; history stays a DuckDB read model.
RELATIONAL_SERVICES = ("customer", "order")

RUN_FILE = "run.json"
HOST = "127.0.0.1"

_RUNNERS: weakref.WeakSet[ServiceRunner] = weakref.WeakSet()


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = HOST) -> list[int]:
    """`count` different ports nobody listens on right now: the probes stay bound until all are picked, so the OS
    cannot hand the same port out twice (one after the other, it can)."""
    probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((host, 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@dataclass
class ServiceProcess:
    """One service of a run: where it listens, its process, its files."""

    name: str
    port: int
    log: str
    data_dir: str
    pid: int | None = None
    started_at: float | None = None  # the process's create time, to recognise it later
    boot_time: float | None = None  # the machine's boot time as psutil read it then (`localserver.same_start`)
    database_url: str | None = None  # PostgreSQL: the service's own role and schema (None: a DuckDB file)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @classmethod
    def from_record(cls, record: object, path: Path) -> ServiceProcess:
        """A service as run.json records it; RunFolderError naming the file when the entry is not one."""
        kinds: dict[str, type] = {"name": str, "port": int, "log": str, "data_dir": str}
        optional: dict[str, type] = {"pid": int, "started_at": float, "boot_time": float, "database_url": str}
        if not isinstance(record, dict) or not set(kinds) <= set(record) <= set(kinds) | set(optional):
            raise RunFolderError(f"{path}: the services entry {str(record)[:80]!r} is not a service record")
        for name, kind in [*kinds.items(), *optional.items()]:
            value = record.get(name)
            if not (value is None and name in optional) and not _is_a(value, kind):
                raise RunFolderError(f"{path}: a service's {name} {value!r} is not a {kind.__name__}")
        if record["name"] not in SERVICES or not 1 <= record["port"] <= 65535:
            raise RunFolderError(
                f"{path}: {record['name']!r} on port {record['port']} is not one of the lab's services"
            )
        return cls(**record)


def _is_a(value: object, kind: type) -> bool:
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, kind)


def default_folder() -> Path:
    """Where `labkit up` keeps its run: .run/services (or $LABKIT_RUN/services)."""
    return run_dir() / "services"


class ServiceRunner:
    """Starts, stops, kills and restarts the lab's services, all recorded in `folder/run.json`."""

    def __init__(
        self,
        folder: Path | str,
        *,
        services: Iterable[ServiceProcess] | None = None,
        exit_with_parent: bool = False,
        stop_at_exit: bool = True,
        env: dict[str, str] | None = None,
        backend: str = "duckdb",
        database: RunDatabase | None = None,
        transport: str = "http",
        broker: RunBroker | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise UnknownServiceError(f"backend {backend!r}: use one of {', '.join(BACKENDS)}")
        if transport not in TRANSPORTS:
            raise UnknownServiceError(f"transport {transport!r}: use one of {', '.join(TRANSPORTS)}")
        self.folder = Path(folder)
        self.exit_with_parent, self.env = exit_with_parent, dict(env or {})
        self.backend, self.database = backend, database
        self.transport, self.broker = transport, broker
        self.services: dict[str, ServiceProcess] = {}
        if services is None:
            for name, port in zip(SERVICES, free_ports(len(SERVICES)), strict=True):
                self.services[name] = ServiceProcess(
                    name, port, str(self.folder / "logs" / f"{name}.log"), str(self.folder / "data" / name)
                )
        else:
            self.services = {s.name: s for s in services}
        self._popen: dict[str, subprocess.Popen[bytes]] = {}
        self._client: LabClient | None = None
        if stop_at_exit:
            _RUNNERS.add(self)

    # ---- creating ------------------------------------------------------------------------------------------------

    @classmethod
    def up(
        cls,
        folder: Path | str | None = None,
        *,
        exit_with_parent: bool = False,
        stop_at_exit: bool = True,
        timeout: float = 30.0,
        env: dict[str, str] | None = None,
        backend: str = "duckdb",
        transport: str = "http",
    ) -> ServiceRunner:
        """Start the three services in a new run folder and wait until each answers /health.

        `backend="postgres"`: the customer and order services keep their databases on PostgreSQL (`RunDatabase`).
        `transport="nats"`: their events travel through NATS JetStream (`RunBroker`), not their HTTP feeds."""
        folder = Path(folder) if folder is not None else default_folder()
        if folder.exists() and not folder.is_dir():
            raise RunFolderError(f"{folder} is a file, not a run folder: give --run-dir a folder")
        if (folder / RUN_FILE).exists():
            running = cls.attach(folder, stop_at_exit=False)
            alive = [name for name in running.services if running.is_running(name)]
            if alive:
                raise RunFolderError(
                    f"{relative_to_repo(folder)} already runs {', '.join(alive)}: `labkit down` first, or use another folder"
                )
        runner = cls(
            folder,
            exit_with_parent=exit_with_parent,
            stop_at_exit=stop_at_exit,
            env=env,
            backend=backend,
            transport=transport,
        )
        try:
            runner.start(timeout=timeout)
        except BaseException:
            runner.stop()
            raise
        return runner

    @classmethod
    def attach(cls, folder: Path | str | None = None, *, stop_at_exit: bool = False) -> ServiceRunner:
        """The runner of services started earlier (by `labkit up` or another process), from its run.json."""
        folder = Path(folder) if folder is not None else default_folder()
        path = folder / RUN_FILE
        if not path.exists():
            raise RunFolderError(
                f"no services were started in {relative_to_repo(folder)} (no {RUN_FILE}): `labkit up` first"
            )
        try:
            data = json.loads(path.read_text())
        except (ValueError, OSError) as exc:
            raise RunFolderError(
                f"{path} cannot be read as a run record ({exc}): remove the folder if nothing runs"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("services"), list):
            raise RunFolderError(f"{path} is not a run record (no list of services): remove the folder if nothing runs")
        backend = data.get("backend", "duckdb")
        if backend not in BACKENDS:
            raise RunFolderError(f"{path}: backend {backend!r} is not one of {', '.join(BACKENDS)}")
        database = RunDatabase.from_record(data["postgres"]) if data.get("postgres") else None
        transport = data.get("transport", "http")
        if transport not in TRANSPORTS:
            raise RunFolderError(f"{path}: transport {transport!r} is not one of {', '.join(TRANSPORTS)}")
        broker = RunBroker.from_record(data["broker"]) if data.get("broker") else None
        return cls(
            folder,
            services=[ServiceProcess.from_record(s, path) for s in data["services"]],
            stop_at_exit=stop_at_exit,
            backend=backend,
            database=database,
            transport=transport,
            broker=broker,
        )

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {"backend": self.backend, "services": [asdict(s) for s in self.services.values()]}
        if self.database is not None:
            data["postgres"] = self.database.to_record()
        if self.transport != "http":
            data["transport"] = self.transport
        if self.broker is not None:
            data["broker"] = self.broker.to_record()
        (self.folder / RUN_FILE).write_text(json.dumps(data, indent=2) + "\n")

    # ---- the processes -------------------------------------------------------------------------------------------

    @property
    def urls(self) -> dict[str, str]:
        return {name: s.url for name, s in self.services.items()}

    @property
    def client(self) -> LabClient:
        """An HTTP client for these services."""
        if self._client is None:
            self._client = LabClient(self.urls)
        return self._client

    def _check(self, name: str) -> ServiceProcess:
        if name not in self.services:
            raise UnknownServiceError(f"unknown service {name!r}: use one of {', '.join(self.services)}")
        return self.services[name]

    def command(self, name: str) -> list[str]:
        """The command line of one service (the same contract as the container image)."""
        service = self._check(name)
        command = [sys.executable, "-m", "labkit.services", name, "--host", HOST, "--port", str(service.port)]
        command += [
            "--data-dir",
            service.data_dir,
            "--customer-url",
            self.urls["customer"],
            "--order-url",
            self.urls["order"],
        ]
        if service.database_url is not None:
            command += ["--database-url", service.database_url]
        if self.transport == "nats":
            assert self.broker is not None, "the broker is prepared before the services start"
            command += ["--transport", "nats", "--broker-url", self.broker.url]
            command += ["--broker-namespace", self.broker.namespace]
        if self.exit_with_parent:
            command += ["--parent-pid", str(os.getpid())]
        return command

    def _prepare_databases(self) -> None:
        """On PostgreSQL: the run's server and database, and each relational service's role and schema (once)."""
        if self.backend != "postgres":
            return
        if self.database is None:
            self.database = RunDatabase.create(self.folder)
            self.save()  # recorded at once, so `labkit down` stops the server even if a service fails to start
        for name in RELATIONAL_SERVICES:
            service = self.services.get(name)
            if service is not None and service.database_url is None:
                service.database_url = self.database.service_url(name)

    def _prepare_broker(self) -> None:
        """With the NATS transport: the run's broker (once), recorded at once so `labkit down` stops it."""
        if self.transport == "nats" and self.broker is None:
            self.broker = RunBroker.create(self.folder)
            self.save()

    def kill_broker(self) -> None:
        """kill -9 the run's own broker, as a crash would (fault experiments)."""
        if self.broker is None:
            raise RunFolderError("this run's services talk over their HTTP feeds: there is no broker to kill")
        self.broker.kill()

    def restart_broker(self) -> None:
        """Start the run's own broker again, with its store, on its port (the services reconnect by themselves)."""
        if self.broker is None:
            raise RunFolderError("this run's services talk over their HTTP feeds: there is no broker to restart")
        self.broker.restart()

    def start(self, name: str | None = None, *, wait: bool = True, timeout: float = 30.0) -> None:
        """Start one service (or all that are not running) and wait until they answer /health."""
        names = [name] if name else list(self.services)
        self._prepare_databases()
        self._prepare_broker()
        for each in names:
            service = self._check(each)
            if self.is_running(each):
                continue
            Path(service.log).parent.mkdir(parents=True, exist_ok=True)
            Path(service.data_dir).mkdir(parents=True, exist_ok=True)
            with open(service.log, "ab") as log:
                # A session of its own: Ctrl-C in the terminal or notebook that started it does not reach it.
                process = subprocess.Popen(
                    self.command(each),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    env={**os.environ, **self.env},
                )
            self._popen[each] = process
            service.pid = process.pid
            service.started_at = psutil.Process(process.pid).create_time()
            service.boot_time = psutil.boot_time()
        self.save()
        if wait:
            self.wait_healthy(names, timeout=timeout)

    def _process(self, name: str) -> psutil.Process | None:
        """The live process of a service, if it is still the one this run started."""
        service = self.services[name]
        if service.pid is None:
            return None
        popen = self._popen.get(name)
        if popen is not None and popen.poll() is not None:
            return None
        try:
            process = psutil.Process(service.pid)
            if service.started_at is None or not same_start(
                process, service.started_at, service.boot_time, tolerance=0.01
            ):
                return None  # the pid was reused by another process
            if process.status() == psutil.STATUS_ZOMBIE or not _runs_service(process, service):
                return None
            return process
        except psutil.Error:
            return None

    def _exited(self, name: str) -> bool:
        """Whether a service being started has exited: its own Popen says so when this runner started it (the
        identity checks of `is_running` are for processes found through run.json, not for our own children)."""
        popen = self._popen.get(name)
        if popen is not None:
            return popen.poll() is not None
        return not self.is_running(name)

    def is_running(self, name: str) -> bool:
        return self._process(self._check(name).name) is not None

    def wait_healthy(self, names: Iterable[str] | None = None, *, timeout: float = 30.0) -> None:
        """Wait until each service answers GET /health; ServiceStartError (with its log's tail) if one cannot."""
        deadline = time.monotonic() + timeout
        for name in names or list(self.services):
            service = self._check(name)
            while True:
                if self._exited(name):
                    popen = self._popen.get(name)
                    status = f" (exit status {popen.returncode})" if popen is not None else ""
                    raise ServiceStartError(
                        f"the {name} service exited at start{status}; its log says:\n{self.log_tail(name)}"
                    )
                try:
                    if httpx.get(f"{service.url}/health", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise ServiceStartError(
                        f"the {name} service did not answer /health within {timeout:.0f} s; its log says:\n"
                        f"{self.log_tail(name)}"
                    )
                time.sleep(0.05)

    def kill(self, name: str) -> None:
        """kill -9 one service: no shutdown, no flush, the way a crash or an OOM kill ends a process."""
        process = self._process(self._check(name).name)
        if process is not None:
            process.send_signal(signal.SIGKILL)
            self._reap(name, process, 5.0)

    def pause(self, name: str) -> None:
        """Freeze one service (SIGSTOP): it holds what it holds, acks nothing, until `resume` or `kill`. Fault
        experiments use it to look at a service's work in flight and crash it in that very state."""
        process = self._process(self._check(name).name)
        if process is not None:
            process.send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        """Let a paused service go on (SIGCONT)."""
        process = self._process(self._check(name).name)
        if process is not None:
            process.send_signal(signal.SIGCONT)

    def stop(self, name: str | None = None, *, timeout: float = 10.0) -> None:
        """Stop one service (or all): SIGTERM for a graceful shutdown, SIGKILL if it takes longer than `timeout`."""
        names = [name] if name else list(self.services)
        processes = {n: p for n in names if (p := self._process(self._check(n).name)) is not None}
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for n, process in processes.items():
            if not self._reap(n, process, timeout):
                process.send_signal(signal.SIGKILL)
                self._reap(n, process, 5.0)
        if name is None and self._client is not None:
            self._client.close()
            self._client = None
        if name is None and self.database is not None:
            self.database.stop()
        if name is None and self.broker is not None:
            self.broker.stop()

    def restart(self, name: str, *, timeout: float = 30.0) -> None:
        """Start a stopped (or killed) service again on the same port with the same database."""
        self.stop(name)
        self.start(name, timeout=timeout)

    def _reap(self, name: str, process: psutil.Process, timeout: float) -> bool:
        popen = self._popen.get(name)
        try:
            if popen is not None:
                popen.wait(timeout)
            else:
                process.wait(timeout)
            return True
        except (subprocess.TimeoutExpired, psutil.TimeoutExpired):
            return False
        except psutil.NoSuchProcess:
            return True

    def __enter__(self) -> ServiceRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- looking -------------------------------------------------------------------------------------------------

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = Path(self._check(name).log)
        if not path.exists():
            return "(no log yet)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def status(self) -> list[dict[str, Any]]:
        """One row per service: pid, URL, running, healthy, event head, and each consumer's position and lag."""
        rows = []
        for name, service in self.services.items():
            row: dict[str, Any] = {
                "service": name,
                "pid": service.pid,
                "url": service.url,
                "running": self.is_running(name),
                "healthy": False,
                "head_position": None,
                "consumers": "",
                "log": relative_to_repo(service.log),
            }
            if row["running"]:
                try:
                    status = httpx.get(f"{service.url}/status", timeout=2.0).json()
                    row["healthy"] = status["status"] == "ok"
                    row["head_position"] = status["head_position"]
                    row["consumers"] = ", ".join(
                        f"{c['name'].split('<-')[1]}@{c['position']} lag {c['lag']}" + _connection_note(c)
                        for c in status["consumers"]
                    )
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
            rows.append(row)
        return rows


def _connection_note(consumer: dict[str, Any]) -> str:
    """What `labkit status` adds to a consumer that is not connected: still connecting, or its source is down."""
    if consumer["connected"]:
        return ""
    if consumer.get("last_error") is None:
        return " (connecting)"
    return " (broker down)" if consumer.get("transport") == "nats" else " (peer down)"


def _runs_service(process: psutil.Process, service: ServiceProcess) -> bool:
    """Whether `process` runs this lab service on its port: run.json is a file anyone may edit, so a pid and a start
    time in it are not enough to send a signal (they may name any process of the user's)."""
    command = process.cmdline()
    try:
        start = command.index("labkit.services")
    except ValueError:
        return False
    return command[start + 1 : start + 2] == [service.name] and "--port" in command and str(service.port) in command


def start_services(
    folder: Path | str | None = None, *, timeout: float = 30.0, transport: str = "http"
) -> ServiceRunner:
    """Start the services for a notebook: a fresh run folder, stopped at kernel exit (or if the kernel dies); with
    `transport="nats"` over a broker of the run's own."""
    if folder is None:
        folder = run_dir() / f"notebook-{os.getpid()}"
        _remove_finished_notebook_runs(keep=folder)
    folder = Path(folder)
    if (folder / RUN_FILE).exists():
        ServiceRunner.attach(folder).stop()
        for name in ("data", "logs", "nats"):
            shutil.rmtree(folder / name, ignore_errors=True)
        (folder / RUN_FILE).unlink()
    return ServiceRunner.up(folder, exit_with_parent=True, stop_at_exit=True, timeout=timeout, transport=transport)


def _remove_finished_notebook_runs(*, keep: Path) -> None:
    """Delete the run folders of earlier notebook kernels whose services no longer run (they pile up otherwise)."""
    for old in run_dir().glob("notebook-*"):
        if old == keep or not (old / RUN_FILE).exists():
            continue
        runner = ServiceRunner.attach(old)
        if not any(runner.is_running(name) for name in runner.services):
            runner.stop()  # a killed kernel's services exited with it; its broker or database server did not
            shutil.rmtree(old, ignore_errors=True)


@atexit.register
def _stop_all() -> None:
    """Stop every service this process started and still runs (a notebook kernel shutting down)."""
    for runner in list(_RUNNERS):
        try:
            runner.stop(timeout=5.0)
        except Exception:  # at exit, never let one runner keep the others running
            continue
