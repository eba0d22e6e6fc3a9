"""What every service app has, in-process: /health, /status, the OpenAPI docs, and errors mapped to statuses.

The route table is pinned here: a route added to a service without a test in tests/test_services_*.py fails
`test_each_app_serves_exactly_the_routes_the_route_tests_cover`.
"""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient
from polling import wait_until
from service_apps import service_client, settings, unreachable_peers

from labkit.domain import RuleViolationError
from labkit.errors import LabkitError
from labkit.events import AggregateNotFoundError, ConcurrencyError
from labkit.services.app import create_app, status_of
from labkit.services.errors import (
    IdConflictError,
    ServiceRequestError,
    ServiceUnavailableError,
    UnknownCustomerError,
    UnknownServiceError,
)
from labkit.services.settings import SERVICES

COMMON = {("GET", "/health"), ("GET", "/status"), ("GET", "/events")}
DOCS = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}
ROUTES = {
    "customer": {
        ("POST", "/customers"),  # test_services_customer.py
        ("GET", "/customers/{customer_id}"),
        ("POST", "/customers/batch"),
        ("GET", "/customers"),
    },
    "order": {
        ("POST", "/orders"),  # test_services_order.py
        ("GET", "/orders/{order_id}"),
        ("POST", "/orders/{order_id}/ship"),
        ("POST", "/orders/{order_id}/cancel"),
        ("GET", "/orders"),
    },
    "history": {("GET", "/customer-orders"), ("GET", "/queries/recent-valuable-customers")},  # test_services_history.py
}
PEERS = {"customer": ["order"], "order": ["customer"], "history": ["customer", "order"]}


@pytest.mark.parametrize("service", SERVICES)
def test_each_app_serves_exactly_the_routes_the_route_tests_cover(tmp_path, service):
    with unreachable_peers() as peers:
        app = create_app(settings(service, tmp_path, peers))
    # The API routes as the OpenAPI schema lists them, and the routes FastAPI adds for the schema and its docs.
    api = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
    docs = {(method, route.path) for route in app.routes for method in getattr(route, "methods", None) or ()}
    assert api == COMMON | ROUTES[service]
    assert docs - {("HEAD", path) for _, path in docs} == DOCS


@pytest.mark.parametrize("service", SERVICES)
def test_health_says_which_service_answers_and_where_its_feed_is(tmp_path, service):
    with service_client(service, tmp_path) as client:
        health = client.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert body.pop("uptime_seconds") >= 0
        assert body == {"service": service, "status": "ok", "pid": os.getpid(), "head_position": 0}


def test_health_head_position_follows_the_service_writes(tmp_path):
    with service_client("customer", tmp_path) as client:
        client.post("/customers", json={"customer_id": "c1", "name": "C1", "credit_limit": 1})
        client.post("/customers", json={"customer_id": "c2", "name": "C2", "credit_limit": 1})
        assert client.get("/health").json()["head_position"] == 2


@pytest.mark.parametrize("service", SERVICES)
def test_status_reports_each_consumer_disconnected_from_an_unreachable_peer(tmp_path, service):
    with unreachable_peers() as peers, TestClient(create_app(settings(service, tmp_path, peers))) as client:

        def disconnected() -> list[dict] | None:
            consumers = client.get("/status").json()["consumers"]
            return consumers if all(c["last_error"] for c in consumers) else None

        consumers = wait_until(disconnected, timeout=10, what=f"the {service} consumers to report their peers down")
        assert [(c["name"], c["peer_url"]) for c in consumers] == [
            (f"{service}<-{peer}", peers[peer]) for peer in PEERS[service]
        ]
        for consumer in consumers:
            assert (consumer["connected"], consumer["position"], consumer["lag"], consumer["handled"]) == (
                False,
                0,
                0,
                0,
            )
            assert f"the feed at {consumer['peer_url']}/events did not answer" in consumer["last_error"]
        status = client.get("/status").json()
        assert (status["service"], status["status"], status["saga_failures"]) == (service, "ok", 0)
        assert status["group_commit"]["commands"] == 0


def test_status_counts_the_commands_group_commit_has_committed(tmp_path):
    with service_client("customer", tmp_path) as client:
        for i in range(3):
            client.post("/customers", json={"customer_id": f"c{i}", "name": "C", "credit_limit": 1})
        group_commit = client.get("/status").json()["group_commit"]
        assert group_commit["commands"] == 3 and 1 <= group_commit["transactions"] <= 3


@pytest.mark.parametrize("service", SERVICES)
def test_the_openapi_schema_and_the_docs_pages_describe_the_service(tmp_path, service):
    with service_client(service, tmp_path) as client:
        schema = client.get("/openapi.json").json()
        assert (
            schema["info"]["title"] == f"labkit {'Order-history' if service == 'history' else service.title()} service"
        )
        assert {path for _, path in COMMON | ROUTES[service]} == set(schema["paths"])
        docs = client.get("/docs")
        assert docs.status_code == 200 and "swagger-ui" in docs.text and "/openapi.json" in docs.text
        redoc = client.get("/redoc")
        assert redoc.status_code == 200 and "redoc" in redoc.text
        assert "Swagger UI: OAuth2 Redirect" in client.get("/docs/oauth2-redirect").text


def test_an_unknown_path_is_a_404_and_a_wrong_method_a_405(tmp_path):
    with service_client("order", tmp_path) as client:
        assert client.get("/nothing-here").status_code == 404
        assert client.delete("/orders").status_code == 405


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (AggregateNotFoundError("no Order o1"), 404),
        (RuleViolationError("o1", "a rule", "why"), 409),
        (IdConflictError("taken"), 409),
        (ConcurrencyError("o1", 1, 2), 409),
        (UnknownCustomerError("who?"), 422),
        (ServiceRequestError("GET", "http://x/y", 500, "boom"), 502),
        (ServiceUnavailableError("down"), 503),
        (UnknownServiceError("what?"), 400),
        (LabkitError("anything else"), 400),
    ],
)
def test_status_of_maps_each_kind_of_error_to_its_status(error, status):
    assert status_of(error) == status


def test_a_bug_is_a_500_naming_the_exception_and_a_labkit_error_keeps_its_status(tmp_path):
    with unreachable_peers() as peers:
        app = create_app(settings("customer", tmp_path, peers))

    def bug() -> None:
        raise ZeroDivisionError("division by zero")

    def refused() -> None:
        raise ServiceUnavailableError("the peer is down")

    app.add_api_route("/bug", bug)
    app.add_api_route("/refused", refused)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/bug")
        assert answer.status_code == 500
        assert answer.json() == {"detail": "ZeroDivisionError: division by zero", "error": "InternalError"}
        answer = client.get("/refused")
        assert answer.status_code == 503
        assert answer.json() == {"detail": "the peer is down", "error": "ServiceUnavailableError"}
        assert client.get("/health").json()["status"] == "ok"  # the app keeps serving
