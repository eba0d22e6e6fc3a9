"""Schema names for the PostgreSQL tests: unique per process as well as per test.

Test processes may share one server: `make mutation` starts one for its whole run and forks a pytest process per
mutant, two at a time, each from the same parent (so a module-level counter alone would give both the same names).
"""

from __future__ import annotations

import itertools
import os

_numbers = itertools.count(1)


def fresh_schema(prefix: str) -> str:
    """A schema name no other test and no other process on this machine uses now: `prefix_<pid>_<n>`."""
    return f"{prefix}_{os.getpid()}_{next(_numbers)}"
