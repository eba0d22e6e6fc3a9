"""The template beside its values: the whole template text and exactly the values.yaml lines of the keys asked for."""

from __future__ import annotations

import html

from labkit.charts.chart import lab_chart
from labkit.lab.kubernetes.template_view import template_beside_values


def test_the_template_is_shown_whole_and_the_values_only_for_the_keys_asked():
    shown = template_beside_values("templates/service.yaml", ["service", "services.order.enabled"]).data
    template = (lab_chart() / "templates/service.yaml").read_text().rstrip()
    assert html.escape(template) in shown
    assert "  # ClusterIP (inside the cluster), NodePort or LoadBalancer.\n  type: ClusterIP" in shown
    assert "  order:\n    # false leaves this service out of the release.\n    enabled: true" in shown
    assert "customer:" not in shown.split("values.yaml")[-1]  # another service's block is not asked for
    assert "containerPort: 8000" not in shown.split("values.yaml")[-1]
