"""A service's event feed in-process: `GET /events` (pages, long polls, bounds) and `HttpEventFeed` reading it."""

from __future__ import annotations

import threading
import time

import pytest
from service_apps import service_client, unreachable_peers

from labkit.services.errors import ServiceRequestError, ServiceUnavailableError
from labkit.services.feed import MAX_LIMIT, HttpEventFeed

pytestmark = pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")


@pytest.fixture
def customers(tmp_path):
    with service_client("customer", tmp_path, feed_max_wait=5.0) as client:
        yield client


def create(client, *ids: str) -> None:
    for customer_id in ids:
        body = {"customer_id": customer_id, "name": customer_id.title(), "credit_limit": 10}
        assert client.post("/customers", json=body).status_code == 201


def test_events_answers_the_events_after_a_position_in_order_with_the_head(customers):
    create(customers, "c1", "c2", "c3")
    page = customers.get("/events").json()
    assert page["head_position"] == 3
    assert [(e["position"], e["aggregate_id"], e["event_type"], e["version"]) for e in page["events"]] == [
        (1, "c1", "CustomerCreated", 1),
        (2, "c2", "CustomerCreated", 1),
        (3, "c3", "CustomerCreated", 1),
    ]
    first = page["events"][0]
    assert first["aggregate_type"] == "Customer"
    assert first["event_data"] == {"name": "C1", "credit_limit": 10}
    assert first["recorded_at"] and first["event_id"]
    later = customers.get("/events", params={"after": 1, "limit": 1}).json()
    assert [e["position"] for e in later["events"]] == [2] and later["head_position"] == 3
    assert customers.get("/events", params={"after": 3}).json() == {"events": [], "head_position": 3}


def test_events_long_polls_until_the_next_commit(customers):
    create(customers, "c1")
    answers: list[tuple[dict, float]] = []

    def poll() -> None:
        started = time.monotonic()
        page = customers.get("/events", params={"after": 1, "wait": 5}).json()
        answers.append((page, time.monotonic() - started))

    waiting = threading.Thread(target=poll)
    waiting.start()
    create(customers, "c2")
    waiting.join(10)
    ((page, seconds),) = answers
    assert [e["aggregate_id"] for e in page["events"]] == ["c2"] and page["head_position"] == 2
    assert seconds < 5, "the commit must answer the long poll, not its timeout"


def test_events_waits_at_most_the_wait_asked_for_then_answers_empty(customers):
    started = time.monotonic()
    page = customers.get("/events", params={"wait": 0.3}).json()
    assert time.monotonic() - started >= 0.3
    assert page == {"events": [], "head_position": 0}


def test_events_waits_no_longer_than_the_service_allows(tmp_path):
    with service_client("customer", tmp_path, feed_max_wait=0.2) as customers:
        started = time.monotonic()
        assert customers.get("/events", params={"wait": 60}).json() == {"events": [], "head_position": 0}
        assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    "params", [{"after": -1}, {"after": 2**62 + 1}, {"limit": 0}, {"limit": 5001}, {"wait": -1}, {"wait": 61}]
)
def test_events_refuses_out_of_range_parameters_with_422(customers, params):
    answer = customers.get("/events", params=params)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", next(iter(params))]


def test_http_event_feed_reads_the_route_as_a_peer_does(customers):
    create(customers, "c1", "c2")
    feed = HttpEventFeed("http://customer", client=customers)
    page = feed.read(after_position=0, limit=1)
    assert [(e.position, e.aggregate_id, e.event_type) for e in page.events] == [(1, "c1", "CustomerCreated")]
    assert page.head_position == 2
    assert [e.aggregate_id for e in feed.read_all(after_position=1)] == ["c2"]
    assert feed.head_position() == 2
    assert page.events[0].to_dict() == customers.get("/events", params={"limit": 1}).json()["events"][0]


def test_http_event_feed_names_a_refused_request_and_an_unreachable_peer(customers):
    with pytest.raises(ServiceRequestError, match=r"GET http://customer/events answered 422") as refused:
        HttpEventFeed("http://customer", client=customers).read(limit=MAX_LIMIT + 1)
    assert refused.value.status == 422
    with unreachable_peers() as peers, pytest.raises(ServiceUnavailableError, match="did not answer"):
        HttpEventFeed(peers["order"]).read()
