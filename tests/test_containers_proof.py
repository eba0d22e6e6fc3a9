"""The proof: `explain` predicts what a real Docker engine builds and runs, exactly, with both of Docker's builders.

Every Dockerfile below is built on the engine twice (from the offline busybox base, about a second each): with the
legacy builder (the docker SDK) and with BuildKit (`DOCKER_BUILDKIT=1` and a docker CLI 20.10). For each build, the
predicted Config (Entrypoint, Cmd, WorkingDir, User, Env, ExposedPorts, Volumes, Shell, Labels, Healthcheck,
StopSignal, OnBuild) and Author must equal `docker image inspect`, and for each `docker run` variant the predicted
argv must equal `docker inspect`'s Path + Args (or both must refuse: "No command specified"). Dockerfiles Docker
refuses must be refused by `explain` too, with the line. Where the builders differ, a case builds with one and is
refused by the other, and `explain` must say which. `explain` is asked with the engine's own Dockerfile syntax
(Engine 20.10: 1.2): forms of a newer syntax are proven refused here, and NOT_PROVEN_HERE names what cannot run here.
Without an engine every test here skips with the reason (CI sets LABKIT_NO_SKIP=1, which turns skips into failures).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from labkit.containers.baseimages import BUSYBOX, ensure_base_image
from labkit.containers.builders import BUILDERS, Builder, DockerfileSyntax, builtin_syntax, docker_platform
from labkit.containers.buildkit import buildkit_cli
from labkit.containers.engine import Engine, lab_labels
from labkit.containers.errors import (
    BuildFailedError,
    ContainerFailedError,
    DockerfileError,
    MissingImageError,
    NoCommandError,
    UnknownTargetError,
)
from labkit.containers.explainer import explain
from labkit.containers.explanation import Explanation
from labkit.containers.imageconfig import DEFAULT_PATH, normalized_inspect
from labkit.containers.instructions import directives
from labkit.containers.prebuild import build_checked
from labkit.lab.dockerfiles.differences import EXAMPLES, BuilderExample
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
HELLO = {"hello.txt": "hello\n"}


@dataclass(frozen=True)
class Case:
    """A Dockerfile to build, how to build it, the `docker run` variants to compare, and the builders that build it
    (the others refuse it: a Refusal with the same id says how, or NOT_PROVEN_HERE says why it cannot run here)."""

    id: str
    dockerfile: str
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    runs: tuple[Run, ...] = (DEFAULT_RUN,)
    files: dict[str, str] = field(default_factory=dict)
    builders: tuple[Builder, ...] = BUILDERS


def _case(case_id: str, body: str, **options) -> Case:
    return Case(case_id, f"FROM {BASE}\n{body.strip()}\n", **options)


FORM_CASES = [Case(f"form[{c.entrypoint_form}|{c.cmd_form}]", c.dockerfile, runs=FORM_RUNS) for c in form_cases(BASE)]

OTHER_CASES = [
    _case("cmd-then-entrypoint-keeps-cmd", 'CMD ["c"]\nENTRYPOINT ["/bin/echo"]', runs=FORM_RUNS),
    _case("only-the-last-cmd-counts", 'CMD ["first"]\nCMD second\nENTRYPOINT ["/bin/echo"]\nCMD ["third"]'),
    _case("json-with-trailing-text", 'CMD ["a", "b"] c d'),
    _case("empty-shell-cmd", "CMD"),
    _case("empty-shell-entrypoint", "ENTRYPOINT"),
    _case("empty-shell-cmd-under-shell", 'SHELL ["/bin/sh", "-ec"]\nCMD'),
    _case("shell-instruction", 'SHELL ["/bin/sh", "-ec"]\nCMD echo $HOME\nENTRYPOINT exec env'),
    _case("env-forms", 'ENV A=1 B="x y" C=$A\nENV D ${B:-none} $A\nENV E=${A:+set} F=${NOPE:+set} G=${NOPE:-dflt}'),
    _case("env-quotes-and-escapes", 'ENV Q=\\$A R=\'$PATH\' S="a\\"b" T=a\\ b U=x\\\\y V="x\\y"'),
    _case("env-replaces-in-place", "ENV PATH=/opt/bin:$PATH LANG=C\nENV LANG=C.UTF-8"),
    _case("env-special-parameters", "ENV A=$@x B=$12a C=${1} D=$ E=a$ F=$-x"),
    _case("arg-default-and-substitution", "ARG X=5\nARG Y=$X\nENV Z=$Y W=${X}"),
    _case("arg-build-arg-overrides", "ARG X=5\nENV Z=$X", build_args={"X": "cli"}),
    _case("arg-unset-is-empty", "ARG NOVALUE\nENV Z=${NOVALUE:-fallback} Y=[$NOVALUE]"),
    _case("env-then-arg-of-one-name", "ENV X=env\nARG X=arg\nENV Y=$X", build_args={"X": "cli"}),
    _case("env-then-arg-default", "ENV X=env\nARG X=arg\nENV Y=$X"),
    _case("arg-then-env-of-one-name", "ARG X=arg\nENV X=env\nENV Y=$X", build_args={"X": "cli"}),
    _case("env-arg-env-again", "ENV X=env\nARG X=arg\nENV X=again Y=$X\nENV Z=$X"),
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


# Where the builders differ: each case builds with the builders it names; a Refusal with the same id covers the other.
SKIPPED_RUN_FAILS = f"FROM {BASE} AS broken\nRUN false\nFROM {BASE} AS ok\nENV A=1\n"
SKIPPED_SUBSTITUTION = f"FROM {BASE} AS skipped\nENV X=${{NOPE-w}}\nFROM {BASE} AS ok\nENV A=1\n"
SKIPPED_PORT = f"FROM {BASE} AS skipped\nEXPOSE 80/foo\nFROM {BASE} AS ok\nENV A=1\n"
SKIPPED_MISSING_BASE = f"FROM labkit-proof/not-in-the-store:1 AS skipped\nRUN true\nFROM {BASE} AS ok\nENV A=1\n"
SYNTAX_DIRECTIVE = f"# syntax=docker/dockerfile:1.4\nFROM {BASE}\nENV A=1\n"
BUILDKIT_ONLY: tuple[Builder, ...] = ("buildkit",)
LEGACY_ONLY: tuple[Builder, ...] = ("legacy",)
DIFFERENCE_CASES = [
    Case("skipped-stage-run-fails", SKIPPED_RUN_FAILS, target="ok", builders=BUILDKIT_ONLY),
    Case("skipped-stage-bad-substitution", SKIPPED_SUBSTITUTION, target="ok", builders=BUILDKIT_ONLY),
    Case("skipped-stage-bad-port", SKIPPED_PORT, target="ok", builders=BUILDKIT_ONLY),
    Case("skipped-stage-missing-base", SKIPPED_MISSING_BASE, target="ok", builders=BUILDKIT_ONLY),
    Case("scratch-workdir", "FROM scratch\nCOPY hello.txt /hello.txt\n", files=HELLO),
    Case(
        "scratch-target-after-an-unneeded-stage",
        f"FROM {BASE} AS tools\nRUN echo x > /x\nFROM scratch AS out\nENV A=1\nFROM out\nUSER nobody\n",
        target="out",
    ),
    _case(
        "platform-args-in-a-stage",
        "ARG TARGETPLATFORM\nARG TARGETOS\nARG TARGETARCH\nARG TARGETVARIANT\nARG BUILDPLATFORM\nARG BUILDARCH\n"
        "ENV T=[$TARGETPLATFORM] O=[$TARGETOS] A=[$TARGETARCH] V=[$TARGETVARIANT] B=[$BUILDPLATFORM] BA=[$BUILDARCH]",
    ),
    Case("platform-args-before-from", f"ARG A=[$TARGETARCH]\nFROM {BASE}\nARG A\nENV A=$A\n"),
    _case("platform-args-need-an-arg", "ENV A=[$TARGETARCH]"),
    _case(
        "platform-arg-default-and-build-arg",
        "ARG TARGETARCH=mine\nARG TARGETOS\nENV A=$TARGETARCH O=$TARGETOS",
        build_args={"TARGETOS": "cli"},
    ),
    _case(
        "copy-chmod",
        'COPY --chmod=600 hello.txt /h\nCMD ["stat", "-c", "%a", "/h"]',
        files=HELLO,
        builders=BUILDKIT_ONLY,
    ),
    _case("add-chmod", "ADD --chmod=640 hello.txt /h", files=HELLO, builders=BUILDKIT_ONLY),
    _case("run-mount", "RUN --mount=type=cache,target=/cache echo hi > /cache/x", builders=BUILDKIT_ONLY),
    _case("colon-question-mark-set", 'ENV X=set\nENV A="${X:?must be set}"'),
    Case("syntax-directive", SYNTAX_DIRECTIVE, builders=LEGACY_ONLY),
    _case("empty-workdir", 'WORKDIR ""', builders=BUILDKIT_ONLY),
    _case("empty-workdir-keeps-the-current-one", 'WORKDIR /a\nWORKDIR ""', builders=BUILDKIT_ONLY),
    Case("arg-carried-into-a-child-stage", f"FROM {BASE} AS parent\nARG X=parent\nFROM parent\nENV Y=[$X]\n"),
]

CASES = FORM_CASES + OTHER_CASES + DIFFERENCE_CASES


@dataclass(frozen=True)
class Refusal:
    """A Dockerfile Docker refuses with `builders`; `line` is where explain must point.

    `needs_stage`: Docker fails in a stage `explain` cannot judge (a RUN that fails, a base image the lab will not
    pull); explain must say that builder builds that stage.
    """

    id: str
    dockerfile: str
    line: int | None
    target: str | None = None
    builders: tuple[Builder, ...] = BUILDERS
    needs_stage: int | None = None
    error: type[Exception] = BuildFailedError
    files: dict[str, str] = field(default_factory=dict)


COMMON_REFUSALS = [
    Refusal("unknown-instruction", f"FROM {BASE}\nFOO bar\n", 2),
    Refusal("json-with-a-number", f'FROM {BASE}\nENV A=1\nCMD ["a", 1]\n', 3),
    Refusal("unbalanced-quote", f'FROM {BASE}\nENV A="b\n', 2),
    Refusal("port-out-of-range", f"FROM {BASE}\nEXPOSE 70000\n", 2),
    Refusal("unknown-protocol", f"FROM {BASE}\nEXPOSE 80/foo\n", 2),
    Refusal("bad-stop-signal", f"FROM {BASE}\nSTOPSIGNAL SIGNOPE\n", 2),
    Refusal("healthcheck-retries", f"FROM {BASE}\nHEALTHCHECK --retries=0 CMD true\n", 2),
    Refusal("healthcheck-interval", f"FROM {BASE}\nHEALTHCHECK --interval=10us CMD true\n", 2),
    Refusal("shell-not-json", f"FROM {BASE}\nSHELL /bin/bash -c\n", 2),
    Refusal("unknown-flag", f"FROM {BASE}\nCOPY --bogus a b\n", 2),
    Refusal("onbuild-from", f"FROM {BASE}\nONBUILD FROM x\n", 2),
    Refusal("copy-from-not-substituted", f"FROM {BASE} AS a\nFROM {BASE}\nARG S=a\nCOPY --from=$S /x /y\n", 4),
    Refusal("unknown-target", f"FROM {BASE} AS one\nENV A=1\n", None, "nosuch"),
]


# Forms and flags of a newer Dockerfile syntax: Engine 20.10's 1.2 refuses them with both builders.
NEWER_SYNTAX_REFUSALS = [
    Refusal("unset-only-form-needs-1.6", f"FROM {BASE}\nENV X=${{Y-w}}\n", 2),
    Refusal("plus-form-needs-1.6", f"FROM {BASE}\nENV X=${{Y+w}}\n", 2),
    Refusal("trim-form-needs-1.7", f"FROM {BASE}\nENV X=a.tar.gz\nENV A=${{X%.*}}\n", 3),
    Refusal("replace-form-needs-1.7", f"FROM {BASE}\nENV X=a-b\nENV A=${{X/-/_}}\n", 3),
    Refusal("copy-link-needs-1.4", f"FROM {BASE}\nCOPY --link hello.txt /h\n", 2, files=HELLO),
    Refusal("run-network-needs-1.3", f"FROM {BASE}\nRUN --network=none true\n", 2),
    Refusal("add-checksum-needs-1.6", f"FROM {BASE}\nADD --checksum=sha256:00 hello.txt /h\n", 2, files=HELLO),
    Refusal("add-keep-git-dir-needs-1.5", f"FROM {BASE}\nADD --keep-git-dir=true hello.txt /h\n", 2, files=HELLO),
    Refusal("copy-parents-needs-1.20", f"FROM {BASE}\nCOPY --parents hello.txt /h/\n", 2, files=HELLO),
    Refusal("healthcheck-start-interval-needs-1.6", f"FROM {BASE}\nHEALTHCHECK --start-interval=1s CMD true\n", 2),
    Refusal("run-heredoc-needs-1.4", f"FROM {BASE}\nRUN <<EOF\necho hi > /x\nEOF\n", 3),
    Refusal("copy-heredoc-needs-1.4", f"FROM {BASE}\nCOPY <<EOF /x\nhello\nEOF\n", 3),
]
SUBSTITUTION_REFUSALS = [
    Refusal("colon-question-mark-unset", f'FROM {BASE}\nENV A="${{NOPE:?must be set}}"\n', 2),
    Refusal("colon-question-mark-empty", f'FROM {BASE}\nENV E=\nENV A="${{E:?empty}}"\n', 3),
]
DIFFERENCE_REFUSALS = [
    Refusal("empty-workdir", f'FROM {BASE}\nWORKDIR ""\n', 2, builders=LEGACY_ONLY),
    Refusal("empty-workdir-keeps-the-current-one", f'FROM {BASE}\nWORKDIR /a\nWORKDIR ""\n', 3, builders=LEGACY_ONLY),
    Refusal("skipped-stage-run-fails", SKIPPED_RUN_FAILS, None, "ok", LEGACY_ONLY, needs_stage=0),
    Refusal("skipped-stage-bad-substitution", SKIPPED_SUBSTITUTION, 2, "ok", LEGACY_ONLY),
    Refusal("skipped-stage-bad-port", SKIPPED_PORT, 2, "ok", LEGACY_ONLY),
    Refusal("skipped-stage-missing-base", SKIPPED_MISSING_BASE, None, "ok", LEGACY_ONLY, 0, MissingImageError),
    Refusal("copy-chmod", f"FROM {BASE}\nCOPY --chmod=600 hello.txt /h\n", 2, builders=LEGACY_ONLY, files=HELLO),
    Refusal("add-chmod", f"FROM {BASE}\nADD --chmod=640 hello.txt /h\n", 2, builders=LEGACY_ONLY, files=HELLO),
    Refusal(
        "run-mount", f"FROM {BASE}\nRUN --mount=type=cache,target=/cache echo hi > /cache/x\n", 2, builders=LEGACY_ONLY
    ),
]
REFUSALS = COMMON_REFUSALS + NEWER_SYNTAX_REFUSALS + SUBSTITUTION_REFUSALS + DIFFERENCE_REFUSALS

# (case id, builder) pairs this machine cannot run, and why: they are modelled from the Dockerfile reference.
NOT_PROVEN_HERE: dict[tuple[str, Builder], str] = {
    ("syntax-directive", "buildkit"): "BuildKit would pull the frontend image docker/dockerfile:1.4 from a registry",
}


@dataclass(frozen=True)
class Setting:
    """What explain is told about the engine: its built-in Dockerfile syntax and its platform."""

    syntax: DockerfileSyntax
    platform: str


@pytest.fixture(scope="module")
def engine(docker_engine: Engine) -> Engine:
    ensure_base_image(docker_engine, BUSYBOX.name)
    yield docker_engine
    docker_engine.cleanup(purpose=PURPOSE)


@pytest.fixture(scope="module")
def setting(engine: Engine) -> Setting:
    version = engine.client.version()["Version"]
    syntax = builtin_syntax(version)
    if syntax is None:
        pytest.fail(
            f"engine {version}: its built-in Dockerfile syntax is not known; measure it, add it to BUILTIN_SYNTAX"
        )
    info = engine.client.info()
    return Setting(syntax, docker_platform(info["OSType"], info["Architecture"]))


def _require_builder(builder: Builder) -> None:
    if builder == "buildkit":
        cli, reason = buildkit_cli()
        if cli is None:
            pytest.skip(reason)


def _explain(text: str, builder: Builder, setting: Setting, engine: Engine, **options) -> Explanation:
    return explain(text, builder=builder, syntax=setting.syntax, platform=setting.platform, engine=engine, **options)


def _context(root: Path, case_id: str, dockerfile: str, files: Mapping[str, str]) -> Path:
    folder = root / case_id.replace("[", "_").replace("]", "").replace("|", "_").replace(" ", "-")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile)
    for name, content in files.items():
        (folder / name).write_text(content)
    return folder


@pytest.fixture(scope="module")
def built(engine: Engine, setting: Setting, tmp_path_factory: pytest.TempPathFactory):
    """Build each case once per builder; returns (image inspect, explanation)."""
    root = tmp_path_factory.mktemp("proof")
    cache: dict[tuple[str, Builder], tuple[dict, Explanation]] = {}

    def build(case: Case, builder: Builder) -> tuple[dict, Explanation]:
        _require_builder(builder)
        if (case.id, builder) not in cache:
            context = _context(root / builder, case.id, case.dockerfile, case.files)
            image = build_checked(
                engine,
                context,
                build_args=case.build_args,
                target=case.target,
                purpose=PURPOSE,
                progress=False,
                builder=builder,
            )
            predicted = _explain(
                case.dockerfile,
                builder,
                setting,
                engine,
                target=case.target,
                build_args=case.build_args,
                labels=lab_labels(PURPOSE),
            )
            cache[case.id, builder] = (engine.image_inspect(image.id), predicted)
        return cache[case.id, builder]

    return build


BUILDS = [(case, builder) for case in CASES for builder in case.builders]


def _build_id(item: tuple[Case, Builder]) -> str:
    return f"{item[1]}-{item[0].id}"


@pytest.mark.parametrize("item", BUILDS, ids=_build_id)
def test_explain_predicts_docker_image_inspect(built, item: tuple[Case, Builder]) -> None:
    case, builder = item
    inspected, predicted = built(case, builder)
    assert predicted.assumptions == ()
    assert predicted.to_inspect()["Config"] == normalized_inspect(inspected["Config"])
    assert predicted.author == inspected["Author"]


RUN_CASES = [(case, builder, run) for case, builder in BUILDS for run in case.runs]


def _run_id(item: tuple[Case, Builder, Run]) -> str:
    case, builder, (args, entrypoint) = item
    shown = " ".join(args) or "-"
    return f"{builder}-{case.id}-run[{shown}]" + (f"-entrypoint[{entrypoint}]" if entrypoint is not None else "")


@pytest.mark.parametrize("item", RUN_CASES, ids=_run_id)
def test_explain_predicts_docker_inspect_path_and_args(engine: Engine, built, item: tuple[Case, Builder, Run]) -> None:
    case, builder, (run_args, entrypoint) = item
    inspected, predicted = built(case, builder)
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


REFUSED = [(refusal, builder) for refusal in REFUSALS for builder in refusal.builders]


@pytest.mark.parametrize("item", REFUSED, ids=lambda item: f"{item[1]}-{item[0].id}")
def test_docker_and_explain_refuse_the_same_dockerfiles(
    engine: Engine, setting: Setting, tmp_path: Path, item: tuple[Refusal, Builder]
) -> None:
    refusal, builder = item
    _require_builder(builder)
    context = _context(tmp_path, refusal.id, refusal.dockerfile, refusal.files)
    with pytest.raises(refusal.error):
        build_checked(engine, context, target=refusal.target, purpose=PURPOSE, progress=False, builder=builder)
    if refusal.needs_stage is not None:
        # Docker fails in a stage explain cannot judge; explain says this builder builds that stage.
        predicted = _explain(refusal.dockerfile, builder, setting, engine, target=refusal.target)
        assert refusal.needs_stage in predicted.stages_built()
    elif refusal.line is not None:
        with pytest.raises(DockerfileError) as refused:
            _explain(refusal.dockerfile, builder, setting, engine, target=refusal.target)
        assert refused.value.line == refusal.line
    else:
        with pytest.raises(UnknownTargetError):
            _explain(refusal.dockerfile, builder, setting, engine, target=refusal.target)


# Notebook 08's table of differences, example by example, on the engine (never `# syntax=` with BuildKit: it pulls).
EXAMPLE_BUILDS = [
    (example, builder)
    for example in EXAMPLES
    for builder in BUILDERS
    if not (builder == "buildkit" and "syntax" in directives(example.dockerfile))
]


@pytest.mark.parametrize("item", EXAMPLE_BUILDS, ids=lambda item: f"{item[1]}-{item[0].topic}")
def test_notebook_08s_differences_are_what_the_engine_does(
    engine: Engine, setting: Setting, tmp_path: Path, item: tuple[BuilderExample, Builder]
) -> None:
    example, builder = item
    _require_builder(builder)
    context = _context(tmp_path, "example", example.dockerfile, example.files)
    options = {"target": example.target, "purpose": PURPOSE, "progress": False, "builder": builder}
    try:
        predicted = _explain(
            example.dockerfile, builder, setting, engine, target=example.target, labels=lab_labels(PURPOSE)
        )
    except DockerfileError:
        with pytest.raises(BuildFailedError):
            build_checked(engine, context, **options)
        return
    image = build_checked(engine, context, **options)
    assert predicted.to_inspect()["Config"] == normalized_inspect(engine.image_config(image.id))


def test_every_case_is_settled_for_both_builders() -> None:
    """Each Dockerfile, with each builder, is built, or refused, or named as not provable here: never left out."""
    builds = {(case.id, builder) for case, builder in BUILDS}
    refused = {(refusal.id, builder) for refusal, builder in REFUSED}
    assert not builds & refused
    assert not (builds | refused) & set(NOT_PROVEN_HERE)
    ids = {case.id for case in CASES} | {refusal.id for refusal in REFUSALS}
    assert builds | refused | set(NOT_PROVEN_HERE) == {(i, builder) for i in ids for builder in BUILDERS}


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


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("case", RUNTIME, ids=lambda case: case.id)
def test_containers_run_what_explain_says(engine: Engine, built, case: Case, builder: Builder) -> None:
    inspected, predicted = built(case, builder)
    output, code, run_args = RUNTIME_OUTPUT[case.id]
    result = engine.run(inspected["Id"], run_args, purpose=PURPOSE)
    assert result.argv == predicted.command(run_args)
    assert (result.logs, result.exit_code) == (output, code)


def test_copy_chmod_sets_the_mode_buildkit_was_asked_for(engine: Engine, built) -> None:
    inspected, _ = built(next(case for case in CASES if case.id == "copy-chmod"), "buildkit")
    assert engine.run(inspected["Id"], purpose=PURPOSE).logs == "600\n"


def test_an_empty_scratch_stage_is_an_image_with_buildkit_and_none_with_the_legacy_builder(
    engine: Engine, setting: Setting, tmp_path: Path
) -> None:
    """Without `--label` (which the other cases add, and which gives the legacy builder a step to commit)."""
    cli, reason = buildkit_cli()
    if cli is None:
        pytest.skip(reason)
    context = _context(tmp_path, "empty-scratch", "FROM scratch\n", {})
    tag = "labkit-proof/empty-scratch:buildkit"

    def docker_build(buildkit: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "DOCKER_BUILDKIT": buildkit, "DOCKER_HOST": engine.status.host}
        return subprocess.run([cli, "build", "-q", "-t", tag, str(context)], capture_output=True, text=True, env=env)

    legacy = docker_build("0")
    assert legacy.returncode != 0 and "No image was generated" in legacy.stderr
    with pytest.raises(DockerfileError, match="No image was generated"):
        _explain("FROM scratch\n", "legacy", setting, engine)
    buildkit = docker_build("1")
    try:
        assert buildkit.returncode == 0, buildkit.stderr
        predicted = _explain("FROM scratch\n", "buildkit", setting, engine)
        assert predicted.to_inspect()["Config"] == normalized_inspect(engine.image_config(tag))
        assert predicted.env == {"PATH": DEFAULT_PATH} and predicted.working_dir == "/"
    finally:
        # The image carries no lab label (that is the point): it goes by the tag this test gave it.
        subprocess.run([cli, "rmi", tag], capture_output=True, env={**os.environ, "DOCKER_HOST": engine.status.host})


def test_the_proof_has_at_least_a_hundred_cases_per_builder() -> None:
    for builder in BUILDERS:
        per_builder = [c for c, b in BUILDS if b == builder] + [r for r, b in REFUSED if b == builder]
        assert len(per_builder) + len([item for item in RUN_CASES if item[1] == builder]) >= 100
