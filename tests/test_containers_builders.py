"""What the builder and the Dockerfile syntax version change in `explain`, without an engine (the proof suite checks
the same rules on a real one, with both builders)."""

from __future__ import annotations

import doctest

import pytest

from labkit.containers import builders
from labkit.containers.builders import (
    CURRENT,
    ENGINE_20_10,
    DockerfileSyntax,
    builtin_syntax,
    check_builder,
    docker_platform,
    platform_args,
    syntax_from_frontend,
)
from labkit.containers.errors import DockerfileSyntaxError, InvalidInstructionError, SubstitutionError
from labkit.containers.explainer import explain
from labkit.errors import UsageError

BASE = "labkit/busybox:static"
BASES = {BASE: {"Env": ["PATH=/bin"], "Cmd": ["sh"]}}


def run(text: str, builder: str, **options):
    return explain(text, builder=builder, base_images=BASES, engine=None, platform="linux/amd64", **options)


def test_docstring_examples_run() -> None:
    assert doctest.testmod(builders).failed == 0


def test_syntax_versions_parse_and_order() -> None:
    assert DockerfileSyntax.parse("1.2") == ENGINE_20_10 < DockerfileSyntax.parse("1.10") <= CURRENT
    assert DockerfileSyntax.parse("1") == CURRENT
    assert str(DockerfileSyntax.parse("1.7.1")) == "1.7"
    with pytest.raises(UsageError, match="'latest' is not a version"):
        DockerfileSyntax.parse("latest")


@pytest.mark.parametrize(
    ("frontend", "expected"),
    [
        ("docker/dockerfile:1.4", "1.4"),
        ("docker/dockerfile:1", str(CURRENT)),
        ("docker.io/docker/dockerfile:1.6.0-labs", "1.6"),
        ("docker/dockerfile-upstream:master", str(CURRENT)),
        ("example.org/frontend:2", None),
    ],
)
def test_frontend_images_give_a_syntax(frontend: str, expected: str | None) -> None:
    found = syntax_from_frontend(frontend)
    assert (str(found) if found else None) == expected


def test_engine_versions_measured_here_and_platforms() -> None:
    assert builtin_syntax("20.10.24+dfsg1") == ENGINE_20_10
    assert builtin_syntax("29.0.1") is None
    assert docker_platform("Linux", "x86_64") == "linux/amd64"
    assert platform_args("linux/arm/v7")["TARGETVARIANT"] == "v7"
    with pytest.raises(UsageError, match="os/arch"):
        platform_args("amd64")
    with pytest.raises(UsageError, match="buildkit or legacy"):
        check_builder("classic")
    with pytest.raises(UsageError, match="buildkit or legacy"):
        explain(f"FROM {BASE}\n", builder="classic", engine=None)  # type: ignore[arg-type]


SKIPPED = f"FROM {BASE} AS broken\nENV X=${{NOPE-w}}\nEXPOSE 80/foo\nFROM {BASE} AS ok\nENV A=1\n"


def test_buildkit_skips_the_stages_the_target_does_not_need_and_their_errors() -> None:
    image = run(SKIPPED, "buildkit", target="ok", syntax="1.2")
    assert image.stages_built() == (1,) and image.env["A"] == "1"
    assert image.steps[0].effect.startswith("BuildKit skips stage 0 (broken)")
    with pytest.raises(SubstitutionError) as refused:
        run(SKIPPED, "legacy", target="ok", syntax="1.2")
    assert refused.value.line == 2
    with pytest.raises(InvalidInstructionError, match="Invalid proto") as refused:
        run(SKIPPED, "legacy", target="ok")  # today's syntax takes ${NOPE-w}; the port is still refused
    assert refused.value.line == 3


def test_a_skipped_stage_keeps_its_outline_for_the_stages_table() -> None:
    text = f"FROM {BASE} AS build\nRUN make\nFROM build AS check\nRUN test\nFROM scratch\nCOPY --from=build /a /a\n"
    image = run(text, "buildkit")
    assert image.stages_built() == (0, 2)
    assert image.stages_built("legacy") == (0, 1, 2)
    assert [plan.base_stage for plan in image.stages] == [None, 0, None]
    assert image.stages[2].copies[0].from_stage == 0


def test_scratch_working_dir_and_platform_arguments() -> None:
    assert run("FROM scratch\nENV A=1\n", "buildkit").working_dir == "/"
    assert run("FROM scratch\nENV A=1\n", "legacy").working_dir == ""
    text = f"ARG M=[$TARGETARCH]\nFROM {BASE}\nARG M\nARG TARGETOS\nARG TARGETARCH=mine\nENV M=$M O=$TARGETOS A=$TARGETARCH\n"
    assert [run(text, b).env[k] for b in ("buildkit", "legacy") for k in "MOA"] == [
        "[amd64]",
        "linux",
        "mine",
        "[]",
        "",
        "mine",
    ]


def test_an_arg_after_an_env_wins_and_is_carried_into_child_stages_with_buildkit() -> None:
    text = f"FROM {BASE} AS parent\nENV X=env\nARG X=arg\nENV Y=$X\nFROM parent\nENV Z=[$X]\n"
    assert {k: run(text, "buildkit").env[k] for k in "XYZ"} == {"X": "env", "Y": "arg", "Z": "[arg]"}
    assert {k: run(text, "legacy").env[k] for k in "XYZ"} == {"X": "env", "Y": "env", "Z": "[env]"}
    again = f"FROM {BASE}\nENV X=env\nARG X=arg\nENV X=again Y=$X\nENV Z=$X\n"
    assert (run(again, "buildkit").env["Y"], run(again, "buildkit").env["Z"]) == ("arg", "again")


def test_empty_forms_and_empty_workdir() -> None:
    assert run(f"FROM {BASE}\nCMD\n", "buildkit").cmd == ("/bin/sh", "-c", "")
    assert run(f"FROM {BASE}\nCMD\n", "legacy").cmd == ("/bin/sh", "-c")
    assert run(f"FROM {BASE}\nCMD []\n", "buildkit").to_inspect()["Config"]["Cmd"] is None
    assert run(f"FROM {BASE}\nCMD []\n", "legacy").to_inspect()["Config"]["Cmd"] == []
    assert run(f"FROM {BASE}\nENTRYPOINT\n", "buildkit").entrypoint == ("/bin/sh", "-c", "")
    assert run(f"FROM {BASE}\nENTRYPOINT\n", "legacy").entrypoint is None
    assert run(f'FROM {BASE}\nWORKDIR /a\nWORKDIR ""\n', "buildkit").working_dir == "/a"
    with pytest.raises(InvalidInstructionError, match="cannot normalize nothing"):
        run(f'FROM {BASE}\nWORKDIR ""\n', "legacy")


@pytest.mark.parametrize(
    ("line", "since"),
    [
        ("COPY --link a /a", "1.4"),
        ("ADD --checksum=sha256:00 a /a", "1.6"),
        ("RUN --network=none true", "1.3"),
        ("COPY --parents a /a/", "1.20"),
        ("HEALTHCHECK --start-interval=1s CMD true", "1.6"),
    ],
)
def test_a_flag_is_unknown_before_its_syntax_version(line: str, since: str) -> None:
    text = f"FROM {BASE}\n{line}\n"
    for builder in ("buildkit", "legacy"):
        with pytest.raises(InvalidInstructionError, match="Unknown flag") as refused:
            run(text, builder, syntax="1.2")
        assert refused.value.line == 2
    assert run(text, "buildkit", syntax=since).steps[-1].effect.endswith(f"from Dockerfile syntax {since})")


def test_the_legacy_builder_refuses_run_flags_and_chmod_and_ignores_the_other_copy_flags() -> None:
    for line in ("RUN --mount=type=cache,target=/c true", "COPY --chmod=600 a /a", "RUN --network=none true"):
        with pytest.raises(InvalidInstructionError, match="requires BuildKit"):
            run(f"FROM {BASE}\n{line}\n", "legacy")
    linked = run(f"FROM {BASE}\nCOPY --link a /a\n", "legacy")
    assert "reads it and ignores it" in linked.steps[-1].effect


def test_here_documents_need_syntax_1_4_and_buildkit() -> None:
    text = f"FROM {BASE}\nRUN <<EOF\necho hi\nEOF\nCOPY <<EOF /x\nhello\nEOF\n"
    with pytest.raises(DockerfileSyntaxError, match=r"needs Dockerfile syntax 1\.4") as refused:
        run(text, "buildkit", syntax="1.2")
    assert refused.value.line == 3  # where Docker 20.10's parser reads `echo hi` as an instruction
    steps = run(text, "buildkit").steps
    assert "feeds the here-document (<<EOF)" in steps[1].effect
    assert steps[2].effect.startswith("writes the here-document <<EOF to /x")
    with pytest.raises(InvalidInstructionError, match="no source files were specified"):
        run(text, "legacy")
    assert "never run" in run(f"FROM {BASE}\nRUN <<EOF\necho hi\nEOF\n", "legacy").steps[1].effect


def test_a_syntax_line_sets_buildkits_syntax_and_the_legacy_builder_ignores_it() -> None:
    text = f"# syntax=docker/dockerfile:1.6\nFROM {BASE}\nENV A=${{NOPE-dash}}\n"
    image = run(text, "buildkit", syntax="1.2")
    assert (image.syntax, image.env["A"]) == (DockerfileSyntax(1, 6), "dash")
    assert "pulls that frontend image" in image.assumptions[0]
    with pytest.raises(SubstitutionError, match="missing ':'"):
        run(text, "legacy", syntax="1.2")
    assert run(text, "legacy").assumptions == ()
