"""Notebook 07's killed consumer, on both transports: work in flight at the kill, nothing lost after the restart."""

from __future__ import annotations

import pytest

from labkit.errors import UsageError
from labkit.lab.microservices.consumer_fault import kill_a_consumer_mid_stream
from labkit.services.process_runner import ServiceRunner

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("transport", ["http", "nats"])
def test_a_consumer_killed_with_work_in_flight_loses_nothing(tmp_path, monkeypatch, transport):
    monkeypatch.delenv("LABKIT_NATS_URL", raising=False)
    with ServiceRunner.up(tmp_path / "run", transport=transport) as runner:
        fault = kill_a_consumer_mid_stream(runner, victim="customer", orders=40)
    assert fault.held_at_kill > 0 and fault.report.ok, fault
    assert (fault.orders, fault.accepted, sum(fault.report.states.values())) == (40, 40, 40)
    if transport == "nats":
        assert fault.redelivered > 0 and fault.duplicates is not None
        assert "redelivered > 0): True" in fault.summary()
    else:
        assert fault.redelivered is None and fault.duplicates is None
        assert "redelivered" not in fault.summary()
    assert "lost 0, decided 40" in fault.summary() and fault.summary().endswith("services): True")


def test_only_a_consumer_can_be_the_victim(tmp_path):
    with pytest.raises(UsageError, match="victim 'order'"):
        kill_a_consumer_mid_stream(None, victim="order")  # refused before anything runs
