"""A small HTTP client for the three services: what the invariant checker, the benchmark and notebooks use."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import httpx

from labkit.services.errors import ServiceRequestError, ServiceUnavailableError

PAGE = 10_000


class LabClient:
    """Calls the customer, order and history services at `urls` (service name -> base URL)."""

    def __init__(self, urls: Mapping[str, str], *, timeout: float = 10.0) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.http = httpx.Client(timeout=timeout)
        # What crossed the service boundaries through this client: API composition reports both.
        self.calls = 0
        self.bytes_moved = 0  # request and response bodies, both ways

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> LabClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, service: str, path: str, **kwargs: Any) -> Any:
        """One call; ServiceUnavailableError if the service does not answer, ServiceRequestError on a 4xx/5xx."""
        url = f"{self.urls[service]}{path}"
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise ServiceUnavailableError(
                f"the {service} service at {url} did not answer ({type(exc).__name__})"
            ) from exc
        self.calls += 1
        self.bytes_moved += len(response.request.content) + len(response.content)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text[:300]
            raise ServiceRequestError(method, url, response.status_code, detail)
        return response.json()

    # ---- commands ------------------------------------------------------------------------------------------------

    def create_customer(self, customer_id: str, name: str, credit_limit: int) -> dict[str, Any]:
        body = {"customer_id": customer_id, "name": name, "credit_limit": credit_limit}
        return self.request("POST", "customer", "/customers", json=body)

    def place_order(self, order_id: str, customer_id: str, order_total: int) -> dict[str, Any]:
        body = {"order_id": order_id, "customer_id": customer_id, "order_total": order_total}
        return self.request("POST", "order", "/orders", json=body)

    def ship(self, order_id: str) -> dict[str, Any]:
        return self.request("POST", "order", f"/orders/{order_id}/ship")

    def cancel(self, order_id: str, reason: str = "cancelled by the customer") -> dict[str, Any]:
        return self.request("POST", "order", f"/orders/{order_id}/cancel", json={"reason": reason})

    # ---- reads ---------------------------------------------------------------------------------------------------

    def health(self, service: str) -> dict[str, Any]:
        return self.request("GET", service, "/health")

    def status(self, service: str) -> dict[str, Any]:
        return self.request("GET", service, "/status")

    def order(self, order_id: str) -> dict[str, Any]:
        return self.request("GET", "order", f"/orders/{order_id}")

    def customer(self, customer_id: str) -> dict[str, Any]:
        return self.request("GET", "customer", f"/customers/{customer_id}")

    def _pages(self, service: str, path: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self.request("GET", service, path, params={**params, "offset": offset, "limit": PAGE})
            yield from page[key]
            offset += len(page[key])
            if not page[key] or offset >= page["total"]:
                return

    def orders(self, **filters: Any) -> list[dict[str, Any]]:
        """Every order (filters: state, customer_id, min_total)."""
        return list(self._pages("order", "/orders", "orders", {k: v for k, v in filters.items() if v is not None}))

    def order_states(self) -> dict[str, int]:
        """How many orders are in each state (sorted by state)."""
        counts: dict[str, int] = {}
        for order in self.orders():
            counts[order["state"]] = counts.get(order["state"], 0) + 1
        return dict(sorted(counts.items()))

    def customers_by_id(
        self, customer_ids: list[str], *, created_after: datetime | None = None, batch: int = 1000
    ) -> list[dict[str, Any]]:
        """The customers among `customer_ids` (created after `created_after`, if given), `batch` ids per request."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(customer_ids), batch):
            body: dict[str, Any] = {"customer_ids": customer_ids[start : start + batch]}
            if created_after is not None:
                body["created_after"] = created_after.isoformat()
            found.extend(self.request("POST", "customer", "/customers/batch", json=body)["customers"])
        return found

    def customers(self) -> list[dict[str, Any]]:
        """Every customer, with its reservations."""
        return list(self._pages("customer", "/customers", "customers", {}))

    def view(self) -> list[dict[str, Any]]:
        """Every row of the history service's customer_orders_view."""
        return list(self._pages("history", "/customer-orders", "rows", {}))

    def events(self, service: str, *, after: int = 0) -> list[dict[str, Any]]:
        """Every event of a service's feed after `after` (as the feed sends them)."""
        events: list[dict[str, Any]] = []
        while True:
            page = self.request("GET", service, "/events", params={"after": after, "limit": 5000})
            events.extend(page["events"])
            if not page["events"]:
                return events
            after = page["events"][-1]["position"]

    def valuable_customers(self, created_after: datetime, min_total: int, *, method: str = "view") -> dict[str, Any]:
        """'Recent valuable customers' from the history service (method "view" or "composition")."""
        params = {"created_after": created_after.isoformat(), "min_total": min_total, "method": method}
        return self.request("GET", "history", "/queries/recent-valuable-customers", params=params)
