"""Notebooks 12 and 13's exercises, judged by the real helm on the lab's chart.

Notebook 12: a values override for a staging install. `check_values` renders the chart with it once (`helm template`,
so values.schema.json and the chart's own `fail` checks apply) and reads the objects that come out.
Notebook 13: a new template, a PodDisruptionBudget for every service that runs several pods. `check_template` adds
it to a copy of the chart, runs `helm lint --strict`, and renders it with one pod per service and with the history
view scaled out.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labkit.charts import Helm, copy_chart, lab_chart
from labkit.charts.errors import HelmCommandError
from labkit.charts.manifest import KubeObject, Manifest
from labkit.charts.objects import pod_template, selected_workloads, volume_sources
from labkit.charts.validation import NEWEST_KUBERNETES, OLDEST_KUBERNETES, validate_manifest
from labkit.lab.exercises import Case, Failed, Verdict, check, expect, refuse


@dataclass(frozen=True)
class Rendered:
    """What helm made of an answer: the manifest(s), or helm's refusal (the first case reports it)."""

    renders: Mapping[str, Manifest]
    refusal: str = ""
    only_from: str = ""  # validate only the objects of this template (the rest of the chart is tested on its own)

    def manifest(self, name: str = "answer") -> Manifest:
        if self.refusal:
            raise Failed(self.refusal)
        return self.renders[name]


def _accepted(rendered: Rendered) -> None:
    for name in rendered.renders or ("answer",):
        manifest = rendered.manifest(name)
        judged = Manifest(tuple(o for o in manifest if o.source.endswith(rendered.only_from)), manifest.text)
        for version in (OLDEST_KUBERNETES, NEWEST_KUBERNETES):
            report = validate_manifest(judged, version)
            expect(report.ok, report.summary())


def _judged(answer: Any, cases: tuple[Case, ...], render: Callable[[Any], Rendered]) -> Verdict:
    try:
        rendered = render(answer)
    except Failed as refused:
        rendered = Rendered({}, str(refused))
    return check(rendered, cases)


# ---- notebook 12: a values override for a staging install ------------------------------------------------------------

STAGING_HOST = "order.staging.example.org"
STAGING_TAG = "0.2.0"


def _render_values(values: Mapping[str, Any]) -> Rendered:
    try:
        return Rendered({"answer": Helm().template(lab_chart(), values=[values])})
    except HelmCommandError as refused:
        raise Failed(str(refused)) from None


def _deployment(rendered: Rendered, service: str) -> KubeObject:
    manifest = rendered.manifest()
    name = f"shop-labkit-{service}"
    deployments = [d for d in manifest.of_kind("Deployment") if d.name == name]
    expect(bool(deployments), f"the render has no Deployment {name}: keep services.{service}.enabled true")
    return deployments[0]


def _logs_debug(rendered: Rendered) -> None:
    config = rendered.manifest().get("ConfigMap", "shop-labkit-config").body["data"]
    level = config.get("LABKIT_LOG_LEVEL")
    expect(level == "DEBUG", f"the services' ConfigMap says LABKIT_LOG_LEVEL={level}: set config.logLevel")


def _runs_the_new_image(rendered: Rendered) -> None:
    for service in ("customer", "order", "history"):
        image = pod_template(_deployment(rendered, service))["spec"]["containers"][0]["image"]
        wanted = f"labkit/services:{STAGING_TAG}"
        expect(image == wanted, f"{service} runs {image}, not {wanted}: set the image's tag")


def _replicas(rendered: Rendered, service: str) -> int:
    return int(_deployment(rendered, service).body["spec"].get("replicas", 1))


def _history_scaled_out(rendered: Rendered) -> None:
    replicas = _replicas(rendered, "history")
    expect(replicas == 3, f"the history view runs {replicas} pod(s), not 3")


def _writers_keep_their_claims(rendered: Rendered) -> None:
    for service in ("customer", "order"):
        replicas = _replicas(rendered, service)
        expect(replicas == 1, f"{service} runs {replicas} pods: its database has a single writer, keep 1")
        volumes = volume_sources(pod_template(_deployment(rendered, service))["spec"])
        expect("data: claim" in volumes, f"{service}'s database is on {volumes}: keep it on its claim")


def _reachable_from_outside(rendered: Rendered) -> None:
    ingresses = rendered.manifest().of_kind("Ingress")
    expect(bool(ingresses), "the render has no Ingress: switch it on (ingress.enabled)")
    spec = ingresses[0].body["spec"]
    hosts = [rule.get("host") for rule in spec.get("rules", [])]
    expect(STAGING_HOST in hosts, f"the Ingress routes {hosts}: set the base host so the order one is {STAGING_HOST}")
    expect(spec.get("ingressClassName") == "nginx", "the staging cluster's ingress controller is nginx: set its class")


VALUES_CASES = (
    Case("helm renders it: the schema and the chart's checks accept it, every object valid (strict)", _accepted),
    Case("every service logs at DEBUG", _logs_debug),
    Case(f"every service runs labkit/services:{STAGING_TAG}", _runs_the_new_image),
    Case("the history view runs 3 pods", _history_scaled_out),
    Case("customer and order keep one pod each, their database on its claim", _writers_keep_their_claims),
    Case(f"the order service answers at {STAGING_HOST} through an nginx Ingress", _reachable_from_outside),
)


def _values_of(answer: Mapping[str, Any] | str) -> Mapping[str, Any]:
    if isinstance(answer, str):
        try:
            answer = yaml.safe_load(answer)
        except yaml.YAMLError as error:
            raise Failed(f"this is not YAML: {' '.join(str(error).split())}") from None
    if not isinstance(answer, Mapping):
        raise Failed(f"give the values as a mapping or a values file's YAML text (got {answer!r})")
    return answer


def check_values(answer: Mapping[str, Any] | str) -> Verdict:
    """Judge a values override (a mapping, or a values file's YAML): passed, or the first case it fails with a hint."""
    try:
        values = _values_of(answer)
    except Failed as refused:
        return refuse(str(refused))
    return _judged(values, VALUES_CASES, _render_values)


# ---- notebook 13: a PodDisruptionBudget template ----------------------------------------------------------------------

PDB_TEMPLATE = "templates/poddisruptionbudget.yaml"
HISTORY_PODS = 3
SCALED_OUT = {"services": {"history": {"replicaCount": HISTORY_PODS, "persistence": {"enabled": False}}}}


def _render_template(text: str) -> Rendered:
    helm = Helm()
    with tempfile.TemporaryDirectory(prefix="labkit-exercise-") as scratch:
        chart = copy_chart(Path(scratch))
        (chart / PDB_TEMPLATE).write_text(text)
        lint = helm.lint(chart, strict=True)
        if not lint.ok:
            errors = [m.text for m in lint.messages if m.severity == "ERROR"] or [lint.output.strip()]
            raise Failed(f"helm lint --strict fails: {'; '.join(errors)}")
        try:
            renders = {"defaults": helm.template(chart), "scaled out": helm.template(chart, values=[SCALED_OUT])}
        except HelmCommandError as refused:
            raise Failed(str(refused)) from None
    return Rendered(renders, only_from=PDB_TEMPLATE)


def _budgets(rendered: Rendered, name: str) -> list[KubeObject]:
    return rendered.manifest(name).of_kind("PodDisruptionBudget")


def _none_for_single_pods(rendered: Rendered) -> None:
    budgets = [b.name for b in _budgets(rendered, "defaults")]
    expect(
        not budgets,
        f"with one pod per service the template renders {budgets}: a budget over a single pod blocks every node "
        "drain; render one only when the service has more than one replica",
    )


def _one_for_the_history_view(rendered: Rendered) -> None:
    budgets = [b.name for b in _budgets(rendered, "scaled out")]
    expect(
        budgets == ["shop-labkit-history"],
        f"with the history view at {HISTORY_PODS} pods the template renders {budgets or 'no PodDisruptionBudget'}; expected one, "
        'named like the service\'s other objects (include "labkit.componentName")',
    )


def _selects_history_pods(rendered: Rendered) -> None:
    budget = _budgets(rendered, "scaled out")[0]
    selector = (budget.body["spec"].get("selector") or {}).get("matchLabels") or {}
    picked = [d.name for d in selected_workloads(rendered.manifest("scaled out"), selector)]
    expect(
        picked == ["shop-labkit-history"],
        f"spec.selector.matchLabels {selector} picks the pods of {picked or 'no Deployment'}, not only the history "
        'view\'s: use include "labkit.componentSelectorLabels"',
    )


def _keeps_one_pod(rendered: Rendered) -> None:
    spec = _budgets(rendered, "scaled out")[0].body["spec"]
    keeps = spec.get("minAvailable")
    if keeps is None and isinstance(spec.get("maxUnavailable"), int):
        keeps = HISTORY_PODS - spec["maxUnavailable"]
    expect(
        isinstance(keeps, int) and 1 <= keeps < HISTORY_PODS,
        f"the budget ({ {k: v for k, v in spec.items() if k != 'selector'} }) should keep at least one of the {HISTORY_PODS} pods "
        "and let at least one go: minAvailable: 1 (a number, not a percentage)",
    )


TEMPLATE_CASES = (
    Case("helm lint --strict passes, and what the template renders is valid Kubernetes (strict)", _accepted),
    Case("one pod per service (the defaults): no PodDisruptionBudget", _none_for_single_pods),
    Case(f"history at {HISTORY_PODS} pods: one PodDisruptionBudget, shop-labkit-history", _one_for_the_history_view),
    Case("its selector picks the history pods and no others", _selects_history_pods),
    Case("it keeps at least one pod up and lets at least one go", _keeps_one_pod),
)


def check_template(text: str) -> Verdict:
    """Judge the text of templates/poddisruptionbudget.yaml: passed, or the first case it fails with a hint."""
    if not isinstance(text, str) or not text.strip():
        return refuse(f"give the template's text as a string (got {text!r})")
    return _judged(text, TEMPLATE_CASES, _render_template)
