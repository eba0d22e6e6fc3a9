"""The postgres subchart, rendered by the real helm: its objects, its volume choices, and the services' URL to it."""

from __future__ import annotations

import base64

import pytest

from labkit.charts import chart as lab
from labkit.charts.validation import NEWEST_KUBERNETES, OLDEST_KUBERNETES, validate_manifest
from labkit.services.settings import DATABASE_URL_VARIABLE as URL_VARIABLE
from tests.subcharts import (
    LONG_RELEASE,
    client_service_under_a_long_release,
    offline_notes,
    pod_spec,
    refused_naming,
    service_env,
)

pytestmark = pytest.mark.helm
CHART = lab.lab_chart()
ON = {"postgres.enabled": True}
SUBCHART_SOURCE = "labkit/charts/postgres/"


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, NEWEST_KUBERNETES])
def test_enabled_renders_a_statefulset_two_services_and_a_secret(helm, version):
    manifest = helm.template(CHART, set_values=ON)
    report = validate_manifest(manifest, version, strict=True)
    assert report.ok, report.summary()
    ours = sorted(obj.key for obj in manifest if obj.source.startswith(SUBCHART_SOURCE))
    assert ours == [
        "Secret/shop-postgres",
        "Service/shop-postgres",
        "Service/shop-postgres-hl",
        "StatefulSet/shop-postgres",
    ]
    headless = manifest.get("Service", "shop-postgres-hl").body["spec"]
    assert headless["clusterIP"] == "None" and headless["ports"][0]["port"] == 5432
    statefulset = manifest.get("StatefulSet", "shop-postgres").body["spec"]
    assert statefulset["replicas"] == 1 and statefulset["serviceName"] == "shop-postgres-hl"
    container = statefulset["template"]["spec"]["containers"][0]
    assert container["image"] == "labkit/postgres:0.1.0"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"][0] == "pg_isready"
    security = statefulset["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
    secret = manifest.get("Secret", "shop-postgres").body
    password = base64.b64decode(secret["data"]["password"]).decode()
    assert len(password) == 32 and password.isalnum()
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_the_data_directory_gets_a_claim_of_the_statefulsets_own(helm):
    manifest = helm.template(CHART, set_values={**ON, "postgres.persistence.size": "5Gi"})
    spec = manifest.get("StatefulSet", "shop-postgres").body["spec"]
    (template,) = spec["volumeClaimTemplates"]
    assert template["metadata"]["name"] == "data"
    assert template["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert template["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "data" not in {v["name"] for v in spec["template"]["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in spec["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["data"] == "/var/lib/postgresql"
    # The claim is the StatefulSet's (data-shop-postgres-0, made by its controller), not an object of the release.
    assert not [c for c in manifest.of_kind("PersistentVolumeClaim") if c.source.startswith(SUBCHART_SOURCE)]


def test_an_existing_claim_is_mounted_and_no_claim_is_templated(helm):
    manifest = helm.template(CHART, set_values={**ON, "postgres.persistence.existingClaim": "pg-2024"})
    spec = manifest.get("StatefulSet", "shop-postgres").body["spec"]
    assert "volumeClaimTemplates" not in spec
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": "pg-2024"}}


def test_without_persistence_the_data_is_on_an_emptydir(helm):
    manifest = helm.template(CHART, set_values={**ON, "postgres.persistence.enabled": False})
    spec = manifest.get("StatefulSet", "shop-postgres").body["spec"]
    assert "volumeClaimTemplates" not in spec
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}


def test_every_service_gets_the_url_and_the_password_from_the_secret(helm):
    manifest = helm.template(CHART, set_values=ON)
    envs = service_env(manifest)
    assert sorted(envs) == ["shop-labkit-customer", "shop-labkit-history", "shop-labkit-order"]
    for env in envs.values():
        assert env[URL_VARIABLE] == "postgresql://postgres@shop-postgres:5432/labkit"
        assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "shop-postgres", "key": "password"}}
    # The server reads the same Secret as a file (initdb --pwfile), never as an environment variable.
    volumes = {v["name"]: v for v in pod_spec(manifest.get("StatefulSet", "shop-postgres"))["volumes"]}
    assert volumes["password"]["secret"]["secretName"] == "shop-postgres"
    assert volumes["password"]["secret"]["defaultMode"] == 0o440


def test_an_existing_secret_replaces_the_charts_own(helm):
    manifest = helm.template(CHART, set_values={**ON, "postgres.auth.existingSecret": "kept-password"})
    assert not [obj for obj in manifest.of_kind("Secret") if obj.source.startswith(SUBCHART_SOURCE)]
    for env in service_env(manifest).values():
        assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "kept-password", "key": "password"}}
    volumes = {v["name"]: v for v in pod_spec(manifest.get("StatefulSet", "shop-postgres"))["volumes"]}
    assert volumes["password"]["secret"]["secretName"] == "kept-password"


def test_a_given_password_is_used_as_it_is(helm):
    manifest = helm.template(
        CHART, set_values={**ON, "postgres.auth.password": "s3cret", "postgres.service.port": 6543}
    )
    assert base64.b64decode(manifest.get("Secret", "shop-postgres").body["data"]["password"]) == b"s3cret"
    for env in service_env(manifest).values():
        assert env[URL_VARIABLE] == "postgresql://postgres@shop-postgres:6543/labkit"


def test_names_fit_in_a_dns_label_for_the_longest_release_name(helm):
    manifest = helm.template(CHART, release=LONG_RELEASE, set_values=ON)
    service = client_service_under_a_long_release(manifest, SUBCHART_SOURCE, objects=4)
    for env in service_env(manifest).values():
        assert env[URL_VARIABLE] == f"postgresql://postgres@{service}:5432/labkit"


def test_disabled_nothing_of_postgres_renders(helm):
    manifest = helm.template(CHART)
    assert not [obj.key for obj in manifest if obj.source.startswith(SUBCHART_SOURCE) or "postgres" in obj.name]
    for env in service_env(manifest).values():
        assert URL_VARIABLE not in env and "PGPASSWORD" not in env
    assert manifest.keys() == helm.template(CHART, set_values={"postgres.enabled": False}).keys()


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"postgres.auth.username": "Not-A-Role"}, "postgres.auth.username"),
        ({"postgres.persistence.size": "lots"}, "postgres.persistence.size"),
        ({"postgres.persistence.accessModes[0]": "ReadWriteSometimes"}, "postgres.persistence.accessModes.0"),
        ({"postgres.image.pullPolicy": "Sometimes"}, "postgres.image.pullPolicy"),
    ],
)
def test_bad_subchart_values_are_refused_naming_the_key(helm, override, path):
    refused_naming(helm, CHART, {**ON, **override}, path)


def test_notes_give_the_url_and_how_to_read_the_password(helm):
    notes = offline_notes(helm, CHART, ON)
    assert "postgresql://postgres@shop-postgres:5432/labkit" in notes
    assert "get secret shop-postgres -o jsonpath='{.data.password}'" in notes
    assert "PostgreSQL" not in offline_notes(helm, CHART)
