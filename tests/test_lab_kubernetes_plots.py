"""Figures of the Kubernetes notebooks carry titles and labelled axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from labkit.charts.chart import lab_chart
from labkit.charts.helm import Helm
from labkit.charts.reconciliation import reconcile
from labkit.charts.tools import find_helm
from labkit.lab.kubernetes.plots import plot_object_map, plot_reconciliation


def test_reconciliation_plot_is_labelled_as_a_model():
    figure = plot_reconciliation(reconcile(3, ticks=30, outages={10: 2}))
    axes = figure.axes[0]
    assert "MODEL" in axes.get_title()
    assert axes.get_xlabel() == "control-loop pass (ticks)" and axes.get_ylabel() == "pods (count)"
    plt.close(figure)


@pytest.mark.helm
def test_object_map_draws_every_service_and_deployment():
    if find_helm() is None:
        pytest.skip("no helm on PATH or in .tools/bin: run `make tools`")
    manifest = Helm().template(lab_chart(), set_values={"ingress.enabled": True})
    figure = plot_object_map(manifest)
    texts = {text.get_text() for text in figure.axes[0].texts}
    assert {"customer.labkit.local", "shop-labkit-order", "Service", "Ingress host"} <= texts
    assert figure.axes[0].get_title()
    plt.close(figure)
