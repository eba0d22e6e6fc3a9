"""The replay slider is a thin front end over replay_view; the story is the source's Order 101."""

from __future__ import annotations

from labkit.domain import Order
from labkit.lab.eventsourcing.story import audit_log, event_table, order_101
from labkit.lab.eventsourcing.widgets import replay_html, replay_slider, replay_view


def test_the_story_is_the_source_event_table():
    repository = order_101()
    table = event_table(repository.store, "order-101")
    assert list(table["event_type"]) == ["OrderCreated", "OrderApproved", "OrderShipped"]
    assert list(table["version"]) == [1, 2, 3]
    assert list(event_table(order_101().store)["event_id"]) == list(event_table(repository.store)["event_id"])
    log = audit_log(repository.store)
    assert list(log["caused by"])[2] == list(log["correlation"])[1]  # the reservation was caused by OrderCreated


def test_replay_view_marks_the_replayed_events_and_shows_the_state_then():
    repository = order_101()
    events, state = replay_view(repository, Order, "order-101", 0)
    assert list(events["replayed"]) == ["", "", ""] and state["state"] == "NEW"
    events, state = replay_view(repository, Order, "order-101", 2)
    assert list(events["replayed"]) == ["✔", "✔", ""]
    assert state == {"version": 2, "state": "APPROVED", "customer_id": "customer-7", "order_total": 250}


def test_moving_the_slider_changes_the_visible_state():
    repository = order_101()
    box = replay_slider(repository, Order, "order-101")
    slider, view = box.children
    assert slider.max == 3 and "state after version 0" in view.value
    slider.value = 3
    assert "state after version 3" in view.value and "SHIPPED" in view.value
    assert view.value == replay_html(repository, Order, "order-101", 3)
