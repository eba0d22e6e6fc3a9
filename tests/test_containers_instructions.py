"""Reading a Dockerfile with Docker's parser, and the checks Docker makes before it builds anything."""

from __future__ import annotations

import pytest

from labkit.containers.errors import DockerfileSyntaxError, InvalidInstructionError, UnknownInstructionError
from labkit.containers.instructions import escape_character, parse


def test_parse_keeps_lines_forms_flags_and_quotes() -> None:
    parsed = parse('FROM base AS b\n# note\nCOPY --from=b --chown=1:1 a "c /x/\nCMD ["run", "$X"]\nRUN a \\\n  b\n')
    copy, cmd, run = parsed.instructions[1:]
    assert (copy.keyword, copy.line, copy.flag("from"), copy.flag("chown"), copy.flag("chmod")) == (
        "COPY",
        3,
        "b",
        "1:1",
        None,
    )
    assert copy.arguments == ("a", '"c', "/x/")  # split on whitespace: quotes are not grouping here
    assert (cmd.exec_form, cmd.arguments) == (True, ("run", "$X"))
    assert (run.line, run.end_line, run.lines, run.arguments) == (5, 6, "5-6", ("a   b",))


def test_instruction_names_are_case_insensitive() -> None:
    assert [i.keyword for i in parse("from base\ncmd echo").instructions] == ["FROM", "CMD"]


def test_an_unknown_instruction_is_refused_with_its_line() -> None:
    with pytest.raises(UnknownInstructionError, match="unknown instruction: FOO") as refused:
        parse("FROM base\n\nFOO bar\n")
    assert refused.value.line == 3


def test_a_parser_error_gets_the_line_docker_does_not_report() -> None:
    with pytest.raises(DockerfileSyntaxError, match="strings only") as refused:
        parse('FROM base\nENV A=1\nCMD ["a", 1]\nENV B=2\n')
    assert refused.value.line == 3
    assert str(refused.value).startswith("line 3: ")


def test_an_empty_dockerfile_says_to_start_with_from() -> None:
    with pytest.raises(DockerfileSyntaxError, match="FROM"):
        parse("# nothing here\n")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("COPY only-one", "COPY requires at least two arguments"),
        ("SHELL /bin/bash -c", "SHELL requires the arguments to be in JSON form"),
        ("SHELL []", "SHELL requires at least one argument"),
        ("COPY --bogus a b", "Unknown flag: bogus"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD"),
        ("ONBUILD MAINTAINER x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ],
)
def test_docker_argument_checks(line: str, message: str) -> None:
    with pytest.raises(InvalidInstructionError, match=message) as refused:
        parse(f"FROM base\n{line}\n")
    assert refused.value.line == 2


def test_from_takes_one_or_three_arguments() -> None:
    with pytest.raises(InvalidInstructionError, match="one or three"):
        parse("FROM base AS\n")
    with pytest.raises(InvalidInstructionError, match="one or three"):
        parse("FROM base LIKE name\n")


def test_buildkit_only_flags_are_accepted() -> None:
    run = parse("FROM base\nRUN --mount=type=cache,target=/root/.cache pip install x\n").instructions[1]
    assert run.flag("mount") == "type=cache,target=/root/.cache"


def test_escape_directive() -> None:
    assert escape_character("# escape=`\nFROM base\n") == "`"
    assert escape_character("FROM base\n# escape=`\n") == "\\"
    assert parse("# escape=`\nFROM base\nRUN a `\n  b\n").escape == "`"
    with pytest.raises(DockerfileSyntaxError, match="invalid escape token"):
        escape_character("# escape=x\nFROM base\n")
