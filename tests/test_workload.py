"""The workload generator: deterministic, realistic, consistent with the domain's own replay."""

from __future__ import annotations

import duckdb
import pytest

from labkit.cli import main
from labkit.domain import ORDER_STATES, Customer, Order
from labkit.errors import UsageError
from labkit.events import EventStore, fold_all
from labkit.workload import PERIOD_END, PERIOD_START, generate, size_counts


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("small"), customers=80, orders=1500, seed=3, progress=False)


def test_same_seed_same_events_other_seed_other_events(small, tmp_path):
    again = generate(tmp_path / "again", customers=80, orders=1500, seed=3, progress=False)
    other = generate(tmp_path / "other", customers=80, orders=1500, seed=4, progress=False)
    read = "SELECT * EXCLUDE (event_data, metadata), event_data::VARCHAR, metadata::VARCHAR FROM '{}' ORDER BY position"
    con = duckdb.connect()
    first = con.execute(read.format(small.path("events.parquet"))).fetchall()
    assert first == con.execute(read.format(again.path("events.parquet"))).fetchall()
    assert first != con.execute(read.format(other.path("events.parquet"))).fetchall()


def test_every_order_lives_a_valid_life_and_python_replay_agrees_with_the_parquet_state(small):
    with EventStore(small.store_path) as store:
        orders = fold_all(store, Order)
        customers = fold_all(store, Customer)
        assert store.count() == small.events
    con = duckdb.connect()
    table = con.execute(
        f"SELECT order_id, customer_id, order_total, state FROM '{small.path('orders.parquet')}'"
    ).fetchall()
    assert len(table) == len(orders) == 1500
    for order_id, customer_id, total, state in table:
        order = orders[order_id]
        assert (order.customer_id, order.order_total, order.state) == (customer_id, total, state)
    assert {state for *_, state in table} == set(ORDER_STATES) - {"PENDING"}
    for customer in customers.values():
        assert 0 <= customer.reserved_credit <= customer.credit_limit
        approved = [o for o in orders.values() if o.customer_id == customer.id and o.state in ("APPROVED", "SHIPPED")]
        assert customer.reserved_credit == sum(o.order_total for o in approved)


def test_dates_are_inside_the_period_and_orders_follow_their_customer(small):
    con = duckdb.connect()
    bad = con.execute(
        f"""SELECT count(*) FROM '{small.path("orders.parquet")}' o JOIN '{small.path("customers.parquet")}' c
            USING (customer_id) WHERE o.created_at < c.created_at"""
    ).fetchall()
    assert bad == [(0,)]
    low, high = con.execute(
        f"SELECT min(recorded_at), max(recorded_at) FROM '{small.path('events.parquet')}'"
    ).fetchall()[0]
    assert PERIOD_START.replace(tzinfo=None) <= low and high < PERIOD_END.replace(tzinfo=None)


def test_causation_links_each_reaction_to_its_cause(small):
    con = duckdb.connect()
    rows = con.execute(
        f"""SELECT e.event_type, c.event_type, count(*) FROM '{small.path("events.parquet")}' e
            JOIN '{small.path("events.parquet")}' c ON c.event_id::VARCHAR = e.metadata->>'causation_id'
            GROUP BY ALL ORDER BY ALL"""
    ).fetchall()
    pairs = {(effect, cause) for effect, cause, _ in rows}
    assert pairs == {
        ("CreditLimitExceeded", "OrderCreated"),
        ("CreditReleased", "OrderCancelled"),
        ("CreditReserved", "OrderCreated"),
        ("OrderApproved", "CreditReserved"),
        ("OrderRejected", "CreditLimitExceeded"),
    }


def test_size_s_through_the_cli_and_reuse(tmp_path, capsys):
    assert main(["generate", "--size", "S", "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "S: 1000 customers, 10000 orders" in out
    manifest = (tmp_path / "s" / "manifest.json").stat().st_mtime
    workload = generate(tmp_path / "s", size="S", progress=False)  # same seed and size: reused, not rewritten
    assert (tmp_path / "s" / "manifest.json").stat().st_mtime == manifest
    assert workload.events > 30_000
    assert size_counts("l") == (1_000_000, 10_000_000)
    with pytest.raises(UsageError, match="unknown size 'XL'"):
        size_counts("XL")


def test_two_generators_of_one_folder_at_once_generate_it_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    def make(_):
        return generate(tmp_path / "shared", customers=30, orders=200, seed=5, progress=False)

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(make, range(2))
    assert first.events == second.events
    assert sorted(p.name for p in tmp_path.iterdir()) == [".shared.lock", "shared"]
    assert EventStore(first.store_path).count() == first.events
