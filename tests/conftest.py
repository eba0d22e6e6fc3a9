"""Shared test set-up.

CI sets LABKIT_NO_SKIP=1: there a skipped test (no Docker engine, no helm, no Chromium) is a failure, because CI
installs all of them and a skip would hide a feature that was never checked.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator

import pytest

NO_SKIP = os.environ.get("LABKIT_NO_SKIP") == "1"

if os.environ.get("LABKIT_MUTATION") == "1":
    # Mutation testing (tests/mutation.py) forks a process per mutant from one that already ran the tests. tqdm's
    # default lock is a multiprocessing semaphore shared by all of them: a child killed at its time limit while
    # holding it left every later child that makes a progress bar (fold_all, bulk_load) waiting forever. Here tqdm
    # gets a lock of each process's own and no monitor thread (which could hold that lock at the moment of a fork).
    import threading

    import tqdm.std

    tqdm.std.tqdm.monitor_interval = 0
    tqdm.std.tqdm.set_lock(threading.RLock())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if NO_SKIP and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (LABKIT_NO_SKIP=1), which must run it: {reason}"


# The browser tests' JupyterLab, Chromium and page: one server and one browser for the whole session.
@pytest.fixture(scope="session")
def lab() -> Iterator:
    from labkit.labserver import LabServer

    # A test must never write into the repository's notebooks: autosave off, and no news prompt over the page.
    settings = {
        "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"},
        # Render every cell, not only those in view, so the test reads outputs as a learner scrolling would.
        "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    }
    with LabServer(settings=settings) as server:
        with urllib.request.urlopen(server.url("lab/api/settings/@jupyterlab/docmanager-extension:plugin")) as answer:
            assert json.load(answer)["settings"]["autosave"] is False
        yield server


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    from lab_page import CHROMIUM, CHROMIUM_ARGS

    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def lab_page(lab, browser) -> Iterator:
    from lab_page import LabPage

    context = browser.new_context(viewport={"width": 1400, "height": 950})
    yield LabPage(context.new_page(), lab.url)
    context.close()


@pytest.fixture(scope="session")
def helm():
    """The helm binary the lab uses (PATH, else the pinned one in .tools/bin), driven from Python."""
    from labkit.charts.helm import Helm
    from labkit.charts.tools import find_helm

    if find_helm() is None:
        pytest.skip("no helm on PATH or in .tools/bin: run `make tools`")
    return Helm()


@pytest.fixture(scope="session")
def docker_engine():
    """The Docker engine the SDK reaches (DOCKER_HOST or the default socket); the test skips, with why, without one."""
    from labkit.containers.engine import connect_or_reason

    engine, reason = connect_or_reason()
    if engine is None:
        pytest.skip(f"needs a Docker engine: {reason}")
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the session: the one named in $LABKIT_POSTGRES_URL, else one labkit starts from the
    pip-installed binaries into a temporary folder and stops (by its pid) when the session ends."""
    import shutil
    import tempfile

    from labkit.pgserver import URL_VARIABLE, PostgresServer

    named = os.environ.get(URL_VARIABLE)
    if named:
        yield named
        return
    # Under /tmp, not pytest's private temporary folder: as root the server runs as its own user, which must reach it.
    folder = tempfile.mkdtemp(prefix="labkit-pg-")
    server = PostgresServer(folder).up()
    try:
        yield server.url()
    finally:
        server.down()
        shutil.rmtree(folder, ignore_errors=True)


def _service_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    import service_apps

    if request.param == "duckdb":
        yield "duckdb"
        return
    url = request.getfixturevalue("postgres_url")
    service_apps.DATABASE_URL = url
    try:
        yield "postgres"
    finally:
        service_apps.drop_databases()
        service_apps.DATABASE_URL = None


@pytest.fixture(params=["duckdb", "postgres"])
def service_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a services test on each back-end: DuckDB files, or databases on the session's PostgreSQL server (dropped
    after the test)."""
    yield from _service_backend(request)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def module_service_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """`service_backend` for a module whose services live as long as the module (databases dropped at its end)."""
    yield from _service_backend(request)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def runner_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The back-end for a module's `ServiceRunner`s: on "postgres" each run gets a database of its own on the
    session's server (through $LABKIT_POSTGRES_URL, as a user's own server would be named)."""
    from labkit.pgserver import URL_VARIABLE

    if request.param == "duckdb":
        yield "duckdb"
        return
    url = request.getfixturevalue("postgres_url")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(URL_VARIABLE, url)
        yield "postgres"


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A NATS server with JetStream for the session: the one named in $LABKIT_NATS_URL, else one labkit starts from
    the pip-installed binary into a temporary folder and stops (by its pid) when the session ends, leaving none."""
    import shutil
    import tempfile

    from labkit.jetstream.server import URL_VARIABLE, NatsServer, servers_running_from

    named = os.environ.get(URL_VARIABLE)
    if named:
        yield named
        return
    folder = tempfile.mkdtemp(prefix="labkit-nats-")
    server = NatsServer(folder).up()
    try:
        yield server.url()
    finally:
        server.down()
        left = servers_running_from(folder)
        shutil.rmtree(folder, ignore_errors=True)
        assert not left, f"nats-server processes left running: {left}"


@pytest.fixture
def broker(nats_url: str) -> Iterator:
    """A connection to the session's broker (closed afterwards)."""
    from labkit.jetstream import JetStream

    with JetStream.connect(nats_url) as connection:
        yield connection


@pytest.fixture
def stream(broker) -> Iterator:
    """A stream of the test's own on the session's broker (subjects NAME.>, a 60 s duplicate window; deleted after)."""
    import uuid

    from labkit.jetstream import StreamSettings

    name = f"T{uuid.uuid4().hex[:10]}"
    settings = StreamSettings(name, subjects=(f"{name}.>",), duplicate_window=60.0)
    assert broker.ensure_stream(settings) is True
    yield settings
    broker.delete_stream(name)
