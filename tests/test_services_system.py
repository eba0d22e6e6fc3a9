"""The three services as real processes: the saga end to end, bad input answered 4xx, the two query methods agree."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
import pytest

from labkit.services.invariants import check_invariants, wait_until_settled
from labkit.services.process_runner import ServiceRunner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runner(tmp_path_factory, runner_backend):
    runner = ServiceRunner.up(tmp_path_factory.mktemp("services"), backend=runner_backend)
    yield runner
    runner.stop()


@pytest.fixture(scope="module")
def client(runner):
    return runner.client


def test_each_service_answers_health_and_serves_its_openapi_docs(runner):
    for name, url in runner.urls.items():
        health = httpx.get(f"{url}/health").json()
        assert health["service"] == name and health["status"] == "ok"
        assert httpx.get(f"{url}/docs").status_code == 200
        assert "/events" in httpx.get(f"{url}/openapi.json").json()["paths"]


def test_the_saga_approves_rejects_and_releases_credit_on_cancel(client):
    client.create_customer("saga-customer", "Ada Lovelace", 100)
    client.place_order("saga-order-1", "saga-customer", 60)
    client.place_order("saga-order-2", "saga-customer", 60)  # 40 left: refused
    wait_until_settled(client)
    assert client.order("saga-order-1")["state"] == "APPROVED"
    assert client.order("saga-order-2")["state"] == "REJECTED"
    assert client.customer("saga-customer")["reservations"] == {"saga-order-1": 60}
    client.cancel("saga-order-1")
    wait_until_settled(client)
    customer = client.customer("saga-customer")
    assert customer["reserved_credit"] == 0 and customer["reservations"] == {}
    credit_events = [e["event_type"] for e in client.events("customer") if e["aggregate_id"] == "saga-customer"]
    assert credit_events == ["CustomerCreated", "CreditReserved", "CreditLimitExceeded", "CreditReleased"]
    report = check_invariants(client)
    assert report.ok, report.violations


def test_repeating_a_create_or_a_placement_is_harmless_and_reusing_an_id_is_a_conflict(runner, client):
    body = {"customer_id": "repeat-customer", "name": "Grace Hopper", "credit_limit": 500}
    url = runner.urls["customer"]
    assert httpx.post(f"{url}/customers", json=body).status_code == 201
    assert httpx.post(f"{url}/customers", json=body).status_code == 200
    clash = httpx.post(f"{url}/customers", json={**body, "credit_limit": 1})
    assert clash.status_code == 409 and "already exists" in clash.json()["detail"]
    order = {"order_id": "repeat-order", "customer_id": "repeat-customer", "order_total": 10}
    assert httpx.post(f"{runner.urls['order']}/orders", json=order).status_code == 201
    assert httpx.post(f"{runner.urls['order']}/orders", json=order).status_code == 200
    other = httpx.post(f"{runner.urls['order']}/orders", json={**order, "order_total": 11})
    assert other.status_code == 409 and "choose another order_id" in other.json()["detail"]
    wait_until_settled(client)
    assert [e["event_type"] for e in client.events("order") if e["aggregate_id"] == "repeat-order"] == [
        "OrderCreated",
        "OrderApproved",
    ]


@pytest.mark.parametrize(
    ("path", "content", "status", "says"),
    [
        ("/orders", b'{"customer_id": "x", "order_total": ', 422, "JSON"),
        ("/orders", b'{"customer_id": "known-customer", "order_total": -5}', 422, "greater than 0"),
        ("/orders", b'{"customer_id": "known-customer", "order_total": "250"}', 422, "valid integer"),
        ("/orders", b'{"customer_id": "known-customer", "order_total": true}', 422, "valid integer"),
        ("/orders", b'{"customer_id": "nobody-knows", "order_total": 5}', 422, "unknown customer 'nobody-knows'"),
        ("/orders", b'{"customer_id": "known-customer", "order_total": 5, "coupon": 1}', 422, "Extra inputs"),
        ("/orders/no-such-order/ship", b"", 404, "no Order no-such-order"),
        ("/orders/pending-order/ship", b"", 409, "only an APPROVED order can ship"),
    ],
)
def test_bad_input_gets_a_4xx_that_says_what_is_wrong_and_writes_nothing(runner, client, path, content, status, says):
    client.create_customer("known-customer", "Linus Torvalds", 0)
    if "pending-order" in path:
        client.place_order("pending-order", "known-customer", 1)  # limit 0: rejected, never APPROVED
        wait_until_settled(client)
    before = client.health("order")["head_position"]
    response = httpx.post(
        f"{runner.urls['order']}{path}", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert says in response.text
    assert client.health("order")["head_position"] == before


def test_the_view_and_api_composition_give_the_same_recent_valuable_customers(client):
    client.create_customer("valuable-1", "Barbara Liskov", 10_000)
    client.create_customer("valuable-2", "Edsger Dijkstra", 10_000)
    for i, (customer, total) in enumerate([("valuable-1", 500), ("valuable-1", 50), ("valuable-2", 700)]):
        client.place_order(f"valuable-order-{i}", customer, total)
    wait_until_settled(client)
    for i in range(3):
        client.ship(f"valuable-order-{i}")
    wait_until_settled(client)
    cutoff = datetime(2000, 1, 1, tzinfo=UTC)
    by_view = client.valuable_customers(cutoff, 100, method="view")
    by_composition = client.valuable_customers(cutoff, 100, method="composition")
    assert by_view["customers"] == by_composition["customers"]
    assert {c["customer_id"]: c["shipped_total"] for c in by_view["customers"]} == {
        "valuable-1": 500,
        "valuable-2": 700,
    }
    assert by_composition["requests"] >= 2 and by_composition["rows_moved"] >= 4
    later = client.valuable_customers(datetime.now(UTC), 100, method="composition")
    assert later["customers"] == []


def test_the_event_feed_long_polls_until_an_event_arrives(runner, client):
    head = client.health("customer")["head_position"]
    empty = httpx.get(f"{runner.urls['customer']}/events", params={"after": head, "wait": 0.2}).json()
    assert empty == {"events": [], "head_position": head}
    with httpx.Client(timeout=10) as http:
        answer: dict = {}
        waiter = threading.Thread(
            target=lambda: answer.update(
                http.get(f"{runner.urls['customer']}/events", params={"after": head, "wait": 5}).json()
            )
        )
        waiter.start()
        client.create_customer("feed-customer", "Ken Thompson", 5)
        waiter.join(10)
    assert [e["aggregate_id"] for e in answer["events"]] == ["feed-customer"]
