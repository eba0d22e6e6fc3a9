"""Tables and HTML of explanations (what notebooks 08-10 and the explainer widget show)."""

from __future__ import annotations

from labkit.containers.explainer import explain
from labkit.lab.dockerfiles.views import (
    commands_table,
    compare_table,
    config_table,
    explanation_html,
    stages_table,
    steps_table,
)

BASES = {"base:1": {"Env": ["PATH=/bin"], "Cmd": ["sh"]}}
TEXT = (
    'FROM base:1 AS build\nRUN make\nFROM base:1\nCOPY --from=build /out /app\nWORKDIR /app\nENTRYPOINT ["/app/run"]\n'
)


def test_steps_and_config_tables_name_the_lines() -> None:
    image = explain(TEXT, base_images=BASES, engine=None)
    steps = steps_table(image)
    assert list(steps["line"]) == ["1", "2", "3", "4", "5", "6"]
    assert list(steps["stage"])[:2] == ["0 (build)", "0 (build)"]
    config = config_table(image).set_index("Config field")
    assert config.loc["Entrypoint", "value"] == '["/app/run"]'
    assert config.loc["Entrypoint", "set by"] == 'line 6: ENTRYPOINT ["/app/run"]'
    assert "Cmd" not in config.index  # the inherited CMD was reset by ENTRYPOINT


def test_stages_table_says_what_each_builder_builds() -> None:
    table = stages_table(explain(TEXT, base_images=BASES, engine=None))
    assert list(table["stage"]) == ["0 (build)", "1"]
    assert table.loc[1, "copies"] == "/out from stage 0 (line 4)"


def test_commands_and_comparison() -> None:
    image = explain(TEXT, base_images=BASES, engine=None)
    commands = commands_table(image, [((), None), (["--fast"], None), ((), "")])
    assert commands["the container runs"][1].startswith('the container runs ["/app/run", "--fast"]')
    assert "No command specified" in commands["the container runs"][2]
    same = compare_table(image, image.to_inspect()["Config"])
    assert same["same"].all()
    differs = compare_table(image, {**image.to_inspect()["Config"], "WorkingDir": "/elsewhere"})
    assert list(differs.loc[~differs["same"], "Config field"]) == ["WorkingDir"]


def test_html_carries_the_command_the_steps_and_assumptions() -> None:
    page = explanation_html(explain("FROM unknown:1\nCMD echo <b>\n", engine=None), ["x"])
    assert 'class="labkit-explainer-command"' in page
    assert "&lt;b&gt;" in page and "<b>line by line</b>" in page
    assert "assumptions" in page and "unknown:1" in page
