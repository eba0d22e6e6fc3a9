"""Notebook 06's exercise: a projection that answers a new question, revenue of shipped orders per customer.

The learner writes a projection class (`name`, `tables`, `create(connection)`, `apply(events, connection)`) that
keeps `shipped_revenue(customer_id, orders_shipped, revenue)`. OrderShipped carries no customer and no total, so
the projection must remember them from OrderCreated, in its own tables. `check_projection` runs it in a real
`ProjectionRunner` (a pull subscription whose checkpoint commits with the projection's writes, in a DuckDB file)
over a real event store, in one batch, in small batches, and across a restart between an order's creation and its
shipping, and compares the read model with the orders the store says are shipped.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labkit.domain import Order
from labkit.events import EventStore, Repository, replay_all
from labkit.lab.exercises import Case, Failed, Verdict, check, expect, refuse
from labkit.patterns import ProjectionRunner

Totals = dict[str, tuple[int, int]]  # customer_id -> (orders shipped, revenue)
TABLE = "shipped_revenue"

# (order, customer, total, what happens to it before the first catch-up, and after it)
ORDERS = (
    ("order-1", "customer-1", 120, ("approve", "ship"), ()),
    ("order-2", "customer-2", 250, ("approve", "ship"), ()),
    ("order-3", "customer-1", 75, ("approve",), ("ship",)),  # shipped after the restart
    ("order-4", "customer-3", 400, ("approve", "cancel"), ()),  # never ships: customer 3 has no revenue
    ("order-5", "customer-2", 30, ("reject",), ()),
    ("order-6", "customer-1", 990, (), ("approve", "ship")),
)


def _act(order: Order, step: str) -> None:
    if step in ("cancel", "reject"):
        getattr(order, step)("exercise")
    else:
        getattr(order, step)()


def order_history(store: EventStore, phase: int) -> None:
    """Write phase 0 (placed, some shipped) or phase 1 (the rest shipped) of the orders into `store`."""
    repository = Repository(store)
    for order_id, customer_id, total, before, after in ORDERS:
        order = Order.place(order_id, customer_id, total) if phase == 0 else repository.load(Order, order_id)
        for step in before if phase == 0 else after:
            _act(order, step)
        if order.pending:
            repository.save(order)


def shipped_totals(store: EventStore) -> Totals:
    """What the read model must hold: per customer, the shipped orders and their totals (from the event store)."""
    rows = (
        replay_all(store, Order)
        .filter("state = 'SHIPPED'")
        .aggregate("customer_id, count(*) AS orders, sum(order_total) AS revenue")
        .fetchall()
    )
    return {customer: (int(orders), int(revenue)) for customer, orders, revenue in rows}


def _read_model(runner: ProjectionRunner) -> Totals:
    try:
        rows = runner.query(f"SELECT customer_id, orders_shipped, revenue FROM {TABLE}").itertuples(index=False)
    except Exception as error:  # a missing table or column: the learner's create() is named, not a traceback
        raise Failed(
            f"the read model {TABLE}(customer_id, orders_shipped, revenue) cannot be read: "
            f"{type(error).__name__}: {str(error).splitlines()[0]}"
        ) from None
    return {str(customer): (int(orders), int(revenue)) for customer, orders, revenue in rows if orders}


def _expect(counted: Totals, truth: Totals, hint: str) -> None:
    for customer in sorted(set(truth) | set(counted)):
        want, got = truth.get(customer, (0, 0)), counted.get(customer, (0, 0))
        expect(
            got == want,
            f"{customer} has {want[0]} shipped orders worth {want[1]}; your read model says {got[0]} worth {got[1]}: "
            f"{hint}",
        )


def _case(name: str, batch_size: int, restart: bool, hint: str) -> Case:
    """Catch up in batches of `batch_size` (small ones: after each phase); with `restart`, a new runner on the same
    read database catches up phase 1."""

    def run(answer: Any) -> None:
        fresh = (lambda: answer()) if isinstance(answer, type) else (lambda: copy.deepcopy(answer))
        projection = fresh()
        expect(TABLE in tuple(projection.tables), f"list the table readers query in `tables`: ({TABLE!r},)")
        with tempfile.TemporaryDirectory(prefix="labkit-exercise-") as folder, EventStore(":memory:") as store:
            read = Path(folder) / "read.duckdb"
            runner = ProjectionRunner(store, [projection], read, batch_size=batch_size)
            try:
                order_history(store, 0)
                if batch_size < len(ORDERS):  # small batches catch up twice: after phase 0, then after phase 1
                    runner.catch_up()
                if restart:  # the process stops between order 3's approval and its shipping; a new one carries on
                    runner.close()
                    projection = fresh()
                    runner = ProjectionRunner(store, [projection], read, batch_size=batch_size)
                order_history(store, 1)
                runner.catch_up()
                expect(
                    runner.position(projection.name) == store.head_position(),
                    "the checkpoint should reach the head of the event store after catch_up()",
                )
                _expect(_read_model(runner), shipped_totals(store), hint)
            finally:
                runner.close()

    return Case(name, run)


PROJECTION_CASES = (
    _case(
        "given orders placed, shipped, cancelled and rejected, when caught up in one batch, then revenue of shipped ones",
        1000,
        False,
        "count an order when its OrderShipped arrives, with the total and customer its OrderCreated gave",
    ),
    _case(
        "given batches of 2 events, when caught up, more orders ship, caught up again, then the same read model",
        2,
        False,
        "an order's OrderCreated and OrderShipped come in different batches: keep each order's customer and total in "
        "a table of your own (written with `connection`), not in a variable of one apply() call",
    ),
    _case(
        "given a restart between an order's creation and its shipping, when caught up, then the same read model",
        2,
        True,
        "a new process knows only what the read database holds: keep the orders' customers and totals there, not in "
        "the projection object",
    ),
)


def check_projection(answer: type | Callable[..., Any] | object) -> Verdict:
    """Judge a projection class (or instance) with `name`, `tables`, `create`, `apply`: passed, or the first case
    it fails with a hint."""
    missing = [part for part in ("name", "tables", "create", "apply") if not hasattr(answer, part)]
    if missing:
        return refuse(f"give the projection class; it lacks {', '.join(missing)} (got {answer!r})")
    return check(answer, PROJECTION_CASES)
