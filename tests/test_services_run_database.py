"""A run's databases on PostgreSQL: the run's own server or the user's, a database per run, a role per service."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from labkit.cli import main
from labkit.events.postgres import PostgresEventStore
from labkit.layouts.service_roles import try_to_read
from labkit.pgserver import URL_VARIABLE, PostgresServer
from labkit.services.errors import RunFolderError
from labkit.services.run_database import RunDatabase


def database_names(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as admin:
        return {row[0] for row in admin.execute("SELECT datname FROM pg_database")}


def test_a_run_on_a_named_server_gets_a_database_of_its_own_and_leaves_the_server_running(
    postgres_url, tmp_path, monkeypatch
):
    monkeypatch.setenv(URL_VARIABLE, postgres_url)
    first, second = RunDatabase.create(tmp_path / "one"), RunDatabase.create(tmp_path / "two")
    assert first.server_folder is None and first.database != second.database
    assert {first.database, second.database} <= database_names(postgres_url)
    assert RunDatabase.create(tmp_path / "one") == first  # the same folder finds its database again
    first.stop()
    with psycopg.connect(postgres_url) as still_up:
        assert still_up.execute("SELECT 1").fetchone() == (1,)


def test_each_service_connects_as_its_own_role_and_cannot_read_another_services_tables(
    postgres_url, tmp_path, monkeypatch
):
    monkeypatch.setenv(URL_VARIABLE, postgres_url)
    run = RunDatabase.create(tmp_path)
    customer_url, order_url = run.service_url("customer"), run.service_url("order")
    assert "customer_service" in customer_url and "order_service" in order_url
    PostgresEventStore(customer_url, schema="customer").close()
    PostgresEventStore(order_url, schema="order").close()
    assert try_to_read(customer_url, "customer.events") == "ok"
    refused = try_to_read(order_url, "customer.events")
    assert refused.startswith("InsufficientPrivilege: permission denied for schema customer"), refused


def test_a_run_on_its_own_server_starts_it_in_the_run_folder_and_stops_it(monkeypatch):
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    folder = Path(tempfile.mkdtemp(prefix="labkit-run-"))  # under /tmp: as root the server runs as its own user
    folder.chmod(0o755)  # ... who must be able to reach the run folder's postgres/
    try:
        run = RunDatabase.create(folder)
        server = PostgresServer(folder / "postgres")
        assert run.server_folder == str(server.folder) and server.is_running()
        assert RunDatabase.from_record(run.to_record()) == run
        with psycopg.connect(run.admin_url()) as admin:
            assert admin.execute("SELECT current_database()").fetchone() == ("labkit",)
        run.stop()
        assert not server.is_running()
    finally:
        PostgresServer(folder / "postgres").down()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_run_on_a_named_server_refuses_to_go_on_once_the_variable_is_gone(monkeypatch):
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    with pytest.raises(RunFolderError, match=f"\\${URL_VARIABLE}, which is not set now"):
        RunDatabase("labkit_run_x").admin_url()


@pytest.mark.parametrize("record", [{}, {"server_folder": "/x"}, ["labkit"]])
def test_a_record_that_is_not_a_run_database_is_refused(record):
    with pytest.raises(RunFolderError, match="is not a run database record"):
        RunDatabase.from_record(record)


def test_up_with_an_unknown_backend_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["up", "--backend", "sqlite"])
    assert exit_.value.code == 2
    assert "invalid choice: 'sqlite'" in capsys.readouterr().err
