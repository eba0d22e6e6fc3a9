"""The lab's three services as containers on a user-defined network: the same saga, now between containers.

Each service runs from the services image with its own volume-less /data (its private DuckDB file), finds its
peers by container name on the network (`http://customer:8000`), and publishes port 8000 on a free host port so
the host (a notebook, a test) can talk to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from labkit.containers.engine import Engine
from labkit.containers.errors import ContainerFailedError

SERVICE_NAMES = ("customer", "order", "history")
SERVICE_PORT = 8000


@dataclass
class ServiceStack:
    """Running service containers: their ids, the network they share, and the URLs the host reaches them at."""

    engine: Engine
    network: str
    containers: dict[str, str] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def logs(self, service: str) -> str:
        return self.engine.logs(self.containers[service])

    def stop(self) -> None:
        """Remove the containers and the network (they carry the lab's labels; nothing else is touched)."""
        for container in self.containers.values():
            self.engine.remove_container(container)
        self.containers.clear()
        self.engine.client.api.remove_network(self.network)

    def __enter__(self) -> ServiceStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_service_stack(
    engine: Engine, image: str, *, name: str = "labkit-services", purpose: str = "services", timeout_s: float = 60
) -> ServiceStack:
    """Start customer, order and history from `image` on a new network called `name`; waits for their health."""
    network = engine.create_network(name, purpose=purpose)
    stack = ServiceStack(engine, network)
    # Peers are found by their container name on the user-defined network (Docker's embedded DNS).
    peers = {
        "LABKIT_CUSTOMER_URL": f"http://customer:{SERVICE_PORT}",
        "LABKIT_ORDER_URL": f"http://order:{SERVICE_PORT}",
    }
    try:
        for service in SERVICE_NAMES:
            container = engine.create_container(
                image,
                [service],
                purpose=purpose,
                name=f"{name}-{service}",
                network=network,
                aliases=[service],
                environment=peers,
                ports={f"{SERVICE_PORT}/tcp": None},
            )
            stack.containers[service] = container
            engine.start(container)
        for service, container in stack.containers.items():
            engine.wait_healthy(container, timeout_s=timeout_s)
            port = engine.published_port(container, f"{SERVICE_PORT}/tcp")
            stack.urls[service] = f"http://127.0.0.1:{port}"
    except ContainerFailedError:
        stack.stop()
        raise
    return stack


def saga_demo(stack: ServiceStack, *, timeout_s: float = 30) -> pd.DataFrame:
    """Order 101's story between containers: a customer with 1000 of credit, an order that fits, one that does not.

    Returns each order's final state, as the Order service and the history service's view report it.
    """
    from labkit.services.client import LabClient
    from labkit.services.invariants import wait_until_settled

    with LabClient(stack.urls) as client:
        client.create_customer("customer-7", "Ada", 1000)
        client.place_order("order-101", "customer-7", 300)
        client.place_order("order-102", "customer-7", 900)
        wait_until_settled(client, timeout=timeout_s)
        view = {row["order_id"]: row["state"] for row in client.view()}
        rows = [
            (order["order_id"], order["order_total"], order["state"], view.get(order["order_id"], "-"))
            for order in sorted(client.orders(), key=lambda order: order["order_id"])
        ]
        credit = client.customer("customer-7")["available_credit"]
    table = pd.DataFrame(rows, columns=["order", "total", "Order service", "history view"])
    table.attrs["available_credit"] = credit
    return table
