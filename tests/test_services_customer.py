"""The Customer service's routes in-process: create, read, batch read and list customers, and the credit the saga
reserves and releases as the Order service's feed arrives."""

from __future__ import annotations

import re

import pytest
from service_apps import InProcessLab, service_client

pytestmark = [
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument"),
    pytest.mark.usefixtures("service_backend"),
]

ADA = {"customer_id": "ada", "name": "Ada Lovelace", "credit_limit": 100}


@pytest.fixture
def customers(tmp_path):
    with service_client("customer", tmp_path) as client:
        yield client


def test_post_customers_creates_the_customer_with_all_its_credit_available(customers):
    answer = customers.post("/customers", json=ADA)
    assert answer.status_code == 201
    body = answer.json()
    assert body.pop("created_at").endswith("Z")
    assert body == {
        "customer_id": "ada",
        "name": "Ada Lovelace",
        "credit_limit": 100,
        "reserved_credit": 0,
        "available_credit": 100,
        "reservations": {},
        "version": 1,
    }
    assert [e["event_type"] for e in customers.get("/events").json()["events"]] == ["CustomerCreated"]


def test_post_customers_without_an_id_picks_a_new_one(customers):
    first = customers.post("/customers", json={"name": "Grace Hopper", "credit_limit": 0})
    second = customers.post("/customers", json={"name": "Grace Hopper", "credit_limit": 0})
    assert first.status_code == second.status_code == 201
    ids = [first.json()["customer_id"], second.json()["customer_id"]]
    assert all(re.fullmatch(r"customer-[0-9a-f]{12}", i) for i in ids) and ids[0] != ids[1]
    assert customers.get(f"/customers/{ids[0]}").json()["name"] == "Grace Hopper"


def test_repeating_a_create_answers_200_with_the_customer_and_reusing_the_id_is_a_409(customers):
    created = customers.post("/customers", json=ADA).json()
    again = customers.post("/customers", json=ADA)
    assert again.status_code == 200 and again.json() == created
    clash = customers.post("/customers", json={**ADA, "credit_limit": 5})
    assert clash.status_code == 409
    assert clash.json() == {
        "detail": "ada already exists as 'Ada Lovelace' with credit limit 100; choose another customer_id",
        "error": "IdConflictError",
    }
    assert customers.get("/customers/ada").json()["credit_limit"] == 100
    assert customers.get("/events").json()["head_position"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ADA, "credit_limit": "100"}, "credit_limit"),  # strict: a string is not a number
        ({**ADA, "credit_limit": -1}, "credit_limit"),
        ({**ADA, "credit_limit": 10**13}, "credit_limit"),
        ({"customer_id": "ada", "credit_limit": 100}, "name"),
        ({**ADA, "name": ""}, "name"),
        ({**ADA, "name": "Ada\nLovelace"}, "name"),
        ({**ADA, "customer_id": "ada lovelace"}, "customer_id"),
        ({**ADA, "vip": True}, "vip"),  # no unknown fields
    ],
)
def test_post_customers_refuses_a_bad_body_with_422_naming_the_field_and_creates_nothing(customers, body, field):
    answer = customers.post("/customers", json=body)
    assert answer.status_code == 422
    assert [error["loc"][-1] for error in answer.json()["detail"]] == [field]
    assert customers.get("/customers").json() == {"customers": [], "total": 0}


def test_get_customer_reads_it_and_an_unknown_id_is_a_404(customers):
    created = customers.post("/customers", json=ADA).json()
    assert customers.get("/customers/ada").json() == created
    missing = customers.get("/customers/nobody")
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": "no Customer nobody is stored; check the id",
        "error": "AggregateNotFoundError",
    }


def test_batch_reads_the_customers_asked_for_in_their_order_once_each_and_names_the_missing(customers):
    for customer_id, limit in (("c1", 10), ("c2", 20), ("c3", 30)):
        customers.post(
            "/customers", json={"customer_id": customer_id, "name": customer_id.upper(), "credit_limit": limit}
        )
    answer = customers.post("/customers/batch", json={"customer_ids": ["c3", "ghost", "c1", "c3"]})
    assert answer.status_code == 200
    body = answer.json()
    assert [(c["customer_id"], c["name"], c["credit_limit"], c["available_credit"]) for c in body["customers"]] == [
        ("c3", "C3", 30, 30),
        ("c1", "C1", 10, 10),
    ]
    assert body["customers"][1] == customers.get("/customers/c1").json()
    assert body["missing"] == ["ghost"]
    assert customers.post("/customers/batch", json={"customer_ids": []}).json() == {"customers": [], "missing": []}


def test_batch_sends_only_the_customers_created_after_a_moment_and_keeps_the_others_out_of_missing(customers):
    customers.post("/customers", json={"customer_id": "old", "name": "Old", "credit_limit": 10})
    between = customers.get("/customers/old").json()["created_at"]
    customers.post("/customers", json={"customer_id": "new", "name": "New", "credit_limit": 10})
    body = {"customer_ids": ["old", "new", "ghost"], "created_after": between}
    answer = customers.post("/customers/batch", json=body).json()
    assert [c["customer_id"] for c in answer["customers"]] == ["new"]  # created strictly after the moment
    assert answer["missing"] == ["ghost"]
    naive = between.replace("Z", "").split("+")[0]  # a moment without a zone is UTC
    again = customers.post("/customers/batch", json={**body, "created_after": naive})
    assert again.json() == answer, (naive, again.text)
    refused = customers.post("/customers/batch", json={**body, "created_after": "yesterday"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "created_after"]


@pytest.mark.parametrize(
    "body",
    [{"customer_ids": [f"c-{i}" for i in range(5001)]}, {"customer_ids": ["not an id"]}, {"ids": ["c1"]}, {}],
    ids=["too-many", "bad-id", "unknown-field", "empty"],
)
def test_batch_refuses_a_bad_body_with_422(customers, body):
    answer = customers.post("/customers/batch", json=body)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] in {"too_long", "string_pattern_mismatch", "extra_forbidden", "missing"}


def test_listing_pages_through_the_customers_by_id_with_their_total(customers):
    for i in (3, 1, 4, 2):
        customers.post("/customers", json={"customer_id": f"c{i}", "name": f"Customer {i}", "credit_limit": i * 10})
    everyone = customers.get("/customers").json()
    assert everyone["total"] == 4
    assert [(c["customer_id"], c["credit_limit"]) for c in everyone["customers"]] == [
        ("c1", 10),
        ("c2", 20),
        ("c3", 30),
        ("c4", 40),
    ]
    assert everyone["customers"][0] == customers.get("/customers/c1").json()
    page = customers.get("/customers", params={"offset": 1, "limit": 2}).json()
    assert [c["customer_id"] for c in page["customers"]] == ["c2", "c3"] and page["total"] == 4
    assert customers.get("/customers", params={"offset": 10}).json() == {"customers": [], "total": 4}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 100_001}, {"offset": -1}, {"limit": "many"}])
def test_listing_refuses_bad_paging_with_422(customers, params):
    answer = customers.get("/customers", params=params)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", next(iter(params))]


def test_the_customer_shows_the_credit_the_saga_reserves_refuses_and_releases(tmp_path):
    with InProcessLab(tmp_path, ("customer", "order")) as lab:
        customers, orders = lab.clients["customer"], lab.clients["order"]
        customers.post("/customers", json=ADA)
        lab.settle()
        orders.post("/orders", json={"order_id": "o1", "customer_id": "ada", "order_total": 60})
        orders.post("/orders", json={"order_id": "o2", "customer_id": "ada", "order_total": 60})  # 40 left: refused
        lab.settle()
        ada = customers.get("/customers/ada").json()
        assert (ada["reserved_credit"], ada["available_credit"], ada["reservations"], ada["version"]) == (
            60,
            40,
            {"o1": 60},
            3,
        )
        assert customers.post("/customers/batch", json={"customer_ids": ["ada"]}).json()["customers"] == [ada]
        assert customers.get("/customers").json()["customers"] == [ada]
        orders.post("/orders/o1/cancel")
        lab.settle()
        ada = customers.get("/customers/ada").json()
        assert (ada["reserved_credit"], ada["available_credit"], ada["reservations"]) == (0, 100, {})
        assert [e["event_type"] for e in customers.get("/events").json()["events"]] == [
            "CustomerCreated",
            "CreditReserved",
            "CreditLimitExceeded",
            "CreditReleased",
        ]


def test_health_names_the_back_end_the_service_keeps_its_database_on(customers, service_backend):
    assert customers.get("/health").json()["backend"] == service_backend
