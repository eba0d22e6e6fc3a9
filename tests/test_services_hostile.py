"""Hostile values at the three running services, sent as raw bytes: no 5xx, and no traceback in any service's log.

Schemathesis (test_services_fuzz.py) sends what a schema allows or just misses; these are the values a JSON parser
takes and the rest of a service may not: NaN and Infinity literals in numeric fields, lone surrogates in strings,
moments at the ends of the calendar with offsets, integers beyond 64 bits, deep nesting, bodies of 10 MB. Each
operation and field comes from the services' own OpenAPI documents, so a new endpoint is covered as it appears.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.services.app import MAX_BODY_BYTES
from labkit.services.process_runner import ServiceRunner

pytestmark = pytest.mark.slow

EXAMPLES = 200  # generated hostile requests (on top of the fixed ones): seconds, on loopback
SENT: list[int] = []  # every status answered, for the count the acceptance asks for

# Raw JSON text a parser accepts that is no ordinary value: json.loads takes the first three, the rest are values
# of the wrong kind or size.
HOSTILE_LITERALS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    str(2**64),
    str(-(2**70)),
    "1.5",
    "true",
    "null",
    '"\\ud800"',
    '"a\\udfffb"',
    '"\\u0000"',
    '"' + "x" * 100_000 + '"',
    "[" * 5000 + "]" * 5000,
    '{"a": ' * 2000 + "1" + "}" * 2000,
    "[]",
    "{}",
]
HOSTILE_TEXT = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01",
    "9999-12-31T23:59:59.999999+23:59",
    "2025-02-30",
    "NaN",
    "Infinity",
    "-1",
    str(2**64),
    "\ud800",
    "\x00",
    "%",
    "x" * 10_000,
]


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    runner = ServiceRunner.up(tmp_path_factory.mktemp("hostile"), env={"LABKIT_FEED_MAX_WAIT_S": "0.05"})
    runner.client.create_customer("customer-7", "Ada Lovelace", 1000)
    runner.client.place_order("order-101", "customer-7", 250)
    yield runner
    runner.stop()


@pytest.fixture(scope="module")
def operations(runner) -> list[dict[str, Any]]:
    """Every operation of the three services: where, its query parameters and its body's fields."""
    found = []
    for service, url in runner.urls.items():
        spec = httpx.get(f"{url}/openapi.json").json()
        schemas = spec.get("components", {}).get("schemas", {})
        for path, methods in spec["paths"].items():
            for method, operation in methods.items():
                params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
                body = (operation.get("requestBody") or {}).get("content", {}).get("application/json", {})
                fields = _fields(body.get("schema", {}), schemas)
                concrete = path.replace("{customer_id}", "customer-7").replace("{order_id}", "order-101")
                found.append({"service": service, "method": method.upper(), "path": concrete, "query": params,
                              "fields": fields, "body": bool(body)})  # fmt: skip
    assert len(found) >= 10
    return found


def _fields(schema: dict[str, Any], schemas: dict[str, Any]) -> list[str]:
    for option in schema.get("anyOf", [schema]):
        ref = option.get("$ref")
        if ref:
            return list(schemas[ref.rsplit("/", 1)[1]].get("properties", {}))
    return []


def _send(runner: ServiceRunner, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    response = httpx.request(method, f"{runner.urls[service]}{path}", timeout=30, **kwargs)
    SENT.append(response.status_code)
    assert response.status_code < 500, (method, path, kwargs.get("content", b"")[:200], response.text[:300])
    return response


def _body(fields: list[str], field: str, literal: str) -> bytes:
    """A JSON object of ordinary values for `fields`, with `literal` as the raw text of `field`."""
    ordinary = {"customer_id": "customer-7", "name": "Ada", "credit_limit": 10, "order_id": "order-9",
                "order_total": 5, "reason": "changed my mind", "customer_ids": ["customer-7"]}  # fmt: skip
    parts = [
        f"{json.dumps(name)}: {literal if name == field else json.dumps(ordinary.get(name, 1))}" for name in fields
    ]
    return ("{" + ", ".join(parts) + "}").encode()


def test_every_field_and_parameter_meets_every_hostile_value(runner, operations):
    sent = 0
    for operation in operations:
        for field in operation["fields"]:
            for literal in HOSTILE_LITERALS:
                _send(runner, operation["service"], operation["method"], operation["path"],
                      content=_body(operation["fields"], field, literal),
                      headers={"content-type": "application/json"})  # fmt: skip
                sent += 1
        for name in operation["query"]:
            for value in HOSTILE_TEXT:
                _send(runner, operation["service"], operation["method"], f"{operation['path']}?{name}={_quoted(value)}")
                sent += 1
    fields = sum(len(o["fields"]) for o in operations)
    parameters = sum(len(o["query"]) for o in operations)
    assert sent == fields * len(HOSTILE_LITERALS) + parameters * len(HOSTILE_TEXT) >= 300
    print(f"\nhostile values sent: {sent} ({fields} body fields, {parameters} query parameters), 5xx: 0")
    for service in runner.urls:
        assert runner.is_running(service)
        assert "Traceback" not in runner.log_tail(service, 100_000), runner.log_tail(service, 60)


def test_a_body_of_ten_megabytes_is_refused_before_it_is_read(runner):
    huge = b'{"name": "' + b"a" * 10_000_000 + b'", "credit_limit": 5}'
    answer = _send(runner, "customer", "POST", "/customers", content=huge, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and str(MAX_BODY_BYTES) in answer.json()["detail"]

    def chunks():  # no Content-Length: the body streams in and is cut off at the limit
        for _ in range(100):
            yield b"a" * 100_000

    answer = _send(runner, "order", "POST", "/orders", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413


def test_a_refusal_names_the_field_and_never_echoes_the_value_whole(runner):
    answer = _send(runner, "customer", "POST", "/customers", content=b'{"name": "Ada", "credit_limit": NaN}',
                   headers={"content-type": "application/json"})  # fmt: skip
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "credit_limit"] and problem["input"] == "nan"
    long_name = '{"name": "' + "b" * 300 + '", "credit_limit": 5}'
    answer = _send(runner, "customer", "POST", "/customers", content=long_name.encode(),
                   headers={"content-type": "application/json"})  # fmt: skip
    assert answer.status_code == 422 and len(answer.json()["detail"][0]["input"]) <= 80


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(exclude_categories=()), max_size=30),  # lone surrogates included
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def test_generated_hostile_requests_never_get_a_server_error(runner, operations):
    sent: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data(), value=json_values, moment=st.datetimes(timezones=st.timezones()))
    def request(data, value, moment):
        operation = data.draw(st.sampled_from([o for o in operations if o["fields"] or o["query"]]))
        if operation["fields"]:
            field = data.draw(st.sampled_from(operation["fields"]))
            # allow_nan: NaN and Infinity go out as the literals a client may send; surrogates as \\u escapes.
            body = _body(operation["fields"], field, json.dumps(value, allow_nan=True))
            sent.append(_send(runner, operation["service"], operation["method"], operation["path"], content=body,
                              headers={"content-type": "application/json"}).status_code)  # fmt: skip
        if operation["query"]:
            name = data.draw(st.sampled_from(operation["query"]))
            text = data.draw(st.sampled_from([moment.isoformat(), json.dumps(value, allow_nan=True)]))
            path = f"{operation['path']}?{name}={_quoted(text)}"
            sent.append(_send(runner, operation["service"], operation["method"], path).status_code)

    request()
    assert len(sent) >= EXAMPLES and all(status < 500 for status in sent)
    print(f"\ngenerated hostile requests: {len(sent)}, 5xx: 0; all hostile requests so far: {len(SENT)}")
    for service in runner.urls:
        assert "Traceback" not in runner.log_tail(service, 100_000), runner.log_tail(service, 60)


def _quoted(text: str) -> str:
    """A query value as a hostile client sends it: UTF-8 percent-escapes, a lone surrogate's bytes included."""
    return quote(text, safe="", errors="surrogatepass")
