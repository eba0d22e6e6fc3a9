"""The services over NATS JetStream (`--transport nats`): the saga and the view work as over HTTP feeds, and kill -9
of any service, or of the broker, during a stream of orders loses nothing and breaks no invariant.

Each fault test first waits until work is in flight (a message delivered and not yet acked, or an event not yet
published), so the crash lands on it; afterwards the redeliveries and duplicates it caused are counted, and the
invariants show every one was absorbed (no credit reserved twice, the view equal to the services).
"""

from __future__ import annotations

import threading
import time

import orjson
import pytest
from polling import wait_until

from labkit.jetstream import JetStream
from labkit.lab.microservices.consumer_fault import crash_with_work_in_flight
from labkit.services.invariants import check_invariants, wait_until_settled
from labkit.services.load import create_customers, order_plan, place_orders
from labkit.services.process_runner import ServiceRunner
from labkit.services.settings import SERVICES
from labkit.services.transport import event_stream

pytestmark = pytest.mark.slow

ORDERS = 120


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.delenv("LABKIT_NATS_URL", raising=False)  # the run's own broker: these tests kill it
    runner = ServiceRunner.up(tmp_path / "run", transport="nats")
    yield runner
    runner.stop()
    assert runner.broker is not None and runner.broker.server is not None
    assert not runner.broker.server.is_running(), "the run's broker outlived `stop()`"


def counts(runner: ServiceRunner, services: tuple[str, ...] = SERVICES) -> dict[str, int]:
    """Redeliveries and duplicates the services' consumers and forwarders saw (since each last started)."""
    totals = {"redelivered": 0, "taken_over": 0, "duplicates": 0, "held_back": 0, "republished": 0}
    for name in services:
        status = runner.client.status(name)
        for consumer in status["consumers"]:
            assert consumer["transport"] == "nats"
            for key in ("redelivered", "taken_over", "duplicates", "held_back"):
                totals[key] += consumer[key]
        if status["forwarder"] is not None:
            totals["republished"] += status["forwarder"]["duplicates"]
    return totals


def start_stream(runner: ServiceRunner, seed: int) -> tuple[threading.Thread, dict, list]:
    customers = create_customers(runner.client, 5, seed=seed)
    plan = order_plan(customers, ORDERS, seed=seed)
    placed: dict[str, object] = {}
    stream = threading.Thread(target=lambda: placed.update(result=place_orders(runner.client, plan, concurrency=4)))
    stream.start()
    wait_until(
        lambda: runner.client.health("order")["head_position"] >= ORDERS // 3,
        timeout=30,
        what=f"the Order service's events to reach position {ORDERS // 3}",
        interval=0.01,
    )
    return stream, placed, plan


def finish(runner: ServiceRunner, stream: threading.Thread, placed: dict, plan: list) -> None:
    stream.join(90)
    assert not stream.is_alive(), "the stream of orders did not finish"
    accepted, refused, _ = placed["result"]
    assert refused == 0 and sorted(accepted) == sorted(order_id for order_id, _, _ in plan)
    wait_until_settled(runner.client, timeout=60)
    report = check_invariants(runner.client, accepted_orders=accepted)
    assert report.ok, report.violations
    assert report.orders == len(plan) and set(report.states) <= {"APPROVED", "REJECTED"}


def test_the_saga_and_the_view_work_over_the_broker(runner):
    client = runner.client
    client.create_customer("c-1", "Ada", 1000)
    approved = client.place_order("o-1", "c-1", 600)["order_id"]
    rejected = client.place_order("o-2", "c-1", 700)["order_id"]
    wait_until_settled(client, timeout=30)
    assert client.order(approved)["state"] == "APPROVED" and client.order(rejected)["state"] == "REJECTED"
    client.cancel(approved)
    wait_until_settled(client, timeout=30)
    assert client.customer("c-1")["reserved_credit"] == 0
    assert {r["order_id"]: r["state"] for r in client.view()} == {approved: "CANCELLED", rejected: "REJECTED"}
    statuses = {name: client.status(name) for name in SERVICES}
    assert {s["transport"] for s in statuses.values()} == {"nats"}
    # The events went through the broker: each stream holds every event of its service, once (in runs of events,
    # a message each).
    with JetStream.connect(runner.broker.url) as broker:
        for service in ("customer", "order"):
            reader = broker.pull_consumer(event_stream(service).name, "test-audit")
            positions = [e["position"] for d in reader.fetch(100, timeout=2.0) for e in orjson.loads(d.data)]
            assert positions == list(range(1, statuses[service]["head_position"] + 1)) and positions
    assert statuses["history"]["forwarder"] is None  # a read model publishes nothing


@pytest.mark.parametrize("victim", SERVICES)
def test_kill_9_one_service_mid_stream_then_restart_it(runner, victim):
    stream, placed, plan = start_stream(runner, seed=21)
    # Frozen while the broker is asked, so the kill lands on messages the victim really holds.
    assert crash_with_work_in_flight(runner, victim, stream) > 0, "no work in flight at the kill"
    assert stream.is_alive(), "the stream of orders ended before the kill: nothing was in flight"
    time.sleep(0.5)
    runner.start(victim)
    finish(runner, stream, placed, plan)
    assert runner.log_tail(victim, lines=10_000).count('"service started"') == 2
    seen = counts(runner, (victim,))
    print(f"\nkill -9 {victim}: {seen}")
    # What the dead process held, the restarted one took over at its start (and applied once, the invariants say).
    assert seen["taken_over"] > 0, seen


def test_kill_9_the_broker_mid_stream_loses_nothing(runner):
    stream, placed, plan = start_stream(runner, seed=23)
    # The services frozen while the broker is asked, so the broker dies holding unacked deliveries.
    held, deadline = 0, time.monotonic() + 30
    while held == 0 and time.monotonic() < deadline:
        for name in SERVICES:
            runner.pause(name)
        held = runner.broker.unacked(SERVICES)
        if held:
            runner.kill_broker()
        for name in SERVICES:
            runner.resume(name)
    assert held > 0, "no delivery in flight when the broker was killed"
    assert stream.is_alive(), "the stream of orders ended before the kill: nothing was in flight"
    # Orders are still accepted (each service writes to its own database), and the forwarders fall behind.
    wait_until(
        lambda: not runner.client.status("order")["forwarder"]["connected"],
        timeout=30,
        what="the Order service's forwarder to notice the broker is gone",
    )
    head = runner.client.health("order")["head_position"]
    time.sleep(0.5)
    runner.restart_broker()
    finish(runner, stream, placed, plan)
    assert runner.client.health("order")["head_position"] > head
    seen = counts(runner)
    print(f"\nkill -9 the broker: {seen}")
    # The crash cost repeats (redelivered messages, republished events); the invariants above show none counted twice.
    assert seen["redelivered"] + seen["republished"] + seen["duplicates"] > 0, seen
