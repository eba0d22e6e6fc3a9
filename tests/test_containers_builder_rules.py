"""How Docker's builder reads ports, signals, durations, working directories and names."""

from __future__ import annotations

import pytest

from labkit.containers import builder_rules
from labkit.containers.errors import InvalidInstructionError


@pytest.mark.parametrize(
    ("spec", "ports"),
    [
        ("80", ["80/tcp"]),
        ("80/UDP", ["80/udp"]),
        ("8000-8002", ["8000/tcp", "8001/tcp", "8002/tcp"]),
        ("0", ["0/tcp"]),
        ("1.2.3.4:80:8080", ["8080/tcp"]),
        ("9000:9000/sctp", ["9000/sctp"]),
    ],
)
def test_exposed_ports(spec: str, ports: list[str]) -> None:
    assert builder_rules.exposed_ports(spec) == ports


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("70000", "Invalid containerPort: 70000"),
        ("90-88", "Invalid containerPort: 90-88"),
        ("abc", "Invalid containerPort: abc"),
        ("80/foo", "Invalid proto: foo"),
        ("nope:1:80", "Invalid ip address: nope"),
    ],
)
def test_bad_ports_are_refused_in_dockers_words(spec: str, message: str) -> None:
    with pytest.raises(InvalidInstructionError, match=message):
        builder_rules.exposed_ports(spec)


@pytest.mark.parametrize("value", ["SIGTERM", "sigkill", "TERM", "9", "RTMIN+3"])
def test_stop_signals_are_kept_as_written(value: str) -> None:
    assert builder_rules.check_stop_signal(value) == value


@pytest.mark.parametrize("value", ["SIGNOPE", "0", "app"])
def test_unknown_stop_signals_are_refused(value: str) -> None:
    with pytest.raises(InvalidInstructionError, match="Invalid signal"):
        builder_rules.check_stop_signal(value)


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [("5s", 5 * 10**9), ("1m30s", 90 * 10**9), ("2.5s", 2_500_000_000), ("500ms", 500_000_000), ("1h", 3600 * 10**9)],
)
def test_durations(text: str, nanoseconds: int) -> None:
    assert builder_rules.duration_ns(text, "interval") == nanoseconds


@pytest.mark.parametrize(("text", "message"), [("0s", "less than 1ms"), ("10us", "less than 1ms"), ("5x", "invalid")])
def test_bad_durations(text: str, message: str) -> None:
    with pytest.raises(InvalidInstructionError, match=message):
        builder_rules.duration_ns(text, "interval")


def test_working_dir_absolute_as_written_relative_joined_and_cleaned() -> None:
    assert builder_rules.working_dir("/x", "/a/../b/") == "/a/../b/"
    assert builder_rules.working_dir("/a/b/", "../c/./d/") == "/a/c/d"
    assert builder_rules.working_dir("", "b") == "/b"
    with pytest.raises(InvalidInstructionError, match="cannot normalize nothing"):
        builder_rules.working_dir("/a", "")


def test_go_clean_collapses_a_leading_double_slash() -> None:
    assert builder_rules.go_clean("//a//b/../c/") == "/a/c"


def test_stage_names_and_image_references() -> None:
    assert builder_rules.check_stage_name("Builder") == "builder"
    with pytest.raises(InvalidInstructionError, match="invalid name for build stage"):
        builder_rules.check_stage_name("1st")
    assert builder_rules.check_image_reference("registry.example:5000/team/app:1.2", what="base")
    with pytest.raises(InvalidInstructionError, match="invalid reference format"):
        builder_rules.check_image_reference("$SRC", what="from flag value")
