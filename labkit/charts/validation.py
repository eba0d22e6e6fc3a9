"""Offline validation of rendered objects against the Kubernetes JSON schemas (kubernetes-validate, strict).

Strict schemas refuse fields that do not exist (a misspelled `imagePullPolicyy` is an error, not silently dropped),
and a kind at an apiVersion the Kubernetes version no longer serves has no schema at all: both are reported naming the
object, the template it came from and the field. kubernetes-validate does not check enums (a wrong `pullPolicy`
string passes here); the chart's values.schema.json does that before rendering.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import kubernetes_validate
import pandas as pd

from labkit.charts.errors import ManifestInvalidError
from labkit.charts.manifest import KubeObject, Manifest

# The newest Kubernetes the pinned kubernetes-validate knows, and the oldest the chart's kubeVersion allows.
NEWEST_KUBERNETES = "1.37"
OLDEST_KUBERNETES = "1.25"


@dataclass(frozen=True)
class ObjectCheck:
    """The verdict on one object: valid, or which field is wrong and why."""

    key: str
    source: str
    ok: bool
    field: str = ""
    problem: str = ""

    def sentence(self) -> str:
        if self.ok:
            return f"{self.key}: valid"
        where = f" field {self.field}:" if self.field else ""
        return f"{self.key} (from {self.source}):{where} {self.problem}"


@dataclass(frozen=True)
class ValidationReport:
    """Every object's verdict for one Kubernetes version."""

    kubernetes_version: str
    strict: bool
    checks: tuple[ObjectCheck, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[ObjectCheck]:
        return [check for check in self.checks if not check.ok]

    def summary(self) -> str:
        """One line: how many objects, valid or not, against which schemas."""
        mode = "strict" if self.strict else "lenient"
        if self.ok:
            return f"{len(self.checks)} objects valid against Kubernetes {self.kubernetes_version} ({mode} schemas)"
        return (
            f"{len(self.failures)} of {len(self.checks)} objects invalid against Kubernetes "
            f"{self.kubernetes_version} ({mode} schemas): " + "; ".join(c.sentence() for c in self.failures)
        )

    def table(self) -> pd.DataFrame:
        rows = [
            {"object": c.key, "template": c.source, "valid": c.ok, "field": c.field, "problem": c.problem}
            for c in self.checks
        ]
        return pd.DataFrame(rows, columns=["object", "template", "valid", "field", "problem"])

    def raise_for_failures(self) -> ValidationReport:
        """This report when every object is valid; ManifestInvalidError naming each bad object and field otherwise."""
        if not self.ok:
            raise ManifestInvalidError(self.summary() + ". Fix the template or the value that produced the field.")
        return self


def field_path(path: Iterable[str | int]) -> str:
    """A JSON path as Kubernetes documentation writes it: spec.template.spec.containers[0].image."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def check_object(obj: KubeObject, kubernetes_version: str = NEWEST_KUBERNETES, *, strict: bool = True) -> ObjectCheck:
    """Validate one object against the schema of its kind and apiVersion."""
    try:
        kubernetes_validate.validate(obj.body, kubernetes_version, strict=strict)
    except kubernetes_validate.ValidationError as error:
        path = list(error.path)
        unexpected = re.findall(r"'([^']+)' was unexpected", error.message)
        if error.validator == "additionalProperties" and len(unexpected) == 1:
            # The schema reports an unknown field at its parent; name the field itself.
            return ObjectCheck(
                obj.key,
                obj.source,
                False,
                field_path([*path, unexpected[0]]),
                "no such field in the schema (misspelled, or not in this Kubernetes version)",
            )
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        if error.validator == "required" and len(missing) == 1:
            return ObjectCheck(obj.key, obj.source, False, field_path([*path, missing[0]]), "required field is missing")
        return ObjectCheck(obj.key, obj.source, False, field_path(path), error.message)
    except kubernetes_validate.SchemaNotFoundError:
        return ObjectCheck(
            obj.key,
            obj.source,
            False,
            "apiVersion",
            f"Kubernetes {kubernetes_version} has no {obj.kind} at apiVersion {obj.api_version} "
            f"(removed or never existed): use the version the Kubernetes API reference lists",
        )
    return ObjectCheck(obj.key, obj.source, True)


def validate_manifest(
    manifest: Manifest, kubernetes_version: str = NEWEST_KUBERNETES, *, strict: bool = True
) -> ValidationReport:
    """Every object of the render checked against Kubernetes `kubernetes_version`'s schemas."""
    checks = tuple(check_object(obj, kubernetes_version, strict=strict) for obj in manifest)
    return ValidationReport(kubernetes_version, strict, checks)
