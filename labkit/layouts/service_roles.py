"""Database per service, enforced by the database: on PostgreSQL each service gets a schema and a role of its own.

The role owns its schema and nothing else; PUBLIC gets nothing on it. So the Order service, connected as
`order_service`, reads and writes `"order".*` and gets a permission error the moment it touches `customer.*`: the
boundary is the server's, not a convention. The shared-database layout, for contrast, is every service connected
as one role that sees every table. (Passwords are not the point here: the lab's server trusts loopback.)
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from labkit.layouts.errors import LayoutError

SERVICE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


def role_of(service: str) -> str:
    """The role a service connects as."""
    return f"{service}_service"


def service_database(admin_url: str, service: str) -> str:
    """Create (once) the schema and role of `service` with an administrator's connection; the service's own URL.

    >>> role_of("order")
    'order_service'
    """
    if not isinstance(service, str) or not SERVICE.match(service):
        raise LayoutError(
            f"service name {service!r}: use lower-case letters, digits and _ (it names a schema and a role)"
        )
    role = role_of(service)
    with psycopg.connect(admin_url, autocommit=True) as admin, admin.transaction():
        admin.execute("SELECT pg_advisory_xact_lock(hashtext('labkit:roles'))")  # one creator at a time
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                sql.Identifier(service), sql.Identifier(role)
            )
        )
        admin.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(service)))
        # The service creates nothing outside its schema.
        admin.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(sql.Identifier(role)))
    return url_as(admin_url, role)


def url_as(url: str, role: str) -> str:
    """The same server and database, connecting as `role`."""
    params = conninfo_to_dict(url)
    params["user"] = role
    params.pop("password", None)
    return make_conninfo(**params)


def try_to_read(url: str, table: str) -> str:
    """Read one row of `table` (schema.table) as the URL's role: "ok" or the server's own refusal, in one line."""
    schema, _, name = table.partition(".")
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("SELECT * FROM {}.{} LIMIT 1").format(sql.Identifier(schema), sql.Identifier(name))
            )
    except psycopg.errors.InsufficientPrivilege as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
    return "ok"
