"""Strict offline validation names the object, its template and the field."""

from __future__ import annotations

import copy

import pytest

from labkit.charts.errors import ManifestInvalidError
from labkit.charts.manifest import KubeObject, Manifest, parse_manifest
from labkit.charts.validation import check_object, field_path, validate_manifest

DEPLOYMENT = """---
# Source: labkit/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-labkit-order
spec:
  replicas: 1
  selector:
    matchLabels: {app: order}
  template:
    metadata:
      labels: {app: order}
    spec:
      containers:
        - name: order
          image: labkit/services:0.1.0
          imagePullPolicy: IfNotPresent
"""


def deployment(change=None) -> KubeObject:
    obj = parse_manifest(DEPLOYMENT).objects[0]
    body = copy.deepcopy(obj.body)
    if change:
        change(body)
    return KubeObject(obj.kind, obj.name, str(body["apiVersion"]), obj.source, body)


def test_a_valid_object_passes_in_oldest_and_newest_kubernetes():
    for version in ("1.25", "1.37"):
        assert check_object(deployment(), version).ok


def test_a_misspelled_field_names_object_template_and_field():
    def typo(body):
        container = body["spec"]["template"]["spec"]["containers"][0]
        container["imagePullPolicyy"] = container.pop("imagePullPolicy")

    check = check_object(deployment(typo))
    assert not check.ok
    assert check.field == "spec.template.spec.containers[0].imagePullPolicyy"
    sentence = check.sentence()
    assert "Deployment/shop-labkit-order" in sentence and "labkit/templates/deployment.yaml" in sentence


def test_strictness_is_what_catches_the_typo():
    def typo(body):
        body["spec"]["replicass"] = 2

    assert check_object(deployment(typo), strict=False).ok
    assert check_object(deployment(typo), strict=True).field == "spec.replicass"


def test_wrong_type_and_missing_required_field():
    def wrong(body):
        body["spec"]["replicas"] = "three"

    check = check_object(deployment(wrong))
    assert check.field == "spec.replicas" and "'three' is not of type" in check.problem

    def missing(body):
        del body["spec"]["selector"]

    check = check_object(deployment(missing))
    assert (check.field, check.problem) == ("spec.selector", "required field is missing")


def test_an_api_version_kubernetes_removed_is_reported():
    def old(body):
        body["apiVersion"] = "extensions/v1beta1"

    check = check_object(deployment(old), "1.37")
    assert check.field == "apiVersion" and "has no Deployment at apiVersion extensions/v1beta1" in check.problem


def test_report_raises_with_every_failure_named():
    def typo(body):
        body["spec"]["replicass"] = 2

    manifest = Manifest((deployment(), deployment(typo)), "")
    report = validate_manifest(manifest)
    assert not report.ok and len(report.failures) == 1
    assert report.table()["valid"].tolist() == [True, False]
    with pytest.raises(ManifestInvalidError, match=r"1 of 2 objects invalid .* field spec.replicass"):
        report.raise_for_failures()
    assert validate_manifest(Manifest((deployment(),), "")).raise_for_failures().ok


def test_field_paths_read_like_kubernetes_docs():
    assert (
        field_path(["spec", "containers", 0, "ports", 1, "containerPort"])
        == "spec.containers[0].ports[1].containerPort"
    )
    assert field_path([]) == ""
