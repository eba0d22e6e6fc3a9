"""ipywidgets front ends over the explainer: edit a Dockerfile and `docker run` arguments, see what runs and why."""

from __future__ import annotations

import html
import shlex
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

from labkit.containers.builders import BUILDERS, DEFAULT_BUILDER, Builder
from labkit.containers.errors import DockerfileError
from labkit.containers.explainer import explain
from labkit.lab.dockerfiles.views import explanation_html


def explainer_html(
    text: str,
    run_args: str = "",
    entrypoint: str | None = None,
    *,
    target: str | None = None,
    builder: Builder = DEFAULT_BUILDER,
    base_images: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The explainer's answer for one Dockerfile and one `docker run` line, or the error with its line, as HTML."""
    try:
        words = shlex.split(run_args)
    except ValueError as exc:
        return f'<div class="labkit-explainer-error">run arguments: {html.escape(str(exc))}</div>'
    try:
        explanation = explain(text, target=target or None, builder=builder, base_images=base_images, engine=None)
    except DockerfileError as exc:
        return (
            f'<div class="labkit-explainer-error"><b>Docker would refuse this Dockerfile</b>: '
            f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</div>"
        )
    return explanation_html(explanation, words, entrypoint)


def dockerfile_explainer(
    text: str,
    *,
    run_args: str = "",
    base_images: Mapping[str, Mapping[str, Any]] | None = None,
) -> widgets.VBox:
    """A Dockerfile editor, `docker run` arguments, an `--entrypoint` override; the explanation follows each edit."""
    editor = widgets.Textarea(value=text, description="Dockerfile", layout=widgets.Layout(width="95%", height="14em"))
    arguments = widgets.Text(value=run_args, description="run args", placeholder="arguments after the image name")
    override = widgets.Checkbox(value=False, description="--entrypoint")
    entrypoint = widgets.Text(value="", placeholder='"" clears it', layout=widgets.Layout(width="20em"))
    target = widgets.Text(value="", description="--target", placeholder="stage name (empty: the last)")
    builder = widgets.ToggleButtons(options=BUILDERS, value=DEFAULT_BUILDER, description="builder")
    view = widgets.HTML(value=explainer_html(text, run_args, base_images=base_images))

    def refresh(_: object = None) -> None:
        view.value = explainer_html(
            editor.value,
            arguments.value,
            entrypoint.value if override.value else None,
            target=target.value.strip() or None,
            builder=builder.value,
            base_images=base_images,
        )

    for control in (editor, arguments, override, entrypoint, target, builder):
        control.observe(refresh, names="value")
    return widgets.VBox(
        [editor, widgets.HBox([arguments, override, entrypoint]), widgets.HBox([target, builder]), view]
    )
