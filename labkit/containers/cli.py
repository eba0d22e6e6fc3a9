"""`labkit containers ...`: engine status, offline base images, explain and lint a Dockerfile, clean up.

labkit containers status
labkit containers base-image busybox|debian-python|all [--rebuild]
labkit containers explain --target runtime --build-arg BASE_IMAGE=... docker/services.Dockerfile -- --port 9000
labkit containers explain --builder legacy --syntax 1.2 Dockerfile   (Docker 20.10's legacy builder)
labkit containers lint docker/services.Dockerfile
labkit containers cleanup [--purpose notebook-09] [--include-base-images]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from labkit.arguments import key_value, number
from labkit.containers.builders import BUILDERS, CURRENT, DEFAULT_BUILDER, ENGINE_20_10
from labkit.errors import UsageError


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path} is not a Dockerfile: not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#x})"
        ) from None


def _status(args: argparse.Namespace) -> int:
    from labkit.containers.engine import detect

    status = detect()
    print(status)
    return 0 if status.reachable else 1


def _base_image(args: argparse.Namespace) -> int:
    from labkit.containers.baseimages import BASE_IMAGES, ensure_base_image
    from labkit.containers.engine import connect

    names = [spec.name for spec in BASE_IMAGES] if args.name == "all" else [args.name]
    with connect() as engine:
        for name in names:
            result = ensure_base_image(engine, name, rebuild=args.rebuild)
            size = engine.image_size(result.reference) / 1e6
            how = f"imported in {result.seconds:.1f} s" if result.created else "already present, reused"
            print(f"{result.reference}: {how}, {size:.1f} MB")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from labkit.containers.explainer import explain

    text = _read(args.dockerfile)
    image = explain(
        text,
        target=args.target,
        build_args=dict(args.build_arg or ()),
        builder=args.builder,
        syntax=args.syntax,
        platform=args.platform,
        engine=None if args.offline else "auto",
    )
    print(f"builder: {image.builder}, Dockerfile syntax {image.syntax}; stages built: {list(image.stages_built())}\n")
    for step in image.steps:
        print(f"{step.lines:>5}  [{step.stage}] {step.instruction}\n       -> {step.effect}")
    print("\nimage configuration:")
    print(json.dumps(image.to_inspect(), indent=2))
    for note in image.assumptions:
        print(f"assumption: {note}")
    print("\ndocker run:")
    run_args = args.run_args[1:] if args.run_args[:1] == ["--"] else args.run_args
    for sentence in image.command_story(run_args, args.entrypoint):
        print(f"  {sentence}")
    return 0


def _lint(args: argparse.Namespace) -> int:
    from labkit.containers.lint import lint

    report = lint(_read(args.dockerfile))
    print(report.text())
    return 1 if report.errors else 0


def _build(args: argparse.Namespace) -> int:
    from labkit.containers.engine import connect
    from labkit.containers.labimages import build_lab_image

    with connect() as engine:
        image = build_lab_image(engine, args.image, target=args.target)
        size = engine.image_size(image.id) / 1e6
        print(f"{image.tag}: {image.steps} steps in {image.seconds:.1f} s, {size:.0f} MB ({image.id[:19]})")
    return 0


def _check_lab(args: argparse.Namespace) -> int:
    from labkit.containers.engine import connect
    from labkit.containers.labimages import LAB, check_lab_image

    with connect() as engine:
        check = check_lab_image(engine, timeout_s=args.timeout)
    print(f"{LAB.tag}: {check.health}, /lab answered {check.status} on port {check.port} after {check.seconds:.1f} s")
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    from labkit.containers.baseimages import lab_cleanup
    from labkit.containers.engine import connect

    with connect() as engine:
        print(lab_cleanup(engine, purpose=args.purpose, include_base_images=args.include_base_images))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("containers", help="Docker: explain and lint Dockerfiles, base images, cleanup")
    actions = parser.add_subparsers(dest="action_name", required=True)

    status = actions.add_parser("status", help="is a Docker engine reachable (DOCKER_HOST or the default socket)?")
    status.set_defaults(func=_status)

    base = actions.add_parser("base-image", help="import an offline base image (reused when present)")
    base.add_argument("name", choices=["busybox", "debian-python", "all"])
    base.add_argument("--rebuild", action="store_true", help="import again even if the image exists")
    base.set_defaults(func=_base_image)

    explain = actions.add_parser("explain", help="what image a Dockerfile builds and what its containers run")
    explain.add_argument("--target")
    explain.add_argument("--build-arg", type=key_value, action="append", metavar="KEY=VALUE")
    explain.add_argument(
        "--builder",
        choices=BUILDERS,
        default=DEFAULT_BUILDER,
        help="Docker's builder: buildkit (the default since Docker 23.0) or legacy (DOCKER_BUILDKIT=0)",
    )
    explain.add_argument(
        "--syntax",
        metavar="VERSION",
        help=f"Dockerfile syntax built into the builder (default {CURRENT}, today's; Docker 20.10: {ENGINE_20_10}); "
        "with BuildKit a `# syntax=` line overrides it",
    )
    explain.add_argument("--platform", help="os/arch BuildKit builds for, for TARGETARCH... (default: this machine)")
    explain.add_argument("--entrypoint", help='as `docker run --entrypoint` ("" clears it)')
    explain.add_argument("--offline", action="store_true", help="do not ask an engine about base images")
    explain.add_argument("dockerfile")
    explain.add_argument(
        "run_args", nargs=argparse.REMAINDER, help="`docker run` arguments after the image (options go before FILE)"
    )
    explain.set_defaults(func=_explain)

    lint = actions.add_parser("lint", help="hadolint findings with the lab's advice")
    lint.add_argument("dockerfile")
    lint.set_defaults(func=_lint)

    build = actions.add_parser("build", help="build one of the lab's images from docker/ (offline wheelhouse)")
    build.add_argument("image", choices=["services", "lab", "postgres", "nats"])
    build.add_argument("--target", help="build one stage only (for example: wheels)")
    build.set_defaults(func=_build)

    check = actions.add_parser("check-lab", help="run the lab image and check that JupyterLab answers on /lab")
    check.add_argument(
        "--timeout", type=number(above=0, maximum=3600), default=180.0, help="seconds to wait for its health check"
    )
    check.set_defaults(func=_check_lab)

    cleanup = actions.add_parser("cleanup", help="remove containers, networks and images the lab created")
    cleanup.add_argument("--purpose", help="only what was created for this purpose (a notebook, a test)")
    cleanup.add_argument("--include-base-images", action="store_true")
    cleanup.set_defaults(func=_cleanup)
