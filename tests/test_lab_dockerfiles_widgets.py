"""The explainer widget: a thin front end over `explainer_html`, which follows every control."""

from __future__ import annotations

import html

from labkit.lab.dockerfiles.widgets import dockerfile_explainer
from labkit.lab.dockerfiles.widgets import explainer_html as raw_html


def explainer_html(*args, **kwargs) -> str:
    return html.unescape(raw_html(*args, **kwargs))


BASES = {"base:1": {"Env": ["PATH=/bin"], "Cmd": ["sh"]}}
TEXT = 'FROM base:1\nENTRYPOINT ["python3", "app.py"]\nCMD ["--port", "8000"]\n'


def test_explainer_html_answers_for_run_arguments_and_entrypoint() -> None:
    assert '["python3", "app.py", "--port", "8000"]' in explainer_html(TEXT, base_images=BASES)
    assert '["python3", "app.py", "--port", "9"]' in explainer_html(TEXT, "--port 9", base_images=BASES)
    assert "No command specified" in explainer_html(TEXT, "", "", base_images=BASES)
    assert "unterminated" in explainer_html(TEXT, "'open", base_images=BASES).lower() or "quotation" in (
        explainer_html(TEXT, "'open", base_images=BASES).lower()
    )


def test_explainer_html_shows_dockers_refusal_with_the_line() -> None:
    page = explainer_html("FROM base:1\nRUNN x\n", base_images=BASES)
    assert "Docker would refuse this Dockerfile" in page and "line 2" in page


def test_the_widget_follows_each_control() -> None:
    box = dockerfile_explainer(TEXT, base_images=BASES)
    editor, (arguments, override, entrypoint), (target, builder), shown = (
        box.children[0],
        box.children[1].children,
        box.children[2].children,
        box.children[3],
    )

    def seen() -> str:
        """The explanation as a reader sees it (entities unescaped)."""
        return html.unescape(shown.value)

    arguments.value = "--port 7"
    assert '"--port", "7"' in seen()
    entrypoint.value = "sh"
    assert 'runs ["python3", "app.py", "--port", "7"]' in seen()  # the override box is not ticked yet
    override.value = True
    assert 'the container runs ["sh", "--port", "7"]' in seen()
    editor.value = 'FROM base:1 AS one\nCMD ["one"]\nFROM one AS two\nCMD ["two"]\n'
    override.value = False
    arguments.value = ""
    target.value = "one"
    assert 'the container runs ["one"]' in seen()
    editor.value = "FROM scratch\nCMD\n"
    target.value = ""
    assert '"/bin/sh", "-c", ""' in seen()  # BuildKit, the default: the empty command is kept
    builder.value = "legacy"
    assert '"/bin/sh", "-c", ""' not in seen() and '"/bin/sh", "-c"' in seen()
