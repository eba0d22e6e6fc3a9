"""The notebook 02 control: a threshold and a creation date; every change re-runs the four methods side by side.

The widget is a thin front end over `compare_methods`, a plain function (unit-tested); a bad value shows the
error that names the parameter instead of a table.
"""

from __future__ import annotations

import html
from datetime import date

import ipywidgets as widgets
import pandas as pd

from labkit.errors import LabkitError
from labkit.layouts.layout import PerServiceLayout, SharedLayout
from labkit.layouts.queries import METHOD_TITLES, all_methods


def compare_methods(
    shared: SharedLayout, per_service: PerServiceLayout, threshold: object, created_after: object
) -> pd.DataFrame:
    """Run the four methods once: rows, time (as "1.2 ms"), boundary traffic, and whether each matches (a)."""
    answers = all_methods(shared, per_service, threshold, created_after)
    reference = answers["shared_join"].rows
    rows = []
    for method, answer in answers.items():
        rows.append(
            {
                "method": METHOD_TITLES[method],
                "rows": answer.rows.num_rows,
                "time": f"{answer.seconds * 1000:.1f} ms",
                "calls between services": answer.calls,
                "rows moved": answer.rows_moved,
                "bytes moved": answer.bytes_moved,
                "services offline": f"{answer.offline_seconds * 1000:.0f} ms" if answer.offline_seconds else "-",
                "same rows as (a)": answer.rows.equals(reference),
            }
        )
    return pd.DataFrame(rows).set_index("method")


def comparison_html(
    shared: SharedLayout, per_service: PerServiceLayout, threshold: object, created_after: object
) -> str:
    """The comparison as the widget shows it: a table, or the error that names the bad parameter."""
    try:
        frame = compare_methods(shared, per_service, threshold, created_after)
    except LabkitError as exc:
        return f'<p class="labkit-query-error" style="color:#b71c1c"><b>{html.escape(type(exc).__name__)}:</b> {html.escape(str(exc))}</p>'
    verdict = "all four agree" if frame["same rows as (a)"].all() else "the methods disagree"
    return f'<p class="labkit-query-verdict"><b>{verdict}</b></p>' + frame.to_html(classes="labkit-query-table")


def methods_widget(
    shared: SharedLayout,
    per_service: PerServiceLayout,
    *,
    threshold: int = 10_000,
    created_after: date = date(2025, 1, 1),
) -> widgets.VBox:
    """A threshold box and a date picker over `compare_methods`; the table below follows every change."""
    threshold_box = widgets.Text(value=str(threshold), description="total >", layout=widgets.Layout(width="220px"))
    date_picker = widgets.DatePicker(value=created_after, description="created after")
    result = widgets.HTML()

    def refresh(_: object = None) -> None:
        picked = date_picker.value
        result.value = comparison_html(shared, per_service, threshold_box.value, picked if picked else "")

    threshold_box.observe(refresh, names="value")
    date_picker.observe(refresh, names="value")
    refresh()
    return widgets.VBox([widgets.HBox([threshold_box, date_picker]), result])
