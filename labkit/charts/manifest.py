"""A rendered chart as Kubernetes objects: what `helm template` prints, parsed and addressable by kind and name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import yaml

HOOK_ANNOTATION = "helm.sh/hook"


@dataclass(frozen=True)
class KubeObject:
    """One object of a render: its kind, name, the template that produced it, and its body."""

    kind: str
    name: str
    api_version: str
    source: str
    body: dict[str, Any] = field(compare=False, repr=False)

    @property
    def key(self) -> str:
        """ "Deployment/lab-labkit-order": how diffs and validation name the object."""
        return f"{self.kind}/{self.name}"

    @property
    def annotations(self) -> dict[str, str]:
        return dict((self.body.get("metadata") or {}).get("annotations") or {})

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.body.get("metadata") or {}).get("labels") or {})

    @property
    def hook(self) -> str | None:
        """The helm hook events this object runs at ("post-install,post-upgrade", "test"), or None."""
        return self.annotations.get(HOOK_ANNOTATION)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.body, sort_keys=False)


@dataclass(frozen=True)
class Manifest:
    """The objects of one render, in helm's order, with the text helm printed."""

    objects: tuple[KubeObject, ...]
    text: str = field(repr=False)

    def __iter__(self) -> Iterator[KubeObject]:
        return iter(self.objects)

    def __len__(self) -> int:
        return len(self.objects)

    def keys(self) -> list[str]:
        return [obj.key for obj in self.objects]

    def of_kind(self, kind: str) -> list[KubeObject]:
        return [obj for obj in self.objects if obj.kind == kind]

    def get(self, kind: str, name: str) -> KubeObject:
        """The object of that kind and name; KeyError lists what the render holds."""
        for obj in self.objects:
            if obj.kind == kind and obj.name == name:
                return obj
        raise KeyError(f"no {kind}/{name} in this render; it holds {', '.join(self.keys())}")

    @property
    def resources(self) -> list[KubeObject]:
        """The objects `helm install` applies as the release (`helm get manifest`): everything but hooks."""
        return [obj for obj in self.objects if obj.hook is None]

    @property
    def hooks(self) -> list[KubeObject]:
        """Hook objects (post-install Jobs, test Pods): helm runs them at their events, outside the release."""
        return [obj for obj in self.objects if obj.hook is not None]

    def table(self) -> pd.DataFrame:
        """One row per object: kind, name, the template it came from and its hook, if any."""
        rows = [
            {"kind": obj.kind, "name": obj.name, "template": obj.source, "hook": obj.hook or ""} for obj in self.objects
        ]
        return pd.DataFrame(rows, columns=["kind", "name", "template", "hook"])


def parse_manifest(text: str) -> Manifest:
    """Split helm's output into objects, keeping each one's `# Source:` template path."""
    objects = []
    for document in re.split(r"^---\s*$", text, flags=re.MULTILINE):
        source_line = re.search(r"^# Source: (.+)$", document, flags=re.MULTILINE)
        body = yaml.safe_load(document)
        if not isinstance(body, dict):
            continue
        metadata = body.get("metadata") or {}
        objects.append(
            KubeObject(
                kind=str(body.get("kind", "")),
                name=str(metadata.get("name", "")),
                api_version=str(body.get("apiVersion", "")),
                source=source_line.group(1).strip() if source_line else "",
                body=body,
            )
        )
    return Manifest(tuple(objects), text)
