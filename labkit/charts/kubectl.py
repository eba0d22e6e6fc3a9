"""kubectl without a cluster: the objects its generators write with `--dry-run=client -o yaml`.

kubectl's own generators (`kubectl create deployment ...`) write the bare minimum a Deployment needs; the lab's chart
is what a production Deployment adds on top. Client-side dry runs never contact a cluster.
"""

from __future__ import annotations

import subprocess

import yaml

from labkit.charts.errors import KubectlError
from labkit.charts.manifest import KubeObject
from labkit.charts.tools import Tool, find_tool


def find_kubectl() -> Tool:
    """The kubectl labkit uses: PATH first, then the pinned one in .tools/bin."""
    tool = find_tool("kubectl")
    if tool is None:
        raise KubectlError("no kubectl on PATH and none in .tools/bin: run `make tools` (it installs the pinned one)")
    return tool


def create_deployment(name: str, image: str, *, replicas: int = 1, port: int | None = None) -> KubeObject:
    """`kubectl create deployment NAME --image IMAGE --dry-run=client -o yaml`, parsed."""
    argv = [find_kubectl().path, "create", "deployment", name, f"--image={image}", f"--replicas={replicas}"]
    argv += [f"--port={port}"] if port is not None else []
    argv += ["--dry-run=client", "-o", "yaml"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no error message"])[-1]
        raise KubectlError(f"kubectl create deployment {name} failed: {reason}")
    body = yaml.safe_load(done.stdout)
    # Older kubectl versions print `creationTimestamp: null` (unset) in both metadata blocks; drop it so every
    # version's output reads the same.
    for metadata in (body["metadata"], body["spec"]["template"]["metadata"]):
        if metadata.get("creationTimestamp") is None:
            metadata.pop("creationTimestamp", None)
    return KubeObject(body["kind"], body["metadata"]["name"], body["apiVersion"], "kubectl create deployment", body)
