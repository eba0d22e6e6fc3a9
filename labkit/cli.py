"""The `labkit` command line: `labkit doctor | generate | up | status | down | db | bench ...`.

Each area of the package registers its own subcommands; this module only lists the areas.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from labkit.errors import LabkitError

# Modules that define `register(subparsers)`. An area adds its module here.
COMMAND_MODULES = (
    "labkit.doctor",
    "labkit.bench",
    "labkit.workload",
    "labkit.containers.cli",
    "labkit.services.cli",
    "labkit.charts.cli",
    "labkit.pgserver",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LabkitError as exc:
        print(f"labkit {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
