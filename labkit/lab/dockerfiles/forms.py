"""The ENTRYPOINT x CMD table: every form of each, combined, with the command a container runs, from `explain`.

The same forms feed notebook 08's table and the proof suite, so the table the learner reads is the table the
engine checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from labkit.containers.errors import NoCommandError
from labkit.containers.explainer import explain

# label -> the instruction line (None: the Dockerfile has none of it).
ENTRYPOINT_FORMS: dict[str, str | None] = {
    "no ENTRYPOINT": None,
    "exec form": 'ENTRYPOINT ["/bin/echo", "entry"]',
    "shell form": "ENTRYPOINT /bin/echo entry $HOME",
    "empty exec form": "ENTRYPOINT []",
    "not valid JSON": "ENTRYPOINT [/bin/echo, entry]",
}
CMD_FORMS: dict[str, str | None] = {
    "no CMD": None,
    "exec form": 'CMD ["cmd-arg", "$HOME"]',
    "shell form": "CMD echo cmd $HOME",
    "empty exec form": "CMD []",
}
EMPTY_BASE = "labkit/empty-config:base"


@dataclass(frozen=True)
class FormCase:
    """One combination: a Dockerfile with one ENTRYPOINT form and one CMD form on top of `base`."""

    entrypoint_form: str
    cmd_form: str
    dockerfile: str


def form_cases(base: str) -> list[FormCase]:
    """Every ENTRYPOINT form x every CMD form, as Dockerfiles (ENTRYPOINT first, as it is usually written)."""
    cases = []
    for entry_label, entry_line in ENTRYPOINT_FORMS.items():
        for cmd_label, cmd_line in CMD_FORMS.items():
            lines = [f"FROM {base}", *(line for line in (entry_line, cmd_line) if line is not None)]
            cases.append(FormCase(entry_label, cmd_label, "\n".join(lines) + "\n"))
    return cases


def _cell(argv_source: Any, run_args: Sequence[str], entrypoint: str | None) -> str:
    try:
        return json.dumps(list(argv_source.command(run_args, entrypoint)))
    except NoCommandError:
        return "error: No command specified"


def entrypoint_cmd_table(
    *,
    base: str = EMPTY_BASE,
    base_config: Mapping[str, Any] | None = None,
    run_args: Sequence[str] = (),
    entrypoint: str | None = None,
) -> pd.DataFrame:
    """The argv a container runs for each ENTRYPOINT form (rows) and CMD form (columns), for one `docker run`.

    `base_config` is the base image's Config (default: an image with no ENTRYPOINT and no CMD, like Docker's docs).
    """
    configs = {base: dict(base_config or {})}
    rows: dict[str, dict[str, str]] = {}
    for case in form_cases(base):
        explanation = explain(case.dockerfile, base_images=configs, engine=None)
        rows.setdefault(case.entrypoint_form, {})[case.cmd_form] = _cell(explanation, run_args, entrypoint)
    table = pd.DataFrame.from_dict(rows, orient="index")[list(CMD_FORMS)]
    table.index.name = "ENTRYPOINT \\ CMD"
    return table
