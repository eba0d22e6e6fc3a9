"""The saga end to end between containers: three services from the services image on a user-defined network."""

from __future__ import annotations

import pytest

from labkit.containers.engine import Engine
from labkit.containers.labimages import build_lab_image
from labkit.containers.stack import start_service_stack

PURPOSE = "stack-test"
pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def engine(docker_engine: Engine) -> Engine:
    yield docker_engine
    docker_engine.cleanup(purpose=PURPOSE)


def test_the_saga_completes_between_containers(engine: Engine) -> None:
    from labkit.services.client import LabClient
    from labkit.services.invariants import check_invariants, wait_until_settled

    image = build_lab_image(engine, "services", progress=False)  # one of the lab's images: kept after the test
    with (
        start_service_stack(engine, image.id, name="labkit-stack-test", purpose=PURPOSE) as stack,
        LabClient(stack.urls) as client,
    ):
        assert all(engine.health(container) == "healthy" for container in stack.containers.values())
        client.create_customer("c-101", "Ada", 1000)
        client.place_order("o-101", "c-101", 300)
        client.place_order("o-102", "c-101", 900)  # more than the credit left: the saga rejects it
        wait_until_settled(client, timeout=30)
        assert client.order("o-101")["state"] == "APPROVED"
        assert client.order("o-102")["state"] == "REJECTED"
        assert client.customer("c-101")["available_credit"] == 700
        assert {row["order_id"]: row["state"] for row in client.view()} == {"o-101": "APPROVED", "o-102": "REJECTED"}
        assert check_invariants(client).violations == []
        assert '"database":"/data/order.duckdb"' in stack.logs("order").replace(" ", "")
