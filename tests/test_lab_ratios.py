"""A ratio in words: the direction as a word, the number at least 1."""

from __future__ import annotations

import pytest

from labkit.lab.ratios import faster_or_slower


@pytest.mark.parametrize(
    ("ratio", "words"),
    [
        (3.4, "3.4x faster"),
        (1.0, "1.0x faster"),
        (339 / 8830, "26.0x slower"),  # the row the README printed as 0.0x
        (0.5, "2.0x slower"),
        (343.7, "344x faster"),
        (1 / 1234.5, "1,234x slower"),
    ],
)
def test_a_ratio_reads_as_times_faster_or_slower(ratio: float, words: str) -> None:
    assert faster_or_slower(ratio) == words


def test_no_ratio_reads_as_the_missing_text() -> None:
    assert faster_or_slower(None) == "n/a"
    assert faster_or_slower(0.0, missing="") == ""
