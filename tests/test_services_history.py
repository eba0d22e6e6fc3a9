"""The Order-history service's routes in-process: the customer_orders_view and "recent valuable customers", from
the view and by API composition, with the Customer and Order services in the same process feeding it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from service_apps import InProcessLab, service_client

from labkit.services import history
from labkit.services.client import LabClient

pytestmark = pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with InProcessLab(tmp_path_factory.mktemp("history-routes")) as lab:
        yield lab


@pytest.fixture
def view(lab):
    return lab.clients["history"]


class InProcessPeers:
    """What `LabClient` needs of its HTTP client (`request`, `close`), answered by the peers' TestClients."""

    def __init__(self, lab: InProcessLab) -> None:
        self.lab = lab
        self.requests: list[tuple[str, str]] = []

    def request(self, method: str, url: str, **kwargs):
        peer = next(name for name, base in self.lab.peers.items() if url.startswith(base))
        self.requests.append((method, url.removeprefix(self.lab.peers[peer])))
        return self.lab.clients[peer].request(method, url, **kwargs)

    def close(self) -> None:
        pass


@pytest.fixture
def composition(lab, monkeypatch) -> InProcessPeers:
    """The history service's API composition reaches the peers in this process (it opens its own LabClient)."""
    peers = InProcessPeers(lab)

    def client(urls, *, timeout):
        composed = LabClient(urls, timeout=timeout)
        composed.http.close()
        composed.http = peers
        return composed

    monkeypatch.setattr(history, "LabClient", client)
    return peers


def shop(lab, customer_id: str, credit_limit: int, orders: dict[str, int], shipped: tuple[str, ...] = ()) -> None:
    body = {"customer_id": customer_id, "name": customer_id.title(), "credit_limit": credit_limit}
    assert lab.clients["customer"].post("/customers", json=body).status_code == 201
    lab.settle()
    for order_id, total in orders.items():
        answer = lab.clients["order"].post(
            "/orders", json={"order_id": order_id, "customer_id": customer_id, "order_total": total}
        )
        assert answer.status_code == 201
    lab.settle()
    for order_id in shipped:
        assert lab.clients["order"].post(f"/orders/{order_id}/ship").status_code == 200
    lab.settle()


def test_customer_orders_shows_each_order_with_its_customer_joined_in(lab, view):
    shop(lab, "viewer", 100, {"view-1": 60, "view-2": 60}, shipped=("view-1",))
    answer = view.get("/customer-orders", params={"customer_id": "viewer"})
    assert answer.status_code == 200
    page = answer.json()
    assert page["total"] == 2
    assert [(r["order_id"], r["customer_name"], r["order_total"], r["state"]) for r in page["rows"]] == [
        ("view-1", "Viewer", 60, "SHIPPED"),
        ("view-2", "Viewer", 60, "REJECTED"),
    ]
    customer = lab.clients["customer"].get("/customers/viewer").json()
    for row in page["rows"]:
        order = lab.clients["order"].get(f"/orders/{row['order_id']}").json()
        assert row["customer_created_at"] == customer["created_at"]
        assert (row["order_created_at"], row["state_recorded_at"]) == (order["created_at"], order["updated_at"])
        assert row["view_updated_at"] >= row["state_recorded_at"]  # applied after the Order service recorded it


def test_customer_orders_pages_by_order_id_and_is_empty_for_an_unknown_customer(lab, view):
    shop(lab, "pager", 1000, {f"page-{i}": 10 for i in (3, 1, 2)})
    first = view.get("/customer-orders", params={"customer_id": "pager", "limit": 2}).json()
    rest = view.get("/customer-orders", params={"customer_id": "pager", "offset": 2}).json()
    assert [r["order_id"] for r in first["rows"]] == ["page-1", "page-2"] and first["total"] == 3
    assert [r["order_id"] for r in rest["rows"]] == ["page-3"] and rest["total"] == 3
    everyone = view.get("/customer-orders").json()
    assert everyone["total"] == len(everyone["rows"]) == lab.clients["order"].get("/orders").json()["total"]
    assert view.get("/customer-orders", params={"customer_id": "nobody"}).json() == {"rows": [], "total": 0}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 100_001}, {"offset": -1}, {"customer_id": "c" * 65}])
def test_customer_orders_refuses_bad_paging_with_422(view, params):
    answer = view.get("/customer-orders", params=params)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", next(iter(params))]


def test_recent_valuable_customers_from_the_view_and_by_composition_give_the_same_customers(lab, view, composition):
    since = datetime.now(UTC)
    shop(lab, "val-a", 1000, {"va-1": 300, "va-2": 500, "va-3": 900}, shipped=("va-1", "va-2"))  # va-3 not shipped
    shop(lab, "val-b", 1000, {"vb-1": 150, "vb-2": 250}, shipped=("vb-1", "vb-2"))
    shop(lab, "val-c", 100, {"vc-1": 50}, shipped=("vc-1",))  # under the total
    params = {"created_after": since.isoformat(), "min_total": 200}
    by_view = view.get("/queries/recent-valuable-customers", params=params)
    assert by_view.status_code == 200
    answer = by_view.json()
    expected = [("val-a", "Val-A", 2, 800), ("val-b", "Val-B", 1, 250)]
    assert [
        (c["customer_id"], c["name"], c["shipped_orders"], c["shipped_total"]) for c in answer["customers"]
    ] == expected
    assert (answer["method"], answer["min_total"], answer["requests"], answer["rows_moved"]) == ("view", 200, 0, 0)
    assert datetime.fromisoformat(answer["created_after"]) == since
    composed = view.get("/queries/recent-valuable-customers", params={**params, "method": "composition"}).json()
    assert composed["method"] == "composition"
    assert composed["customers"] == answer["customers"]
    # One page of shipped orders over the total from the Order service, one batch of their customers.
    assert composition.requests == [("GET", "/orders"), ("POST", "/customers/batch")]
    shipped = lab.clients["order"].get("/orders", params={"state": "SHIPPED", "min_total": 200}).json()["orders"]
    rows_moved = len(shipped) + len({o["customer_id"] for o in shipped})  # the orders, then their customers
    assert (composed["requests"], composed["rows_moved"]) == (2, rows_moved)


def test_recent_valuable_customers_counts_only_customers_created_after_the_moment(lab, view):
    shop(lab, "val-old", 1000, {"vo-1": 500}, shipped=("vo-1",))
    after = datetime.now(UTC)
    for created_after in (after.isoformat(), after.astimezone(UTC).replace(tzinfo=None).isoformat()):  # naive: UTC
        answer = view.get("/queries/recent-valuable-customers", params={"created_after": created_after, "min_total": 0})
        assert answer.status_code == 200 and answer.json()["customers"] == []
    before = (after - timedelta(minutes=10)).isoformat()
    answer = view.get("/queries/recent-valuable-customers", params={"created_after": before, "min_total": 499})
    assert "val-old" in [c["customer_id"] for c in answer.json()["customers"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_total": 0}, "created_after"),
        ({"created_after": "yesterday", "min_total": 0}, "created_after"),
        ({"created_after": "2024-01-01T00:00:00Z"}, "min_total"),
        ({"created_after": "2024-01-01T00:00:00Z", "min_total": -1}, "min_total"),
        ({"created_after": "2024-01-01T00:00:00Z", "min_total": 0, "method": "guess"}, "method"),
    ],
)
def test_recent_valuable_customers_refuses_bad_parameters_with_422(view, params, field):
    answer = view.get("/queries/recent-valuable-customers", params=params)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", field]


def test_composition_while_the_peers_are_down_is_a_503_and_the_view_still_answers(tmp_path):
    with service_client("history", tmp_path) as view:
        params = {"created_after": "2024-01-01T00:00:00Z", "min_total": 0}
        composed = view.get("/queries/recent-valuable-customers", params={**params, "method": "composition"})
        assert composed.status_code == 503
        assert composed.json()["error"] == "ServiceUnavailableError"
        assert composed.json()["detail"].startswith("the order service at http://127.0.0.1:")
        from_view = view.get("/queries/recent-valuable-customers", params=params)
        assert from_view.status_code == 200 and from_view.json()["customers"] == []
        assert view.get("/customer-orders").json() == {"rows": [], "total": 0}
