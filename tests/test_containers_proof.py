"""The proof: `explain` predicts what a real Docker engine builds and runs, exactly.

Every Dockerfile below is built on the engine (from the offline busybox base, about a second each). For each one,
the predicted Config (Entrypoint, Cmd, WorkingDir, User, Env, ExposedPorts, Volumes, Shell, Labels, Healthcheck,
StopSignal, OnBuild) and Author must equal `docker image inspect`, and for each `docker run` variant the predicted
argv must equal `docker inspect`'s Path + Args (or both must refuse: "No command specified"). Dockerfiles Docker
refuses must be refused by `explain` too, with the line. Without an engine every test here skips with the reason
(CI sets LABKIT_NO_SKIP=1, which turns those skips into failures).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from labkit.containers.baseimages import BUSYBOX, ensure_base_image
from labkit.containers.engine import Engine, lab_labels
from labkit.containers.errors import (
    BuildFailedError,
    ContainerFailedError,
    DockerfileError,
    NoCommandError,
    UnknownTargetError,
)
from labkit.containers.explainer import explain
from labkit.containers.explanation import Explanation
from labkit.containers.imageconfig import normalized_inspect
from labkit.containers.prebuild import build_checked
from labkit.lab.dockerfiles.forms import form_cases

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PURPOSE = "proof"
BASE = BUSYBOX.reference
Run = tuple[tuple[str, ...], str | None]  # (docker run arguments, --entrypoint or None)
DEFAULT_RUN: Run = ((), None)
# Every ENTRYPOINT x CMD form meets these `docker run` variants.
FORM_RUNS: tuple[Run, ...] = (
    ((), None),
    (("run1", "run2"), None),
    ((), ""),
    (("ls", "-l"), ""),
    ((), "/bin/echo"),
)


@dataclass(frozen=True)
class Case:
    """A Dockerfile to build, how to build it, and the `docker run` variants to compare."""

    id: str
    dockerfile: str
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    runs: tuple[Run, ...] = (DEFAULT_RUN,)
    files: dict[str, str] = field(default_factory=dict)


def _case(case_id: str, body: str, **options) -> Case:
    return Case(case_id, f"FROM {BASE}\n{body.strip()}\n", **options)


FORM_CASES = [Case(f"form[{c.entrypoint_form}|{c.cmd_form}]", c.dockerfile, runs=FORM_RUNS) for c in form_cases(BASE)]

OTHER_CASES = [
    _case("cmd-then-entrypoint-keeps-cmd", 'CMD ["c"]\nENTRYPOINT ["/bin/echo"]', runs=FORM_RUNS),
    _case("only-the-last-cmd-counts", 'CMD ["first"]\nCMD second\nENTRYPOINT ["/bin/echo"]\nCMD ["third"]'),
    _case("json-with-trailing-text", 'CMD ["a", "b"] c d'),
    _case("empty-shell-cmd", "CMD"),
    _case("empty-shell-entrypoint", "ENTRYPOINT"),
    _case("shell-instruction", 'SHELL ["/bin/sh", "-ec"]\nCMD echo $HOME\nENTRYPOINT exec env'),
    _case("env-forms", 'ENV A=1 B="x y" C=$A\nENV D ${B:-none} $A\nENV E=${A:+set} F=${NOPE:+set} G=${NOPE:-dflt}'),
    _case("env-quotes-and-escapes", 'ENV Q=\\$A R=\'$PATH\' S="a\\"b" T=a\\ b U=x\\\\y V="x\\y"'),
    _case("env-replaces-in-place", "ENV PATH=/opt/bin:$PATH LANG=C\nENV LANG=C.UTF-8"),
    _case("env-special-parameters", "ENV A=$@x B=$12a C=${1} D=$ E=a$ F=$-x"),
    _case("arg-default-and-substitution", "ARG X=5\nARG Y=$X\nENV Z=$Y W=${X}"),
    _case("arg-build-arg-overrides", "ARG X=5\nENV Z=$X", build_args={"X": "cli"}),
    _case("arg-unset-is-empty", "ARG NOVALUE\nENV Z=${NOVALUE:-fallback} Y=[$NOVALUE]"),
    _case("env-wins-over-arg", "ENV X=env\nARG X=arg\nENV Y=$X", build_args={"X": "cli"}),
    _case("unused-build-arg", "ENV A=1", build_args={"NOT_DECLARED": "1"}),
    Case(
        "meta-arg-in-from",
        "ARG BASE_IMAGE=nothing-here:1\nARG V=meta\nFROM $BASE_IMAGE\nARG V\nENV V=$V\n",
        build_args={"BASE_IMAGE": BASE},
    ),
    Case("meta-arg-not-visible-without-arg", f"ARG V=meta\nFROM {BASE}\nENV V=[$V]\n"),
    _case("workdir-chain", "WORKDIR /a\nWORKDIR b\nWORKDIR c\nCMD pwd"),
    _case("workdir-absolute-as-written", "WORKDIR /a/../b/"),
    _case("workdir-relative-cleaned", "WORKDIR /a/b/\nWORKDIR ../c/./d/"),
    _case("workdir-from-env", "ENV D=/srv U=app\nWORKDIR $D\nWORKDIR ${U}/x"),
    _case("user-substituted", "ENV U=nobody\nUSER $U:${U}"),
    _case("user-whole-line", "USER a b"),
    _case("expose-forms", 'ENV P="80 443/udp"\nEXPOSE $P 8000-8002 9000/TCP 1.2.3.4:80:8080'),
    _case("volume-forms", 'ENV P="/v 1"\nVOLUME $P /plain\nVOLUME ["/json1", "/json2"]'),
    _case("label-forms", 'ENV U=app\nLABEL "k $U"="v $U" plain=$U\nLABEL plain=again'),
    _case("stopsignal", "STOPSIGNAL sigkill"),
    _case("healthcheck-shell", "HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD wget -q http://localhost/$U"),
    _case("healthcheck-exec", 'HEALTHCHECK --start-period=1m30s CMD ["true"]'),
    _case("healthcheck-none", "HEALTHCHECK CMD true\nHEALTHCHECK NONE"),
    _case("maintainer-author", "MAINTAINER Lab Team <lab@example.org>"),
    _case("onbuild-stored", "ONBUILD ENV TRIGGERED=yes\nONBUILD  RUN  echo $U"),
    Case(
        "onbuild-runs-in-child-stage",
        f'FROM {BASE} AS parent\nONBUILD ENV TRIGGERED=yes\nCMD ["parent"]\nFROM parent\nENV CHILD=1\n',
    ),
    Case(
        "entrypoint-resets-inherited-cmd",
        f'FROM {BASE} AS one\nCMD ["one"]\nWORKDIR /one\nFROM one\nENTRYPOINT ["two"]\nENV E=1\n',
        runs=FORM_RUNS,
    ),
    Case(
        "escape-directive",
        f'# escape=`\nFROM {BASE}\nENV A=a`$HOME B="x`"y" C=c\\d\nRUN echo a `\n    b\n',
    ),
    Case(
        "multistage-target-middle",
        f'FROM {BASE} AS base\nENV STAGE=base\nCMD ["base"]\n'
        f'FROM base AS middle\nWORKDIR /m\nENTRYPOINT ["/bin/echo", "middle"]\n'
        f'FROM middle AS last\nUSER nobody\nCMD ["last"]\n',
        target="middle",
        runs=FORM_RUNS,
    ),
    Case(
        "multistage-copy-from",
        f"FROM {BASE} AS builder\nRUN echo built > /artifact\n"
        f"FROM {BASE}\nCOPY --from=builder /artifact /a1\nCOPY --from=0 /artifact /a2\nCOPY hello.txt /srv/\n"
        f'CMD ["cat", "/a1", "/a2", "/srv/hello.txt"]\n',
        files={"hello.txt": "hello\n"},
    ),
    Case(
        "multistage-external-image-as-stage",
        f"FROM {BASE} AS tools\nFROM tools\nCOPY --from={BASE} /bin/busybox /opt/busybox\nENV B=/opt/busybox\n",
    ),
]

CASES = FORM_CASES + OTHER_CASES


@dataclass(frozen=True)
class Refusal:
    """A Dockerfile both Docker and `explain` must refuse; `line` is where explain must point."""

    id: str
    dockerfile: str
    line: int | None
    target: str | None = None


REFUSALS = [
    Refusal("unknown-instruction", f"FROM {BASE}\nFOO bar\n", 2),
    Refusal("json-with-a-number", f'FROM {BASE}\nENV A=1\nCMD ["a", 1]\n', 3),
    Refusal("unsupported-modifier", f"FROM {BASE}\nENV X=${{Y-w}}\n", 2),
    Refusal("unbalanced-quote", f'FROM {BASE}\nENV A="b\n', 2),
    Refusal("port-out-of-range", f"FROM {BASE}\nEXPOSE 70000\n", 2),
    Refusal("unknown-protocol", f"FROM {BASE}\nEXPOSE 80/foo\n", 2),
    Refusal("bad-stop-signal", f"FROM {BASE}\nSTOPSIGNAL SIGNOPE\n", 2),
    Refusal("healthcheck-retries", f"FROM {BASE}\nHEALTHCHECK --retries=0 CMD true\n", 2),
    Refusal("healthcheck-interval", f"FROM {BASE}\nHEALTHCHECK --interval=10us CMD true\n", 2),
    Refusal("shell-not-json", f"FROM {BASE}\nSHELL /bin/bash -c\n", 2),
    Refusal("unknown-flag", f"FROM {BASE}\nCOPY --bogus a b\n", 2),
    Refusal("empty-workdir", f'FROM {BASE}\nWORKDIR ""\n', 2),
    Refusal("onbuild-from", f"FROM {BASE}\nONBUILD FROM x\n", 2),
    Refusal("copy-from-not-substituted", f"FROM {BASE} AS a\nFROM {BASE}\nARG S=a\nCOPY --from=$S /x /y\n", 4),
    Refusal(
        "legacy-builds-unneeded-stage", f"FROM {BASE} AS broken\nRUN false\nFROM {BASE} AS ok\nENV A=1\n", None, "ok"
    ),
    Refusal("unknown-target", f"FROM {BASE} AS one\nENV A=1\n", None, "nosuch"),
]


@pytest.fixture(scope="module")
def engine(docker_engine: Engine) -> Engine:
    ensure_base_image(docker_engine, BUSYBOX.name)
    yield docker_engine
    docker_engine.cleanup(purpose=PURPOSE)


def _context(root: Path, case_id: str, dockerfile: str, files: dict[str, str]) -> Path:
    folder = root / case_id.replace("[", "_").replace("]", "").replace("|", "_").replace(" ", "-")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile)
    for name, content in files.items():
        (folder / name).write_text(content)
    return folder


@pytest.fixture(scope="module")
def built(engine: Engine, tmp_path_factory: pytest.TempPathFactory):
    """Build each case once; returns (image inspect, explanation)."""
    root = tmp_path_factory.mktemp("proof")
    cache: dict[str, tuple[dict, Explanation]] = {}

    def build(case: Case) -> tuple[dict, Explanation]:
        if case.id not in cache:
            context = _context(root, case.id, case.dockerfile, case.files)
            image = build_checked(
                engine, context, build_args=case.build_args, target=case.target, purpose=PURPOSE, progress=False
            )
            predicted = explain(
                case.dockerfile,
                target=case.target,
                build_args=case.build_args,
                engine=engine,
                labels=lab_labels(PURPOSE),
            )
            cache[case.id] = (engine.image_inspect(image.id), predicted)
        return cache[case.id]

    return build


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_explain_predicts_docker_image_inspect(built, case: Case) -> None:
    inspected, predicted = built(case)
    assert predicted.assumptions == ()
    assert predicted.to_inspect()["Config"] == normalized_inspect(inspected["Config"])
    assert predicted.author == inspected["Author"]


RUN_CASES = [(case, run) for case in CASES for run in case.runs]


def _run_id(item: tuple[Case, Run]) -> str:
    case, (args, entrypoint) = item
    shown = " ".join(args) or "-"
    return f"{case.id}-run[{shown}]" + (f"-entrypoint[{entrypoint}]" if entrypoint is not None else "")


@pytest.mark.parametrize("item", RUN_CASES, ids=_run_id)
def test_explain_predicts_docker_inspect_path_and_args(engine: Engine, built, item: tuple[Case, Run]) -> None:
    case, (run_args, entrypoint) = item
    inspected, predicted = built(case)
    try:
        expected = predicted.command(run_args, entrypoint)
    except NoCommandError:
        with pytest.raises(ContainerFailedError, match="No command specified"):
            engine.create_container(inspected["Id"], run_args, entrypoint=entrypoint, purpose=PURPOSE)
        return
    container = engine.create_container(inspected["Id"], run_args, entrypoint=entrypoint, purpose=PURPOSE)
    try:
        assert engine.argv(container) == expected
    finally:
        engine.remove_container(container)


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda refusal: refusal.id)
def test_docker_and_explain_refuse_the_same_dockerfiles(engine: Engine, tmp_path: Path, refusal: Refusal) -> None:
    context = _context(tmp_path, refusal.id, refusal.dockerfile, {})
    with pytest.raises(BuildFailedError):
        build_checked(engine, context, target=refusal.target, purpose=PURPOSE, progress=False)
    if refusal.line is not None:
        with pytest.raises(DockerfileError) as refused:
            explain(refusal.dockerfile, target=refusal.target, engine=engine)
        assert refused.value.line == refusal.line
    elif refusal.target == "nosuch":
        with pytest.raises(UnknownTargetError):
            explain(refusal.dockerfile, target=refusal.target, engine=engine)
    else:
        # Legacy builds every stage up to the target, so the broken stage runs; explain says it would.
        predicted = explain(refusal.dockerfile, target=refusal.target, engine=engine)
        assert predicted.stages_built("legacy") == (0, 1)
        assert predicted.stages_built("buildkit") == (1,)


RUNTIME = [
    _case("shell-form-expands-at-run-time", "ENV D=/srv\nCMD echo $D", runs=(DEFAULT_RUN,)),
    _case("exec-form-keeps-dollar", 'ENV D=/srv\nCMD ["echo", "$D"]'),
    _case("exit-code", 'CMD ["sh", "-c", "exit 3"]'),
    _case("workdir-at-run-time", "WORKDIR /a\nWORKDIR b\nWORKDIR c\nCMD pwd"),
    _case("user-at-run-time", 'USER nobody\nCMD ["id", "-u"]'),
    _case("entrypoint-with-run-args", 'ENTRYPOINT ["/bin/echo", "hello"]\nCMD ["world"]'),
]
RUNTIME_OUTPUT = {
    "shell-form-expands-at-run-time": ("/srv\n", 0, ()),
    "exec-form-keeps-dollar": ("$D\n", 0, ()),
    "exit-code": ("", 3, ()),
    "workdir-at-run-time": ("/a/b/c\n", 0, ()),
    "user-at-run-time": ("65534\n", 0, ()),
    "entrypoint-with-run-args": ("hello there\n", 0, ("there",)),
}


@pytest.mark.parametrize("case", RUNTIME, ids=lambda case: case.id)
def test_containers_run_what_explain_says(engine: Engine, built, case: Case) -> None:
    inspected, predicted = built(case)
    output, code, run_args = RUNTIME_OUTPUT[case.id]
    result = engine.run(inspected["Id"], run_args, purpose=PURPOSE)
    assert result.argv == predicted.command(run_args)
    assert (result.logs, result.exit_code) == (output, code)


def _buildkit_cli() -> str | None:
    """A docker CLI that still builds with BuildKit via DOCKER_BUILDKIT=1 (Debian's 20.10 one does)."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).exists():
            version = subprocess.run(
                [candidate, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True
            )
            if version.stdout.startswith("20."):
                return candidate
    return None


def test_buildkit_skips_the_stages_the_target_does_not_need(engine: Engine, tmp_path: Path) -> None:
    cli = _buildkit_cli()
    if cli is None:
        pytest.skip("needs a docker CLI 20.x whose `DOCKER_BUILDKIT=1 docker build` uses BuildKit")
    dockerfile = f"FROM {BASE} AS broken\nRUN false\nFROM {BASE} AS ok\nENV A=1\n"
    context = _context(tmp_path, "buildkit", dockerfile, {})
    assert explain(dockerfile, target="ok", engine=engine).stages_built("buildkit") == (1,)
    tag = "labkit-proof/buildkit-target:latest"
    labels = [f"--label={key}={value}" for key, value in lab_labels(PURPOSE).items()]
    done = subprocess.run(
        [cli, "build", "-q", "--target", "ok", "-t", tag, *labels, str(context)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "A=1" in engine.image_config(tag)["Env"]


def test_the_proof_has_at_least_forty_cases() -> None:
    assert len(CASES) + len(RUN_CASES) + len(REFUSALS) >= 40
