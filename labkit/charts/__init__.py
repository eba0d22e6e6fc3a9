"""Kubernetes and Helm: the helm binary, the lab chart rendered, linted and validated, a release ledger (a model).

    from labkit.charts import Helm, lab_chart, validate_manifest
    helm = Helm()                                   # helm from PATH, else the pinned one in .tools/bin
    manifest = helm.template(lab_chart(), set_values={"services.order.replicaCount": 0})
    validate_manifest(manifest).raise_for_failures()

Names are imported on first use, so `labkit doctor` (which needs only `find_helm`) does not load pandas and the
Kubernetes schemas.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module that defines it.
EXPORTS: dict[str, str] = {
    "NEWEST_KUBERNETES": "labkit.charts.validation",
    "OLDEST_KUBERNETES": "labkit.charts.validation",
    "ChartsError": "labkit.charts.errors",
    "ChecksumMismatchError": "labkit.charts.errors",
    "Helm": "labkit.charts.helm",
    "HelmCommandError": "labkit.charts.errors",
    "HelmNotFoundError": "labkit.charts.errors",
    "KubeObject": "labkit.charts.manifest",
    "LedgerError": "labkit.charts.errors",
    "LintResult": "labkit.charts.helm",
    "Manifest": "labkit.charts.manifest",
    "ManifestInvalidError": "labkit.charts.errors",
    "ReleaseLedger": "labkit.charts.ledger",
    "RenderDiff": "labkit.charts.diff",
    "RenderError": "labkit.charts.errors",
    "Revision": "labkit.charts.ledger",
    "ToolInstallError": "labkit.charts.errors",
    "ValidationReport": "labkit.charts.validation",
    "ValuesRejectedError": "labkit.charts.errors",
    "chart_fields": "labkit.charts.chart",
    "chart_layout": "labkit.charts.chart",
    "chart_metadata": "labkit.charts.chart",
    "compare_with_baseline": "labkit.charts.comparison",
    "Comparison": "labkit.charts.comparison",
    "convergence": "labkit.charts.reconciliation",
    "copy_chart": "labkit.charts.chart",
    "diff_renders": "labkit.charts.diff",
    "documented_overrides": "labkit.charts.chart",
    "find_helm": "labkit.charts.tools",
    "find_tool": "labkit.charts.tools",
    "install": "labkit.charts.tools",
    "lab_chart": "labkit.charts.chart",
    "parse_manifest": "labkit.charts.manifest",
    "reconcile": "labkit.charts.reconciliation",
    "unified_diff": "labkit.charts.diff",
    "validate_manifest": "labkit.charts.validation",
    "values_reference": "labkit.charts.chart",
    "values_table": "labkit.charts.chart",
}

__all__ = sorted(EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in EXPORTS:
        raise AttributeError(f"module 'labkit.charts' has no attribute {name!r}")
    return getattr(importlib.import_module(EXPORTS[name]), name)
