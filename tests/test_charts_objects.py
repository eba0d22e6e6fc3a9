"""Kubernetes objects explained from a real render: pod templates, Service selection, Ingress routes."""

from __future__ import annotations

import copy

import pytest

from labkit.charts.chart import lab_chart
from labkit.charts.helm import Helm
from labkit.charts.manifest import KubeObject, Manifest
from labkit.charts.objects import deployments, ingress_routes, pod_of, selects, services
from labkit.charts.tools import find_helm
from labkit.charts.validation import check_object

pytestmark = pytest.mark.helm


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    if find_helm() is None:
        pytest.skip("no helm on PATH or in .tools/bin: run `make tools`")
    return Helm().template(lab_chart(), set_values={"ingress.enabled": True, "services.order.replicaCount": 0})


def test_selector_matching():
    assert selects({"app": "a"}, {"app": "a", "tier": "x"})
    assert not selects({"app": "a", "tier": "y"}, {"app": "a", "tier": "x"})
    assert not selects({}, {"app": "a"})


def test_deployments_show_desired_state(manifest):
    table = deployments(manifest).set_index("deployment")
    assert table.loc["shop-labkit-order", "replicas"] == 0
    assert table.loc["shop-labkit-customer", "strategy"] == "Recreate"
    assert table.loc["shop-labkit-customer", "volumes"] == "data: claim shop-labkit-customer; tmp: emptyDir"
    assert "app.kubernetes.io/component=customer" in table.loc["shop-labkit-customer", "pod labels"]


def test_each_service_selects_exactly_its_deployments_pods(manifest):
    table = services(manifest).set_index("service")
    for name in ("customer", "order", "history"):
        assert table.loc[f"shop-labkit-{name}", "selects pods of"] == f"shop-labkit-{name}"
        assert table.loc[f"shop-labkit-{name}", "container port"] == "8000"


def test_a_service_whose_selector_matches_nothing_says_so(manifest):
    service = manifest.get("Service", "shop-labkit-order")
    body = copy.deepcopy(service.body)
    body["spec"]["selector"]["app.kubernetes.io/component"] = "orders"
    broken = Manifest((*manifest.of_kind("Deployment"), KubeObject("Service", service.name, "v1", "", body)), "")
    assert services(broken)["selects pods of"].tolist() == ["(nothing: no pod matches)"]


def test_ingress_routes_reach_deployments(manifest):
    table = ingress_routes(manifest).set_index("host")
    assert table.loc["order.labkit.local", "service"] == "shop-labkit-order:http"
    assert table.loc["order.labkit.local", "pods of"] == "shop-labkit-order"
    assert table.loc["order.labkit.local", "path"] == "/ (Prefix)"


def test_a_deployments_pod_template_is_a_valid_pod(manifest):
    pod = pod_of(manifest.get("Deployment", "shop-labkit-history"))
    assert pod["metadata"]["generateName"] == "shop-labkit-history-"
    assert check_object(KubeObject("Pod", "derived", "v1", "derived", pod)).ok
