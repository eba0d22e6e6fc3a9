"""The lab's chart on disk: where it is, what each file does, Chart.yaml's fields and values.yaml as an API."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from labkit.paths import repo_root

CHART_FOLDER = Path("docker") / "chart" / "labkit"


def lab_chart() -> Path:
    """The labkit chart in this checkout: docker/chart/labkit."""
    return repo_root() / CHART_FOLDER


def copy_chart(destination: Path, chart: Path | None = None) -> Path:
    """A copy of the chart in `destination` (for operations that write into a chart, such as dependency update)."""
    source = chart or lab_chart()
    target = destination / source.name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.tgz", "Chart.lock"))
    return target


@dataclass(frozen=True)
class FieldNote:
    """One Chart.yaml field: whether Helm requires it, what it means, and what changed across Helm versions."""

    field: str
    required: bool
    meaning: str
    history: str = ""


CHART_FIELDS: tuple[FieldNote, ...] = (
    FieldNote("apiVersion", True, "chart API version", "v1 in Helm 2; v2 (Helm 3 and 4) adds dependencies and type"),
    FieldNote("name", True, "the chart's name, the prefix of object names"),
    FieldNote("version", True, "the chart's SemVer 2 version; bump it with every change"),
    FieldNote("kubeVersion", False, "SemVer range of Kubernetes versions the chart supports"),
    FieldNote("description", False, "one line about the chart"),
    FieldNote("type", False, "application (installs objects) or library (shares templates)", "new in Helm 3"),
    FieldNote("keywords", False, "words `helm search` matches"),
    FieldNote("home", False, "the project's home page URL"),
    FieldNote("sources", False, "URLs of the chart's and images' source"),
    FieldNote(
        "dependencies",
        False,
        "charts this one needs: name, version, repository, condition, tags",
        "Helm 2 kept them in requirements.yaml; Helm 3 moved them here (lock file: Chart.lock)",
    ),
    FieldNote("maintainers", False, "name, email and url of each maintainer"),
    FieldNote("icon", False, "an SVG or PNG URL shown by chart repositories"),
    FieldNote("appVersion", False, "the version of the application; the default image tag here"),
    FieldNote("deprecated", False, "true marks the chart as no longer maintained"),
    FieldNote("annotations", False, "free-form metadata for tools"),
)

# Fields Helm 2 charts had that Helm 3 dropped; they are not in the lab's Chart.yaml.
REMOVED_FIELDS: dict[str, str] = {
    "engine": "chose the template engine; gotpl was the only one, and Helm 3 removed the field",
    "tillerVersion": "the Tiller version a chart needed; Tiller (Helm 2's in-cluster server) is gone in Helm 3",
}

# What each helm generation changed that the lab's notebooks talk about.
HELM_GENERATIONS: tuple[tuple[str, str], ...] = (
    (
        "Helm 2",
        "Tiller, a server in the cluster, installed charts with its own (often cluster-admin) rights; "
        "`helm install --name`, `helm delete --purge`; requirements.yaml; chart apiVersion v1",
    ),
    (
        "Helm 3",
        "no Tiller: helm uses your kubeconfig and its RBAC rights; release history stored as Secrets in the "
        "release's namespace; `helm install NAME CHART`, `helm uninstall`; dependencies in Chart.yaml "
        "(apiVersion v2); values.schema.json; library charts; OCI registries",
    ),
    (
        "Helm 4",
        "server-side apply (`--server-side`, default auto); `--wait` strategies (watcher, hookOnly, legacy); "
        "`--atomic` renamed `--rollback-on-failure`; apiVersion v2 charts work unchanged",
    ),
)


def chart_metadata(chart: Path | None = None) -> dict:
    """Chart.yaml as a mapping."""
    return yaml.safe_load(((chart or lab_chart()) / "Chart.yaml").read_text())


def _shown(text: str) -> str:
    """A field's value as the table shows it: whole (a cut value cannot be read), but a data URL, an icon's bytes in
    base64, by its kind and length."""
    if text.startswith("data:") and "," in text:
        kind, payload = text.split(",", 1)
        return f"{kind},... ({len(payload):,} characters of base64)"
    return text


def chart_fields(chart: Path | None = None) -> pd.DataFrame:
    """Each Chart.yaml field Helm defines: the lab chart's value, whether required, its meaning, its history."""
    metadata = chart_metadata(chart)
    rows = []
    for note in CHART_FIELDS:
        value = metadata.get(note.field, "")
        if isinstance(value, list | dict):
            value = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
        text = str(value)
        rows.append(
            {
                "field": note.field,
                "lab chart": _shown(text),
                "required": note.required,
                "meaning": note.meaning,
                "Helm 2 -> 3": note.history,
            }
        )
    return pd.DataFrame(rows)


FILE_ROLES: dict[str, str] = {
    "Chart.yaml": "the chart's identity: name, version, dependencies",
    "values.yaml": "default values: the chart's API, each key documented",
    "values.schema.json": "JSON Schema the values must meet before anything renders",
    ".helmignore": "files `helm package` leaves out",
    "templates/_helpers.tpl": "named templates (labkit.*) the others include",
    "templates/NOTES.txt": "text helm prints after install: how to reach the release",
    "templates/configmap.yaml": "ConfigMap: the services' shared settings",
    "templates/deployment.yaml": "one Deployment per service",
    "templates/service.yaml": "one Service per service",
    "templates/pvc.yaml": "one PersistentVolumeClaim per service database (unless existingClaim)",
    "templates/ingress.yaml": "optional Ingress (ingress.enabled)",
    "templates/hooks/post-install-job.yaml": "hook Job after install/upgrade: waits for /health",
    "templates/tests/test-services.yaml": "`helm test` Pod: checks /health and the event feeds",
    "charts/lab": "local subchart (JupyterLab), a conditional dependency",
    "charts/postgres": "local subchart (PostgreSQL: StatefulSet, Services, Secret), a conditional dependency",
    "charts/nats": "local subchart (NATS JetStream: StatefulSet, Services, ConfigMap), a conditional dependency",
    "ci": "documented override files, rendered and validated by the tests",
}


def chart_layout(chart: Path | None = None) -> pd.DataFrame:
    """The chart's files (the subchart and ci/ as one row each) and the role of each."""
    root = chart or lab_chart()
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        folder = next(
            (f for f in ("charts/lab", "charts/postgres", "charts/nats", "ci") if relative.startswith(f + "/")), None
        )
        if folder:
            if not any(row["path"] == folder + "/" for row in rows):
                rows.append({"path": folder + "/", "role": FILE_ROLES[folder]})
            continue
        rows.append({"path": relative, "role": FILE_ROLES.get(relative, "")})
    return pd.DataFrame(rows, columns=["path", "role"])


@dataclass(frozen=True)
class ValueDoc:
    """One key of values.yaml with its default and the comment above it."""

    key: str
    default: str
    comment: str


def _keyed_lines(lines: list[str]) -> Iterator[tuple[int, str, str, list[str]]]:
    """Each key line of a values file: its index, dotted path, the value written after the colon, its comment lines."""
    stack: list[tuple[int, str]] = []
    comment: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"^(\s*)([A-Za-z0-9_.-]+):(.*)$", line)
        if not match:
            # A blank line ends a comment block that belongs to no key (a file or section heading).
            comment = [] if not stripped else comment
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3).strip()
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        yield index, ".".join(k for _, k in stack), rest, comment
        comment = []


def values_reference(chart: Path | None = None) -> list[ValueDoc]:
    """Every key of values.yaml (dotted path), its default as written, and the comment lines just above it."""
    lines = ((chart or lab_chart()) / "values.yaml").read_text().splitlines()
    return [ValueDoc(key, rest or "(block)", " ".join(comment)) for _, key, rest, comment in _keyed_lines(lines)]


def values_excerpt(keys: Iterable[str], chart: Path | None = None) -> str:
    """The lines of values.yaml that set `keys` (dotted paths: a block brings all of it), each with its comment."""
    wanted = tuple(keys)
    lines = ((chart or lab_chart()) / "values.yaml").read_text().splitlines()
    kept: list[str] = []
    for index, key, _, comment in _keyed_lines(lines):
        if any(key == k or key.startswith(k + ".") or k.startswith(key + ".") for k in wanted):
            kept += lines[index - len(comment) : index + 1] + _list_items(lines, index)
    return "\n".join(kept)


def _list_items(lines: list[str], index: int) -> list[str]:
    """The `- item` lines of a block list under the key at `index` (they are not keys of their own)."""
    items = []
    for line in lines[index + 1 :]:
        if not line.strip().startswith("- "):
            break
        items.append(line)
    return items


def values_table(chart: Path | None = None) -> pd.DataFrame:
    """values_reference as a table."""
    rows = [{"key": d.key, "default": d.default, "what it controls": d.comment} for d in values_reference(chart)]
    return pd.DataFrame(rows, columns=["key", "default", "what it controls"])


def documented_overrides(chart: Path | None = None) -> dict[str, Path]:
    """The chart's ci/*-values.yaml override files by short name ("ingress-tls" -> path)."""
    folder = (chart or lab_chart()) / "ci"
    return {path.name.removesuffix("-values.yaml"): path for path in sorted(folder.glob("*-values.yaml"))}


def override_description(path: Path) -> str:
    """The opening comment of an override file, without the '# Documented override:' prefix."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines).removeprefix("Documented override: ")


def defined_templates(chart: Path | None = None) -> pd.DataFrame:
    """Every named template (`define`) in the chart and its subcharts: which chart, which file, which name."""
    root = chart or lab_chart()
    rows = []
    for path in sorted(root.rglob("templates/*.tpl")):
        for name in re.findall(r'{{-?\s*define\s+"([^"]+)"', path.read_text()):
            rows.append({"file": path.relative_to(root).as_posix(), "template": name})
    return pd.DataFrame(rows, columns=["file", "template"])


def file_excerpt(relative: str, start: int = 1, stop: int | None = None, *, chart: Path | None = None) -> str:
    """Lines start..stop (1-based, inclusive) of a chart file, numbered as an editor shows them."""
    lines = ((chart or lab_chart()) / relative).read_text().splitlines()
    stop = len(lines) if stop is None else min(stop, len(lines))
    return "\n".join(f"{number:3d}  {lines[number - 1]}" for number in range(start, stop + 1))
