"""labkit.charts.helm drives the real helm: arguments, values precedence, lint findings, package, dependencies."""

from __future__ import annotations

import doctest

import pytest
import yaml

from labkit.charts import helm as helm_module
from labkit.charts.chart import copy_chart, lab_chart
from labkit.charts.errors import HelmCommandError, HelmNotFoundError
from labkit.charts.helm import Helm, format_set_value, schema_problems, set_arguments

pytestmark = pytest.mark.helm


def test_docstring_examples_hold():
    assert doctest.testmod(helm_module).failed == 0


def test_set_arguments_from_a_mapping_and_from_strings():
    assert set_arguments({"a.b": True, "n": 2, "x": None}) == ["--set", "a.b=true", "--set", "n=2", "--set", "x=null"]
    assert set_arguments(["replicaCount=abc"]) == ["--set", "replicaCount=abc"]
    assert set_arguments(None) == []
    assert format_set_value(False) == "false"


def test_schema_problems_read_helm_3_and_helm_4_wording():
    helm4 = (
        "Error: values don't meet the specifications:\nlabkit:\n- at '/config/logLevel': value must be one of 'INFO'\n"
    )
    assert schema_problems(helm4, "labkit") == ("config.logLevel: value must be one of 'INFO'",)
    helm3 = (
        "Error: values don't meet the specifications:\n- replicaCount: Invalid type. Expected: integer, given: string"
    )
    assert schema_problems(helm3) == ("replicaCount: Invalid type. Expected: integer, given: string",)


def test_no_helm_anywhere_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("LABKIT_TOOLS", str(tmp_path / "tools"))
    with pytest.raises(HelmNotFoundError, match="make tools"):
        Helm()


def test_later_values_win_and_set_wins_over_files(helm, tmp_path):
    first = tmp_path / "first.yaml"
    first.write_text("services:\n  order:\n    replicaCount: 0\nconfig:\n  logLevel: DEBUG\n")
    manifest = helm.template(lab_chart(), values=[first, {"config": {"logLevel": "ERROR"}}])
    assert manifest.get("Deployment", "shop-labkit-order").body["spec"]["replicas"] == 0
    assert manifest.get("ConfigMap", "shop-labkit-config").body["data"]["LABKIT_LOG_LEVEL"] == "ERROR"
    overridden = helm.template(lab_chart(), values=[first], set_values={"services.order.replicaCount": 1})
    assert overridden.get("Deployment", "shop-labkit-order").body["spec"]["replicas"] == 1


def test_release_and_namespace_name_the_objects(helm):
    manifest = helm.template(lab_chart(), release="labkit", namespace="team-a", show_only=["templates/service.yaml"])
    assert manifest.keys() == ["Service/labkit-customer", "Service/labkit-history", "Service/labkit-order"]
    url = helm.template(lab_chart(), release="labkit").get("ConfigMap", "labkit-config").body["data"]
    assert url["LABKIT_ORDER_URL"] == "http://labkit-order:8000"


def test_lint_reports_findings_of_a_broken_chart(helm, tmp_path):
    chart = copy_chart(tmp_path)
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text())
    del metadata["icon"]
    metadata["version"] = "one"
    (chart / "Chart.yaml").write_text(yaml.safe_dump(metadata))
    result = helm.lint(chart, strict=True)
    assert not result.ok
    severities = {(m.severity, m.where) for m in result.messages}
    assert ("ERROR", "Chart.yaml") in severities and ("INFO", "Chart.yaml") in severities


def test_dependency_update_vendors_the_subchart_and_writes_the_lock(helm, tmp_path):
    chart = copy_chart(tmp_path)
    before = helm.template(chart, set_values={"lab.enabled": True}).keys()
    output = helm.dependency_update(chart)
    assert "Saving 3 charts" in output
    assert all((chart / "charts" / f"{name}-0.1.0.tgz").exists() for name in ("lab", "postgres", "nats"))
    lock = yaml.safe_load((chart / "Chart.lock").read_text())
    assert [d["name"] for d in lock["dependencies"]] == ["lab", "postgres", "nats"]
    assert lock["digest"].startswith("sha256:")
    assert helm.template(chart, set_values={"lab.enabled": True}).keys() == before


def test_create_scaffolds_a_chart_that_lints(helm, tmp_path):
    chart = helm.create("starter", tmp_path)
    assert (chart / "templates" / "_helpers.tpl").exists() and (chart / "values.yaml").exists()
    assert helm.lint(chart).ok
    assert helm.show_chart(chart)["name"] == "starter"


def test_a_missing_chart_fails_with_helms_reason(helm, tmp_path):
    with pytest.raises(HelmCommandError, match=r"helm template failed: .*no-such-chart"):
        helm.template(tmp_path / "no-such-chart")


def test_version_and_major(helm):
    assert helm.version().startswith("v")
    assert helm.major_version() >= 3
