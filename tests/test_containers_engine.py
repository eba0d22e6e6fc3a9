"""The engine driver on a real engine: detect, build with progress, run, logs, exit codes, networks, cleanup."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from labkit.containers.baseimages import BUSYBOX, ensure_base_image, lab_cleanup
from labkit.containers.engine import (
    CHECKOUT_LABEL,
    CHECKOUT_VARIABLE,
    OWNER,
    OWNER_LABEL,
    PURPOSE_LABEL,
    Engine,
    checkout_id,
    connect,
    connect_or_reason,
    detect,
    lab_labels,
)
from labkit.containers.errors import BuildFailedError, ContainerFailedError, EngineUnavailableError, MissingImageError
from labkit.containers.prebuild import build_checked

PURPOSE = "engine-test"


def test_no_engine_says_exactly_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/missing.sock")
    status = detect()
    assert not status.reachable
    assert status.host == f"unix://{tmp_path}/missing.sock"
    assert "no socket at" in status.detail and "daemon is not running" in status.detail
    with pytest.raises(EngineUnavailableError, match="explainer and lint work without an engine"):
        connect()


def test_a_socket_nobody_listens_on_is_connection_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "closed.sock"
    closed = socket.socket(socket.AF_UNIX)
    closed.bind(str(path))  # bound but never listening: connect() is refused
    try:
        monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
        engine, reason = connect_or_reason()
    finally:
        closed.close()
    assert engine is None
    assert "connection refused" in reason


@pytest.fixture(scope="module")
def engine(docker_engine: Engine) -> Engine:
    ensure_base_image(docker_engine, BUSYBOX.name)
    yield docker_engine
    docker_engine.cleanup(purpose=PURPOSE)


def _context(folder: Path, dockerfile: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile)
    return folder


pytestmark = pytest.mark.docker


def test_build_streams_progress_and_labels_the_image(engine: Engine, tmp_path: Path, capsys) -> None:
    context = _context(tmp_path, f"FROM {BUSYBOX.reference}\nRUN echo building\nENV A=1\n")
    image = engine.build(context, tag="labkit-engine-test/progress:1", purpose=PURPOSE, progress=True)
    assert image.steps == 3 + len(lab_labels(PURPOSE))  # FROM, RUN, ENV, and one LABEL step per --label the lab adds
    labels = engine.image_config(image.id)["Labels"]
    assert labels[OWNER_LABEL] == OWNER and labels[PURPOSE_LABEL] == PURPOSE
    assert labels[CHECKOUT_LABEL] == checkout_id()
    assert f"Step 2/{image.steps} : RUN echo building" in image.log
    assert "build labkit-engine-test/progress:1" in capsys.readouterr().err


def test_a_missing_base_image_is_never_pulled(engine: Engine, tmp_path: Path) -> None:
    context = _context(tmp_path, 'FROM labkit-test/not-here:1\nCMD ["true"]\n')
    with pytest.raises(MissingImageError, match="never pulls") as refused:
        build_checked(engine, context, purpose=PURPOSE, progress=False)
    assert "labkit-test/not-here:1" in str(refused.value)
    with pytest.raises(MissingImageError):
        engine.run("labkit-test/not-here:1", purpose=PURPOSE)


def test_a_failing_build_shows_the_builder_log(engine: Engine, tmp_path: Path) -> None:
    context = _context(tmp_path, f"FROM {BUSYBOX.reference}\nRUN echo about to fail && exit 7\n")
    with pytest.raises(BuildFailedError, match="returned a non-zero code: 7") as failed:
        engine.build(context, purpose=PURPOSE, progress=False)
    assert "about to fail" in failed.value.log


def test_run_returns_argv_exit_code_and_logs(engine: Engine) -> None:
    result = engine.run(BUSYBOX.reference, ["sh", "-c", "echo out; echo err >&2; exit 4"], purpose=PURPOSE)
    assert result.argv == ("sh", "-c", "echo out; echo err >&2; exit 4")
    assert result.exit_code == 4
    assert sorted(result.logs.splitlines()) == ["err", "out"]  # stdout and stderr, interleaved as they came
    with pytest.raises(ContainerFailedError, match="No command specified"):
        engine.run(BUSYBOX.reference, entrypoint="", purpose=PURPOSE)


def test_containers_on_a_user_defined_network_find_each_other_by_name(engine: Engine, tmp_path: Path) -> None:
    network = engine.create_network("labkit-engine-test-net", purpose=PURPOSE)
    context = _context(
        tmp_path,
        f"FROM {BUSYBOX.reference}\nRUN mkdir /www && echo served-by-web > /www/index.html\n"
        "HEALTHCHECK --interval=1s --timeout=2s --retries=5 CMD wget -q -O /dev/null http://127.0.0.1:8080/\n"
        'ENTRYPOINT ["httpd", "-f", "-p", "8080", "-h", "/www"]\n',
    )
    web = engine.build(context, purpose=PURPOSE, progress=False)
    server = engine.create_container(
        web.id, purpose=PURPOSE, network=network, aliases=["web"], ports={"8080/tcp": None}
    )
    engine.start(server)
    assert engine.wait_healthy(server, timeout_s=30) == "healthy"
    client = engine.run(BUSYBOX.reference, ["wget", "-q", "-O-", "http://web:8080/"], purpose=PURPOSE, network=network)
    assert (client.exit_code, client.logs) == (0, "served-by-web\n")
    assert engine.published_port(server, "8080/tcp") > 0


def test_cleanup_removes_only_what_the_lab_labelled(engine: Engine) -> None:
    mine = engine.create_container(BUSYBOX.reference, ["true"], purpose=PURPOSE)
    users = engine.client.api.create_container(BUSYBOX.reference, command=["true"])["Id"]  # no labels
    try:
        report = lab_cleanup(engine, purpose=PURPOSE)
        remaining = {c["Id"] for c in engine.client.api.containers(all=True)}
        assert mine in report.containers and mine not in remaining
        assert users in remaining
        assert engine.has_image(BUSYBOX.reference)  # base images stay unless asked
    finally:
        engine.remove_container(users)


def test_ports_are_published_on_loopback_unless_asked_otherwise(engine: Engine) -> None:
    quiet = engine.create_container(BUSYBOX.reference, ["sleep", "30"], purpose=PURPOSE, ports={"8000/tcp": None})
    open_to_all = engine.create_container(
        BUSYBOX.reference, ["sleep", "30"], purpose=PURPOSE, ports={"8000/tcp": None}, publish_on="0.0.0.0"
    )
    try:
        for container in (quiet, open_to_all):
            engine.start(container)
        bound = {
            name: engine.inspect_container(c)["NetworkSettings"]["Ports"]["8000/tcp"]
            for name, c in (("quiet", quiet), ("open", open_to_all))
        }
        assert {b["HostIp"] for b in bound["quiet"]} == {"127.0.0.1"}, bound
        assert "0.0.0.0" in {b["HostIp"] for b in bound["open"]}, bound
        assert engine.published_port(quiet, "8000/tcp") > 0
    finally:
        engine.remove_container(quiet)
        engine.remove_container(open_to_all)


def test_two_checkouts_on_one_engine_clean_up_only_their_own(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two clones of the lab (or two users' labs) share an engine: each cleanup removes its own objects only, even
    with the same purpose."""
    made: dict[str, dict[str, str]] = {}
    for checkout in ("checkout-a", "checkout-b"):
        monkeypatch.setenv(CHECKOUT_VARIABLE, f"{checkout}-{PURPOSE}")
        made[checkout] = {
            "container": engine.create_container(BUSYBOX.reference, ["true"], purpose=PURPOSE),
            "network": engine.create_network(f"labkit-{checkout}-test-net", purpose=PURPOSE),
        }
    try:
        monkeypatch.setenv(CHECKOUT_VARIABLE, f"checkout-a-{PURPOSE}")
        report = lab_cleanup(engine)  # every purpose: still only checkout a's
        assert report.containers == [made["checkout-a"]["container"]]
        assert report.networks == [made["checkout-a"]["network"]]
        remaining = {c["Id"] for c in engine.client.api.containers(all=True)}
        networks = {n["Id"] for n in engine.client.api.networks()}
        assert made["checkout-b"]["container"] in remaining and made["checkout-b"]["network"] in networks
        labels = engine.inspect_container(made["checkout-b"]["container"])["Config"]["Labels"]
        assert labels[CHECKOUT_LABEL] == f"checkout-b-{PURPOSE}"
    finally:
        monkeypatch.setenv(CHECKOUT_VARIABLE, f"checkout-b-{PURPOSE}")
        report = lab_cleanup(engine, purpose=PURPOSE)
        assert report.containers == [made["checkout-b"]["container"]]
