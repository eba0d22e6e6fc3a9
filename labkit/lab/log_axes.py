"""Log axes a reader can read: ticks at 1, 2, 5 x 10^n labelled as plain numbers (`20`, `500`, `10k`, `2M`).

matplotlib's default log labels are powers (`4 x 10^1`) on the minor ticks too; a measurement read off a figure
should not need arithmetic first.
"""

from __future__ import annotations

from matplotlib.axis import Axis
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter


def plain_number(value: float, _position: object = None) -> str:
    """A tick value as prose writes it: 0.5, 20, 500, 10k, 2M."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def plain_log_axis(axis: Axis) -> None:
    """Major ticks at 1, 2 and 5 of every decade with plain labels; minor ticks unlabelled."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(plain_number))
    axis.set_minor_formatter(NullFormatter())
