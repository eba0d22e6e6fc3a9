"""A ratio of two measurements as a reader reads it: `3.4x faster`, `26.0x slower`, never `0.0x`.

Both benchmark tables that put labkit beside another implementation say it this way, so one word tells the
direction and the number is always at least 1.
"""

from __future__ import annotations


def times(ratio: float) -> str:
    """`ratio` (at least 1) as `3.4x`, or `344x` once the decimal no longer matters."""
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.1f}x"


def faster_or_slower(ratio: float | None, *, missing: str = "n/a") -> str:
    """How many times better one side is (`ratio` > 1) or worse (< 1), in words: 0.0384 -> `26.0x slower`."""
    if ratio is None or ratio <= 0:
        return missing
    return f"{times(ratio)} faster" if ratio >= 1 else f"{times(1 / ratio)} slower"
