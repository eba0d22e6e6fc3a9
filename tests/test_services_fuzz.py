"""Fuzz every endpoint of the three services from their OpenAPI specs (schemathesis): no input gets a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from labkit.services.process_runner import ServiceRunner
from labkit.services.settings import SERVICES

pytestmark = pytest.mark.slow

EXAMPLES = 15  # per operation and mode (valid input, invalid input): bounded, so the fuzz takes seconds


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    # Feeds answer at once when empty, so fuzzed `wait` values cost nothing.
    runner = ServiceRunner.up(tmp_path_factory.mktemp("fuzz"), env={"LABKIT_FEED_MAX_WAIT_S": "0.05"})
    runner.client.create_customer("customer-7", "Ada Lovelace", 1000)
    runner.client.place_order("order-101", "customer-7", 250)
    yield runner
    runner.stop()


@pytest.mark.parametrize("service", SERVICES)
def test_no_fuzzed_request_gets_a_server_error(runner, service):
    url = runner.urls[service]
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 4
    statuses: list[int] = []
    for operation, mode in [(o, m) for o in operations for m in GenerationMode]:

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(mode))
        def call(case):
            response = case.call_and_validate(base_url=url, checks=[not_a_server_error], timeout=10)
            statuses.append(response.status_code)

        try:
            call()
        except Unsatisfiable:
            # An operation without parameters or body (GET /health) has no invalid input to generate.
            assert mode is GenerationMode.NEGATIVE
    assert runner.is_running(service)
    # The fuzz reached the services with valid and invalid input alike.
    assert len(statuses) >= 2 * len(operations)
    assert any(s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses), sorted(set(statuses))
    # Nothing got as far as a bug: a 4xx is a refusal that names the problem, never a logged traceback.
    assert "Traceback" not in runner.log_tail(service, 100_000), runner.log_tail(service, 40)
    print(f"\n{service}: {len(statuses)} schemathesis cases (positive and negative), 5xx: 0")
