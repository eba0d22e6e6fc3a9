"""The Order service's routes in-process: place, read, ship, cancel and list orders, with the credit saga run by a
Customer service in the same process (its feed read through its TestClient)."""

from __future__ import annotations

import re

import httpx
import pytest
from service_apps import InProcessLab, service_client

pytestmark = pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with InProcessLab(tmp_path_factory.mktemp("order-routes"), ("customer", "order")) as lab:
        # The Order service asks the Customer service about customers it has not yet seen in the feed: in-process too.
        lab.service("order").http = httpx.AsyncClient(transport=httpx.ASGITransport(app=lab.apps["customer"]))
        yield lab


@pytest.fixture
def orders(lab):
    return lab.clients["order"]


def customer(lab, customer_id: str, credit_limit: int = 100) -> str:
    body = {"customer_id": customer_id, "name": customer_id.title(), "credit_limit": credit_limit}
    assert lab.clients["customer"].post("/customers", json=body).status_code == 201
    lab.settle()
    return customer_id


def approved(lab, order_id: str, customer_id: str, total: int = 10) -> dict:
    lab.clients["order"].post("/orders", json={"order_id": order_id, "customer_id": customer_id, "order_total": total})
    lab.settle()
    order = lab.clients["order"].get(f"/orders/{order_id}").json()
    assert order["state"] == "APPROVED", order
    return order


def test_post_orders_places_a_pending_order_that_the_saga_then_approves(lab, orders):
    customer(lab, "placer")
    answer = orders.post("/orders", json={"order_id": "place-1", "customer_id": "placer", "order_total": 60})
    assert answer.status_code == 201
    placed = answer.json()
    assert placed["created_at"] == placed["updated_at"]
    assert {k: placed[k] for k in ("order_id", "customer_id", "order_total", "state", "version")} == {
        "order_id": "place-1",
        "customer_id": "placer",
        "order_total": 60,
        "state": "PENDING",
        "version": 1,
    }
    lab.settle()
    order = orders.get("/orders/place-1").json()
    assert (order["state"], order["version"]) == ("APPROVED", 2)
    assert lab.clients["customer"].get("/customers/placer").json()["reservations"] == {"place-1": 60}


def test_post_orders_without_an_id_picks_a_new_one(lab, orders):
    customer(lab, "anonymous")
    answer = orders.post("/orders", json={"customer_id": "anonymous", "order_total": 5})
    assert answer.status_code == 201
    order_id = answer.json()["order_id"]
    assert re.fullmatch(r"order-[0-9a-f]{12}", order_id)
    assert orders.get(f"/orders/{order_id}").json()["customer_id"] == "anonymous"


def test_repeating_a_placement_answers_200_with_the_order_and_reusing_the_id_is_a_409(lab, orders):
    customer(lab, "repeater")
    body = {"order_id": "repeat-1", "customer_id": "repeater", "order_total": 30}
    first = orders.post("/orders", json=body).json()
    again = orders.post("/orders", json=body)
    assert again.status_code == 200 and again.json()["order_id"] == "repeat-1"
    assert again.json()["created_at"] == first["created_at"]
    clash = orders.post("/orders", json={**body, "order_total": 31})
    assert clash.status_code == 409
    assert clash.json() == {
        "detail": "repeat-1 is already an order of repeater for 30; choose another order_id",
        "error": "IdConflictError",
    }
    assert orders.get("/orders", params={"customer_id": "repeater"}).json()["total"] == 1


def test_an_order_for_a_customer_not_yet_in_the_feed_is_checked_with_the_customer_service(lab, orders):
    # Created and at once ordered for: the Order service may not have read the CustomerCreated yet, and asks.
    body = {"customer_id": "fresh", "name": "Fresh", "credit_limit": 50}
    assert lab.clients["customer"].post("/customers", json=body).status_code == 201
    answer = orders.post("/orders", json={"order_id": "fresh-1", "customer_id": "fresh", "order_total": 5})
    assert answer.status_code == 201 and answer.json()["state"] == "PENDING"


def test_an_order_for_an_unknown_customer_is_a_422_and_is_not_placed(lab, orders):
    answer = orders.post("/orders", json={"order_id": "ghost-1", "customer_id": "ghost", "order_total": 5})
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": "unknown customer 'ghost': create it in the Customer service first",
        "error": "UnknownCustomerError",
    }
    assert orders.get("/orders/ghost-1").status_code == 404


def test_an_order_for_an_unseen_customer_while_the_customer_service_is_down_is_a_503(tmp_path):
    with service_client("order", tmp_path) as orders:
        answer = orders.post("/orders", json={"order_id": "o1", "customer_id": "c1", "order_total": 5})
        assert answer.status_code == 503
        assert answer.json()["error"] == "ServiceUnavailableError"
        assert answer.json()["detail"].startswith("cannot check customer c1: the Customer service did not answer")
        assert orders.get("/orders").json() == {"orders": [], "total": 0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer_id": "c1", "order_total": "5"}, "order_total"),  # strict: a string is not a number
        ({"customer_id": "c1", "order_total": 0}, "order_total"),
        ({"customer_id": "c1", "order_total": 5.5}, "order_total"),
        ({"order_total": 5}, "customer_id"),
        ({"customer_id": "c 1", "order_total": 5}, "customer_id"),
        ({"order_id": "", "customer_id": "c1", "order_total": 5}, "order_id"),
        ({"customer_id": "c1", "order_total": 5, "state": "SHIPPED"}, "state"),
    ],
)
def test_post_orders_refuses_a_bad_body_with_422_naming_the_field(orders, body, field):
    answer = orders.post("/orders", json=body)
    assert answer.status_code == 422
    assert [error["loc"][-1] for error in answer.json()["detail"]] == [field]


def test_get_order_reads_it_and_an_unknown_id_is_a_404(lab, orders):
    placed = approved(lab, "read-1", customer(lab, "reader"))
    assert orders.get("/orders/read-1").json() == placed
    missing = orders.get("/orders/no-such-order")
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": "no Order no-such-order is stored; check the id",
        "error": "AggregateNotFoundError",
    }


def test_ship_ships_an_approved_order_once(lab, orders):
    approved(lab, "ship-1", customer(lab, "shipper"))
    shipped = orders.post("/orders/ship-1/ship")
    assert shipped.status_code == 200
    assert (shipped.json()["state"], shipped.json()["version"]) == ("SHIPPED", 3)
    assert orders.get("/orders/ship-1").json() == shipped.json()
    again = orders.post("/orders/ship-1/ship")
    assert again.status_code == 409
    assert again.json() == {
        "detail": "ship-1: only an APPROVED order can ship (it is SHIPPED)",
        "error": "RuleViolationError",
    }


def test_ship_refuses_a_rejected_order_with_409_and_an_unknown_one_with_404(lab, orders):
    customer(lab, "poor", credit_limit=1)
    orders.post("/orders", json={"order_id": "poor-1", "customer_id": "poor", "order_total": 5})
    lab.settle()
    assert orders.get("/orders/poor-1").json()["state"] == "REJECTED"
    refused = orders.post("/orders/poor-1/ship")
    assert refused.status_code == 409
    assert refused.json()["detail"] == "poor-1: only an APPROVED order can ship (it is REJECTED)"
    unknown = orders.post("/orders/nothing/ship")
    assert unknown.status_code == 404 and unknown.json()["error"] == "AggregateNotFoundError"


def test_cancel_cancels_an_approved_order_with_its_reason_and_the_credit_is_released(lab, orders):
    customer_id = customer(lab, "canceller")
    approved(lab, "cancel-1", customer_id, total=40)
    cancelled = orders.post("/orders/cancel-1/cancel", json={"reason": "changed my mind"})
    assert cancelled.status_code == 200
    assert (cancelled.json()["state"], cancelled.json()["version"]) == ("CANCELLED", 3)
    last = orders.get("/events", params={"after": orders.get("/health").json()["head_position"] - 1}).json()["events"]
    assert [(e["event_type"], e["event_data"]) for e in last] == [
        ("OrderCancelled", {"customer_id": "canceller", "reason": "changed my mind"})
    ]
    lab.settle()
    assert lab.clients["customer"].get("/customers/canceller").json()["reserved_credit"] == 0


def test_cancel_without_a_body_gives_the_default_reason(lab, orders):
    approved(lab, "cancel-2", customer(lab, "silent"))
    assert orders.post("/orders/cancel-2/cancel").json()["state"] == "CANCELLED"
    last = orders.get("/events", params={"after": orders.get("/health").json()["head_position"] - 1}).json()["events"]
    assert last[0]["event_data"]["reason"] == "cancelled by the customer"


def test_cancel_refuses_a_shipped_order_with_409_an_unknown_one_with_404_and_a_bad_reason_with_422(lab, orders):
    approved(lab, "cancel-3", customer(lab, "late"))
    orders.post("/orders/cancel-3/ship")
    refused = orders.post("/orders/cancel-3/cancel")
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "cancel-3: only an APPROVED order that has not shipped can be cancelled (it is SHIPPED)",
        "error": "RuleViolationError",
    }
    assert orders.post("/orders/nothing/cancel").status_code == 404
    for body in ({"reason": ""}, {"reason": 5}, {"reason": "ok", "refund": True}):
        answer = orders.post("/orders/cancel-3/cancel", json=body)
        assert answer.status_code == 422, body
    assert orders.get("/orders/cancel-3").json()["state"] == "SHIPPED"


def test_listing_filters_by_state_customer_and_total_and_pages_by_id(lab, orders):
    customer_id = customer(lab, "lister", credit_limit=100)
    for order_id, total in (("list-3", 30), ("list-1", 10), ("list-2", 20), ("list-4", 90)):  # 90: over the limit
        orders.post("/orders", json={"order_id": order_id, "customer_id": customer_id, "order_total": total})
    lab.settle()
    orders.post("/orders/list-2/ship")

    def listed(**params) -> tuple[list[tuple[str, str]], int]:
        answer = orders.get("/orders", params={"customer_id": customer_id, **params})
        assert answer.status_code == 200
        page = answer.json()
        return [(o["order_id"], o["state"]) for o in page["orders"]], page["total"]

    everything = [("list-1", "APPROVED"), ("list-2", "SHIPPED"), ("list-3", "APPROVED"), ("list-4", "REJECTED")]
    assert listed() == (everything, 4)
    assert listed(state="APPROVED") == ([("list-1", "APPROVED"), ("list-3", "APPROVED")], 2)
    assert listed(min_total=20) == ([("list-3", "APPROVED"), ("list-4", "REJECTED")], 2)  # strictly above
    assert listed(offset=1, limit=2) == (everything[1:3], 4)
    assert listed(state="CANCELLED") == ([], 0)
    one = orders.get("/orders", params={"customer_id": customer_id, "limit": 1}).json()["orders"][0]
    assert one == orders.get("/orders/list-1").json()
    assert orders.get("/orders", params={"customer_id": "nobody"}).json() == {"orders": [], "total": 0}


@pytest.mark.parametrize(
    "params",
    [{"state": "LOST"}, {"min_total": -1}, {"limit": 0}, {"offset": -1}, {"customer_id": "c" * 65}],
)
def test_listing_refuses_a_bad_filter_with_422(orders, params):
    answer = orders.get("/orders", params=params)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", next(iter(params))]
