"""The lab's chart, checked with the real helm: lint --strict, strict schema validation, values.schema.json, package."""

from __future__ import annotations

import re
import tarfile

import pytest
import yaml

from labkit.charts import chart as lab
from labkit.charts.errors import RenderError, ValuesRejectedError
from labkit.charts.validation import NEWEST_KUBERNETES, OLDEST_KUBERNETES, validate_manifest

pytestmark = pytest.mark.helm
CHART = lab.lab_chart()


def test_lint_strict_passes(helm):
    result = helm.lint(CHART, strict=True)
    assert result.ok, result.output
    assert not [m for m in result.messages if m.severity in ("WARNING", "ERROR")]


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, NEWEST_KUBERNETES])
def test_default_render_is_valid_for_every_supported_kubernetes(helm, version):
    manifest = helm.template(CHART)
    report = validate_manifest(manifest, version, strict=True)
    assert report.ok, report.summary()
    kinds = sorted({obj.kind for obj in manifest})
    assert kinds == ["ConfigMap", "Deployment", "Job", "PersistentVolumeClaim", "Pod", "Service"]


@pytest.mark.parametrize("name", sorted(lab.documented_overrides()))
def test_each_documented_override_renders_valid_and_lints(helm, name):
    path = lab.documented_overrides()[name]
    assert lab.override_description(path), f"{path.name} must open with a comment saying what it shows"
    manifest = helm.template(CHART, values=[path])
    report = validate_manifest(manifest, NEWEST_KUBERNETES, strict=True)
    assert report.ok, report.summary()
    assert helm.lint(CHART, values=[path]).ok


def test_replica_count_abc_is_refused_by_the_schema(helm):
    with pytest.raises(ValuesRejectedError) as caught:
        helm.template(CHART, set_values=["replicaCount=abc"])
    assert caught.value.problems == ("replicaCount: got string, want integer",)
    assert "values.schema.json refused the values: replicaCount" in str(caught.value)
    assert not helm.lint(CHART, set_values=["replicaCount=abc"]).ok


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"config.logLevel": "LOUD"}, "config.logLevel"),
        ({"services.order.persistence.size": "lots"}, "services.order.persistence.size"),
        ({"services.order.replicaCount": 21}, "services.order.replicaCount"),
        ({"ingress.host": "Not A Host"}, "ingress.host"),
        ({"image.pullPolicy": "Sometimes"}, "image.pullPolicy"),
        ({"lab.enabled": True, "lab.port": "http"}, "lab.port"),
    ],
)
def test_bad_values_are_refused_naming_the_key(helm, override, path):
    with pytest.raises(ValuesRejectedError) as caught:
        helm.template(CHART, set_values=override)
    assert any(problem.startswith(path + ":") for problem in caught.value.problems), caught.value.problems


def test_an_unknown_key_is_refused(helm):
    with pytest.raises(ValuesRejectedError, match="replicas"):
        helm.template(CHART, values=[{"replicas": 2}])


def test_package_produces_a_chart_archive_with_the_subcharts(helm, tmp_path):
    archive = helm.package(CHART, tmp_path)
    assert archive.name == "labkit-0.1.0.tgz" and archive.exists()
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "labkit/Chart.yaml" in names and "labkit/values.schema.json" in names
    assert "labkit/charts/lab/Chart.yaml" in names and "labkit/charts/postgres/Chart.yaml" in names
    assert "labkit/charts/nats/Chart.yaml" in names
    assert not [n for n in names if n.startswith("labkit/ci/")], ".helmignore keeps ci/ out of the archive"
    packaged = helm.template(archive)
    assert packaged.keys() == helm.template(CHART).keys()


def test_every_value_is_documented_and_the_docs_match_the_defaults():
    docs = lab.values_reference()
    undocumented = [d.key for d in docs if not d.comment]
    assert not undocumented, f"values.yaml keys without a comment: {undocumented}"
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    leaf_count = 0

    def count(node):
        nonlocal leaf_count
        for value in node.values():
            leaf_count += 1
            if isinstance(value, dict) and value:
                count(value)

    count(defaults)
    assert len(docs) == leaf_count


def test_chart_yaml_sets_every_field_helm_defines():
    metadata = lab.chart_metadata()
    missing = [note.field for note in lab.CHART_FIELDS if note.field not in metadata]
    assert not missing
    assert metadata["apiVersion"] == "v2"
    assert not set(lab.REMOVED_FIELDS) & set(metadata)
    assert not (CHART / "requirements.yaml").exists()
    assert lab.chart_fields()["field"].tolist() == [note.field for note in lab.CHART_FIELDS]


def test_the_chart_fields_table_shows_each_value_whole_but_the_icon_s_bytes():
    shown = lab.chart_fields().set_index("field")["lab chart"]
    metadata = lab.chart_metadata()
    assert shown["description"] == metadata["description"]
    assert all(f"name: {d['name']}" in shown["dependencies"] for d in metadata["dependencies"])
    assert (
        shown["icon"]
        == f"data:image/svg+xml;base64,... ({len(metadata['icon'].split(',', 1)[1]):,} characters of base64)"
    )
    assert not [field for field, value in shown.items() if field != "icon" and value.endswith("...")]


def test_the_dependencies_are_local_conditional_subcharts(helm):
    dependencies = lab.chart_metadata()["dependencies"]
    assert {d["name"]: d["condition"] for d in dependencies} == {
        "lab": "lab.enabled",
        "postgres": "postgres.enabled",
        "nats": "nats.enabled",
    }
    assert all(d["repository"] == f"file://charts/{d['name']}" for d in dependencies)
    assert [d["name"] for d in helm.dependency_list(CHART)] == ["lab", "postgres", "nats"]
    off = helm.template(CHART)
    on = helm.template(CHART, set_values={"lab.enabled": True})
    assert set(on.keys()) - set(off.keys()) == {"Deployment/shop-lab", "Service/shop-lab"}


def test_existing_claim_is_mounted_and_no_claim_is_created(helm):
    manifest = helm.template(CHART, set_values={"services.order.persistence.existingClaim": "orders-2024"})
    claims = [obj.name for obj in manifest.of_kind("PersistentVolumeClaim")]
    assert claims == ["shop-labkit-customer", "shop-labkit-history"]
    volumes = manifest.get("Deployment", "shop-labkit-order").body["spec"]["template"]["spec"]["volumes"]
    assert volumes[0] == {"name": "data", "persistentVolumeClaim": {"claimName": "orders-2024"}}


def test_ingress_is_optional_and_routes_one_host_per_service(helm):
    assert not helm.template(CHART).of_kind("Ingress")
    manifest = helm.template(CHART, set_values={"ingress.enabled": True, "ingress.host": "shop.test"})
    (ingress,) = manifest.of_kind("Ingress")
    hosts = {
        rule["host"]: rule["http"]["paths"][0]["backend"]["service"]["name"] for rule in ingress.body["spec"]["rules"]
    }
    assert hosts == {
        "customer.shop.test": "shop-labkit-customer",
        "history.shop.test": "shop-labkit-history",
        "order.shop.test": "shop-labkit-order",
    }


def test_a_config_change_changes_every_pod_templates_checksum(helm):
    def checksums(manifest):
        return {
            d.name: d.body["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for d in manifest.of_kind("Deployment")
        }

    before = checksums(helm.template(CHART))
    after = checksums(helm.template(CHART, set_values={"config.logLevel": "DEBUG"}))
    assert before.keys() == after.keys() and len(before) == 3
    assert all(before[name] != after[name] for name in before)
    assert checksums(helm.template(CHART, set_values={"services.order.replicaCount": 0})) == before


def test_hooks_run_after_install_and_as_helm_test(helm):
    manifest = helm.template(CHART)
    assert {obj.key: obj.hook for obj in manifest.hooks} == {
        "Job/shop-labkit-wait-healthy": "post-install,post-upgrade",
        "Pod/shop-labkit-test-services": "test",
    }
    job = manifest.get("Job", "shop-labkit-wait-healthy")
    command = job.body["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:2] == ["python3", "-c"]
    compile(command[2], "probe", "exec")
    assert command[4:] == [f"http://shop-labkit-{name}:8000/health" for name in ("customer", "history", "order")]
    off = helm.template(CHART, set_values={"hooks.postInstall.enabled": False, "tests.enabled": False})
    assert not off.hooks


def test_services_run_the_image_with_the_documented_arguments(helm):
    manifest = helm.template(CHART, set_values={"image.tag": "2024.1"})
    for name in ("customer", "order", "history"):
        container = manifest.get("Deployment", f"shop-labkit-{name}").body["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "labkit/services:2024.1"
        assert container["args"] == [name, "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
        assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}


def test_several_pods_on_one_database_volume_fail_with_a_clear_message(helm):
    with pytest.raises(RenderError, match=r"services.history has 3 replicas on one database volume"):
        helm.template(CHART, set_values={"services.history.replicaCount": 3})
    manifest = helm.template(
        CHART, set_values={"services.history.replicaCount": 3, "services.history.persistence.enabled": False}
    )
    deployment = manifest.get("Deployment", "shop-labkit-history").body["spec"]
    assert deployment["replicas"] == 3 and deployment["strategy"]["type"] == "RollingUpdate"


def test_notes_tell_how_to_reach_the_release(helm):
    if helm.major_version() < 4:
        pytest.skip(f"{helm.version()} needs a cluster for `install --dry-run=client`; Helm 4 renders NOTES offline")
    notes = helm.notes(CHART, set_values={"ingress.enabled": True})
    assert "installed as release shop in namespace labkit" in notes
    assert "http://order.labkit.local/" in notes and "helm test shop" in notes


def test_values_excerpt_keeps_the_keys_asked_with_their_comments_and_list_items():
    excerpt = lab.values_excerpt(["containerPort", "securityContext.capabilities"])
    assert excerpt.splitlines() == [
        "# The port every service listens on inside its container (`--port`).",
        "containerPort: 8000",
        "# Security settings of every container.",
        "securityContext:",
        "  # Linux capabilities removed from the container.",
        "  capabilities:",
        "    # Drop every capability: an HTTP service on port 8000 needs none.",
        "    drop:",
        "      - ALL",
    ]
    assert lab.values_excerpt(["no.such.key"]) == ""


# Helm refuses release names longer than 53 characters; every name the chart makes from one must still be a DNS label.
LONGEST_RELEASE = "a-release-name-of-the-longest-length-helm-allows-x-53"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_the_longest_release_name_gives_names_kubernetes_accepts(helm):
    assert len(LONGEST_RELEASE) == 53
    everything = {"lab.enabled": True, "postgres.enabled": True, "ingress.enabled": True}
    manifest = helm.template(CHART, release=LONGEST_RELEASE, set_values=everything)
    names: dict[str, list[str]] = {}
    for obj in manifest:
        name = obj.body["metadata"]["name"]
        assert len(name) <= 63 and DNS_LABEL.match(name), f"{obj.kind} {name} ({len(name)} characters)"
        names.setdefault(obj.kind, []).append(name)
    for kind, of_kind in names.items():
        assert len(of_kind) == len(set(of_kind)), f"two {kind}s share a name: {sorted(of_kind)}"
    assert any(name.endswith("-wait-healthy") for name in names["Job"])  # the suffix is kept whole
    assert validate_manifest(manifest, NEWEST_KUBERNETES, strict=True).ok


def test_every_switch_chart_yaml_offers_for_a_subchart_is_one_the_schema_accepts(helm):
    dependencies = yaml.safe_load((CHART / "Chart.yaml").read_text())["dependencies"]
    for dependency in dependencies:
        switches = [dependency["condition"], *(f"tags.{tag}" for tag in dependency.get("tags", ()))]
        for switch in switches:
            manifest = helm.template(CHART, set_values={switch: True})  # ValuesRejectedError if the schema refuses it
            assert any(dependency["name"] in obj.body["metadata"]["name"] for obj in manifest), switch


def test_notes_name_only_services_that_are_installed(helm):
    if helm.major_version() < 4:
        pytest.skip(f"{helm.version()} needs a cluster for `install --dry-run=client`; Helm 4 renders NOTES offline")
    notes = helm.notes(CHART, set_values={"services.order.enabled": False})
    assert "shop-labkit-order" not in notes, notes
    assert "port-forward service/shop-labkit-customer 8000:" in notes
    notes = helm.notes(CHART)
    assert "port-forward service/shop-labkit-order 8000:" in notes
