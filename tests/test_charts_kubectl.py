"""kubectl's own Deployment generator, run client-side: the minimum the chart builds on."""

from __future__ import annotations

import pytest

from labkit.charts.errors import KubectlError
from labkit.charts.kubectl import create_deployment
from labkit.charts.tools import find_tool
from labkit.charts.validation import check_object


def test_kubectl_writes_a_minimal_valid_deployment():
    if find_tool("kubectl") is None:
        pytest.skip("no kubectl on PATH or in .tools/bin: run `make tools`")
    deployment = create_deployment("order", "labkit/services:0.1.0", replicas=2, port=8000)
    assert deployment.key == "Deployment/order"
    spec = deployment.body["spec"]
    assert spec["replicas"] == 2 and spec["selector"] == {"matchLabels": {"app": "order"}}
    container = spec["template"]["spec"]["containers"][0]
    assert container["image"] == "labkit/services:0.1.0" and container["ports"] == [{"containerPort": 8000}]
    assert "readinessProbe" not in container and "securityContext" not in container
    assert check_object(deployment).ok


def test_no_kubectl_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("LABKIT_TOOLS", str(tmp_path / "tools"))
    with pytest.raises(KubectlError, match="make tools"):
        create_deployment("order", "x")
