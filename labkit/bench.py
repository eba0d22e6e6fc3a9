"""`labkit bench NAME`: side-by-side measurements, with ratios measured in one run.

Each benchmark lives in its own area and is listed in BENCHMARKS as "module:function". The module also offers
`add_arguments(parser)` for its own options; the function takes the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib

# name -> "module" whose `add_arguments(parser)` and `run(args) -> int` implement `labkit bench NAME`.
BENCHMARKS: dict[str, str] = {
    "broker": "labkit.lab.messaging.broker_bench",
    "events": "labkit.lab.production.bench",
    "projections": "labkit.lab.messaging.bench",
    "query": "labkit.lab.databases.bench",
    "services": "labkit.lab.microservices.bench",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="measure side by side and print ratios")
    names = parser.add_subparsers(dest="benchmark", required=True)
    for name, module_name in sorted(BENCHMARKS.items()):
        module = importlib.import_module(module_name)
        sub = names.add_parser(name, help=(module.__doc__ or name).splitlines()[0])
        module.add_arguments(sub)
        sub.set_defaults(func=module.run)
