"""Partial failure: kill -9 each service in turn during a stream of orders, restart it, and check the invariants.

Nothing may be lost (every order a client was told was accepted exists), stuck (every order ends decided) or
counted twice (no credit reserved twice), and the view must match the services again once all are back.
"""

from __future__ import annotations

import threading

import pytest
from polling import wait_until

from labkit.services.invariants import check_invariants, wait_until_settled
from labkit.services.load import create_customers, order_plan, place_orders
from labkit.services.process_runner import ServiceRunner
from labkit.services.settings import SERVICES

pytestmark = pytest.mark.slow

ORDERS = 40


@pytest.fixture
def runner(tmp_path):
    runner = ServiceRunner.up(tmp_path / "run", env={"LABKIT_FEED_POLL_TIMEOUT_S": "2"})
    yield runner
    runner.stop()


@pytest.mark.parametrize("victim", SERVICES)
def test_kill_9_one_service_during_a_stream_of_orders_then_restart_it(runner, victim):
    client = runner.client
    customers = create_customers(client, 5, seed=11)
    plan = order_plan(customers, ORDERS, seed=11)
    placed: dict[str, object] = {}
    # Slow and steady (4 in flight) so the kill lands in the middle of the stream.
    stream = threading.Thread(target=lambda: placed.update(result=place_orders(client, plan, concurrency=4)))
    stream.start()
    wait_until(
        lambda: client.health("order")["head_position"] >= ORDERS // 3,
        timeout=30,
        what=f"the Order service's feed to reach position {ORDERS // 3}",
        interval=0.01,
    )
    runner.kill(victim)
    assert not runner.is_running(victim)
    if victim == "customer":
        # Orders are still accepted, but no credit answer can come: an order placed after the kill waits, PENDING.
        before = {order["order_id"] for order in client.orders()}
        placed_since = wait_until(
            lambda: [order for order in client.orders() if order["order_id"] not in before],
            timeout=30,
            what="an order accepted while the Customer service is down",
        )
        assert {order["state"] for order in placed_since} == {"PENDING"}, placed_since
    else:
        # The survivors notice: the service that reads the victim's feed reports it disconnected (none reads history's).
        readers = [name for name in SERVICES if name != victim and name != "history"]
        wait_until(
            lambda: all(
                not consumer["connected"]
                for name in readers
                for consumer in client.status(name)["consumers"]
                if consumer["name"].endswith(f"<-{victim}")
            ),
            timeout=30,
            what=f"the services reading the {victim} feed to report it down",
        )
    runner.start(victim)
    stream.join(60)
    accepted, refused, _ = placed["result"]
    assert refused == 0 and sorted(accepted) == sorted(order_id for order_id, _, _ in plan)
    wait_until_settled(client, timeout=60)
    report = check_invariants(client, accepted_orders=accepted)
    assert report.ok, report.violations
    assert report.orders == ORDERS and sum(report.states.values()) == ORDERS
    assert set(report.states) <= {"APPROVED", "REJECTED"}
    # Two starts in one log: the crash left no shutdown line, the restart opened the same database.
    assert runner.log_tail(victim, lines=10_000).count('"service started"') == 2
