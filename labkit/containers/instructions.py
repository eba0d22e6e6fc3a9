"""A Dockerfile read by Docker's own parser (the `dockerfile` package), checked the way Docker checks it.

The parser splits lines into instructions, arguments and flags; it does not know which instruction names exist,
how many arguments each takes, or which flags it accepts: Docker's builder checks that next. This module does
those checks, with Docker's wording and the line number, so a learner sees the same refusal the engine gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import dockerfile

from labkit.containers.builders import FLAG_SINCE
from labkit.containers.errors import DockerfileSyntaxError, InvalidInstructionError, UnknownInstructionError
from labkit.containers.substitution import DEFAULT_ESCAPE

INSTRUCTIONS = frozenset(name.upper() for name in dockerfile.all_cmds())
# Parser directives sit on the first lines, before any instruction or other comment (`# escape=``).
DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")

# Flags each instruction accepts with either builder and every syntax version.
FLAGS: dict[str, frozenset[str]] = {
    "FROM": frozenset({"platform"}),
    "COPY": frozenset({"from", "chown"}),
    "ADD": frozenset({"chown"}),
    "HEALTHCHECK": frozenset({"interval", "timeout", "start-period", "retries"}),
}
# Flags only BuildKit gives a meaning to: which syntax version knows each, and what the legacy builder does with it,
# is decided per build (`builders.FLAG_SINCE`, checked by the explainer).
BUILDKIT_ONLY_FLAGS: dict[str, frozenset[str]] = {keyword: frozenset(flags) for keyword, flags in FLAG_SINCE.items()}
EXACTLY_ONE = frozenset({"WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"})
AT_LEAST_ONE = frozenset({"ENV", "LABEL", "EXPOSE", "VOLUME", "ARG", "ONBUILD", "SHELL", "HEALTHCHECK"})
AT_LEAST_TWO = frozenset({"COPY", "ADD"})
NOT_ONBUILD_TRIGGERS = frozenset({"ONBUILD", "FROM", "MAINTAINER"})


def line_span(line: int, end_line: int) -> str:
    """`3` for one line, `3-5` for an instruction continued over several."""
    return str(line) if line == end_line else f"{line}-{end_line}"


@dataclass(frozen=True)
class Instruction:
    """One instruction as Docker's parser reads it; `arguments` keep their quotes (the builder removes them)."""

    keyword: str
    arguments: tuple[str, ...]
    flags: tuple[str, ...]
    exec_form: bool
    line: int
    end_line: int
    source: str
    trigger_keyword: str | None = None
    heredocs: tuple[str, ...] = ()  # the names of its here-documents (`RUN <<EOF`): Dockerfile syntax 1.4

    def flag(self, name: str) -> str | None:
        """The value of `--name=value`, or None when the flag is absent."""
        for raw in self.flags:
            key, _, value = raw[2:].partition("=")
            if key == name:
                return value
        return None

    def flag_names(self) -> tuple[str, ...]:
        return tuple(raw[2:].partition("=")[0] for raw in self.flags)

    @property
    def lines(self) -> str:
        """`3` or `3-5`: where the instruction sits in the file."""
        return line_span(self.line, self.end_line)


@dataclass(frozen=True)
class ParsedDockerfile:
    """The instructions of one Dockerfile and its escape character."""

    instructions: tuple[Instruction, ...]
    escape: str = DEFAULT_ESCAPE


def directives(text: str) -> dict[str, str]:
    """The parser directives on the first lines (`# escape=``, `# syntax=docker/dockerfile:1`), by lower-case name."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        match = DIRECTIVE.match(raw.strip())
        if not match:
            break
        found.setdefault(match.group(1).lower(), match.group(2))
    return found


def escape_character(text: str) -> str:
    """The escape character set by an `# escape=` parser directive, else a backslash."""
    value = directives(text).get("escape", DEFAULT_ESCAPE)
    if value not in ("\\", "`"):
        raise DockerfileSyntaxError(f"invalid escape token '{value}' does not match ` or \\", line=1)
    return value


def _failing_line(text: str) -> int | None:
    """The first line whose inclusion makes Docker's parser fail (its messages carry no line number)."""
    lines = text.splitlines()
    for count in range(1, len(lines) + 1):
        try:
            dockerfile.parse_string("\n".join(lines[:count]) + "\n")
        except dockerfile.GoParseError as exc:
            if "no instructions" not in str(exc):
                return count
    return None


def parse(text: str) -> ParsedDockerfile:
    """Read `text` with Docker's parser and check every instruction's name, flags and argument count."""
    escape = escape_character(text)
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        if "no instructions" in str(exc):
            raise DockerfileSyntaxError("the Dockerfile has no instructions: start with FROM <image>") from None
        raise DockerfileSyntaxError(str(exc), line=_failing_line(text)) from None
    instructions = tuple(
        Instruction(
            keyword=command.cmd.upper(),
            arguments=tuple(command.value),
            flags=tuple(command.flags),
            exec_form=bool(command.json),
            line=command.start_line,
            end_line=command.end_line,
            source=command.original,
            trigger_keyword=command.sub_cmd.upper() if command.sub_cmd else None,
            heredocs=tuple(heredoc.name for heredoc in command.heredocs),
        )
        for command in commands
    )
    for instruction in instructions:
        check(instruction)
    return ParsedDockerfile(instructions, escape)


def check(instruction: Instruction) -> None:
    """Refuse what Docker's builder refuses before running anything: unknown names, bad flags, argument counts."""
    keyword, line, count = instruction.keyword, instruction.line, len(instruction.arguments)
    if keyword not in INSTRUCTIONS:
        known = ", ".join(sorted(INSTRUCTIONS))
        raise UnknownInstructionError(
            f"unknown instruction: {keyword} ({instruction.source.strip()!r}); Dockerfile instructions are {known}",
            line=line,
        )
    for name in instruction.flag_names():
        if name not in FLAGS.get(keyword, frozenset()) and name not in BUILDKIT_ONLY_FLAGS.get(keyword, frozenset()):
            raise InvalidInstructionError(f"Unknown flag: {name} (on {keyword})", line=line)
    if keyword == "FROM" and (count not in (1, 3) or (count == 3 and instruction.arguments[1].upper() != "AS")):
        raise InvalidInstructionError(
            "FROM requires either one or three arguments: FROM <image> [AS <name>]", line=line
        )
    if keyword in EXACTLY_ONE and count != 1:
        raise InvalidInstructionError(f"{keyword} requires exactly one argument", line=line)
    if keyword in AT_LEAST_ONE and count == 0:
        raise InvalidInstructionError(f"{keyword} requires at least one argument", line=line)
    if keyword in AT_LEAST_TWO and count < 2:
        raise InvalidInstructionError(
            f"{keyword} requires at least two arguments (sources and a destination), got {count}", line=line
        )
    if keyword == "SHELL" and not instruction.exec_form:
        raise InvalidInstructionError(
            'SHELL requires the arguments to be in JSON form: SHELL ["/bin/bash", "-c"]', line=line
        )
    if keyword == "ONBUILD":
        trigger = instruction.trigger_keyword or ""
        if trigger == "ONBUILD":
            raise InvalidInstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", line=line)
        if trigger in NOT_ONBUILD_TRIGGERS:
            raise InvalidInstructionError(f"{trigger} isn't allowed as an ONBUILD trigger", line=line)
        if trigger not in INSTRUCTIONS:
            raise UnknownInstructionError(f"unknown instruction after ONBUILD: {trigger}", line=line)
