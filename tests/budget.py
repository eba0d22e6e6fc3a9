"""How many examples a property test tries: its own number, or a tenth of it while mutation testing.

`make mutation` (tests/mutation.py) sets LABKIT_MUTATION=1: there the fast tests run once per mutant (thousands of
times), and the three property tests of labkit.events would be three quarters of that time at full strength. A tenth
still meets every branch the example tests name; the full numbers run in `make test`.
"""

from __future__ import annotations

import os

MUTATION = os.environ.get("LABKIT_MUTATION") == "1"


def examples(n: int) -> int:
    """`n`, or a tenth of it (at least 3) under mutation testing."""
    return max(3, n // 10) if MUTATION else n
