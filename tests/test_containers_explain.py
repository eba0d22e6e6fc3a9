"""`explain` without an engine: base images come from a mapping, everything else from the Dockerfile."""

from __future__ import annotations

import doctest

import pytest

from labkit.containers import explainer as explain_module
from labkit.containers import substitution
from labkit.containers.builders import ENGINE_20_10
from labkit.containers.errors import (
    DockerfileError,
    DockerfileSyntaxError,
    InvalidInstructionError,
    NoCommandError,
    UnknownTargetError,
)
from labkit.containers.explainer import explain, reference_variants
from labkit.containers.imageconfig import DEFAULT_PATH, ImageConfig, normalized_inspect
from labkit.containers.instructions import INSTRUCTIONS, parse

PYTHON = {
    "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "PYTHON_VERSION=3.11.9"],
    "Cmd": ["python3"],
}
BASES = {"python:3.11-slim": PYTHON}


def run(text: str, **options):
    return explain(text, base_images=BASES, engine=None, **options)


@pytest.mark.parametrize("module", [explain_module, substitution])
def test_docstring_examples_run(module) -> None:
    assert doctest.testmod(module).failed == 0


def test_an_explicit_empty_cmd_is_an_empty_list_as_the_engine_records_it() -> None:
    # Measured on Engine 20.10 (legacy builder): `FROM scratch` + `CMD []` inspects as "Cmd": [], not null;
    # BuildKit records null (the proof suite checks both).
    assert run("FROM scratch\nCMD []\n", builder="buildkit").to_inspect()["Config"]["Cmd"] is None
    empty = run("FROM scratch\nCMD []\n", builder="legacy")
    assert empty.cmd == ()
    assert empty.to_inspect()["Config"]["Cmd"] == []
    assert "CMD []" in empty.steps[-1].effect
    with pytest.raises(NoCommandError):
        empty.command()
    assert empty.command(["run-arg"]) == ("run-arg",)
    # A later ENTRYPOINT still resets it to nothing at all, and an image that never set one has null.
    assert run('FROM scratch\nCMD []\nENTRYPOINT ["/app"]\n', builder="legacy").to_inspect()["Config"]["Cmd"] == []
    assert run("FROM scratch\nLABEL a=b\n").to_inspect()["Config"]["Cmd"] is None
    inherited = explain('FROM base\nENTRYPOINT ["/app"]\n', base_images={"base": {"Cmd": []}}, engine=None)
    assert inherited.cmd is None and inherited.command() == ("/app",)
    assert ImageConfig.from_inspect({"Cmd": []}).cmd == () and ImageConfig.from_inspect({}).cmd is None
    assert normalized_inspect({"Cmd": []})["Cmd"] == [] and normalized_inspect({"Entrypoint": []})["Entrypoint"] is None


def test_cmd_is_inherited_and_entrypoint_resets_it() -> None:
    assert run("FROM python:3.11-slim\nENV A=1\n").command() == ("python3",)
    reset = run('FROM python:3.11-slim\nENTRYPOINT ["python3", "-m", "http.server"]\n')
    assert reset.cmd is None
    assert reset.command() == ("python3", "-m", "http.server")
    assert reset.origins["cmd"] == "reset by line 2"
    assert any("resets the CMD" in step.effect for step in reset.steps)


def test_cmd_written_before_entrypoint_in_the_same_stage_is_kept() -> None:
    kept = run('FROM python:3.11-slim\nCMD ["--port", "8000"]\nENTRYPOINT ["python3", "-m", "app"]\n')
    assert kept.command() == ("python3", "-m", "app", "--port", "8000")


def test_run_arguments_and_entrypoint_overrides() -> None:
    image = run('FROM python:3.11-slim\nENTRYPOINT ["python3", "-m", "app"]\nCMD ["--port", "8000"]\n')
    assert image.command(["--help"]) == ("python3", "-m", "app", "--help")
    assert image.command(entrypoint="sh") == ("sh",)
    assert image.command(["-c", "id"], entrypoint="sh") == ("sh", "-c", "id")
    assert image.command(["env"], entrypoint="") == ("env",)
    with pytest.raises(NoCommandError, match="No command specified"):
        image.command(entrypoint="")


def test_command_story_explains_each_decision() -> None:
    image = run('FROM python:3.11-slim\nENTRYPOINT ["python3", "-m", "app"]\nCMD ["--port", "8000"]\n')
    story = image.command_story()
    assert story[0].startswith('ENTRYPOINT ["python3", "-m", "app"] (line 2')
    assert "line 3" in story[1]
    assert story[-1].startswith('the container runs ["python3", "-m", "app", "--port", "8000"]')
    assert "drops its CMD" in image.command_story(entrypoint="")[0]
    assert "No command specified" in image.command_story(entrypoint="")[-1]


def test_shell_form_and_shell_instruction() -> None:
    image = run('FROM python:3.11-slim\nSHELL ["/bin/bash", "-eu", "-c"]\nCMD echo $HOME\n')
    assert image.cmd == ("/bin/bash", "-eu", "-c", "echo $HOME")
    step = image.steps[-1]
    assert step.line == 3
    assert "shell expands them" in step.effect


def test_exec_form_that_is_not_json_falls_back_to_shell_form() -> None:
    image = run("FROM python:3.11-slim\nCMD [python3, app.py]\n")
    assert image.cmd == ("/bin/sh", "-c", "[python3, app.py]")
    assert "not a valid JSON array" in image.steps[-1].effect


def test_env_and_arg_substitution() -> None:
    image = run(
        "ARG VERSION=1.0\nFROM python:3.11-slim\nARG VERSION\nARG GREETING=hi\n"
        'ENV APP_VERSION=$VERSION MESSAGE="$GREETING there" HOME_DIR=${HOME:-/root}\n',
        build_args={"GREETING": "hello", "UNUSED": "x"},
    )
    assert image.env["APP_VERSION"] == "1.0"
    assert image.env["MESSAGE"] == "hello there"
    assert image.env["HOME_DIR"] == "/root"
    assert "GREETING" not in image.env  # ARG values are not stored in the image
    assert image.unused_build_args == ("UNUSED",)
    env_step = image.steps[-1]
    assert "$GREETING='hello'" in env_step.effect and "--build-arg" in env_step.effect


def test_from_uses_the_args_declared_before_it() -> None:
    image = run("ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n", build_args={})
    assert image.stages[0].base == "python:3.11-slim"
    assert image.command() == ("python3",)


def test_workdir_chain_and_relative_workdirs() -> None:
    image = run("FROM python:3.11-slim\nWORKDIR /a\nWORKDIR b\nWORKDIR c\n")
    assert image.working_dir == "/a/b/c"
    assert [step.line for step in image.steps] == [1, 2, 3, 4]
    assert "joined to the current '/a/b'" in image.steps[-1].effect


def test_every_field_of_the_final_configuration() -> None:
    image = run(
        "FROM python:3.11-slim\nUSER app\nEXPOSE 8000 9000/udp\nVOLUME /data\nLABEL team=lab\n"
        "STOPSIGNAL SIGINT\nHEALTHCHECK --interval=10s CMD python3 -c 'print(1)'\nMAINTAINER someone\n"
    )
    assert image.user == "app"
    assert image.exposed_ports == ("8000/tcp", "9000/udp")
    assert image.volumes == ("/data",)
    assert image.config.labels == {"team": "lab"}
    assert image.config.stop_signal == "SIGINT"
    assert image.config.healthcheck.test == ("CMD-SHELL", "python3 -c 'print(1)'")
    assert image.config.healthcheck.interval_ns == 10 * 10**9
    assert image.to_inspect()["Author"] == "someone"
    assert "deprecated" in image.steps[-1].effect


def test_unknown_base_image_is_an_assumption_not_a_guess() -> None:
    image = explain("FROM somewhere/unknown:1\nENV A=1\n", engine=None)
    assert len(image.assumptions) == 1
    assert "'somewhere/unknown:1' is unknown" in image.assumptions[0]
    assert image.env == {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A": "1"}


def test_without_an_engine_the_assumption_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    image = explain("FROM somewhere/unknown:1\nENV A=1\n")
    assert "no socket at" in image.assumptions[0]


def test_reference_variants() -> None:
    assert "busybox:latest" in reference_variants("busybox")
    assert "python:3.11-slim" in reference_variants("docker.io/library/python:3.11-slim")


MULTISTAGE = (
    "FROM python:3.11-slim AS wheels\nRUN pip wheel -w /wheels app\n"
    "FROM python:3.11-slim AS tests\nRUN false\n"
    "FROM python:3.11-slim AS runtime\nCOPY --from=wheels /wheels /wheels\nCOPY --from=alpine:3.20 /bin/sh /x\n"
    'USER 10001\nENTRYPOINT ["python3", "-m", "app"]\n'
    "FROM runtime AS debug\nUSER root\n"
)


def test_target_stops_at_the_stage_and_knows_what_it_needs() -> None:
    image = run(MULTISTAGE, target="runtime")
    assert image.target == 2
    assert image.user == "10001"
    assert len(image.stages) == 3
    assert image.stages_built("legacy") == (0, 1, 2)
    assert image.stages_built("buildkit") == (0, 2)
    runtime = image.target_stage
    assert [(c.from_stage, c.from_image) for c in runtime.copies] == [(0, None), (None, "alpine:3.20")]
    assert runtime.copies[1].origin == "image alpine:3.20"


def test_later_stages_inherit_from_earlier_ones() -> None:
    image = run(MULTISTAGE)
    assert image.target_stage.base_kind == "stage"
    assert image.user == "root"
    assert image.command() == ("python3", "-m", "app")
    assert image.stages_built("buildkit") == (0, 2, 3)


def test_unknown_target() -> None:
    with pytest.raises(UnknownTargetError, match="wheels, tests, runtime, debug"):
        run(MULTISTAGE, target="nosuch")


def test_onbuild_triggers_of_the_base_run_in_the_child() -> None:
    bases = {"parent:1": {"Env": ["PATH=/bin"], "OnBuild": ["ENV TRIGGERED=yes", 'CMD ["child"]']}}
    image = explain("FROM parent:1\nENV A=1\n", base_images=bases, engine=None)
    assert image.env["TRIGGERED"] == "yes"
    assert image.cmd == ("child",)
    assert image.config.on_build == ()
    assert all(step.line == 1 for step in image.steps[:3])


def test_build_labels_land_on_the_target_without_substitution() -> None:
    image = run("FROM python:3.11-slim\n", labels={"owner": "$NOT_SUBSTITUTED"})
    assert image.config.labels == {"owner": "$NOT_SUBSTITUTED"}
    assert image.steps[-1].line == 0


def test_a_stage_that_adds_nothing_is_its_base() -> None:
    image = run("FROM python:3.11-slim\n")
    assert image.config.env == tuple(PYTHON["Env"])


@pytest.mark.parametrize(
    ("text", "error", "line"),
    [
        ("ENV A=1\nFROM python:3.11-slim\n", DockerfileSyntaxError, 1),
        ("FROM python:3.11-slim\nARG =x\n", InvalidInstructionError, 2),
        ("FROM python:3.11-slim\nENV =x\n", InvalidInstructionError, 2),
        ("FROM a AS x\nFROM b AS X\n", InvalidInstructionError, 2),
        ("FROM python:3.11-slim\nCOPY --from=1 /a /b\n", InvalidInstructionError, 2),
        ("FROM python:3.11-slim\nHEALTHCHECK CMD\n", InvalidInstructionError, 2),
        ("FROM python:3.11-slim\nHEALTHCHECK FOO x\n", InvalidInstructionError, 2),
        ("FROM python:3.11-slim\nVOLUME $EMPTY\n", InvalidInstructionError, 2),
        ("FROM Python:3\n", InvalidInstructionError, 1),
    ],
)
def test_refusals_carry_the_line(text: str, error: type[DockerfileError], line: int) -> None:
    with pytest.raises(error) as refused:
        run(text)
    assert refused.value.line == line


def test_from_scratch_alone_generates_no_image_with_the_legacy_builder_and_an_empty_one_with_buildkit() -> None:
    with pytest.raises(DockerfileError, match="No image was generated"):
        explain("FROM scratch\n", engine=None, builder="legacy")
    empty = explain("FROM scratch\n", engine=None, builder="buildkit")
    assert (empty.working_dir, empty.env) == ("/", {"PATH": DEFAULT_PATH})


def test_every_instruction_but_from_has_its_handler_named_in_the_table() -> None:
    assert set(explain_module.HANDLERS) == INSTRUCTIONS - {"FROM"}
    assert all(handler.__name__ == f"_do_{keyword.lower()}" for keyword, handler in explain_module.HANDLERS.items())


def test_an_instruction_without_a_handler_fails_as_the_lookup_by_name_did() -> None:
    build = explain_module._Build("legacy", ENGINE_20_10, "linux/amd64")
    evaluator = explain_module._Evaluator("\\", {}, explain_module._BaseImages(given={}, engine=None), build)
    stage = evaluator.begin_stage(parse("FROM scratch\n").instructions[0])
    with pytest.raises(AttributeError, match="has no attribute '_do_from'"):
        evaluator.dispatch(stage, parse("FROM scratch\n").instructions[0])
