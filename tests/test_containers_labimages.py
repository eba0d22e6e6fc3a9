"""The lab's images built from docker/ on a real engine: the explainer predicts them, the stages shrink them."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.containers.engine import Engine, lab_labels
from labkit.containers.explainer import explain
from labkit.containers.imageconfig import normalized_inspect
from labkit.containers.labimages import IMAGES_PURPOSE as PURPOSE
from labkit.containers.labimages import LAB, LAB_SOURCES, SERVICES, _tracked_files, base_image_for, build_lab_image
from labkit.containers.lint import lint
from labkit.errors import UsageError
from labkit.paths import repo_root


@pytest.mark.parametrize("image", [SERVICES, LAB], ids=lambda image: image.name)
def test_the_dockerfiles_follow_the_source_advice(image) -> None:
    text = image.dockerfile_path.read_text()
    assert lint(text).findings == ()
    explained = explain(text, build_args={"BASE_IMAGE": "python:3.11-slim"}, base_images={"python:3.11-slim": {}})
    assert explained.user == "10001:10001"  # non-root, numeric
    assert explained.entrypoint[0] == "python3" if image is SERVICES else explained.entrypoint[0] == "jupyter"
    assert explained.config.healthcheck is not None
    assert explained.exposed_ports == (("8000/tcp",) if image is SERVICES else ("8888/tcp",))
    assert explained.stages_built("buildkit") == (0, 1)


def test_services_image_runs_one_service_per_container() -> None:
    text = SERVICES.dockerfile_path.read_text()
    image = explain(text, base_images={"python:3.11-slim": {}})
    assert image.command() == ("python3", "-m", "labkit.services", "customer")
    assert image.command(["order"]) == ("python3", "-m", "labkit.services", "order")
    assert image.env["LABKIT_HOST"] == "0.0.0.0" and image.env["LABKIT_DATA_DIR"] == "/data"


def test_the_lab_image_carries_the_checkout_not_the_environment() -> None:
    files = {str(path) for path in _tracked_files(repo_root(), LAB_SOURCES)}
    assert {"pyproject.toml", "labkit/paths.py", "notebooks/00_index.ipynb"} <= files
    assert not any(name.startswith((".venv", "build/", "tests/")) for name in files)


def test_unknown_image_name() -> None:
    from labkit.containers.labimages import lab_image

    with pytest.raises(UsageError, match="services, lab"):
        lab_image("web")


# The images built here are the lab's own images (`make images` builds the same): they stay after the test.
@pytest.mark.docker
@pytest.mark.slow
def test_services_image_is_what_explain_predicts_and_multistage_is_smaller(docker_engine: Engine) -> None:
    runtime = build_lab_image(docker_engine, "services", purpose=PURPOSE, progress=False)
    wheels = build_lab_image(docker_engine, "services", target="wheels", purpose=PURPOSE, progress=False)
    base = base_image_for(docker_engine)
    text = Path(SERVICES.dockerfile_path).read_text()
    predicted = explain(text, build_args={"BASE_IMAGE": base}, engine=docker_engine, labels=lab_labels(PURPOSE))
    assert predicted.assumptions == ()
    assert predicted.to_inspect()["Config"] == normalized_inspect(docker_engine.image_config(runtime.id))
    assert docker_engine.image_size(runtime.id) < docker_engine.image_size(wheels.id)
    check = docker_engine.run(runtime.id, ["--help"], purpose=PURPOSE)
    assert check.exit_code == 0 and "customer" in check.logs
