"""The pause/resume control: the plain object behind it, and the widget wired to it."""

from __future__ import annotations

import shutil

import pytest
from polling import wait_until

from labkit.events import EventStore
from labkit.lab.messaging.lag import OrderWriter
from labkit.lab.messaging.widgets import PAUSED, RUNNING, ProjectionControl, Refresher, projection_control, status_text
from labkit.patterns.projection_runner import ProjectionRunner
from labkit.patterns.projections import OrdersPerCustomer, RevenuePerDay
from labkit.workload import generate


@pytest.fixture
def control(tmp_path_factory, tmp_path):
    workload = generate(tmp_path_factory.mktemp("workload"), customers=20, orders=100, seed=4, progress=False)
    shutil.copy(workload.store_path, tmp_path / "events.duckdb")
    with EventStore(tmp_path / "events.duckdb") as store:
        runner = ProjectionRunner(store, [OrdersPerCustomer(), RevenuePerDay()], tmp_path / "read.duckdb")
        control = ProjectionControl(runner, OrderWriter(store, seed=1), orders_per_click=30, per_second=300)
        yield control
        control.close()
        runner.close()


def test_paused_it_falls_behind_by_the_events_written_and_resumed_it_catches_up(control):
    head = control.runner.store.head_position()
    assert control.mode == RUNNING and control.settled()
    assert set(control.runner.status_table()["lag (events)"]) == {0}
    control.set_mode(PAUSED)
    control.write_orders()
    assert control.wait_until_settled()
    table = control.runner.status_table()
    assert set(table["lag (events)"]) == {90}  # 30 orders, three events each
    assert set(table["event store head"]) == {head + 90}
    assert control.orders_seen() == (100, 130)
    assert "projection: paused" in status_text(control.status_html())
    control.set_mode(RUNNING)
    assert control.wait_until_settled()
    assert set(control.runner.status_table()["lag (events)"]) == {0}
    assert control.orders_seen() == (130, 130)


def test_the_refresher_shows_the_status_until_things_hold_still(control):
    shown: list[str] = []
    refresher = Refresher(control, shown.append, every_seconds=0.01)
    control.set_mode(PAUSED)
    control.write_orders()
    refresher.kick()
    refresher.join()
    assert control.settled()
    assert shown[-1] == control.status_html()
    assert "lag (events)" in shown[-1] and "projection: paused" in status_text(shown[-1])


def test_the_widget_wires_its_controls_to_the_control_object(control):
    widget = projection_control(control)
    toggle, button = widget.children[0].children
    status = widget.children[1]
    assert "projection: running" in status_text(status.value)
    toggle.value = PAUSED
    assert control.runner.paused
    button.click()
    assert control.wait_until_settled()
    before = status.value
    toggle.value = RUNNING
    assert not control.runner.paused
    assert control.wait_until_settled()
    wait_until(  # the widget refreshes from its own thread
        lambda: "projection: running" in status_text(status.value),
        timeout=20,
        what="the widget to show the projection running",
    )
    assert status.value != before
    assert "labkit-projection-control" in widget._dom_classes
