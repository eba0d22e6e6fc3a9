"""Execute the lab's notebooks in place (`make notebooks`), timing each one.

Stored outputs are what nbval compares against, so notebooks are executed here with the same kernel
(`python3` in the current environment) that `make test` uses.
"""

from __future__ import annotations

import argparse
import glob
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from labkit.errors import UsageError
from labkit.paths import relative_to_repo

CELL_TIMEOUT_S = 240


@dataclass(frozen=True)
class Execution:
    """How one notebook execution went."""

    path: str
    seconds: float


def execute(path: Path | str, *, store: bool = True) -> Execution:
    """Run every cell of the notebook at `path` in a fresh kernel; store outputs in place when `store`."""
    path = Path(path)
    if not path.exists() or path.suffix != ".ipynb":
        raise UsageError(f"{path} is not a notebook file (.ipynb) that exists")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    if store:
        nbformat.write(notebook, path)
    return Execution(relative_to_repo(path), seconds)


def expand(patterns: list[str]) -> list[Path]:
    """Notebook paths from file names or glob patterns, in order, without checkpoints."""
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) or [pattern]
        paths.extend(Path(m) for m in matches if ".ipynb_checkpoints" not in m)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.notebooks", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("execute", help="execute notebooks in place and store their outputs")
    run.add_argument("notebooks", nargs="+", help="notebook files or glob patterns")
    args = parser.parse_args(argv)
    total = 0.0
    for path in expand(args.notebooks):
        result = execute(path)
        total += result.seconds
        print(f"{result.path}: {result.seconds:.1f} s", flush=True)
    print(f"all notebooks: {total:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
