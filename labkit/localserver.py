"""Servers of the lab's own (PostgreSQL, NATS): real processes recorded in a run folder, found again and stopped by pid.

`labkit db up` and `labkit broker up` leave a server running; later commands find it through `server.json` in its
folder (pid, start time, port). A pid alone proves nothing once the process is gone (the OS hands pids out again),
so a recorded pid counts as our server only while the process has the recorded start time, the server's program
name and this folder on its command line; anything else is never signalled.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import psutil

from labkit.arguments import folder, port
from labkit.errors import LabkitError
from labkit.paths import relative_to_repo

HOST = "127.0.0.1"  # the lab's servers listen on loopback only


def same_start(process: psutil.Process, started: float, boot: float | None, *, tolerance: float) -> bool:
    """Whether `process` is the one recorded as created at `started` (psutil's wall-clock create time) when the
    machine's boot time read `boot`. psutil derives a create time from the boot time, which moves whenever the wall
    clock is stepped (seen here: 16 s), so the comparison is of times since boot, which no step moves. Without a
    recorded boot time (an older record) the wall-clock times are compared."""
    created = process.create_time()
    if boot is None:
        return abs(created - started) <= tolerance
    return abs((created - psutil.boot_time()) - (started - boot)) <= tolerance


@dataclass(frozen=True)
class ServerRecord:
    """What server.json says of a started server."""

    pid: int
    started: float  # the process's create_time, so a reused pid is never taken for the server
    port: int
    boot: float | None = None  # the machine's boot time as psutil read it then (see `same_start`)


class LocalServer(ABC):
    """A server whose files live in `folder`; subclasses start it (`up`), this class finds and stops it."""

    program: ClassVar[str]  # the server's process name ("postgres", "nats-server")
    title: ClassVar[str]  # how messages name it ("PostgreSQL")
    command: ClassVar[str]  # its `labkit` command ("db")
    url_variable: ClassVar[str]  # the environment variable naming a server the user runs instead
    error: ClassVar[type[LabkitError]]  # what this server's failures raise
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(self, folder: Path | str | None = None) -> None:
        self.folder = Path(folder or self.default_folder()).resolve()
        if self.folder.exists() and not self.folder.is_dir():
            raise self.error(f"{self.folder} is a file, not a folder: give --run-dir a folder")
        self.log = self.folder / "server.log"
        self.record_file = self.folder / "server.json"

    @classmethod
    @abstractmethod
    def default_folder(cls) -> Path:
        """Where `labkit CMD up` keeps this server (under the run folder)."""

    @abstractmethod
    def url(self) -> str:
        """How clients reach the running server."""

    @abstractmethod
    def up(self, *, port: int | None = None, timeout: float = 30.0) -> LocalServer:
        """Start the server (a no-op when it runs already)."""

    # ---- state --------------------------------------------------------------------------------------------------

    def record(self) -> ServerRecord | None:
        """The started server's record (None: never started here)."""
        try:
            data = json.loads(self.record_file.read_text())
            boot = data.get("boot")
            return ServerRecord(
                int(data["pid"]), float(data["started"]), int(data["port"]), None if boot is None else float(boot)
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise self.error(
                f"{self.record_file} is not a server record ({exc}); if a {self.program} process still runs from "
                f"{self.folder}, stop it by hand, then remove the file"
            ) from None

    def recorded_port(self) -> int:
        """The port of the server started here (an error saying how to start one if none was)."""
        record = self.record()
        if record is None:
            raise self.error(f"no server was started in {self.folder}: run `labkit {self.command} up` first")
        return record.port

    def save_record(self, pid: int, port: int) -> None:
        """Record a server just started (its pid, its start time as the OS reports it, its port)."""
        started, boot = psutil.Process(pid).create_time(), psutil.boot_time()
        record = {"pid": pid, "started": started, "port": port, "boot": boot}
        self.record_file.write_text(json.dumps(record, indent=2))

    def process(self) -> psutil.Process | None:
        """The running server process this folder started, if it still is that process."""
        record = self.record()
        if record is None:
            return None
        try:
            process = psutil.Process(record.pid)
            if (
                not same_start(process, record.started, record.boot, tolerance=1.0)
                or self.program not in process.name()
                or process.status() == psutil.STATUS_ZOMBIE
                or str(self.folder) not in " ".join(process.cmdline())
            ):
                return None
            return process
        except psutil.Error:
            return None

    def is_running(self) -> bool:
        """Whether the server this folder started is running."""
        return self.process() is not None

    def status(self) -> dict[str, Any]:
        """running, pid, port, url, folder."""
        record = self.record()
        running = self.is_running()
        return {
            "running": running,
            "pid": record.pid if record else None,
            "port": record.port if record else None,
            "url": self.url() if running else None,
            "folder": str(self.folder),
        }

    # ---- stop ---------------------------------------------------------------------------------------------------

    def down(self, *, timeout: float = 30.0) -> bool:
        """Stop the server this folder started (its stop signal, then wait; SIGKILL if it hangs); whether one ran."""
        process = self.process()
        if process is None:
            self.record_file.unlink(missing_ok=True)
            return False
        process.send_signal(self.stop_signal)
        try:
            process.wait(timeout)
        except psutil.TimeoutExpired:
            process.kill()
            process.wait(10)
        self.record_file.unlink(missing_ok=True)
        return True

    def port_to_use(self, port: int | None) -> int:
        """The port to start on: the one asked for (refused if it is no port or taken), else a free one."""
        if port is None:
            return free_port()
        if not 1 <= port <= 65535:
            raise self.error(f"port {port} is not a TCP port (1-65535)")
        if not port_is_free(port):
            raise self.error(f"port {port} is in use on {HOST}: choose another with --port, or leave it out")
        return port

    def describe(self) -> str:
        """One line for `labkit CMD up|status`: pid, address, URL."""
        status = self.status()
        return f"{self.title} running: pid {status['pid']}, {HOST}:{status['port']}, url {status['url']}"


def free_port() -> int:
    """A port nobody listens on right now on loopback (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on `port` on loopback now (nothing else is bound to it)."""
    with socket.socket() as probe:
        # As servers do (NATS, PostgreSQL): connections of a server that just died linger in TIME_WAIT on its port,
        # which blocks a plain bind for a minute but not a server restarting there.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


# ---- `labkit db|broker up | status | down` ----------------------------------------------------------------------


def register_commands(subparsers: Any, server_class: type[LocalServer], *, help_text: str, up_help: str) -> None:
    """Add `labkit CMD up | status | down` for one kind of server."""
    command = server_class.command
    parser = subparsers.add_parser(command, help=f"{help_text}: up | status | down")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, action_help in (
        ("up", up_help),
        ("status", "is it running, its pid, port and URL"),
        ("down", f"stop the server `labkit {command} up` started (by its pid)"),
    ):
        action = actions.add_parser(name, help=action_help)
        default = relative_to_repo(server_class.default_folder())
        # `up` creates the folder, so it must be one that can be; `status` and `down` only look at it.
        action.add_argument(
            "--run-dir", type=folder if name == "up" else Path, default=None, help=f"its folder (default: {default})"
        )
        if name == "up":
            action.add_argument("--port", type=port, default=None, help=f"TCP port on {HOST} (default: a free one)")
        action.set_defaults(func=lambda args, server_class=server_class: _run_command(server_class, args))


def _run_command(server_class: type[LocalServer], args: Any) -> int:
    command = server_class.command
    named = os.environ.get(server_class.url_variable)
    if named:
        where = named.split("@")[-1]  # no password in the output
        print(f"${server_class.url_variable} names the server to use ({where}): labkit starts and stops none")
        return 0
    server = server_class(args.run_dir)
    if args.action == "up":
        server.up(port=args.port)
        print(server.describe())
        print(f"`labkit {command} down` stops it (files in {server.folder})")
        return 0
    if args.action == "status":
        if not server.is_running():
            print(f"no server running from {server.folder}: `labkit {command} up` starts one")
            return 1
        print(server.describe())
        return 0
    stopped = server.down()
    print("stopped the server" if stopped else "no server was running")
    return 0
