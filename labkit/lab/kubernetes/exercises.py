"""Notebook 11's exercise: a Service manifest that reaches the Order service's pods from outside the cluster.

The learner writes the YAML of a NodePort Service. `check_service` judges it against the chart as the real helm
renders it: the strict Kubernetes schemas (oldest and newest version the chart supports), then the same label and
port matching a cluster's controllers make: which Deployments' pods the selector picks, and which container port the
targetPort means.
"""

from __future__ import annotations

from functools import lru_cache

import yaml

from labkit.charts import Helm, lab_chart
from labkit.charts.manifest import KubeObject, Manifest, parse_manifest
from labkit.charts.objects import named_port, selected_workloads
from labkit.charts.validation import NEWEST_KUBERNETES, OLDEST_KUBERNETES, check_object
from labkit.lab.exercises import Case, Failed, Verdict, check_text, expect

SERVICE_NAME = "order-debug"
ORDER_DEPLOYMENT = "shop-labkit-order"
SERVICE_PORT = 80
NODE_PORT = 30080


@lru_cache(maxsize=1)
def chart_render() -> Manifest:
    """The lab chart with its defaults, rendered once by the real helm: the pods the Service must find."""
    return Helm().template(lab_chart())


def _service(text: str) -> KubeObject:
    try:
        objects = parse_manifest(text).objects
    except yaml.YAMLError as error:
        raise Failed(f"this is not YAML: {' '.join(str(error).split())}") from None
    expect(len(objects) == 1, f"write one object (a Service); the text holds {len(objects)}")
    return objects[0]


def _valid(text: str) -> None:
    for version in (OLDEST_KUBERNETES, NEWEST_KUBERNETES):
        verdict = check_object(_service(text), version)
        expect(verdict.ok, f"against Kubernetes {version}: {verdict.sentence()}")


def _names_it(text: str) -> None:
    service = _service(text)
    expect(service.kind == "Service", f"write a Service (kind: Service), not a {service.kind or 'kindless object'}")
    expect(service.name == SERVICE_NAME, f"name it {SERVICE_NAME} (metadata.name), not {service.name!r}")
    kind = service.body["spec"].get("type", "ClusterIP")
    expect(kind == "NodePort", f"spec.type {kind} is reachable only inside the cluster: use NodePort")


def _selects_order_pods(text: str) -> None:
    selector = _service(text).body["spec"].get("selector") or {}
    picked = [d.name for d in selected_workloads(chart_render(), selector)]
    expect(bool(selector), "give spec.selector: without one the Service picks no pods at all")
    expect(
        picked == [ORDER_DEPLOYMENT],
        f"the selector {selector} picks the pods of {picked or 'no Deployment'}: match the labels of "
        f"{ORDER_DEPLOYMENT}'s pod template, enough of them to leave the other services out",
    )


def _forwards_to_the_container(text: str) -> None:
    ports = _service(text).body["spec"].get("ports") or []
    expect(len(ports) == 1, f"give one port under spec.ports; there are {len(ports)}")
    port = ports[0]
    expect(
        port.get("port") == SERVICE_PORT, f"the Service should listen on port {SERVICE_PORT}, not {port.get('port')}"
    )
    target = port.get("targetPort", port["port"])
    order = chart_render().get("Deployment", ORDER_DEPLOYMENT)
    listening = named_port(order, "http")
    expect(
        named_port(order, target) == listening,
        f"targetPort {target!r} is not where the order container listens: give its number ({listening}) or its "
        "port's name (http)",
    )
    expect(port.get("nodePort") == NODE_PORT, f"expose it on nodePort {NODE_PORT}, not {port.get('nodePort')}")


SERVICE_CASES = (
    Case(f"a valid Kubernetes object for {OLDEST_KUBERNETES} and {NEWEST_KUBERNETES} (strict)", _valid),
    Case(f"a NodePort Service named {SERVICE_NAME}", _names_it),
    Case(f"its selector picks the pods of {ORDER_DEPLOYMENT} and no others", _selects_order_pods),
    Case(
        f"port {SERVICE_PORT} forwards to the order container's port, on node port {NODE_PORT}",
        _forwards_to_the_container,
    ),
)


def check_service(text: str) -> Verdict:
    """Judge a Service manifest's YAML against the spec: passed, or the first case it fails with a hint."""
    return check_text(text, SERVICE_CASES, "the manifest's YAML")
