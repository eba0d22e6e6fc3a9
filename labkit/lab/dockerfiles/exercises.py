"""Notebooks 09 and 10's exercises: the arguments of `docker run` (09), and a multi-stage Dockerfile that ships only
what it needs (10).

Notebook 09: `check_run_args(args)` judges what a learner puts after the image name by what the service in the
container would start with: the image's ENTRYPOINT and CMD resolved by the explainer, then the service's own parser.
Notebook 10: the learner rewrites `SINGLE_STAGE` (the greeting made and shipped in one stage, leftovers, root and a
shell included) so that the image meets the spec. `check_dockerfile` judges the text with the explainer (no engine needed,
so it works on Binder): what the image is made of, who it runs as, what `docker run IMAGE` runs.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

from labkit.containers import explain
from labkit.containers.baseimages import base_image_configs
from labkit.containers.explanation import Explanation
from labkit.errors import LabkitError
from labkit.lab.exercises import Case, Failed, Verdict, check, expect
from labkit.services.settings import settings_from

SINGLE_STAGE = """\
FROM labkit/busybox:static
WORKDIR /work
RUN echo "made in the build stage" > greeting.txt \\
    && head -c 20000000 /dev/urandom > leftovers.bin
CMD cat /work/greeting.txt
"""

SHELLS = ("/bin/sh", "sh", "/bin/ash", "/bin/bash")


def _image(text: str) -> Explanation:
    try:
        return explain(text, base_images=base_image_configs())
    except LabkitError as error:
        raise Failed(f"the explainer cannot read this Dockerfile: {error}") from None


def _no_build_in_the_image(text: str) -> None:
    image = _image(text)
    expect(
        len(image.stages) >= 2,
        f"use at least two stages (FROM ... AS build, then the image's); found {len(image.stages)}",
    )
    final = image.target_stage
    expect(
        final.base_kind != "stage",
        f"the image's stage starts FROM {final.base}, an earlier stage: it inherits every layer (the leftovers too); "
        "start it FROM scratch or from an image",
    )
    runs = [s for s in image.steps if s.stage == final.label and s.instruction.split()[0].upper() == "RUN"]
    if runs:
        raise Failed(f"the image's stage runs `{runs[0].instruction}` (line {runs[0].line}): build in the build stage")


def _copies_the_greeting(text: str) -> None:
    final = _image(text).target_stage
    copied = [
        c for c in final.copies if c.from_stage is not None and any(s.endswith("greeting.txt") for s in c.sources)
    ]
    expect(bool(copied), "the image's stage should COPY --from=<the build stage> the greeting.txt the build made")


def _not_root(text: str) -> None:
    user = _image(text).user
    expect(
        user not in ("", "root", "0", "0:0"),
        f"the image runs as {user or 'root (no USER)'}: set USER to another user, e.g. 65534:65534",
    )


def _runs_cat_without_a_shell(text: str) -> None:
    command = _image(text).command()
    expect(bool(command), "docker run IMAGE runs nothing: give an ENTRYPOINT or a CMD")
    expect(
        command[0] not in SHELLS,
        f"docker run IMAGE runs {list(command)}: a shell is PID 1, not your program; write the exec form, "
        'a JSON list such as ["cat", "/greeting.txt"]',
    )
    expect(
        "cat" in [part.rsplit("/", 1)[-1] for part in command] and command[-1].endswith("greeting.txt"),
        f"docker run IMAGE should cat the greeting; it runs {list(command)}",
    )


SPEC_CASES = (
    Case("the image carries no build work: a stage of its own, no RUN in it", _no_build_in_the_image),
    Case("the image gets the greeting from the build stage with COPY --from", _copies_the_greeting),
    Case("the image runs as a user other than root", _not_root),
    Case("docker run IMAGE cats the greeting, with no shell as PID 1", _runs_cat_without_a_shell),
)


def check_dockerfile(text: str) -> Verdict:
    """Judge a Dockerfile's text against the spec: passed, or the first case it fails with a hint."""
    if not isinstance(text, str) or not text.strip():
        verdict = Verdict()
        verdict.failed, verdict.hint = "the answer", f"give the Dockerfile's text as a string (got {text!r})"
        return verdict
    return check(text, SPEC_CASES)


# ---- notebook 09: the arguments of `docker run` --------------------------------------------------------------------


def _services_plan() -> Explanation:
    from labkit.containers.baseimages import DEBIAN_PYTHON
    from labkit.containers.labimages import SERVICES

    text = SERVICES.dockerfile_path.read_text()
    return explain(text, build_args={"BASE_IMAGE": DEBIAN_PYTHON.reference}, base_images=base_image_configs())


def _settings(run_args: list[str]) -> Any:
    """What the service in the container would start with: the image's command line and environment, parsed by
    the service's own parser."""
    plan = _services_plan()
    argv = plan.command(run_args)
    entrypoint = ("python3", "-m", "labkit.services")
    expect(
        argv[:3] == entrypoint,
        f"the container runs {list(argv)}; arguments after the image replace CMD only, ENTRYPOINT stays",
    )
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return settings_from(list(argv[3:]), plan.env)
    except SystemExit:
        said = errors.getvalue().strip().splitlines()[-1:] or ["a usage error"]
        raise Failed(f"the service refuses `{' '.join(argv[3:])}`: {said[0]}") from None
    except LabkitError as error:
        raise Failed(f"the service refuses its settings: {error}") from None


def _parses(args: list[str]) -> None:
    _settings(args)


def _is(field: str, wanted: Any, hint: str) -> Callable[[list[str]], None]:
    def run(args: list[str]) -> None:
        got = getattr(_settings(args), field)
        expect(got == wanted, f"{hint} (it gets {field}={got!r})")

    return run


RUN_CASES = (
    Case("the container's command line parses as the service's own", _parses),
    Case("it runs the order service", _is("service", "order", "the first argument after the image picks the service")),
    Case("it listens on port 9000", _is("port", 9000, "give --port 9000")),
    Case("it logs at DEBUG", _is("log_level", "DEBUG", "give --log-level DEBUG")),
    Case(
        "it listens on every interface of the container, so a published port reaches it",
        _is(
            "host", "0.0.0.0", "inside a container 127.0.0.1 is the container's own loopback: keep the image's 0.0.0.0"
        ),
    ),
)


def check_run_args(args: list[str]) -> Verdict:
    """Judge the arguments given after the image in `docker run IMAGE ARGS...`."""
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        verdict = Verdict()
        verdict.failed, verdict.hint = "the answer", f"give the arguments as a list of strings (got {args!r})"
        return verdict
    return check(args, RUN_CASES)
