"""Consumers side by side on real deliveries: an outbox relay's repeats, a flaky transport's delays."""

from __future__ import annotations

import pytest

from labkit.domain import Order
from labkit.events import EventStore, replay_all
from labkit.lab.messaging.consumer_runs import (
    broker_messages,
    count_with_consumers,
    stored_customer_totals,
    track_states_with_consumers,
)
from labkit.patterns.delivery import unreliable_delivery
from labkit.patterns.dualwrite import run_design
from labkit.workload import generate


@pytest.fixture(scope="module")
def outbox_run(tmp_path_factory, nats_url):
    folder = tmp_path_factory.mktemp("outbox")
    settings = {"operations": 50, "fault_rate": 0.25, "seed": 3, "batch_size": 5, "crash_mode": "exception"}
    outcome = run_design("outbox", folder, url=nats_url, message_ids=False, **settings)
    assert outcome.duplicates > 0
    return folder, outcome


def test_the_relay_repeats_make_the_naive_count_too_high_and_the_idempotent_one_exact(outbox_run):
    folder, outcome = outbox_run
    messages = broker_messages(folder)
    assert len(messages) == outcome.messages
    truth = stored_customer_totals(folder)
    table = count_with_consumers(messages, truth)
    naive, exact = table.loc["naive"], table.loc["idempotent"]
    assert naive["orders counted"] == outcome.messages > naive["orders stored"] == outcome.orders_stored
    assert naive["revenue counted"] > naive["revenue stored"] and naive["customers wrong"] > 0
    assert exact["orders counted"] == exact["orders stored"] and exact["revenue counted"] == exact["revenue stored"]
    assert exact["customers wrong"] == 0


def test_delays_corrupt_the_naive_states_and_the_waiting_consumer_is_exact(tmp_path):
    workload = generate(tmp_path, customers=20, orders=200, seed=2, progress=False)
    with EventStore(workload.store_path) as store:
        events = store.read_all(limit=100_000, aggregate_type="Order")
        truth = dict(replay_all(store, Order).select("aggregate_id, state").fetchall())
    deliveries = unreliable_delivery(events, seed=5, duplicate_rate=0.1, delay_rate=0.1)
    table = track_states_with_consumers(deliveries, truth)
    assert table.loc["naive", "orders wrong"] > 0
    assert (table.loc["idempotent, wait", "orders right"], table.loc["idempotent, wait", "orders wrong"]) == (200, 0)
    assert table.loc["idempotent, wait", "parked, then applied"] > 0
    assert table.loc["idempotent, wait", "repeats skipped"] == len(deliveries) - len(events)
    assert table.loc["idempotent, reject", "orders wrong"] == 0
    assert "arrived before version" in table.loc["idempotent, reject", "refused"]
