"""Before/after comparisons of the lab chart, as notebook 13 shows each trick."""

from __future__ import annotations

import pytest

from labkit.charts.chart import lab_chart
from labkit.charts.comparison import compare_with_baseline

pytestmark = pytest.mark.helm


def test_a_config_change_is_validated_and_diffed_against_the_defaults(helm):
    comparison = compare_with_baseline({"config.logLevel": "DEBUG"}, helm=helm)
    lines = comparison.text().splitlines()
    assert lines[0] == "12 objects valid against Kubernetes 1.37 (strict schemas)"
    assert lines[1] == "ConfigMap/shop-labkit-config: data.LABKIT_LOG_LEVEL INFO -> DEBUG"
    assert comparison.diff.objects_changed == [
        "ConfigMap/shop-labkit-config",
        "Deployment/shop-labkit-customer",
        "Deployment/shop-labkit-history",
        "Deployment/shop-labkit-order",
    ]


def test_a_given_baseline_is_used_and_value_files_apply(helm):
    baseline = helm.template(lab_chart(), set_values={"ingress.enabled": True})
    comparison = compare_with_baseline(values=[{"ingress": {"enabled": True}}], helm=helm, baseline=baseline)
    assert comparison.report.ok and not comparison.diff
    assert comparison.text().endswith("no differences")
