"""The chart's contract with the real services: the rendered container arguments and ConfigMap start a real service
process, and the chart's own probe script (post-install hook and `helm test`) sees it healthy, or fails when not."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from labkit.charts.chart import lab_chart
from labkit.charts.helm import Helm
from labkit.charts.tools import find_helm

pytestmark = [pytest.mark.helm, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def manifest():
    if find_helm() is None:
        pytest.skip("no helm on PATH or in .tools/bin: run `make tools`")
    return Helm().template(lab_chart())


def probe(script: str, deadline: str, *urls: str) -> subprocess.CompletedProcess[str]:
    """Run the chart's probe script as its Job runs it: `python -c SCRIPT DEADLINE URL...`."""
    return subprocess.run([sys.executable, "-c", script, deadline, *urls], capture_output=True, text=True, timeout=90)


def test_rendered_arguments_and_config_start_the_real_service(manifest, tmp_path):
    container = manifest.get("Deployment", "shop-labkit-customer").body["spec"]["template"]["spec"]["containers"][0]
    config = manifest.get("ConfigMap", "shop-labkit-config").body["data"]
    port = free_port()
    # The pod's argv and environment, with loopback, a free port and a temporary folder in place of the pod's
    # 0.0.0.0, port 8000 and /data; the peer URL points at a closed port (its consumer keeps retrying).
    local = {"0.0.0.0": "127.0.0.1", str(container["ports"][0]["containerPort"]): str(port), "/data": str(tmp_path)}
    argv = [sys.executable, "-m", "labkit.services", *(local.get(arg, arg) for arg in container["args"])]
    env = {**os.environ, **config, "LABKIT_ORDER_URL": f"http://127.0.0.1:{free_port()}"}
    assert set(config) >= {"LABKIT_CUSTOMER_URL", "LABKIT_ORDER_URL", "LABKIT_LOG_LEVEL"}
    service = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        command = manifest.get("Job", "shop-labkit-wait-healthy").body["spec"]["template"]["spec"]["containers"][0]
        script = command["command"][2]
        base = f"http://127.0.0.1:{port}"
        done = probe(script, "60", f"{base}/health", f"{base}/events?after=0&limit=1")
        assert done.returncode == 0, (done.stderr, service.poll())
        assert done.stdout.splitlines() == [f"200 {base}/health", f"200 {base}/events?after=0&limit=1"]
        assert (tmp_path / "customer.duckdb").exists()
    finally:
        service.terminate()
        service.wait(timeout=30)


def test_the_probe_script_fails_past_its_deadline(manifest):
    pod = manifest.get("Pod", "shop-labkit-test-services").body["spec"]["containers"][0]
    done = probe(pod["command"][2], "1", f"http://127.0.0.1:{free_port()}/health")
    assert done.returncode != 0 and "did not answer 200 in time" in done.stderr
