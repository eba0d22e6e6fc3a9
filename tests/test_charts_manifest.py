"""A render parsed into objects: kinds, names, source templates, hooks."""

from __future__ import annotations

import pytest

from labkit.charts.manifest import parse_manifest

RENDER = """---
# Source: labkit/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: shop-labkit-order
spec:
  ports: [{port: 8000}]
---
# Source: labkit/templates/tests/test-services.yaml
apiVersion: v1
kind: Pod
metadata:
  name: shop-labkit-test-services
  annotations:
    helm.sh/hook: test
---
# Source: labkit/templates/empty.yaml
"""


def test_objects_keep_kind_name_and_source_template():
    manifest = parse_manifest(RENDER)
    assert manifest.keys() == ["Service/shop-labkit-order", "Pod/shop-labkit-test-services"]
    service = manifest.get("Service", "shop-labkit-order")
    assert service.source == "labkit/templates/service.yaml" and service.api_version == "v1"
    assert service.body["spec"]["ports"] == [{"port": 8000}]


def test_hooks_are_apart_from_the_release_resources():
    manifest = parse_manifest(RENDER)
    assert [obj.key for obj in manifest.hooks] == ["Pod/shop-labkit-test-services"]
    assert [obj.key for obj in manifest.resources] == ["Service/shop-labkit-order"]
    assert manifest.table()["hook"].tolist() == ["", "test"]


def test_asking_for_a_missing_object_lists_what_there_is():
    with pytest.raises(KeyError, match="holds Service/shop-labkit-order"):
        parse_manifest(RENDER).get("Deployment", "shop-labkit-order")
