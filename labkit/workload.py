"""The workload generator: seeded customers and orders with realistic lives, as events, Parquet and state tables.

Customers sign up over two years, each with a credit limit; orders arrive after their customer exists, each is
approved or rejected by the customer's remaining credit (decided exactly as `Customer.reserve_credit` does, in
time order), then shipped or, sometimes, cancelled (releasing its credit). Orders placed near the end of the
period are still APPROVED (not shipped yet). Totals are heavy-tailed, so "customers created after D with a SHIPPED
order of total > X" has a meaningful answer at every size.

`generate(out_dir, size="S", seed=7)` writes into `out_dir`:
  events.duckdb      the event store (both aggregate types), positions in time order (indexed up to 5M events)
  events.parquet     the same events (columns as the event table)
  customers.parquet  current state per customer (vectorized replay): customer_id, name, credit_limit, created_at, ...
  orders.parquet     current state per order: order_id, customer_id, order_total, state, created_at, updated_at
  manifest.json      seed, size, counts; a second call with the same seed and size reuses the files
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm.auto import tqdm

from labkit.arguments import folder, whole
from labkit.domain import Customer, Order
from labkit.errors import UsageError
from labkit.events import EventStore, replay_all
from labkit.events.bulk import load_view
from labkit.paths import data_dir, relative_to_repo

GENERATOR_VERSION = 2
# Above this many events the store is written without indexes (see EventStore.create_indexes): building them
# for size L (45M events) takes many GB of memory, and what the lab does with L is vectorized replay and queries.
INDEXED_UP_TO = 5_000_000
SIZES: dict[str, tuple[int, int]] = {"S": (1_000, 10_000), "M": (100_000, 1_000_000), "L": (1_000_000, 10_000_000)}
PERIOD_START = datetime(2024, 1, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 1, 1, tzinfo=UTC)
CANCEL_RATE = 0.05
MAX_SEED = 2**63 - 1

FIRST_NAMES = [
    "Ada",
    "Alan",
    "Barbara",
    "Claude",
    "Dennis",
    "Edsger",
    "Frances",
    "Grace",
    "Guido",
    "Hedy",
    "Ivan",
    "Jean",
    "Ken",
    "Katherine",
    "Leslie",
    "Linus",
    "Margaret",
    "Niklaus",
    "Radia",
    "Ross",
    "Shafi",
    "Sophie",
    "Tim",
    "Tony",
    "Whitfield",
    "Yukihiro",
    "Anita",
    "Bjarne",
    "Donald",
    "John",
]
LAST_NAMES = [
    "Lovelace",
    "Turing",
    "Liskov",
    "Shannon",
    "Ritchie",
    "Dijkstra",
    "Allen",
    "Hopper",
    "Rossum",
    "Lamarr",
    "Sutherland",
    "Sammet",
    "Thompson",
    "Johnson",
    "Lamport",
    "Torvalds",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Anderson",
    "Goldwasser",
    "Wilson",
    "Berners-Lee",
    "Hoare",
    "Diffie",
    "Matsumoto",
    "Borg",
    "Stroustrup",
    "Knuth",
    "McCarthy",
]

# Event type codes of the generated arrays, and their names in the event table.
CUSTOMER_CREATED, CREDIT_RESERVED, CREDIT_EXCEEDED, CREDIT_RELEASED = 0, 1, 2, 3
ORDER_CREATED, ORDER_APPROVED, ORDER_REJECTED, ORDER_SHIPPED, ORDER_CANCELLED = 4, 5, 6, 7, 8
EVENT_NAMES = (
    "CustomerCreated",
    "CreditReserved",
    "CreditLimitExceeded",
    "CreditReleased",
    "OrderCreated",
    "OrderApproved",
    "OrderRejected",
    "OrderShipped",
    "OrderCancelled",
)

# One row per event, typed columns only; JSON is built in DuckDB, vectorized.
EVENTS_VIEW_SQL = """
CREATE OR REPLACE TEMP VIEW bulk_input AS
SELECT rn,
       CASE WHEN code < 4 THEN 'customer-' || customer ELSE 'order-' || "order" END AS aggregate_id,
       CASE WHEN code < 4 THEN 'Customer' ELSE 'Order' END AS aggregate_type,
       version,
       md5('{seed}:' || rn)::UUID::VARCHAR AS event_id,
       {names}[code + 1] AS event_type,
       CASE code
         WHEN 0 THEN json_object('name', names[customer], 'credit_limit', amount)
         WHEN 1 THEN json_object('order_id', 'order-' || "order", 'amount', amount)
         WHEN 2 THEN json_object('order_id', 'order-' || "order", 'amount', amount, 'available_credit', available)
         WHEN 3 THEN json_object('order_id', 'order-' || "order", 'amount', amount)
         WHEN 4 THEN json_object('customer_id', 'customer-' || customer, 'order_total', amount)
         WHEN 6 THEN json_object('reason', 'credit limit exceeded: ' || amount || ' asked, ' || available || ' available')
         WHEN 8 THEN json_object('customer_id', 'customer-' || customer, 'reason', 'cancelled by the customer')
         ELSE '{{}}'::JSON
       END::VARCHAR AS event_data,
       CASE WHEN cause < 0 THEN json_object('correlation_id', md5('{seed}:' || correlation)::UUID::VARCHAR)
            ELSE json_object('correlation_id', md5('{seed}:' || correlation)::UUID::VARCHAR,
                             'causation_id', md5('{seed}:' || cause)::UUID::VARCHAR)
       END::VARCHAR AS metadata,
       make_timestamp(micros) AS recorded_at
FROM generated_events, (SELECT list(name ORDER BY i) AS names FROM generated_names)
"""


@dataclass(frozen=True)
class Workload:
    """What `generate` wrote, and where."""

    size: str
    seed: int
    customers: int
    orders: int
    events: int
    out_dir: str
    seconds: float

    @property
    def store_path(self) -> Path:
        return Path(self.out_dir) / "events.duckdb"

    def path(self, name: str) -> Path:
        """One of the generated files: events.parquet, customers.parquet, orders.parquet."""
        return Path(self.out_dir) / name


def size_counts(size: str) -> tuple[int, int]:
    """(customers, orders) of a size name."""
    try:
        return SIZES[size.upper()]
    except KeyError:
        raise UsageError(f"unknown size {size!r}: use one of {', '.join(SIZES)}") from None


def default_dir(size: str, seed: int) -> Path:
    """Where a size is generated by default: data/<size>-seed<seed>/ (git-ignored)."""
    return data_dir() / f"{size.upper()}-seed{seed}"


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _decide_credit(
    customer_of: np.ndarray,
    totals: np.ndarray,
    limits: np.ndarray,
    reserve_at: np.ndarray,
    release_at: np.ndarray,
    wants_cancel: np.ndarray,
    bar: tqdm,
) -> tuple[np.ndarray, np.ndarray]:
    """Approve or reject every order in time order per customer, as Customer.reserve_credit would.

    Returns (approved, available credit when decided). Cancellations of approved orders give credit back at
    their release time, so the walk merges reservations and releases of each customer in time order.
    """
    n = len(totals)
    cancel_orders = np.flatnonzero(wants_cancel)
    kinds = np.concatenate([np.zeros(n, np.int8), np.ones(len(cancel_orders), np.int8)])
    orders = np.concatenate([np.arange(n), cancel_orders])
    times = np.concatenate([reserve_at, release_at[cancel_orders]])
    customers = customer_of[orders]
    walk = np.lexsort((kinds, times, customers))
    approved = [False] * n
    available = [0] * n
    totals_list, limits_list = totals.tolist(), limits.tolist()
    current, reserved, limit = -1, 0, 0
    step = max(1, len(walk) // 20)
    for i, (customer, kind, order) in enumerate(
        zip(customers[walk].tolist(), kinds[walk].tolist(), orders[walk].tolist(), strict=True)
    ):
        if customer != current:
            current, reserved, limit = customer, 0, limits_list[customer]
        if kind == 0:
            total = totals_list[order]
            available[order] = limit - reserved
            if reserved + total <= limit:
                approved[order] = True
                reserved += total
        elif approved[order]:
            reserved -= totals_list[order]
        if i % step == step - 1:
            bar.update(step)
    bar.update(len(walk) % step)
    return np.array(approved, dtype=bool), np.array(available, dtype=np.int64)


def generated_arrays(customers: int, orders: int, seed: int, *, progress: bool = False) -> tuple[pa.Table, list[str]]:
    """Every event as typed columns (sorted by time, `rn` = position - 1) and the customer names."""
    rng = np.random.default_rng(seed)
    start, end = _micros(PERIOD_START), _micros(PERIOD_END)
    span = end - start
    second, hour, day = 1_000_000, 3_600_000_000, 86_400_000_000
    # Customers: sign-ups spread over the first 90% of the period, ids in sign-up order.
    created = start + np.sort(rng.integers(0, int(span * 0.9), customers))
    spend = rng.lognormal(0.0, 1.6, customers)  # how big a buyer each customer is: heavy-tailed
    popularity = rng.lognormal(0.0, 0.8, customers)
    names = [f"{FIRST_NAMES[a]} {LAST_NAMES[b]}" for a, b in rng.integers(0, 30, (customers, 2)).tolist()]
    # Orders: a customer by popularity, a time after the customer signed up, a total scaled by the customer's spend.
    customer_of = rng.choice(customers, size=orders, p=popularity / popularity.sum())
    placed = created[customer_of] + (rng.random(orders) * (end - created[customer_of] - 60 * second)).astype(np.int64)
    by_time = np.argsort(placed, kind="stable")
    customer_of, placed = customer_of[by_time], placed[by_time]  # order ids in time order
    totals = np.maximum(1, np.rint(spend[customer_of] * rng.lognormal(np.log(300), 1.1, orders))).astype(np.int64)
    expected_orders = orders * popularity / popularity.sum() * (end - created) / span
    limits = (np.ceil(expected_orders * spend * 1400 * rng.lognormal(0.0, 0.5, customers) / 100) * 100).astype(np.int64)
    reserve_at = placed + rng.integers(200_000, 2 * second, orders)
    decided_at = reserve_at + rng.integers(100_000, second, orders)
    wants_cancel = rng.random(orders) < CANCEL_RATE
    cancel_at = decided_at + rng.integers(hour, 48 * hour, orders)
    release_at = cancel_at + rng.integers(200_000, 2 * second, orders)
    ship_at = decided_at + rng.integers(4 * hour, 5 * day, orders)
    wants_cancel &= release_at < end
    with tqdm(
        total=orders + int(wants_cancel.sum()), disable=not progress, desc="credit decisions", unit="order"
    ) as bar:
        approved, available = _decide_credit(customer_of, totals, limits, reserve_at, release_at, wants_cancel, bar)
    cancelled = approved & wants_cancel
    shipped = approved & ~cancelled & (ship_at < end)

    order_ids = np.arange(orders)
    customer_ids = np.arange(customers)
    rejected = ~approved
    parts = [  # code, customer index, order index, micros, amount, available, order version
        (CUSTOMER_CREATED, customer_ids, np.full(customers, -1), created, limits, 0, 0),
        (ORDER_CREATED, customer_of, order_ids, placed, totals, 0, 1),
        (CREDIT_RESERVED, customer_of[approved], order_ids[approved], reserve_at[approved], totals[approved], 0, 0),
        (CREDIT_EXCEEDED, customer_of[rejected], order_ids[rejected], reserve_at[rejected], totals[rejected], 0, 0),
        (ORDER_APPROVED, customer_of[approved], order_ids[approved], decided_at[approved], 0, 0, 2),
        (ORDER_REJECTED, customer_of[rejected], order_ids[rejected], decided_at[rejected], totals[rejected], 0, 2),
        (ORDER_SHIPPED, customer_of[shipped], order_ids[shipped], ship_at[shipped], 0, 0, 3),
        (ORDER_CANCELLED, customer_of[cancelled], order_ids[cancelled], cancel_at[cancelled], 0, 0, 3),
        (CREDIT_RELEASED, customer_of[cancelled], order_ids[cancelled], release_at[cancelled], totals[cancelled], 0, 0),
    ]
    code = np.concatenate([np.full(len(p[1]), p[0], np.int8) for p in parts])
    customer = np.concatenate([p[1] for p in parts])
    order = np.concatenate([np.broadcast_to(p[2], len(p[1])) for p in parts]).astype(np.int64)
    micros = np.concatenate([p[3] for p in parts])
    amount = np.concatenate([np.broadcast_to(p[4], len(p[1])) for p in parts]).astype(np.int64)
    available_all = np.zeros(len(code), np.int64)
    exceeded = code == CREDIT_EXCEEDED
    available_all[exceeded] = available[order[exceeded]]
    rejected_rows = code == ORDER_REJECTED
    available_all[rejected_rows] = available[order[rejected_rows]]
    order_version = np.concatenate([np.full(len(p[1]), p[6], np.int32) for p in parts])

    # Positions follow time; ties keep the causal order of `parts` (a stable sort).
    sort = np.argsort(micros, kind="stable")
    rank = np.empty_like(sort)
    rank[sort] = np.arange(len(sort))
    # Customer versions: rank of each event in its customer's history.
    is_customer = code < ORDER_CREATED
    version = order_version.copy()
    rows = np.flatnonzero(is_customer)
    by_customer = rows[np.lexsort((rank[rows], customer[rows]))]
    starts = np.r_[0, np.flatnonzero(np.diff(customer[by_customer])) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(by_customer)]))
    version[by_customer] = (np.arange(len(by_customer)) - run_start + 1).astype(np.int32)

    # Correlation: the order's OrderCreated (or the customer's creation); causation: the event that led to this one.
    offsets = np.cumsum([0] + [len(p[1]) for p in parts])
    created_row_of_order = np.empty(orders, np.int64)
    created_row_of_order[order_ids] = offsets[1] + order_ids
    correlation = np.where(code == CUSTOMER_CREATED, np.arange(len(code)), created_row_of_order[np.maximum(order, 0)])
    credit_row_of_order = np.empty(orders, np.int64)
    credit_row_of_order[order_ids[approved]] = offsets[2] + np.arange(int(approved.sum()))
    credit_row_of_order[order_ids[rejected]] = offsets[3] + np.arange(int(rejected.sum()))
    cancel_row_of_order = np.full(orders, -1, np.int64)
    cancel_row_of_order[order_ids[cancelled]] = offsets[7] + np.arange(int(cancelled.sum()))
    cause = np.full(len(code), -1, np.int64)
    credit_rows = (code == CREDIT_RESERVED) | (code == CREDIT_EXCEEDED)
    cause[credit_rows] = created_row_of_order[order[credit_rows]]
    decision_rows = (code == ORDER_APPROVED) | rejected_rows
    cause[decision_rows] = credit_row_of_order[order[decision_rows]]
    released = code == CREDIT_RELEASED
    cause[released] = cancel_row_of_order[order[released]]

    table = pa.table(
        {
            "rn": np.arange(len(code), dtype=np.int64),
            "code": code[sort],
            "customer": customer[sort] + 1,
            "order": order[sort] + 1,
            "version": version[sort],
            "amount": amount[sort],
            "available": available_all[sort],
            "micros": micros[sort],
            "correlation": rank[correlation][sort],
            "cause": np.where(cause >= 0, rank[np.maximum(cause, 0)], -1)[sort],
        }
    )
    return table, names


def generate(
    out_dir: Path | str | None = None,
    *,
    size: str = "S",
    seed: int = 7,
    customers: int | None = None,
    orders: int | None = None,
    force: bool = False,
    progress: bool = True,
) -> Workload:
    """Generate (or reuse) a workload: `size` S, M or L, or explicit `customers` and `orders` counts."""
    size = size.upper()
    default_customers, default_orders = size_counts(size)
    customers = default_customers if customers is None else customers
    orders = default_orders if orders is None else orders
    if customers < 1 or orders < 0:
        raise UsageError(f"need at least 1 customer and 0 or more orders, got {customers} and {orders}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"seed {seed!r} is not a whole number from 0 to {MAX_SEED}")
    out = Path(out_dir) if out_dir is not None else default_dir(size, seed)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder: give another --out")
    wanted = {"generator": GENERATOR_VERSION, "size": size, "seed": seed, "customers": customers, "orders": orders}
    out.parent.mkdir(parents=True, exist_ok=True)
    # Several notebooks and benchmarks may ask for the same workload at once: one generates, the others wait for
    # it and reuse it. The files are written in a private folder and moved into place complete.
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = _reusable(out, wanted)
        if existing is not None and not force:
            return existing
        started = time.perf_counter()
        partial = out.parent / f".{out.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        try:
            events = _write(partial, customers, orders, seed, progress=progress)
            workload = Workload(size, seed, customers, orders, events, str(out), time.perf_counter() - started)
            (partial / "manifest.json").write_text(json.dumps({**wanted, **asdict(workload)}, indent=2) + "\n")
            shutil.rmtree(out, ignore_errors=True)
            partial.rename(out)
        finally:
            # Interrupted or failed (Ctrl-C, SIGTERM, a full disk): nothing half-written stays behind.
            shutil.rmtree(partial, ignore_errors=True)
    return workload


def _reusable(out: Path, wanted: dict[str, object]) -> Workload | None:
    """The workload already in `out` if it was generated with the same parameters."""
    manifest_path = out / "manifest.json"
    if not manifest_path.exists() or not (out / "events.duckdb").exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        if {k: manifest.get(k) for k in wanted} != wanted:
            return None
        return Workload(**{k: manifest[k] for k in Workload.__dataclass_fields__})
    except (ValueError, KeyError, TypeError, AttributeError):  # a damaged manifest: generate again
        return None


def _write(out: Path, customers: int, orders: int, seed: int, *, progress: bool) -> int:
    """Generate into `out`: the event store, events.parquet, customers.parquet, orders.parquet; the event count."""
    table, names = generated_arrays(customers, orders, seed, progress=progress)
    with EventStore(out / "events.duckdb") as store, tqdm(total=4, disable=not progress, desc="write") as bar:
        connection = store.connection
        connection.register("generated_events", table)
        connection.register("generated_names", pa.table({"i": np.arange(len(names)), "name": names}))
        connection.execute(
            EVENTS_VIEW_SQL.format(seed=seed, names="[" + ", ".join(f"'{n}'" for n in EVENT_NAMES) + "]")
        )
        bar.set_postfix_str("event store")
        # The generator's own output is checked by its tests; at M and L the row checks would double the time.
        load_view(store, validate=table.num_rows <= 200_000, indexes=table.num_rows <= INDEXED_UP_TO)
        connection.execute("DROP VIEW bulk_input")
        connection.unregister("generated_events")
        connection.unregister("generated_names")
        bar.update(1)
        bar.set_postfix_str("events.parquet")
        connection.execute(
            f"COPY (SELECT * FROM events ORDER BY position) TO '{out / 'events.parquet'}' (FORMAT parquet)"
        )
        bar.update(1)
        bar.set_postfix_str("customers.parquet")
        replay_all(store, Customer).project(
            "aggregate_id AS customer_id, name, credit_limit, reserved_credit, created_at, updated_at, version"
        ).order("created_at, customer_id").write_parquet(str(out / "customers.parquet"))
        bar.update(1)
        bar.set_postfix_str("orders.parquet")
        replay_all(store, Order).project(
            "aggregate_id AS order_id, customer_id, order_total, state, created_at, updated_at, version"
        ).order("created_at, order_id").write_parquet(str(out / "orders.parquet"))
        bar.update(1)
    return table.num_rows


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="generate seeded customers and orders (event store + Parquet)")
    parser.add_argument("--size", default="S", choices=sorted(SIZES), help="S: 1k/10k, M: 100k/1M, L: 1M/10M")
    parser.add_argument("--seed", type=whole(minimum=0, maximum=MAX_SEED), default=7)
    parser.add_argument("--out", type=folder, default=None, help="folder (default: data/<size>-seed<seed>)")
    parser.add_argument("--force", action="store_true", help="regenerate even if the folder holds this workload")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    workload = generate(args.out, size=args.size, seed=args.seed, force=args.force)
    print(
        f"{workload.size}: {workload.customers} customers, {workload.orders} orders, {workload.events} events "
        f"in {relative_to_repo(workload.out_dir)} ({workload.seconds:.1f} s)"
    )
    return 0
