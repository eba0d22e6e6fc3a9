"""Log axes labelled as prose writes numbers (issue 16 item 8: notebook 05's log-axis labels were powers of ten)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from labkit.lab.log_axes import plain_log_axis, plain_number


@pytest.mark.parametrize(
    ("value", "label"), [(0.5, "0.5"), (1, "1"), (20, "20"), (500, "500"), (1_000, "1k"), (10_000, "10k"), (2e6, "2M")]
)
def test_a_tick_value_reads_as_a_plain_number(value: float, label: str) -> None:
    assert plain_number(value) == label


def test_a_log_axis_labels_1_2_5_of_each_decade_and_leaves_minor_ticks_bare() -> None:
    figure, axes = plt.subplots()
    axes.plot([10, 50_000], [1, 2])
    axes.set_xscale("log")
    plain_log_axis(axes.xaxis)
    figure.canvas.draw()
    labels = [tick.get_text() for tick in axes.get_xticklabels() if tick.get_text()]
    plt.close(figure)
    assert {"10", "20", "50", "100", "1k", "10k", "50k"} <= set(labels)
    assert not [label for label in labels if "times" in label or "^" in label]
    assert all(tick.label1.get_text() == "" for tick in axes.xaxis.get_minor_ticks())
