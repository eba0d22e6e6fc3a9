"""`labkit chart check | render | package` with the real helm."""

from __future__ import annotations

import pytest

from labkit.charts.tools import find_helm
from labkit.cli import main

pytestmark = pytest.mark.helm


@pytest.fixture(autouse=True)
def needs_helm():
    if find_helm() is None:
        pytest.skip("no helm on PATH or in .tools/bin: run `make tools`")


@pytest.mark.slow
def test_check_lints_and_validates_every_documented_render(capsys):
    assert main(["chart", "check"]) == 0
    out = capsys.readouterr().out
    assert "helm lint --strict docker/chart/labkit: passed" in out
    verdicts = [line for line in out.splitlines() if "valid against Kubernetes" in line]
    names = [
        "defaults",
        "existing-claims",
        "ingress-tls",
        "lab-enabled",
        "nats-existing-claim",
        "nats",
        "postgres-existing-claim",
        "postgres",
        "tuned",
    ]
    assert [line.split()[0] for line in verdicts] == [name for name in names for _ in (1, 2)]
    assert len({line.index(" objects valid") - len(line.split()[1]) for line in verdicts}) == 1, "verdicts line up"
    assert out.count("valid against Kubernetes 1.25") == out.count("valid against Kubernetes 1.37") == len(names)


def test_render_prints_objects_and_the_verdict(capsys):
    assert main(["chart", "render", "--set", "ingress.enabled=true", "--kubernetes", "1.25"]) == 0
    out = capsys.readouterr().out
    assert "Ingress" in out and out.strip().endswith("13 objects valid against Kubernetes 1.25 (strict schemas)")


def test_render_refuses_a_bad_value_with_the_schemas_reason(capsys):
    assert main(["chart", "render", "--set", "replicaCount=abc"]) == 1  # the chart refused the work
    err = capsys.readouterr().err
    assert "ValuesRejectedError: values.schema.json refused the values: replicaCount: got string, want integer" in err


def test_package_writes_the_archive(tmp_path, capsys):
    assert main(["chart", "package", "--destination", str(tmp_path)]) == 0
    assert (tmp_path / "labkit-0.1.0.tgz").exists()
    assert "packaged" in capsys.readouterr().out
