"""The values playground: the plain function behind it, and the widget re-rendering when a control moves."""

from __future__ import annotations

import pytest

from labkit.charts.chart import lab_chart
from labkit.lab.kubernetes.widgets import playground_render, playground_settings, values_playground

pytestmark = pytest.mark.helm
DEFAULTS = {
    "replica_count": "1",
    "history_pods": 1,
    "history_on_claim": True,
    "log_level": "INFO",
    "ingress": False,
    "lab": False,
    "tag": "",
}


def test_settings_are_set_strings_as_typed():
    settings = playground_settings(**{**DEFAULTS, "replica_count": "abc", "tag": "0.2.0"})
    assert settings[0] == "replicaCount=abc" and settings[-1] == "image.tag=0.2.0"
    assert "lab.enabled=false" in settings


def test_defaults_render_valid_with_no_changes(helm):
    baseline = helm.template(lab_chart())
    result = playground_render(playground_settings(**DEFAULTS), helm=helm, baseline=baseline)
    assert result.ok and result.summary == "OK: 12 objects valid against Kubernetes 1.37 (strict schemas)"
    assert result.changes is not None and not result.changes
    assert result.workloads["replicas"].tolist() == [1, 1, 1]


def test_a_typed_word_for_replicas_is_refused(helm):
    result = playground_render(playground_settings(**{**DEFAULTS, "replica_count": "abc"}), helm=helm)
    assert not result.ok
    assert result.summary == "REFUSED by values.schema.json: replicaCount: got string, want integer"
    assert "REFUSED" in result.to_html()


def test_scaling_history_on_a_claim_fails_and_on_emptydir_works(helm):
    failed = playground_render(playground_settings(**{**DEFAULTS, "history_pods": 3}), helm=helm)
    assert not failed.ok and failed.summary.startswith("RENDER FAILED") and "single writer" in failed.summary
    baseline = helm.template(lab_chart())
    scaled = playground_render(
        playground_settings(**{**DEFAULTS, "history_pods": 3, "history_on_claim": False, "ingress": True}),
        helm=helm,
        baseline=baseline,
    )
    assert scaled.ok
    assert "Deployment/shop-labkit-history: spec.replicas 1 -> 3" in scaled.changes.text()
    assert "Ingress/shop-labkit" in scaled.workloads["object"].tolist()


def test_the_widget_rerenders_when_a_control_moves(helm):
    widget = values_playground(helm=helm)
    columns, command, output = widget.children
    slider = columns.children[0].children[1]
    claim = columns.children[0].children[2]
    before = output.value
    assert "OK: 12 objects valid" in before
    claim.value = False
    slider.value = 2
    assert output.value != before and "spec.replicas 1 -&gt; 2" in output.value
    assert "services.history.replicaCount=2" in command.value
