"""The figures: titled, axes labelled with units, one line per series drawn from real runs."""

from __future__ import annotations

import pandas as pd

from labkit.lab.messaging.lag import LagMeasurement
from labkit.lab.messaging.plots import plot_fault_sweep, plot_lag
from labkit.patterns.dualwrite import sweep_fault_rates


def test_the_fault_sweep_plots_each_design_against_the_rate(tmp_path, nats_url):
    outcomes = [
        outcome
        for ids in (False, True)
        for outcome in sweep_fault_rates(
            tmp_path / str(ids),
            [0.0, 0.3],
            url=nats_url,
            message_ids=ids,
            operations=20,
            crash_mode="exception",
            workers=4,
            progress=False,
        )
    ]
    figure = plot_fault_sweep(outcomes)
    lost_panel, phantom_panel, duplicates_panel, with_ids_panel = figure.axes
    assert figure.get_suptitle() and lost_panel.get_title() and "(" in lost_panel.get_xlabel()
    assert "(" in lost_panel.get_ylabel()

    def drawn(panel):
        return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in panel.get_lines()}

    lost = next(o.lost for o in outcomes if o.design == "state_first" and o.fault_rate == 0.3)
    phantom = next(o.phantom for o in outcomes if o.design == "publish_first" and o.fault_rate == 0.3)
    assert drawn(lost_panel)["commit, then publish"][1] == [0, lost] and lost > 0
    assert drawn(phantom_panel)["publish, then commit"][1] == [0, phantom] and phantom > 0
    assert drawn(lost_panel)["transactional outbox"][1] == [0, 0]
    # The lost and the phantom counts are in panels of their own, and designs at the same count sit side by side.
    xs = [points[0][0] for points in drawn(lost_panel).values()]
    assert len(set(xs)) == 4 and max(xs) - min(xs) < 0.3 / 2
    assert len(duplicates_panel.get_lines()) == 4
    outbox = next(o.duplicates for o in outcomes if o.design == "outbox" and o.fault_rate == 0.3 and not o.message_ids)
    assert drawn(duplicates_panel)["transactional outbox"][1] == [0, outbox] and outbox > 0
    assert drawn(with_ids_panel)["transactional outbox"][1] == [0, 0]  # the broker dropped the repeats
    assert "message ids" in with_ids_panel.get_title()


def test_the_lag_plot_has_a_line_per_projection_in_events_and_ms():
    samples = pd.DataFrame(
        {
            "seconds": [0.0, 0.1, 0.0, 0.1],
            "projection": ["a", "a", "b", "b"],
            "head": [10, 10, 10, 10],
            "position": [5, 10, 7, 10],
            "lag_events": [5, 0, 3, 0],
            "lag_ms": [40.0, 0.0, 20.0, 0.0],
        }
    )
    measurement = LagMeasurement(samples, pd.DataFrame(columns=["projection", "position", "latency_ms"]), 3, 0.1)
    figure = plot_lag(measurement, pause_between=(0.02, 0.05))
    events_axes, ms_axes = figure.axes
    assert [line.get_label() for line in events_axes.get_lines()] == ["a", "b"]
    assert list(ms_axes.get_lines()[0].get_ydata()) == [40.0, 0.0]
    assert events_axes.get_ylabel() == "lag (events)" and ms_axes.get_ylabel() == "lag (ms)"
    assert "(s)" in ms_axes.get_xlabel() and events_axes.get_title()
    # The legend sits beside the axes, so it hides no line.
    legend = events_axes.get_legend()
    assert legend.get_bbox_to_anchor().x0 >= events_axes.get_window_extent().x1


def test_the_lag_plot_shades_the_pause_where_it_happened():
    samples = pd.DataFrame(
        {"seconds": [0.0, 0.1], "projection": ["a", "a"], "head": [10, 10], "position": [5, 10],
         "lag_events": [5, 0], "lag_ms": [40.0, 0.0]}
    )  # fmt: skip
    latencies = pd.DataFrame(columns=["projection", "position", "latency_ms"])
    shaded = plot_lag(LagMeasurement(samples, latencies, 3, 0.1, pause_between=(0.03, 0.07))).axes[0]
    [span] = [patch for patch in shaded.patches if patch.get_label() == "projection paused"]
    assert (span.get_x(), round(span.get_x() + span.get_width(), 9)) == (0.03, 0.07)
    unpaused = plot_lag(LagMeasurement(samples, latencies, 3, 0.1)).axes[0]
    assert not [patch for patch in unpaused.patches if patch.get_label() == "projection paused"]
