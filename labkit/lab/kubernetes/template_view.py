"""A chart template beside the values it reads: the two files a learner must hold together to read a template."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from IPython.display import HTML

from labkit.charts.chart import lab_chart, values_excerpt


def _column(title: str, text: str) -> str:
    return (
        f'<div style="flex:1;min-width:0"><b>{html.escape(title)}</b>'
        f'<pre style="font-size:12px;white-space:pre-wrap">{html.escape(text)}</pre></div>'
    )


def template_beside_values(template: str, keys: Sequence[str], *, chart: Path | None = None) -> HTML:
    """The whole text of `template` (a path inside the chart) on the left, the values.yaml lines of `keys` on the right."""
    root = chart or lab_chart()
    text = (root / template).read_text().rstrip()
    values = values_excerpt(keys, root)
    columns = _column(template, text) + _column(f"values.yaml ({', '.join(keys)})", values)
    return HTML(f'<div style="display:flex;gap:1.5em">{columns}</div>')
