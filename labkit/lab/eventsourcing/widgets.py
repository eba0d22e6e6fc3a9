"""ipywidgets front ends over plain functions of labkit.events: the replay slider of notebook 04."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import pandas as pd

from labkit.events.aggregate import Aggregate
from labkit.events.repository import Repository
from labkit.lab.eventsourcing.story import event_table


def replay_view(
    repository: Repository, cls: type[Aggregate], aggregate_id: str, version: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The aggregate's events marked replayed up to `version`, and its state at that version."""
    events = event_table(repository.store, aggregate_id)
    events.insert(0, "replayed", ["✔" if v <= version else "" for v in events["version"]])
    if version == 0:
        return events, {"version": 0, **cls(aggregate_id).to_state()}
    aggregate = repository.load(cls, aggregate_id, version=version)
    return events, {"version": aggregate.version, **aggregate.to_state()}


def replay_html(repository: Repository, cls: type[Aggregate], aggregate_id: str, version: int) -> str:
    """The event table and the state side by side, as HTML."""
    events, state = replay_view(repository, cls, aggregate_id, version)
    state_table = pd.DataFrame({"field": list(state), "value": [html.escape(repr(v)) for v in state.values()]})
    return (
        '<div style="display:flex; gap:2em; align-items:flex-start">'
        f"<div><b>event table ({aggregate_id})</b>{events.to_html(escape=True)}</div>"
        f'<div class="labkit-replay-state"><b>{cls.__name__} state after version {version}</b>'
        f"{state_table.to_html(index=False, escape=False)}</div></div>"
    )


def replay_slider(repository: Repository, cls: type[Aggregate], aggregate_id: str) -> widgets.VBox:
    """A slider over the aggregate's versions; moving it replays the events up to there and shows the state."""
    last = repository.store.stream_version(aggregate_id)
    slider = widgets.IntSlider(value=0, min=0, max=last, description="replay to", continuous_update=True)
    view = widgets.HTML(value=replay_html(repository, cls, aggregate_id, 0))

    def moved(change: dict[str, Any]) -> None:
        view.value = replay_html(repository, cls, aggregate_id, change["new"])

    slider.observe(moved, names="value")
    return widgets.VBox([slider, view])
