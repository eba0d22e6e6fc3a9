"""The functional decomposition of the lab's domain into services, read from the code, and the issues it raises.

`decomposition_frame()` lists, per service, the aggregate it owns, its commands, the events it publishes and its
tables, taken from the domain classes and the services themselves, so the table cannot drift from the code.
`ISSUES` are the issues a database per service leaves to solve, each with the notebook that addresses it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import pandas as pd

from labkit.catalog import entry
from labkit.domain import CUSTOMER_EVENTS, ORDER_EVENTS
from labkit.layouts.services import InProcessCustomerService, InProcessOrderService, InProcessService


def _commands(service: type[InProcessService]) -> list[str]:
    """The service's public command methods (what other parts of the system may ask it to do)."""
    queries = {"customers", "orders_over", "get", "count", "credit_reserved_for"}
    feed = {"read_all", "head_position", "export_events"}
    return [
        name
        for name, member in inspect.getmembers(service, inspect.isfunction)
        if not name.startswith("_") and name not in queries | feed and name in vars(service)
    ]


def decomposition_frame() -> pd.DataFrame:
    """One row per service: what it owns, what it does, what it publishes."""
    rows = []
    for service, events, database in (
        (InProcessCustomerService, CUSTOMER_EVENTS, "customers.duckdb"),
        (InProcessOrderService, ORDER_EVENTS, "orders.duckdb"),
    ):
        rows.append(
            {
                "service": f"{service.name} service",
                "owns aggregate": service.aggregate.aggregate_type,
                "commands": ", ".join(_commands(service)),
                "publishes events": ", ".join(e.event_type for e in events),
                "state table": service.table,
                "database (private)": database,
            }
        )
    return pd.DataFrame(rows).set_index("service")


@dataclass(frozen=True)
class Issue:
    """An issue that splitting the database raises, and where the lab addresses it."""

    issue: str
    why: str
    notebooks: tuple[int, ...]


ISSUES: tuple[Issue, ...] = (
    Issue(
        "Business transactions that span services",
        "placing an order must reserve credit in another database: no shared ACID transaction, and 2PC is not a "
        "viable choice, so the steps are a saga of local transactions with compensations",
        (7,),
    ),
    Issue(
        "Queries that span services",
        '"find recent, valuable customers" needs data from two databases: API composition or a CQRS view',
        (2, 6),
    ),
    Issue(
        "Publishing events reliably",
        "a service must change its data and publish the event atomically; writing both (a dual write) loses one "
        "on a crash, hence a transactional outbox or event sourcing",
        (3,),
    ),
    Issue(
        "Keeping state as events",
        "event sourcing makes the events the record: replay, audit log, temporal queries, snapshots at scale",
        (4, 5),
    ),
    Issue(
        "Eventual consistency",
        "read models and other services see a change later than its owner: the lag has to be measured and shown",
        (2, 6),
    ),
)


def issues_markdown(*, link_base: str = "") -> str:
    """The issues as a markdown table, each linked to the notebooks that address it."""
    lines = ["| issue | why it arises | addressed in |", "|---|---|---|"]
    for issue in ISSUES:
        links = ", ".join(
            f"[{entry(n).number:02d} {entry(n).title}]({link_base}{entry(n).filename})" for n in issue.notebooks
        )
        lines.append(f"| {issue.issue} | {issue.why} | {links} |")
    return "\n".join(lines)
