"""The real helm binary, driven from Python: lint, template, package, dependencies, create, show.

Every call runs `helm` as a subprocess (the user's own from PATH, else the pinned one) with its own config, cache and
data folders, so the lab never reads or changes a user's helm repositories. Failures become exceptions that quote
helm's own explanation: values.schema.json refusals as ValuesRejectedError, a template's `fail` as RenderError.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labkit.charts.errors import HelmCommandError, HelmNotFoundError, RenderError, ValuesRejectedError
from labkit.charts.manifest import Manifest, parse_manifest
from labkit.charts.tools import Tool, find_helm
from labkit.paths import relative_to_repo, tools_dir

SCHEMA_REFUSAL = "values don't meet the specifications of the schema(s)"
DEFAULT_RELEASE = "shop"
DEFAULT_NAMESPACE = "labkit"

# --set overrides: a mapping of dotted keys to values, or "key=value" strings as typed on a command line.
SetValues = Mapping[str, Any] | Sequence[str]
# -f sources, later ones winning: values files, or mappings written to a file for helm.
ValueSources = Sequence[Mapping[str, Any] | Path]


@dataclass(frozen=True)
class LintMessage:
    """One finding of `helm lint`: severity (INFO, WARNING, ERROR), the file it is about, and the text."""

    severity: str
    where: str
    text: str


@dataclass(frozen=True)
class LintResult:
    """What `helm lint` said about a chart, and whether it passed."""

    ok: bool
    messages: tuple[LintMessage, ...]
    output: str


def set_arguments(set_values: SetValues | None) -> list[str]:
    """`--set` arguments from a mapping ({"replicaCount": 2} -> --set replicaCount=2) or "key=value" strings."""
    if not set_values:
        return []
    if isinstance(set_values, Mapping):
        pairs = [f"{key}={format_set_value(value)}" for key, value in set_values.items()]
    else:
        pairs = list(set_values)
    return [arg for pair in pairs for arg in ("--set", pair)]


def format_set_value(value: Any) -> str:
    """A Python value as `--set` spells it: true/false, null, numbers and strings as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def schema_problems(stderr: str, top_chart: str | None = None) -> tuple[str, ...]:
    """The refusals listed under helm's schema error, as "path: reason" with dotted paths from the top chart.

    helm groups them by chart; a subchart's keys live under its name in the parent's values, so they get that prefix.

    >>> schema_problems("Error: values don't meet ...:\\nlabkit:\\n- at '/replicaCount': got string, want integer\\n")
    ('replicaCount: got string, want integer',)
    >>> schema_problems("Error: ...:\\nlab:\\n- at '/port': got string, want integer", top_chart="labkit")
    ('lab.port: got string, want integer',)
    """
    problems = []
    prefix = ""
    for line in (line.strip() for line in stderr.splitlines()):
        heading = re.match(r"^([\w.-]+):$", line)
        if heading:
            chart = heading.group(1)
            prefix = f"{chart}." if top_chart and chart != top_chart else ""
            continue
        pointer = re.match(r"^- at '([^']*)': (.*)$", line)
        if pointer:
            path = pointer.group(1).strip("/").replace("/", ".")
            problems.append(f"{prefix}{path or '(top level)'}: {pointer.group(2)}")
        elif re.match(r"^- [\w.\[\]-]+: ", line):
            # Helm before 3.18 wrote "- replicaCount: Invalid type. Expected: integer, given: string".
            problems.append(prefix + line[2:])
    # helm lists several refusals in no fixed order (Go map iteration); sorted, the same values give the same message.
    return tuple(sorted(problems))


def chart_name(chart: Path) -> str | None:
    """The name in a chart folder's Chart.yaml (None for an archive)."""
    metadata = chart / "Chart.yaml"
    return yaml.safe_load(metadata.read_text()).get("name") if metadata.exists() else None


def helm_error_line(stderr: str) -> str:
    """helm's own error sentence (after "Error: "), or the last line it wrote."""
    for line in stderr.splitlines():
        if line.startswith("Error: "):
            return line[len("Error: ") :].strip()
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no error message"


class Helm:
    """One helm binary and the private folders it runs with."""

    def __init__(self, tool: Tool | None = None, *, home: Path | None = None) -> None:
        found = tool or find_helm()
        if found is None:
            raise HelmNotFoundError(
                "no helm on PATH and none in .tools/bin: run `make tools` to install the pinned one "
                "(or install helm yourself)"
            )
        self.tool = found
        self.home = home or tools_dir() / "helm-home"

    @property
    def path(self) -> str:
        return self.tool.path

    def environment(self) -> dict[str, str]:
        """This process's environment plus private HELM_*_HOME folders."""
        env = dict(os.environ)
        for kind in ("CONFIG", "CACHE", "DATA"):
            folder = self.home / kind.lower()
            folder.mkdir(parents=True, exist_ok=True)
            env[f"HELM_{kind}_HOME"] = str(folder)
        return env

    def run(self, *args: str, top_chart: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `helm ARGS`; a non-zero exit raises HelmCommandError (or its schema/render kinds)."""
        argv = (self.path, *args)
        done = subprocess.run(argv, capture_output=True, text=True, env=self.environment(), timeout=timeout)
        if done.returncode != 0:
            raise self.failure(argv, done.stderr or done.stdout, top_chart=top_chart)
        return done

    def failure(self, argv: tuple[str, ...], stderr: str, *, top_chart: str | None = None) -> HelmCommandError:
        """The exception that says why `argv` failed, in helm's words plus what to do."""
        command = f"helm {argv[1]}"
        if SCHEMA_REFUSAL in stderr:
            problems = schema_problems(stderr, top_chart)
            listed = "; ".join(problems) or helm_error_line(stderr)
            return ValuesRejectedError(
                f"values.schema.json refused the values: {listed}. Fix these values (the rules are in the chart's "
                f"values.schema.json)",
                problems=problems,
                argv=argv,
                stderr=stderr,
            )
        message = helm_error_line(stderr)
        if "execution error at" in message or "template:" in message:
            return RenderError(f"{command} could not render the chart: {message}", argv=argv, stderr=stderr)
        return HelmCommandError(f"{command} failed: {message}", argv=argv, stderr=stderr)

    def version(self) -> str:
        """helm's short version, e.g. v4.3.1+gc0d08d0."""
        return self.run("version", "--short").stdout.strip()

    def major_version(self) -> int:
        """4 for helm v4.3.1: notes() needs 4 or newer when no cluster answers."""
        match = re.match(r"v(\d+)\.", self.version())
        if not match:
            raise HelmCommandError(f"cannot read a version from `helm version --short`: {self.version()!r}")
        return int(match.group(1))

    def value_arguments(self, values: ValueSources | None, scratch: Path) -> list[str]:
        """`-f` arguments: files as they are, mappings written to YAML files in `scratch` (later files win)."""
        args: list[str] = []
        for number, item in enumerate(values or ()):
            if isinstance(item, Path):
                args += ["-f", str(item)]
            else:
                path = scratch / f"values-{number}.yaml"
                path.write_text(yaml.safe_dump(dict(item), sort_keys=False))
                args += ["-f", str(path)]
        return args

    def run_with_values(
        self,
        args: list[str],
        values: ValueSources | None,
        set_values: SetValues | None,
        *,
        chart: Path,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run `helm ARGS -f ... --set ...`; with check, a failure raises as `run` does."""
        with tempfile.TemporaryDirectory(prefix="labkit-helm-") as scratch:
            args = args + self.value_arguments(values, Path(scratch)) + set_arguments(set_values)
            if check:
                return self.run(*args, top_chart=chart_name(chart))
            argv = [self.path, *args]
            return subprocess.run(argv, capture_output=True, text=True, env=self.environment(), timeout=120)

    def lint(
        self,
        chart: Path,
        *,
        strict: bool = True,
        values: ValueSources | None = None,
        set_values: SetValues | None = None,
    ) -> LintResult:
        """`helm lint [--strict]`: the chart's findings; a failing lint is a result (ok False), not an exception."""
        args = ["lint", str(chart), *(["--strict"] if strict else [])]
        done = self.run_with_values(args, values, set_values, chart=chart, check=False)
        output = (done.stdout + done.stderr).replace(str(chart), relative_to_repo(chart))
        messages = tuple(
            LintMessage(match.group(1), match.group(2), match.group(3).strip())
            for match in re.finditer(r"^\[(INFO|WARNING|ERROR)\] ([^:]+): (.*)$", output, flags=re.MULTILINE)
        )
        return LintResult(done.returncode == 0, messages, output)

    def template(
        self,
        chart: Path,
        *,
        release: str = DEFAULT_RELEASE,
        namespace: str = DEFAULT_NAMESPACE,
        values: ValueSources | None = None,
        set_values: SetValues | None = None,
        show_only: Sequence[str] = (),
        kube_version: str | None = None,
    ) -> Manifest:
        """`helm template`: render the chart locally (no cluster) into a Manifest of Kubernetes objects."""
        args = ["template", release, str(chart), "--namespace", namespace]
        args += [arg for template in show_only for arg in ("--show-only", template)]
        args += ["--kube-version", kube_version] if kube_version else []
        return parse_manifest(self.run_with_values(args, values, set_values, chart=chart).stdout)

    def notes(
        self,
        chart: Path,
        *,
        release: str = DEFAULT_RELEASE,
        namespace: str = DEFAULT_NAMESPACE,
        values: ValueSources | None = None,
        set_values: SetValues | None = None,
    ) -> str:
        """NOTES.txt as `helm install` prints it, from a client-side dry run (Helm 4 needs no cluster for it)."""
        args = ["install", release, str(chart), "--namespace", namespace, "--dry-run=client"]
        try:
            done = self.run_with_values(args, values, set_values, chart=chart)
        except HelmCommandError as exc:
            if "cluster unreachable" not in str(exc):
                raise
            raise HelmCommandError(
                f"{self.version()} asks a cluster even for `install --dry-run=client`, and none answers; "
                f"Helm 4 (the pinned one: `make tools`, then take helm off PATH) renders NOTES.txt offline",
                argv=exc.argv,
                stderr=exc.stderr,
            ) from exc
        _, marker, notes = done.stdout.partition("\nNOTES:\n")
        return notes.strip() if marker else ""

    def package(self, chart: Path, destination: Path) -> Path:
        """`helm package`: the chart as a versioned archive (name-version.tgz) in `destination`."""
        destination.mkdir(parents=True, exist_ok=True)
        done = self.run("package", str(chart), "--destination", str(destination))
        match = re.search(r"saved it to: (\S+\.tgz)", done.stdout)
        if not match:
            raise HelmCommandError(f"helm package did not say where it saved the archive: {done.stdout.strip()}")
        return Path(match.group(1))

    def dependency_update(self, chart: Path) -> str:
        """`helm dependency update`: fetch the dependencies into charts/ and write Chart.lock."""
        return self.run("dependency", "update", str(chart)).stdout

    def dependency_list(self, chart: Path) -> list[dict[str, str]]:
        """`helm dependency list`: each dependency's name, version, repository and status."""
        lines = self.run("dependency", "list", str(chart)).stdout.strip().splitlines()
        header = [h.strip().lower() for h in lines[0].split("\t")] if lines else []
        return [dict(zip(header, (c.strip() for c in line.split("\t")), strict=False)) for line in lines[1:] if line]

    def show_chart(self, chart: Path) -> dict[str, Any]:
        """`helm show chart`: Chart.yaml as helm reads it."""
        return yaml.safe_load(self.run("show", "chart", str(chart)).stdout)

    def create(self, name: str, destination: Path, *, starter: str | None = None) -> Path:
        """`helm create NAME`: a new chart from helm's scaffold (or from a starter chart) in `destination`."""
        destination.mkdir(parents=True, exist_ok=True)
        args = ["create", str(destination / name)] + (["--starter", starter] if starter else [])
        self.run(*args)
        return destination / name
