"""A local model of Helm's release history: install, upgrade, rollback and uninstall, revision by revision.

THIS IS A MODEL. There is no Kubernetes cluster here, so nothing is applied anywhere. Each operation renders the chart
with the real helm (`helm template`, so values.schema.json and the templates' checks apply) and records a revision the
way Helm 3 and 4 keep one in a Secret of the release's namespace (sh.helm.release.v1.NAME.vN): revision number,
status, chart and app version, the user-supplied values, the rendered manifest and a description. Each revision also
records the helm command that does the same against a real cluster.

What the model follows from Helm: revisions only grow (a rollback is a new revision carrying an old one's values and
manifest); the newest successful revision is `deployed` and the ones before it `superseded`; `helm upgrade` without
--reuse-values starts again from the chart's defaults plus the values you pass (and reuses the last values only if you
pass none); a render error stops the operation before any revision is written. What it leaves out: the cluster's
answer (a failed apply marks a revision `failed` on a real cluster), hooks' results, waiting for readiness, and
--reuse-values keeping the previous chart's defaults.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.charts.chart import chart_metadata, lab_chart
from labkit.charts.diff import RenderDiff, diff_renders
from labkit.charts.errors import LedgerError
from labkit.charts.helm import DEFAULT_NAMESPACE, Helm, format_set_value
from labkit.charts.manifest import Manifest
from labkit.paths import relative_to_repo

DEPLOYED = "deployed"
SUPERSEDED = "superseded"
UNINSTALLED = "uninstalled"


@dataclass(frozen=True)
class Revision:
    """One entry of a release's history."""

    number: int
    status: str
    chart: str
    app_version: str
    values: dict[str, Any] = field(repr=False)
    manifest: Manifest = field(repr=False)
    description: str = ""
    command: str = ""


def nested(set_values: Mapping[str, Any]) -> dict[str, Any]:
    """--set style dotted keys as nested values: {"a.b": 1} -> {"a": {"b": 1}}."""
    tree: dict[str, Any] = {}
    for dotted, value in set_values.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`overrides` deep-merged onto a copy of `base` (maps merge, everything else is replaced), as Helm merges values."""
    result = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def set_flags(set_values: Mapping[str, Any]) -> str:
    return "".join(f" --set {key}={format_set_value(value)}" for key, value in set_values.items())


class ReleaseLedger:
    """The history of one release, kept in memory (a model: no cluster is touched)."""

    def __init__(
        self,
        name: str = "shop",
        *,
        helm: Helm | None = None,
        chart: Path | None = None,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        self.name = name
        self.helm = helm or Helm()
        self.chart = chart or lab_chart()
        self.namespace = namespace
        self.revisions: list[Revision] = []

    @property
    def current(self) -> Revision:
        """The newest revision; LedgerError before the first install."""
        if not self.revisions:
            raise LedgerError(f"release {self.name!r} has no revisions yet: install it first")
        return self.revisions[-1]

    def revision(self, number: int) -> Revision:
        for revision in self.revisions:
            if revision.number == number:
                return revision
        known = ", ".join(str(r.number) for r in self.revisions) or "none"
        raise LedgerError(f"release {self.name!r} has no revision {number}; its revisions are {known}")

    def render(self, values: Mapping[str, Any], chart: Path) -> Manifest:
        return self.helm.template(chart, release=self.name, namespace=self.namespace, values=[values] if values else [])

    def record(
        self, values: dict[str, Any], manifest: Manifest, chart: Path, description: str, command: str
    ) -> Revision:
        """Append a deployed revision and mark the one that was deployed as superseded."""
        self.revisions = [replace(r, status=SUPERSEDED) if r.status == DEPLOYED else r for r in self.revisions]
        metadata = chart_metadata(chart)
        revision = Revision(
            number=len(self.revisions) + 1,
            status=DEPLOYED,
            chart=f"{metadata['name']}-{metadata['version']}",
            app_version=str(metadata.get("appVersion", "")),
            values=values,
            manifest=manifest,
            description=description,
            command=command,
        )
        self.revisions.append(revision)
        return revision

    def install(self, set_values: Mapping[str, Any] | None = None) -> Revision:
        """`helm install NAME CHART --set ...`: revision 1."""
        if self.revisions:
            # Helm refuses too ("cannot re-use a name that is still in use"), even after uninstall --keep-history.
            raise LedgerError(
                f"release {self.name!r} already has revision {self.current.number} ({self.current.status}): "
                f"upgrade or roll it back, or start a ledger with another name"
            )
        values = nested(set_values or {})
        manifest = self.render(values, self.chart)
        command = f"helm install {self.name} {relative_to_repo(self.chart)} -n {self.namespace}"
        return self.record(values, manifest, self.chart, "Install complete", command + set_flags(set_values or {}))

    def upgrade(
        self,
        set_values: Mapping[str, Any] | None = None,
        *,
        chart: Path | None = None,
        reuse_values: bool = False,
        reset_values: bool = False,
    ) -> Revision:
        """`helm upgrade NAME CHART [--reuse-values|--reset-values] --set ...`: a new revision."""
        previous = self.current
        if previous.status == UNINSTALLED:
            raise LedgerError(f"release {self.name!r} is uninstalled: install it again")
        given = nested(set_values or {})
        if reuse_values and not reset_values:
            values = merged(previous.values, given)
        elif reset_values or given:
            values = given
        else:
            # Helm's rule: no values passed and no flag means "keep the last release's values".
            values = copy.deepcopy(previous.values)
        chart = chart or self.chart
        manifest = self.render(values, chart)
        flags = " --reuse-values" if reuse_values else " --reset-values" if reset_values else ""
        command = f"helm upgrade {self.name} {relative_to_repo(chart)} -n {self.namespace}{flags}"
        return self.record(values, manifest, chart, "Upgrade complete", command + set_flags(set_values or {}))

    def rollback(self, to: int | None = None) -> Revision:
        """`helm rollback NAME [REVISION]`: a new revision with that revision's values and manifest (default: the one before)."""
        if to is None:
            if len(self.revisions) < 2:
                raise LedgerError(f"release {self.name!r} has only revision 1: there is nothing to roll back to")
            to = self.current.number - 1
        target = self.revision(to)
        self.revisions = [replace(r, status=SUPERSEDED) if r.status == DEPLOYED else r for r in self.revisions]
        revision = replace(
            target,
            number=len(self.revisions) + 1,
            status=DEPLOYED,
            description=f"Rollback to {to}",
            command=f"helm rollback {self.name} {to} -n {self.namespace}",
        )
        self.revisions.append(revision)
        return revision

    def uninstall(self) -> Revision:
        """`helm uninstall NAME --keep-history`: the history stays, the last revision is marked uninstalled."""
        last = self.current
        if last.status == UNINSTALLED:
            raise LedgerError(f"release {self.name!r} is already uninstalled")
        self.revisions[-1] = replace(
            last,
            status=UNINSTALLED,
            description="Uninstallation complete",
            command=f"helm uninstall {self.name} -n {self.namespace} --keep-history",
        )
        return self.revisions[-1]

    def history(self) -> pd.DataFrame:
        """`helm history NAME`: one row per revision (the model keeps no timestamps)."""
        rows = [
            {
                "revision": r.number,
                "status": r.status,
                "chart": r.chart,
                "app version": r.app_version,
                "description": r.description,
                "command": r.command,
            }
            for r in self.revisions
        ]
        return pd.DataFrame(rows, columns=["revision", "status", "chart", "app version", "description", "command"])

    def get_values(self, number: int | None = None) -> dict[str, Any]:
        """`helm get values NAME [--revision N]`: the user-supplied values of a revision."""
        return copy.deepcopy((self.revision(number) if number else self.current).values)

    def diff(self, older: int, newer: int) -> RenderDiff:
        """What changed in the rendered objects from revision `older` to revision `newer`."""
        return diff_renders(self.revision(older).manifest, self.revision(newer).manifest)
