"""The nats subchart, rendered by the real helm: its objects, its JetStream volume choices, its configuration (run by
the real nats-server), and the services' URL to it."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from labkit.charts import chart as lab
from labkit.charts.errors import RenderError, ValuesRejectedError
from labkit.charts.validation import NEWEST_KUBERNETES, OLDEST_KUBERNETES, validate_manifest
from labkit.jetstream.server import URL_VARIABLE, binary
from labkit.localserver import free_port
from tests.subcharts import (
    LONG_RELEASE,
    client_service_under_a_long_release,
    offline_notes,
    refused_naming,
    service_env,
)

pytestmark = pytest.mark.helm
CHART = lab.lab_chart()
ON = {"nats.enabled": True}
SUBCHART_SOURCE = "labkit/charts/nats/"
MEBIBYTE = 1024 * 1024


def nats_conf(manifest, name: str = "shop-nats") -> str:
    return manifest.get("ConfigMap", name).body["data"]["nats.conf"]


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, NEWEST_KUBERNETES])
def test_enabled_renders_a_statefulset_two_services_and_a_config(helm, version):
    manifest = helm.template(CHART, set_values=ON)
    report = validate_manifest(manifest, version, strict=True)
    assert report.ok, report.summary()
    ours = sorted(obj.key for obj in manifest if obj.source.startswith(SUBCHART_SOURCE))
    assert ours == ["ConfigMap/shop-nats", "Service/shop-nats", "Service/shop-nats-hl", "StatefulSet/shop-nats"]
    client = manifest.get("Service", "shop-nats").body["spec"]
    assert {p["name"]: p["port"] for p in client["ports"]} == {"client": 4222, "monitor": 8222}
    headless = manifest.get("Service", "shop-nats-hl").body["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    statefulset = manifest.get("StatefulSet", "shop-nats").body["spec"]
    assert statefulset["replicas"] == 1 and statefulset["serviceName"] == "shop-nats-hl"
    container = statefulset["template"]["spec"]["containers"][0]
    assert container["image"] == "labkit/nats:0.1.0"
    assert container["args"] == ["--config", "/etc/nats/nats.conf"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"client": 4222, "monitor": 8222}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == "monitor"
        assert container[probe]["httpGet"]["path"].startswith("/healthz")
    security = statefulset["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001 and security["fsGroup"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"jetstream": "/var/lib/nats", "config": "/etc/nats"}
    volumes = {v["name"]: v for v in statefulset["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == "shop-nats"


def test_the_config_carries_the_jetstream_limits_and_a_change_restarts_the_pod(helm):
    default = helm.template(CHART, set_values=ON)
    conf = nats_conf(default)
    assert "store_dir: /var/lib/nats" in conf
    assert "max_memory_store: 256Mi" in conf and "max_file_store: 1Gi" in conf
    tuned = helm.template(CHART, set_values={**ON, "nats.jetstream.maxFileStore": "3Gi"})
    assert "max_file_store: 3Gi" in nats_conf(tuned)

    def checksum(manifest):
        return manifest.get("StatefulSet", "shop-nats").body["spec"]["template"]["metadata"]["annotations"]

    assert checksum(default)["checksum/config"] != checksum(tuned)["checksum/config"]


def test_the_rendered_config_runs_jetstream_with_those_limits(helm, tmp_path: Path):
    """The ConfigMap's nats.conf, run by the real nats-server (the image's binary), with only the addresses and the
    store moved to this machine's loopback and a temporary folder: the server name and limits it reports are ours."""
    manifest = helm.template(CHART, values=[lab.documented_overrides()["nats"]])
    client, monitor = free_port(), free_port()
    conf = (
        nats_conf(manifest)
        .replace("0.0.0.0:4222", f"127.0.0.1:{client}")
        .replace("0.0.0.0:8222", f"127.0.0.1:{monitor}")
        .replace("store_dir: /var/lib/nats", f"store_dir: {tmp_path / 'store'}")
    )
    assert str(tmp_path) in conf and "0.0.0.0" not in conf
    (tmp_path / "nats.conf").write_text(conf)
    env = {**os.environ, "SERVER_NAME": "shop-nats-0"}  # what the StatefulSet's fieldRef gives the pod
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen([binary(), "--config", tmp_path / "nats.conf"], stdout=log, stderr=log, env=env)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/varz", timeout=2) as answer:
                    varz = json.load(answer)
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the server did not answer on its monitoring port"
                time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(10)
    assert varz["server_name"] == "shop-nats-0" and varz["port"] == client
    limits = varz["jetstream"]["config"]
    assert limits["max_memory"] == 512 * MEBIBYTE and limits["max_storage"] == 4 * 1024 * MEBIBYTE
    assert limits["store_dir"] == str(tmp_path / "store" / "jetstream")


def test_the_store_gets_a_claim_of_the_statefulsets_own(helm):
    manifest = helm.template(CHART, set_values={**ON, "nats.persistence.size": "5Gi"})
    spec = manifest.get("StatefulSet", "shop-nats").body["spec"]
    (template,) = spec["volumeClaimTemplates"]
    assert template["metadata"]["name"] == "jetstream"
    assert template["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert template["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "jetstream" not in {v["name"] for v in spec["template"]["spec"]["volumes"]}
    # The claim is the StatefulSet's (jetstream-shop-nats-0, made by its controller), not an object of the release.
    assert not [c for c in manifest.of_kind("PersistentVolumeClaim") if c.source.startswith(SUBCHART_SOURCE)]


def test_an_existing_claim_is_mounted_and_no_claim_is_templated(helm):
    manifest = helm.template(CHART, values=[lab.documented_overrides()["nats-existing-claim"]])
    spec = manifest.get("StatefulSet", "shop-nats").body["spec"]
    assert "volumeClaimTemplates" not in spec
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert volumes["jetstream"] == {"name": "jetstream", "persistentVolumeClaim": {"claimName": "shop-nats-jetstream"}}


def test_without_persistence_the_store_is_on_an_emptydir(helm):
    manifest = helm.template(CHART, set_values={**ON, "nats.persistence.enabled": False})
    spec = manifest.get("StatefulSet", "shop-nats").body["spec"]
    assert "volumeClaimTemplates" not in spec
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert volumes["jetstream"] == {"name": "jetstream", "emptyDir": {}}


def test_every_service_gets_the_brokers_url(helm):
    manifest = helm.template(CHART, set_values={**ON, "nats.service.port": 4333})
    envs = service_env(manifest)
    assert sorted(envs) == ["shop-labkit-customer", "shop-labkit-history", "shop-labkit-order"]
    for env in envs.values():
        assert env[URL_VARIABLE] == "nats://shop-nats:4333"
    client = manifest.get("Service", "shop-nats").body["spec"]["ports"][0]
    assert (client["port"], client["targetPort"]) == (4333, "client")


def test_the_services_use_the_broker_transport_only_when_asked(helm):
    for env in service_env(helm.template(CHART, set_values=ON)).values():
        assert "LABKIT_TRANSPORT" not in env  # the broker is there; the services still pull each other's feeds
    asked = helm.template(CHART, set_values={**ON, "eventTransport": "nats"})
    envs = service_env(asked)
    assert {env["LABKIT_TRANSPORT"] for env in envs.values()} == {"nats"} and len(envs) == 3
    assert validate_manifest(asked, NEWEST_KUBERNETES, strict=True).ok
    with pytest.raises(RenderError, match=r"eventTransport is nats but nats\.enabled is false"):
        helm.template(CHART, set_values={"eventTransport": "nats"})
    with pytest.raises(ValuesRejectedError, match="eventTransport"):
        helm.template(CHART, set_values={"eventTransport": "pigeon"})


def test_names_fit_in_a_dns_label_for_the_longest_release_name(helm):
    manifest = helm.template(CHART, release=LONG_RELEASE, set_values=ON)
    service = client_service_under_a_long_release(manifest, SUBCHART_SOURCE, objects=4)
    for env in service_env(manifest).values():
        assert env[URL_VARIABLE] == f"nats://{service}:4222"


def test_disabled_nothing_of_nats_renders(helm):
    manifest = helm.template(CHART)
    assert not [obj.key for obj in manifest if obj.source.startswith(SUBCHART_SOURCE) or "nats" in obj.name]
    for env in service_env(manifest).values():
        assert URL_VARIABLE not in env
    assert manifest.keys() == helm.template(CHART, set_values={"nats.enabled": False}).keys()


def test_the_broker_and_the_database_together_validate(helm):
    manifest = helm.template(CHART, set_values={**ON, "postgres.enabled": True})
    assert validate_manifest(manifest, NEWEST_KUBERNETES, strict=True).ok
    assert sorted(s.name for s in manifest.of_kind("StatefulSet")) == ["shop-nats", "shop-postgres"]
    for env in service_env(manifest).values():
        assert env[URL_VARIABLE] == "nats://shop-nats:4222" and "LABKIT_DATABASE_URL" in env


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"nats.jetstream.maxFileStore": "lots"}, "nats.jetstream.maxFileStore"),
        ({"nats.jetstream.maxMemoryStore": "1.5G"}, "nats.jetstream.maxMemoryStore"),
        ({"nats.persistence.size": "big"}, "nats.persistence.size"),
        ({"nats.persistence.existingClaim": "Not_A_Claim"}, "nats.persistence.existingClaim"),
        ({"nats.service.monitorPort": 70000}, "nats.service.monitorPort"),
        ({"nats.image.pullPolicy": "Sometimes"}, "nats.image.pullPolicy"),
    ],
)
def test_bad_subchart_values_are_refused_naming_the_key(helm, override, path):
    refused_naming(helm, CHART, {**ON, **override}, path)


def test_notes_give_the_url_and_the_monitoring_port(helm):
    notes = offline_notes(helm, CHART, ON)
    assert "nats://shop-nats:4222" in notes
    assert "port-forward service/shop-nats 8222:8222" in notes
    assert "NATS" not in offline_notes(helm, CHART)
