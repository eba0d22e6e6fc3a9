"""The values playground: controls over a few chart values; each change re-renders with helm and re-validates.

The widget is a thin front end over `playground_render`, a plain function (unit-tested) that takes --set strings
exactly as typed on a command line, so a typed replicaCount of "abc" reaches values.schema.json as a string and is
refused the way `helm install --set replicaCount=abc` is.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from labkit.charts.chart import lab_chart
from labkit.charts.diff import RenderDiff, diff_renders
from labkit.charts.errors import HelmCommandError, ValuesRejectedError
from labkit.charts.helm import Helm
from labkit.charts.manifest import Manifest
from labkit.charts.validation import NEWEST_KUBERNETES, validate_manifest


@dataclass(frozen=True)
class PlaygroundResult:
    """One render of the playground: a one-line verdict, the workloads, and the changes from the defaults."""

    ok: bool
    summary: str
    workloads: pd.DataFrame
    changes: RenderDiff | None

    def to_html(self, *, max_changes: int = 12) -> str:
        """The verdict, the workloads table and the first changes, as the widget shows them."""
        colour = "#1b5e20" if self.ok else "#b71c1c"
        parts = [f'<p class="labkit-playground-summary" style="color:{colour}"><b>{html.escape(self.summary)}</b></p>']
        if not self.workloads.empty:
            parts.append(self.workloads.to_html(index=False))
        if self.changes is not None:
            lines = [html.escape(c.sentence()) for c in self.changes.changes[:max_changes]]
            more = len(self.changes.changes) - max_changes
            if more > 0:
                lines.append(f"... and {more} more")
            parts.append("<p>Changes from the chart's defaults:</p><pre>" + ("\n".join(lines) or "none") + "</pre>")
        return "\n".join(parts)


def workloads(manifest: Manifest) -> pd.DataFrame:
    """Deployments and claims of a render with the facts the playground's controls change."""
    rows = []
    for deployment in manifest.of_kind("Deployment"):
        spec = deployment.body["spec"]
        container = spec["template"]["spec"]["containers"][0]
        data = next((v for v in spec["template"]["spec"].get("volumes", []) if v["name"] == "data"), {})
        rows.append(
            {
                "object": deployment.key,
                "replicas": spec.get("replicas", 1),
                "image": container["image"],
                "database or routes": data.get("persistentVolumeClaim", {}).get(
                    "claimName", "emptyDir" if data else "-"
                ),
            }
        )
    for ingress in manifest.of_kind("Ingress"):
        hosts = ", ".join(rule.get("host", "*") for rule in ingress.body["spec"].get("rules", []))
        rows.append({"object": ingress.key, "replicas": "", "image": "", "database or routes": f"routes {hosts}"})
    return pd.DataFrame(rows, columns=["object", "replicas", "image", "database or routes"])


def playground_render(
    set_values: Sequence[str],
    *,
    helm: Helm | None = None,
    chart: Path | None = None,
    baseline: Manifest | None = None,
    kubernetes_version: str = NEWEST_KUBERNETES,
) -> PlaygroundResult:
    """Render with these --set strings, validate strictly, and compare with `baseline` (the defaults' render)."""
    helm = helm or Helm()
    chart = chart or lab_chart()
    try:
        manifest = helm.template(chart, set_values=list(set_values))
    except ValuesRejectedError as exc:
        return PlaygroundResult(
            False, "REFUSED by values.schema.json: " + "; ".join(exc.problems), pd.DataFrame(), None
        )
    except HelmCommandError as exc:
        return PlaygroundResult(False, f"RENDER FAILED: {exc}", pd.DataFrame(), None)
    report = validate_manifest(manifest, kubernetes_version)
    verdict = "OK: " if report.ok else "INVALID: "
    changes = diff_renders(baseline, manifest) if baseline is not None else None
    return PlaygroundResult(report.ok, verdict + report.summary(), workloads(manifest), changes)


def playground_settings(
    *, replica_count: str, history_pods: int, history_on_claim: bool, log_level: str, ingress: bool, lab: bool, tag: str
) -> list[str]:
    """The controls' state as --set strings (replicaCount passed as typed, so helm decides its type)."""
    settings = [
        f"replicaCount={replica_count}",
        f"services.history.replicaCount={history_pods}",
        f"services.history.persistence.enabled={str(history_on_claim).lower()}",
        f"config.logLevel={log_level}",
        f"ingress.enabled={str(ingress).lower()}",
        f"lab.enabled={str(lab).lower()}",
    ]
    if tag:
        settings.append(f"image.tag={tag}")
    return settings


def values_playground(*, helm: Helm | None = None, chart: Path | None = None):
    """The playground widget: controls on the left, the verdict, workloads and changes re-rendered on each change."""
    import ipywidgets as widgets

    helm = helm or Helm()
    chart = chart or lab_chart()
    baseline = helm.template(chart)
    style = {"description_width": "150px"}
    controls = {
        "replica_count": widgets.Text(value="1", description="replicaCount", style=style),
        "history_pods": widgets.IntSlider(value=1, min=0, max=5, description="history pods", style=style),
        "history_on_claim": widgets.Checkbox(value=True, description="history on a claim", style=style),
        "log_level": widgets.Dropdown(
            options=["DEBUG", "INFO", "WARNING", "ERROR"], value="INFO", description="config.logLevel", style=style
        ),
        "ingress": widgets.Checkbox(value=False, description="ingress.enabled", style=style),
        "lab": widgets.Checkbox(value=False, description="lab.enabled", style=style),
        "tag": widgets.Text(value="", description="image.tag", style=style),
    }
    command = widgets.HTML()
    output = widgets.HTML()

    def refresh(_change: object = None) -> None:
        settings = playground_settings(**{name: control.value for name, control in controls.items()})
        flags = " ".join(f"--set {setting}" for setting in settings)
        command.value = f"<code>helm template shop docker/chart/labkit {html.escape(flags)}</code>"
        output.value = playground_render(settings, helm=helm, chart=chart, baseline=baseline).to_html()

    for control in controls.values():
        control.observe(refresh, names="value")
    refresh()
    return widgets.VBox(
        [
            widgets.HBox([widgets.VBox(list(controls.values())[:4]), widgets.VBox(list(controls.values())[4:])]),
            command,
            output,
        ]
    )
