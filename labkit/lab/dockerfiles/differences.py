"""Where Docker's two builders differ: one small Dockerfile per difference, explained with each builder.

Each example runs through `explain` four ways: BuildKit and the legacy builder with today's Dockerfile syntax, and
both again with the syntax built into Docker Engine 20.10 (1.2), the engine this lab proves against. The proof suite
builds every example on that engine with both builders (tests/test_containers_proof.py); an example's row counts as
proven here when today's answers equal the 20.10 ones, so that the engine checked them. Notebook 08 shows the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from labkit.containers.builders import BUILDERS, CURRENT, ENGINE_20_10, Builder, DockerfileSyntax
from labkit.containers.errors import DockerfileError
from labkit.containers.explainer import explain
from labkit.containers.explanation import Explanation
from labkit.containers.instructions import directives

BASE = "labkit/busybox:static"
PLATFORM = "linux/amd64"  # fixed, so the table reads the same on every machine


def _env(*names: str) -> Callable[[Explanation], str]:
    return lambda image: " ".join(f"{name}={image.env.get(name, '(unset)')}" for name in names)


def _config(key: str) -> Callable[[Explanation], str]:
    return lambda image: f"{key} {image.to_inspect()['Config'][key]!r}"


def _stages(image: Explanation) -> str:
    return f"builds stages {list(image.stages_built())}; " + _env("A")(image)


def _run_note(image: Explanation) -> str:
    effect = image.steps[-1].effect
    return "runs the document" if "feeds the here-document" in effect else "drops the document"


@dataclass(frozen=True)
class BuilderExample:
    """A Dockerfile that shows one difference, and what of its image to show (`show`) when it builds."""

    topic: str
    dockerfile: str
    show: Callable[[Explanation], str]
    target: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)


HELLO = {"hello.txt": "hello\n"}
EXAMPLES = (
    BuilderExample(
        "a stage the target does not need",
        f"FROM {BASE} AS test\nEXPOSE 80/foo\nFROM {BASE} AS app\nENV A=1\n",
        _stages,
        target="app",
    ),
    BuilderExample(
        "WorkingDir of FROM scratch", "FROM scratch\nCOPY hello.txt /\n", _config("WorkingDir"), files=HELLO
    ),
    BuilderExample("ARG TARGETARCH (no value)", f"FROM {BASE}\nARG TARGETARCH\nENV ARCH=[$TARGETARCH]\n", _env("ARCH")),
    BuilderExample(
        "ARG after an ENV of its name", f"FROM {BASE}\nENV V=env\nARG V=arg\nENV SEEN=$V\n", _env("V", "SEEN")
    ),
    BuilderExample(
        "ARG of the stage built FROM",
        f"FROM {BASE} AS parent\nARG V=parent\nFROM parent\nENV SEEN=[$V]\n",
        _env("SEEN"),
    ),
    BuilderExample('WORKDIR ""', f'FROM {BASE}\nWORKDIR ""\n', _config("WorkingDir")),
    BuilderExample("empty shell-form CMD", f"FROM {BASE}\nCMD\n", _config("Cmd")),
    BuilderExample("CMD [] (exec form, empty)", f"FROM {BASE}\nCMD []\n", _config("Cmd")),
    BuilderExample("COPY --chmod", f"FROM {BASE}\nCOPY --chmod=600 hello.txt /\n", _config("Cmd"), files=HELLO),
    BuilderExample("RUN --mount", f"FROM {BASE}\nRUN --mount=type=cache,target=/c true\n", _config("Cmd")),
    BuilderExample("COPY --link (syntax 1.4)", f"FROM {BASE}\nCOPY --link hello.txt /\n", _config("Cmd"), files=HELLO),
    BuilderExample("RUN --network (syntax 1.3)", f"FROM {BASE}\nRUN --network=none true\n", _config("Cmd")),
    BuilderExample("RUN <<EOF here-document (syntax 1.4)", f"FROM {BASE}\nRUN <<EOF\ntrue\nEOF\n", _run_note),
    BuilderExample("${V-default} (syntax 1.6)", f"FROM {BASE}\nENV V=${{NOPE-default}}\n", _env("V")),
    BuilderExample("${V%pattern} (syntax 1.7)", f"FROM {BASE}\nENV F=app.tar.gz\nENV V=${{F%.*}}\n", _env("V")),
    BuilderExample(
        "# syntax=docker/dockerfile:1.6",
        f"# syntax=docker/dockerfile:1.6\nFROM {BASE}\nENV V=${{NOPE-default}}\n",
        _env("V"),
    ),
)


def outcome(
    example: BuilderExample,
    builder: Builder,
    syntax: DockerfileSyntax,
    base_images: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """What `explain` says this builder makes of the example: the shown part of the image, or the refusal."""
    try:
        image = explain(
            example.dockerfile,
            target=example.target,
            builder=builder,
            syntax=syntax,
            platform=PLATFORM,
            base_images=base_images,
            engine=None,
        )
    except DockerfileError as refused:
        reason = refused.reason
        if reason.startswith("failed to process"):
            reason = reason.split("': ", 1)[-1]  # the rule, not the word repeated
        return f"refused: {reason.split(' (')[0].split(';')[0]}"
    return example.show(image)


def proven_here(example: BuilderExample, answers: Mapping[tuple[Builder, DockerfileSyntax], str]) -> str:
    """Whether Engine 20.10 checked today's answers: only when they equal its own, and never through `# syntax=`."""
    same = all(answers[builder, CURRENT] == answers[builder, ENGINE_20_10] for builder in BUILDERS)
    if "syntax" in directives(example.dockerfile):
        return "legacy (it ignores the line); BuildKit would pull the frontend image"
    return "yes" if same else "20.10 columns only"


def differences_table(base_images: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """One row per example: what each builder makes of it today and on Engine 20.10, and whether that was proven."""
    rows = []
    for example in EXAMPLES:
        answers = {
            (builder, syntax): outcome(example, builder, syntax, base_images)
            for syntax in (CURRENT, ENGINE_20_10)
            for builder in BUILDERS
        }
        rows.append(
            (
                example.topic,
                *(answers[builder, syntax] for syntax in (CURRENT, ENGINE_20_10) for builder in BUILDERS),
                proven_here(example, answers),
            )
        )
    today, engine = f"syntax {CURRENT}", f"Engine 20.10 (syntax {ENGINE_20_10})"
    columns = [f"{builder}, {when}" for when in (today, engine) for builder in BUILDERS]
    return pd.DataFrame(rows, columns=["difference", *columns, "proven here"]).set_index("difference")
