"""Where a run's services keep their databases when the run's back-end is PostgreSQL.

The server is the run's own (started from the pip-installed binaries in `<run folder>/postgres`, stopped with the
run) or the one named in $LABKIT_POSTGRES_URL (left running). Each run gets a database of its own on it, and in
that database each service a schema and a role of its own (`labkit.layouts.service_roles`): the Order service's
role cannot read the Customer service's tables. The history service is a read model and keeps its DuckDB file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from labkit.layouts.service_roles import service_database
from labkit.pgserver import URL_VARIABLE, PostgresServer
from labkit.services.errors import RunFolderError

BACKENDS = ("duckdb", "postgres")


@dataclass(frozen=True)
class RunDatabase:
    """A run's database on a PostgreSQL server: `server_folder` is the run's own server (None: the user's)."""

    database: str
    server_folder: str | None = None

    @classmethod
    def create(cls, folder: Path) -> RunDatabase:
        """Start the run's own server (or take $LABKIT_POSTGRES_URL's) and create the run's database once."""
        named = os.environ.get(URL_VARIABLE)
        if named:
            # One database per run folder on a shared server: two runs never see each other's schemas.
            run = cls("labkit_run_" + hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12])
        else:
            server = PostgresServer(folder / "postgres").up()
            run = cls("labkit", str(server.folder))
        try:
            run._create_database()
        except BaseException:  # interrupted or refused: the run's own server must not outlive it
            run.stop()
            raise
        return run

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RunDatabase:
        database = record.get("database") if isinstance(record, dict) else None
        server_folder = record.get("server_folder") if isinstance(record, dict) else None
        if not isinstance(database, str) or not isinstance(server_folder, str | None):
            raise RunFolderError(f"run.json's postgres entry {str(record)[:80]!r} is not a run database record")
        return cls(database, server_folder)

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    def admin_url(self) -> str:
        """An administrator's URL to the run's database."""
        if self.server_folder is not None:
            return PostgresServer(self.server_folder).url(self.database)
        named = os.environ.get(URL_VARIABLE)
        if not named:
            raise RunFolderError(
                f"this run keeps its databases on the server named in ${URL_VARIABLE}, which is not set now: set it "
                "again to the same server"
            )
        return make_conninfo(named, dbname=self.database)

    def service_url(self, service: str) -> str:
        """The URL the service connects with: its own role, its own schema (created once)."""
        return service_database(self.admin_url(), service)

    def stop(self) -> None:
        """Stop the run's own server (a user's server is left as it was)."""
        if self.server_folder is not None:
            PostgresServer(self.server_folder).down()

    def _create_database(self) -> None:
        admin = self.admin_url()
        params = conninfo_to_dict(admin)
        with psycopg.connect(make_conninfo(admin, dbname="postgres"), autocommit=True) as connection:
            found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [params["dbname"]]).fetchone()
            if not found:
                connection.execute(f'CREATE DATABASE "{params["dbname"]}"')
