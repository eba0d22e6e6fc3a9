"""Before and after: render the chart with some values, validate it, and diff it against a baseline render."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.charts.chart import lab_chart
from labkit.charts.diff import RenderDiff, diff_renders
from labkit.charts.helm import Helm, SetValues
from labkit.charts.manifest import Manifest
from labkit.charts.validation import ValidationReport, validate_manifest


@dataclass(frozen=True)
class Comparison:
    """A render, its strict validation, and what it changed from the baseline."""

    after: Manifest
    report: ValidationReport
    diff: RenderDiff

    def text(self) -> str:
        """The validation verdict, then one line per difference."""
        return f"{self.report.summary()}\n{self.diff.text()}"


def compare_with_baseline(
    set_values: SetValues | None = None,
    *,
    values: Sequence[Mapping[str, Any] | Path] | None = None,
    helm: Helm | None = None,
    chart: Path | None = None,
    baseline: Manifest | None = None,
) -> Comparison:
    """Render with `values` and `set_values`, validate strictly, and diff against `baseline` (default: the defaults)."""
    helm = helm or Helm()
    chart = chart or lab_chart()
    before = baseline if baseline is not None else helm.template(chart)
    after = helm.template(chart, values=values, set_values=set_values)
    return Comparison(after, validate_manifest(after), diff_renders(before, after))
