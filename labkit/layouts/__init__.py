"""Monolith, shared database and database per service: the "recent valuable customers" query four ways, measured.

Services (`labkit.layouts.services`): `InProcessCustomerService` and `InProcessOrderService`, event-sourced, each with a state table.
    Commands (`register`, `reserve_credit`, `place`, `approve`, `ship`, ...) append events and update the state row
    in one local transaction. Queries return a `Response` (Arrow IPC bytes: `.rows`, `.nbytes`, `.table()`):
    `InProcessOrderService.orders_over(threshold)`, `InProcessCustomerService.customers(ids, created_after=)`. Each service is an
    event feed too (`read_all`, `head_position`, `export_events`), which is what the customer_orders_view follows.
    A service's DuckDB file is opened with a private configuration: no other connection in the process and no
    other process can open it while the service runs (DuckDB refuses both).

Layouts (`labkit.layouts.layout`): `build_layouts(workload)` -> `LayoutFiles` (shared.duckdb, customers.duckdb,
    orders.duckdb, view.duckdb under `<workload>/layouts/`, reused while the workload is the same);
    `open_shared(files)` -> `SharedLayout` (both services on one database; `.sql()` joins anything);
    `open_per_service(files)` -> `PerServiceLayout` (a database per service, plus `.view`, a
    `labkit.views.CustomerOrdersView` subscribed to both services); `open_layouts(files)`: both, as a context.

The query four ways (`labkit.layouts.queries`), each -> `Answer` (rows in `labkit.views.ANSWER_SCHEMA`, seconds,
    calls, rows and bytes moved between services, how long services were offline): `shared_join`,
    `api_composition`, `cqrs_view`, `attach_join` (the anti-pattern: it takes both files from their services);
    `all_methods(...)`, `check_agreement(answers)` (MethodsDisagreeError names the differing rows).
    Bad parameters raise `labkit.views.QueryParameterError` naming `threshold` or `created_after`.

Measurements (`labkit.lab.databases.measure`): `measure_latency(...)` -> [Latency] (median, p95, traffic);
    `measure_staleness(..., rate=, seconds=)` -> Staleness (rows and ms each answer was behind while orders ship).
Monolith (`labkit.layouts.monolith`): `Monolith(path).place_order(..., fail_after=)` (one ACID transaction) next
    to `place_order_across_services(layout, ...)` (three commits in two databases) and `one_transaction_across`
    (DuckDB's refusal to write two databases in one transaction).
Notebook pieces: `labkit.lab.databases.plots` (figures), `labkit.lab.databases.widgets.methods_widget` (over
    `compare_methods`). Benchmark: `labkit bench query` (`labkit.lab.databases.bench`).
"""

from labkit.layouts.errors import (
    LayoutError,
    MethodsDisagreeError,
    SecondTransactionFailed,
    ServiceOfflineError,
    UnknownEntityError,
)
from labkit.layouts.layout import (
    LayoutFiles,
    PerServiceLayout,
    SharedLayout,
    build_layouts,
    open_layouts,
    open_per_service,
    open_shared,
)
from labkit.layouts.services import InProcessCustomerService, InProcessOrderService

__all__ = [
    "InProcessCustomerService",
    "InProcessOrderService",
    "LayoutError",
    "LayoutFiles",
    "MethodsDisagreeError",
    "PerServiceLayout",
    "SecondTransactionFailed",
    "ServiceOfflineError",
    "SharedLayout",
    "UnknownEntityError",
    "build_layouts",
    "open_layouts",
    "open_per_service",
    "open_shared",
]
