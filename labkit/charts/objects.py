"""Kubernetes objects explained from a rendered chart: what each Deployment runs, what each Service selects, where
each Ingress rule routes, and the Pod a Deployment's template becomes.

Everything here reads the render; nothing asks a cluster. The links (Service -> pods, Ingress -> Service) are the
same label and name matches the Kubernetes controllers make.
"""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd

from labkit.charts.manifest import KubeObject, Manifest


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether an equality selector matches a set of labels: every selector pair must be among the labels."""
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in labels.items())


def pod_template(deployment: KubeObject) -> dict[str, Any]:
    """The pod template of a Deployment (or Job): spec.template."""
    return deployment.body["spec"]["template"]


def volume_sources(spec: dict[str, Any]) -> str:
    """Where each volume of a pod spec comes from: claim name or emptyDir."""
    parts = []
    for volume in spec.get("volumes", []):
        if "persistentVolumeClaim" in volume:
            parts.append(f"{volume['name']}: claim {volume['persistentVolumeClaim']['claimName']}")
        else:
            kind = next(key for key in volume if key != "name")
            parts.append(f"{volume['name']}: {kind}")
    return "; ".join(parts)


def deployments(manifest: Manifest) -> pd.DataFrame:
    """Each Deployment's desired state: replicas, rollout strategy, the pod template's labels, image and volumes."""
    rows = []
    for deployment in manifest.of_kind("Deployment"):
        spec = deployment.body["spec"]
        template = pod_template(deployment)
        containers = template["spec"]["containers"]
        checksum = (template["metadata"].get("annotations") or {}).get("checksum/config", "")
        rows.append(
            {
                "deployment": deployment.name,
                "replicas": spec.get("replicas", 1),
                "strategy": (spec.get("strategy") or {}).get("type", "RollingUpdate"),
                "pod labels": labels_text(template["metadata"].get("labels", {})),
                "containers": ", ".join(f"{c['name']}: {c['image']}" for c in containers),
                "volumes": volume_sources(template["spec"]),
                "checksum/config": checksum[:12],
            }
        )
    columns = ["deployment", "replicas", "strategy", "pod labels", "containers", "volumes", "checksum/config"]
    return pd.DataFrame(rows, columns=columns)


def named_port(deployment: KubeObject, port: int | str) -> int | None:
    """The container port a Service's targetPort means: a number as it is, a name looked up in the containers."""
    if isinstance(port, int):
        return port
    for container in pod_template(deployment)["spec"]["containers"]:
        for declared in container.get("ports", []):
            if declared.get("name") == port:
                return int(declared["containerPort"])
    return None


def selected_workloads(manifest: Manifest, selector: dict[str, str]) -> list[KubeObject]:
    """The Deployments whose pods a selector matches (through their pod template's labels)."""
    return [d for d in manifest.of_kind("Deployment") if selects(selector, pod_template(d)["metadata"]["labels"])]


def services(manifest: Manifest) -> pd.DataFrame:
    """Each Service: its selector, which Deployment's pods it selects, and the port it forwards to."""
    rows = []
    for service in manifest.of_kind("Service"):
        selector = service.body["spec"].get("selector", {})
        matched = selected_workloads(manifest, selector)
        for port in service.body["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            resolved = [named_port(d, target) for d in matched]
            rows.append(
                {
                    "service": service.name,
                    "type": service.body["spec"].get("type", "ClusterIP"),
                    "selector": labels_text(selector),
                    "selects pods of": ", ".join(d.name for d in matched) or "(nothing: no pod matches)",
                    "port": port["port"],
                    "targetPort": target,
                    "container port": ", ".join(str(r) for r in resolved if r is not None),
                }
            )
    columns = ["service", "type", "selector", "selects pods of", "port", "targetPort", "container port"]
    return pd.DataFrame(rows, columns=columns)


def ingress_routes(manifest: Manifest) -> pd.DataFrame:
    """Each Ingress rule: host and path, the Service it sends to, and the Deployment behind that Service."""
    rows = []
    for ingress in manifest.of_kind("Ingress"):
        for rule in ingress.body["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                port = backend["port"].get("name") or backend["port"].get("number")
                behind = []
                for service in manifest.of_kind("Service"):
                    if service.name == backend["name"]:
                        behind = selected_workloads(manifest, service.body["spec"].get("selector", {}))
                rows.append(
                    {
                        "ingress": ingress.name,
                        "host": rule.get("host", "*"),
                        "path": f"{path['path']} ({path['pathType']})",
                        "service": f"{backend['name']}:{port}",
                        "pods of": ", ".join(d.name for d in behind) or "(no such Service in the render)",
                    }
                )
    return pd.DataFrame(rows, columns=["ingress", "host", "path", "service", "pods of"])


def pod_of(deployment: KubeObject) -> dict[str, Any]:
    """The Pod a Deployment's controller would create: its template's metadata and spec in a Pod object.

    The Deployment creates a ReplicaSet, and the ReplicaSet creates Pods named from `generateName`; Kubernetes adds
    the pod-template-hash label and the random suffix, which only a cluster can fill in.
    """
    template = copy.deepcopy(pod_template(deployment))
    metadata = template["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": f"{deployment.name}-", **metadata},
        "spec": template["spec"],
    }
