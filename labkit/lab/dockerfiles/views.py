"""Explanations as tables and HTML, for notebooks and the explainer widget."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

import pandas as pd

from labkit.containers.explanation import Explanation
from labkit.containers.imageconfig import INSPECT_KEYS


def steps_table(explanation: Explanation) -> pd.DataFrame:
    """One row per instruction: the line, the stage, the instruction and what it did."""
    rows = [
        (step.lines if step.line else "--label", step.stage, step.instruction, step.effect)
        for step in explanation.steps
    ]
    return pd.DataFrame(rows, columns=["line", "stage", "instruction", "what Docker does"])


def config_table(explanation: Explanation) -> pd.DataFrame:
    """The final configuration as `docker image inspect` would show it, and which line set each field."""
    config = explanation.to_inspect()["Config"]
    origin_of = {
        "Entrypoint": "entrypoint",
        "Cmd": "cmd",
        "WorkingDir": "working_dir",
        "User": "user",
        "Env": "env",
        "ExposedPorts": "exposed_ports",
        "Volumes": "volumes",
        "Shell": "shell",
        "Labels": "labels",
        "Healthcheck": "healthcheck",
        "StopSignal": "stop_signal",
        "OnBuild": "on_build",
    }
    rows = []
    for key in INSPECT_KEYS:
        value = config[key]
        if value is None:
            continue
        shown = json.dumps(sorted(value) if isinstance(value, dict) and key != "Healthcheck" else value)
        rows.append((key, shown, explanation.origins.get(origin_of[key], "")))
    return pd.DataFrame(rows, columns=["Config field", "value", "set by"])


def stages_table(explanation: Explanation) -> pd.DataFrame:
    """Each stage: its base, what it copies from where, and whether each builder builds it for this target."""
    built_buildkit = set(explanation.stages_built("buildkit"))
    built_legacy = set(explanation.stages_built("legacy"))
    rows = []
    for stage in explanation.stages:
        copies = "; ".join(f"{', '.join(c.sources)} from {c.origin} (line {c.line})" for c in stage.copies)
        rows.append(
            (
                stage.label,
                f"{stage.base} ({stage.base_kind})",
                copies or "-",
                "yes" if stage.index in built_buildkit else "no",
                "yes" if stage.index in built_legacy else "no",
            )
        )
    return pd.DataFrame(rows, columns=["stage", "FROM", "copies", "BuildKit builds it", "legacy builder builds it"])


def commands_table(explanation: Explanation, runs: Sequence[tuple[Sequence[str], str | None]]) -> pd.DataFrame:
    """What `docker run` runs for each (run arguments, --entrypoint) pair."""
    rows = []
    for run_args, entrypoint in runs:
        command = "docker run" + (f" --entrypoint {entrypoint!r}" if entrypoint is not None else "") + " IMAGE"
        command += "".join(f" {arg}" for arg in run_args)
        story = explanation.command_story(run_args, entrypoint)
        rows.append((command, story[-1]))
    return pd.DataFrame(rows, columns=["docker run", "the container runs"])


def explanation_html(explanation: Explanation, run_args: Sequence[str] = (), entrypoint: str | None = None) -> str:
    """The command a container runs (and why), the steps line by line, and the final configuration, as HTML."""
    story = "".join(f"<li>{html.escape(sentence)}</li>" for sentence in explanation.command_story(run_args, entrypoint))
    assumptions = "".join(f"<li>{html.escape(note)}</li>" for note in explanation.assumptions)
    parts = [
        f'<div class="labkit-explainer-command"><b>docker run</b><ol>{story}</ol></div>',
        f"<b>line by line</b>{steps_table(explanation).to_html(index=False, escape=True)}",
        f"<b>image configuration</b>{config_table(explanation).to_html(index=False, escape=True)}",
    ]
    if assumptions:
        parts.append(f"<b>assumptions</b><ul>{assumptions}</ul>")
    return "".join(parts)


def compare_table(explanation: Explanation, engine_config: dict | None) -> pd.DataFrame:
    """The prediction next to what the engine reports (`docker image inspect` Config), field by field."""
    from labkit.containers.imageconfig import normalized_inspect

    predicted = _without_checkout(explanation.to_inspect()["Config"])
    actual = _without_checkout(normalized_inspect(engine_config))
    rows = [
        (key, json.dumps(predicted[key]), json.dumps(actual[key]), predicted[key] == actual[key])
        for key in INSPECT_KEYS
        if predicted[key] is not None or actual[key] is not None
    ]
    return pd.DataFrame(rows, columns=["Config field", "explain predicted", "the engine reports", "same"])


def _without_checkout(config: dict) -> dict:
    """A Config without the checkout label: it names the clone the image was built in, the same in both columns and
    different on every machine, so the table leaves it out."""
    from labkit.containers.engine import CHECKOUT_LABEL

    labels = config.get("Labels")
    if not labels or CHECKOUT_LABEL not in labels:
        return config
    return {**config, "Labels": {k: v for k, v in labels.items() if k != CHECKOUT_LABEL}}
