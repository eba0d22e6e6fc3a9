"""The check before a build, and the cleanup that spares the base images, on a stand-in for the docker SDK's client.

The real engine runs these paths in test_containers_engine.py and the proof; here they run without one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker.errors
import pytest

from labkit.containers.baseimages import BUSYBOX, DEBIAN_PYTHON, lab_cleanup
from labkit.containers.engine import CHECKOUT_LABEL, OWNER_LABEL, PURPOSE_LABEL, Engine, EngineStatus, lab_labels
from labkit.containers.errors import MissingImageError
from labkit.containers.prebuild import build_checked, images_needed

PRESENT = "present/base:1"


class StandInAPI:
    """The few calls of `docker.APIClient` the driver makes here: an image store, a builder that records its call."""

    def __init__(self, images: dict[str, dict[str, Any]]) -> None:
        self.store = images
        self.builds: list[dict[str, Any]] = []
        self.removed: list[str] = []

    def inspect_image(self, reference: str) -> dict[str, Any]:
        for image in self.store.values():
            if reference == image["Id"] or reference in image.get("RepoTags", ()):
                return image
        raise docker.errors.ImageNotFound(f"No such image: {reference}")

    def build(self, **options: Any):
        self.builds.append(options)
        yield {"stream": "Step 1/1 : FROM present/base:1\n"}
        yield {"aux": {"ID": "sha256:built"}}

    def containers(self, **_: Any) -> list[dict[str, Any]]:
        return []

    def networks(self, **_: Any) -> list[dict[str, Any]]:
        return []

    def images(self, *, filters: dict[str, list[str]] | None = None, name: str | None = None) -> list[dict[str, Any]]:
        found = list(self.store.values())
        if name is not None:
            return [image for image in found if name in image.get("RepoTags", ())]
        wanted = dict(label.split("=", 1) for label in (filters or {}).get("label", ()))
        return [image for image in found if all(image["Labels"].get(k) == v for k, v in wanted.items())]

    def remove_image(self, image_id: str, **_: Any) -> None:
        self.removed.append(image_id)


class StandInClient:
    def __init__(self, api: StandInAPI) -> None:
        self.api = api


def _image(image_id: str, tag: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"Id": image_id, "RepoTags": [tag], "Labels": labels, "Config": {"Cmd": ["sh"]}}


@pytest.fixture
def api() -> StandInAPI:
    return StandInAPI({PRESENT: _image("sha256:present", PRESENT, {})})


@pytest.fixture
def engine(api: StandInAPI) -> Engine:
    return Engine(StandInClient(api), EngineStatus(True, "stand-in", "stand-in engine"))  # type: ignore[arg-type]


def _context(folder: Path, dockerfile: str) -> Path:
    (folder / "Dockerfile").write_text(dockerfile)
    return folder


def test_a_missing_base_is_refused_before_the_builder_runs(engine: Engine, api: StandInAPI, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM labkit-test/not-here:1\nCOPY --from=other/image:2 /a /a\n")
    with pytest.raises(MissingImageError, match="never pulls") as refused:
        build_checked(engine, context, tag="x:1", purpose="prebuild-test", progress=False)
    assert "building x:1 needs labkit-test/not-here:1, other/image:2" in str(refused.value)
    assert api.builds == []


def test_only_the_stages_the_legacy_builder_builds_are_checked(engine: Engine) -> None:
    text = f"FROM {PRESENT} AS one\nFROM not-built/base:1 AS two\nCOPY --from=one /a /a\n"
    assert images_needed(text, target="one", build_args=None, engine=engine) == [PRESENT]
    assert images_needed(text, target=None, build_args=None, engine=engine) == [PRESENT, "not-built/base:1"]
    assert images_needed("ARG BASE\nFROM $BASE\n", target=None, build_args={"BASE": PRESENT}, engine=engine) == [
        PRESENT
    ]


def test_buildkit_is_checked_for_the_stages_it_builds_and_its_frontend_image(
    engine: Engine, api: StandInAPI, tmp_path: Path
) -> None:
    text = f"FROM not-built/base:1 AS unneeded\nFROM {PRESENT} AS app\n"
    assert images_needed(text, target="app", build_args=None, engine=engine, builder="buildkit") == [PRESENT]
    assert images_needed(text, target="app", build_args=None, engine=engine) == ["not-built/base:1", PRESENT]
    framed = f"# syntax=docker/dockerfile:1.4\nFROM {PRESENT}\n"
    assert images_needed(framed, target=None, build_args=None, engine=engine, builder="buildkit") == [
        "docker/dockerfile:1.4",
        PRESENT,
    ]
    with pytest.raises(MissingImageError, match=r"docker/dockerfile:1\.4"):
        build_checked(engine, _context(tmp_path, framed), purpose="prebuild-test", builder="buildkit")
    assert images_needed(framed, target=None, build_args=None, engine=engine) == [PRESENT]  # legacy: a comment


def test_a_dockerfile_the_explainer_refuses_still_never_pulls_a_literal_base(engine: Engine) -> None:
    refused = "FROM missing/base:1 AS build\nEXPOSE not-a-port\nFROM build\nFROM $UNSET\n"
    assert images_needed(refused, target=None, build_args=None, engine=engine) == ["missing/base:1"]
    assert images_needed("FROM\n", target=None, build_args=None, engine=engine) == []


def test_a_checked_build_hands_everything_to_the_engine(engine: Engine, api: StandInAPI, tmp_path: Path) -> None:
    context = _context(tmp_path, f"FROM {PRESENT}\n")
    image = build_checked(
        engine,
        context,
        tag="x:1",
        build_args={"A": "1"},
        labels={"team": "lab"},
        purpose="prebuild-test",
        progress=False,
        nocache=True,
    )
    assert (image.id, image.tag, image.steps) == ("sha256:built", "x:1", 1)
    (options,) = api.builds
    assert options["path"] == str(context) and options["dockerfile"] == "Dockerfile"
    assert options["buildargs"] == {"A": "1"} and options["target"] is None
    assert options["labels"] == {"team": "lab", **lab_labels("prebuild-test")}
    assert set(lab_labels("prebuild-test")) == {OWNER_LABEL, PURPOSE_LABEL, CHECKOUT_LABEL}
    assert options["pull"] is False and options["nocache"] is True


def test_lab_cleanup_spares_the_base_images_unless_asked(api: StandInAPI, engine: Engine) -> None:
    mine = lab_labels("t")
    api.store = {
        "built": _image("sha256:built", "lab/app:1", mine),
        "retagged-base": _image("sha256:labelled-base", BUSYBOX.reference, mine),
        "base": _image("sha256:base", DEBIAN_PYTHON.reference, {}),
    }
    assert lab_cleanup(engine, purpose="t").images == ["sha256:built"]
    api.removed.clear()
    assert lab_cleanup(engine, purpose="t", include_base_images=True).images == ["sha256:built", "sha256:labelled-base"]
    report = lab_cleanup(engine, include_base_images=True)
    assert sorted(report.images) == ["sha256:base", "sha256:built", "sha256:labelled-base"]
