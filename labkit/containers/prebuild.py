"""The check before a build: every image a Dockerfile reads must already be in the engine's store.

Docker's legacy builder pulls a missing base image whatever `pull=False` says (and BuildKit resolves one from its
registry), and the lab never pulls. So before a build runs, the explainer works out which images the stages that
builder builds read (their FROM bases and COPY --from images), and a missing one stops the build with the way out
(`Engine.require_images`). The legacy builder builds through the engine's API (`Engine.build`), BuildKit through the
docker CLI (`buildkit.build_with_buildkit`).

This sits above both the engine driver and the explainer, so neither imports the other for it.

    image = build_checked(engine, context, tag="labkit-example/app:1", purpose="notebook-09")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from labkit.containers.builders import Builder, check_builder
from labkit.containers.buildkit import build_with_buildkit
from labkit.containers.engine import BuiltImage, Engine
from labkit.containers.errors import DockerfileError
from labkit.containers.explainer import ImageConfigSource, explain
from labkit.containers.instructions import directives, parse


def images_needed(
    text: str,
    *,
    target: str | None,
    build_args: Mapping[str, str] | None,
    engine: ImageConfigSource | None,
    builder: Builder = "legacy",
) -> list[str]:
    """The images a build of `text` reads (stage bases, COPY --from images, and with BuildKit the frontend image a
    `# syntax=` line names), so missing ones fail before any pull."""
    frontend = directives(text).get("syntax") if builder == "buildkit" else None
    return ([frontend] if frontend else []) + _stage_images(text, target, build_args, engine, builder)


def _stage_images(
    text: str,
    target: str | None,
    build_args: Mapping[str, str] | None,
    engine: ImageConfigSource | None,
    builder: Builder,
) -> list[str]:
    try:
        plan = explain(text, target=target, build_args=build_args, engine=engine, builder=builder)
    except DockerfileError:
        # Docker will refuse this Dockerfile with its own message; still never let it pull a literal base.
        try:
            instructions = parse(text).instructions
        except DockerfileError:
            return []
        froms = [i.arguments for i in instructions if i.keyword == "FROM"]
        names = {arguments[2].lower() for arguments in froms if len(arguments) == 3}
        return [a[0] for a in froms if "$" not in a[0] and a[0] != "scratch" and a[0].lower() not in names]
    built = plan.stages_built()
    needed = [plan.stages[i].base for i in built if plan.stages[i].base_kind == "image"]
    needed += [copy.from_image for i in built for copy in plan.stages[i].copies if copy.from_image]
    return needed


def build_checked(
    engine: Engine,
    context: Path | str,
    *,
    dockerfile: str = "Dockerfile",
    tag: str | None = None,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    labels: Mapping[str, str] | None = None,
    purpose: str = "lab",
    progress: bool = True,
    nocache: bool = False,
    builder: Builder = "legacy",
) -> BuiltImage:
    """A build with `builder` (the SDK's legacy builder unless told), after refusing (MissingImageError, with the way
    out) when an image it reads is missing."""
    check_builder(builder)
    context = Path(context)
    text = (context / dockerfile).read_text()
    needed = images_needed(text, target=target, build_args=build_args, engine=engine, builder=builder)
    engine.require_images(needed, needed_by=f"building {tag or context.name}")
    if builder == "buildkit":
        return build_with_buildkit(
            engine,
            context,
            dockerfile=dockerfile,
            tag=tag,
            build_args=build_args,
            target=target,
            labels=labels,
            purpose=purpose,
        )
    return engine.build(
        context,
        dockerfile=dockerfile,
        tag=tag,
        build_args=build_args,
        target=target,
        labels=labels,
        purpose=purpose,
        progress=progress,
        nocache=nocache,
    )
