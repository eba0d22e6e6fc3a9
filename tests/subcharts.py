"""What the tests of the chart's server subcharts (postgres, nats) check alike: the services' env, and that every
object's name still fits in a DNS label under Helm's longest release name."""

from __future__ import annotations

from typing import Any

import pytest

from labkit.charts.errors import ValuesRejectedError
from labkit.charts.validation import validate_manifest

# Helm's longest release name: every object name must still be a DNS label (63 characters at most).
LONG_RELEASE = "a-release-name-as-long-as-helm-allows-it-53-characters"[:53]


def pod_spec(obj: Any) -> dict[str, Any]:
    return obj.body["spec"]["template"]["spec"]


def service_env(manifest: Any) -> dict[str, dict[str, Any]]:
    """Each service Deployment's env, by Deployment name, as {variable: value or valueFrom}."""
    return {
        d.name: {e["name"]: e.get("value", e.get("valueFrom")) for e in pod_spec(d)["containers"][0]["env"]}
        for d in manifest.of_kind("Deployment")
    }


def client_service_under_a_long_release(manifest: Any, source: str, objects: int) -> str:
    """Check a subchart's `objects` objects (rendered under LONG_RELEASE) fit, and its StatefulSet names its
    headless Service; the name of the Service clients connect to."""
    assert len(LONG_RELEASE) == 53
    assert validate_manifest(manifest).ok
    ours = [obj for obj in manifest if obj.source.startswith(source)]
    assert len(ours) == objects and all(len(obj.name) <= 63 for obj in ours), [obj.name for obj in ours]
    (statefulset,) = [s for s in manifest.of_kind("StatefulSet") if s.source.startswith(source)]
    # The controller labels pods "controller-revision-hash: <name>-<10 characters>": that value must fit in 63 too.
    assert len(statefulset.name) <= 52
    (service,) = [s for s in manifest.of_kind("Service") if s.source.startswith(source) and not s.name.endswith("-hl")]
    assert statefulset.body["spec"]["serviceName"] == f"{service.name}-hl"
    return service.name


def refused_naming(helm: Any, chart: Any, values: dict[str, Any], path: str) -> None:
    """The chart's schemas refuse `values`, and one of the problems starts with the key's `path`."""
    with pytest.raises(ValuesRejectedError) as caught:
        helm.template(chart, set_values=values)
    assert any(problem.startswith(path + ":") for problem in caught.value.problems), caught.value.problems


def offline_notes(helm: Any, chart: Any, values: dict[str, Any] | None = None) -> str:
    """NOTES.txt as the release would print it (Helm 4 renders it offline; Helm 3 needs a cluster: skipped)."""
    if helm.major_version() < 4:
        pytest.skip(f"{helm.version()} needs a cluster for `install --dry-run=client`; Helm 4 renders NOTES offline")
    return helm.notes(chart, set_values=values) if values else helm.notes(chart)
