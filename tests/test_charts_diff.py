"""Readable diffs between renders: objects added or removed, fields changed, named list items by name."""

from __future__ import annotations

from labkit.charts.diff import ADDED_OBJECT, REMOVED_OBJECT, diff_renders, flatten, short, unified_diff
from labkit.charts.manifest import parse_manifest

BEFORE = """---
apiVersion: apps/v1
kind: Deployment
metadata: {name: order}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - {name: order, image: "svc:1"}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: order}
"""

AFTER = """---
apiVersion: apps/v1
kind: Deployment
metadata: {name: order}
spec:
  replicas: 3
  template:
    spec:
      containers:
        - {name: sidecar, image: "proxy:1"}
        - {name: order, image: "svc:2"}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: order}
"""


def test_flatten_keys_named_items_by_name():
    leaves = flatten({"containers": [{"name": "a", "image": "x"}], "args": ["--port", "8000"], "empty": {}})
    assert leaves == {
        "containers[name=a].name": "a",
        "containers[name=a].image": "x",
        "args[0]": "--port",
        "args[1]": "8000",
        "empty": {},
    }


def test_diff_names_objects_and_fields():
    diff = diff_renders(parse_manifest(BEFORE), parse_manifest(AFTER))
    sentences = diff.text().splitlines()
    assert "Deployment/order: spec.replicas 1 -> 3" in sentences
    assert "Deployment/order: spec.template.spec.containers[name=order].image svc:1 -> svc:2" in sentences
    assert "Deployment/order: spec.template.spec.containers[name=sidecar].image added = proxy:1" in sentences
    assert (diff.changes[-2].object, diff.changes[-2].change) == ("Ingress/order", ADDED_OBJECT)
    assert (diff.changes[-1].object, diff.changes[-1].change) == ("PersistentVolumeClaim/order", REMOVED_OBJECT)
    assert diff.objects_changed == ["Deployment/order", "Ingress/order", "PersistentVolumeClaim/order"]
    assert list(diff.table().columns) == ["object", "change", "field", "before", "after"]


def test_identical_renders_have_no_differences():
    diff = diff_renders(parse_manifest(BEFORE), parse_manifest(BEFORE))
    assert not diff and diff.text() == "no differences"


def test_unified_diff_shows_changed_lines():
    text = unified_diff(parse_manifest(BEFORE), parse_manifest(AFTER))
    assert "-  replicas: 1" in text and "+  replicas: 3" in text


def test_long_values_and_hashes_are_shortened():
    assert short("a" * 64) == "aaaaaaaaaaaa..."
    assert short("x" * 100).endswith("...") and len(short("x" * 100)) == 60
    assert short(3) == "3"
