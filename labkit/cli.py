"""The `labkit` command line: `labkit doctor | generate | up | status | down | db | broker | bench ...`.

Each area of the package registers its own subcommands; this module only lists the areas, and keeps the contract
every command follows: a bad argument is refused by argparse in one line before any work starts (exit 2); work a
command refuses is one line `labkit CMD: ErrorType: message` (exit 2 for a `UsageError`, 1 otherwise); SIGTERM and
SIGINT stop what the command started and exit 128 + the signal's number. No traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from labkit.arguments import CommandLineParser
from labkit.errors import LabkitError, UsageError, printable
from labkit.interrupts import Interrupted, stopped_by_signals

# Modules that define `register(subparsers)`. An area adds its module here.
COMMAND_MODULES = (
    "labkit.doctor",
    "labkit.bench",
    "labkit.workload",
    "labkit.containers.cli",
    "labkit.services.cli",
    "labkit.charts.cli",
    "labkit.pgserver",
    "labkit.jetstream.server",
)


def build_parser() -> argparse.ArgumentParser:
    # Subcommand parsers are made by the parser's own class, so they refuse in one line too.
    parser = CommandLineParser(prog="labkit", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = " ".join(
        [args.command, *(getattr(args, name) for name in ("benchmark", "action", "action_name") if hasattr(args, name))]
    )
    with stopped_by_signals():
        try:
            return int(args.func(args) or 0)
        except Interrupted as exc:
            print(f"labkit {command}: {exc}; what it started is stopped", file=sys.stderr)
            return exc.exit_status
        except KeyboardInterrupt:  # raised by a library's own SIGINT handling
            print(f"labkit {command}: interrupted; what it started is stopped", file=sys.stderr)
            return 130
        except LabkitError as exc:
            print(printable(f"labkit {command}: {type(exc).__name__}: {exc}"), file=sys.stderr)
            return 2 if isinstance(exc, UsageError) else 1
        except OSError as exc:  # the machine refused (disk full, permission denied): its own words, and the file
            print(printable(f"labkit {command}: {type(exc).__name__}: {exc}"), file=sys.stderr)
            return 1


if __name__ == "__main__":
    raise SystemExit(main())
