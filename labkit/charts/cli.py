"""`labkit chart check | render | package`: the lab chart from the command line, with the real helm.

labkit chart check                          lint --strict, then defaults and every ci/ override, strictly validated
labkit chart render --set ingress.enabled=true [-f my-values.yaml] [--yaml]
labkit chart package [--destination build/charts]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from labkit.arguments import existing_file, folder
from labkit.paths import relative_to_repo, repo_root

# The work happens in functions that import helm, pandas and the Kubernetes schemas when they run, so building
# the `labkit` parser (every command does) stays fast.


def check(args: argparse.Namespace) -> int:
    """Lint strictly, render the defaults and each documented override, validate each for both Kubernetes ends."""
    from tqdm.auto import tqdm

    from labkit.charts.chart import documented_overrides, lab_chart
    from labkit.charts.helm import Helm
    from labkit.charts.validation import NEWEST_KUBERNETES, OLDEST_KUBERNETES, validate_manifest

    helm = Helm()
    chart = args.chart or lab_chart()
    lint = helm.lint(chart, strict=True)
    print(f"helm lint --strict {relative_to_repo(chart)}: {'passed' if lint.ok else 'FAILED'}")
    for message in lint.messages:
        print(f"  [{message.severity}] {message.where}: {message.text}")
    failed = not lint.ok
    cases = {"defaults": None, **documented_overrides(chart)}
    width = max(16, *(len(name) for name in cases))  # the verdicts line up whatever the override files are called
    for name, path in tqdm(cases.items(), desc="render and validate", unit="render", leave=False):
        manifest = helm.template(chart, values=[path] if path else None)
        for version in (OLDEST_KUBERNETES, NEWEST_KUBERNETES):
            report = validate_manifest(manifest, version)
            failed |= not report.ok
            tqdm.write(f"{name:<{width}} {report.summary()}")
    return 1 if failed else 0


def render(args: argparse.Namespace) -> int:
    """Render with values files and --set overrides; print the objects (or the YAML) and the validation verdict."""
    from labkit.charts.chart import lab_chart
    from labkit.charts.helm import Helm
    from labkit.charts.validation import NEWEST_KUBERNETES, validate_manifest

    manifest = Helm().template(
        args.chart or lab_chart(),
        release=args.release,
        namespace=args.namespace,
        values=[Path(f) for f in args.values],
        set_values=args.set,
    )
    if args.yaml:
        print(manifest.text)
    else:
        print(manifest.table().to_string(index=False))
    report = validate_manifest(manifest, args.kubernetes or NEWEST_KUBERNETES)
    print(report.summary())
    return 0 if report.ok else 1


def package(args: argparse.Namespace) -> int:
    """`helm package` the chart into the destination folder."""
    from labkit.charts.chart import lab_chart
    from labkit.charts.helm import Helm

    archive = Helm().package(args.chart or lab_chart(), args.destination)
    print(f"packaged {relative_to_repo(archive)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("chart", help="lint, render, validate and package the lab's Helm chart")
    actions = parser.add_subparsers(dest="action", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--chart", type=_chart_folder, default=None, help="chart folder (default docker/chart/labkit)")

    checking = actions.add_parser("check", parents=[common], help="lint --strict and validate every documented render")
    checking.set_defaults(func=check)

    rendering = actions.add_parser("render", parents=[common], help="helm template, then strict schema validation")
    rendering.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="as `helm --set`")
    rendering.add_argument(
        "-f", "--values", type=existing_file, action="append", default=[], metavar="FILE", help="a values file"
    )
    rendering.add_argument("--release", default="shop", help="release name (default shop)")
    rendering.add_argument("--namespace", default="labkit", help="namespace (default labkit)")
    rendering.add_argument(
        "--kubernetes",
        type=_kubernetes_version,
        default=None,
        help="Kubernetes version to validate against (default 1.37)",
    )
    rendering.add_argument("--yaml", action="store_true", help="print the rendered YAML instead of the object table")
    rendering.set_defaults(func=render)

    packaging = actions.add_parser("package", parents=[common], help="helm package into a folder")
    packaging.add_argument("--destination", type=folder, default=repo_root() / "build" / "charts", help="folder")
    packaging.set_defaults(func=package)


def _chart_folder(text: str) -> Path:
    path = Path(text)
    if not (path / "Chart.yaml").is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a chart folder (no Chart.yaml in it)")
    return path


def _kubernetes_version(text: str) -> str:
    """A Kubernetes minor version whose schemas the validator carries (1.25 to 1.37)."""
    from labkit.charts.validation import NEWEST_KUBERNETES, OLDEST_KUBERNETES

    def minor(version: str) -> int:
        return int(version.split(".")[1])

    if not re.fullmatch(r"1\.\d{1,3}", text.strip()) or not minor(OLDEST_KUBERNETES) <= minor(text) <= minor(
        NEWEST_KUBERNETES
    ):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Kubernetes version from {OLDEST_KUBERNETES} to {NEWEST_KUBERNETES} (such as 1.30)"
        )
    return text.strip()
