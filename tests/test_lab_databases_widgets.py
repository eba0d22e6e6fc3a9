"""The notebook 02 control: a plain comparison function, and a widget whose table follows its controls."""

from __future__ import annotations

from datetime import date

import pytest

from labkit.lab.databases.widgets import compare_methods, comparison_html, methods_widget
from labkit.layouts import build_layouts, open_layouts
from labkit.workload import generate


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    workload = generate(tmp_path_factory.mktemp("small"), customers=200, orders=2000, progress=False)
    with open_layouts(build_layouts(workload, progress=False)) as opened:
        yield opened


def test_the_comparison_lists_the_four_methods_with_the_same_rows(layouts):
    frame = compare_methods(*layouts, 2000, "2024-06-01")
    assert len(frame) == 4
    assert frame["same rows as (a)"].all()
    assert frame["rows"].nunique() == 1 and frame["rows"].iloc[0] > 0
    assert all(t.endswith(" ms") for t in frame["time"])


def test_a_bad_parameter_shows_the_error_naming_it(layouts):
    assert "threshold=&#x27;lots&#x27; is not a number" in comparison_html(*layouts, "lots", "2024-06-01")
    assert "created_after=&#x27;&#x27;" in comparison_html(*layouts, 100, "")
    assert "all four agree" in comparison_html(*layouts, 100, "2024-06-01")


def test_the_widget_table_changes_when_a_control_moves(layouts):
    widget = methods_widget(*layouts, threshold=2000, created_after=date(2024, 6, 1))
    threshold_box, date_picker = widget.children[0].children
    result = widget.children[1]
    before = result.value
    assert "all four agree" in before
    threshold_box.value = "50000"
    assert result.value != before
    date_picker.value = date(2023, 1, 1)
    assert "all four agree" in result.value
    threshold_box.value = "fifty"
    assert "threshold=" in result.value and "labkit-query-error" in result.value
